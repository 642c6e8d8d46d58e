"""A measured continuous fine-tuning loop on the default model, on CPU.

    python benchmarks/flywheel.py --model runs/compare/variants/reasoning --data runs/compare/data/train.jsonl

1. Serve the quickstart's reasoning variant (`thinktune serve`'s app, in this process, traces on).
2. Send it `--questions` problems of the quickstart's kind (1-4 additions of 2-digit numbers, the task's
   train split, none from the held-out split) through the official `openai` client, 16 at a time.
3. One flywheel round (`thinktune.flywheel.round`): score the traces by the verifier; curate the correct
   ones plus teacher-corrected wrong ones (the teacher is the task's gold solver, as in the distillation
   recipes); add them to the variant's own training rows; retrain from the variant; gate on a fixed
   held-out set (the task's test split, which no trace came from) with the paired McNemar test.
4. Report accuracy before and after, the paired counts, p and the decision: table + JSON in
   benchmarks/results/flywheel.{md,json}.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MIX = {"digits": 2, "operators": "+"}


def problems(split: str, per_ops: int, seed: int) -> list:
    from thinktune.tasks import load_task

    rows = []
    for ops in (1, 2, 3, 4):
        rows += load_task("arithmetic", split=split, n=per_ops, seed=seed, ops=ops, **MIX)
    return rows


def write_jsonl(path: Path, examples: list) -> None:
    path.write_text("".join(json.dumps({"question": e.question, "answer": e.answer, "reasoning": e.reasoning}) + "\n"
                            for e in examples), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="runs/compare/variants/reasoning", help="the served (current) model")
    p.add_argument("--data", default="runs/compare/data/train.jsonl", help="the rows it was trained on")
    p.add_argument("--questions", type=int, default=200, help="problems sent to the server (4 difficulty levels)")
    p.add_argument("--held-out", type=int, default=100, help="held-out problems for the gate")
    p.add_argument("--steps", type=int, default=30, help="retraining steps")
    p.add_argument("--lr", type=float, default=5e-5, help="retraining learning rate (full fine-tune)")
    p.add_argument("--work", default="runs/flywheel-bench", help="work folder")
    p.add_argument("--out", default=str(RESULTS), help="results folder")
    args = p.parse_args(argv)

    import openai

    from thinktune.flywheel.config import FlywheelConfig
    from thinktune.flywheel.round import run as run_round
    from thinktune.reporter import TqdmReporter
    from thinktune.serve import ServerSettings, ServerThread, create_app, load_served

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    asked = problems("train", args.questions // 4, seed=7)  # seed 7: other problems than the variant trained on
    held = problems("test", args.held_out // 4, seed=0)
    write_jsonl(work / "reference.jsonl", asked)
    write_jsonl(work / "held_out.jsonl", held)

    t0 = time.perf_counter()
    models = load_served([f"reasoning={args.model}"], max_batch_rows=32)
    app = create_app(models, ServerSettings(home=work / "serve", max_tokens=512))
    server = ServerThread(app)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=3600)
    done = [0]

    def ask(ex) -> None:
        client.chat.completions.create(model="reasoning", messages=[{"role": "user", "content": ex.question}],
                                       max_tokens=160, temperature=0)
        done[0] += 1

    served_before = len((work / "serve" / "traces.jsonl").read_text().splitlines()) \
        if (work / "serve" / "traces.jsonl").is_file() else 0
    if served_before < len(asked):  # a rerun does not ask again
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(ask, asked[served_before:]))
    serve_s = time.perf_counter() - t0
    server.stop()
    models["reasoning"].batcher.close()
    print(f"served {len(asked)} questions in {serve_s:.0f} s", flush=True)

    cfg = FlywheelConfig(
        home=str(work / "fw"), name="reasoning", model=args.model, traces=str(work / "serve"),
        reference=f"jsonl:{work / 'reference.jsonl'}", reference_split="test", reference_size=len(asked),
        held_out=f"jsonl:{work / 'held_out.jsonl'}", held_out_split="test", held_out_size=len(held),
        threshold=1.0, teacher="gold", existing_data=args.data, alpha=0.05, margin=0.0, max_new_tokens=160,
        sft={"max_steps": args.steps, "batch_size": 8, "learning_rate": args.lr, "max_length": 256,
             "lora": {"enabled": False}, "save_steps": 10},
        output_dir=str(work / "round-1"))
    t1 = time.perf_counter()
    result = run_round(cfg, TqdmReporter())
    round_s = time.perf_counter() - t1
    m = result.metrics
    row = {"questions_served": len(asked), "serve_s": round(serve_s, 1), "round_s": round(round_s, 1),
           "traces_correct_kept": m.get("kept"), "teacher_rewritten": m.get("rewritten"),
           "dropped": {k: v for k, v in m.items() if k.startswith("dropped_")}, "train_rows": m.get("rows"),
           "held_out": m.get("held_out"), "accuracy_before": m.get("old_accuracy"),
           "accuracy_after": m.get("new_accuracy"), "only_before": m.get("only_old"), "only_after": m.get("only_new"),
           "p_value": m.get("p_value"), "decision": m.get("decision"), "why": m.get("why"),
           "model": args.model, "steps": args.steps, "lr": args.lr, "load": os.getloadavg()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "flywheel.json").write_text(json.dumps(row, indent=2))
    lines = [
        "# Continuous fine-tuning, one measured round", "",
        f"`python benchmarks/flywheel.py --model {args.model} --data {args.data} --questions {args.questions} "
        f"--held-out {args.held_out} --steps {args.steps} --lr {args.lr}` (2 CPU cores).", "",
        "| | value |", "|---|---:|",
        f"| questions served (train split, 1-4 additions) | {len(asked)} in {serve_s:.0f} s |",
        f"| correct traces kept (verifier) | {m.get('kept')} |",
        f"| wrong traces corrected by the teacher (gold solver) | {m.get('rewritten')} |",
        f"| rows in the new version (the variant's {m.get('rows', 0) - m.get('new_rows', 0)} + new) | {m.get('rows')} |",
        f"| held-out questions (test split, no trace from it) | {m.get('held_out')} |",
        f"| greedy strict accuracy before → after | {m.get('old_accuracy', 0):.1%} → {m.get('new_accuracy', 0):.1%} |",
        f"| right only before / only after | {m.get('only_old')} / {m.get('only_new')} |",
        f"| one-sided McNemar p | {m.get('p_value', 1):.3g} |",
        f"| decision | **{m.get('decision')}** |",
        f"| round wall time (score, curate, train {args.steps} steps, two evaluations) | {round_s:.0f} s |", "",
        f"Gate: {m.get('why')}", ""]
    (out / "flywheel.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
