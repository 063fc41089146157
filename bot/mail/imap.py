"""The IMAP + SMTP mail backend: any ordinary mail server (Dovecot, Exchange, Gmail, Fastmail).

Replies are read from PMBOT_IMAP_FOLDER with imaplib in UID mode and sent with smtplib; both
connections stay open between polls, are reopened when the server has dropped them, and are
each used by one thread at a time (`pmbot serve` polls and sends from two threads).

- fetch() takes the UNSEEN, undeleted messages, oldest (lowest UID) first, with BODY.PEEK[]:
  reading marks nothing \\Seen, so a message is only marked once it has been processed.
- A message's key is "UIDVALIDITY:UID". If the folder was rebuilt (new UIDVALIDITY), an old
  key is not acted on, as its UID may name another message now; the messages come back on the
  next poll and the store skips the ones it has (by Message-ID).
- mark_done() sets \\Seen and MOVEs the message to pmbot/processed, named with the server's
  separator and namespace ("pmbot.processed" on Dovecot, "INBOX.pmbot.processed" on Courier).
  Without MOVE: COPY, STORE \\Deleted and UID EXPUNGE of that one UID (UIDPLUS). A plain
  EXPUNGE is never sent: it would also remove whatever someone else had flagged \\Deleted.

The stdlib does it (IMAPClient would parse more for us, but six commands are needed here);
imaplib reads capabilities only from the greeting, so they are asked for again after login.
Errors become MailUnavailable (try later) or MailRefused (this message will never go), saying
what failed and which PMBOT_* variable to check, and never the password.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.utils import getaddresses, make_msgid
from typing import TypeVar

from bot.mail.base import CheckResult, InboundMail, MailError, MailRefused, MailUnavailable
from bot.settings import ConfigError, Settings

SMTP = policy.compat32.clone(linesep="\r\n")  # what an SMTP server expects on the wire
log = logging.getLogger("pmbot.mail.imap")
T = TypeVar("T")

SECURITY = ("ssl", "starttls", "none")
PROCESSED = ("pmbot", "processed")
FETCH_BATCH = 25  # messages per UID FETCH: few round trips, and memory bounded by 25 messages
LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?P<sep>\\?.)"|NIL) (?P<name>.*)')
NAMESPACE = re.compile(rb'^\(\("(?P<prefix>[^"]*)" (?:"(?P<sep>\\?.)"|NIL)')
UID = re.compile(rb"UID (\d+)")


@dataclass(frozen=True)
class ImapConfig:
    host: str
    user: str
    password: str = field(repr=False)
    smtp_host: str
    mail_from: str  # the envelope sender, and the recipient of check()'s trial RCPT TO
    port: int = 993
    security: str = "ssl"
    folder: str = "INBOX"
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)  # None: system CAs
    smtp_idle_probe: float = 10.0  # a kept SMTP connection idle this long gets a NOOP first


@dataclass(frozen=True)
class _Endpoint:
    """One server, and how to say plainly why it could not be used."""

    service: str  # IMAP or SMTP, as in PMBOT_IMAP_*
    host: str
    port: int
    security: str
    timeout: float

    def __str__(self) -> str:
        return f"{self.service} server {self.host}:{self.port} ({self.security})"

    def unreachable(self, exc: BaseException, doing: str = "cannot connect") -> MailUnavailable:
        var = f"PMBOT_{self.service}"
        usual = {"IMAP": "993 for ssl, 143 for starttls", "SMTP": "465 for ssl, 587 for starttls"}
        check_security = f"check {var}_SECURITY suits {var}_PORT ({usual[self.service]})"
        if isinstance(exc, ConnectionRefusedError):
            reason, hint = "connection refused", f"check {var}_HOST, {var}_PORT and the server"
        elif isinstance(exc, socket.gaierror):
            reason, hint = f"host name {self.host!r} not found", f"check {var}_HOST"
        elif isinstance(exc, TimeoutError):
            reason = f"no answer within {self.timeout:g}s"
            hint = f"{check_security}, and that no firewall is in the way"
        elif isinstance(exc, ssl.SSLCertVerificationError):
            reason = f"its TLS certificate is not trusted ({exc.verify_message})"
            hint = f"{var}_HOST must be a name the certificate covers"
        elif isinstance(exc, ssl.SSLError):
            reason, hint = f"TLS failed ({exc.reason or exc})", check_security
        elif "tls" in str(exc).lower():  # how imaplib and smtplib say STARTTLS is not offered
            reason, hint = "the server does not offer STARTTLS", check_security
        else:
            reason, hint = _text(exc) or type(exc).__name__, f"check {var}_HOST and {var}_PORT"
        return MailUnavailable(f"{self}: {doing}: {reason}; {hint}")


class ImapBackend:
    """Replies from an IMAP folder, mail out by SMTP; see the module docstring."""

    def __init__(self, config: ImapConfig) -> None:
        c = self.config = config
        self.imap_server = _Endpoint("IMAP", c.host, c.port, c.security, c.timeout)
        self.smtp_server = _Endpoint("SMTP", c.smtp_host, c.smtp_port, c.smtp_security, c.timeout)
        self._imap: imaplib.IMAP4 | None = None
        self._capabilities: frozenset[str] = frozenset()
        self._uidvalidity = ""
        self._processed = ""  # the processed folder's name, once made sure of
        self._smtp: smtplib.SMTP | None = None
        self._smtp_used = 0.0
        self._imap_lock, self._smtp_lock = threading.RLock(), threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ImapBackend:
        return cls(config_from_env(settings.extra, settings.mail_from))

    # ------------------------------------------------------------------------------- reading

    def fetch(self) -> Iterator[InboundMail]:
        validity, uids = self._imap_call("while searching for unread mail", self._search_unseen)
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            for uid, raw in self._imap_call("while reading", self._fetch, batch, validity):
                yield InboundMail(key=f"{validity}:{uid}", raw=raw)

    def mark_done(self, mail: InboundMail) -> None:
        validity, _, uid = mail.key.partition(":")
        self._imap_call(f"while moving message {uid}", self._move_out, validity, uid)

    def _search_unseen(self, conn: imaplib.IMAP4) -> tuple[str, list[int]]:
        _ok(conn.noop())  # lets the server report mail that arrived since our last command
        data = _ok(conn.uid("SEARCH", "UNSEEN UNDELETED"))  # deleted: someone threw it away
        return self._uidvalidity, sorted(int(uid) for uid in b" ".join(data).split())

    def _fetch(
        self, conn: imaplib.IMAP4, uids: list[int], validity: str
    ) -> list[tuple[int, bytes]]:
        if validity != self._uidvalidity:  # reconnected to a rebuilt folder: UIDs mean others
            return []
        data = _ok(conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])"))
        found = {}
        for number, item in enumerate(data):
            if not isinstance(item, tuple):  # b")" closing a message, or an unasked-for FETCH
                continue
            # The UID comes before the literal ("UID 7 BODY[] {n}") or after it (" UID 7)").
            after = data[number + 1] if number + 1 < len(data) else b""
            uid = UID.search(item[0]) or UID.search(after if isinstance(after, bytes) else b"")
            if uid and int(uid[1]) in uids:
                found[int(uid[1])] = item[1]
        return sorted(found.items())

    def _move_out(self, conn: imaplib.IMAP4, validity: str, uid: str) -> None:
        if validity != self._uidvalidity:
            log.warning("%s was rebuilt: message %s is left for the next poll", self.config.folder,
                        uid)  # fmt: skip
            return
        if not self._processed:
            self._processed = self._ensure_processed(conn, self._capabilities)[0]
        target = _mailbox(self._processed)
        _ok(conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)"))
        if "MOVE" in self._capabilities:
            _ok(conn.uid("MOVE", uid, target))
            return
        _ok(conn.uid("COPY", uid, target))
        if "UIDPLUS" in self._capabilities:
            _ok(conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"))
            _ok(conn.uid("EXPUNGE", uid))  # this one UID only
        else:  # left in place, \Seen, so that fetch passes it over
            log.warning("%s has neither MOVE nor UIDPLUS: message %s was copied and left, read",
                        self.imap_server, uid)  # fmt: skip

    def _ensure_processed(
        self, conn: imaplib.IMAP4, capabilities: frozenset[str]
    ) -> tuple[str, bool]:
        """The processed folder's name on this server, and whether it had to be created."""
        prefix, separator = b"", None
        if "NAMESPACE" in capabilities:  # where personal folders go ("INBOX." on some)
            typ, data = conn.namespace()
            found = NAMESPACE.match(data[0] or b"") if typ == "OK" and data else None
            if found:
                prefix, separator = found["prefix"], found["sep"]
        if separator is None:
            root = LIST_LINE.match(_ok(conn.list('""', '""'))[0] or b"")
            separator = root["sep"] if root else None
        # A quoted backslash arrives as two characters; "-" stands in on a flat server.
        name = prefix.decode() + (separator.decode()[-1] if separator else "-").join(PROCESSED)
        created = not self._folder_exists(conn, name)
        if created:
            conn.create(_mailbox(name))  # a server that wants the parent first says NO here
            if not self._folder_exists(conn, name):
                conn.create(_mailbox(prefix.decode() + PROCESSED[0]))
                _ok(conn.create(_mailbox(name)))
            conn.subscribe(_mailbox(name))  # so that mail clients show it
        return name, created

    def _folder_exists(self, conn: imaplib.IMAP4, name: str) -> bool:
        lines = [LIST_LINE.match(line) for line in _ok(conn.list('""', _mailbox(name))) if line]
        return any(m and b"\\noselect" not in m["flags"].lower() for m in lines)

    # ---------------------------------------------------------------------- IMAP connection

    def _imap_call(self, what: str, action: Callable[..., T], *args) -> T:
        """`action(conn, *args)`; if the connection had dropped, reconnect and run it once more
        (every action here is safe to repeat)."""
        with self._imap_lock:
            for attempt in range(2):
                conn = self._connection()
                # imaplib keeps untagged replies (EXPUNGE, EXISTS...) until asked: over months of
                # polling that grows, and a stale FETCH reply would mix into the next FETCH.
                conn.untagged_responses.clear()
                try:
                    return action(conn, *args)
                except (imaplib.IMAP4.abort, OSError) as exc:
                    self._drop_imap()
                    if attempt:
                        raise self.imap_server.unreachable(exc, f"connection lost {what}") from exc
                    log.warning("%s dropped the connection (%s); reconnecting", self.imap_server,
                                exc)  # fmt: skip
                except imaplib.IMAP4.error as exc:
                    self._processed = ""  # in case someone deleted it: make sure of it again
                    raise MailUnavailable(
                        f"{self.imap_server} refused {what}: {_text(exc)}"
                    ) from exc
        raise AssertionError("not reached")

    def _connection(self) -> imaplib.IMAP4:
        if self._imap is None:
            conn = self._open_imap()
            try:
                self._capabilities = self._login_imap(conn)
                validity = self._select(conn)
            except MailError:
                _quietly(conn.shutdown)
                raise
            if self._uidvalidity and validity != self._uidvalidity:
                log.warning("UIDVALIDITY of %s changed: its messages are read again, and those "
                            "already stored are skipped", self.config.folder)  # fmt: skip
            self._imap, self._uidvalidity, self._processed = conn, validity, ""
        return self._imap

    def _open_imap(self) -> imaplib.IMAP4:
        c, conn = self.config, None
        context = c.ssl_context or ssl.create_default_context()
        try:
            if c.security == "ssl":
                return imaplib.IMAP4_SSL(c.host, c.port, ssl_context=context, timeout=c.timeout)
            conn = imaplib.IMAP4(c.host, c.port, timeout=c.timeout)
            if c.security == "starttls":
                conn.starttls(ssl_context=context)
            return conn
        except (OSError, imaplib.IMAP4.error) as exc:
            if conn is not None:
                _quietly(conn.shutdown)
            raise self.imap_server.unreachable(exc) from exc

    def _login_imap(self, conn: imaplib.IMAP4) -> frozenset[str]:
        """Log in; returns the capabilities the server offers now."""
        c = self.config
        try:
            if (c.user + c.password).isascii():
                conn.login(c.user, c.password)
            else:  # imaplib sends LOGIN as ASCII; AUTHENTICATE PLAIN carries UTF-8
                conn.authenticate("PLAIN", lambda _: f"\0{c.user}\0{c.password}".encode())
            data = _ok(conn.capability())
        except (imaplib.IMAP4.abort, OSError) as exc:
            raise self.imap_server.unreachable(exc, "connection lost logging in") from exc
        except imaplib.IMAP4.error as exc:
            raise MailUnavailable(
                f"{self.imap_server} refused the login as {c.user} ({_text(exc)}); "
                "check PMBOT_IMAP_USER and PMBOT_IMAP_PASSWORD"
            ) from exc
        return frozenset(b" ".join(d for d in data if d).decode().upper().split())

    def _select(self, conn: imaplib.IMAP4) -> str:
        """Open the folder; returns its UIDVALIDITY."""
        try:
            typ, data = conn.select(_mailbox(self.config.folder))
            validity = conn.response("UIDVALIDITY")[1][0]
        except (imaplib.IMAP4.error, OSError) as exc:
            raise self.imap_server.unreachable(exc, "connection lost opening the folder") from exc
        if typ != "OK":
            raise MailUnavailable(
                f"{self.imap_server} cannot open folder {self.config.folder!r} "
                f"({_text(data[-1])}); check PMBOT_IMAP_FOLDER"
            )
        return (validity or b"0").decode()

    def _drop_imap(self) -> None:
        if self._imap is not None:
            _quietly(self._imap.shutdown)
        self._imap = None

    # ------------------------------------------------------------------------------- sending

    def send(self, message: Message) -> str:
        if not message.get("Message-ID"):
            message["Message-ID"] = make_msgid(domain=self.config.mail_from.rpartition("@")[2])
        with self._smtp_lock:
            refused = self._send(message)
        if refused:  # others took it, so it went: it must not be sent again
            log.warning("%s refused some recipients: %s", self.smtp_server, refused)
        return str(message["Message-ID"])

    def _send(self, message: Message) -> dict:
        conn = self._smtp_connection()
        fields = [*message.get_all("To", []), *message.get_all("Cc", [])]
        recipients = [address for _, address in getaddresses(fields) if address]
        try:
            return conn.sendmail(self.config.mail_from, recipients, message.as_bytes(policy=SMTP))
        except smtplib.SMTPRecipientsRefused as exc:
            answers = exc.recipients.items()
            detail = "; ".join(f"{to}: {code} {_text(text)}" for to, (code, text) in answers)
            if answers and all(code < 500 for _, (code, _) in answers):  # 4xx: "try later"
                raise MailUnavailable(f"{self.smtp_server} deferred {detail}") from exc
            raise MailRefused(f"{self.smtp_server} refused every recipient: {detail}") from exc
        except smtplib.SMTPDataError as exc:
            problem = f"{self.smtp_server} refused the message: {exc.smtp_code} {_text(exc)}"
            raise (MailRefused if exc.smtp_code >= 500 else MailUnavailable)(problem) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise MailUnavailable(
                f"{self.smtp_server} refused the sender {exc.sender} ({exc.smtp_code} "
                f"{_text(exc)}); check that PMBOT_SMTP_USER may send as PMBOT_MAIL_FROM"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop_smtp()
            raise self.smtp_server.unreachable(exc, "connection lost sending") from exc
        finally:
            self._smtp_used = time.monotonic()

    def _smtp_connection(self) -> smtplib.SMTP:
        idle = time.monotonic() - self._smtp_used
        if self._smtp is not None and idle >= self.config.smtp_idle_probe:
            # Servers drop idle sessions (Postfix after 5 minutes): find out before sending.
            try:
                alive = self._smtp.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if not alive:
                self._drop_smtp()
        if self._smtp is None:
            conn = self._open_smtp()
            try:
                self._login_smtp(conn)
            except MailError:
                _quietly(conn.close)
                raise
            self._smtp = conn
        return self._smtp

    def _open_smtp(self) -> smtplib.SMTP:
        c, conn = self.config, None
        context = c.ssl_context or ssl.create_default_context()
        try:
            if c.smtp_security == "ssl":
                return smtplib.SMTP_SSL(c.smtp_host, c.smtp_port, timeout=c.timeout,
                                        context=context)  # fmt: skip
            conn = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout)
            if c.smtp_security == "starttls":
                conn.starttls(context=context)
            return conn
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                _quietly(conn.close)
            raise self.smtp_server.unreachable(exc) from exc

    def _login_smtp(self, conn: smtplib.SMTP) -> None:
        c = self.config
        if not c.smtp_user:
            return
        try:
            conn.login(c.smtp_user, c.smtp_password)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailUnavailable(
                f"{self.smtp_server} refused the login as {c.smtp_user} ({exc.smtp_code} "
                f"{_text(exc)}); check PMBOT_SMTP_USER and PMBOT_SMTP_PASSWORD"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailUnavailable(
                f"{self.smtp_server} offers no login (AUTH) here; check PMBOT_SMTP_SECURITY "
                "(many servers offer it only after STARTTLS), or unset PMBOT_SMTP_USER"
            ) from exc
        except UnicodeEncodeError as exc:  # smtplib encodes AUTH as ASCII
            raise MailUnavailable("PMBOT_SMTP_USER or PMBOT_SMTP_PASSWORD is not ASCII") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise self.smtp_server.unreachable(exc, "connection lost logging in") from exc

    def _drop_smtp(self) -> None:
        if self._smtp is not None:
            _quietly(self._smtp.close)
        self._smtp = None

    # -------------------------------------------------------------------------------- checks

    def check(self) -> list[CheckResult]:
        """Each step on fresh connections, in order until one fails; nothing is sent."""
        c, imap, smtp, capabilities = self.config, [], [], []

        def log_in() -> None:
            capabilities.append(self._login_imap(imap[0]))

        def open_folder() -> None:
            self._select(imap[0])

        def processed() -> str:
            try:
                name, created = self._ensure_processed(imap[0], capabilities[0])
            except (imaplib.IMAP4.error, OSError) as exc:
                raise MailUnavailable(f"{self.imap_server}: {_text(exc)}") from exc
            return f"created {name}" if created else f"{name} exists"

        def smtp_login() -> str:
            self._login_smtp(smtp[0])
            return "" if c.smtp_user else "PMBOT_SMTP_USER is not set: sending without a login"

        def may_send() -> None:
            # MAIL FROM and RCPT TO ourselves, then RSET: the server answers, nothing is sent.
            try:
                smtp[0].ehlo_or_helo_if_needed()
                for command in (smtp[0].mail, smtp[0].rcpt):
                    code, text = command(c.mail_from)
                    if code not in (250, 251):
                        raise MailUnavailable(
                            f"{self.smtp_server} answered {code} {_text(text)}; check that "
                            "PMBOT_SMTP_USER may send as PMBOT_MAIL_FROM"
                        )
                smtp[0].rset()
            except (smtplib.SMTPException, OSError) as exc:
                raise self.smtp_server.unreachable(exc, "connection lost trying to send") from exc

        try:
            return _steps(
                (f"reach {self.imap_server}", lambda: imap.append(self._open_imap())),
                (f"IMAP login as {c.user}", log_in),
                (f"IMAP folder {c.folder!r} exists", open_folder),
                ("the processed folder exists or can be created", processed),
            ) + _steps(
                (f"reach {self.smtp_server}", lambda: smtp.append(self._open_smtp())),
                (f"SMTP login as {c.smtp_user or '(none)'}", smtp_login),
                (f"SMTP accepts mail from {c.mail_from} (tried, then reset)", may_send),
            )
        finally:
            for conn in imap:
                _quietly(conn.logout)
            for conn in smtp:
                _quietly(conn.quit)

    def close(self) -> None:
        with self._imap_lock:
            if self._imap is not None:
                _quietly(self._imap.logout)
                self._imap = None
        with self._smtp_lock:
            if self._smtp is not None:
                _quietly(self._smtp.quit)
                self._smtp = None


def config_from_env(env: Mapping[str, str], mail_from: str) -> ImapConfig:
    """ImapConfig from PMBOT_IMAP_* and PMBOT_SMTP_*; ConfigError names what is missing."""

    def get(name: str, default: str | None = None, *, secret: bool = False) -> str:
        value = env.get(name, "") if secret else env.get(name, "").strip()  # spaces can count
        if not value and default is None:
            raise ConfigError(f"{name} is not set; PMBOT_MAIL_BACKEND=imap needs it")
        return value or default or ""

    def port(name: str, default: str) -> int:
        value = get(name, default)
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ConfigError(f"{name}={value!r} is not a port number")
        return int(value)

    def security(name: str, default: str) -> str:
        value = get(name, default).lower()
        if value not in SECURITY:
            raise ConfigError(f"{name}={value!r}: use one of {', '.join(SECURITY)}")
        return value

    folder = get("PMBOT_IMAP_FOLDER", "INBOX")
    if not folder.isascii():
        raise ConfigError(f"PMBOT_IMAP_FOLDER={folder!r}: only ASCII folder names are supported")
    smtp_user = get("PMBOT_SMTP_USER", "")
    smtp_password = get("PMBOT_SMTP_PASSWORD", "", secret=True)
    if smtp_user and not smtp_password:
        raise ConfigError("PMBOT_SMTP_PASSWORD is not set but PMBOT_SMTP_USER is; set both")
    return ImapConfig(
        host=get("PMBOT_IMAP_HOST"),
        port=port("PMBOT_IMAP_PORT", "993"),
        security=security("PMBOT_IMAP_SECURITY", "ssl"),
        user=get("PMBOT_IMAP_USER"),
        password=get("PMBOT_IMAP_PASSWORD", secret=True),
        folder=folder,
        smtp_host=get("PMBOT_SMTP_HOST"),
        smtp_port=port("PMBOT_SMTP_PORT", "587"),
        smtp_security=security("PMBOT_SMTP_SECURITY", "starttls"),
        smtp_user=smtp_user,
        smtp_password=smtp_password,
        mail_from=mail_from,
    )


def _steps(*steps: tuple[str, Callable[[], str | None]]) -> list[CheckResult]:
    """Run check steps in order until one fails; a step's returned text is its detail."""
    results = []
    for what, step in steps:
        try:
            detail = step()
        except MailError as exc:
            results.append(CheckResult(what, False, str(exc)))
            break
        results.append(CheckResult(what, True, detail or ""))
    return results


def _ok(response: tuple[str, list]) -> list:
    """The data of an imaplib response, or the server's complaint raised as IMAP4.error."""
    typ, data = response
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{typ} {_text(data[-1] if data else b'')}")
    return data


def _mailbox(name: str) -> str:
    """A folder name as an IMAP quoted string ('&' is the escape of modified UTF-7)."""
    name = name.replace("&", "&-").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}"'


def _text(value: object) -> str:
    """Server text from an exception or bytes, as one line."""
    if isinstance(value, BaseException):
        value = value.args[-1] if value.args else ""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return " ".join(str(value).split())


def _quietly(action: Callable[[], object]) -> None:
    """Close or log out, ignoring a connection that is already gone."""
    with contextlib.suppress(OSError, imaplib.IMAP4.error, smtplib.SMTPException):
        action()
