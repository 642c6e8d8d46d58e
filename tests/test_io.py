"""Crash-safe file helpers and the cache location."""

from __future__ import annotations

from thinktune.io import append_jsonl, read_jsonl
from thinktune.paths import home


def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, {"id": "q1"})
    with path.open("a", encoding="utf-8") as f:
        f.write('{"id": "q2", "v"')  # a process killed mid-write
    append_jsonl(path, {"id": "q2", "v": 2})
    append_jsonl(path, {"id": "q3", "v": 3})
    assert [r["id"] for r in read_jsonl(path)] == ["q1", "q2", "q3"]
    assert path.read_text(encoding="utf-8").endswith('{"id": "q3", "v": 3}\n')


def test_a_file_that_is_only_a_torn_line_is_emptied_before_appending(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": ', encoding="utf-8")
    append_jsonl(path, {"id": "a"})
    assert [r["id"] for r in read_jsonl(path)] == ["a"]


def test_cache_home_ignores_empty_variables_and_expands_the_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("THINKTUNE_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert home() == tmp_path / ".cache" / "thinktune"
    monkeypatch.setenv("THINKTUNE_HOME", "~/tt")
    assert home() == tmp_path / "tt" and home().is_dir()
