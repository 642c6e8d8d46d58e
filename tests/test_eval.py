"""The evaluation harness: exact metrics on a scripted engine, the audit file, resume, the CLI end to end."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from thinktune.cli import main as cli_main
from thinktune.data.schema import Example
from thinktune.evaluation import evaluate
from thinktune.evaluation.harness import example_id
from thinktune.inference.engines.scripted import ScriptedEngine
from thinktune.io import read_jsonl
from thinktune.tasks import load_task

FIXTURE = Path(__file__).parent / "fixtures" / "eval" / "tiny_task.jsonl"
ANSWERS = {"1 divided by 2": "0.5", "2 + 3": "5", "4 * 6": "25", "10 - 7": "3", "1,000 + 24": "1024"}


def examples() -> list[Example]:
    return load_task(f"jsonl:{FIXTURE}")


def oracle_ish(prompt: str, k: int) -> str:
    """Well-formed answers, right except 4 * 6; the second sample of every question is unformatted."""
    answer = next(a for q, a in ANSWERS.items() if q in prompt)
    if k % 2 == 1:
        return f"I think it is {answer}"
    return f"<think>\nworking\n</think>\n<answer>\n{answer}\n</answer>"


def test_greedy_metrics_are_exact_on_a_scripted_engine():
    result = evaluate(ScriptedEngine(oracle_ish), examples(), "greedy", progress=False)
    m = result.metrics
    assert m["n_questions"] == 5 and m["strict_accuracy"] == 0.8 and m["lenient_accuracy"] == 0.8
    assert m["format_rate"] == 1.0 and m["samples_per_question_mean"] == 1
    assert "pass@1" not in m  # one greedy completion: no pass@k
    # scripted tokens: "<think>\nworking\n</think>\n<answer>\n0.5\n</answer>" is 6 words; thinking is 1
    assert m["output_tokens_mean"] == 6 and m["thinking_tokens_mean"] == 1 and m["answer_tokens_mean"] == 5
    half = result.records[0]
    assert half["id"] == "half" and half["gold"] == "1/2" and half["final_answer"] == "0.5"  # 0.5 == 1/2
    assert half["verdicts"] == [1.0] and half["prompt"][-1]["content"] == "What is 1 divided by 2?"


def test_sampling_metrics_pass_at_k_and_strict_vs_lenient():
    result = evaluate(ScriptedEngine(oracle_ish), examples(), "self_consistency", n=4, progress=False)
    m = result.metrics
    assert m["lenient_accuracy"] == 0.8 and m["strict_accuracy"] == 0.8
    assert m["format_rate"] == 0.5  # every other sample is unformatted
    assert m["pass@1"] == pytest.approx(0.8) and m["pass@4"] == pytest.approx(0.8) and m["maj@4"] == pytest.approx(0.8)
    rec = result.records[2]
    assert rec["well_formed"] == [True, False, True, False] and rec["strict_answers"][1] is None
    assert rec["answers"] == ["25"] * 4 and rec["verdicts"] == [0.0] * 4


def test_direct_prompts_read_answers_without_thinking():
    engine = ScriptedEngine(lambda prompt, k: "<answer>5</answer>")
    result = evaluate(engine, examples()[1:2], "greedy", reasoning=False, progress=False)
    assert result.metrics["strict_accuracy"] == 1.0 and result.metrics["thinking_tokens_mean"] == 0
    assert "no explanation" in engine.calls[0][0][0]  # the direct system prompt


def test_out_dir_has_audit_file_metrics_and_report(tmp_path):
    result = evaluate(ScriptedEngine(oracle_ish), examples(), "best_of_n", n=2, scorer="format",
                      out_dir=tmp_path, progress=False, label="bo2")
    rows = list(read_jsonl(tmp_path / "samples.jsonl"))
    assert [r["id"] for r in rows] == ["half", "sum", "product", "diff", "big"]
    assert all(len(r["completions"]) == 2 and r["chosen"] == 0 for r in rows)  # the formatted one wins
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["metrics"] == result.metrics and saved["label"] == "bo2"
    assert (tmp_path / "report.md").is_file() and "bo2" in (tmp_path / "report.html").read_text()


class _Crash(Exception):
    pass


class _CrashingEngine(ScriptedEngine):
    """Answers `crash_after` calls, then dies (an interrupted run)."""

    def __init__(self, crash_after: int) -> None:
        super().__init__(oracle_ish)
        self.crash_after = crash_after

    def generate(self, prompts, params):
        if len(self.calls) >= self.crash_after:
            raise _Crash
        return super().generate(prompts, params)


def test_interrupted_run_resumes_without_redoing_questions(tmp_path):
    with pytest.raises(_Crash):
        evaluate(_CrashingEngine(crash_after=2), examples(), "greedy", batch_size=2, out_dir=tmp_path, progress=False)
    assert len(list(read_jsonl(tmp_path / "samples.jsonl"))) == 4

    again = ScriptedEngine(oracle_ish)
    resumed = evaluate(again, examples(), "greedy", batch_size=2, out_dir=tmp_path, progress=False)
    assert [len(prompts) for prompts, _ in again.calls] == [1]  # only the fifth question was asked
    assert "1,000 + 24" in again.calls[0][0][0]
    clean = evaluate(ScriptedEngine(oracle_ish), examples(), "greedy", batch_size=2, progress=False)
    keep = ("strict_accuracy", "lenient_accuracy", "format_rate", "output_tokens_mean", "n_questions")
    assert {k: resumed.metrics[k] for k in keep} == {k: clean.metrics[k] for k in keep}
    assert len(list(read_jsonl(tmp_path / "samples.jsonl"))) == 5


def test_cot_records_the_prompt_it_sent_and_reads_in_the_reasoning_format():
    # CoT asks for <think>/<answer> whatever the run's `reasoning`: the record must say what was sent and read
    # the completions that way, so strict answers, format and strict accuracy agree with each other
    from thinktune.inference.strategies import COT_TRIGGER

    engine = ScriptedEngine(lambda prompt, k: "working\n</think>\n<answer>\n"
                            + next(a for q, a in ANSWERS.items() if q in prompt) + "\n</answer>")
    result = evaluate(engine, examples()[:2], "cot", reasoning=False, progress=False)
    for rec in result.records:
        assert rec["prompt"][-1] == {"role": "assistant", "content": "<think>\n"}
        assert rec["prompt"][-2]["content"].endswith(COT_TRIGGER)
        assert rec["well_formed"] == [True] and rec["strict_answers"] == [rec["final_strict_answer"]]
    assert result.metrics["format_rate"] == 1.0 and result.metrics["strict_accuracy"] == 1.0


def test_dtype_is_part_of_the_run_and_refused_where_it_cannot_apply(tmp_path):
    evaluate(ScriptedEngine(oracle_ish), examples()[:2], "greedy", out_dir=tmp_path, progress=False)
    assert json.loads((tmp_path / "eval.json").read_text())["dtype"] == "float32"
    with pytest.raises(ValueError, match="applies to models the hf engine loads"):
        evaluate(ScriptedEngine(oracle_ish), examples()[:2], "greedy", dtype="bfloat16", progress=False)
    with pytest.raises(ValueError, match="different settings .*dtype"):
        evaluate("tiny", examples()[:2], "greedy", dtype="bfloat16", out_dir=tmp_path, progress=False)


def test_labels_with_pipes_keep_the_markdown_table_aligned(tmp_path):
    import re

    evaluate(ScriptedEngine(oracle_ish), examples()[:2], "greedy", out_dir=tmp_path, progress=False, label="A|B <x>")
    table = [ln for ln in (tmp_path / "report.md").read_text().splitlines() if ln.startswith("|")]
    widths = {len(re.findall(r"(?<!\\)\|", ln)) for ln in table}
    assert len(table) >= 3 and len(widths) == 1


def test_resume_refuses_saved_answers_to_a_changed_example(tmp_path):
    # the same ids with another gold (say, other task options) must not reuse the saved verdicts
    evaluate(ScriptedEngine(oracle_ish), examples(), "greedy", batch_size=2, out_dir=tmp_path, progress=False)
    changed = [dataclasses.replace(ex, answer=ex.answer + "0") for ex in examples()]
    assert [example_id(a) for a in changed] == [example_id(b) for b in examples()]  # the premise
    with pytest.raises(ValueError, match="different example"):
        evaluate(ScriptedEngine(oracle_ish), changed, "greedy", batch_size=2, out_dir=tmp_path, progress=False)

    with pytest.raises(ValueError, match="different settings.*strategy"):
        evaluate(ScriptedEngine(oracle_ish), examples(), "cot", out_dir=tmp_path, progress=False)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="one completion per question"):
        evaluate(ScriptedEngine(oracle_ish), examples(), "greedy", n=4, progress=False)
    with pytest.raises(ValueError, match="unknown strategy"):
        evaluate(ScriptedEngine(oracle_ish), examples(), "nope", progress=False)
    dup = [Example("same?", "1"), Example("same?", "1")]
    with pytest.raises(ValueError, match="duplicate ids"):
        evaluate(ScriptedEngine(oracle_ish), dup, progress=False)


def test_evaluate_runs_the_hf_engine_on_a_loaded_model(tiny):
    result = evaluate(tiny, examples()[:2], "self_consistency", n=2, max_new_tokens=4, progress=False)
    assert result.metrics["n_questions"] == 2 and result.metrics["output_tokens_mean"] == 8
    assert all(len(r["completions"]) == 2 for r in result.records) and result.metrics["tokens_per_s"] > 0


def test_cli_eval_writes_an_auditable_run_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--model", "tiny", "--task", f"jsonl:{FIXTURE}", "--limit", "2", "--max-new-tokens", "3",
            "--no-progress", "--strategy", "maj@2"]
    assert cli_main(args) == 0
    out = tmp_path / "runs" / "eval" / f"tiny__jsonl_{str(FIXTURE).strip('/').replace('/', '_')}__maj@2"
    records = list(read_jsonl(out / "samples.jsonl"))
    assert len(records) == 2 and all(len(r["completions"]) == 2 for r in records)
    assert str(out.relative_to(tmp_path) / "samples.jsonl") in capsys.readouterr().out
    assert cli_main(args + ["--max-new-tokens", "4"]) == 2  # same folder, other settings: refused, not mixed
    assert "different settings" in capsys.readouterr().err
    assert cli_main(args + ["--n", "3"]) == 2
    assert "asks for 2 samples but n=3" in capsys.readouterr().err


def test_cli_eval_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["eval", "--model", "tiny", "--task", f"jsonl:{FIXTURE}", "--limit", "2", "--max-new-tokens", "3",
                     "--out", str(out), "--no-progress", "--strategy", "best_of_n", "--n", "2", "--option", "scorer=logprob"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "lenient acc" in printed and "report.html" in printed
    assert len(list(read_jsonl(out / "samples.jsonl"))) == 2 and (out / "report.html").is_file()

    assert cli_main(["eval", "--task", f"jsonl:{FIXTURE}", "--strategy", "nope", "--no-progress",
                     "--out", str(tmp_path / "nope")]) == 2
    assert "unknown strategy" in capsys.readouterr().err
    assert cli_main(["eval", "--list-strategies"]) == 0
    assert "budget_forcing" in capsys.readouterr().out
