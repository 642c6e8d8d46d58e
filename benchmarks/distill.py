"""Distillation, measured: a student trained on rejection-sampled teacher traces vs on unfiltered teacher
traces vs on the gold solver's traces, same number of rows, same steps; held-out accuracy with paired tests.

    python benchmarks/distill.py --teacher runs/compare/variants/reasoning      # after `thinktune compare`

Teacher: the quickstart's reasoning variant. Student: the base default model. Questions: the quickstart's
task (sums of 1-4 two-digit operands), fresh train-split questions for distillation and a disjoint
test-split held-out set. One `thinktune distill` job samples the teacher; the unfiltered set is the same
samples re-judged without the verifier (rerunning the job with `verify: false` re-judges the saved samples,
asking the teacher nothing), so both sets come from the very same teacher outputs.
Writes benchmarks/results/distill.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="runs/compare/variants/reasoning")
    p.add_argument("--student", default="default")
    p.add_argument("--per-ops", type=int, default=40, help="distill questions per ops value (1-4)")
    p.add_argument("--held-out-per-ops", type=int, default=30)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--out", default="runs/bench_distill")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "distill"))
    args = p.parse_args()

    from thinktune.data.readers import read_examples, write_examples
    from thinktune.distill.config import DistillConfig
    from thinktune.evaluation.config import EvalJobConfig
    from thinktune.evaluation.harness import strict_verdicts
    from thinktune.evaluation.metrics import paired_comparison
    from thinktune.jobs import load_job_config, run_job
    from thinktune.reporter import TqdmReporter
    from thinktune.tasks import load_task

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep = TqdmReporter()
    opts = {"digits": 2, "operators": "+"}
    questions = [ex for ops in (1, 2, 3, 4) for ex in load_task("arithmetic", split="train", n=args.per_ops, seed=11,
                                                                  ops=ops, **opts)]
    held_out = [ex for ops in (1, 2, 3, 4) for ex in load_task("arithmetic", split="test", n=args.held_out_per_ops,
                                                                 seed=11, ops=ops, **opts)]
    for ex in (*questions, *held_out):  # ids are per ops value: make them unique across the mix
        ex.meta["ops"] = len(ex.meta["operators"])
        ex.meta["id"] = f"{ex.meta['id']}-ops{ex.meta['ops']}"
    write_examples(questions, out / "questions.jsonl")
    write_examples(held_out, out / "held_out.jsonl")

    # 1. the teacher's samples, rejection-sampled (verified, strict format, shortest first, 1 per question)
    t0 = time.perf_counter()
    dcfg = DistillConfig(teacher=args.teacher, task=None, data=str(out / "questions.jsonl"), questions=len(questions),
                         samples=args.samples, keep=1, prefer="shortest", category_key="ops", max_new_tokens=160,
                         temperature=0.8, output_dir=str(out / "distill"))
    run_job("distill", dcfg, rep)
    distill_s = time.perf_counter() - t0
    shutil.copy(out / "distill" / "data.jsonl", out / "verified.jsonl")
    verified_report = json.loads((out / "distill" / "report.json").read_text())
    # 2. the same samples, unfiltered: no verifier, lenient format, the first sample of each question
    run_job("distill", dataclasses.replace(dcfg, verify=False, strict_format=False, prefer="first"), rep)
    shutil.copy(out / "distill" / "data.jsonl", out / "unfiltered.jsonl")
    unfiltered_report = json.loads((out / "distill" / "report.json").read_text())
    run_job("distill", dcfg, rep)  # leave the folder as the verified run wrote it

    sets = {"verified": read_examples(out / "verified.jsonl"), "unfiltered": read_examples(out / "unfiltered.jsonl"),
            "gold": [dataclasses.replace(ex, meta={**ex.meta, "verified": True}) for ex in questions]}
    rows = min(len(v) for v in sets.values())
    if rows == 0:
        raise SystemExit(f"no verified rows: the teacher {args.teacher} answered none of the questions right")
    info: dict[str, dict] = {}
    for name, examples in sets.items():  # R rows drawn evenly from each set (one seed for all)
        chosen = random.Random(0).sample(examples, rows)
        write_examples(chosen, out / f"train_{name}.jsonl")
        info[name] = {"rows": len(chosen), "rows_correct": sum(bool(e.meta.get("verified")) for e in chosen) / len(chosen),
                      "thinking_chars": sum(len(e.reasoning or "") for e in chosen) / len(chosen)}

    # 3. the students: same rows, steps, settings (the quickstart's full fine-tune)
    evals: dict[str, dict] = {}
    verdicts: dict[str, dict] = {}
    models = {"base (student)": args.student, "teacher": args.teacher}
    for name in sets:
        sft_out = out / f"sft_{name}"
        cfg = load_job_config("sft", None, [f"model={args.student}", f"data={out / f'train_{name}.jsonl'}",
                                            "val_fraction=0", f"max_steps={args.steps}", "batch_size=8",
                                            "learning_rate=1e-4", "lora.enabled=false", "max_length=256",
                                            "save_steps=0", "seed=0", f"output_dir={sft_out}"])
        t = time.perf_counter()
        trained = run_job("sft", cfg, rep)
        info[name]["train_s"] = round(time.perf_counter() - t, 1)
        info[name]["final_loss"] = trained.metrics.get("final_loss")
        models[f"student on {name}"] = str(sft_out)
    for label, model in models.items():
        safe = label.replace(" ", "_").replace("(", "").replace(")", "")
        ecfg = EvalJobConfig(model=model, task=f"jsonl:{out / 'held_out.jsonl'}", limit=len(held_out), max_new_tokens=160,
                             batch_size=12, output_dir=str(out / "eval" / safe), label=label)
        result = run_job("eval", ecfg, rep)
        evals[label] = result.metrics
        verdicts[label] = strict_verdicts(result.folder)

    tests = {f"verified vs {other}": paired_comparison(verdicts[f"student on {other}"], verdicts["student on verified"])
             for other in ("unfiltered", "gold")}
    tests["unfiltered vs gold"] = paired_comparison(verdicts["student on gold"], verdicts["student on unfiltered"])
    result = {"teacher": args.teacher, "student": args.student, "questions": len(questions), "held_out": len(held_out),
              "samples_per_question": args.samples, "steps": args.steps, "rows": rows, "distill_s": round(distill_s, 1),
              "verified_report": verified_report, "unfiltered_report": unfiltered_report, "sets": info, "evals": evals,
              "paired": tests, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
    Path(args.results + ".json").write_text(json.dumps(result, indent=2, default=str))
    Path(args.results + ".md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    v, u = r["verified_report"], r["unfiltered_report"]
    lines = [
        "# Distillation: rejection-sampled vs unfiltered vs gold traces", "",
        f"Command: `python benchmarks/distill.py` ({r['date']}). Teacher `{r['teacher']}` (the quickstart's reasoning "
        f"variant), student `{r['student']}` (the base model). 2 CPU cores.",
        f"- Teacher sampling: {r['questions']} train-split questions (sums of 1-4 two-digit numbers, {r['questions'] // 4} "
        f"each) x {r['samples_per_question']} samples at temperature 0.8: {v['samples']} samples, "
        f"{v['teacher_tokens']:,} tokens, {r['distill_s']:.0f} s. Correct {v['correct_rate']:.1%}, well-formed "
        f"{v['format_rate']:.1%}; **acceptance {v['acceptance_rate']:.1%}** (verified + strict format + no duplicate); "
        f"{v['rows']} verified rows from {v['questions_with_rows']} questions.",
        f"- The unfiltered set is the same samples without the verifier: {u['rows']} rows (the first formed sample of "
        f"each question), {u['correct_rate']:.1%} of all samples right.",
        f"- Each student: {r['rows']} rows (a seeded random draw from each set), {r['steps']} steps x 8 rows, "
        "full fine-tune, lr 1e-4, seed 0. Held-out: "
        f"{r['held_out']} test-split questions (disjoint), greedy, 160 new tokens.", "",
        "| model | training rows | rows with a right answer | thinking chars/row | train s | strict acc | format | tokens/q |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, m in r["evals"].items():
        key = label.removeprefix("student on ")
        s = r["sets"].get(key) if label.startswith("student on") else None
        lines.append(f"| {label} | {s['rows'] if s else '–'} | {format(s['rows_correct'], '.1%') if s else '–'} | "
                     f"{format(s['thinking_chars'], '.0f') if s else '–'} | {s['train_s'] if s else '–'} | "
                     f"{m['strict_accuracy']:.1%} | {m['format_rate']:.1%} | {m['output_tokens_mean']:.1f} |")
    lines += ["", "Paired on the same held-out questions (McNemar, two-sided exact):", "",
              "| comparison | Δ points | wins | losses | p |", "|---|---:|---:|---:|---:|"]
    for name, t in r["paired"].items():
        lines.append(f"| {name} | {t['delta_points']:+.1f} | {t['wins']} | {t['losses']} | {t['p_value']:.3f} |")
    lines += ["", "Acceptance by difficulty (teacher samples):", "", "| ops | samples | correct | accepted | rows |",
              "|---|---:|---:|---:|---:|"]
    for ops, c in v["by_category"].items():
        lines.append(f"| {ops} | {c['samples']} | {c['correct_rate']:.1%} | {c['acceptance_rate']:.1%} | {c['rows']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
