"""`validate_file` and `thinktune data validate|show|snapshot`: every broken-file fixture gives its exact
line-numbered errors; row errors come before quality problems, with a count per kind; `--map`, sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktune.cli import main
from thinktune.data.readers import DataError
from thinktune.data.validate import (
    Issue,
    count_steps,
    is_step_by_step,
    question_key,
    text_size,
    validate_file,
)

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
        (1, None, "unrecognised row (keys: text); expected `messages`, `prompt`+`completion` or `question`+`answer`, "
                  "or `conversations` (ShareGPT), `instruction`+`output` (Alpaca), `problem`+`solution` (MATH), "
                  "`question`+`thinking_trajectories`+`attempt` (s1K); name other columns with --map FIELD=COLUMN"),
        (2, None, "unrecognised row (keys: none)"),
    ]),
    ("public_forms.jsonl", "reasoning", 14, 0, [  # malformed variants of the public datasets' forms
        (1, "conversations[1].from", "conversations[1].from must be one of human, user, gpt, assistant, system, "
                                     "not 'bot'"),
        (2, "conversations[1].value", "empty turn: conversations[1].value is empty"),
        (3, "conversations", "conversations must be a list of turns, not a string"),
        (4, "conversations[1].value", "missing answer: conversations[1].value has thinking tags but no answer after "
                                      "<|end_of_thought|>"),
        (5, "output", "output must be a string or a number, not a list"),
        (6, "instruction", "missing instruction"),
        (7, "solution", "missing answer: no `answer` column and no \\boxed{…} in solution"),
        (8, "solution", "the last \\boxed{ of solution (at character 9) is never closed"),
        (9, "problem", "missing problem"),
        (10, "thinking_trajectories[0]", "thinking_trajectories[0] must be a string, not a number"),
        (11, "attempt", "missing attempt"),
        (12, "messages[1].content", "missing answer: the last \\boxed{} of messages[1].content is empty"),
        (13, "completion", "missing answer: completion has thinking tags but no answer after </reasoning>"),
        (14, None, "invalid JSON at column 55: Expecting ',' delimiter"),
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
        # row errors first, in file order
        (2, None, "error"),                # invalid JSON
        (5, "answer", "error"),            # missing answer
        (7, None, "error"),                # not an object
        (10, "reasoning", "error"),        # reasoning of the wrong type
        # then quality problems, in file order, the file-wide summary last
        (8, "reasoning", "error"),         # a valid row without reasoning, in a reasoning job
        (9, "question", "warning"),        # the same question as line 1 (case and spacing differ)
        (None, "reasoning", "error"),      # the summary: 1 of 5 rows lacks step-by-step reasoning
    ]
    assert [p.kind for p in report.problems] == ["json", "missing", "not_object", "wrong_type", "not_step_by_step",
                                                 "duplicate", "not_step_by_step"]
    assert report.by_kind() == {
        "json": {"severity": "error", "count": 1, "lines": [2]},
        "not_object": {"severity": "error", "count": 1, "lines": [7]},
        "wrong_type": {"severity": "error", "count": 1, "lines": [10]},
        "missing": {"severity": "error", "count": 1, "lines": [5]},
        "not_step_by_step": {"severity": "error", "count": 1, "lines": [8]},
        "duplicate": {"severity": "warning", "count": 1, "lines": [9]},
    }
    assert report.warnings[0].message == "duplicate question (first at line 1)"
    assert report.problems[-1].message.startswith("1 of 5 valid rows have no step-by-step reasoning")
    assert report.to_dict()["n_invalid"] == 4 and report.to_dict()["n_errors"] == 6


def test_mixed_file_non_reasoning_job():
    report = validate_file(FIXTURES / "mixed.jsonl", job="non_reasoning")
    assert (report.n_rows, report.n_valid, report.n_without_reasoning) == (9, 5, 1)
    assert [(p.line, p.severity) for p in report.problems] == [
        (2, "error"), (5, "error"), (7, "error"), (10, "error"), (9, "warning")]


@pytest.mark.parametrize("name,n", [("forms.jsonl", 5), ("gsm8k_sample.jsonl", 5), ("public_mixed.jsonl", 9)])
def test_good_fixtures_are_clean(name, n):
    report = validate_file(FIXTURES / name)
    assert report.ok and report.problems == [] and report.n_valid == report.n_rows == n


def test_public_mixed_fixture_counts_every_form():
    report = validate_file(FIXTURES / "public_mixed.jsonl")
    assert report.format == "mixed"
    assert report.forms == {"messages": 1, "sharegpt": 1, "prompt_completion": 1, "question_answer": 1, "gsm8k": 1,
                            "alpaca": 1, "problem_solution": 2, "s1k": 1}
    assert [e.answer for e in report.examples] == ["42", "36", "5", "4", "24", "42", "\\frac{3}{4}", "7", "128"]


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
    assert "  30 × missing or empty field (error; lines 1, 2, 3, 4, 5 and 25 more)" in text.splitlines()
    assert "row errors (30):" in text and "... and 25 more (--json lists them all)" in text
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
                                     "message": "question must be a string, not a number", "severity": "error",
                                     "kind": "wrong_type"}
    assert report["by_kind"] == {"wrong_type": {"severity": "error", "count": 5, "lines": [1, 2, 3, 4, 5]}}


def test_cli_validate_missing_file_is_a_user_error(capsys):
    assert main(["data", "validate", str(FIXTURES / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thinktune data: error:") and "nope.jsonl" in err and "Traceback" not in err


def test_the_quickstarts_own_training_rows_count_as_step_by_step():
    # one-operation problems have one worked line; the validator must accept what compare trains on
    from thinktune.compare.compare import CompareConfig, build_data

    train, _ = build_data(CompareConfig(train_rows=40, eval_questions=4))
    assert train and all(is_step_by_step(ex.reasoning, ex.answer) for ex in train)


# ------------------------------------------------------------------------ order, kinds and sizes
def test_a_broken_row_is_listed_before_many_quality_problems(tmp_path):
    """96 rows without reasoning and 3 duplicates must not hide the broken line 100."""
    path = tmp_path / "big.jsonl"
    rows = [json.dumps({"question": f"What is {i} + 1?", "answer": str(i + 1)}) for i in range(96)]
    rows += [json.dumps({"question": "What is 0 + 1?", "answer": "1", "reasoning": "0 + 1 = 1"})] * 3
    rows.append('{"question": "What is 1 + 1?", "answer": 2')
    path.write_text("\n".join(rows) + "\n")
    report = validate_file(path)
    assert report.problems[0] == Issue(str(path), 100, None, "invalid JSON at column 43: Expecting ',' delimiter",
                                       "error", "json")
    assert [p.line for p in report.row_errors] == [100]
    assert [p.kind for p in report.quality] == ["not_step_by_step"] * 96 + ["duplicate"] * 3 + ["not_step_by_step"]
    text = report.format_text(max_listed=20).splitlines()
    assert text[text.index("problems by kind:") + 1:][:3] == [
        "  1 × not valid JSON (error; line 100)",
        "  96 × no step-by-step reasoning (error; lines 1, 2, 3, 4, 5 and 91 more)",
        "  3 × duplicate question (warning; lines 97, 98, 99)",
    ]
    listed = text.index("row errors (1):")
    assert text[listed + 1] == f"  {path}:100: invalid JSON at column 43: Expecting ',' delimiter"
    assert text[listed + 2] == "quality (100: 97 errors, 3 warnings):"
    assert text[listed + 3].startswith(f"  {path}: reasoning: 96 of 99 valid rows have no step-by-step reasoning")
    assert text[-2] == "  ... and 80 more (--json lists them all)" and text[-1] == "FAILED: 98 errors"


def test_non_reasoning_job_lists_duplicates_as_warnings_only(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"question": "q", "answer": "1"}\n{"question": "Q", "answer": "1"}\n')
    report = validate_file(path, job="non_reasoning")
    assert report.ok and report.by_kind() == {"duplicate": {"severity": "warning", "count": 1, "lines": [2]}}
    text = report.format_text()
    assert f"  {path}:2: question: duplicate question (first at line 1) [warning]" in text.splitlines()
    assert "quality (1: 0 errors, 1 warning):" in text and text.splitlines()[-1] == "OK"


def test_rows_over_the_size_limit_are_warned_about(tmp_path):
    path = tmp_path / "sizes.jsonl"
    long_reasoning = "\n".join(f"Step {i}: 1 + 1 = 2." for i in range(2000))  # about 40,000 characters
    path.write_text(json.dumps({"question": "q", "answer": "2", "reasoning": long_reasoning}) + "\n"
                    + json.dumps({"question": "r", "answer": "2", "reasoning": "1 + 1 = 2\nso 2"}) + "\n")
    size = len(long_reasoning) + 2
    assert validate_file(path).problems == []  # under the default 100,000 characters
    report = validate_file(path, max_row_chars=10_000)
    assert report.ok and [(p.line, p.field, p.severity, p.kind) for p in report.problems] == [
        (1, "reasoning", "warning", "too_large")]
    assert report.problems[0].message.startswith(
        f"large row: {size:,} characters of text, over the 10,000 limit (--max-row-chars), "
        f"{len(long_reasoning):,} of them in reasoning")
    assert validate_file(path, max_row_chars=None).problems == validate_file(path, max_row_chars=0).problems == []


def test_text_size_counts_every_text_field():
    from thinktune.data.schema import Example

    ex = Example("abc", "de", reasoning="f", system="gh", history=[{"role": "user", "content": "ijkl"}])
    assert text_size(ex) == 3 + 2 + 1 + 2 + 4


def test_validate_file_reads_with_a_column_map_and_answer_mode(tmp_path):
    path = tmp_path / "alpaca_math.jsonl"
    path.write_text(json.dumps({"prompt_text": "What is 8 / 2?", "target": "Half of 8.\nSo \\boxed{4}."}) + "\n")
    assert validate_file(path).by_kind() == {"unrecognised": {"severity": "error", "count": 1, "lines": [1]}}
    final = validate_file(path, column_map={"question": "prompt_text", "answer": "target"})
    assert final.ok and (final.examples[0].answer, final.examples[0].reasoning) == ("4", "Half of 8.\nSo \\boxed{4}.")
    full = validate_file(path, "non_reasoning", column_map="question=prompt_text,answer=target", answer_mode="full")
    assert full.ok and full.examples[0].answer == "Half of 8.\nSo \\boxed{4}."
    with pytest.raises(DataError, match="unknown field 'q'"):
        validate_file(path, column_map="q=prompt_text")
    with pytest.raises(DataError, match="unknown answer mode"):
        validate_file(path, answer_mode="boxed")


# ------------------------------------------------------------------------ CLI: --map, sizes, show
def alpaca_file(tmp_path: Path) -> Path:
    path = tmp_path / "custom.jsonl"
    rows = [{"ask": "What is 17 + 25?", "reply": "<think>\n17 + 25 = 42\n</think>\n42"},
            {"ask": "What is 6 * 7?", "reply": "<think>\nSix sevens.\n6 * 7 = 42\n</think>\nSo $\\boxed{42}$."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_validate_with_map(tmp_path, capsys):
    path = alpaca_file(tmp_path)
    assert main(["data", "validate", str(path)]) == 1
    assert "unrecognised row (keys: ask, reply)" in capsys.readouterr().out
    assert main(["data", "validate", str(path), "--map", "question=ask,answer=reply"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{path}: 2 rows, 2 valid, 0 invalid (format: question_answer; job: reasoning)"
    assert out.splitlines()[-1] == "OK"
    assert main(["data", "validate", str(path), "--map", "question=ask", "--map", "answer=reply", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_valid"] == 2
    assert main(["data", "validate", str(path), "--map", "question"]) == 2
    assert "'question' is not FIELD=COLUMN" in capsys.readouterr().err


def test_cli_validate_max_row_chars(tmp_path, capsys):
    path = alpaca_file(tmp_path)
    assert main(["data", "validate", str(path), "--map", "question=ask,answer=reply", "--max-row-chars", "20"]) == 0
    out = capsys.readouterr().out
    assert "  2 × row over the size limit (warning; lines 1, 2)" in out.splitlines()


def test_cli_show_with_map_and_answer_mode(tmp_path, capsys):
    path = alpaca_file(tmp_path)
    assert main(["data", "show", str(path), "--map", "question=ask,answer=reply", "-n", "5"]) == 0
    out = capsys.readouterr().out
    assert "[user] What is 6 * 7?" in out
    assert "[assistant: target] <think>\nSix sevens.\n6 * 7 = 42\n</think>\n<answer>\n42\n</answer>" in out
    assert main(["data", "show", str(path), "--map", "question=ask,answer=reply", "--answer-mode", "full"]) == 0
    assert "<answer>\nSo $\\boxed{42}$.\n</answer>" in capsys.readouterr().out


def test_cli_show_cuts_long_fields_and_says_how_much(tmp_path, capsys):
    path = tmp_path / "long.jsonl"
    reasoning = "\n".join(f"Step {i}: 1 + 1 = 2." for i in range(500))
    path.write_text(json.dumps({"question": "Q" * 3000, "answer": "2", "reasoning": reasoning}) + "\n")
    assert main(["data", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"[… {3000 - 2000:,} characters cut …]" in out
    target = f"<think>\n{reasoning}\n</think>\n<answer>\n2\n</answer>"
    assert f"[… {len(target) - 2000:,} characters cut …]" in out
    assert out.rstrip().endswith("</answer>")  # the tail of the target is kept
    assert main(["data", "show", str(path), "--max-chars", "0"]) == 0
    assert "characters cut" not in capsys.readouterr().out
    assert main(["data", "show", str(path), "--max-chars", "100", "--job", "reasoning"]) == 0
    assert f"[… {len(target) - 100:,} characters cut …]" in capsys.readouterr().out


def test_cli_show_plain_fields_are_cut_too(tmp_path, capsys):
    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "A" * 500}) + "\n")
    assert main(["data", "show", str(path), "--max-chars", "50"]) == 0  # no reasoning: the plain fields
    out = capsys.readouterr().out
    assert "[cannot show the reasoning view" in out and "[… 450 characters cut …]" in out


def test_cli_snapshot_with_map(tmp_path, capsys):
    path = alpaca_file(tmp_path)
    assert main(["data", "snapshot", str(path), "--out", str(tmp_path / "snaps"), "--map",
                 "question=ask,answer=reply", "--val-fraction", "0.5"]) == 0
    snap_id = capsys.readouterr().out.strip()
    rows = [json.loads(line) for name in ("train.jsonl", "validation.jsonl")
            for line in (tmp_path / "snaps" / snap_id / name).read_text().splitlines()]
    assert sorted((r["question"], r["answer"]) for r in rows) == [("What is 17 + 25?", "42"), ("What is 6 * 7?", "42")]
    assert main(["data", "snapshot", str(path), "--out", str(tmp_path / "snaps")]) == 2
    assert "unrecognised row" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "limit", "shown"), [
    ("abcdef", 6, "abcdef"), ("abcdef", None, "abcdef"), ("abcdef", 0, "abcdef"),
    ("abcdefg", 4, "ab\n[… 3 characters cut …]\nfg"), ("abcdefg", 3, "ab\n[… 4 characters cut …]\ng"),
    ("abcdefg", 1, "a\n[… 6 characters cut …]\n"), ("x" * 12_345, 345, "x" * 173 + "\n[… 12,000 characters cut …]\n" + "x" * 172),
])
def test_shorten(text, limit, shown):
    from thinktune.commands.data import shorten

    assert shorten(text, limit) == shown
