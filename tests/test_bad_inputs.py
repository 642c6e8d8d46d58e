"""Bad inputs a careless user gives: each is one line naming the file or flag and a non-zero exit, never a
traceback; logs are never written through a symlink; an overlong question is cut with a warning or refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktune import cli
from thinktune.data.schema import Example
from thinktune.errors import UserError
from thinktune.io import append_jsonl

FIXTURE = Path(__file__).parent / "fixtures" / "eval" / "tiny_task.jsonl"


def one_line_error(capsys, argv, *needles):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_a_binary_file_as_a_config(tmp_path, capsys):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00\x01\xff\xfe" * 8)
    for argv in (["train", "sft", str(path)], ["compare", str(path)], ["eval", str(path)]):
        one_line_error(capsys, argv, str(path), "not a YAML text file")
    one_line_error(capsys, ["train", "grpo", str(tmp_path)], str(tmp_path), "is a folder")


def test_chat_with_a_fake_gguf_or_a_folder_without_a_model(tmp_path, capsys):
    fake = tmp_path / "model.gguf"
    fake.write_text("not a gguf")
    one_line_error(capsys, ["chat", str(fake), "-m", "hi"], str(fake), "cannot load a model")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(capsys, ["chat", str(empty), "-m", "hi"], str(empty), "no config.json")


def test_out_naming_an_existing_file(tmp_path, capsys):
    existing = tmp_path / "taken"
    existing.write_text("keep me")
    one_line_error(capsys, ["eval", "--model", "tiny", "--task", f"jsonl:{FIXTURE}", "--limit", "1",
                            "--no-progress", "--out", str(existing)], str(existing), "is a file")
    one_line_error(capsys, ["train", "sft", "--set", "model=tiny", "--set", f"output_dir={existing}"],
                   str(existing), "is a file")
    assert existing.read_text() == "keep me"


def test_logs_are_never_appended_through_a_symlink(tmp_path, capsys):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    link = tmp_path / "samples.jsonl"
    link.symlink_to(target)
    with pytest.raises(UserError, match="is a symbolic link"):
        append_jsonl(link, {"x": 1})
    assert target.read_text() == ""
    out = tmp_path / "run"
    out.mkdir()
    (out / "samples.jsonl").symlink_to(target)
    one_line_error(capsys, ["eval", "--model", "tiny", "--task", f"jsonl:{FIXTURE}", "--limit", "1",
                            "--max-new-tokens", "2", "--no-progress", "--out", str(out)], "symbolic link")
    assert target.read_text() == ""


def test_an_overlong_question_is_cut_with_a_warning_or_refused(tmp_path, tiny, caplog):
    from thinktune.evaluation import evaluate
    from thinktune.reporter import RecordingReporter

    huge = Example("What is 2 + 2? " + "x" * 5_000, "4", verifier="numeric")
    reporter = RecordingReporter()
    result = evaluate(tiny, [huge], max_new_tokens=2, max_question_chars=1_000, reporter=reporter,
                      out_dir=tmp_path / "cut")
    [record] = result.records
    assert len(record["question"]) == 1_000 and record["question"].startswith("What is 2 + 2?")
    warnings = [c for name, c in reporter.calls if name == "event" and c["kind"] == "warning"]
    assert warnings and "5,015 characters, cut to the first 1,000" in warnings[0]["message"]
    with pytest.raises(ValueError, match=r"5,015 characters, more than max_question_chars=1,000"):
        evaluate(tiny, [huge], max_new_tokens=2, max_question_chars=1_000, long_questions="refuse")
