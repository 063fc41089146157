"""Screenshots of the sample pack for the README: desktop, phone and print.

Plays the demo's month into a temporary directory, opens its pack in headless Chromium (the
same driver as the accessibility tests: tests/browser/check.mjs, so `npm ci` first) and writes
three small PNGs (reduced to a 64-colour palette to keep the repository light).

Usage::

    python tools/screenshots.py [--out docs/screenshots] [--organisation "Social Security Agency"]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.demo import run_demo  # noqa: E402
from bot.settings import Settings  # noqa: E402

SHOTS = {"desktop": 1400, "phone": 390}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--organisation", default="Social Security Agency")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        settings = replace(Settings.from_env({}), organisation=args.organisation)
        with contextlib.redirect_stdout(io.StringIO()):
            run_demo(work / "demo", settings)
        pack = next((work / "demo" / "digest").glob("performance-pack-*.html"))
        shots = {name: work / f"{name}.png" for name in (*SHOTS, "print")}
        job = {"pages": [{
            "path": str(pack),
            "widths": list(SHOTS.values()),
            "screenshots": {str(width): str(shots[name]) for name, width in SHOTS.items()},
            "print_screenshot": str(shots["print"]),
        }]}  # fmt: skip
        (work / "job.json").write_text(json.dumps(job))
        run = subprocess.run(["node", str(ROOT / "tests" / "browser" / "check.mjs"),
                              str(work / "job.json")], cwd=ROOT, capture_output=True, text=True,
                             check=False)  # fmt: skip
        if run.returncode:
            print(f"error: the browser run failed: {run.stderr.strip()[-500:]}", file=sys.stderr)
            return 1
        for name, shot in shots.items():
            target = out / f"pack-{name}.png"
            _shrink(shot, target)
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                  f"  {target.stat().st_size // 1024} KB")  # fmt: skip
    return 0


def _shrink(source: Path, target: Path) -> None:
    from PIL import Image  # comes with matplotlib

    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=64).save(target, optimize=True)


if __name__ == "__main__":
    raise SystemExit(main())
