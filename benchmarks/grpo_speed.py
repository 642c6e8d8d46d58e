"""GRPO step time: thinktune's rollouts (its engine through TRL's rollout_func) vs TRL's default generation.

    python benchmarks/grpo_speed.py --model runs/compare/variants/reasoning     # after `thinktune compare`

Same settings and seeds for both (4 prompts x 4 samples, 96-token budget, LoRA r16, the quickstart's kind
of question); the runs alternate A B A B so drift on a shared machine falls on both, and the repeat of each
checks that a seed reproduces the same completions. Step time = the trainer's wall time between logged
steps (the first step, which loads and warms up, is left out). Writes benchmarks/results/grpo_speed.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="runs/compare/variants/reasoning")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2, help="A B pairs")
    p.add_argument("--out", default="runs/bench_grpo_speed")
    p.add_argument("--note", default="")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "grpo_speed"))
    args = p.parse_args()

    import shutil

    from thinktune.jobs import load_job_config, run_job

    settings = [f"model={args.model}", "task=arithmetic", "task_options={ops: 2, digits: 2, operators: '+'}",
                "train_size=64", "num_generations=4", "prompts_per_step=4", "max_completion_length=96",
                "learning_rate=1e-4", "lora={enabled: true, r: 16, alpha: 32}", "sample_completions=16",
                f"max_steps={args.steps}", "seed=0", "save_steps=0",
                "rewards=[{name: accuracy}, {name: format_strict, weight: 0.5}, {name: tag_count, weight: 0.25}]"]
    runs: dict[str, list[dict]] = {"trl": [], "thinktune": []}
    for r in range(args.rounds):
        for rollouts in ("trl", "thinktune"):
            out = Path(args.out) / f"{rollouts}-{r}"
            shutil.rmtree(out, ignore_errors=True)
            cfg = load_job_config("grpo", None, [*settings, f"rollouts={rollouts}", f"output_dir={out}"])
            t0 = time.perf_counter()
            run_job("grpo", cfg)
            wall = time.perf_counter() - t0
            rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            walls = [row["wall_s"] for row in rows]
            steps = [b - a for a, b in zip(walls, walls[1:], strict=False)]
            completions = [json.loads(line)["completion"] for line in (out / "completions.jsonl").read_text().splitlines()]
            runs[rollouts].append({"round": r, "step_s": steps, "wall_s": round(wall, 1),
                                   "completion_length": [row.get("completion_length_mean") for row in rows],
                                   "reward": [row.get("reward") for row in rows], "completions": completions})
            print(rollouts, r, [round(s, 1) for s in steps], flush=True)
    summary = {}
    for name, rs in runs.items():
        steps = [s for run in rs for s in run["step_s"]]
        lengths = [x for run in rs for x in run["completion_length"] if x is not None]
        summary[name] = {"median_step_s": statistics.median(steps), "mean_step_s": statistics.mean(steps),
                         "steps_timed": len(steps), "mean_completion_length": statistics.mean(lengths) if lengths else None,
                         "same_completions_across_repeats": all(run["completions"] == rs[0]["completions"] for run in rs)}
    ratio = summary["thinktune"]["median_step_s"] / summary["trl"]["median_step_s"]
    result = {"model": args.model, "steps": args.steps, "rounds": args.rounds, "summary": summary, "ratio": ratio,
              "runs": runs, "note": args.note, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
    Path(args.results + ".json").write_text(json.dumps(result, indent=2))
    lines = ["# GRPO step time: thinktune rollouts vs TRL's generate", "",
             f"Command: `python benchmarks/grpo_speed.py` ({result['date']}), model `{args.model}`, 4 prompts x 4 samples, "
             f"96-token budget, LoRA r16, {args.steps} steps per run, runs alternated A B x {args.rounds}. {args.note}", "",
             "| rollouts | median step s | mean step s | steps timed | mean completion tokens | same completions on repeat |",
             "|---|---:|---:|---:|---:|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['median_step_s']:.1f} | {s['mean_step_s']:.1f} | {s['steps_timed']} | "
                     f"{s['mean_completion_length'] or 0:.1f} | {s['same_completions_across_repeats']} |")
    lines += ["", f"**thinktune / trl step time: {ratio:.2f}x** (target <= 0.6x)."]
    Path(args.results + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
