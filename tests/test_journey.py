"""Journey learning rows: a slip injected into a checkable step, caught by the next line, corrected; the
rows read as reasoning rows, their answers verify, the ratio holds; attempts-based rows; the CLI."""

from __future__ import annotations

import json
import random

import pytest

from thinktune import cli
from thinktune.data.journey import build_journey, caught_slips, from_attempts, inject_slip
from thinktune.data.validate import validate_file
from thinktune.tasks import check_answer, load_task


@pytest.mark.parametrize(("task", "options"), [("arithmetic", {"ops": 3}), ("word_problems", {"steps": 3})])
def test_an_injected_slip_is_caught_at_once_and_corrected(task, options):
    rng = random.Random(0)
    for ex in load_task(task, split="train", n=30, seed=0, **options):
        row = inject_slip(ex, rng)
        lines = row.reasoning.splitlines()
        i = row.meta["slip_line"]
        wrong, right = row.meta["slip"]["wrong"], row.meta["slip"]["right"]
        assert wrong != right and lines[i].endswith((str(wrong), f"{wrong} {lines[i].split()[-1]}"))
        assert lines[i + 1].startswith("Check:") and f"= {right}, not {wrong}" in lines[i + 1]
        assert lines[i + 2:] == ex.reasoning.splitlines()[i:]  # the corrected path is the gold one
        assert row.answer == ex.answer and check_answer(row, row.answer) == 1.0
        assert caught_slips(row.reasoning) == 1 and caught_slips(ex.reasoning) == 0


def test_journey_rows_validate_as_reasoning_rows_and_the_ratio_holds(tmp_path):
    examples = load_task("word_problems", split="train", n=200, seed=0, steps=2)
    rows = build_journey(examples, ratio=0.3, seed=1)
    share = sum(r.meta["journey"] == "injected_slip" for r in rows) / len(rows)
    assert 0.2 < share < 0.4 and [r.question for r in rows] == [e.question for e in examples]
    out = tmp_path / "journey.jsonl"
    assert cli.main(["data", "journey", "--task", "arithmetic", "--task-option", "ops=2", "--n", "40",
                     "--ratio", "1", "--out", str(out)]) == 0
    report = validate_file(str(out), job="reasoning")
    assert report.ok and report.n_valid == 40 and report.n_without_reasoning == 0
    for line in out.read_text().splitlines():
        row = json.loads(line)
        assert "Check:" in row["reasoning"]
    with pytest.raises(ValueError, match="ratio"):
        build_journey(examples, ratio=1.5)


def test_a_journey_from_two_attempts_keeps_the_right_answer():
    row = from_attempts("What is 6 * 7?", "6 * 7 = 48", "48", "6 * 7 = 42", "42", verifier="numeric", source="s1")
    assert row.answer == "42" and row.reasoning.index("48") < row.reasoning.index("Let me redo it") < \
        row.reasoning.rindex("42")
    assert caught_slips(row.reasoning) == 1 and row.meta == {"source": "s1", "journey": "attempts"}


def test_journeys_from_a_distill_runs_samples_validate_and_verify(tmp_path):
    """A distill run's judged samples: questions with a wrong and a right sample become journeys (the
    wrong attempt, the check, the right one); only-right questions stay shortcuts; only-wrong ones vanish."""
    from thinktune.distill.config import DistillConfig
    from thinktune.distill.distill import judge_samples

    cfg = DistillConfig(task="arithmetic", verify=False)
    examples = load_task("arithmetic", split="train", n=30, seed=0, ops=2)
    run = tmp_path / "run"
    run.mkdir()
    with (run / "samples.jsonl").open("w") as f:
        for i, ex in enumerate(examples):
            wrong_answer = str(int(ex.answer) + 1)
            texts = [f"<think>\n{ex.reasoning.replace(ex.answer, wrong_answer)}\n</think>\n<answer>\n{wrong_answer}\n</answer>",
                     f"<think>\n{ex.reasoning}\n</think>\n<answer>\n{ex.answer}\n</answer>"]
            texts = texts[: 1 + (i % 3 != 2)] if i % 3 else texts[1:]  # wrong+right, right only, wrong only
            samples = judge_samples(ex, [{"text": t, "tokens": 5} for t in texts], cfg, lambda t: len(t.split()))
            f.write(json.dumps({"id": f"q{i}", "question": ex.question, "answer": ex.answer, "verifier": ex.verifier,
                                "samples": samples}) + "\n")
    out = tmp_path / "journey.jsonl"
    assert cli.main(["data", "journey", "--samples", str(run), "--ratio", "1", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [r["meta"]["journey"] for r in rows]
    assert kinds.count("attempts") == 10 and kinds.count("shortcut") == 10 and len(rows) == 20
    report = validate_file(str(out), job="reasoning")
    assert report.ok and report.n_valid == 20
    by_q = {ex.question: ex for ex in examples}
    for r in rows:
        assert check_answer(by_q[r["question"]], r["answer"]) == 1.0
        assert caught_slips(r["reasoning"]) == (r["meta"]["journey"] == "attempts")


def test_journeys_refuse_samples_that_are_not_a_distill_runs(tmp_path, capsys):
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps({"id": "q", "question": "2 + 2?", "completions": ["<answer>4</answer>"]}) + "\n")
    assert cli.main(["data", "journey", "--samples", str(path), "--out", str(tmp_path / "j.jsonl")]) == 2
    assert "not a distill/sample run" in capsys.readouterr().err and not (tmp_path / "j.jsonl").exists()
