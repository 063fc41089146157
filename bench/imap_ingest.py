"""Benchmark: 1,000 email replies APPENDed to a real Dovecot inbox, then time one
`bot.poll_mail()` over them through the IMAP backend, confirmations going to a real SMTP server.

Run by hand (needs Dovecot: apt-get install -y --no-install-recommends dovecot-imapd):

    .venv/bin/python bench/imap_ingest.py [--replies 1000] [--tls] [--no-fsync]

The replies are the ones bench/ingest.py builds (every measure answered, one line in ten
refused, one reply in twenty an out-of-office). Dovecot runs in its own processes and the SMTP
sink (aiosmtpd) in a child process, so neither's CPU time is counted as pmbot's. The backend is
built from PMBOT_* variables, as `pmbot serve` builds it. `--tls` uses STARTTLS both ways;
`--no-fsync` stops Dovecot syncing each delivery and move to disk, which on a slow disk is most
of the time a poll takes, to show what pmbot itself costs.
"""

from __future__ import annotations

import argparse
import mailbox
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from ingest import build_inbox  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.mail.imap import ImapBackend  # noqa: E402
from bot.periods import LONDON  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.servers.dovecot import INSTALL_HINT, Dovecot, find_dovecot  # noqa: E402
from tests.servers.smtp import SmtpSink, TestCertificate  # noqa: E402

POLL_TIME = datetime(2026, 11, 4, 11, 0, tzinfo=LONDON)


def serve_smtp(tls: TestCertificate | None, conn: Connection) -> None:
    """In the child: run the sink until told to stop, then say how many messages it took."""
    with SmtpSink(tls=tls) as sink:
        conn.send(sink.port)
        conn.recv()
        conn.send(len(sink.messages))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--tls", action="store_true", help="STARTTLS to IMAP and SMTP")
    parser.add_argument("--no-fsync", action="store_true", help="Dovecot: mail_fsync = never")
    args = parser.parse_args()
    if find_dovecot() is None:
        sys.exit(INSTALL_HINT)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = build_inbox(workdir, args.replies)  # prompts in the database, replies in a Maildir
        certificate = TestCertificate.create(workdir / "tls") if args.tls else None
        # Forked before any thread exists (aiosmtpd runs its loop in one).
        conn, child_conn = multiprocessing.Pipe()
        context = multiprocessing.get_context("fork")
        smtp = context.Process(target=serve_smtp, args=(certificate, child_conn), daemon=True)
        smtp.start()
        smtp_port = conn.recv()
        fsync = {"mail_fsync": "never"} if args.no_fsync else {}
        dovecot = Dovecot(workdir / "dovecot", tls=certificate, settings=fsync).start()
        try:
            account = dovecot.add_user("pmbot@agency.example")
            inbox = mailbox.Maildir(workdir / "mail" / "inbox", factory=None)
            started = time.perf_counter()
            with dovecot.client(account) as client:
                for key in inbox.iterkeys():
                    client.append(inbox.get_bytes(key))
            print(f"APPENDed {args.replies} replies to Dovecot in "
                  f"{time.perf_counter() - started:.1f}s")  # fmt: skip

            security = "starttls" if args.tls else "none"
            extra = {
                "PMBOT_MAIL_BACKEND": "imap", "PMBOT_IMAP_HOST": dovecot.host,
                "PMBOT_IMAP_PORT": str(dovecot.port), "PMBOT_IMAP_SECURITY": security,
                "PMBOT_IMAP_USER": account.user, "PMBOT_IMAP_PASSWORD": account.password,
                "PMBOT_SMTP_HOST": "127.0.0.1", "PMBOT_SMTP_PORT": str(smtp_port),
                "PMBOT_SMTP_SECURITY": security,
            }  # fmt: skip
            settings = replace(Settings.from_env({**env, **extra}), db_path=Path(env["PMBOT_DB"]))
            backend = ImapBackend.from_settings(settings)
            if certificate:  # trust the test certificate, as a real deployment trusts its CA
                backend = ImapBackend(
                    replace(backend.config, ssl_context=certificate.client_context())
                )
            bot = create_app(settings, clock=lambda: POLL_TIME, mail=backend)
            started = time.perf_counter()
            results = bot.poll_mail().results
            elapsed = time.perf_counter() - started
            bot.close()
            with dovecot.client(account) as client:
                left = len(client.search("ALL"))
                processed = len(client.search("SEEN", "pmbot.processed"))
        finally:
            dovecot.stop()
            conn.send("stop")
            received = conn.recv()
            smtp.join()
        outcomes = Counter(r.outcome for r in results)
        print(f"outcomes: {dict(outcomes)}; Dovecot: {processed} in pmbot.processed (read), "
              f"{left} left in the inbox; SMTP: {received} received")  # fmt: skip
        how = security + (", Dovecot without fsync" if args.no_fsync else "")
        print(f"bot.poll_mail() over IMAP ({how}): {len(results)} replies in {elapsed:.2f}s"
              f" = {len(results) / elapsed:.0f} replies/s")  # fmt: skip


if __name__ == "__main__":
    main()
