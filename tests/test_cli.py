"""The pmbot command line: help everywhere, one-line errors, the JSON shape scripts rely on."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from bot.app import create_app
from bot.cli import build_parser, main
from bot.periods import LONDON
from bot.settings import PROJECT_ROOT, Settings

SAMPLE_REGISTER = str(PROJECT_ROOT / "data" / "measures.yaml")
SAMPLE_HISTORY = str(PROJECT_ROOT / "data" / "history.csv")


def all_commands(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from all_commands(sub, (*path, name))


def test_every_command_has_help_text():
    commands = list(all_commands(build_parser()))
    assert len(commands) >= 14
    for path, sub in commands:
        assert sub.description, f"pmbot {' '.join(path)} has no help text"


def test_help_works_on_every_command(capsys):
    for path, _ in all_commands(build_parser()):
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0
        assert "usage: pmbot" in capsys.readouterr().out


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # keep .env and data/ of the checkout out of it
    for name in list(os.environ):
        if name.startswith(("PMBOT_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PMBOT_MAILDIR", str(tmp_path / "mail"))
    return str(tmp_path / "cli.db")


def run(db, *args, now="2026-11-09T10:00"):
    return main(["--db", db, "--now", now, *args])


def test_a_whole_cycle_from_the_command_line(db, capsys):
    assert run(db, "init") == 0
    assert run(db, "measures", "import", SAMPLE_REGISTER) == 0
    assert run(db, "history", "import", SAMPLE_HISTORY) == 0
    assert run(db, "prompts", "send", "2026-10", now="2026-11-02T09:00") == 0
    assert "prompts sent for 2026-10" in capsys.readouterr().out
    assert run(db, "submit", "OD-01", "2026-10", "52", "--comment", "steady",
               "--as", "fiona.macleod@agency.example") == 0  # fmt: skip
    assert "OD-01 2026-10: 52 days stored (green)" in capsys.readouterr().out
    assert run(db, "status", "2026-10", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    od01 = next(m for m in status["measures"] if m["id"] == "OD-01")
    assert od01["value"] == 52 and od01["channel"] == "cli" and od01["revisions"] == 1
    assert {"id", "name", "area", "owner_email", "value", "status", "revisions",
            "submitted_by", "submitted_at", "channel", "commentary"} <= set(od01)  # fmt: skip
    assert run(db, "exceptions", "2026-10", "--json") == 0
    exceptions = json.loads(capsys.readouterr().out)["exceptions"]
    missing = [e for e in exceptions if e["status"] == "missing"]
    assert len(missing) == 26 and all(e["exception_reasons"] == ["missing"] for e in missing)
    assert all(e["exception_reasons"] for e in exceptions)
    assert run(db, "measures", "list", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["measures"]) == 32


def test_a_bad_value_is_one_line_and_a_non_zero_exit(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    capsys.readouterr()
    owner = "ailsa.henderson@agency.example"
    assert run(db, "submit", "OD-03", "2026-10", "140%", "--as", owner) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "above 100%" in err and "Traceback" not in err


def test_a_bad_register_lists_its_problems_without_a_traceback(db, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,area,unit,better,target,owner_email\nOD-01,x,y,furlongs,up,abc,nobody\n")
    assert run(db, "measures", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert "nothing imported" in err and "row 1, unit" in err and "row 1, target" in err
    assert "Traceback" not in err


def test_user_errors_never_show_a_traceback(db, capsys):
    for args in (
        ["measures", "import", "no-such-file.yaml"],
        ["status", "2026-13"],
        ["--now", "yesterday", "status"],
    ):
        assert main(["--db", db, *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("pmbot: ") and "Traceback" not in err


def test_the_database_path_comes_from_pmbot_db(db, monkeypatch, tmp_path):
    monkeypatch.setenv("PMBOT_DB", str(tmp_path / "from-env.db"))
    assert main(["init"]) == 0
    assert (tmp_path / "from-env.db").exists()


def test_the_demo_runs_a_whole_cycle_in_a_fresh_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PMBOT_")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("REFUSED '140%' is above 100%", "ignored", "not in the register",
                     "correction", "no figure by the due date", "not available",
                     "performance-pack-2026-10.html"):  # fmt: skip
        assert expected in out
    assert (tmp_path / "demo" / "pmbot.db").exists()
    assert list((tmp_path / "demo" / "mail" / "outbox" / "new").iterdir())


def test_the_reporting_calendar_comes_from_configuration(db, monkeypatch, capsys):
    monkeypatch.setenv("PMBOT_DUE_DAY", "7")
    monkeypatch.setenv("PMBOT_REMINDER_DAYS", "1")
    monkeypatch.setenv("PMBOT_SIGNOFF_DAY", "9")
    monkeypatch.setenv("PMBOT_DIGEST_DAY", "10")
    assert main(["--db", db, "calendar", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "Tue 10 Nov 2026  due" in out and "Mon 09 Nov 2026  reminder 1" in out
    assert "Thu 12 Nov 2026  sign-off" in out and "Fri 13 Nov 2026  digest" in out


def test_a_calendar_that_escalates_too_late_to_help_is_refused(db, monkeypatch, capsys):
    monkeypatch.setenv("PMBOT_ESCALATION_DAYS", "3")
    assert main(["--db", db, "calendar"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "escalation on working day 8 leaves less than 2 working days before the digest" in err


def test_a_bad_calendar_setting_names_the_variable(db, monkeypatch, capsys):
    monkeypatch.setenv("PMBOT_QUIET_HOURS", "night")
    assert main(["--db", db, "calendar"]) == 1
    assert "PMBOT_QUIET_HOURS='night' must look like 18:00-08:00" in capsys.readouterr().err


def test_mail_inbound_shows_why_each_reply_was_or_was_not_taken(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    app = create_app(Settings.from_env().with_db(db))
    app.store.record_inbound(message_id="<1@x>", channel="email", sender="a@x", subject="RE",
                             received_at=datetime(2026, 11, 3, 9, tzinfo=LONDON),
                             outcome="rejected", reason="a@x is not in the register")  # fmt: skip
    app.close()
    capsys.readouterr()
    assert run(db, "mail", "inbound", "--json") == 0
    [row] = json.loads(capsys.readouterr().out)["inbound"]
    assert (row["outcome"], row["reason"]) == ("rejected", "a@x is not in the register")


# -- who typed it, silences, sign-off, the process, the audit trail --------------------------

COORDINATOR = "rachel.thomson@agency.example"


def test_submit_refuses_to_guess_who_typed_the_figure(db, capsys, monkeypatch):
    run(db, "measures", "import", SAMPLE_REGISTER)
    capsys.readouterr()
    monkeypatch.delenv("PMBOT_OPERATOR", raising=False)
    assert run(db, "submit", "OD-01", "2026-10", "52") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--as YOUR-EMAIL, or set PMBOT_OPERATOR" in err


def test_a_coordinator_entering_a_figure_is_recorded_as_who_typed_it(db, capsys, monkeypatch):
    run(db, "measures", "import", SAMPLE_REGISTER)
    monkeypatch.setenv("PMBOT_OPERATOR", COORDINATOR)
    assert run(db, "submit", "OD-01", "2026-10", "52") == 0
    capsys.readouterr()
    assert run(db, "history", "show", "OD-01", "2026-10") == 0
    out = capsys.readouterr().out
    assert f"52  by {COORDINATOR} via cli" in out


def test_mute_silences_a_measure_until_its_end_and_lists_it(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    assert run(db, "mute", "OD-03", "until", "2026-11-30", "finance", "system", "replaced",
               "--as", COORDINATOR) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "OD-03 silenced until Mon 30 Nov 2026: finance system replaced" in out
    assert run(db, "mute", "--list") == 0
    assert "OD-03" in capsys.readouterr().out
    assert run(db, "status", "2026-10", "--json") == 0
    od03 = next(m for m in json.loads(capsys.readouterr().out)["measures"] if m["id"] == "OD-03")
    assert od03["silence"] == "finance system replaced"
    assert run(db, "mute", "--list", now="2026-12-01T10:00") == 0
    assert "0 measures silenced now" in capsys.readouterr().out


def test_a_mute_without_a_reason_is_one_line_and_nothing_stored(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    capsys.readouterr()
    assert run(db, "mute", "OD-03", "2026-10", "--as", COORDINATOR) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "say why it is silenced" in err
    assert run(db, "mute", "OD-03", "until", "soon", "x", "--as", COORDINATOR) == 1
    assert "is not a date like 2026-12-31" in capsys.readouterr().err
    run(db, "mute", "--list", "--all")
    assert "0 measures silenced now" in capsys.readouterr().out


def test_signoff_from_the_command_line_is_for_the_approver_only(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    capsys.readouterr()
    area = "Operational delivery"
    assert run(db, "signoff", area, "APPROVE", "--period", "2026-10", "--as", COORDINATOR) == 1
    assert "only its approver (fiona.macleod@agency.example)" in capsys.readouterr().err
    assert run(db, "signoff", area, "APPROVE", "--period", "2026-10",
               "--as", "fiona.macleod@agency.example") == 0  # fmt: skip
    assert "signed off by fiona.macleod@agency.example" in capsys.readouterr().out
    assert run(db, "signoff", "--period", "2026-10") == 0
    out = capsys.readouterr().out
    assert f"signed off   {area}" in out and "awaiting     Benefit take-up" in out


def test_process_on_a_database_without_cycles_says_so_plainly(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    capsys.readouterr()
    assert run(db, "process", "2026") == 0
    assert "Reporting process, 2026:" in capsys.readouterr().out
    assert run(db, "process", "2026-13") == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_history_show_for_an_unknown_measure_is_one_line(db, capsys):
    run(db, "measures", "import", SAMPLE_REGISTER)
    capsys.readouterr()
    assert run(db, "history", "show", "XX-99") == 1
    assert "XX-99 is not a measure in the register" in capsys.readouterr().err
