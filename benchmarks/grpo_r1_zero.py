"""The R1-Zero route on the default model: GRPO on the base model, no SFT. Do format and accuracy rise?

    python benchmarks/grpo_r1_zero.py            # configs/grpo_r1_zero.yaml, 24 steps, ~20 min on 2 cores

Runs the shipped config as a `grpo` job (a finished run in its folder is reused, a killed one resumes) and
writes, from the run's metrics.jsonl, the per-step curve of the strict format rate and the accuracy of the
sampled completions, to benchmarks/results/grpo_r1_zero.{md,json} and grpo_r1_zero_curves.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

COLUMNS = (("accuracy", "accuracy (<answer> block)"), ("accuracy_strict", "accuracy (well-formed only)"),
           ("format_rate", "strict format"), ("rewards/tag_count/mean", "tag_count reward"),
           ("completion_length_mean", "tokens"), ("zero_variance_frac", "zero-variance groups"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "grpo_r1_zero.yaml"))
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "grpo_r1_zero"))
    p.add_argument("--note", default="")
    args = p.parse_args(argv)

    from thinktune.curves import plot_curves, read_steps
    from thinktune.jobs import load_job_config, run_job
    from thinktune.reporter import TqdmReporter

    cfg = load_job_config("grpo", args.config, args.overrides)
    run = run_job("grpo", cfg, TqdmReporter())
    if not run.ok:
        raise SystemExit(f"grpo {run.status}: {run.error}")
    steps = read_steps(run.folder)
    png = plot_curves([run.folder], args.results + "_curves.png", smooth=3,
                      title=f"R1-Zero route: GRPO on the base model ({Path(args.config).name})")
    table = [{"step": r["step"], **{k: r.get(k) for k, _ in COLUMNS}} for r in steps]
    wall = steps[-1]["wall_s"] if steps else None
    command = "python benchmarks/grpo_r1_zero.py" + "".join(f" --set {o}" for o in args.overrides)
    lines = [f"# R1-Zero route: GRPO on the base model, {len(steps)} steps", "",
             f"Command: `{command}` ({time.strftime('%Y-%m-%d')}), config `configs/{Path(args.config).name}`"
             + (f"; {args.note}" if args.note else "") + f". Training wall time {wall / 60:.1f} min." if wall else "",
             "", "Per step, on that step's sampled completions (4 prompts x 8 samples at temperature "
             f"{cfg.temperature}):", "",
             "| step | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---:|" + "---:|" * len(COLUMNS)]
    for r in table:
        lines.append(f"| {r['step']} | " + " | ".join(_cell(r[k]) for k, _ in COLUMNS) + " |")
    lines += ["", f"Curves: `{Path(png).name}`.", ""]
    md = "\n".join(lines)
    Path(args.results + ".md").write_text(md)
    Path(args.results + ".json").write_text(json.dumps({
        "command": command, "config": Path(args.config).name, "run": str(run.folder), "wall_s": wall,
        "steps": table}, indent=2) + "\n")
    print(md)
    return 0


def _cell(v) -> str:
    return "–" if not isinstance(v, (int, float)) else f"{v:.1f}" if v > 1.5 else f"{v:.2f}"


if __name__ == "__main__":
    sys.exit(main())
