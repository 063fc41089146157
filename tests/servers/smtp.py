"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 that keeps what it is sent.

    with SmtpSink(tls=certificate, user="bot", password="secret") as sink:
        ...  # send to sink.port with STARTTLS and AUTH
        [message] = sink.messages

Also the two helpers every loopback server here needs: a free port, and a self-signed
certificate for 127.0.0.1 that a client trusts through `TestCertificate.client_context()`.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A TCP port nobody listens on now (aiosmtpd cannot take port 0: its readiness check
    connects to the port it was given)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class TestCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost, as PEM files."""

    __test__ = False  # not a pytest test class, despite the name
    cert: Path
    key: Path

    @classmethod
    def create(cls, folder: Path) -> TestCertificate:
        # cryptography comes with exchangelib (through requests_ntlm), so no openssl CLI is needed.
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        paths = cls(folder / "cert.pem", folder / "key.pem")
        paths.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        paths.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths.key.chmod(0o600)
        return paths

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a client passes to trust this certificate (hostname checks stay on)."""
        return ssl.create_default_context(cafile=str(self.cert))


@dataclass
class _Handler:
    """aiosmtpd handler: keep every message; refuse the recipients we were told to."""

    refuse: set[str]
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1: plain, STARTTLS (`tls=`) or implicit TLS (`implicit_tls=True`),
    with AUTH when `user` is given. `refuse` lists recipients answered with 550."""

    def __init__(
        self,
        *,
        port: int | None = None,
        tls: TestCertificate | None = None,
        implicit_tls: bool = False,
        user: str | None = None,
        password: str | None = None,
        refuse: tuple[str, ...] = (),
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.user, self.password = user, password
        self._handler = _Handler({address.lower() for address in refuse})
        options: dict = {}
        if tls and implicit_tls:
            options["ssl_context"] = tls.server_context()
        elif tls:
            options.update(tls_context=tls.server_context(), require_starttls=True)
        if user is not None:
            options.update(
                authenticator=self._authenticate,
                # AUTH only after STARTTLS, as real servers do; aiosmtpd does not count
                # implicit TLS as TLS here, so it must not insist then.
                auth_require_tls=tls is not None and not implicit_tls,
            )
        self._options = options
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self._handler.messages

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) of every message received."""
        return self._handler.envelopes

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpSink:
        """Listen (again) on the same port; what was received is kept."""
        # A Controller cannot be started twice (its event loop is closed on stop).
        self._controller = Controller(
            self._handler, hostname=self.host, port=self.port, **self._options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
