"""`validate_file` and `thinktune data validate`: every broken-file fixture gives its exact line-numbered errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktune.cli import main
from thinktune.data.validate import Issue, count_steps, is_step_by_step, question_key, validate_file

FIXTURES = Path(__file__).parent / "fixtures" / "data"
BROKEN = FIXTURES / "broken"


def where(report) -> list[tuple[int | None, str | None, str]]:
    """(line, field, severity) of each problem, in report order."""
    return [(p.line, p.field, p.severity) for p in report.problems]


# (fixture, job, n_rows, n_valid, [(line, field, message fragment)]): errors in report order.
BROKEN_FILES = [
    ("bad_json.jsonl", "reasoning", 3, 1, [
        (2, None, "invalid JSON at column 31: Expecting ',' delimiter"),
        (3, None, "invalid JSON at column 84: Expecting property name"),
    ]),
    ("not_object.jsonl", "reasoning", 3, 0, [
        (1, None, "row is a list, not a JSON object"),
        (2, None, "row is a string, not a JSON object"),
        (3, None, "row is a number, not a JSON object"),
    ]),
    ("wrong_types.jsonl", "reasoning", 5, 0, [
        (1, "question", "question must be a string, not a number"),
        (2, "answer", "answer must be a string or a number, not an object"),
        (3, "messages", "messages must be a list of turns, not a string"),
        (4, "reasoning", "reasoning must be a string, not a list"),
        (5, "messages[1].role", "messages[1].role must be one of system, user, assistant, not 'bot'"),
    ]),
    ("empty_turn.jsonl", "reasoning", 4, 0, [
        (1, "messages[0].content", "empty turn: messages[0].content is empty"),
        (2, "messages[1].content", "empty turn: messages[1].content is empty"),
        (3, "messages[1].content", "empty turn: messages[1].content is missing"),
        (4, "messages", "messages is empty"),
    ]),
    ("missing_answer.jsonl", "reasoning", 5, 0, [
        (1, "answer", "missing answer"),
        (2, "messages", "missing answer: no assistant turn"),
        (3, "completion", "missing answer: completion has thinking tags but no answer after </think>"),
        (4, "answer", "missing answer: nothing after ####"),
        (5, "completion", "missing completion"),
    ]),
    ("no_reasoning.jsonl", "reasoning", 4, 4, [
        (1, "reasoning", "no reasoning"),
        (2, "reasoning", "the reasoning only restates the answer"),
        (3, "reasoning", "the reasoning only restates the answer"),  # "The answer is 7."
        (None, "reasoning", "3 of 4 valid rows have no step-by-step reasoning; reasoning fine-tuning needs real "
                            "step-by-step data"),
    ]),
    ("no_reasoning.jsonl", "non_reasoning", 4, 4, []),
    ("unknown_shape.jsonl", "reasoning", 2, 0, [
        (1, None, "unrecognised row (keys: input, instruction, output); expected `messages`, `prompt`+`completion` "
                  "or `question`+`answer`"),
        (2, None, "unrecognised row (keys: none)"),
    ]),
    ("empty.jsonl", "reasoning", 0, 0, [(None, None, "no rows: the file is empty")]),
    ("surrogate.jsonl", "non_reasoning", 4, 1, [  # lone surrogates: valid JSON, not valid Unicode
        (2, "question", "question holds a lone surrogate \\ud800 at character 9: not valid Unicode text"),
        (3, "messages[1].content", "messages[1].content holds a lone surrogate \\udfff at character 3"),
        (4, "meta.note", "meta.note holds a lone surrogate \\ud83d at character 2"),
    ]),
]


@pytest.mark.parametrize("name,job,n_rows,n_valid,expected", BROKEN_FILES,
                         ids=[f"{b[0]}-{b[1]}" for b in BROKEN_FILES])
def test_broken_fixture_reports_exact_errors(name, job, n_rows, n_valid, expected):
    path = BROKEN / name
    report = validate_file(path, job=job)
    assert (report.n_rows, report.n_valid, len(report.examples)) == (n_rows, n_valid, n_valid)
    assert [(p.line, p.field) for p in report.problems] == [(line, field) for line, field, _ in expected]
    for problem, (_, _, fragment) in zip(report.problems, expected, strict=True):
        assert problem.file == str(path)
        assert problem.severity == "error"
        assert problem.message.startswith(fragment), problem.message
    assert report.ok is (not expected)


def test_mixed_file_exact_counts():
    path = FIXTURES / "mixed.jsonl"
    report = validate_file(path, job="reasoning")
    # 10 lines, one blank: 9 rows; lines 2, 5, 7, 10 are broken; 1, 3, 6, 8, 9 are valid.
    assert (report.n_rows, report.n_valid, report.n_without_reasoning) == (9, 5, 1)
    assert [e.meta["source"] for e in report.examples] == [f"{path}:{n}" for n in (1, 3, 6, 8, 9)]
    assert report.forms == {"question_answer": 2, "gsm8k": 1, "messages": 1, "prompt_completion": 1}
    assert report.format == "mixed"
    assert where(report) == [
        (2, None, "error"),
        (5, "answer", "error"),
        (7, None, "error"),
        (8, "reasoning", "error"),         # a valid row without reasoning, in a reasoning job
        (9, "question", "warning"),        # the same question as line 1 (case and spacing differ)
        (10, "reasoning", "error"),
        (None, "reasoning", "error"),      # the summary: 1 of 5 rows lacks step-by-step reasoning
    ]
    assert report.warnings[0].message == "duplicate question (first at line 1)"
    assert report.problems[-1].message.startswith("1 of 5 valid rows have no step-by-step reasoning")
    assert report.to_dict()["n_invalid"] == 4 and report.to_dict()["n_errors"] == 6


def test_mixed_file_non_reasoning_job():
    report = validate_file(FIXTURES / "mixed.jsonl", job="non_reasoning")
    assert (report.n_rows, report.n_valid, report.n_without_reasoning) == (9, 5, 1)
    assert [(p.line, p.severity) for p in report.problems] == [
        (2, "error"), (5, "error"), (7, "error"), (9, "warning"), (10, "error")]


@pytest.mark.parametrize("name", ["forms.jsonl", "gsm8k_sample.jsonl"])
def test_good_fixtures_are_clean(name):
    report = validate_file(FIXTURES / name)
    assert report.ok and report.problems == [] and report.n_valid == report.n_rows == 5


def test_unknown_job():
    with pytest.raises(ValueError, match="unknown job type"):
        validate_file(FIXTURES / "forms.jsonl", job="thinking")


@pytest.mark.parametrize("reasoning,steps", [
    (None, 0), ("", 0), ("   \n ", 0), ("72", 1), ("The answer is 72.", 1),
    ("48/2 = 24\n48 + 24 = 72", 2), ("a\n\n\nb\nc", 3),
    ("Half of 48 is 24. Then 48 + 24 = 72.", 2), ("It costs 0.2 x 50 = 10 dollars.", 1),
    ("First add; then double!", 2), ("Is it 3? Yes, 3.", 2),
])
def test_count_steps(reasoning, steps):
    assert count_steps(reasoning) == steps


@pytest.mark.parametrize("reasoning,answer,ok", [
    ("48/2 = 24\n48 + 24 = 72", "72", True),
    ("Half is 24. Total 72.", "72", True),
    ("The answer is 72.", "72", False),
    ("72", "72", False),
    (None, "72", False),
    ("Step one.\nStep two.", "Step one.\nStep two.", False),  # the "reasoning" is the answer itself
    ("Step one.\nStep two.", None, True),
    ("25 + 17 = 42", "42", True),  # a one-operation problem's whole working
    ("Mr. Lee has 72 apples", "72", False),  # one sentence: "Mr." ends none
    ("72\n72", "72", False),  # two lines, both only the answer
    ("The answer is 72. 72.", "72", False),
    ("So the final answer is 72.\n72", "72", False),
])
def test_is_step_by_step(reasoning, answer, ok):
    assert is_step_by_step(reasoning, answer) is ok


def test_format_text_lists_problems_and_caps_them(tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"question": "q{i}", "answer": ""}}\n' for i in range(30)))
    text = validate_file(path).format_text(max_listed=5)
    assert text.splitlines()[0] == f"{path}: 30 rows, 0 valid, 30 invalid (format: none; job: reasoning)"
    assert f"  {path}:1: answer: empty answer" in text.splitlines()
    assert "errors (30):" in text and "... and 25 more (--json lists them all)" in text
    assert text.splitlines()[-1] == "FAILED: 30 errors"


def test_issue_str():
    assert str(Issue("f.jsonl", 3, "answer", "missing answer")) == "f.jsonl:3: answer: missing answer"
    assert str(Issue("f.jsonl", None, None, "no rows")) == "f.jsonl: no rows"


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_validate_exit_codes(capsys):
    assert main(["data", "validate", str(FIXTURES / "gsm8k_sample.jsonl")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "OK"
    assert main(["data", "validate", str(FIXTURES / "mixed.jsonl")]) == 1
    out = capsys.readouterr().out
    assert f"{FIXTURES / 'mixed.jsonl'}:5: answer: missing answer" in out
    assert out.splitlines()[-1] == "FAILED: 6 errors"
    assert main(["data", "validate", str(BROKEN / "no_reasoning.jsonl"), "--job", "non_reasoning"]) == 0


def test_cli_validate_prints_lone_surrogates_escaped(capsys):
    path = BROKEN / "surrogate.jsonl"
    assert main(["data", "validate", str(path), "--job", "non_reasoning"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2: question: question holds a lone surrogate \\ud800" in out
    assert out.splitlines()[-1] == "FAILED: 3 errors"


def test_validate_file_flags_duplicates_by_question_key(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"question": "What is 2+2?", "answer": "4"}\n{"question": "  what IS  2+2? ", "answer": "4"}\n')
    report = validate_file(path, job="non_reasoning")
    assert [(p.line, p.field, p.message) for p in report.problems] == [
        (2, "question", "duplicate question (first at line 1)")]
    assert question_key(report.examples[0]) == question_key(report.examples[1])


def test_cli_validate_json(capsys):
    assert main(["data", "validate", str(BROKEN / "wrong_types.jsonl"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["n_rows"], report["n_valid"], report["n_errors"], report["ok"]) == (5, 0, 5, False)
    assert report["problems"][0] == {"file": str(BROKEN / "wrong_types.jsonl"), "line": 1, "field": "question",
                                     "message": "question must be a string, not a number", "severity": "error"}


def test_cli_validate_missing_file_is_a_user_error(capsys):
    assert main(["data", "validate", str(FIXTURES / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thinktune data: error:") and "nope.jsonl" in err and "Traceback" not in err


def test_the_quickstarts_own_training_rows_count_as_step_by_step():
    # one-operation problems have one worked line; the validator must accept what compare trains on
    from thinktune.compare.compare import CompareConfig, build_data

    train, _ = build_data(CompareConfig(train_rows=40, eval_questions=4))
    assert train and all(is_step_by_step(ex.reasoning, ex.answer) for ex in train)
