"""Journey vs shortcut learning at the same budget, on the word-problem task.

    python benchmarks/journey.py

The same training questions (2-4 step word problems), the same number of rows and steps: the shortcut set
is the gold step-by-step solutions; the journey set turns half of them into journeys (one step slips, the
next line checks it and corrects it, the gold path continues: `thinktune data journey --ratio 0.5`).
Each is a full fine-tune of the base default model. Held-out: test-split questions, greedy. From the
outputs it counts how often the model writes a check line, whether the value it corrects to is right, how
many wrong equations it leaves standing, and its accuracy.
Writes benchmarks/results/journey.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

EQUATION = re.compile(r"(-?\d+) ([-+*/]) (-?\d+) = (-?\d+)")
CHECK = re.compile(r"Check: (-?\d+) ([-+*/]) (-?\d+) = (-?\d+), not (-?\d+)")


def value(a: str, op: str, b: str) -> int | None:
    x, y = int(a), int(b)
    if op == "/":
        return x // y if y and x % y == 0 else None
    return {"+": x + y, "-": x - y, "*": x * y}[op]


def audit(thinking: str | None) -> dict[str, int]:
    """What one output's thinking does: check lines, checks whose corrected value is right, the equations
    it leaves wrong (a wrong result not followed by a check of it), and slips it made and caught."""
    lines = (thinking or "").splitlines()
    checks = right_checks = wrong_left = caught = 0
    for i, line in enumerate(lines):
        m = CHECK.search(line)
        if m:
            checks += 1
            right_checks += value(m.group(1), m.group(2), m.group(3)) == int(m.group(4))
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        for e in EQUATION.finditer(line):
            if value(e.group(1), e.group(2), e.group(3)) != int(e.group(4)):
                if CHECK.search(nxt):
                    caught += 1
                else:
                    wrong_left += 1
    return {"checks": checks, "right_checks": right_checks, "wrong_left": wrong_left, "caught": caught}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--per-steps", type=int, default=64, help="training questions per step count (2, 3, 4)")
    p.add_argument("--held-out-per-steps", type=int, default=40)
    p.add_argument("--ratio", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--out", default="runs/bench_journey")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "journey"))
    args = p.parse_args()

    from thinktune.data.journey import build_journey
    from thinktune.data.readers import write_examples
    from thinktune.evaluation.config import EvalJobConfig
    from thinktune.evaluation.harness import strict_verdicts
    from thinktune.evaluation.metrics import paired_comparison
    from thinktune.format import parse
    from thinktune.jobs import load_job_config, run_job
    from thinktune.reporter import TqdmReporter
    from thinktune.tasks import load_task

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep = TqdmReporter()
    train = [ex for s in (2, 3, 4) for ex in load_task("word_problems", split="train", n=args.per_steps, seed=3, steps=s)]
    held_out = [ex for s in (2, 3, 4) for ex in load_task("word_problems", split="test", n=args.held_out_per_steps,
                                                            seed=3, steps=s)]
    for ex in (*train, *held_out):  # ids are per steps value: make them unique across the mix
        ex.meta["id"] = f"{ex.meta['id']}-steps{ex.meta.get('steps')}"
    journey = build_journey(train, ratio=args.ratio, seed=0)
    sets = {"shortcut": train, "journey": journey}
    write_examples(held_out, out / "held_out.jsonl")
    info, evals, verdicts, audits = {}, {}, {}, {}
    for name, rows in sets.items():
        write_examples(rows, out / f"train_{name}.jsonl")
        cfg = load_job_config("sft", None, [f"model={args.model}", f"data={out / f'train_{name}.jsonl'}",
                                            "val_fraction=0", f"max_steps={args.steps}", "batch_size=8",
                                            "learning_rate=1e-4", "lora.enabled=false", "max_length=384",
                                            "save_steps=0", "seed=0", f"output_dir={out / f'sft_{name}'}"])
        t = time.perf_counter()
        trained = run_job("sft", cfg, rep)
        info[name] = {"rows": len(rows), "journey_rows": sum(r.meta.get("journey") == "injected_slip" for r in rows),
                      "train_s": round(time.perf_counter() - t, 1), "final_loss": trained.metrics.get("final_loss"),
                      "train_chars_per_row": sum(len(r.reasoning or "") for r in rows) / len(rows)}
    for name, model in {"base": args.model, "shortcut": str(out / "sft_shortcut"),
                        "journey": str(out / "sft_journey")}.items():
        ecfg = EvalJobConfig(model=model, task=f"jsonl:{out / 'held_out.jsonl'}", limit=len(held_out),
                             max_new_tokens=256, batch_size=12, output_dir=str(out / "eval" / name), label=name)
        result = run_job("eval", ecfg, rep)
        evals[name] = result.metrics
        records = [json.loads(line) for line in (result.folder / "samples.jsonl").read_text().splitlines() if line.strip()]
        verdicts[name] = strict_verdicts(result.folder)
        per = []
        for r in records:
            text = (r.get("completions") or [""])[0]
            a = audit(parse(text).thinking)
            a["correct"] = bool(r["correct_strict"])
            per.append(a)
        n = len(per)
        with_check = [a for a in per if a["checks"]]
        audits[name] = {
            "outputs": n, "with_check": len(with_check), "check_lines": sum(a["checks"] for a in per),
            "right_checks": sum(a["right_checks"] for a in per), "caught": sum(a["caught"] for a in per),
            "wrong_left": sum(a["wrong_left"] for a in per),
            "outputs_with_wrong_left": sum(bool(a["wrong_left"]) for a in per),
            "accuracy_with_check": (sum(a["correct"] for a in with_check) / len(with_check)) if with_check else None,
            "accuracy_without_check": (sum(a["correct"] for a in per if not a["checks"]) / max(1, n - len(with_check))),
        }
    paired = paired_comparison(verdicts["shortcut"], verdicts["journey"])
    result = {"model": args.model, "train_questions": len(train), "held_out": len(held_out), "ratio": args.ratio,
              "steps": args.steps, "sets": info, "evals": evals, "audits": audits, "journey_vs_shortcut": paired,
              "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
    Path(args.results + ".json").write_text(json.dumps(result, indent=2, default=str))
    Path(args.results + ".md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    t = r["journey_vs_shortcut"]
    lines = [
        "# Journey vs shortcut learning (word problems, same budget)", "",
        f"Command: `python benchmarks/journey.py` ({r['date']}), base model `{r['model']}`, 2 CPU cores.",
        f"- Training: the same {r['train_questions']} train-split questions (2, 3 and 4 steps, a third each), "
        f"{r['steps']} steps x 8 rows, full fine-tune, lr 1e-4, seed 0. Journey set: {r['sets']['journey']['journey_rows']} "
        f"of the rows (ratio {r['ratio']}) hold one slip, its check line and the correction.",
        f"- Held-out: {r['held_out']} test-split questions, greedy, 256 new tokens.", "",
        "| model | train s | thinking chars/row | strict acc | format | tokens/q | outputs with a check | checks | "
        "corrected value right | slips caught | wrong equations left | acc. with a check | acc. without |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in r["evals"].items():
        s, a = r["sets"].get(name), r["audits"][name]
        acc_check = "–" if a["accuracy_with_check"] is None else f"{a['accuracy_with_check']:.1%}"
        lines.append(
            f"| {name} | {s['train_s'] if s else '–'} | {format(s['train_chars_per_row'], '.0f') if s else '–'} | "
            f"{m['strict_accuracy']:.1%} | {m['format_rate']:.1%} | {m['output_tokens_mean']:.1f} | "
            f"{a['with_check']}/{a['outputs']} | {a['check_lines']} | {a['right_checks']} | {a['caught']} | "
            f"{a['wrong_left']} | {acc_check} | {a['accuracy_without_check']:.1%} |")
    lines += ["", f"Journey vs shortcut, paired on the same questions: {t['delta_points']:+.1f} points "
                  f"({t['wins']} wins, {t['losses']} losses), McNemar p = {t['p_value']:.3f}.", "",
              "- *checks*: lines `Check: a op b = c, not d`; *corrected value right*: c really is a op b; *slips "
              "caught*: wrong equations followed at once by a check; *wrong equations left*: wrong results no check "
              "follows (counted on every equation in the thinking)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
