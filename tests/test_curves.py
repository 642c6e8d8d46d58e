"""Training curves: the metrics.jsonl reader, the smoothing, the panels per kind, the PNG and `runs plot`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktune.cli import main as cli
from thinktune.curves import moving_average, panels_for, plot_curves, read_steps


def _run(folder: Path, kind: str, rows: list[dict], extra_lines: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": kind, "status": "succeeded", "config": {}}))
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _grpo_rows(n: int, acc0: float = 0.2) -> list[dict]:
    return [{"step": s, "reward": 1.0 + acc0 + 0.01 * s, "rewards/accuracy/mean": acc0 + 0.01 * s,
             "rewards/format_strict/mean": 1.0, "accuracy": acc0 + 0.01 * s, "accuracy_strict": acc0,
             "format_rate": 1.0, "completion_length_mean": 40.0 + s, "zero_variance_frac": 0.5, "alarms": []}
            for s in range(1, n + 1)]


def test_read_steps_keeps_the_last_row_of_a_step_and_skips_events_and_cut_lines(tmp_path):
    run = _run(tmp_path / "r", "grpo", [{"step": 1, "reward": 0.1}, {"step": 2, "reward": 0.2},
                                        {"event": "alarm", "step": 2}, {"step": 2, "reward": 0.25},
                                        {"no_step": True}],
               extra_lines=('{"step": 3, "rew',))
    assert [(r["step"], r["reward"]) for r in read_steps(run)] == [(1, 0.1), (2, 0.25)]
    assert read_steps(tmp_path / "missing") == []


@pytest.mark.parametrize(("values", "window", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], 1, [1.0, 2.0, 3.0, 4.0]),
    ([1.0, 2.0, 3.0, 4.0], 2, [1.0, 1.5, 2.5, 3.5]),
    ([1.0, None, 3.0], 2, [1.0, 1.0, 3.0]),
    ([None, None], 3, [None, None]),
])
def test_moving_average(values, window, expected):
    assert moving_average(values, window) == expected


def test_grpo_panels_add_each_reward_and_drop_curves_nobody_logged():
    panels = panels_for("grpo", _grpo_rows(3))
    reward = panels[0][1]
    assert [k for k, _ in reward] == ["reward", "rewards/accuracy/mean", "rewards/format_strict/mean"]
    sampled = dict(panels[1][1])
    assert set(sampled) == {"accuracy", "accuracy_strict", "format_rate"}
    only_loss = panels_for("sft", [{"step": 1, "loss": 2.0}])
    assert [[k for k, _ in curves] for _, curves, _ in only_loss] == [["loss"]]
    with pytest.raises(ValueError, match="no training curves for a 'eval' run"):
        panels_for("eval", [])


def test_plot_curves_writes_a_png_and_refuses_mixed_kinds_and_empty_runs(tmp_path):
    a = _run(tmp_path / "a", "grpo", _grpo_rows(12))
    b = _run(tmp_path / "b", "grpo", _grpo_rows(8, acc0=0.4))
    out = plot_curves([a, b], tmp_path / "out" / "ab.png", labels=["a", "b"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    sft = _run(tmp_path / "s", "sft", [{"step": 1, "loss": 2.0, "learning_rate": 1e-4}])
    with pytest.raises(ValueError, match="different kinds"):
        plot_curves([a, sft], tmp_path / "x.png")
    empty = _run(tmp_path / "e", "grpo", [])
    with pytest.raises(ValueError, match="no steps logged"):
        plot_curves([empty], tmp_path / "y.png")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_runs_plot_cli(tmp_path, capsys):
    a = _run(tmp_path / "a", "grpo", _grpo_rows(6))
    b = _run(tmp_path / "b", "grpo", _grpo_rows(6))
    assert cli(["runs", "plot", str(a)]) == 0
    assert (a / "curves.png").exists() and "curves.png" in capsys.readouterr().out
    for argv, message in (
        ([str(a), str(b)], "--out: give the PNG path"),
        ([str(a), str(b), "-o", str(tmp_path / "ab.png"), "--label", "only-one"], "--label: give one per run"),
        ([str(a), "--smooth", "0"], "--smooth must be at least 1"),
        ([str(tmp_path / "nothing")], "not a thinktune run folder"),
    ):
        assert cli(["runs", "plot", *argv]) == 2
        assert message in capsys.readouterr().err
