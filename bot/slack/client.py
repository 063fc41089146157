"""The Slack Web API client, built from settings, and pmbot's own Slack errors.

- `make_client(settings)`: slack_sdk's WebClient pointed at ``SLACK_API_URL``, retrying 429s
  after their Retry-After (a ``RateLimitErrorRetryHandler``) and dropped connections.
- `Pacer`: spaces calls to each API method so that a fan-out to a thousand owners stays inside
  Slack's per-method limits instead of living on 429s.
- `translated()`: the edge where slack_sdk and urllib errors become `SlackError`, so nothing
  past this package catches a slack_sdk exception.

>>> pacer = Pacer(rate=2.0, clock=lambda: 0.0, sleep=lambda s: waits.append(s)); waits = []
>>> for _ in range(3): pacer.wait("chat.postMessage")
>>> waits
[0.5, 1.0]
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryState,
)

from bot.chat import ChatError
from bot.settings import ConfigError, Settings

# Slack's own hiccups, worth another try; anything else (channel_not_found, invalid_auth...)
# will fail the same way again.
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
DEFAULT_RATE = 1.0  # calls per second per method: inside Tier 3 (50+/min) and chat.postMessage
RATE_LIMIT_RETRIES = 4  # a 429 after four waits is a real outage, not a burst


class SlackError(ChatError):
    """Slack refused or could not be reached; `code` is Slack's error string when it gave one."""


class SlackConfigError(ConfigError):
    """Slack settings that cannot work (a refused token, an unreachable API URL)."""


class Pacer:
    """Per-method spacing of calls (a GCRA token bucket), shared by every thread.

    Each call reserves the next free slot for its method and sleeps until it; `burst` calls may
    go back to back before the spacing applies. `rate=0` turns pacing off.
    """

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.tolerance = (max(burst, 1) - 1) * self.interval
        self.clock, self.sleep = clock, sleep
        self.next_slot: dict[str, float] = {}
        self.lock = threading.Lock()

    def wait(self, method: str) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(self.next_slot.get(method, now), now)
            self.next_slot[method] = slot + self.interval
            delay = slot - self.tolerance - now
        if delay > 0:
            self.sleep(delay)


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, waiting what Retry-After says plus at most 10% jitter.

    The stock handler adds up to a whole second of jitter to every wait. A fan-out to a
    thousand owners ends with its slowest retry, and the pacer already spreads the retries out,
    so a smaller jitter is enough to keep them from arriving together.
    """

    def __init__(
        self, max_retry_count: int = RATE_LIMIT_RETRIES, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("no response to a rate-limited request")
        state.next_attempt_requested = True
        headers = {k.lower(): v for k, v in response.headers.items()}
        retry_after = (headers.get("retry-after") or ["1"])[0]
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:  # Slack sends whole seconds; anything else: wait a second
            wait = 1.0
        self.sleep(wait + random.uniform(0, 0.1 * max(wait, 1.0)))
        state.increment_current_attempt()


class PacedWebClient(WebClient):
    """A WebClient whose every API call first waits its turn with the pacer."""

    def __init__(self, *args: Any, pacer: Pacer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.pacer.wait(api_method)
        return super().api_call(api_method, **kwargs)


def make_client(settings: Settings, *, pacer: Pacer | None = None, timeout: int = 10) -> WebClient:
    """A client for the bot token; with a `pacer`, one for bulk sending."""
    options: dict[str, Any] = {
        "token": settings.slack_bot_token,
        "base_url": settings.slack_api_url,
        "timeout": timeout,
        # A list replaces slack_sdk's defaults, so the connection handler is listed again.
        "retry_handlers": [
            ConnectionErrorRetryHandler(),
            RetryAfterHandler(),
        ],
    }
    if pacer is not None:
        return PacedWebClient(pacer=pacer, **options)
    return WebClient(**options)


def slack_rate(settings: Settings) -> float:
    """PMBOT_SLACK_RATE: calls per second per API method when sending in bulk (0: no pacing)."""
    raw = settings.extra.get("PMBOT_SLACK_RATE", "").strip()
    try:
        rate = float(raw) if raw else DEFAULT_RATE
    except ValueError:
        raise SlackConfigError(
            f"PMBOT_SLACK_RATE={raw!r} is not a number of calls per second"
        ) from None
    if rate < 0:
        raise SlackConfigError("PMBOT_SLACK_RATE cannot be negative")
    return rate


@contextlib.contextmanager
def translated(doing: str) -> Iterator[None]:
    """Turn slack_sdk and network errors into SlackError, naming what was being done."""
    try:
        yield
    except SlackApiError as exc:
        code = str(exc.response.get("error", "")) if exc.response is not None else ""
        status = exc.response.status_code if exc.response is not None else 0
        transient = code in TRANSIENT_ERRORS or status == 429 or status >= 500
        raise SlackError(
            f"{doing}: Slack answered {code or status}", code=code, transient=transient
        ) from exc
    except (SlackClientError, URLError, OSError) as exc:
        raise SlackError(f"{doing}: cannot reach Slack ({exc})", transient=True) from exc


def check_token(client: WebClient) -> dict[str, Any]:
    """auth.test at startup: who the bot is, or a one-line SlackConfigError saying what to fix."""
    if not client.token:
        raise SlackConfigError(
            "SLACK_BOT_TOKEN is not set; copy the Bot User OAuth Token "
            "(xoxb-...) from the app's OAuth & Permissions page"
        )
    if not client.token.startswith("xoxb-"):
        raise SlackConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    try:
        with translated("auth.test"):
            answer = client.auth_test()
    except SlackError as exc:
        if exc.code in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
            raise SlackConfigError(
                f"SLACK_BOT_TOKEN was refused by Slack ({exc.code}); check "
                "that it is the app's current bot token"
            ) from exc
        raise SlackConfigError(f"cannot check SLACK_BOT_TOKEN at {client.base_url}: {exc}") from exc
    return dict(answer.data) if isinstance(answer.data, dict) else {}
