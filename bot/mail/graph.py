"""Mail through Microsoft Graph v1.0 with an app-only token: the backend for Exchange Online.

What it sends (reference email.md §2), all under `{PMBOT_GRAPH_API_URL}/users/{mailbox}`:

    fetch      GET   mailFolders/{folder}/messages?$filter=…isRead eq false   ids, oldest first
               GET   messages/{id}/$value                                     the MIME
    mark_done  PATCH messages/{id}            {"isRead": true}
               POST  messages/{id}/move       {"destinationId": …}            201, a new id
    send       POST  sendMail                 the MIME, base64, as text/plain  202
    (once)     GET, POST mailFolders/{folder}/childFolders        find or make pmbot/processed

Messages go out as MIME rather than Graph's JSON message so that what `bot.mail.compose` built
(In-Reply-To, References, inline charts) arrives unchanged. Throttling (429, 503, 504) is
honoured through Retry-After, a bounded number of times; every other failure becomes
`MailUnavailable` (try again later) or, for one refused outgoing message, `MailRefused`.

>>> backend = GraphBackend("http://127.0.0.1:1/v1.0", "pmbot@agency.example", lambda: "token")
>>> backend.user
'http://127.0.0.1:1/v1.0/users/pmbot@agency.example'
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from bot.mail.base import CheckResult, InboundMail, MailRefused, MailUnavailable
from bot.settings import ConfigError, Settings

GRAPH_API_URL = "https://graph.microsoft.com/v1.0"
AUTHORITY_URL = "https://login.microsoftonline.com"
REQUIRED = (
    "PMBOT_GRAPH_TENANT_ID",
    "PMBOT_GRAPH_CLIENT_ID",
    "PMBOT_GRAPH_CLIENT_SECRET",
    "PMBOT_GRAPH_MAILBOX",
)
PROCESSED = ("pmbot", "processed")  # below the watched folder
TIMEOUT = (10, 60)  # seconds to connect, to read
RETRY_STATUSES = frozenset({429, 503, 504})
# Graph refuses `$orderby` unless the same property leads the `$filter` (400 InefficientFilter),
# so the filter starts with a receivedDateTime term that every message passes.
UNREAD_OLDEST_FIRST = {
    "$filter": "receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false",
    "$orderby": "receivedDateTime asc",
    "$select": "id",
}

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Retry:
    """How long to honour throttling before giving up until the next poll."""

    sleep: Sleep = time.sleep
    attempts: int = 5
    max_wait: float = 60.0  # a longer Retry-After ends the poll rather than blocking it

    def request(self, session: requests.Session, method: str, url: str, *, what: str, **kwargs):
        """One HTTP exchange, repeated while the server answers 429/503/504."""
        for attempt in range(1, self.attempts + 1):
            try:
                response = session.request(method, url, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                raise MailUnavailable(
                    f"cannot reach {origin(url)} while {what}: {network_reason(exc)}"
                ) from exc
            if response.status_code not in RETRY_STATUSES:
                return response
            wait = retry_after(response, attempt)
            if attempt == self.attempts or wait > self.max_wait:
                break
            self.sleep(wait)
        asked = f", Retry-After {wait:g}s" if "Retry-After" in response.headers else ""
        raise MailUnavailable(
            f"{origin(url)} is busy (HTTP {response.status_code}{asked}) while {what}; "
            f"gave up after {attempt} attempt(s); the next poll will try again"
        )


class ClientCredentials:
    """An app-only access token (OAuth 2 client-credentials grant), cached until near expiry.

    One documented POST to `{authority}/{tenant}/oauth2/v2.0/token`, rather than msal: msal's
    constructor fetches OpenID metadata and it accepts only https authorities, so it could not
    run against a loopback test server, and this grant needs none of its other features.
    """

    def __init__(
        self,
        authority_url: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        session: requests.Session,
        retry: Retry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = f"{authority_url.rstrip('/')}/{quote(tenant_id, safe='')}/oauth2/v2.0/token"
        self.tenant_id, self.client_id, self.scope = tenant_id, client_id, scope
        self._secret = client_secret  # never in a message, a repr or a log
        self.session, self.retry, self.clock = session, retry, clock
        self._token, self._renew_at = "", 0.0
        self._lock = threading.Lock()  # the poller and the scheduler share one token

    def __str__(self) -> str:
        return f"client {self.client_id} in tenant {self.tenant_id}"

    def __call__(self) -> str:
        with self._lock:
            if not self._token or self.clock() >= self._renew_at:
                self._token, self._renew_at = self._request_token()
            return self._token

    def forget(self) -> None:
        """Drop the cached token, so the next call asks for a new one (after a 401)."""
        with self._lock:
            self._token, self._renew_at = "", 0.0

    def _request_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
            "scope": self.scope,
        }
        response = self.retry.request(
            self.session, "POST", self.url, data=form, what="getting an access token"
        )
        payload = json_of(response)
        if response.status_code != 200 or not payload.get("access_token"):
            raise MailUnavailable(self._refusal(response.status_code, payload))
        lifetime = float(payload.get("expires_in", 3600))
        # Renewed five minutes early (half its life if shorter): a request must not carry a
        # token that expires on the way.
        return payload["access_token"], self.clock() + lifetime - min(300.0, lifetime / 2)

    def _refusal(self, status: int, payload: dict[str, Any]) -> str:
        error = str(payload.get("error") or f"HTTP {status}")
        # The description's first line holds the AADSTS code; the rest is trace ids.
        description = str(payload.get("error_description") or "").strip().splitlines()[:1]
        hint = {
            "invalid_client": "check PMBOT_GRAPH_CLIENT_SECRET (the secret's value, not its id, "
            "and not expired)",
            "unauthorized_client": "check PMBOT_GRAPH_CLIENT_ID",
            "invalid_request": "check PMBOT_GRAPH_TENANT_ID and PMBOT_GRAPH_AUTHORITY_URL",
        }.get(error, "check the PMBOT_GRAPH_* settings and the app registration")
        return (
            f"the Microsoft identity platform refused an app-only token for client "
            f"{self.client_id} in tenant {self.tenant_id}: {error}"
            f"{': ' + description[0].rstrip('.') if description else ''}; {hint}"
        )


class GraphBackend:
    """One mailbox through Graph. `token` is any callable returning a bearer token: from
    settings it is `ClientCredentials`; an msal app fits too, as
    `lambda: app.acquire_token_for_client(scopes=[...])["access_token"]`.
    """

    def __init__(
        self,
        api_url: str,
        mailbox: str,
        token: Callable[[], str],
        *,
        folder: str = "inbox",
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        page_size: int = 100,
    ) -> None:
        self.mailbox = mailbox
        self.user = f"{api_url.rstrip('/')}/users/{quote(mailbox, safe='@')}"
        self.token = token
        self.folder = folder  # a well-known name (inbox) or a folder id
        self.session = session or requests.Session()
        self.retry = Retry(sleep=sleep)
        self.page_size = page_size
        self._processed_id = ""
        self._folder_lock = threading.Lock()  # `pmbot serve` polls and sends in two threads

    @classmethod
    def from_settings(cls, settings: Settings, *, sleep: Sleep = time.sleep) -> GraphBackend:
        """The backend PMBOT_GRAPH_* describe; ConfigError names whatever is missing."""

        def get(name: str, default: str = "") -> str:
            value = (settings.extra.get(name) or "").strip() or default
            if name.endswith("_URL") and not re.match(r"https?://[^/]+", value):
                raise ConfigError(f"{name}={value!r} is not an http(s) URL")
            return value

        missing = [name for name in REQUIRED if not get(name)]
        if missing:
            raise ConfigError(f"PMBOT_MAIL_BACKEND=graph needs {', '.join(missing)}")
        api_url = get("PMBOT_GRAPH_API_URL", GRAPH_API_URL)
        session = requests.Session()
        token = ClientCredentials(
            get("PMBOT_GRAPH_AUTHORITY_URL", AUTHORITY_URL),
            get("PMBOT_GRAPH_TENANT_ID"),
            get("PMBOT_GRAPH_CLIENT_ID"),
            get("PMBOT_GRAPH_CLIENT_SECRET"),
            # App-only tokens ask for the API's whole static permission set: "{resource}/.default".
            f"{origin(api_url)}/.default",
            session=session,
            retry=Retry(sleep=sleep),
        )
        mailbox, folder = get("PMBOT_GRAPH_MAILBOX"), get("PMBOT_GRAPH_FOLDER", "inbox")
        return cls(api_url, mailbox, token, folder=folder, session=session, sleep=sleep)

    # ------------------------------------------------------------------------- the contract

    def fetch(self) -> Iterator[InboundMail]:
        for message_id in self._unread_ids():
            try:
                response = self._call("GET", f"{item(message_id)}/$value", what="reading a message")
            except NotFound:  # moved or deleted by someone since it was listed
                continue
            yield InboundMail(key=message_id, raw=response.content)

    def send(self, message: Message) -> str:
        """Send the MIME as built, so threading headers and inline images survive."""
        message_id = str(message.get("Message-ID", "")).strip()
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))  # RFC 5322 CRLF
        self._call(
            "POST",
            "/sendMail",
            data=base64.b64encode(raw),
            headers={"Content-Type": "text/plain"},
            expect=(202,),
            refusable=True,
            what=f"sending {message_id or 'a message'}",
        )
        return message_id  # sendMail answers 202 with no body, so no Graph id to return

    def mark_done(self, mail: InboundMail) -> None:
        """Mark read and move to pmbot/processed below the folder: kept, never deleted."""
        path, move = item(mail.key), {"destinationId": self._processed_folder()}
        try:
            self._call("PATCH", path, json={"isRead": True}, what="marking a message read")
            self._call("POST", f"{path}/move", json=move, expect=(201,), what="filing a message")
        except NotFound:  # moved already, by an earlier run or a person
            pass

    def check(self) -> list[CheckResult]:
        """Token, send permission, mailbox, folder, processed folder; stops at a broken step."""
        credentials = self.token if isinstance(self.token, ClientCredentials) else None
        what = f"get an app-only token for {credentials or 'pmbot'}"
        try:
            token = self.token()
        except MailUnavailable as exc:
            return [CheckResult(what, False, str(exc))]
        results = [CheckResult(what, True), send_permission(token)]
        steps: list[tuple[str, Callable[[], object]]] = [
            (f"open mailbox {self.mailbox}", lambda: self._open_folder("inbox")),
            (f"open folder {self.folder}", lambda: self._open_folder(self.folder)),
            (f"find or create folder {self.folder}/{'/'.join(PROCESSED)}", self._processed_folder),
        ]
        for what, step in steps:
            try:
                step()
            except MailUnavailable as exc:
                return [*results, CheckResult(what, False, str(exc))]
            results.append(CheckResult(what, True))
        return results

    def close(self) -> None:
        self.session.close()

    # ----------------------------------------------------------------------------- plumbing

    def _unread_ids(self) -> list[str]:
        """Every unread id in the folder, oldest first, listed in full before any is read.

        Following @odata.nextLink while mark_done moves messages out would skip some: the link
        carries a $skip offset into a list that has since shrunk.
        """
        params: dict[str, Any] | None = {**UNREAD_OLDEST_FIRST, "$top": self.page_size}
        url = f"{folder_path(self.folder)}/messages"
        ids: list[str] = []
        while url:
            try:
                page = json_of(self._call("GET", url, params=params, what="listing unread mail"))
            except NotFound as exc:
                hint = "check PMBOT_GRAPH_FOLDER (inbox, or a folder id)"
                raise MailUnavailable(f"{exc}; {hint}") from exc
            ids += [entry["id"] for entry in page.get("value", [])]
            url, params = page.get("@odata.nextLink", ""), None  # the link holds the query
        return ids

    def _processed_folder(self) -> str:
        """The id of pmbot/processed below the folder, made on first use and then remembered."""
        with self._folder_lock:
            if not self._processed_id:
                parent = self.folder
                for name in PROCESSED:
                    parent = self._child_folder(parent, name)
                self._processed_id = parent
            return self._processed_id

    def _child_folder(self, parent: str, name: str) -> str:
        path = f"{folder_path(parent)}/childFolders"
        literal = name.replace("'", "''")  # an OData string literal doubles its quotes
        params = {"$filter": f"displayName eq '{literal}'", "$select": "id,displayName"}
        for _ in range(2):  # a second look if another poller made it in between
            found = self._call("GET", path, params=params, what=f"finding folder {name}")
            if folders := json_of(found).get("value"):
                return folders[0]["id"]
            with contextlib.suppress(FolderExists):
                body = {"displayName": name}
                made = self._call("POST", path, json=body, expect=(201,), what=f"creating {name}")
                return json_of(made)["id"]
        raise MailUnavailable(f"cannot find or create folder {name} in {self.mailbox}")

    def _open_folder(self, folder: str) -> None:
        self._call("GET", folder_path(folder), params={"$select": "id"}, what=f"opening {folder}")

    def _call(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        expect: tuple[int, ...] = (200,),
        refusable: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One Graph request with the bearer token; an unexpected answer becomes a MailError."""
        url = path_or_url if path_or_url.startswith("http") else self.user + path_or_url
        headers = {**(headers or {}), "Authorization": f"Bearer {self.token()}"}
        response = self.retry.request(
            self.session, method, url, what=what, headers=headers, **kwargs
        )
        if response.status_code in expect:
            return response
        raise self._error(response, what, refusable)

    def _error(self, response: requests.Response, what: str, refusable: bool) -> Exception:
        status = response.status_code
        error = json_of(response).get("error")
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "")
        said = f"HTTP {status} {code}".strip() + f": {error.get('message') or response.reason}"
        where = f"Microsoft Graph ({self.mailbox}) while {what}"
        if status == 401:
            if isinstance(self.token, ClientCredentials):
                self.token.forget()
            return MailUnavailable(
                f"{where}: the access token was refused ({said}); "
                "check the app registration and its tenant"
            )
        if status == 403:
            return MailUnavailable(
                f"{where}: access denied ({said}); the app needs the Mail.ReadWrite and Mail.Send "
                f"application permissions with admin consent, and access to {self.mailbox} "
                "under any application access policy"
            )
        if status == 404 and code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI"):
            return MailUnavailable(f"{where}: no such mailbox ({said}); check PMBOT_GRAPH_MAILBOX")
        if status == 404:
            return NotFound(f"{where}: not found ({said})")
        if status == 409 and code == "ErrorFolderExists":
            return FolderExists(f"{where}: {said}")
        if refusable and status in (400, 413, 422):
            return MailRefused(f"{where}: the message was refused ({said})")
        return MailUnavailable(f"{where}: {said}")


class NotFound(MailUnavailable):
    """A message or folder that is not (or no longer) there."""


class FolderExists(MailUnavailable):
    """A folder of that name was made in the meantime."""


def send_permission(token: str) -> CheckResult:
    """What the token's `roles` claim says about Mail.Send; sending is not tried."""
    what = "permission to send mail (Mail.Send)"
    roles = token_roles(token)
    if roles is None:
        return CheckResult(what, True, "not listed in the token; the first send will tell")
    if "Mail.Send" in roles:
        return CheckResult(what, True)
    return CheckResult(
        what,
        False,
        f"the token grants {', '.join(roles) or 'no application permissions'}; add the Mail.Send "
        "application permission to the app registration and grant admin consent",
    )


def token_roles(token: str) -> list[str] | None:
    """The app roles in a JWT access token's payload, or None if the token is opaque.

    Read, not verified: it only explains a check; Graph itself judges the token.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    roles = payload.get("roles") if isinstance(payload, dict) else None
    return [str(r) for r in roles] if isinstance(roles, list) else None


def item(message_id: str) -> str:
    """The path of one message; Graph ids may hold '=', '/' or '+', so they are quoted."""
    return f"/messages/{quote(message_id, safe='')}"


def folder_path(folder: str) -> str:
    return f"/mailFolders/{quote(folder, safe='')}"


def retry_after(response: requests.Response, attempt: int) -> float:
    """Seconds to wait: the server's Retry-After, else 1, 2, 4, ... seconds."""
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return float(2 ** (attempt - 1))


def json_of(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def network_reason(exc: requests.RequestException) -> str:
    """The useful part of a requests error ('[Errno 111] Connection refused'), not its repr."""
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    if found:
        return found.group(0).strip()
    return "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
