"""Continuous fine-tuning on the tiny model: traces scored by the verifier, a judge and feedback; curation
with a teacher and the held-out leak check; a round as a job that resumes after a cancel; the gate that
keeps the old model when the new one is not better; rollback; the registry served by name."""

from __future__ import annotations

import json

import pytest

from thinktune import cli
from thinktune.flywheel import gate
from thinktune.flywheel.curate import curate, gold_teacher
from thinktune.flywheel.scoring import judge_scores, parse_judgement, verifier_scores
from thinktune.flywheel.traces import add_scores, filter_traces, load_traces
from thinktune.inference.base import Completion
from thinktune.jobs import load_job_config, run_job
from thinktune.reporter import Reporter
from thinktune.tasks import load_task

OPTS = {"ops": 1, "digits": 1}


def train_questions(n=8):
    return load_task("arithmetic", split="train", n=n, seed=0, **OPTS)


def held_out(n=4):
    return load_task("arithmetic", split="test", n=n, seed=0, **OPTS)


def half_right(examples):
    """(question, answer, thinking): even rows right, odd rows wrong."""
    return [(ex.question, ex.answer if i % 2 == 0 else "-1", "some steps") for i, ex in enumerate(examples)]


def test_verifier_feedback_and_scores_side_by_side(tmp_path, write_traces):
    ids = write_traces(tmp_path, half_right(train_questions()) + [("an unknown question", "3", None)])
    traces = load_traces(tmp_path)
    scores = verifier_scores(traces, train_questions())
    assert [s["score"] for s in scores] == [1.0, 0.0] * 4  # the unknown question is not scored
    add_scores(tmp_path, scores)
    add_scores(tmp_path, [{"trace_id": ids[0], "scorer": "judge", "score": 0.5, "detail": {}}])
    (tmp_path / "feedback.jsonl").write_text(json.dumps({"trace_id": ids[0], "score": 0.0}) + "\n")
    first = load_traces(tmp_path)[0]
    assert first.score("verifier") == 1.0 and first.score("judge") == 0.5 and first.score("feedback") == 0.0
    assert len(filter_traces(load_traces(tmp_path), scorer="verifier", min_score=1.0)) == 4
    assert cli.main(["traces", "export", "--home", str(tmp_path), "--scorer", "verifier", "--min-score", "1",
                     "--out", str(tmp_path / "out.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["source"].startswith("trace:") for r in rows)


class ScriptedJudge:
    """Good, malformed and failing judge replies, in turn."""

    def __init__(self, replies):
        self.replies = list(replies)

    def generate(self, prompts, params):
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return [[Completion(reply, 5, reasoning="checked the sum")]]


def test_the_judge_scores_what_it_can_and_reports_the_rest(tmp_path, write_traces):
    write_traces(tmp_path, half_right(train_questions(4)))
    judge = ScriptedJudge(['{"score": 0.9, "feedback": "right"}', "looks fine to me", TimeoutError("slow"),
                           '{"score": 3}'])
    scores, problems = judge_scores(load_traces(tmp_path), judge, "correct answers score 1")
    assert [s["score"] for s in scores] == [0.9] and scores[0]["detail"]["reasoning"] == "checked the sum"
    assert len(problems) == 3 and "judge failed (TimeoutError: slow)" in problems[1]
    assert parse_judgement('{"score": 1, "feedback": "ok"} {"score": 0.2}') == (0.2, None)


def test_curation_rewrites_with_a_teacher_and_never_admits_a_held_out_question(tmp_path, write_traces):
    leaked = [(ex.question, ex.answer, "steps") for ex in held_out(2)]
    write_traces(tmp_path, half_right(train_questions()) + leaked)
    add_scores(tmp_path, verifier_scores(load_traces(tmp_path), train_questions() + held_out(2)))
    curated = curate(load_traces(tmp_path), threshold=1.0, scorer="verifier", held_out=held_out(4),
                     existing=train_questions()[:1], teacher=gold_teacher(train_questions()))
    counts = curated.counts()
    assert counts["dropped_held_out"] == 2 and counts["dropped_duplicate"] == 1
    assert counts["kept"] == 3 and counts["rewritten"] == 4
    held = {ex.question for ex in held_out(4)}
    assert not any(ex.question in held for ex in curated.examples)
    assert all(ex.reasoning for ex in curated.examples)  # the teacher's gold steps replace the wrong answers


class CancelWhenTraining(Reporter):
    def begin(self, title, total=None, unit="step", initial=0):
        if title.startswith("sft"):
            self.cancel()


def round_config(tmp_path, base, **extra):
    overrides = [f"home={tmp_path / 'fw'}", f"model={base}", f"traces={tmp_path / 'serve'}",
                 f"reference_options={json.dumps(OPTS)}", f"held_out_options={json.dumps(OPTS)}",
                 "held_out_size=4", "reference_size=150", "max_new_tokens=4", "teacher=gold", "progress=false",
                 "sft={max_steps: 2, batch_size: 2, max_length: 128, save_steps: 1, learning_rate: 0.001}",
                 *[f"{k}={v}" for k, v in extra.items()]]
    return load_job_config("flywheel", None, overrides)


@pytest.fixture
def base_model(tmp_path, tokenizer):
    from thinktune.models import tiny_model

    model, tok = tiny_model(tokenizer, seed=0)
    model.save_pretrained(str(tmp_path / "base"))
    tok.save_pretrained(str(tmp_path / "base"))
    return tmp_path / "base"


def test_a_round_resumes_after_a_cancel_and_a_failing_gate_keeps_the_served_model(tmp_path, base_model, write_traces):
    write_traces(tmp_path / "serve", half_right(train_questions()))
    cfg = round_config(tmp_path, base_model, margin=1.0)  # no model can gain 100 points: the gate must say keep
    first = run_job("flywheel", cfg, CancelWhenTraining())
    assert first.status == "cancelled" and (first.folder / "data" / "phase.json").is_file()
    scores_after_first = (tmp_path / "serve" / "scores.jsonl").read_text()

    again = run_job("flywheel", cfg)
    assert again.folder == first.folder and again.status == "succeeded"  # the same round, resumed
    assert (tmp_path / "serve" / "scores.jsonl").read_text() == scores_after_first  # scoring was not redone
    assert again.metrics["decision"] == "kept" and "below the margin" in again.metrics["why"]
    reg = gate.load_registry(tmp_path / "fw")
    assert reg["current"] == "v0" and reg["versions"]["v0"]["model"] == str(base_model)
    assert reg["history"][-1]["decision"] == "kept" and reg["history"][-1]["version"] == "v1"
    lineage = json.loads((again.folder / "data" / "snapshots" / again.metrics["snapshot"] / "lineage.json").read_text())
    assert lineage["kept"] == 4 and lineage["rewritten"] == 4 and lineage["scorers"] == ["verifier"]


def test_promote_and_rollback_move_the_served_version(tmp_path, base_model):
    gate.init_registry(tmp_path, "reasoning", str(base_model))
    gate.record_round(tmp_path, {"round": 1, "metrics": {"gain": 0.1}}, "runs/new/final", True)
    assert gate.current_model(tmp_path) == "runs/new/final"
    assert cli.main(["flywheel", "rollback", "--home", str(tmp_path)]) == 0
    assert gate.current_model(tmp_path) == str(base_model)
    with pytest.raises(ValueError, match="was not promoted by a round"):
        gate.rollback(tmp_path)
    decision = gate.decide([True, False, False, False] * 5, [True, True, True, False] * 5, margin=0.05)
    assert decision.promote and decision.only_new == 10 and decision.p_value < 0.01


def test_the_registry_is_served_under_its_name(tmp_path, base_model):
    from thinktune.serve.models import load_served

    gate.init_registry(tmp_path, "mathbot", str(base_model))
    served = load_served([f"registry:{tmp_path}"])
    try:
        assert list(served) == ["mathbot"] and served["mathbot"].spec == str(base_model)
    finally:
        served["mathbot"].batcher.close()
