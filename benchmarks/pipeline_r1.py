"""The DeepSeek-R1 pipeline end to end at a CPU size: per-stage accuracy and tokens on one held-out set, and
the lineage `thinktune runs show` prints.

    python benchmarks/pipeline_r1.py [--set key=value ...]     # configs/pipelines/r1.yaml, ~30-40 min

Writes benchmarks/results/pipeline_r1.{md,json} (the pipeline's own report, wall time, the lineage).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "pipelines" / "r1.yaml"))
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "pipeline_r1"))
    args = p.parse_args()

    from thinktune.cli import main as cli
    from thinktune.jobs import load_job_config, run_job
    from thinktune.reporter import TqdmReporter

    cfg = load_job_config("pipeline", args.config, args.overrides)
    t0 = time.perf_counter()
    run = run_job("pipeline", cfg, TqdmReporter(enabled=cfg.progress))
    wall = time.perf_counter() - t0
    if not run.ok:
        raise SystemExit(f"pipeline {run.status}: {run.error}")
    last = json.loads((run.folder / "lineage.json").read_text())["stages"][-1]["run"]
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        cli(["runs", "show", last])
    report = (run.folder / "report.md").read_text()
    command = "python benchmarks/pipeline_r1.py" + "".join(f" --set {o}" for o in args.overrides)
    md = (f"{report}\nCommand: `{command}` ({time.strftime('%Y-%m-%d')}), config `{Path(args.config).name}`, "
          f"2 CPU cores; wall time {wall / 60:.1f} min (this process; stages resumed from an earlier attempt "
          "count only their new time).\n\n## Lineage (`thinktune runs show " + last + "`)\n\n```\n"
          + shown.getvalue().rstrip() + "\n```\n")
    Path(args.results + ".md").write_text(md)
    Path(args.results + ".json").write_text(json.dumps({
        "command": command, "wall_s": round(wall, 1), "report": json.loads((run.folder / "report.json").read_text()),
        "runs_show": shown.getvalue()}, indent=2, default=str))
    print(md)


if __name__ == "__main__":
    main()
