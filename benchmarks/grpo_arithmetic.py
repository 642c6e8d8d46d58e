"""GRPO on the embedded default model (SmolLM2-135M-Instruct), on CPU: does accuracy or format rise?

    python benchmarks/grpo_arithmetic.py --steps 30            # ~1-2 min a step on a shared 2-core CPU
    python benchmarks/grpo_arithmetic.py --task countdown --steps 30
    python benchmarks/grpo_arithmetic.py --from-sft runs/compare/reasoning --steps 30   # SFT -> RL (R1's route)

Runs `thinktune.recipes.grpo` for a few tens of steps and reports, per step, the accuracy (the task's
verifier on the `<answer>` block), the strict format rate, each reward's mean, completion length, the
share of zero-variance groups and the alarms; writes `benchmarks/results/grpo_<task>.json` and a PNG plot.

Why arithmetic and not countdown by default: on the 135M model countdown gives only zeros (0 of 16
sampled completions held a valid equation in an answer block in a probe), so GRPO has no variance to learn
from. Single-digit addition is the easy setting where the base model sometimes gets the number right.
The base model never uses the tags on its own, so the prompt opens `<think>` for it (R1-Zero/TinyZero's
template) and the correctness reward is `accuracy_any` (the `<answer>` block, else the last number),
paired with format rewards; `accuracy` in the table reads only the `<answer>` block (leniently: a missing
`</answer>` is forgiven, a last number outside the block is not).

`--from-sft RUN` is the DeepSeek-R1 route instead (cold-start SFT, then RL): it starts from a reasoning SFT
run (the quickstart's `runs/compare/reasoning`), which already writes the tags, so the prompt is the plain
chat template, the correctness reward is the contract's `accuracy`, and the task is the quickstart's own
(two-digit additions, `--ops` of them) where the SFT model is right about half the time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = {
    "arithmetic": {"ops": 1, "digits": 1, "operators": "+"},
    "countdown": {"numbers": 3, "max_number": 10, "min_target": 1, "max_target": 30},
}
READING = (
    "accuracy is the task's verifier on the <answer> block read leniently (no last-number fallback); "
    "accuracy_strict counts only strictly well-formed completions (logged since 2026-12-02); "
    "rewards/accuracy_any/mean is the reward "
    "the run optimised (the <answer> block, else the last number in the text). The monitor reads answers the "
    "same way, so a right number without tags is not an 'empty answer' (until 2026-12-02 it was, and the "
    "rewarded_empty alarm fired on every such completion)."
)
READING_SFT = (
    "accuracy is the task's verifier on the leniently read <answer> block, the same reading as the optimised "
    "accuracy reward (so the two columns agree); accuracy_strict counts only well-formed completions. "
    "The model starts from reasoning SFT, so format is learnt before RL begins; what RL can add is "
    "accuracy on questions the SFT model gets right only some of the time."
)
COLUMNS = ("step", "accuracy", "format_rate", "reward", "completion_length_mean", "zero_variance_frac", "wall_s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), default="arithmetic")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--model", default="default")
    p.add_argument("--from-sft", default=None, metavar="RUN",
                   help="start from this reasoning SFT run (the R1 route): no prefill, `accuracy` reward")
    p.add_argument("--ops", type=int, default=2, help="with --from-sft: operations per question")
    p.add_argument("--prompts", type=int, default=4, help="prompts per step")
    p.add_argument("--generations", type=int, default=4, help="group size")
    p.add_argument("--max-tokens", type=int, default=64, help="completion budget")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate (LoRA r=16)")
    p.add_argument("--train-size", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default="runs/bench_grpo")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/grpo_<task>.json)")
    p.add_argument("--note", default="2-core CPU shared with other jobs while it ran",
                   help="what else the machine was doing")
    args = p.parse_args(argv)

    from thinktune.config import from_dict
    from thinktune.io import read_jsonl, write_json
    from thinktune.recipes import grpo

    sft = args.from_sft is not None
    if sft and args.task != "arithmetic":
        p.error("--from-sft runs on the quickstart's arithmetic task")
    model = args.from_sft if sft else args.model
    task_options = {"ops": args.ops, "digits": 2, "operators": "+"} if sft else TASKS[args.task]
    correctness = "accuracy" if sft else "accuracy_any" if args.task == "arithmetic" else "countdown"
    cfg = from_dict(grpo.GRPOJobConfig, {
        "model": model, "task": args.task, "task_options": task_options, "train_size": args.train_size,
        "prefill_think": not sft,
        "rewards": [{"name": correctness, "weight": 1.0},
                    {"name": "format_strict", "weight": 0.5}, {"name": "tag_count", "weight": 0.25}],
        "num_generations": args.generations, "prompts_per_step": args.prompts,
        "max_completion_length": args.max_tokens, "learning_rate": args.lr, "max_steps": args.steps,
        "seed": args.seed, "output_dir": args.run_dir,
    }, "benchmark")
    metrics = Path(args.run_dir) / "metrics.jsonl"
    if metrics.exists():
        metrics.unlink()  # a fresh history: the table below is this run's alone
    t0 = time.time()
    grpo.run(cfg)
    wall = time.time() - t0

    steps = [r for r in read_jsonl(metrics) if "event" not in r]
    reward_keys = sorted(k for k in steps[0] if k.startswith("rewards/") and k.endswith("/mean")) if steps else []
    table = [{k: r.get(k) for k in (*COLUMNS, *reward_keys, "alarms")} for r in steps]
    print(f"{'step':>4} {'acc':>6} {'format':>6} {'reward':>7} {'len':>6} {'zero-var':>8}  alarms")
    for r in table:
        print(f"{r['step']:>4} {_f(r['accuracy'])} {_f(r['format_rate'])} {_f(r['reward'], 7)} "
              f"{_f(r['completion_length_mean'], 6, 1)} {_f(r['zero_variance_frac'], 8)}  {','.join(r['alarms'])}")
    summary = _summary(table, reward_keys)
    print(json.dumps(summary, indent=2))
    out = Path(args.out) if args.out else RESULTS / f"grpo_{args.task}{'_from_sft' if sft else ''}.json"
    write_json(out, {
        "benchmark": "grpo", "task": args.task, "task_options": task_options, "model": model,
        "route": "sft_then_rl" if sft else "r1_zero",
        "config": {"steps": args.steps, "prompts_per_step": args.prompts, "num_generations": args.generations,
                   "max_completion_length": args.max_tokens, "learning_rate": args.lr, "lora_r": cfg.lora.r,
                   "loss_type": cfg.loss_type, "beta": cfg.beta, "temperature": cfg.temperature,
                   "prefill_think": not sft, "rewards": [[r.name, r.weight] for r in cfg.rewards], "seed": args.seed},
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "note": args.note},
        "wall_s": round(wall, 1), "s_per_step": round(wall / max(1, len(table)), 1),
        "reading": READING_SFT if sft else READING, "summary": summary, "steps": table,
        "command": "python benchmarks/grpo_arithmetic.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    })
    title = f"GRPO from the SFT run {model} ({args.task}, CPU)" if sft else f"GRPO on {model} ({args.task}, CPU)"
    _plot(table, reward_keys, out.with_suffix(".png"), title)
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _f(v, width: int = 6, digits: int = 3) -> str:
    return f"{v:>{width}.{digits}f}" if isinstance(v, (int, float)) else f"{'-':>{width}}"


def _summary(table: list[dict], reward_keys: list[str]) -> dict:
    def mean(key: str, rows: list[dict]) -> float | None:
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        return round(sum(values) / len(values), 4) if values else None

    k = max(1, min(5, len(table) // 2))
    first, last = table[:k], table[-k:]
    out = {"steps": len(table), "window": k}
    for key in ("accuracy", "format_rate", "reward", "completion_length_mean", "zero_variance_frac", *reward_keys):
        out[key] = {"first": mean(key, first), "last": mean(key, last)}
    out["alarms_fired"] = sorted({a for r in table for a in r["alarms"]})
    return out


def _plot(table: list[dict], reward_keys: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in table]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, label in (("accuracy", "accuracy (<answer> block)"), ("format_rate", "strict format rate")):
        ax.plot(steps, [r[key] for r in table], marker="o", label=label)
    for key in reward_keys:
        ax.plot(steps, [r[key] for r in table], linestyle="--", alpha=0.7, label=key.removesuffix("/mean"))
    ax.set_xlabel("step")
    ax.set_ylabel("rate / mean reward")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)  # below: never over a point
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
