"""A small fake of the Slack Web API on 127.0.0.1, for slack_sdk's real WebClient.

It speaks the wire format slack_sdk uses (reference/slack.md §3, §6): every method is a POST to
``/api/<method>`` with a form or JSON body and ``Authorization: Bearer``; answers are
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` with HTTP 200, and 429 with
Retry-After when rate limited. Only what pmbot calls is there:

    auth.test  users.lookupByEmail  users.info  conversations.open  chat.postMessage
    chat.update  chat.postEphemeral  views.open  views.publish  apps.connections.open
    files.getUploadURLExternal  POST /upload/<file id>  files.completeUploadExternal
    POST /respond/<n>  (a slash command's or a button's response_url)

It is strict where Slack is: an unknown token gets invalid_auth, a channel the bot cannot post in
channel_not_found, a trigger id is good once, a message must exist to be updated, a view needs
a type, a title of at most 24 characters and at most 100 blocks. Any other method answers
unknown_method, so a typo fails loudly.

Every call is recorded in `calls`. Faults are queued per method with `fail_next`; `limit`
enforces a per-method rate (a token bucket: `rate` calls a second, bursts of `burst`) and
`flaky` answers a fraction of calls 429 at random, as Slack does under load.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
BOT_USER, BOT_ID, TEAM = "U0BOT", "B0BOT", "T0AGENCY"
SCOPES = "chat:write,commands,im:write,im:history,users:read,users:read.email,files:write"


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic()
    status: int  # the HTTP status answered


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: set[str] = set()  # channels the bot is a member of
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home: dict[str, dict[str, Any]] = {}  # user id -> published view
        self.uploads: dict[str, dict[str, Any]] = {}
        self.responses: list[tuple[str, dict[str, Any]]] = []  # (response url path, body)
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.used_triggers: set[str] = set()
        self.rate: float | None = None
        self.burst = 1.0
        self.buckets: dict[str, tuple[float, float]] = {}  # method -> (tokens, at)
        self.flaky_fraction = 0.0
        self.rng = random.Random(1)
        self.ids = itertools.count(1)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    # -- set-up -----------------------------------------------------------------------------

    def add_user(self, email: str, name: str, user_id: str | None = None) -> str:
        user_id = user_id or f"U{next(self.ids):06d}"
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM,
            "name": email.partition("@")[0],
            "real_name": name,
            "is_bot": False,
            "profile": {"email": email, "real_name": name, "display_name": name},
        }
        return user_id

    def add_channel(self, channel_id: str) -> None:
        self.channels.add(channel_id)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        error: str = "ratelimited",
        retry_after: str | None = "1",
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with this status (200: ok false, error)."""
        headers = {"Retry-After": retry_after} if status == 429 and retry_after else {}
        body: Any = {"ok": False, "error": error} if status in (200, 429) else "<html>oops</html>"
        for _ in range(times):
            self.faults[method].append(Fault(status, body, headers))

    def limit(self, rate: float, burst: float | None = None) -> None:
        """At most `rate` calls a second per method (bursts of `burst`); beyond: 429."""
        self.rate, self.burst = rate, burst if burst is not None else max(1.0, rate)

    def flaky(self, fraction: float, seed: int = 1) -> None:
        """Answer this fraction of calls 429 (Retry-After: 1), whatever the rate."""
        self.flaky_fraction, self.rng = fraction, random.Random(seed)

    # -- what happened ----------------------------------------------------------------------

    def calls_to(self, method: str, *, ok_only: bool = True) -> list[Call]:
        with self.lock:
            return [
                c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)
            ]

    def count(self, method: str) -> int:
        return len(self.calls_to(method))

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [m for (c, _), m in self.messages.items() if channel in (None, c)]

    def wait_for(self, condition: Any, timeout: float = 5.0) -> Any:
        """Poll until `condition()` is truthy (work Bolt does after its ack), or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.01)
        raise AssertionError(f"timed out waiting for {getattr(condition, '__name__', condition)}")

    def dm_channel(self, user_id: str) -> str:
        return "D" + user_id[1:]

    # -- the API ----------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if not token:
            raise FakeSlackError("not_authed")
        if token != expected:
            raise FakeSlackError("invalid_auth")
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            raise FakeSlackError("unknown_method")
        return {"ok": True, **handler(params)}

    def api_auth_test(self, p: dict) -> dict:
        return {
            "url": "https://agency.slack.example/",
            "team": "Agency",
            "user": "pmbot",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def api_apps_connections_open(self, p: dict) -> dict:
        return {"url": "ws://127.0.0.1:9/link"}

    def api_users_lookupByEmail(self, p: dict) -> dict:  # noqa: N802 (Slack's method name)
        email = str(p.get("email", "")).lower()
        for user in self.users.values():
            if user["profile"]["email"].lower() == email:
                return {"user": user}
        raise FakeSlackError("users_not_found")

    def api_users_info(self, p: dict) -> dict:
        if p.get("user") not in self.users:
            raise FakeSlackError("user_not_found")
        return {"user": self.users[p["user"]]}

    def api_conversations_open(self, p: dict) -> dict:
        user_id = str(p.get("users", ""))
        if user_id not in self.users:
            raise FakeSlackError("user_not_found")
        channel = self.dm_channel(user_id)
        self.channels.add(channel)
        return {"channel": {"id": channel, "is_im": True, "user": user_id}}

    def channel_of(self, p: dict) -> str:
        channel = str(p.get("channel", ""))
        if channel.startswith("U") and channel in self.users:  # posting to a user: their DM
            channel = self.dm_channel(channel)
        if channel not in self.channels:
            raise FakeSlackError("channel_not_found")
        return channel

    def check_message(self, p: dict) -> None:
        if not p.get("text") and not p.get("blocks"):
            raise FakeSlackError("no_text")
        if len(p.get("blocks") or []) > 50:
            raise FakeSlackError("invalid_blocks")

    def api_chat_postMessage(self, p: dict) -> dict:  # noqa: N802
        channel = self.channel_of(p)
        self.check_message(p)
        if p.get("thread_ts") and (channel, p["thread_ts"]) not in self.messages:
            raise FakeSlackError("thread_not_found")
        ts = f"{int(time.time())}.{next(self.ids):06d}"
        message = {
            "channel": channel,
            "ts": ts,
            "text": p.get("text", ""),
            "blocks": p.get("blocks") or [],
            "thread_ts": p.get("thread_ts"),
            "reply_broadcast": bool(p.get("reply_broadcast")),
            "edits": 0,
        }
        with self.lock:
            self.messages[channel, ts] = message
        return {
            "channel": channel,
            "ts": ts,
            "message": {"text": message["text"], "ts": ts, "bot_id": BOT_ID},
        }

    def api_chat_update(self, p: dict) -> dict:
        channel, ts = str(p.get("channel", "")), str(p.get("ts", ""))
        self.check_message(p)
        with self.lock:
            message = self.messages.get((channel, ts))
            if message is None:
                raise FakeSlackError("message_not_found")
            message.update(
                text=p.get("text", ""), blocks=p.get("blocks") or [], edits=message["edits"] + 1
            )
        return {"channel": channel, "ts": ts, "text": p.get("text", "")}

    def api_chat_postEphemeral(self, p: dict) -> dict:  # noqa: N802
        channel = self.channel_of(p)
        self.check_message(p)
        with self.lock:
            self.ephemeral.append({"channel": channel, "user": p.get("user"), **p})
        return {"message_ts": f"{int(time.time())}.{next(self.ids):06d}"}

    def check_view(self, view: Any, kind: str) -> dict:
        if not isinstance(view, dict) or view.get("type") != kind:
            raise FakeSlackError("invalid_arguments")
        if len(view.get("blocks") or []) > 100:
            raise FakeSlackError("invalid_arguments")
        for name in ("title", "submit", "close"):
            if len((view.get(name) or {}).get("text", "")) > 24:
                raise FakeSlackError("invalid_arguments")
        view_id = f"V{next(self.ids):06d}"
        stored = {**view, "id": view_id, "hash": f"{view_id}.h", "team_id": TEAM}
        self.views[view_id] = stored
        return stored

    def api_views_open(self, p: dict) -> dict:
        trigger = str(p.get("trigger_id", ""))
        with self.lock:
            if not trigger or trigger in self.used_triggers:
                raise FakeSlackError("expired_trigger_id")
            self.used_triggers.add(trigger)
        return {"view": self.check_view(p.get("view"), "modal")}

    def api_views_publish(self, p: dict) -> dict:
        if p.get("user_id") not in self.users:
            raise FakeSlackError("user_not_found")
        view = self.check_view(p.get("view"), "home")
        self.home[p["user_id"]] = view
        return {"view": view}

    def api_files_getUploadURLExternal(self, p: dict) -> dict:  # noqa: N802
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            raise FakeSlackError("invalid_arguments")
        file_id = f"F{next(self.ids):06d}"
        self.uploads[file_id] = {
            "filename": p["filename"],
            "length": int(p["length"]),
            "data": None,
            "channel": None,
        }
        return {"file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}

    def api_files_completeUploadExternal(self, p: dict) -> dict:  # noqa: N802
        files = json.loads(p.get("files") or "[]")
        done = []
        for entry in files:
            upload = self.uploads.get(entry.get("id"))
            if upload is None or upload["data"] is None:
                raise FakeSlackError("invalid_arguments")
            upload.update(
                title=entry.get("title"), channel=p.get("channel_id"), thread_ts=p.get("thread_ts")
            )
            done.append({"id": entry["id"], "title": entry.get("title")})
        return {"files": done}

    # -- rate limits ------------------------------------------------------------------------

    def throttled(self, method: str) -> Fault | None:
        with self.lock:
            if self.faults[method]:
                return self.faults[method].popleft()
            if self.flaky_fraction and self.rng.random() < self.flaky_fraction:
                return Fault(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            if self.rate is None:
                return None
            now = time.monotonic()
            tokens, at = self.buckets.get(method, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1:
                self.buckets[method] = (tokens, now)
                return Fault(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            self.buckets[method] = (tokens - 1, now)
            return None

    # -- HTTP -------------------------------------------------------------------------------

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.partition("?")[0]
                if path.startswith("/upload/"):
                    self.upload(path.rsplit("/", 1)[1], raw)
                elif path.startswith("/respond/"):
                    with fake.lock:
                        fake.responses.append((path, json.loads(raw or b"{}")))
                    self.send(200, "ok", "text/plain")
                elif path.startswith("/api/"):
                    self.api(path.rsplit("/", 1)[1], raw)
                else:
                    self.send(404, "not found", "text/plain")

            def api(self, method: str, raw: bytes) -> None:
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("application/json"):
                    params = json.loads(raw or b"{}")
                else:
                    params = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                for name in ("blocks", "view"):  # form bodies carry these as JSON strings
                    if isinstance(params.get(name), str):
                        params[name] = json.loads(params[name])
                headers = {k.lower(): v for k, v in self.headers.items()}
                token = headers.get("authorization", "").removeprefix("Bearer ").strip()
                fault = fake.throttled(method)
                if fault is not None:
                    status, body, extra = fault.status, fault.body, fault.headers
                else:
                    try:
                        status, body, extra = 200, fake.answer(method, params, token), {}
                    except FakeSlackError as exc:
                        status, body, extra = 200, {"ok": False, "error": exc.error}, {}
                with fake.lock:
                    fake.calls.append(Call(method, params, headers, time.monotonic(), status))
                if method == "auth.test" and status == 200:
                    extra = {**extra, "x-oauth-scopes": SCOPES}
                if isinstance(body, dict):
                    self.send(status, json.dumps(body), "application/json; charset=utf-8", extra)
                else:
                    self.send(status, body, "text/html", extra)

            def upload(self, file_id: str, raw: bytes) -> None:
                upload = fake.uploads.get(file_id)
                if upload is None:
                    self.send(404, "no such upload", "text/plain")
                    return
                upload["data"] = raw
                self.send(200, f"OK - {len(raw)}", "text/plain")

            def send(
                self, status: int, body: str, kind: str, headers: dict[str, str] | None = None
            ) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
