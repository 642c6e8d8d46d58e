"""Inference-time scaling on the embedded default model: what each strategy buys, and what it costs.

    python benchmarks/inference_scaling.py                    # GSM8K test slice + arithmetic tasks
    python benchmarks/inference_scaling.py --limit 20 --samples 16 --max-new-tokens 256

For each task: greedy (reasoning prompt), zero-shot CoT, maj@8, maj@16, adaptive self-consistency (Beta rule,
2 samples a round, at most 16; and ESC with windows of 4) and best-of-8 with a verifier-free scorer (mean
token log-probability). Plus pass@8 and pass@16, the oracle ceiling of the sample pool.

How the sampling strategies are run: each question is sampled `--samples` times once (temperature 0.7) with
thinktune's engine, and every sampling strategy is then run by the *real strategy code* on a
`ReplayEngine` serving those same samples in order. The strategies are functions of the sample stream
(maj@8 votes over the first 8, best-of-8 picks among the first 8, adaptive draws 2 at a time until its rule
stops), so this gives exactly what separate runs would give on these samples, at a fraction of the cost,
and makes adaptive vs maj@16 a paired comparison. Tokens per question count the samples each strategy used;
the wall time of the shared pool is reported once.

Writes benchmarks/results/inference_scaling.json and an HTML/Markdown report per task in
benchmarks/results/inference_scaling_report/<task>/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
KEEP = ("lenient_accuracy", "strict_accuracy", "format_rate", "output_tokens_mean", "thinking_tokens_mean",
        "samples_per_question_mean", "n_questions")


def load_examples(task: str, limit: int, digits: int = 1, operators: str = "+-*"):
    from thinktune.tasks import load_task

    if task == "arithmetic":  # two operations: multi-step, yet not hopeless for a 135M model
        return load_task("arithmetic", n=limit, seed=0, ops=2, digits=digits, operators=operators)
    if task == "arithmetic1":  # one operation on one-digit numbers: where samples agree and adaptive can stop
        return load_task("arithmetic", n=limit, seed=0, ops=1, digits=1)
    return load_task(task, n=limit)


def pool_samples(result) -> dict:
    """Recorded completions per question, from a `sample` run's records."""
    from thinktune.inference.base import Completion

    pool = {}
    for r in result.records:
        pool[r["question"]] = [
            Completion(text=t, tokens=n, finish_reason=f, logprob=lp)
            for t, n, f, lp in zip(r["completions"], r["completion_tokens"], r["finish_reasons"],
                                   r["completion_logprobs"], strict=True)
        ]
    return pool


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--tasks", default="gsm8k,arithmetic,arithmetic1",
                    help="gsm8k, arithmetic (2 operations), arithmetic1 (1 operation, 1 digit), or any task name")
    ap.add_argument("--limit", type=int, default=6, help="questions per task")
    ap.add_argument("--samples", type=int, default=16, help="samples per question in the shared pool")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--batch-size", type=int, default=8, help="questions per engine call")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--dtype", default="float32", help="weights dtype (bfloat16: ~1.8x faster on CPUs with AMX)")
    ap.add_argument("--arith-digits", type=int, default=1, help="digits per operand of the arithmetic task")
    ap.add_argument("--arith-operators", default="+-*",
                    help="operators of the arithmetic task ('+' matches the compare quickstart's data)")
    ap.add_argument("--note", default="")
    ap.add_argument("--out", default=str(RESULTS / "inference_scaling.json"))
    args = ap.parse_args(argv)

    import torch

    from thinktune.evaluation import evaluate
    from thinktune.evaluation.report import write_report
    from thinktune.inference import make_engine
    from thinktune.inference.engines.scripted import ReplayEngine
    from thinktune.inference.stopping import replay

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = make_engine(args.model, "hf", dtype=args.dtype)
    load_before = os.getloadavg()
    out: dict = {"tasks": {}}
    runs: dict[str, list] = {}
    common = {"max_new_tokens": args.max_new_tokens, "progress": False, "batch_size": args.batch_size}
    for task in args.tasks.split(","):
        examples = load_examples(task, args.limit, args.arith_digits, args.arith_operators)
        rows: dict = {}
        t0 = time.perf_counter()
        greedy = evaluate(engine, examples, "greedy", label=f"{task}/greedy", **common)
        cot = evaluate(engine, examples, "cot", label=f"{task}/cot", **common)
        t_greedy = time.perf_counter() - t0
        t0 = time.perf_counter()
        pool = evaluate(engine, examples, "sample", n=args.samples, temperature=args.temperature,
                        label=f"{task}/pool", **common)
        t_pool = time.perf_counter() - t0
        samples = pool_samples(pool)

        def replayed(strategy: str, label: str, samples=samples, examples=examples, task=task, **options):
            res = evaluate(ReplayEngine(samples, engine.count_tokens), examples, strategy,
                           label=f"{task}/{label}", **common, **options)
            # A replay takes no time: its timings would be meaningless (the pool's wall time is reported).
            res.metrics.update({k: None for k in ("latency_p50", "latency_p95", "tokens_per_s", "wall_s",
                                                  "s_per_question")})
            return res

        k = min(8, args.samples)  # with --samples 8, maj@8 and maj@{samples} are the same run
        results = {
            "greedy": greedy, "cot": cot,
            f"maj@{k}": replayed("self_consistency", f"maj@{k}", n=k),
            f"maj@{args.samples}": replayed("self_consistency", f"maj@{args.samples}", n=args.samples),
            "adaptive": replayed("adaptive", "adaptive", n=args.samples, batch=2, rule="beta", threshold=0.95),
            "adaptive (esc, window 4)": replayed("adaptive", "adaptive-esc", n=args.samples, rule="esc", window=4),
            f"best-of-{k} (logprob)": replayed("best_of_n", f"best-of-{k}", n=k, scorer="logprob"),
        }
        for name, res in results.items():
            rows[name] = {k: res.metrics.get(k) for k in KEEP}
            runs.setdefault(task, []).append(res.to_run())
        rows["pool"] = {k: v for k, v in pool.metrics.items() if k.startswith(("pass@", "maj@"))}
        full = results[f"maj@{args.samples}"].metrics
        adapt = results["adaptive"].metrics
        used = [replay(r["answers"], "beta", batch=2, max_samples=args.samples) for r in pool.records]
        rows["adaptive_vs_fixed"] = {
            "accuracy_adaptive": adapt["lenient_accuracy"], f"accuracy_maj@{args.samples}": full["lenient_accuracy"],
            "accuracy_gap_points": round(100 * (adapt["lenient_accuracy"] - full["lenient_accuracy"]), 2),
            "samples_adaptive_mean": adapt["samples_per_question_mean"], "samples_fixed": args.samples,
            "sample_reduction_x": round(args.samples / adapt["samples_per_question_mean"], 2),
            "samples_used_per_question": used,
            "stopped_early": sum(u < args.samples for u in used),
        }
        rows["wall_s"] = {"greedy+cot": round(t_greedy, 1), "sample_pool": round(t_pool, 1),
                          "sample_pool_tokens_per_s": pool.metrics.get("tokens_per_s")}
        out["tasks"][task] = rows
        print(f"\n== {task} ({len(examples)} questions; pool {t_pool:.0f}s, greedy+cot {t_greedy:.0f}s)")
        print(f"{'strategy':22} {'lenient':>8} {'strict':>7} {'format':>7} {'tokens/q':>9} {'samples/q':>9}")
        for name in results:
            m = rows[name]
            print(f"{name:22} {m['lenient_accuracy']:8.3f} {m['strict_accuracy']:7.3f} {m['format_rate']:7.3f} "
                  f"{m['output_tokens_mean']:9.1f} {m['samples_per_question_mean']:9.1f}")
        print(f"pool: {rows['pool']}")
        print(f"adaptive vs maj@{args.samples}: {rows['adaptive_vs_fixed']}", flush=True)

    out["config"] = {k: v for k, v in vars(args).items() if k != "out"}
    out["machine"] = {
        "platform": platform.platform(), "torch": torch.__version__, "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "shared": "2-core machine shared with other helpers' jobs (tests, training); loadavg shows how busy",
    }
    out["method"] = ("sampling strategies replay one shared pool of samples per question through the real "
                     "strategy code (ReplayEngine); greedy and cot are separate greedy runs")
    out["note"] = args.note
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    report_dir = Path(args.out).with_name(Path(args.out).stem + "_report")
    for task, task_runs in runs.items():
        rows = out["tasks"][task]
        extra = {f"adaptive vs fixed maj@{args.samples}": json.dumps(rows["adaptive_vs_fixed"], indent=1),
                 "sample pool (pass@k: oracle ceiling)": json.dumps(rows["pool"]),
                 "method": out["method"], "machine": json.dumps(out["machine"]), "note": args.note}
        md, html = write_report(task_runs, report_dir / task, f"Inference-time scaling on the default model: {task}",
                                extra_sections=extra)
        print(f"wrote {html}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
