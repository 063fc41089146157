"""Teams settings, read from the environment without loading the Teams SDK (which takes a few
seconds to import: a pmbot without Teams never loads it)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat import ChatError
from bot.settings import ConfigError, Settings

DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
DEFAULT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
DEFAULT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"


class TeamsConfigError(ConfigError):
    """Teams settings that cannot work; the message names the variable to set."""


@dataclass(frozen=True)
class TeamsConfig:
    app_id: str
    app_secret: str
    tenant_id: str
    leadership_channel: str
    service_url: str
    token_url: str
    openid_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamsConfig | None:
        """The Teams settings, or None when PMBOT_TEAMS_APP_ID is not set (no Teams)."""
        env = settings.extra
        app_id = env.get("PMBOT_TEAMS_APP_ID", "").strip()
        if not app_id:
            return None
        secret = env.get("PMBOT_TEAMS_APP_SECRET", "").strip()
        tenant = env.get("PMBOT_TEAMS_TENANT_ID", "").strip()
        if not secret:
            raise TeamsConfigError(
                "PMBOT_TEAMS_APP_SECRET is not set; create a client secret under the app "
                "registration's Certificates & secrets and copy its Value"
            )
        if not tenant:
            raise TeamsConfigError(
                "PMBOT_TEAMS_TENANT_ID is not set; copy the Directory (tenant) ID from the app "
                "registration's Overview page (pmbot is a single-tenant bot)"
            )
        openid = env.get("PMBOT_TEAMS_OPENID_URL", "").strip() or DEFAULT_OPENID_URL
        if not openid.endswith("/openidconfiguration"):
            raise TeamsConfigError(
                f"PMBOT_TEAMS_OPENID_URL={openid!r} must end in /openidconfiguration "
                "(the Bot Framework OpenID metadata; the keys are read beside it)"
            )
        return cls(
            app_id=app_id,
            app_secret=secret,
            tenant_id=tenant,
            leadership_channel=env.get("PMBOT_TEAMS_LEADERSHIP_CHANNEL", "").strip(),
            service_url=env.get("PMBOT_TEAMS_SERVICE_URL", "").strip() or DEFAULT_SERVICE_URL,
            token_url=env.get("PMBOT_TEAMS_TOKEN_URL", "").strip()
            or DEFAULT_TOKEN_URL.format(tenant=tenant),
            openid_url=openid,
        )

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"TeamsConfig(app_id={self.app_id!r}, tenant_id={self.tenant_id!r})"


class TeamsError(ChatError):
    """Teams refused or could not be reached; `code` is the HTTP status when there was one."""

