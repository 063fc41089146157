"""`pmbot serve` as a process: health on $PORT, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import DATA


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(port: int, deadline: float) -> dict:
    """Poll /healthz until both parts have reported (the server is starting up)."""
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                health = json.load(reply)
            if all(p["state"] != "starting" for p in health["parts"].values()):
                return health
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("pmbot serve did not report healthy in time")
        time.sleep(0.05)  # waiting for another process to start, not for the clock


def test_serve_reports_each_part_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PMBOT_DB": str(tmp_path / "p.db"),
           "PMBOT_MAILDIR": str(tmp_path / "mail"), "PMBOT_POLL_SECONDS": "1"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "bot.cli", "measures", "import",
                    str(DATA / "measures.yaml")], env=env, check=True, cwd=tmp_path,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        health = wait_for_health(port, time.monotonic() + 30)
        assert set(health["parts"]) == {"mail", "scheduler"}
        assert health["parts"]["mail"]["state"] == "ok"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    output = server.stdout.read().decode().splitlines()
    logs = [json.loads(line) for line in output if line.startswith("{")]
    assert any("finishing the current work" in entry["message"] for entry in logs)
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in logs)
