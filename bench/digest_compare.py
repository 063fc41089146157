"""Check that a change to the digest's code changed none of its outputs.

Writes every output of the bench world's digest (the same world, cycle and figures as
bench/digest.py) into a folder: the pack, the Slack JSON, the email's parts, the CSV, CSVW and
XLSX files. Run it on the old code and on the new, then compare the two folders: the CSV and
CSVW bytes, every part of the XLSX (its creation time aside), and the XLSX read back cell by
cell (value, type, number format, bold, style) with its tables, frozen panes, column widths
and properties; the pack's HTML, the Slack JSON, and each part of the email (the zipped pack
by its files' names, sizes and CRCs).

    cd <old checkout> && .venv/bin/python bench/digest_compare.py /tmp/old
    cd <new checkout> && .venv/bin/python bench/digest_compare.py /tmp/new --against /tmp/old
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import re
import sys
import zipfile
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from digest import NOW  # noqa: E402
from world import CYCLE, LEADER, copy_world, settings  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.render.email import digest_message  # noqa: E402
from bot.render.pack import render_pack  # noqa: E402
from bot.render.slack import slack_blocks  # noqa: E402
from bot.render.tables import write_tables  # noqa: E402
from bot.store import StoredSubmission  # noqa: E402

CREATED = re.compile(rb"<dcterms:(created|modified)[^<]*<")


def write_outputs(measures: int, folder: Path) -> None:
    folder.mkdir(parents=True)
    copy_world(measures, folder)
    bot = create_app(settings(folder), clock=lambda: NOW)
    report = bot.service.status(CYCLE, NOW)
    bot.store.add_submissions(  # as bench/digest.py does
        StoredSubmission(row["id"], row["period"], float(row["target"]) * (1 if n % 8 else 1.12),
                         "", "explained", row["owner_email"], "email",
                         f"now:{row['id']}:{row['period']}", NOW)  # fmt: skip
        for n, row in enumerate(report.measures)
        if n % 10
    )
    digest = bot.service.digest(CYCLE, NOW)
    pack = render_pack(digest)
    (folder / "pack.html").write_text(pack, encoding="utf-8")
    slack = json.dumps(slack_blocks(digest), indent=2, ensure_ascii=False)
    (folder / "slack.json").write_text(slack, encoding="utf-8")
    message = digest_message(digest, "pmbot@agency.example", [LEADER], NOW, "agency.example",
                             pack=pack)  # fmt: skip
    parts = [(part.get_content_type(), part.get_filename(), part.get_payload(decode=True))
             for part in message.walk() if not part.is_multipart()]  # fmt: skip
    (folder / "email-parts.pickle").write_bytes(pickle.dumps(parts))
    write_tables(digest, folder / "tables")
    bot.close()


def differences(old: Path, new: Path) -> list[str]:
    found = []

    def check(name: str, a: object, b: object) -> None:
        if a != b:
            found.append(name)

    for path in sorted((old / "tables").iterdir()):
        other = new / "tables" / path.name
        if path.suffix != ".xlsx":
            check(path.name, path.read_bytes(), other.read_bytes())
            continue
        a, b = zipfile.ZipFile(path), zipfile.ZipFile(other)
        check(f"{path.name}: parts", a.namelist(), b.namelist())
        for part in a.namelist():
            check(f"{path.name}: {part}", CREATED.sub(b"", a.read(part)),
                  CREATED.sub(b"", b.read(part)))  # fmt: skip
        check(f"{path.name}: cells", _workbook(path), _workbook(other))
    for name in ("pack.html", "slack.json"):
        check(name, (old / name).read_bytes(), (new / name).read_bytes())
    check("email", _email(old), _email(new))
    return found


def _workbook(path: Path) -> list:
    book = openpyxl.load_workbook(path)
    sheets = []
    for sheet in book.worksheets:
        tables = sorted((t.name, t.ref, t.tableStyleInfo.name, [c.name for c in t.tableColumns])
                        for t in sheet.tables.values())  # fmt: skip
        widths = {k: v.width for k, v in sheet.column_dimensions.items()}
        cells = [[(c.value, c.data_type, c.number_format, c.font.b, c.style_id) for c in row]
                 for row in sheet.iter_rows()]  # fmt: skip
        sheets.append((sheet.title, tables, sheet.freeze_panes, widths, cells))
    properties = {k: v for k, v in vars(book.properties).items()
                  if k not in ("created", "modified")}  # fmt: skip
    return [sheets, properties]


def _email(folder: Path) -> list:
    parts = pickle.loads((folder / "email-parts.pickle").read_bytes())
    read = []
    for kind, name, payload in parts:
        if kind == "application/zip":  # its bytes hold the time it was zipped
            files = zipfile.ZipFile(io.BytesIO(payload)).infolist()
            payload = [(f.filename, f.file_size, f.CRC) for f in files]
        read.append((kind, name, payload))
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a new folder for this checkout's outputs")
    parser.add_argument("--against", type=Path, help="another checkout's outputs to compare")
    parser.add_argument("--measures", type=int, default=2000)
    args = parser.parse_args()
    write_outputs(args.measures, args.folder)
    if args.against:
        found = differences(args.against, args.folder)
        print("\n".join(f"differs: {name}" for name in found) or "every output identical")
        sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
