"""Hostile HTTP clients against `pmbot serve`'s endpoint (/healthz and /slack/events). Run by
hand:

    .venv/bin/python bench/http_edge.py [--idle 1000] [--malformed 1000]

Opens `--idle` connections that send nothing, and reports the server's threads while they are
open and how long /healthz takes to answer meanwhile; then sends `--malformed` requests with a
bad Content-Length and counts the log lines they cause.
"""

from __future__ import annotations

import argparse
import io
import logging
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import App  # noqa: E402

from bot.slack.server import SlackHttpServer  # noqa: E402


def request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--malformed", type=int, default=1000)
    args = parser.parse_args()
    log = io.StringIO()
    logging.basicConfig(stream=log, level=logging.INFO, force=True)  # as `pmbot serve` logs
    app = App(signing_secret="x" * 32, token="xoxb-bench", token_verification_enabled=False)
    server = SlackHttpServer(app, lambda: {"status": "ok"}, host="127.0.0.1", port=0).start()
    threads_before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(args.idle)]
    time.sleep(0.5)  # let the server accept them all (a benchmark, not a test)
    started = time.perf_counter()
    answer = request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    took = time.perf_counter() - started
    first = answer.split(b"\r\n")[0].decode()
    threads = threading.active_count() - threads_before
    print(f"{args.idle} idle connections: {threads} server threads; /healthz: '{first}'", end="")
    print(f" in {took:.3f} s")
    for conn in idle:
        conn.close()
    lines_before = len(log.getvalue().splitlines())
    statuses: dict[str, int] = {}
    for n in range(args.malformed):
        length = ["abc", "-5", "1e3", "99999999999999999999", "1 0"][n % 5]
        head = f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        answer = request(server.port, (head + "Connection: close\r\n\r\n").encode())
        status = answer.split(b"\r\n")[0].decode()
        statuses[status] = statuses.get(status, 0) + 1
    tracebacks = log.getvalue().count("Traceback")
    lines = len(log.getvalue().splitlines()) - lines_before
    print(f"{args.malformed} bad Content-Length requests: {statuses}; {lines} log lines,")
    print(f"{tracebacks} tracebacks")
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
