"""The Exchange backend: Exchange Web Services through exchangelib, for on-premises Exchange.

    PMBOT_EWS_URL        the endpoint, https://mail.example.org/EWS/Exchange.asmx (no autodiscover)
    PMBOT_EWS_VERSION    the server build, "15.1.2507.6" (default: Exchange 2016 CU23)
    PMBOT_EWS_AUTH       ntlm (default), basic or oauth2
    PMBOT_EWS_USER, PMBOT_EWS_PASSWORD    for ntlm and basic ("DOMAIN\\svc-pmbot" or a UPN)
    PMBOT_EWS_MAILBOX    the mailbox pmbot reads and sends from (default: an address USER)
    PMBOT_EWS_TENANT_ID, PMBOT_EWS_CLIENT_ID, PMBOT_EWS_CLIENT_SECRET    for oauth2
    PMBOT_EWS_FOLDER     where replies arrive: "inbox" (default) or a path such as "Inbox/Figures"
    PMBOT_EWS_MAX_WAIT   the longest back-off, in seconds, pmbot accepts from a busy server (60)

The endpoint, authentication and version are all given, so exchangelib never probes the server;
and mail pmbot has read is marked read and moved to the folder pmbot/processed, never deleted.
The requests on the wire (exchangelib 5.6, seen by tests/fake_ews.py):

    first use    GetFolder root, GetFolder inbox
    fetch        FindItem (ids of unread mail, oldest first), GetItem per 20 messages (the MIME)
    mark_done    UpdateItem (IsRead), MoveItem; the folder is found once by FindFolder
    send         CreateItem SendOnly carrying the message's own MIME
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email.message import Message
from urllib.parse import urlsplit, urlunsplit

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    FaultTolerance,
    Folder,
    FolderCollection,
    Identity,
    OAuth2Credentials,
    Q,
    Version,
)
from exchangelib import Message as ExchangeMessage
from exchangelib import errors as ews
from exchangelib.folders import SHALLOW, BaseFolder
from exchangelib.protocol import Protocol
from exchangelib.services import CreateFolder
from oauthlib.oauth2 import OAuth2Error

from bot.mail.base import CheckResult, InboundMail, MailError, MailRefused, MailUnavailable
from bot.mail.compose import header_text
from bot.settings import ConfigError, Settings

log = logging.getLogger(__name__)

AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC, "oauth2": OAUTH2}
DEFAULT_BUILD = "15.1.2507.6"  # Exchange Server 2016 CU23
PROCESSED = ("pmbot", "processed")  # under the mailbox's top folder, beside the inbox
FETCH_CHUNK = 20  # messages per GetItem: few requests, yet little MIME held in memory at once

# Errors that concern one message: sending it again will not help.
REFUSED = (
    ews.ErrorInvalidRecipients, ews.ErrorMailRecipientNotFound, ews.ErrorMissingRecipients,
    ews.ErrorMessageSizeExceeded, ews.ErrorMimeContentConversionFailed,
    ews.ErrorMimeContentInvalid, ews.ErrorSendAsDenied,
)  # fmt: skip
UNREACHABLE = (
    ews.ErrorTimeoutExpired,  # exchangelib's name for a refused or dropped connection
    ews.ErrorConnectionFailed, ews.ErrorInternalServerTransientError,
    ews.ErrorMailboxStoreUnavailable, requests.RequestException, OSError,
)  # fmt: skip
NOT_ALLOWED = (
    ews.ErrorAccessDenied, ews.ErrorAccountDisabled, ews.ErrorImpersonateUserDenied,
    ews.ErrorImpersonationDenied, ews.ErrorMailboxLogonFailed,
)  # fmt: skip


class FolderMissing(ews.ErrorFolderNotFound):
    """A folder named in PMBOT_EWS_FOLDER does not exist."""


class RetryWhenBusy(FaultTolerance):
    """exchangelib's FaultTolerance, except that refused credentials fail at once.

    FaultTolerance reads HTTP 401 as "busy" (Exchange sometimes throttles that way) and retries
    after 10 s, 20 s, 40 s... until a wait exceeds max_wait, so a wrong password would hold a
    poll for a minute and then fail with "Max timeout reached". pmbot polls again soon anyway,
    so it stops at the first 401 and says what is wrong. Busy faults are still retried.
    """

    def raise_response_errors(self, response: requests.Response) -> None:
        if response.status_code == 401:
            raise ews.UnauthorizedError(f"Invalid credentials for {response.url}")
        super().raise_response_errors(response)


class EwsBackend:
    """Reads replies from an Exchange mailbox and sends pmbot's mail from it.

    >>> backend = EwsBackend.from_settings(settings)   # sends nothing until first used
    """

    def __init__(
        self,
        account: Account,
        *,
        folder: str = "inbox",
        login: str = "",
        fix: str = "PMBOT_EWS_USER/PASSWORD",
    ) -> None:
        self.account = account
        self.folder = folder
        self.url = _without_userinfo(account.protocol.service_endpoint)
        self.login = login or account.primary_smtp_address
        self.fix = fix  # the variables to check when the server refuses the credentials
        self.find_page_size = 100  # ids per FindItem page
        self._inbox: BaseFolder | None = None
        self._processed: BaseFolder | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EwsBackend:
        """The backend the PMBOT_EWS_* variables describe; ConfigError names a wrong one."""
        env = {k: v.strip() for k, v in settings.extra.items()}

        def need(name: str) -> str:
            if not env.get(name):
                raise ConfigError(f"{name} is not set; PMBOT_MAIL_BACKEND=ews needs it")
            return env[name]

        url = need("PMBOT_EWS_URL")
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"PMBOT_EWS_URL={url!r} is not an http(s) URL of the EWS endpoint")
        auth = (env.get("PMBOT_EWS_AUTH") or "ntlm").lower()
        if auth not in AUTH_TYPES:
            raise ConfigError(f"PMBOT_EWS_AUTH={auth!r} is not one of {', '.join(AUTH_TYPES)}")
        version = parse_version(env.get("PMBOT_EWS_VERSION") or DEFAULT_BUILD)
        max_wait = parse_seconds(env.get("PMBOT_EWS_MAX_WAIT") or "60")
        if auth == "oauth2":
            mailbox, client_id = need("PMBOT_EWS_MAILBOX"), need("PMBOT_EWS_CLIENT_ID")
            # Client credentials (an app, no user): the app acts for the mailbox by impersonation.
            credentials = OAuth2Credentials(
                client_id=client_id,
                client_secret=need("PMBOT_EWS_CLIENT_SECRET"),
                tenant_id=need("PMBOT_EWS_TENANT_ID"),
                identity=Identity(primary_smtp_address=mailbox),
            )
            access_type, login = IMPERSONATION, f"application {client_id}"
            fix = "PMBOT_EWS_TENANT_ID/CLIENT_ID/CLIENT_SECRET"
        else:
            user, password = need("PMBOT_EWS_USER"), need("PMBOT_EWS_PASSWORD")
            mailbox = env.get("PMBOT_EWS_MAILBOX") or (user if "@" in user else "")
            if not mailbox:
                raise ConfigError(f"PMBOT_EWS_MAILBOX is not set and {user!r} is not an address")
            credentials = Credentials(user, password)
            # Without DELEGATE, credentials given only in the Configuration mean impersonation.
            access_type, login, fix = DELEGATE, user, "PMBOT_EWS_USER/PASSWORD"
        if "@" not in mailbox:
            raise ConfigError(f"PMBOT_EWS_MAILBOX={mailbox!r} is not an email address")
        config = Configuration(
            service_endpoint=url,
            credentials=credentials,
            auth_type=AUTH_TYPES[auth],  # given, so exchangelib sends no probe
            version=version,  # given, so exchangelib sends no probe
            retry_policy=RetryWhenBusy(max_wait=max_wait),
        )
        account = Account(mailbox, config=config, autodiscover=False, access_type=access_type)
        folder = env.get("PMBOT_EWS_FOLDER") or "inbox"
        return cls(account, folder=folder, login=login, fix=fix)

    # --- the contract -------------------------------------------------------------------

    def fetch(self) -> Iterator[InboundMail]:
        """Unread messages in the folder, oldest first, as whole MIME messages."""
        with self._errors(f"list unread mail in {self.folder}"):
            folder = self._read_folder()
            query = folder.filter(is_read=False).order_by("datetime_received")
            query.page_size = self.find_page_size
            # All ids first: each message is moved once handled, and FindItem pages by offset,
            # so paging while moving would skip one page of mail for every page handled.
            ids = list(query.values_list("id", "changekey"))
        for start in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[start : start + FETCH_CHUNK]
            with self._errors("read unread mail"):
                items = list(self.account.fetch(chunk, folder=folder, only_fields=["mime_content"]))
            for item in items:
                if isinstance(item, ews.ErrorItemNotFound):
                    continue  # moved since it was listed (another pmbot, or a person)
                if isinstance(item, Exception) or not item.mime_content:
                    # Left unread for a person to see; one bad message must not stop the rest.
                    log.warning("EWS could not give a message in %s: %s", self.folder, item)
                    continue
                yield InboundMail(key=f"{item.id} {item.changekey}", raw=item.mime_content)

    def send(self, message: Message) -> str:
        """Send the message's own MIME; returns its Message-ID.

        Exchange reads the recipients, subject and body from the MIME, and keeps its headers:
        the Message-ID that replies will quote, In-Reply-To and References, Auto-Submitted and
        X-PMBot, and inline images with their Content-IDs. Mapping to EWS fields would lose the
        custom headers (EWS cannot set Internet headers) and need each part rebuilt by hand.
        """
        message_id = header_text(message.get("Message-ID"))
        item = ExchangeMessage(account=self.account, mime_content=message.as_bytes())
        with self._errors(f"send {message_id or 'a message'}", sending=True):
            item.send(save_copy=False)  # CreateItem SendOnly: no Sent Items copy, one request
        return message_id

    def mark_done(self, mail: InboundMail) -> None:
        """Mark the message read and move it to pmbot/processed (kept, never deleted)."""
        item_id, _, changekey = mail.key.partition(" ")
        item = ExchangeMessage(account=self.account, id=item_id, changekey=changekey)
        with self._errors("move a handled message to pmbot/processed"):
            processed = self._processed_folder()
            try:
                item.is_read = True
                item.save(update_fields=["is_read"])
                item.move(processed)
            except ews.ErrorItemNotFound:
                log.info("message %s was already moved out of %s", item_id[-12:], self.folder)

    def check(self) -> list[CheckResult]:
        """Try each step in order, stopping at the first that fails."""
        mailbox = self.account.primary_smtp_address
        reach = f"reach EWS at {self.url}"
        login = f"log in as {self.login} and open mailbox {mailbox}"
        try:
            with self._errors("open the mailbox"):
                _ = self.account.root  # GetFolder root: the first request
        except MailError as exc:
            if isinstance(exc.__cause__, UNREACHABLE):
                return [CheckResult(reach, False, str(exc))]
            return [CheckResult(reach, True), CheckResult(login, False, str(exc))]
        results = [CheckResult(reach, True), CheckResult(login, True)]
        steps: list[tuple[str, Callable[[], object]]] = [
            (f"open folder {self.folder}", self._read_folder),
            (f"find or create folder {'/'.join(PROCESSED)}", self._processed_folder),
            ("create a message in the mailbox (a draft, deleted at once)", self._try_draft),
        ]
        for what, step in steps:
            try:
                with self._errors(what):
                    step()
            except MailError as exc:
                results.append(CheckResult(what, False, str(exc)))
                break
            results.append(CheckResult(what, True))
        return results

    def close(self) -> None:
        protocol = self.account.protocol
        protocol.close()
        # exchangelib caches one protocol per endpoint and credentials; drop the one closed here
        # so that a later backend gets a fresh one with its own retry policy.
        with suppress(KeyError):
            del Protocol[protocol.config]

    # --- folders ------------------------------------------------------------------------

    def _read_folder(self) -> BaseFolder:
        """The folder replies arrive in: the inbox, or a path under it or the top folder."""
        if self._inbox is None:
            names = [n for n in self.folder.split("/") if n]
            if names and names[0].lower() == "inbox":
                folder, names = self.account.inbox, names[1:]
            else:
                folder = self.account.msg_folder_root
            for name in names:
                child = self._child(folder, name)
                if child is None:
                    raise FolderMissing(
                        f"there is no folder {self.folder!r} in {self.account.primary_smtp_address}"
                        "; check PMBOT_EWS_FOLDER"
                    )
                folder = child
            self._inbox = folder
        return self._inbox

    def _processed_folder(self) -> BaseFolder:
        """pmbot/processed under the top folder, created the first time it is needed."""
        if self._processed is None:
            folder = self.account.msg_folder_root
            for name in PROCESSED:
                folder = self._child(folder, name) or self._create_child(folder, name)
            self._processed = folder
        return self._processed

    def _child(self, parent: BaseFolder, name: str) -> BaseFolder | None:
        # One FindFolder, Shallow, restricted by display name. `parent / name` and
        # `Folder(parent=...).save()` would first load the mailbox's whole folder tree.
        collection = FolderCollection(account=self.account, folders=[parent])
        for found in collection.find_folders(q=Q(name=name), depth=SHALLOW):
            if isinstance(found, Exception):
                raise found
            return found
        return None

    def _create_child(self, parent: BaseFolder, name: str) -> BaseFolder:
        new = Folder(parent=parent, name=name, folder_class="IPF.Note")
        try:
            return CreateFolder(account=self.account).get(parent_folder=parent, folders=[new])
        except ews.ErrorFolderExists:  # another pmbot made it in the meantime
            found = self._child(parent, name)
            if found is None:
                raise
            return found

    def _try_draft(self) -> None:
        draft = ExchangeMessage(
            account=self.account,
            folder=self.account.drafts,
            subject="pmbot mail check",
            body="pmbot checks that it may create messages here; this draft is deleted at once.",
        )
        draft.save()  # CreateItem SaveOnly
        draft.delete()  # DeleteItem HardDelete

    # --- errors -------------------------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str, *, sending: bool = False) -> Iterator[None]:
        """Turn exchangelib's and requests' errors into MailUnavailable or MailRefused."""
        try:
            yield
        except MailError:
            raise
        except (ews.EWSError, requests.RequestException, OAuth2Error, OSError) as exc:
            log.debug("EWS failed to %s", doing, exc_info=True)
            raise self._translate(exc, doing, sending) from exc

    def _translate(self, exc: Exception, doing: str, sending: bool) -> MailError:
        mailbox = self.account.primary_smtp_address
        if isinstance(exc, ews.UnauthorizedError | OAuth2Error):
            return MailUnavailable(
                f"EWS refused the credentials for {self.login} at {self.url}; check {self.fix}"
            )
        if isinstance(exc, ews.RateLimitError | ews.ErrorServerBusy):
            wait = getattr(exc, "wait", None) or getattr(exc, "back_off", None)
            limit = self.account.protocol.retry_policy.max_wait
            asked = f", asking for {wait:g} s (PMBOT_EWS_MAX_WAIT={limit:g})" if wait else ""
            return MailUnavailable(f"EWS at {self.url} is busy{asked}; could not {doing}")
        if isinstance(exc, UNREACHABLE):
            return MailUnavailable(
                f"cannot reach EWS at {self.url} to {doing}: {_connection_reason(exc, self.url)}"
            )
        if isinstance(exc, ews.ErrorNonExistentMailbox | ews.ErrorInvalidMailbox):
            return MailUnavailable(
                f"there is no mailbox {mailbox} at {self.url}; check PMBOT_EWS_MAILBOX"
            )
        if isinstance(exc, NOT_ALLOWED):
            return MailUnavailable(
                f"{self.login} may not use mailbox {mailbox} ({type(exc).__name__}); ask the "
                "Exchange administrator for access, or check PMBOT_EWS_MAILBOX"
            )
        if isinstance(exc, FolderMissing):
            return MailUnavailable(str(exc))
        if sending and isinstance(exc, REFUSED):
            return MailRefused(
                f"Exchange refused the message ({type(exc).__name__}): {_reason(exc)}"
            )
        return MailUnavailable(
            f"EWS at {self.url} failed to {doing}: {type(exc).__name__}: {_reason(exc)}"
        )


def parse_version(text: str) -> Version:
    """ "15.1.2507.6" -> Version(Build(15, 1, 2507, 6)); ConfigError if exchangelib cannot."""
    try:
        build = Build(*(int(part) for part in text.split(".")))
        return Version(build=build)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"PMBOT_EWS_VERSION={text!r} is not an Exchange build such as {DEFAULT_BUILD}"
        ) from exc


def parse_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ConfigError(f"PMBOT_EWS_MAX_WAIT={text!r} is not a number of seconds")
    return seconds


def _connection_reason(exc: Exception, url: str) -> str:
    """ "Connection refused" out of urllib3's wrapping, naming the host if it is not EWS's own
    (with oauth2 the token comes from Microsoft's login service)."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", text)
    host = re.search(r"host='([^']+)'", text)
    reason = errno.group(1).strip() if errno else _reason(exc)
    if host and host.group(1) not in url:
        reason += f" ({host.group(1)})"
    return reason


def _reason(exc: Exception) -> str:
    """The library's message, on one line and short enough to read in a log."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _without_userinfo(url: str) -> str:
    # A URL could carry "user:password@"; messages and logs show the host only.
    parts = urlsplit(url)
    if not parts.username:
        return url
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
    return urlunsplit(parts._replace(netloc=host))
