"""Talking to Microsoft Teams: the Bot Connector through the Teams SDK for Python, the bot's
access token, and the check of every inbound activity's JWT.

The SDK (``microsoft-teams-apps``/``microsoft-teams-api``) is used unchanged:

- outbound, its `ApiClient` (conversations, activities, members) on ``PMBOT_TEAMS_SERVICE_URL``.
  It is asynchronous; `Connector` runs it on one event loop in its own thread and gives pmbot's
  threads plain blocking calls, each retried on 429 and 5xx after what Retry-After says.
- inbound, its `InboundActivityTokenValidator`: issuer, audience (the app id), signature against
  the keys found from ``PMBOT_TEAMS_OPENID_URL`` (the SDK looks for them beside the metadata, at
  ``.../keys``) and the token's ``serviceurl`` claim against the activity's serviceUrl.
- the token comes through the SDK's `TokenCredentials` hook: `BotToken` posts the client
  credentials grant to ``PMBOT_TEAMS_TOKEN_URL``. (The SDK's own `ClientCredentials` go through
  MSAL, which only accepts https authorities it can discover on the internet: it cannot be
  pointed at a staging or test endpoint without patching it.)

Tokens are never logged, and never put in an exception's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import jwt

# The SDK announces a preview part pmbot does not use (HTML widgets) on import.
warnings.filterwarnings("ignore", message="HtmlWidgetSecurityPolicy")
from microsoft_teams.api import ApiClient, MessageActivityInput  # noqa: E402
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides  # noqa: E402
from microsoft_teams.apps.auth import InboundActivityTokenValidator  # noqa: E402
from microsoft_teams.common import ClientOptions  # noqa: E402

from bot.teams.config import TeamsConfig, TeamsError  # noqa: E402

log = logging.getLogger("pmbot.teams")
# httpx logs every request at INFO (a line per prompt on prompt day); the SDK resets its level,
# so a filter keeps only its warnings.
logging.getLogger("httpx").addFilter(lambda record: record.levelno >= logging.WARNING)
T = TypeVar("T")
Activity = dict[str, Any]  # a message activity as Bot Framework JSON (bot.teams.cards builds them)

RETRIES = 5  # a 429 or 5xx after five waits is an outage, not a burst
MAX_WAIT = 60.0  # never wait longer than this for one retry, whatever Retry-After says
TIMEOUT = 30.0
# Teams allows a bot about 50 requests a second across a tenant and 7 a second in one
# conversation; a fan-out to many owners is one message per conversation, so the first counts.
DEFAULT_RATE = 40.0


class BotToken:
    """The SDK's token provider hook: an app token by the client credentials grant, kept until
    a minute before it expires. One request at a time refreshes it."""

    def __init__(self, config: TeamsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.token = ""
        self.expires = 0.0
        self.lock: asyncio.Lock | None = None

    async def get_app_token(self, scope: str, tenant_id: str | None) -> str:
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:
            if self.token and self.clock() < self.expires:
                return self.token
            form = {
                "grant_type": "client_credentials",
                "client_id": self.config.app_id,
                "client_secret": self.config.app_secret,
                "scope": scope,
            }
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.post(self.config.token_url, data=form)
            data = answer.json() if answer.headers.get("content-type", "").startswith(
                "application/json") else {}  # fmt: skip
            if answer.status_code != 200 or not data.get("access_token"):
                code = data.get("error") or answer.status_code
                raise TeamsError(
                    f"the token endpoint refused the app's credentials ({code}); check "
                    "PMBOT_TEAMS_APP_ID, PMBOT_TEAMS_APP_SECRET and PMBOT_TEAMS_TENANT_ID",
                    code=str(answer.status_code),
                    transient=answer.status_code == 429 or answer.status_code >= 500,
                )
            self.token = data["access_token"]
            self.expires = self.clock() + max(0, int(data.get("expires_in", 0)) - 60)
            return self.token


def retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before trying again: Retry-After (seconds or an HTTP date), else 1, 2,
    4... seconds."""
    raw = response.headers.get("Retry-After", "").strip()
    wait = float(2**attempt)
    if raw:
        try:
            wait = float(raw)
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(raw)
                wait = (when - datetime.now(UTC)).total_seconds()
    return min(max(wait, 0.0), MAX_WAIT)


class Pacer:
    """Spaces calls `1/rate` seconds apart across every thread, so that a fan-out stays inside
    Teams' limit instead of living on 429s. `rate=0` turns it off."""

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(self.next_slot, now)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


class Connector:
    """Blocking calls on the SDK's ApiClient, from any thread."""

    def __init__(
        self,
        config: TeamsConfig,
        *,
        rate: float = DEFAULT_RATE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self.pacer = Pacer(rate, clock, sleep)
        self.token = BotToken(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="teams-io", daemon=True)
        self.thread.start()
        self.api: ApiClient = self.run(self._make_api)
        # The SDK's cloud, with the OpenID metadata (and so the keys) where the settings say.
        cloud = with_overrides(PUBLIC, openid_metadata_url=config.openid_url)
        self.validator = InboundActivityTokenValidator(config.app_id, cloud=cloud)

    async def _make_api(self) -> ApiClient:
        return ApiClient(
            self.config.service_url, ClientOptions(timeout=TIMEOUT), token_provider=self.token
        )

    def check_credentials(self) -> None:
        """Get a token now, so that a wrong secret is found at start and not on prompt day."""
        self.call("sign in", lambda: self.token.get_app_token(PUBLIC.bot_scope, None))

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(TIMEOUT * 2)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def call(self, doing: str, make: Callable[[], Awaitable[T]], *, paced: bool = False) -> T:
        """Run one SDK call; 429s, 5xx and dropped connections are tried again after a wait.

        With `paced`, the call first waits its turn in the fan-out; a retry does not queue
        again: it has waited what Teams asked, and a refused call used none of the limit.
        """
        for attempt in range(RETRIES + 1):
            if paced and attempt == 0:
                self.pacer.wait()
            try:
                with translated(doing):
                    return self.run(make)
            except TeamsError as exc:
                if not exc.transient or attempt == RETRIES:
                    raise
                wait = retry_after(exc.response, attempt) if isinstance(exc, Throttled) else \
                    float(2**attempt)  # fmt: skip
                log.info("%s: Teams answered %s; trying again in %.1f s", doing, exc.code, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    # -- the calls pmbot makes --------------------------------------------------------------

    def send(self, conversation_id: str, activity: Activity, *, paced: bool = False) -> str:
        message = MessageActivityInput.model_validate(activity)
        sent = self.call(
            f"send to {conversation_id}",
            lambda: self.api.conversations.create_activity(conversation_id, message),
            paced=paced,
        )
        return sent.id

    def reply(self, conversation_id: str, activity_id: str, activity: Activity) -> str:
        message = MessageActivityInput.model_validate(activity)
        sent = self.call(
            f"reply in {conversation_id}",
            lambda: self.api.conversations.reply_to_activity(conversation_id, activity_id, message),
        )
        return sent.id

    def update(self, conversation_id: str, activity_id: str, activity: Activity) -> None:
        message = MessageActivityInput.model_validate(activity)
        self.call(
            f"update {activity_id} in {conversation_id}",
            lambda: self.api.conversations.update_activity(conversation_id, activity_id, message),
        )

    def member_email(self, conversation_id: str, user_id: str) -> str:
        """The email (else the UPN) of a member of a conversation; '' when Teams has none."""
        member = self.call(
            f"member {user_id}",
            lambda: self.api.conversations.get_member_by_id(conversation_id, user_id),
        )
        return (member.email or member.user_principal_name or "").lower()

    def check_token(self, authorization: str, service_url: str) -> bool:
        """Whether an inbound request's Authorization header holds a valid Bot Connector token
        for this app and this serviceUrl."""
        if not authorization.startswith("Bearer "):
            return False
        raw = authorization.removeprefix("Bearer ")
        try:
            self.run(lambda: self.validator.validate_token(raw, service_url or None))
        except (jwt.PyJWTError, ValueError) as exc:
            log.warning("inbound Teams request refused: %s", type(exc).__name__)
            return False
        return True


class Throttled(TeamsError):
    """A 429 or 5xx: worth another try, after the wait its response asks for."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message, code=str(response.status_code), transient=True)
        self.response = response


@contextlib.contextmanager
def translated(doing: str) -> Iterator[None]:
    """SDK and network errors into TeamsError, naming what was being done."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if status == 429 or status >= 500:
            raise Throttled(f"{doing}: Teams answered {status}", exc.response) from exc
        raise TeamsError(f"{doing}: Teams answered {status}", code=str(status)) from exc
    except (httpx.TransportError, TimeoutError, OSError) as exc:
        raise TeamsError(f"{doing}: cannot reach Teams ({type(exc).__name__})",
                         transient=True) from exc  # fmt: skip
