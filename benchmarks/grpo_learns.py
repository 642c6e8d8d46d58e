"""Does GRPO learn on the default model on 2 CPU cores? Held-out greedy accuracy before and after, paired.

    python benchmarks/grpo_learns.py                  # configs/pipelines/grpo_learns.yaml, ~40 min
    python benchmarks/grpo_learns.py --set stages.1.config.max_steps=12 --results /tmp/try
    python benchmarks/grpo_learns.py --checkpoints    # also each saved GRPO checkpoint on the held-out set

Runs the shipped recipe as a pipeline job: a cold-start SFT (the model learns the <think>/<answer> format
on sums of two-digit numbers), then GRPO on new sums of the same kind. The pipeline evaluates both models
greedily on the same held-out questions (the task's test split) and compares them with McNemar's exact test
on the questions one got right and the other wrong. This script adds the GRPO stage's training curves (reward,
sampled accuracy and format, completion length, zero-variance groups) and writes
benchmarks/results/grpo_learns.{md,json} and grpo_learns_curves.png.

A finished stage is not trained again (the pipeline skips it when its config is unchanged), so a rerun only
redoes what changed; the wall times reported are the stages' own (from their event logs).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

WINDOW = 6  # steps averaged at the start and the end of the GRPO run
TRAINING = (("reward", "reward"), ("accuracy", "sampled accuracy"), ("format_rate", "strict format rate"),
            ("completion_length_mean", "completion tokens"), ("zero_variance_frac", "zero-variance groups"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "pipelines" / "grpo_learns.yaml"))
    p.add_argument("--set", dest="overrides", action="append", default=[], help="override a config key")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "grpo_learns"),
                   help="path prefix of the .md, .json and _curves.png written")
    p.add_argument("--note", default="", help="what else the machine was doing")
    p.add_argument("--checkpoints", action="store_true",
                   help="also evaluate every saved checkpoint of the GRPO stage on the held-out set (~1 min each)")
    args = p.parse_args(argv)

    from thinktune.curves import plot_curves, read_steps
    from thinktune.jobs import load_job_config, run_job
    from thinktune.reporter import TqdmReporter

    cfg = load_job_config("pipeline", args.config, args.overrides)
    t0 = time.perf_counter()
    run = run_job("pipeline", cfg, TqdmReporter(enabled=cfg.progress))
    wall = time.perf_counter() - t0
    if not run.ok:
        raise SystemExit(f"pipeline {run.status}: {run.error}")
    report = json.loads((run.folder / "report.json").read_text())
    rl = next(s for s in reversed(report["stages"]) if s["kind"] == "grpo")
    rows = {r["name"]: r for r in report["rows"]}
    after = rows[rl["name"]]
    before = report["rows"][report["rows"].index(after) - 1]
    vs = after["vs_previous"]

    steps = read_steps(rl["run"])
    k = min(WINDOW, max(1, len(steps) // 2))
    training = {key: {"first": _mean(steps[:k], key), "last": _mean(steps[-k:], key)} for key, _ in TRAINING}
    curves = plot_curves([rl["run"]], args.results + "_curves.png", smooth=5,
                         title=f"GRPO stage '{rl['name']}' of {Path(args.config).name}: training curves")

    held_out_curve = _checkpoint_curve(run.folder, report, rl, before) if args.checkpoints else None
    grpo_cfg = json.loads((Path(rl["run"]) / "run.json").read_text())["config"]
    command = "python benchmarks/grpo_learns.py" + "".join(f" --set {o}" for o in args.overrides)
    result = {
        "command": command, "date": time.strftime("%Y-%m-%d"), "config": Path(args.config).name,
        "machine": {"platform": platform.platform(), "cores": _cores(), "note": args.note},
        "held_out": report["held_out"], "before": before, "after": after, "paired": vs,
        "grpo": {"run": rl["run"], "wall_s": rl["wall_s"], "steps": len(steps),
                 "s_per_step": round(rl["wall_s"] / len(steps), 1) if steps and rl["wall_s"] else None,
                 "settings": {key: grpo_cfg.get(key) for key in (
                     "task", "task_options", "num_generations", "prompts_per_step", "max_completion_length",
                     "temperature", "learning_rate", "beta", "loss_type", "lora", "rollouts", "rewards", "seed")},
                 "training_window": k, "training": training},
        "stage_wall_s": {s["name"]: s["wall_s"] for s in report["stages"]},
        "process_wall_s": round(wall, 1), "curves_png": str(curves), "held_out_by_step": held_out_curve,
    }
    md = _markdown(result)
    Path(args.results + ".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    Path(args.results + ".md").write_text(md)
    print(md)
    return 0


def _checkpoint_curve(root: Path, report: dict, rl: dict, before: dict) -> list[dict]:
    """Greedy held-out accuracy of each `checkpoint-N` of the GRPO stage (step 0: the model before GRPO),
    on the same questions as the report; evaluations are kept in ROOT/evals/<stage>-step-N and reused."""
    from thinktune.evaluation.harness import strict_verdicts
    from thinktune.evaluation.metrics import paired_comparison
    from thinktune.jobs import run_job
    from thinktune.pipeline.config import HeldOut
    from thinktune.pipeline.pipeline import held_out_eval
    from thinktune.reporter import TqdmReporter
    from thinktune.runs import checkpoint_step, checkpoints

    h = HeldOut(**report["held_out"])
    first = strict_verdicts(root / "evals" / before["name"])
    curve = [{"step": 0, "strict_accuracy": before["strict_accuracy"]}]
    for ckpt in sorted(checkpoints(rl["run"]), key=checkpoint_step):
        step = checkpoint_step(ckpt)
        out = root / "evals" / f"{rl['name']}-step-{step}"
        result = run_job("eval", held_out_eval(h, str(ckpt), out, f"step {step}"), TqdmReporter())
        if not result.ok:
            raise SystemExit(f"eval of {ckpt} {result.status}: {result.error}")
        vs = paired_comparison(first, strict_verdicts(out))
        curve.append({"step": step, "strict_accuracy": result.metrics.get("strict_accuracy"),
                      "vs_before": vs})
    return curve


def _mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return round(sum(values) / len(values), 4) if values else None


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _markdown(r: dict) -> str:
    b, a, vs, g, h = r["before"], r["after"], r["paired"], r["grpo"], r["held_out"]
    s = g["settings"]
    task = f"{h['task']} {h.get('task_options') or ''}".strip()
    lines = [
        f"# GRPO that learns: held-out greedy accuracy before and after ({h['limit']} questions)", "",
        f"Command: `{r['command']}` ({r['date']}), config `configs/pipelines/{r['config']}`, "
        f"{r['machine']['cores']} CPU cores" + (f"; {r['machine']['note']}" if r['machine']['note'] else "") + ".",
        "",
        f"Held-out: {task}, `{h['split']}` split, {vs['n']} questions, greedy, {h['max_new_tokens']}-token cap.", "",
        "| model | strict accuracy | format | tokens/question |", "|---|---:|---:|---:|",
        f"| before GRPO ({b['name']}) | {_pct(b['strict_accuracy'])} | {_pct(b['format_rate'])} | "
        f"{b['tokens_per_question']:.1f} |",
        f"| after GRPO ({a['name']}) | {_pct(a['strict_accuracy'])} | {_pct(a['format_rate'])} | "
        f"{a['tokens_per_question']:.1f} |", "",
        f"**Change: {vs['delta_points']:+.1f} points** ({vs['wins']} questions right only after, {vs['losses']} "
        f"right only before; McNemar exact two-sided p = {vs['p_value']:.4f}).", "",
        f"GRPO: {g['steps']} steps of {s['prompts_per_step']} prompts x {s['num_generations']} samples, "
        f"{s['max_completion_length']}-token budget, temperature {s['temperature']}, lr {s['learning_rate']}, "
        f"LoRA r={s['lora']['r']}, {s['loss_type']} loss, beta {s['beta']}, rollouts `{s['rollouts']}`; rewards "
        + ", ".join(f"{w['name']} x{w['weight']}" for w in s["rewards"])
        + f". **GRPO wall time {g['wall_s'] / 60:.1f} min** ({g['s_per_step']} s/step); "
        + ", ".join(f"{name} {sec / 60:.1f} min" for name, sec in r["stage_wall_s"].items() if sec) + " per stage.",
        "", f"Training metrics (mean of the first and last {g['training_window']} steps; sampled at the rollout "
        "temperature, a few prompts per step, so noisy):", "",
        "| metric | first | last |", "|---|---:|---:|",
    ]
    for key, label in TRAINING:
        t = g["training"][key]
        lines.append(f"| {label} | {_num(t['first'])} | {_num(t['last'])} |")
    if r.get("held_out_by_step"):
        lines += ["", "Held-out greedy accuracy at each saved GRPO checkpoint (same questions; paired against "
                  "step 0, the model before GRPO):", "", "| step | strict accuracy | vs before (wins/losses, p) |",
                  "|---:|---:|---|"]
        for c in r["held_out_by_step"]:
            vs = c.get("vs_before")
            lines.append(f"| {c['step']} | {_pct(c['strict_accuracy'])} | "
                         + (f"{vs['delta_points']:+.1f} pts (+{vs['wins']}/-{vs['losses']}, p={vs['p_value']:.4f})"
                            if vs else "–") + " |")
    lines += ["", f"Curves: `{Path(r['curves_png']).name}`.", ""]
    return "\n".join(lines)


def _pct(x) -> str:
    return "–" if x is None else f"{x:.1%}"


def _num(x) -> str:
    return "–" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    sys.exit(main())
