"""Reward-hacking and collapse alarms on scripted metric series, and the GRPO monitor that raises them."""

from __future__ import annotations

import logging

import pytest

from thinktune.rewards.alarms import (
    ALARMS,
    AlarmSettings,
    answer_diagnostics,
    check_alarms,
    format_over_accuracy,
    is_copied,
    length_collapse,
    length_explosion,
    no_signal,
    rewarded_copy,
    rewarded_empty,
)


def series(n: int = 10, **columns) -> list[dict]:
    """Rows whose columns ramp linearly from (start, end), or stay at a constant."""
    rows = []
    for i in range(n):
        row = {}
        for key, value in columns.items():
            if isinstance(value, tuple):
                start, end = value
                row[key] = start + (end - start) * i / (n - 1)
            else:
                row[key] = value
        rows.append(row)
    return rows


HEALTHY = dict(format_rate=(0.1, 0.5), accuracy=(0.1, 0.4), completion_length_mean=40.0, clipped_ratio=0.1,
               zero_variance_frac=0.25, empty_rewarded_rate=0.0, copied_rewarded_rate=0.0)


def test_a_healthy_run_raises_nothing():
    assert check_alarms(series(30, **HEALTHY)) == {}


def test_every_alarm_has_a_check_and_a_description():
    assert set(ALARMS) == {"format_over_accuracy", "rewarded_empty", "rewarded_copy", "length_explosion",
                           "length_collapse", "no_signal"}
    assert all(ALARMS.values())


# ------------------------------------------------------------------------------- format over accuracy
@pytest.mark.parametrize("fmt,acc,fires", [
    ((0.0, 0.8), (0.5, 0.2), True),  # the hacking shape
    ((0.0, 0.8), (0.2, 0.5), False),  # format and accuracy both rise: learning
    ((0.0, 0.1), (0.5, 0.2), False),  # accuracy falls but format is flat: not this alarm
    ((0.0, 0.8), (0.5, 0.48), False),  # accuracy essentially flat
])
def test_format_over_accuracy(fmt, acc, fires):
    message = format_over_accuracy(series(10, format_rate=fmt, accuracy=acc))
    assert (message is not None) is fires
    if fires:
        assert "format rate rose" in message and "accuracy fell" in message


def test_format_over_accuracy_needs_a_full_window_of_values():
    assert format_over_accuracy(series(9, format_rate=(0, 1), accuracy=(1, 0))) is None
    rows = series(10, format_rate=(0, 1), accuracy=(1, 0))
    rows[-1]["accuracy"] = None  # a step without gold answers
    assert format_over_accuracy(rows) is None


def test_format_over_accuracy_looks_at_the_last_window_only():
    early_hack = series(10, format_rate=(0, 0.8), accuracy=(0.5, 0.2))
    plateau = series(10, format_rate=0.8, accuracy=0.2)
    assert format_over_accuracy(early_hack) is not None
    assert format_over_accuracy(early_hack + plateau) is None  # the last 10 steps are flat
    assert format_over_accuracy(early_hack + plateau, AlarmSettings(window=20)) is not None


# -------------------------------------------------------------------------------- rewarded answers
@pytest.mark.parametrize("rate,fires", [(0.0, False), (0.0625, True), (1.0, True)])
def test_rewarded_empty(rate, fires):
    assert (rewarded_empty([{"empty_rewarded_rate": rate}]) is not None) is fires


@pytest.mark.parametrize("rate,threshold,fires", [(0.1, 0.25, False), (0.5, 0.25, True), (0.1, 0.0, True)])
def test_rewarded_copy(rate, threshold, fires):
    message = rewarded_copy([{"copied_rewarded_rate": rate}], AlarmSettings(copy_rewarded=threshold))
    assert (message is not None) is fires


def test_rewarded_alarms_ignore_missing_values():
    assert rewarded_empty([]) is None and rewarded_empty([{"empty_rewarded_rate": None}]) is None
    assert rewarded_copy([{}]) is None


# --------------------------------------------------------------------------------------------- length
@pytest.mark.parametrize("lengths,clipped,fires", [
    # the window's halves are compared: a ramp 15 → 75 has half-means ~28 → ~62
    ((15, 75), 0.0, True),
    ((20, 30), 0.0, False),
    ((60, 60), (0.0, 1.0), True),  # more and more completions cut at the limit
    ((60, 60), 1.0, False),  # always at the limit (a small budget): not an explosion
])
def test_length_explosion(lengths, clipped, fires):
    rows = series(10, completion_length_mean=lengths, clipped_ratio=clipped)
    assert (length_explosion(rows) is not None) is fires


@pytest.mark.parametrize("lengths,fires", [((40, 10), True), ((40, 30), False), ((3, 1.0), True)])
def test_length_collapse(lengths, fires):
    assert (length_collapse(series(10, completion_length_mean=lengths)) is not None) is fires


def test_length_collapse_to_nothing_fires_without_a_window():
    assert length_collapse([{"completion_length_mean": 0.5}]) is not None
    assert length_collapse([{"completion_length_mean": 30}]) is None


# ------------------------------------------------------------------------------------------ no signal
def test_no_signal_after_many_all_zero_variance_steps():
    settings = AlarmSettings(zero_variance_steps=5)
    assert no_signal([{"zero_variance_frac": 1.0}] * 4, settings) is None
    assert "zero reward variance for 5 steps" in no_signal([{"zero_variance_frac": 1.0}] * 5, settings)
    broken = [{"zero_variance_frac": 1.0}] * 4 + [{"zero_variance_frac": 0.75}]
    assert no_signal(broken, settings) is None
    assert no_signal([{"zero_variance_frac": None}] * 5, settings) is None


def test_check_alarms_reports_several_at_once():
    rows = series(10, format_rate=(0, 0.9), accuracy=(0.6, 0.1), completion_length_mean=(40, 1.0),
                  zero_variance_frac=1.0, empty_rewarded_rate=0.5)
    assert set(check_alarms(rows)) == {"format_over_accuracy", "length_collapse", "no_signal", "rewarded_empty"}


def test_settings_are_validated():
    with pytest.raises(ValueError, match="window"):
        AlarmSettings(window=1)
    with pytest.raises(ValueError, match="zero_variance_steps"):
        AlarmSettings(zero_variance_steps=0)


# ------------------------------------------------------------------------------------ per-step inputs
@pytest.mark.parametrize("answer,prompt,expected", [
    ("80", "create an equation that equals 80.", True),
    ("8", "create an equation that equals 80.", False),  # inside a number
    ("80", "equals 80.5", False),
    ("Paris", "What is the capital of France?", False),
    ("capital", "What is the capital of France?", True),
    ("", "anything", False),
    (None, "anything", False),
    ("(1 + 2) * 3", "for example (1 + 2) * 3.", True),
    ("ünï", "text with ünï inside", True),
])
def test_is_copied(answer, prompt, expected):
    assert is_copied(answer, prompt) is expected


def test_answer_diagnostics_counts_rewarded_empty_and_copied():
    answers = [None, "", "80", "80", "(25 - 5) * 4", "7"]
    prompts = ["... equals 80 using [25, 5, 4]"] * 6
    correctness = [1.0, 0.0, 1.0, 0.0, 1.0, None]
    d = answer_diagnostics(answers, prompts, correctness)
    assert d["empty_answer_rate"] == pytest.approx(2 / 6)
    assert d["copied_answer_rate"] == pytest.approx(2 / 6)
    assert d["empty_rewarded_rate"] == pytest.approx(1 / 6)
    assert d["copied_rewarded_rate"] == pytest.approx(1 / 6)
    assert answer_diagnostics([], [], [])["empty_answer_rate"] == 0.0


# ---------------------------------------------------------------------------------- the GRPO monitor
def _monitor(tmp_path, **settings):
    from thinktune.recipes.grpo import GRPOMonitor
    from thinktune.rewards import get_reward

    names = ["accuracy", "format_strict"]
    monitor = GRPOMonitor(tmp_path / "metrics.jsonl", names, ["correctness", "format"], [1.0, 0.5],
                           AlarmSettings(**settings))
    funcs = [monitor.wrap(get_reward(n)) for n in names]
    return monitor, funcs


def _step(funcs, completions, answers, prompt="Calculate 17 + 25."):
    prompts = [[{"role": "user", "content": prompt}]] * len(completions)
    for f in funcs:
        f(prompts, completions, answer=answers, verifier=["numeric"] * len(answers), meta=["{}"] * len(answers))


def test_monitor_row_has_every_field_and_its_own_accuracy(tmp_path):
    from thinktune.recipes.grpo import STEP_FIELDS

    monitor, funcs = _monitor(tmp_path)
    good = "<think>\n17 + 25 = 42\n</think>\n<answer>\n42\n</answer>"
    _step(funcs, [good, "<answer>42</answer>", "<answer>17</answer>", "no tags"], ["42"] * 4)
    row = monitor.step_row(1, {"loss": 0.1, "completions/mean_length": 12.0, "frac_reward_zero_std": 0.5})
    assert set(STEP_FIELDS) <= set(row)
    assert row["accuracy"] == 0.5 and row["format_rate"] == 0.25
    assert row["copied_answer_rate"] == 0.25 and row["empty_answer_rate"] == 0.25
    assert row["copied_rewarded_rate"] == 0.0 and row["empty_rewarded_rate"] == 0.0
    assert row["completion_length_mean"] == 12.0 and row["zero_variance_frac"] == 0.5 and row["kl"] is None
    assert row["alarms"] == [] and all(row[f"alarm/{a}"] is False for a in ALARMS)
    assert monitor.batches == []  # consumed


def test_monitor_flags_and_warns_once_when_a_verifier_rewards_copies(tmp_path, caplog):
    monitor, funcs = _monitor(tmp_path, copy_rewarded=0.2)
    # a (deliberately) broken task where the gold answer is a number in the prompt
    rows = []
    with caplog.at_level(logging.WARNING, logger="thinktune.grpo"):
        for step in range(1, 4):
            _step(funcs, ["<think>x</think><answer>17</answer>"] * 4, ["17"] * 4)
            rows.append(monitor.step_row(step, {}))
    assert all(r["alarm/rewarded_copy"] for r in rows) and all("rewarded_copy" in r["alarms"] for r in rows)
    warnings = [r for r in caplog.records if "rewarded_copy" in r.getMessage()]
    assert len(warnings) == 1 and "step 1" in warnings[0].getMessage()
    assert monitor.ever_fired == {"rewarded_copy"}


def test_monitor_warns_again_after_an_alarm_clears_and_returns(tmp_path, caplog):
    monitor, funcs = _monitor(tmp_path)
    with caplog.at_level(logging.WARNING, logger="thinktune.grpo"):
        for step, length in enumerate([1.0, 30.0, 1.0], start=1):
            _step(funcs, ["x"], ["1"])
            monitor.step_row(step, {"completions/mean_length": length})
    messages = [r.getMessage() for r in caplog.records if "length_collapse" in r.getMessage()]
    assert [m.split(":")[0] for m in messages] == ["step 1", "step 3"]


def test_importing_the_alarms_stays_light():
    """Pure functions over metric rows: importing them (as the GRPO config does) loads no torch, transformers,
    trl or math_verify."""
    import subprocess
    import sys

    heavy = ("torch", "transformers", "trl", "math_verify")
    code = f"import sys, thinktune.rewards.alarms; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
