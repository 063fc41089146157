"""Bounded fuzz run: hostile and unlucky replies, registers and history files, through the real
Maildir poll and the real importers. Not part of the test suite; run by hand:

    .venv/bin/python bench/fuzz_inbound.py [--replies 10000] [--files 1000] [--seed 13]

Counted per class of input:
  crashed  the poll raised, or a message hit a bug (quarantined as "pmbot failed on it"), or an
           import raised anything but ImportRejected, or took longer than 5 seconds;
  wrong    a stored value differs from what the sender typed (or a quoted, spoofed, automatic
           or ambiguous figure was stored at all);
  lost     a good figure from its owner was not stored.
Every reply is built with the values its sender meant, so "wrong" is checked, not guessed.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import create_app  # noqa: E402
from bot.measures import ImportRejected  # noqa: E402
from bot.periods import LONDON  # noqa: E402
from bot.settings import Settings  # noqa: E402

OWNER, BOT = "owner@agency.example", "pmbot@agency.example"
REGISTER = """measures:
""" + "".join(
    f"""  - {{id: {mid}, name: {name}, area: Fuzz, unit: "{unit}", better: neutral,
      target: {target}, owner_email: {OWNER}}}
"""
    for mid, name, unit, target in [
        ("FZ-01", "Cases", "count", 10),
        ("FZ-02", "Share", "%", 50),
        ("FZ-03", "Spend", "£", 1000),
        ("FZ-04", "Wait", "days", 5),
        ("FZ-05", "Index", "score", 3),
    ]
)
UNITS = {"FZ-01": "count", "FZ-02": "%", "FZ-03": "£", "FZ-04": "days", "FZ-05": "score"}
SPACES = [",", " ", "\u00a0", "\u202f"]
# Every figure has commentary: a red one without it is refused, rightly, and would count as lost.
COMMENTS = [" - up on last month", " (two new starters)", ", steady", " – after the audit",
            " because of the outage"]  # fmt: skip


@dataclass
class Case:
    kind: str
    message_id: str
    expected: dict[str, float | None] = field(default_factory=dict)  # None: must not be stored
    good: bool = False  # every expected figure must be stored


def grouped(number: int, rng: random.Random) -> str:
    separator = rng.choice(SPACES + [""])
    return f"{number:,}".replace(",", separator) if separator else str(number)


def typed(measure_id: str, rng: random.Random) -> tuple[str, float | None]:
    """What an owner types for a measure, and the value they mean (None: ambiguous, refuse)."""
    unit = UNITS[measure_id]
    if unit == "count":
        n = rng.choice([rng.randint(0, 999), rng.randint(1000, 10**8)])
        if n % 1000 == 0 and n and rng.random() < 0.3:
            return f"{n // 1000}k", n
        return grouped(n, rng), n
    if unit == "%":
        value = round(rng.uniform(0, 100), rng.choice([0, 1]))
        return f"{value:g}" + rng.choice(["", "%", " %"]), value
    if unit == "£":
        pence = rng.randint(0, 10**9)
        return "£" * rng.randint(
            0, 1
        ) + f"{grouped(pence // 100, rng)}.{pence % 100:02d}", pence / 100
    if unit == "days":
        value = rng.randint(0, 400)
        return f"{value}" + rng.choice(["", " days", "d"]), value
    value = round(rng.uniform(-50, 50), 1)
    return f"{value:g}", value


def figures(rng: random.Random) -> tuple[list[str], dict[str, float | None]]:
    lines, expected = [], {}
    for measure_id in rng.sample(sorted(UNITS), rng.randint(1, 5)):
        text, value = typed(measure_id, rng)
        comment = rng.choice(COMMENTS)
        if re.fullmatch(r"[0-9]{1,3}[ \u00a0\u202f][1-9][0-9]{2}", text) and comment[1].isalpha():
            value = None  # '1 234 because': 1234, or 1 and '234 because'? refused, rightly
        if rng.random() < 0.05:  # a number straight after the value: ambiguous, refused
            comment, value = f" {rng.randint(1, 99)} staff off", None
        bullet, colon = rng.choice(["", "- ", "* "]), rng.choice([": ", ":", " = ", " - "])
        lines.append(f"{bullet}{measure_id}{colon}{text}{comment}")
        expected[measure_id] = value
    return lines, expected


QUOTES = {
    "angle": lambda old: (
        "On Mon, 3 Nov 2026 at 09:12, pmbot <pmbot@agency.example> wrote:\n> " + old
    ),
    "outlook": lambda old: (
        "From: pmbot <pmbot@agency.example>\nSent: 03 November 2026 09:12\n"
        "To: Olive\nSubject: figures\n\n" + old
    ),
    "zoho": lambda old: (
        "---- On Mon, 03 Nov 2026 09:12:00 +0000 pmbot <b@x.example> wrote ----\n\n" + old
    ),
    "bold": lambda old: "*-----Original Message-----*\n*From:* pmbot\n\n" + old,
    "lotus": lambda old: "pmbot/Performance/Agency wrote on 03/11/2026 09:12:00:\n\n    " + old,
    "bare": lambda old: "pmbot wrote:\n\t" + old,
    "gmail4": lambda old: (
        "On Mon, 3 Nov 2026 at 09:12, Performance\nManagement Bot <\n"
        "pmbot@agency.example>\nwrote:\n\n> " + old
    ),
}


def message(case_id: str, body: str, *, sender: str = OWNER, html: str | None = None,
            headers: dict[str, str] | None = None) -> EmailMessage:  # fmt: skip
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, BOT, "RE: Performance figures"
    msg["Message-ID"] = case_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def build(rng: random.Random, n: int) -> tuple[Case, bytes | EmailMessage]:
    mid = make_msgid(idstring=f"f{n}", domain="fuzz.example")
    kind = rng.choices(
        ["figures", "quoted", "html-quoted", "spoofed", "automatic", "poison-header",
         "deep-mime", "garbage", "line-bomb", "duplicate-figure"],
        weights=[30, 20, 8, 6, 6, 10, 4, 6, 2, 8],
    )[0]  # fmt: skip
    lines, expected = figures(rng)
    if kind == "figures":
        return Case(kind, mid, expected, None not in expected.values()), message(
            mid, "\n".join(lines)
        )
    if kind in ("quoted", "html-quoted"):
        old = "\n".join(f"{m}: 99999 (last value)" for m in expected)
        if kind == "quoted":
            style = rng.choice(sorted(QUOTES))
            body = (
                "\n".join(lines)
                + "\n\nThanks\n\n"
                + QUOTES[style](old.replace("\n", "\n> " if style in ("angle", "gmail4") else "\n"))
            )
            return Case(f"quoted-{style}", mid, expected, None not in expected.values()), message(
                mid, body
            )
        html = (
            "<div>" + "<br>".join(lines) + "</div><div>03.11.2026, pmbot &lt;b@x.example&gt;:"
            "</div><blockquote><div>" + old.replace("\n", "<br>") + "</div></blockquote>"
        )
        return Case(kind, mid, expected, None not in expected.values()), message(mid, "", html=html)
    if kind == "spoofed":
        return Case(kind, mid, dict.fromkeys(expected)), message(
            mid, "\n".join(lines), sender="mallory@elsewhere.example", headers={"Reply-To": OWNER}
        )
    if kind == "automatic":
        body = rng.choice(["I am currently out of the office.", "Thank you for your email. I will "
                           "get back to you.", "Received."]) + "\n" + "\n".join(lines)  # fmt: skip
        headers = rng.choice([
            {"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"X-Autoreply": "yes"},
            {"Subject": "Automatic reply: figures"},
        ])  # fmt: skip
        msg = message(mid, body, headers={k: v for k, v in headers.items() if k != "Subject"})
        if "Subject" in headers:
            msg.replace_header("Subject", headers["Subject"])
        return Case(kind, mid, dict.fromkeys(expected)), msg
    if kind == "poison-header":
        charset = rng.choice(["x-unknown", "utf-7", "base64", "", "utf-8", "zz" * 50])
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
        subject = rng.choice([f"=?{charset}?q?hi?=".encode(), b"=?utf-8?b?////?=", junk,
                              b"=?" * 500, b"x" * 20000])  # fmt: skip
        sender = rng.choice([OWNER.encode(), b"=?x?q?o?= <" + OWNER.encode() + b">", junk])
        raw = b"From: " + sender + b"\nSubject: " + subject + b"\nMessage-ID: " + mid.encode()
        raw += b"\n\n" + "\n".join(lines).encode()
        return Case(kind, mid, expected), raw  # stored or not, a figure must be what was typed
    if kind == "deep-mime":
        depth = rng.randint(1, 2000)
        raw = b"From: " + OWNER.encode() + b"\nMessage-ID: " + mid.encode()
        raw += b"\nContent-Type: multipart/mixed; boundary=b0\n\n"
        raw += b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1)
                        for i in range(depth))  # fmt: skip
        raw += b"--b%d\nContent-Type: text/plain\n\n" % depth + "\n".join(lines).encode()
        return Case(kind, mid, expected), raw
    if kind == "garbage":
        return Case(kind, mid), bytes(rng.randrange(256) for _ in range(rng.randint(0, 5000)))
    if kind == "line-bomb":
        body = "\n".join(f"FZ-05: {i % 50}" for i in range(rng.randint(201, 10_000)))
        return Case(kind, mid, {"FZ-05": None}), message(mid, body)
    # duplicate-figure: a second line for the first measure further down must not be stored
    first = next(iter(expected))
    body = "\n".join(lines) + f"\n\nand also\n{first}: 77777"
    return Case(kind, mid, expected, None not in expected.values()), message(mid, body)


def fuzz_replies(workdir: Path, count: int, rng: random.Random) -> Counter:
    settings = replace(Settings.from_env({}), db_path=workdir / "fuzz.db", maildir=workdir / "mail",
                       mail_from=BOT)  # fmt: skip
    clock = {"now": datetime(2026, 11, 10, 10, 0, tzinfo=LONDON)}
    bot = create_app(settings, clock=lambda: clock["now"])
    (workdir / "measures.yaml").write_text(REGISTER)
    bot.service.import_register(workdir / "measures.yaml", clock["now"])
    tally: Counter = Counter()
    cases: dict[str, Case] = {}
    batch = 500
    for start in range(0, count, batch):
        for n in range(start, min(count, start + batch)):
            case, mail = build(rng, n)
            cases[case.message_id] = case
            bot.mail.deliver_to_inbox(mail)
            tally[(case.kind, "tried")] += 1
        try:
            results = bot.poll_mail().results
        except Exception as exc:  # noqa: BLE001 (counting what escapes is the point)
            tally[("poll", "crashed")] += 1
            print(f"poll raised {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for result in results:
            if result.outcome == "quarantined" and "pmbot failed" in result.reason:
                kind = cases.get(result.message_id, Case("unknown", "")).kind
                tally[(kind, "crashed")] += 1
        clock["now"] = clock["now"].replace(minute=(clock["now"].minute + 1) % 60)
    for case in cases.values():
        rows = bot.store.db.execute(
            "SELECT measure_id, value FROM submissions WHERE source_ref LIKE ? || '%'",
            [case.message_id + "#"],
        ).fetchall()
        got = dict(rows)
        wrong = [m for m, v in got.items() if m not in case.expected or case.expected[m] is None
                 or abs(v - case.expected[m]) > 1e-6 * max(1, abs(case.expected[m]))]  # fmt: skip
        if wrong:
            tally[(case.kind, "wrong")] += 1
            print(f"wrong: {case.kind} {case.message_id} {got} != {case.expected}", file=sys.stderr)
        if case.good and set(got) != set(case.expected):
            tally[(case.kind, "lost")] += 1
            reason = bot.store.db.execute("SELECT reason FROM inbound WHERE message_id = ?",
                                          [case.message_id]).fetchone()  # fmt: skip
            print(f"lost: {case.kind} {got} != {case.expected}: {reason}", file=sys.stderr)
    bot.close()
    return tally


# ------------------------------------------------------------------------ registers, history

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(chars) + 1)
        choice = rng.random()
        if choice < 0.4 and chars:
            del chars[min(at, len(chars) - 1)]
        elif choice < 0.8:
            chars.insert(at, rng.choice([",", "\n", ":", '"', "'", "[", "{", "&a", "*a", "\u00a0",
                                         "\x00", "-", "  ", "\t", "#", "|", ">"]))  # fmt: skip
        else:
            chars[at:at] = list(rng.choice(["1 234", "1,5", "£", "%", "x" * 200_000, "é"]))
    return "".join(chars)


def fuzz_files(workdir: Path, count: int, rng: random.Random) -> tuple[Counter, float]:
    settings = replace(Settings.from_env({}), db_path=workdir / "files.db",
                       maildir=workdir / "mail2", mail_from=BOT)  # fmt: skip
    now = datetime(2026, 11, 10, 10, 0, tzinfo=LONDON)
    bot = create_app(settings, clock=lambda: now)
    register = workdir / "good.yaml"
    register.write_text(REGISTER)
    bot.service.import_register(register, now)
    tally: Counter = Counter()
    slowest = 0.0
    for n in range(count):
        kind = rng.choice(["register-yaml", "register-csv", "history", "history-values", "laughs"])
        path = workdir / f"f{n}.{'csv' if 'csv' in kind or 'history' in kind else 'yaml'}"
        expected: dict[tuple[str, str], float | None] = {}
        if kind == "register-yaml":
            path.write_text(mutate(REGISTER, rng))
        elif kind == "laughs":
            path.write_text(LAUGHS + rng.choice([
                "measures: [*i]\n", "measures:\n  - *i\n",
                # an alias where a text field is read: expanded, 387 million strings
                f"measures:\n  - {{id: FZ-09, name: *i, area: F, unit: count, better: up, "
                f"target: 1, owner_email: {OWNER}}}\n",
            ]))  # fmt: skip
        elif kind == "register-csv":
            header = "id,name,area,unit,better,target,owner_email\n"
            path.write_text(mutate(header + f"FZ-01,Cases,Fuzz,count,neutral,10,{OWNER}\n", rng))
        elif kind == "history":
            path.write_text(mutate("measure_id,period,value,reason,commentary\n"
                                   "FZ-01,2026-08,12,,\nFZ-02,2026-08,50,,ok\n", rng))  # fmt: skip
        else:
            rows = []
            for month in range(1, 10):
                measure_id = rng.choice(sorted(UNITS))
                text, value = typed(measure_id, rng)
                quoted = f'"{text}"' if "," in text else text
                rows.append(f"{measure_id},2025-{month:02d},{quoted},,")
                expected[(measure_id, f"2025-{month:02d}")] = value
            path.write_text("measure_id,period,value,reason,commentary\n" + "\n".join(rows) + "\n")
        tally[(kind, "tried")] += 1
        before = {(r["measure_id"], r["period"]): r["value"] for r in bot.store.db.query(
            "SELECT measure_id, period, value FROM submissions")}  # fmt: skip
        started = time.perf_counter()
        try:
            if "register" in kind or kind == "laughs":
                bot.service.import_register(path, now)
                bot.service.import_register(register, now)  # back to the measures we fuzz
            else:
                bot.service.import_history(path, now)
        except ImportRejected:
            pass
        except Exception as exc:  # noqa: BLE001
            tally[(kind, "crashed")] += 1
            print(f"crash: {kind} {path.name}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
        took = time.perf_counter() - started
        slowest = max(slowest, took)
        if took > 5:
            tally[(kind, "crashed")] += 1
        after = {(r["measure_id"], r["period"]): r["value"] for r in bot.store.db.query(
            "SELECT s.measure_id, s.period, s.value FROM submissions s JOIN (SELECT max(id) AS id "
            "FROM submissions GROUP BY measure_id, period) l ON s.id = l.id")}  # fmt: skip
        for key, value in after.items():
            if key in before and before[key] == value:
                continue
            want = expected.get(key, "absent")
            if want == "absent" and kind != "history":
                tally[(kind, "wrong")] += 1
            elif (
                want not in ("absent", None)
                and value is not None
                and abs(value - want) > 1e-6 * max(1, abs(want))
            ):
                tally[(kind, "wrong")] += 1
                print(f"wrong: {kind} {key} {value} != {want}", file=sys.stderr)
        if kind == "history-values" and all(v is not None for v in expected.values()):
            missing = [k for k in expected if k not in after]
            if missing and len({k for k in expected}) == len(expected):
                tally[(kind, "lost")] += 1
        path.unlink()
    bot.close()
    return tally, slowest


def report(title: str, tally: Counter) -> None:
    kinds = sorted({kind for kind, _ in tally})
    print(f"\n{title}\n{'class':<22}{'tried':>8}{'crashed':>9}{'wrong':>7}{'lost':>6}")
    for kind in kinds:
        row = [tally[(kind, what)] for what in ("tried", "crashed", "wrong", "lost")]
        print(f"{kind:<22}{row[0]:>8}{row[1]:>9}{row[2]:>7}{row[3]:>6}")
    total = [sum(tally[(k, what)] for k in kinds) for what in ("tried", "crashed", "wrong", "lost")]
    print(f"{'total':<22}{total[0]:>8}{total[1]:>9}{total[2]:>7}{total[3]:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        started = time.perf_counter()
        replies = fuzz_replies(workdir, args.replies, rng)
        report(f"{args.replies:,} fuzzed replies ({time.perf_counter() - started:.0f} s)", replies)
        started = time.perf_counter()
        files, slowest = fuzz_files(workdir, args.files, rng)
        took = time.perf_counter() - started
        title = f"{args.files:,} fuzzed registers and history files ({took:.0f} s, "
        report(title + f"slowest {slowest:.2f} s)", files)
    bad = sum(v for (_, what), v in {**replies, **files}.items() if what != "tried")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
