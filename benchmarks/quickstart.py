"""Record a quickstart run (`thinktune compare` with no arguments) in benchmarks/results/.

    bash scripts/install.sh && /usr/bin/time -f %e .venv/bin/thinktune compare     # the README's first command
    python benchmarks/quickstart.py --run runs/compare --wall-with-install 700 --reading notes.md

Reads the run folder (`results.json`, `report.md`, `tradeoff.png`) and writes `quickstart.json` (the rows,
the recommendation, the time per phase, the machine), `quickstart.md` (the report's comparison table,
accuracy by difficulty and recommendation, the time per phase, and an optional hand-written reading of
the numbers) and `quickstart_tradeoff.png`. Nothing is measured here: the numbers are the run's own.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("## The comparison", "## Strict accuracy by difficulty", "## Recommendation")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/compare", help="the compare run folder")
    p.add_argument("--wall-with-install", type=float, default=None, help="seconds of install + compare, if timed")
    p.add_argument("--machine", default="2 CPU cores, 24 GiB, no GPU; quiet (nothing else running)",
                   help="what the machine was and what else it was doing")
    p.add_argument("--reading", default=None, help="a Markdown file with a reading of the numbers, appended")
    p.add_argument("--out", default=str(RESULTS), help="results folder")
    args = p.parse_args(argv)

    run, out = Path(args.run), Path(args.out)
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    report = (run / "report.md").read_text(encoding="utf-8")
    commit = _git_commit(run)
    record = {
        "command": "bash scripts/install.sh && .venv/bin/thinktune compare   (the README's first command)",
        "date": datetime.date.today().isoformat(), "git_commit_of_run": commit,
        "machine": f"{args.machine}; {platform.platform()}; python {sys.version.split()[0]}; "
                   f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}",
        "wall_s": round(results["wall_s"], 1), "wall_s_with_install": args.wall_with_install,
        "phase_seconds": {k: round(v, 1) for k, v in results["phase_seconds"].items()},
        "config": results["config"], "rows": results["rows"], "recommendation": results["recommendation"],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "quickstart.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    if (run / "tradeoff.png").is_file():
        shutil.copyfile(run / "tradeoff.png", out / "quickstart_tradeoff.png")

    wall = f"**{record['wall_s']:.0f} s ({record['wall_s'] / 60:.1f} min)**"
    if args.wall_with_install:
        wall += f"; {args.wall_with_install / 60:.1f} min with the install step"
    lines = [
        "# Quickstart: `thinktune compare` (no arguments), one measured run", "",
        f"Command: the README's first command on a fresh clone, `{record['command'].split('   ')[0]}`.",
        f"Machine: {args.machine}. Date {record['date']}, commit {commit}.",
        f"Wall time of `thinktune compare`: {wall}. Written by `benchmarks/quickstart.py` from `{run.parent.name}/{run.name}`.", "",
    ]
    for title in SECTIONS:
        lines += [_section(report, title).replace("tradeoff.png", "quickstart_tradeoff.png"), ""]
    lines += ["## Where the time went", "", "| phase | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in record["phase_seconds"].items()]
    lines += [f"| total | {record['wall_s']:.0f} |", ""]
    if args.reading:
        lines += [Path(args.reading).read_text(encoding="utf-8").rstrip(), ""]
    (out / "quickstart.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out / 'quickstart.json'} and {out / 'quickstart.md'}")
    return 0


def _section(markdown: str, title: str) -> str:
    """The `## title` section of `markdown` (up to the next `## `), or a line saying it is missing."""
    start = markdown.find(title + "\n")
    if start < 0:
        return f"{title}\n\n(not in this run's report)"
    end = markdown.find("\n## ", start + len(title))
    return markdown[start : end if end >= 0 else len(markdown)].rstrip()


def _git_commit(folder: Path) -> str:
    """The commit of the checkout the run folder lives in (the code that made the run)."""
    try:
        return subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
