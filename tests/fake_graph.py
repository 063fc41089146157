"""A small fake of Microsoft Graph v1.0 mail and of the identity platform's token endpoint.

It serves real HTTP on 127.0.0.1 and speaks the documented wire formats (reference email.md §2),
only for what pmbot uses:

    POST  /{tenant}/oauth2/v2.0/token                      client-credentials grant
    GET   /v1.0/users/{mailbox}/mailFolders/{folder}       a folder (well-known name or id)
    GET   …/mailFolders/{folder}/messages                  $filter $orderby $select $top $skip
    GET   …/mailFolders/{folder}/childFolders              $filter=displayName eq '…'
    POST  …/mailFolders/{folder}/childFolders              201, or 409 if the name is taken
    GET   …/messages/{id}/$value                           the MIME
    PATCH …/messages/{id}                                  {"isRead": true}
    POST  …/messages/{id}/move                             201 with a new id; the old id is gone
    POST  …/sendMail                                       202; base64 MIME as text/plain, or JSON

It is strict where real Graph is strict, so that the client cannot get away with what would fail
in production: unknown bearer tokens get 401, missing app roles 403, `$orderby` on a property
that does not lead the `$filter` gets 400 InefficientFilter, and message lists are evaluated
afresh for every page (a `$skip` over a folder that shrank skips messages, as it does on Graph).
Failures such as throttling are queued with `fail_next`. Every request is kept in `requests`.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

WELL_KNOWN = ("msgfolderroot", "inbox", "sentitems")
# One `name op value` term and the `and` after it (or the end): the little $filter pmbot uses.
FILTER_TERM = re.compile(
    r"\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+('(?:[^']|'')*'|true|false|[\w:.+-]+)\s*(?:\band\s+|$)"
)
OPERATORS = {name: getattr(operator, name) for name in ("eq", "ne", "ge", "gt", "le", "lt")}


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Failure:
    status: int
    method: str | None
    path_contains: str | None
    retry_after: str | None
    times: int


@dataclass
class FakeMessage:
    id: str
    folder_id: str
    raw: bytes
    received: datetime
    is_read: bool = False
    headers: Message = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.headers = message_from_bytes(self.raw)

    def json(self, select: list[str] | None = None) -> dict:
        name, address = parseaddr(str(self.headers.get("From", "")))
        full = {
            "id": self.id,
            "receivedDateTime": self.received.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "isRead": self.is_read,
            "subject": str(self.headers.get("Subject", "")),
            "internetMessageId": str(self.headers.get("Message-ID", "")),
            "parentFolderId": self.folder_id,
            "from": {"emailAddress": {"name": name, "address": address}},
        }
        return {k: v for k, v in full.items() if select is None or k in select or k == "id"}


class FakeGraph:
    """The fake service; use as a context manager, or `start()` and `stop()`."""

    def __init__(
        self,
        *,
        tenant: str = "tenant-1",
        client_id: str = "client-1",
        client_secret: str = "s3cret-value",
        mailbox: str = "pmbot@agency.example",
        roles: tuple[str, ...] = ("Mail.ReadWrite", "Mail.Send"),
        token_lifetime: int = 3599,
    ) -> None:
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.mailbox, self.roles, self.token_lifetime = mailbox, roles, token_lifetime
        self.requests: list[Recorded] = []
        self.sent: list[bytes] = []  # MIME of every sendMail in MIME form
        self.sent_json: list[dict] = []  # the message of every sendMail in JSON form
        self.tokens: set[str] = set()
        self.folders: dict[str, dict] = {}
        self.messages: dict[str, FakeMessage] = {}
        self.failures: list[Failure] = []
        self.lock = threading.Lock()
        self.next_received = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        for name in WELL_KNOWN:
            parent = None if name == "msgfolderroot" else self.folder_id("msgfolderroot")
            self.add_folder(name.capitalize(), parent, well_known=name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        # A short poll interval, so that stop() takes milliseconds rather than half a second.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # --------------------------------------------------------------------- test-facing helpers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1.0"

    def start(self) -> FakeGraph:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def deliver(self, message: Message | bytes, folder: str = "inbox") -> str:
        """Put a message in a folder as Exchange would; each arrives one minute after the last."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        with self.lock:
            self.next_received += timedelta(minutes=1)
            item = FakeMessage(_new_id(), self.folder_id(folder), raw, self.next_received)
            self.messages[item.id] = item
        return item.id

    def fail_next(
        self,
        status: int,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with `status` (429, 503, 400, ...)."""
        self.failures.append(Failure(status, method, path_contains, retry_after, times))

    def add_folder(self, name: str, parent: str | None, well_known: str | None = None) -> str:
        folder_id = _new_id()
        self.folders[folder_id] = {
            "id": folder_id,
            "displayName": name,
            "parentFolderId": parent,
            "wellKnownName": well_known,
        }
        return folder_id

    def folder_id(self, path: str) -> str:
        """The id of a folder given as a path of display names below a well-known folder."""
        first, *rest = path.split("/")
        folder_id = self._resolve_folder(first)
        for name in rest:
            [folder_id] = [f["id"] for f in self._children(folder_id) if _same(f, name)]
        return folder_id

    def in_folder(self, path: str) -> list[FakeMessage]:
        folder_id = self.folder_id(path)
        return [m for m in self.messages.values() if m.folder_id == folder_id]

    def sent_messages(self) -> list[EmailMessage]:
        """What was sent as MIME, parsed as a mail client would (headers decoded)."""
        return [BytesParser(policy=policy.default).parsebytes(raw) for raw in self.sent]

    def requests_to(self, method: str, path_contains: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    # ---------------------------------------------------------------------------- the service

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes):
        """Answer one request: (status, headers, body)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self.lock:
            self.requests.append(Recorded(method, path, query, headers, body))
            try:
                if failure := self._injected_failure(method, path):
                    extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                    code = "TooManyRequests" if failure.status == 429 else "ErrorInjected"
                    return _error_response(GraphError(failure.status, code, "Injected."), extra)
                if method == "POST" and path.endswith("/oauth2/v2.0/token"):
                    return self._token(path, body)
                return self._graph(method, path, query, headers, body, parts)
            except GraphError as error:
                return _error_response(error)

    def _injected_failure(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if (failure.method in (None, method)) and (failure.path_contains or "") in path:
                failure.times -= 1
                if failure.times == 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _token(self, path: str, body: bytes):
        form = dict(parse_qsl(body.decode()))
        problem = None
        if path.split("/")[1] != self.tenant:
            problem = (400, "invalid_request", "AADSTS90002: Tenant not found.")
        elif form.get("grant_type") != "client_credentials":
            problem = (400, "unsupported_grant_type", "AADSTS70003: Unsupported grant type.")
        elif form.get("client_id") != self.client_id:
            problem = (400, "unauthorized_client", "AADSTS700016: Application not found.")
        elif form.get("client_secret") != self.client_secret:
            problem = (401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        elif not form.get("scope", "").endswith("/.default"):
            problem = (400, "invalid_scope", "AADSTS1002012: The provided scope is invalid.")
        if problem:
            status, error, description = problem
            payload = {
                "error": error,
                "error_codes": [int(description[6:].split(":")[0])],
                "error_description": f"{description}\r\nTrace ID: 00000000\r\n",
            }
            return status, {}, json.dumps(payload).encode()
        claims = {
            "aud": form["scope"].removesuffix("/.default"),
            "tid": self.tenant,
            "appid": self.client_id,
            "roles": list(self.roles),
        }
        token = ".".join(_b64url(part) for part in ({"alg": "none"}, claims, secrets.token_hex(8)))
        self.tokens.add(token)
        payload = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
        return 200, {}, json.dumps(payload).encode()

    def _graph(self, method, path, query, headers, body, parts):
        segments = [unquote(s) for s in parts.path.split("/")]
        if segments[1:3] != ["v1.0", "users"] or len(segments) < 5:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        if headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        user, rest = segments[3], segments[4:]
        if user.lower() != self.mailbox.lower():
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        needed = "Mail.Send" if rest == ["sendMail"] else "Mail.ReadWrite"
        if needed not in self.roles:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials.")
        match method, rest:
            case "GET", ["mailFolders", folder]:
                return _ok(self._folder_json(self._resolve_folder(folder)))
            case "GET", ["mailFolders", folder, "messages"]:
                return self._list_messages(self._resolve_folder(folder), query, parts)
            case "GET", ["mailFolders", folder, "childFolders"]:
                return self._list_children(self._resolve_folder(folder), query)
            case "POST", ["mailFolders", folder, "childFolders"]:
                return self._create_child(self._resolve_folder(folder), _json(body))
            case "GET", ["messages", message_id, "$value"]:
                return 200, {"Content-Type": "text/plain"}, self._message(message_id).raw
            case "PATCH", ["messages", message_id]:
                return self._patch(self._message(message_id), _json(body))
            case "POST", ["messages", message_id, "move"]:
                return self._move(self._message(message_id), _json(body))
            case "POST", ["sendMail"]:
                return self._send(headers.get("content-type", ""), body)
        raise GraphError(400, "BadRequest", f"Unsupported request {method} {path}.")

    def _resolve_folder(self, name: str) -> str:
        for folder in self.folders.values():
            if folder["id"] == name or (folder["wellKnownName"] or "") == name.lower():
                return folder["id"]
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )

    def _children(self, folder_id: str) -> list[dict]:
        return [f for f in self.folders.values() if f["parentFolderId"] == folder_id]

    def _folder_json(self, folder_id: str) -> dict:
        folder = self.folders[folder_id]
        inside = [m for m in self.messages.values() if m.folder_id == folder_id]
        return {
            "id": folder_id,
            "displayName": folder["displayName"],
            "parentFolderId": folder["parentFolderId"],
            "childFolderCount": len(self._children(folder_id)),
            "unreadItemCount": sum(not m.is_read for m in inside),
            "totalItemCount": len(inside),
        }

    def _list_messages(self, folder_id: str, query: dict[str, str], parts):
        terms = _parse_filter(query.get("$filter", ""))
        order = query.get("$orderby", "receivedDateTime desc").split()
        if "$orderby" in query and "$filter" in query and (not terms or terms[0][0] != order[0]):
            raise GraphError(
                400,
                "InefficientFilter",
                "The restriction or sort order is too complex for this operation.",
            )
        fields = {"isRead": lambda m: m.is_read, "receivedDateTime": lambda m: m.received}
        if order[0] not in fields or any(term[0] not in fields for term in terms):
            raise GraphError(400, "BadRequest", "Could not find a property named in the query.")
        found = [
            m
            for m in self.messages.values()
            if m.folder_id == folder_id
            and all(OPERATORS[op](fields[name](m), value) for name, op, value in terms)
        ]
        found.sort(key=fields[order[0]], reverse=order[-1].lower() == "desc")
        top, skip = min(int(query.get("$top", "10")), 1000), int(query.get("$skip", "0"))
        select = query["$select"].split(",") if "$select" in query else None
        payload: dict = {"value": [m.json(select) for m in found[skip : skip + top]]}
        if skip + top < len(found):
            following = urlencode({**query, "$skip": str(skip + top)}, quote_via=quote)
            payload["@odata.nextLink"] = f"{self.url}{parts.path}?{following}"
        return _ok(payload)

    def _list_children(self, folder_id: str, query: dict[str, str]):
        terms = _parse_filter(query.get("$filter", ""))
        if any(name != "displayName" or op != "eq" for name, op, _ in terms):
            raise GraphError(400, "BadRequest", "Only displayName eq is supported here.")
        children = [f for f in self._children(folder_id) if all(_same(f, v) for *_, v in terms)]
        return _ok({"value": [self._folder_json(f["id"]) for f in children]})

    def _create_child(self, folder_id: str, body: dict):
        name = body.get("displayname")
        if not name:
            raise GraphError(400, "ErrorInvalidRequest", "displayName is required.")
        if any(_same(f, name) for f in self._children(folder_id)):
            raise GraphError(409, "ErrorFolderExists", "A folder with that name already exists.")
        return _ok(self._folder_json(self.add_folder(name, folder_id)), status=201)

    def _message(self, message_id: str) -> FakeMessage:
        if message_id not in self.messages:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found.")
        return self.messages[message_id]

    def _patch(self, message: FakeMessage, body: dict):
        if "isread" in body:
            message.is_read = bool(body["isread"])
        return _ok(message.json())

    def _move(self, message: FakeMessage, body: dict):
        destination = self._resolve_folder(body.get("destinationid") or "")
        del self.messages[message.id]
        message.id, message.folder_id = _new_id(), destination
        self.messages[message.id] = message
        return _ok(message.json(), status=201)

    def _send(self, content_type: str, body: bytes):
        if content_type.startswith("text/plain"):
            try:
                raw = base64.b64decode(body, validate=True)
            except binascii.Error as exc:
                raise GraphError(
                    400,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                ) from exc
            parsed = message_from_bytes(raw)
            if not any(parsed.get(name) for name in ("To", "Cc", "Bcc")):
                raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is needed.")
            self.sent.append(raw)
        elif content_type.startswith("application/json"):
            message = _json(body).get("message")
            if not isinstance(message, dict):
                raise GraphError(400, "ErrorInvalidRequest", "The message is missing.")
            self.sent_json.append(message)
            raw = json.dumps(message).encode()
        else:
            raise GraphError(415, "UnsupportedMediaType", f"Content-Type {content_type!r}.")
        item = FakeMessage(_new_id(), self.folder_id("sentitems"), raw, self.next_received, True)
        self.messages[item.id] = item
        return 202, {}, b""


def _handler_for(fake: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Graph; every answer has a Content-Length
        # Headers and body leave in one segment, without Nagle: otherwise delayed ACKs stall
        # each exchange by ~40 ms.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            self.send_response(status)
            if payload and "Content-Type" not in extra:
                self.send_header("Content-Type", "application/json")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
            pass  # the recorded requests are the log

    return Handler


def _parse_filter(text: str) -> list[tuple[str, str, object]]:
    """`receivedDateTime ge 2000-01-01T00:00:00Z and isRead eq false` → [(name, op, value)]."""
    terms, position, text = [], 0, text.strip()
    while position < len(text):
        term = FILTER_TERM.match(text, position)
        if not term:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {text}")
        name, op, value = term.groups()
        terms.append((name, op, _literal(value)))
        position = term.end()
    return terms


def _literal(text: str) -> object:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _same(folder: dict, name: object) -> bool:
    return str(folder["displayName"]).casefold() == str(name).casefold()


def _json(body: bytes) -> dict:
    """The request's JSON with keys lower-cased: Graph's keys are case-insensitive."""
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise GraphError(400, "BadRequest", "The body is not JSON.") from exc
    return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}


def _ok(payload: dict, status: int = 200):
    return status, {}, json.dumps(payload).encode()


def _error_response(error: GraphError, extra: dict[str, str] | None = None):
    payload = {"error": {"code": error.code, "message": error.message}}
    return error.status, extra or {}, json.dumps(payload).encode()


def _new_id() -> str:
    # Shaped like Graph ids (long, URL-safe base64 with '=' padding) so that quoting is exercised.
    return "AAMkAG" + secrets.token_urlsafe(24) + "="


def _b64url(part: object) -> str:
    data = part.encode() if isinstance(part, str) else json.dumps(part).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
