"""Snapshots: deterministic, content-hashed train/validation splits, saved atomically and checked on load."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from thinktune.cli import main
from thinktune.data.readers import DataError, read_examples, to_row
from thinktune.data.schema import Example
from thinktune.data.snapshot import (
    Snapshot,
    load_snapshot,
    make_snapshot,
    resolve_snapshot,
    save_snapshot,
    snapshot_id,
)
from thinktune.data.validate import question_key

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def examples(n: int = 50) -> list[Example]:
    return [Example(f"What is {i} + {i}?", str(2 * i), reasoning=f"Take {i}.\nDouble it: {2 * i}.",
                    meta={"source": f"gen.jsonl:{i + 1}"}) for i in range(n)]


def rows(split: list[Example]) -> list[dict]:
    return [to_row(e) for e in split]


def test_same_data_and_parameters_same_snapshot():
    a, b = make_snapshot(examples()), make_snapshot(examples())
    assert a.id == b.id and len(a.id) == 12
    assert rows(a.train) == rows(b.train) and rows(a.validation) == rows(b.validation)


def test_split_sizes_and_disjointness():
    snap = make_snapshot(examples(50), val_fraction=0.2)
    assert (len(snap.train), len(snap.validation)) == (40, 10)
    train_q = {e.question for e in snap.train}
    assert train_q.isdisjoint(e.question for e in snap.validation)
    assert train_q | {e.question for e in snap.validation} == {e.question for e in examples(50)}


@pytest.mark.parametrize("n,fraction,n_val", [(1, 0.1, 0), (2, 0.1, 1), (10, 0.1, 1), (10, 0.0, 0), (10, 0.5, 5),
                                              (3, 0.9, 2)])
def test_validation_size(n, fraction, n_val):
    snap = make_snapshot(examples(n), val_fraction=fraction)
    assert len(snap.validation) == n_val and len(snap.train) == n - n_val


def test_row_order_does_not_matter():
    shuffled = examples()
    random.Random(3).shuffle(shuffled)
    a, b = make_snapshot(examples()), make_snapshot(shuffled)
    assert a.id == b.id and rows(a.validation) == rows(b.validation) and rows(a.train) == rows(b.train)


def test_any_changed_row_or_parameter_changes_the_id():
    base = make_snapshot(examples()).id
    edited = examples()
    edited[17].reasoning = edited[17].reasoning + "\nCheck: ok."
    assert make_snapshot(edited).id != base
    answer_changed = examples()
    answer_changed[0].answer = "1"
    assert make_snapshot(answer_changed).id != base
    assert make_snapshot(examples()[:-1]).id != base
    assert make_snapshot(examples(), seed=1).id != base
    assert make_snapshot(examples(), val_fraction=0.2).id != base


def test_where_a_row_was_read_is_not_content():
    moved = examples()
    for e in moved:
        e.meta["source"] = "elsewhere.jsonl:1"
    assert make_snapshot(moved).id == make_snapshot(examples()).id


def test_seed_changes_which_rows_are_held_out():
    held = {s: {e.question for e in make_snapshot(examples(), seed=s).validation} for s in range(3)}
    assert len({frozenset(v) for v in held.values()}) == 3


def test_same_question_never_straddles_the_split():
    data = examples(20) + [Example(f"What is {i} + {i}?", str(2 * i), reasoning="Other.\nWording.") for i in range(20)]
    for seed in range(5):
        snap = make_snapshot(data, val_fraction=0.25, seed=seed)
        assert {e.question for e in snap.train}.isdisjoint(e.question for e in snap.validation)
        assert len(snap.train) + len(snap.validation) == 40 and len(snap.validation) >= 10


def same(question: str, n: int) -> list[Example]:
    """`n` rows asking the same question (different answers, so different rows)."""
    return [Example(question, str(i), reasoning=f"Try {i}.\nDone.") for i in range(n)]


# (name, rows, val_fraction, n_validation): a group of one question goes to validation only if it fits the
# target round(n * val_fraction) (at least 1, at most n - 1); otherwise it stays in train.
GROUPED = [
    ("one question only", same("What is 1 + 1?", 5), 0.2, 0),
    ("one big group and one single", same("Q?", 4) + same("Other?", 1), 0.2, 1),
    ("big group and singles", same("Q?", 8) + examples(2), 0.2, 2),
    ("big group and many singles", same("Q?", 10) + examples(10), 0.1, 2),
    ("groups of two", [e for i in range(10) for e in same(f"Q{i}?", 2)], 0.3, 6),
]


@pytest.mark.parametrize("name,data,fraction,n_val", GROUPED, ids=[g[0] for g in GROUPED])
def test_a_group_never_overflows_validation(name, data, fraction, n_val):
    for seed in range(8):
        snap = make_snapshot(data, val_fraction=fraction, seed=seed)
        assert (len(snap.train), len(snap.validation)) == (len(data) - n_val, n_val), seed
        assert {e.question for e in snap.train}.isdisjoint(e.question for e in snap.validation)


def test_questions_differing_only_in_case_and_spacing_stay_together():
    base = examples(20)
    variants = [Example("  " + e.question.upper().replace(" ", "  ") + " ", e.answer, reasoning="Other.\nWording.")
                for e in base]
    for seed in range(10):
        snap = make_snapshot(base + variants, val_fraction=0.25, seed=seed)
        assert {question_key(e) for e in snap.train}.isdisjoint(question_key(e) for e in snap.validation), seed
        assert len(snap.validation) == 10


def test_snapshot_of_an_older_split_rule_still_loads(tmp_path):
    snap = make_snapshot(examples(10), val_fraction=0.2)
    old_id = snapshot_id(snap.train, snap.validation, 0.2, 0, version=1)
    assert old_id != snap.id
    folder = save_snapshot(Snapshot(old_id, snap.train, snap.validation, 0.2, 0), tmp_path)
    info = json.loads((folder / "snapshot.json").read_text())
    (folder / "snapshot.json").write_text(json.dumps({**info, "version": 1}))
    assert load_snapshot(folder).id == old_id


def test_bad_arguments():
    with pytest.raises(ValueError, match="val_fraction"):
        make_snapshot(examples(), val_fraction=1.0)
    with pytest.raises(ValueError, match="empty"):
        make_snapshot([])


def test_save_and_load_round_trip(tmp_path):
    snap = make_snapshot(read_examples(FIXTURES / "forms.jsonl"), val_fraction=0.4, source="forms.jsonl")
    folder = save_snapshot(snap, tmp_path / "snaps")
    assert folder == tmp_path / "snaps" / snap.id
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir()) == [snap.id]  # no temporary folder left
    assert sorted(p.name for p in folder.iterdir()) == ["snapshot.json", "train.jsonl", "validation.jsonl"]
    info = json.loads((folder / "snapshot.json").read_text())
    assert (info["id"], info["n_train"], info["n_validation"], info["seed"]) == (snap.id, 3, 2, 0)
    loaded = load_snapshot(snap.id, tmp_path / "snaps")
    assert loaded.id == snap.id and loaded.source == "forms.jsonl"
    assert rows(loaded.train) == rows(snap.train) and rows(loaded.validation) == rows(snap.validation)
    assert loaded.train[0].meta["source"] == f"{folder / 'train.jsonl'}:1"
    assert load_snapshot(folder).id == snap.id  # by folder
    assert load_snapshot(snap.id[:5], tmp_path / "snaps").id == snap.id  # by unique prefix


def test_saving_again_keeps_the_existing_folder(tmp_path):
    snap = make_snapshot(examples())
    folder = save_snapshot(snap, tmp_path)
    before = (folder / "train.jsonl").stat().st_mtime_ns
    assert save_snapshot(make_snapshot(examples()), tmp_path) == folder
    assert (folder / "train.jsonl").stat().st_mtime_ns == before


def test_empty_validation_split_loads(tmp_path):
    snap = make_snapshot(examples(5), val_fraction=0.0)
    loaded = load_snapshot(save_snapshot(snap, tmp_path))
    assert (len(loaded.train), len(loaded.validation), loaded.id) == (5, 0, snap.id)


def test_edited_snapshot_is_refused(tmp_path):
    folder = save_snapshot(make_snapshot(examples()), tmp_path)
    train = folder / "train.jsonl"
    lines = train.read_text().splitlines()
    row = json.loads(lines[0])
    row["answer"] = "wrong"
    train.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.raises(DataError, match="do not match its id"):
        load_snapshot(folder)


def test_unknown_snapshot(tmp_path):
    with pytest.raises(DataError, match="no snapshot 'abc'"):
        resolve_snapshot("abc", tmp_path)


def test_prefix_resolution(tmp_path):
    for name in ("abc111", "abc222"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "snapshot.json").write_text("{}")
    with pytest.raises(DataError, match="ambiguous under .*: abc111, abc222"):
        resolve_snapshot("abc", tmp_path)
    assert resolve_snapshot("abc2", tmp_path) == tmp_path / "abc222"


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_snapshot_prints_the_id(tmp_path, capsys):
    out = tmp_path / "snaps"
    assert main(["data", "snapshot", str(FIXTURES / "gsm8k_sample.jsonl"), "--val-fraction", "0.2",
                 "--seed", "7", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    expected = make_snapshot(read_examples(FIXTURES / "gsm8k_sample.jsonl"), 0.2, 7)
    assert captured.out.strip() == expected.id
    assert f"4 train, 1 validation rows in {out / expected.id}" in captured.err
    assert load_snapshot(expected.id, out).id == expected.id


def test_cli_snapshot_refuses_a_broken_file(tmp_path, capsys):
    assert main(["data", "snapshot", str(FIXTURES / "mixed.jsonl"), "--out", str(tmp_path)]) == 2
    assert "mixed.jsonl:2: invalid JSON" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_show(capsys):
    pytest.importorskip("thinktune.data.views", reason="the reasoning/direct views (data/views.py) are not built yet")
    assert main(["data", "show", str(FIXTURES / "gsm8k_sample.jsonl"), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("=== ") == 2
    assert "Mia has 12 apples" in out and "A train travels" in out and "Sam reads" not in out
    assert "<think>\nThe bags hold 3 * 4 = 12 apples." in out and "<answer>\n24\n</answer>" in out


def test_cli_show_direct_view(capsys):
    pytest.importorskip("thinktune.data.views", reason="the reasoning/direct views (data/views.py) are not built yet")
    assert main(["data", "show", str(FIXTURES / "gsm8k_sample.jsonl"), "-n", "1", "--job", "non_reasoning"]) == 0
    out = capsys.readouterr().out
    assert "<answer>\n24\n</answer>" in out and "<think>" not in out.split("[assistant: target]")[1]


def test_cli_show_row_without_reasoning_in_reasoning_view(capsys):
    pytest.importorskip("thinktune.data.views", reason="the reasoning/direct views (data/views.py) are not built yet")
    assert main(["data", "show", str(FIXTURES / "broken" / "no_reasoning.jsonl"), "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "[cannot show the reasoning view:" in out
    assert "[question] What is 2 + 3?\n[reasoning] (none)\n[answer] 5" in out


def test_cli_show_plain_without_views(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "thinktune.data.views", None)  # importing it now raises ImportError
    assert main(["data", "show", str(FIXTURES / "forms.jsonl"), "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == ["[system] You add numbers.", "[question] What is 2 + 3?",
                                    "[reasoning] Start with 2.", "Add 3 to get 5.", "[answer] 5"]


def test_examples_are_not_mutated_by_snapshot():
    data = examples()
    before = copy.deepcopy(data)
    make_snapshot(data)
    assert data == before
