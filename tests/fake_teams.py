"""A small fake of Microsoft Teams on 127.0.0.1: the Bot Connector service, the Entra token
endpoint, and the Bot Framework OpenID metadata with its signing keys.

It speaks the documented wire formats the Teams SDK for Python uses, so the real SDK talks to it
unchanged:

    POST {url}/{tenant}/oauth2/v2.0/token            client credentials -> an access token
    GET  {url}/v1/.well-known/openidconfiguration     issuer, jwks_uri
    GET  {url}/v1/.well-known/keys                    the public key inbound tokens are signed with
    POST {url}/v3/conversations                       a 1:1 conversation (members, tenantId)
    POST {url}/v3/conversations/{id}/activities       send a message
    POST {url}/v3/conversations/{id}/activities/{a}   reply in a thread
    PUT  {url}/v3/conversations/{id}/activities/{a}   update a message in place
    GET  {url}/v3/conversations/{id}/members/{user}   who a member is (email, UPN, AAD id)

Every connector call needs ``Authorization: Bearer <a token this fake issued>`` (401 otherwise),
as the real service does. `fail_next` queues faults; `limit` enforces a rate over all connector
calls (a token bucket), answering 429 with Retry-After beyond it, and `flaky` answers a fraction
of calls 429 at random.

Inbound, `activity_token()` signs a JWT the way the Bot Connector does (issuer
https://api.botframework.com, audience the app id, a ``serviceurl`` claim) with the key the
metadata publishes; `forged_token()` signs the same claims with a key nobody published.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "00000000-0000-4000-8000-0000000000b0"
APP_SECRET = "test-secret-value"
TENANT = "11111111-1111-4111-8111-111111111111"
ISSUER = "https://api.botframework.com"
KEY_ID = "fake-key-1"
BOT_ID = f"28:{APP_ID}"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any
    at: float
    status: int


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Member:
    user_id: str  # 29:...
    aad_object_id: str
    email: str
    name: str
    conversation_id: str  # their 1:1 conversation with the bot


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def signing_key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key, made once per test run (making one takes a noticeable moment)."""
    if name not in _KEYS:
        _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[name]


def b64url(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FakeTeams:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key = signing_key("published")
        self.calls: list[Call] = []
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.members: dict[str, Member] = {}  # user id -> member
        self.channels: set[str] = set()
        # conversation id -> activity id -> the activity as last sent or updated
        self.activities: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.updates: list[tuple[str, str, dict[str, Any]]] = []
        self.faults: deque[Fault] = deque()
        self.rate: float | None = None
        self.bucket = (0.0, 0.0)  # tokens, at
        self.flaky_fraction = 0.0
        self.rng = random.Random(1)
        self.ids = itertools.count(1)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeTeams:
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeTeams:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def service_url(self) -> str:
        return f"{self.url}/teams/"

    @property
    def token_url(self) -> str:
        return f"{self.url}/{TENANT}/oauth2/v2.0/token"

    @property
    def openid_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    # -- set-up -----------------------------------------------------------------------------

    def add_member(self, email: str, name: str) -> Member:
        n = next(self.ids)
        member = Member(f"29:user-{n}", f"aad-{n:04d}", email, name, f"a:personal-{n}")
        self.members[member.user_id] = member
        return member

    def add_channel(self, channel_id: str) -> None:
        self.channels.add(channel_id)

    def fail_next(self, status: int = 429, *, retry_after: str | None = "1", times: int = 1):
        headers = {"Retry-After": retry_after} if retry_after else {}
        for _ in range(times):
            self.faults.append(Fault(status, headers))

    def limit(self, rate: float) -> None:
        """At most `rate` connector calls a second (bursts of one second's worth); then 429."""
        self.rate = rate
        self.bucket = (rate, time.monotonic())

    def flaky(self, fraction: float, seed: int = 1) -> None:
        self.flaky_fraction = fraction
        self.rng = random.Random(seed)

    # -- tokens for inbound activities ------------------------------------------------------

    def activity_token(self, *, audience: str = APP_ID, service_url: str | None = None) -> str:
        return self.sign(self.key, audience, service_url or self.service_url)

    def forged_token(self) -> str:
        return self.sign(signing_key("forger's"), APP_ID, self.service_url)

    def sign(self, key: Any, audience: str, service_url: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 5,
            "iat": now - 5,
            "exp": now + 3600,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})

    def jwks(self) -> dict[str, Any]:
        public = self.key.public_key().public_numbers()
        key = {"kty": "RSA", "use": "sig", "kid": KEY_ID, "n": b64url(public.n),
               "e": b64url(public.e), "endorsements": ["msteams"]}  # fmt: skip
        return {"keys": [key]}

    # -- what tests look at -----------------------------------------------------------------

    def sent(self, conversation_id: str) -> list[dict[str, Any]]:
        """The activities in a conversation, as they are now (updates applied), oldest first."""
        with self.lock:
            return list(self.activities[conversation_id].values())

    def connector_calls(self, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if not ok_only or c.status < 300]

    def wait_for(self, condition: Any, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.01)
        raise AssertionError("the fake Teams never saw what the test waited for")

    # -- the service ------------------------------------------------------------------------

    def throttled(self) -> Fault | None:
        with self.lock:
            if self.faults:
                return self.faults.popleft()
            if self.flaky_fraction and self.rng.random() < self.flaky_fraction:
                return Fault(429, {"Retry-After": "1"})
            if self.rate:
                tokens, at = self.bucket
                now = time.monotonic()
                tokens = min(self.rate, tokens + (now - at) * self.rate)
                if tokens < 1:
                    self.bucket = (tokens, now)
                    return Fault(429, {"Retry-After": "1"})
                self.bucket = (tokens - 1, now)
        return None

    def connector(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if match := re.fullmatch(r"/v3/conversations", path):
            if method != "POST":
                return 405, {}
            members = body.get("members") or []
            found = [m for m in self.members.values() if members and members[0].get("id") in
                     (m.user_id, m.aad_object_id)]  # fmt: skip
            if not found or body.get("tenantId") != TENANT:
                return 404, {"error": {"code": "NotFound", "message": "user not found"}}
            return 201, {"id": found[0].conversation_id}
        match = re.fullmatch(r"/v3/conversations/([^/]+)/members/([^/]+)", path)
        if match and method == "GET":
            member = self.members.get(match.group(2))
            if member is None or member.conversation_id != match.group(1):
                return 404, {"error": {"code": "MemberNotFound", "message": "no such member"}}
            return 200, {"id": member.user_id, "name": member.name, "email": member.email,
                         "userPrincipalName": member.email,
                         "aadObjectId": member.aad_object_id}  # fmt: skip
        match = re.fullmatch(r"/v3/conversations/([^/]+)/activities(?:/([^/]+))?", path)
        if match is None:
            return 404, {"error": {"code": "NotFound", "message": path}}
        # A channel thread is addressed as "<channel>;messageid=<its first message>".
        conversation, _, thread = match.group(1).partition(";messageid=")
        activity_id = match.group(2)
        known = {m.conversation_id for m in self.members.values()} | self.channels
        if conversation not in known:
            return 404, {"error": {"code": "ConversationNotFound", "message": conversation}}
        problem = check_activity(body)
        if problem:
            return 400, {"error": {"code": "BadArgument", "message": problem}}
        with self.lock:
            activities = self.activities[conversation]
            if method == "PUT":
                if activity_id not in activities:
                    return 404, {"error": {"code": "ActivityNotFound", "message": activity_id}}
                activities[activity_id] = body | {"id": activity_id, "updated": True}
                self.updates.append((conversation, activity_id, body))
                return 200, {"id": activity_id}
            new_id = f"{int(time.time() * 1000)}{next(self.ids):05d}"
            in_reply_to = activity_id or body.get("replyToId") or thread or None
            activities[new_id] = body | {"id": new_id, "replyToId": in_reply_to}
            return 201, {"id": new_id}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.endswith("/.well-known/openidconfiguration"):
                    keys = f"{fake.url}/v1/.well-known/keys"
                    self.send(200, {"issuer": ISSUER, "jwks_uri": keys,
                                    "id_token_signing_alg_values_supported": ["RS256"]})
                elif self.path.endswith("/.well-known/keys"):
                    self.send(200, fake.jwks())
                else:
                    self.handle_connector("GET", b"")

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("/oauth2/v2.0/token"):
                    self.token(raw)
                else:
                    self.handle_connector("POST", raw)

            def do_PUT(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.handle_connector("PUT", raw)

            def token(self, raw: bytes) -> None:
                form = dict(parse_qsl(raw.decode()))
                good = (
                    self.path == f"/{TENANT}/oauth2/v2.0/token"
                    and form.get("grant_type") == "client_credentials"
                    and form.get("client_id") == APP_ID
                    and form.get("client_secret") == APP_SECRET
                    and form.get("scope") == "https://api.botframework.com/.default"
                )
                if not good:
                    self.send(401, {"error": "invalid_client",
                                    "error_description": "AADSTS7000215: bad secret"})  # fmt: skip
                    return
                token = secrets.token_urlsafe(24)
                with fake.lock:
                    fake.tokens.add(token)
                    fake.token_requests += 1
                self.send(200, {"token_type": "Bearer", "expires_in": 3599,
                                "ext_expires_in": 3599, "access_token": token})  # fmt: skip

            def handle_connector(self, method: str, raw: bytes) -> None:
                path = self.path.partition("?")[0]
                if not path.startswith("/teams/"):
                    self.send(404, {"error": {"code": "NotFound", "message": path}})
                    return
                path = path.removeprefix("/teams")
                body = json.loads(raw) if raw else {}
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if bearer not in fake.tokens:
                    status, answer, headers = 401, {"message": "Authorization has been denied"}, {}
                elif fault := fake.throttled():
                    status, answer, headers = fault.status, {"error": {"code": "Throttled"}}, \
                        fault.headers  # fmt: skip
                else:
                    (status, answer), headers = fake.connector(method, path, body), {}
                with fake.lock:
                    fake.calls.append(Call(method, path, body, time.monotonic(), status))
                self.send(status, answer, headers)

            def send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def check_activity(body: Any) -> str:
    """What the connector would refuse in a message activity ('' when it is fine)."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return "an activity of type message is required"
    if not body.get("text") and not body.get("attachments"):
        return "a message needs text or attachments"
    for attachment in body.get("attachments") or []:
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            card = attachment.get("content") or {}
            if card.get("type") != "AdaptiveCard" or not card.get("version"):
                return "an Adaptive Card needs type AdaptiveCard and a version"
            if len(json.dumps(card)) > 28_000:
                return "the card is larger than 28 KB"
    return ""
