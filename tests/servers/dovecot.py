"""A real Dovecot IMAP server on 127.0.0.1 for tests and benchmarks (reference email.md §3.1).

    server = Dovecot(tmp_path / "dovecot", tls=certificate).start()
    account = server.add_user()
    with server.client(account) as imap:
        imap.append(message)
    server.stop()

Each server writes its own dovecot.conf in its folder and touches nothing outside it. It runs
as root (mail owned by nobody, as Dovecot refuses uid 0) or as an ordinary user (everything
owned by that user). The config is Dovecot 2.3 syntax (Debian 12); 2.4 rejects it.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path

from tests.servers.smtp import TestCertificate, free_port

INSTALL_HINT = "Dovecot is not installed: apt-get install -y --no-install-recommends dovecot-imapd"
NOBODY = 65534
LIST_LINE = re.compile(r'\((?P<flags>[^)]*)\) (?P<separator>"[^"]*"|NIL) (?P<name>.*)')


def find_dovecot() -> str | None:
    """The dovecot binary, also when /usr/sbin is not on an ordinary user's PATH."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


@dataclass(frozen=True)
class ImapAccount:
    user: str
    password: str


class Dovecot:
    """One Dovecot instance. `tls` adds STARTTLS on `port` and implicit TLS on `tls_port`;
    `capabilities` overrides what it advertises after login (to play an older server);
    `separator` sets the hierarchy delimiter (Dovecot's Maildir++ default is ".") and `prefix`
    where personal folders live ("INBOX/" as on Courier; Dovecot's default is none); `settings`
    adds any other dovecot.conf lines, e.g. {"mail_fsync": "never"}."""

    _users = itertools.count(1)

    def __init__(
        self,
        folder: Path,
        *,
        tls: TestCertificate | None = None,
        capabilities: str | None = None,
        separator: str | None = None,
        prefix: str = "",
        settings: dict[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.tls = tls
        self.capabilities = capabilities
        self.separator = separator
        self.prefix = prefix
        self.settings = settings or {}
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "dovecot.log"

    # ------------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> Dovecot:
        binary = find_dovecot()
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        for sub in ("run", "state", "mail"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.folder / "mail", NOBODY, NOBODY)
            _let_others_pass(self.folder)
        config = self.folder / "dovecot.conf"
        config.write_text(self._config())
        with self.log.open("ab") as log:
            # -F keeps it in the foreground, so the PID we hold is the master's.
            # Its own session, so that stop() can reach every process it forks and no other.
            self.process = subprocess.Popen(
                [binary, "-F", "-c", str(config)], stderr=log, start_new_session=True
            )
        self._wait_for_ports(timeout)
        return self

    def stop(self) -> None:
        """SIGTERM to the master and every process it started (its process group): the master
        alone leaves running sessions serving their clients. SIGKILL only if it hangs."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def _wait_for_ports(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.port, self.tls_port) if p]
        while ports:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log.read_text()}")
            try:
                socket.create_connection((self.host, ports[0]), timeout=0.5).close()
                ports.pop(0)
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"dovecot did not listen on {self.host}:{ports[0]} in {timeout}s:\n"
                        f"{self.log.read_text()}"
                    ) from None
                time.sleep(0.01)  # readiness polling only; a cold start takes about 50 ms

    def _config(self) -> str:
        root = self.folder
        if os.geteuid() == 0:
            uid = gid = NOBODY
            identity = ""
        else:
            # Without root Dovecot can neither chroot nor switch users: run it all as us.
            uid, gid = os.getuid(), os.getgid()
            me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            identity = (
                f"default_internal_user = {me}\ndefault_login_user = {me}\n"
                f"default_internal_group = {group}\n"
            )
        lines = [
            "protocols = imap",
            f"listen = {self.host}",
            f"base_dir = {root}/run",
            f"state_dir = {root}/state",
            f"log_path = {self.log}",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",  # the default 2 s would slow every bad-password test
            "mail_location = maildir:~/Maildir",
            "first_valid_uid = 1",
            # Every user exists, with the password "pw-" + user name: a new mailbox per test
            # and no users file (Dovecot re-reads one at most once a second).
            "passdb {\n  driver = static\n  args = password=pw-%u\n}",
            f"userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root}/mail/%u\n}}",
            identity,
        ]
        if self.tls:
            lines += ["ssl = yes", f"ssl_cert = <{self.tls.cert}", f"ssl_key = <{self.tls.key}"]
        else:
            lines.append("ssl = no")
        lines += [f"{name} = {value}" for name, value in self.settings.items()]
        if self.capabilities is not None:
            lines.append(f"imap_capability = {self.capabilities}")
        if self.separator or self.prefix:
            lines.append(
                f"namespace inbox {{\n  inbox = yes\n  separator = {self.separator or '.'}\n"
                f"  prefix = {self.prefix}\n}}"
            )
        chroot = "  chroot =\n" if identity else ""
        # No "auth penalty" (a login from an IP that just failed one waits up to 15 s): the
        # wrong-password tests would slow every test after them. Closing its socket is the way.
        lines.append(
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n"
            f"{chroot}}}"
        )
        imaps = f"  inet_listener imaps {{\n    port = {self.tls_port or 0}\n  }}\n"
        lines.append(
            "service imap-login {\n"
            f"  inet_listener imap {{\n    address = {self.host}\n    port = {self.port}\n  }}\n"
            f"{imaps}{chroot}}}"
        )
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------------ accounts

    def add_user(self, name: str | None = None) -> ImapAccount:
        """A new, empty mailbox (every name logs in with "pw-" + name)."""
        name = name or f"bot{next(self._users)}@agency.example"
        return ImapAccount(name, f"pw-{name}")

    def client(self, account: ImapAccount) -> ImapTestClient:
        return ImapTestClient(self.host, self.port, account)


class ImapTestClient:
    """What a person or another mail client does to the mailbox while the bot works on it."""

    def __init__(self, host: str, port: int, account: ImapAccount) -> None:
        self.imap = imaplib.IMAP4(host, port, timeout=10)
        self.imap.login(account.user, account.password)

    def __enter__(self) -> ImapTestClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.imap.logout()

    def _ok(self, response: tuple[str, list]) -> list:
        typ, data = response
        assert typ == "OK", f"IMAP said {typ}: {data}"
        return data

    def append(self, message: Message | bytes, folder: str = "INBOX", flags: str = "") -> None:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        self._ok(self.imap.append(_quote(folder), f"({flags})" if flags else None, None, raw))

    def select(self, folder: str = "INBOX") -> int:
        """Open `folder`; returns its UIDVALIDITY."""
        self._ok(self.imap.select(_quote(folder)))
        return int(self.imap.response("UIDVALIDITY")[1][0])

    def search(self, criteria: str = "ALL", folder: str = "INBOX") -> list[int]:
        """UIDs in `folder` that match, e.g. "UNSEEN" or "DELETED"."""
        self.select(folder)
        return [int(uid) for uid in self._ok(self.imap.uid("SEARCH", criteria))[0].split()]

    def messages(self, folder: str = "INBOX") -> list[tuple[set[str], EmailMessage]]:
        """(flags, message) of everything in `folder`, read without setting \\Seen."""
        found = []
        for uid in self.search("ALL", folder):
            data = self._ok(self.imap.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])"))
            head, raw = data[0]
            flags = set(imaplib.ParseFlags(head)) if b"FLAGS" in head else set()
            message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
            # \Recent only says this session is the first to see it: not worth comparing.
            found.append(({f.decode() for f in flags} - {"\\Recent"}, message))
        return found

    def store(self, uid: int, flags: str, folder: str = "INBOX") -> None:
        self.select(folder)
        self._ok(self.imap.uid("STORE", str(uid), "+FLAGS", f"({flags})"))

    def folders(self) -> list[str]:
        # (\HasNoChildren) "." pmbot.processed   or   (\HasChildren) "/" "Sent Items"
        lines = [LIST_LINE.match(line.decode()) for line in self._ok(self.imap.list())]
        return [match["name"].strip('"') for match in lines if match]

    def create(self, folder: str) -> None:
        self._ok(self.imap.create(_quote(folder)))

    def delete(self, folder: str) -> None:
        self.imap.select("INBOX")  # a folder cannot be deleted while it is selected
        self._ok(self.imap.delete(_quote(folder)))


def _let_others_pass(folder: Path) -> None:
    """Add o+x (pass through, not list) to our temporary folders above `folder`: Dovecot's mail
    process runs as nobody and must reach the Maildir, and pytest makes its folders 0700."""
    top = Path(tempfile.gettempdir()).resolve()
    for path in [folder.resolve(), *folder.resolve().parents]:
        if path == top or top not in path.parents:
            break
        path.chmod(path.stat().st_mode | 0o001)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
