"""The one abi3 wheel on other CPythons than the factory's: the test suite
(`-m "not slow"`) in a fresh venv per Python, through the factory's `test`
verb. Not part of CI: each Python needs its own torch download (~800 MB).

    .venv/bin/python bench/pythons.py WHEEL [--pythons 3.10,3.13] [--torch 2.14.1]

Writes bench/results/pythons.json: date, commit, wheel, and one row per
Python (verdict, pytest's summary, seconds).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "results" / "pythons.json"
ROW = re.compile(r"^\s+(PASS|FAIL|SKIP)\s+(\S+)\s+torch (\S+)\s+(?:(\d+) s)?\s+(\S+): (.*)$")


def wheel_commit(wheel: Path) -> str | None:
    """The commit the wheel was built from (its _build_info.json)."""
    with zipfile.ZipFile(wheel) as zf:
        name = next((n for n in zf.namelist() if n.endswith("/_build_info.json")), None)
        return json.loads(zf.read(name)).get("git_commit") if name else None


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("wheel", type=Path)
    p.add_argument("--pythons", default="3.10,3.13")
    p.add_argument("--torch", default="2.14.1")
    args = p.parse_args()
    cmd = [sys.executable, "-m", "ci", "test", "--wheel", str(args.wheel.resolve()), "--pythons",
           args.pythons, "--torch", args.torch, "--allow-download", "--", "-m", "not slow"]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    rows = [{"verdict": m[1], "python": m[2], "torch": m[3], "seconds": int(m[4]) if m[4] else None,
             "summary": m[6]} for line in proc.stdout.splitlines() for m in [ROW.match(line)] if m]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    OUT.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit,
        "wheel": args.wheel.name,
        "wheel_built_at": wheel_commit(args.wheel),
        "command": "./ci/factory test --wheel WHEEL --pythons " + args.pythons + " --torch "
                   + args.torch + ' --allow-download -- -m "not slow"',
        "exit_status": proc.returncode,
        "results": rows,
    }, indent=2) + "\n")
    print(f"wrote {OUT}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
