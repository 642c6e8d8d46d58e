"""Reward-hacking and collapse alarms: pure functions over the per-step metric history of an RL run.

An RL run can raise its reward without learning the task. Each alarm looks at the metrics rows written so
far (`metrics.jsonl`, one dict per step) and says, in one line, what looks wrong:

    format_over_accuracy   the format rate rises while accuracy falls over a window: the model is
                           learning to look right instead of being right
    rewarded_empty         completions with an empty or missing answer earn correctness reward: a hole
                           in the verifier
    rewarded_copy          answers copied from the prompt earn correctness reward (e.g. echoing the
                           countdown target): a hole in the verifier or a task too easy to mean anything
    length_explosion       completion length grows by a factor over the window, or truncation rises
    length_collapse        completion length shrinks by a factor, or to almost nothing
    no_signal              every group has zero reward variance for many steps: GRPO's advantages are all
                           zero, so nothing is being learnt (the task is too hard, or too easy)

`check_alarms(history, settings)` returns `{name: message}` for the alarms firing at the last row. The
GRPO recipe calls it after every step, writes a boolean `alarm/<name>` for every alarm into the row
(so a plot can show when they fired), and logs a warning each time an alarm starts firing.

`answer_diagnostics` computes the per-step inputs of the two `rewarded_*` alarms from the completions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

ALARMS: dict[str, str] = {
    "format_over_accuracy": "format rate rising while accuracy falls",
    "rewarded_empty": "empty answers earn correctness reward",
    "rewarded_copy": "answers copied from the prompt earn correctness reward",
    "length_explosion": "completion length exploding",
    "length_collapse": "completion length collapsing",
    "no_signal": "all groups have zero reward variance (nothing to learn from)",
}


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds of the reward-hacking and collapse alarms."""

    window: int = field(default=10, metadata={"help": "steps compared by the trend alarms (first half vs second half)"})
    format_rise: float = field(default=0.2, metadata={"help": "format-rate rise over the window that counts as rising"})
    accuracy_drop: float = field(default=0.05, metadata={"help": "accuracy fall over the window that counts as falling"})
    empty_rewarded: float = field(default=0.0, metadata={"help": "alarm when more than this share of completions "
                                                                 "has an empty answer yet earns correctness reward"})
    copy_rewarded: float = field(default=0.25, metadata={"help": "alarm when more than this share of completions "
                                                                "copies its answer from the prompt and earns reward"})
    length_growth: float = field(default=2.0, metadata={"help": "mean-length growth factor over the window"})
    length_shrink: float = field(default=0.5, metadata={"help": "mean-length shrink factor over the window"})
    min_length: float = field(default=2.0, metadata={"help": "mean completion length (tokens) below which it has collapsed"})
    clipped_rise: float = field(default=0.5, metadata={"help": "rise of the truncated share over the window"})
    zero_variance_steps: int = field(default=10, metadata={"help": "consecutive all-zero-variance steps before no_signal"})

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"alarms.window must be at least 2, got {self.window}")
        if self.zero_variance_steps < 1:
            raise ValueError(f"alarms.zero_variance_steps must be at least 1, got {self.zero_variance_steps}")


# ------------------------------------------------------------------------------------------ the alarms
def format_over_accuracy(history: Sequence[dict], s: AlarmSettings = AlarmSettings()) -> str | None:
    """Format rate up by ≥ `format_rise` while accuracy down by ≥ `accuracy_drop`, window halves compared."""
    halves = _halves(history, s.window, "format_rate", "accuracy")
    if halves is None:
        return None
    (f0, a0), (f1, a1) = halves
    if f1 - f0 >= s.format_rise and a0 - a1 >= s.accuracy_drop:
        return (f"format rate rose {f0:.2f} → {f1:.2f} while accuracy fell {a0:.2f} → {a1:.2f} over the last "
                f"{s.window} steps: the model may be learning the format instead of the task")
    return None


def rewarded_empty(history: Sequence[dict], s: AlarmSettings = AlarmSettings()) -> str | None:
    """At the last step, more than `empty_rewarded` of completions had no answer yet earned correctness reward."""
    value = _last(history, "empty_rewarded_rate")
    if value is not None and value > s.empty_rewarded:
        return (f"{value:.0%} of completions had an empty or missing answer but earned correctness reward: "
                "check the verifier / reward functions")
    return None


def rewarded_copy(history: Sequence[dict], s: AlarmSettings = AlarmSettings()) -> str | None:
    """At the last step, more than `copy_rewarded` of completions copied the prompt and earned reward."""
    value = _last(history, "copied_rewarded_rate")
    if value is not None and value > s.copy_rewarded:
        return (f"{value:.0%} of completions answered with text copied from the prompt and earned correctness "
                "reward: check that the verifier cannot be satisfied by echoing the question")
    return None


def length_explosion(history: Sequence[dict], s: AlarmSettings = AlarmSettings()) -> str | None:
    """Mean length grew by `length_growth`×, or the truncated share rose by `clipped_rise`, over the window."""
    halves = _halves(history, s.window, "completion_length_mean")
    if halves is not None:
        (l0,), (l1,) = halves
        if l0 > 0 and l1 / l0 >= s.length_growth:
            return f"mean completion length grew {l0:.0f} → {l1:.0f} tokens over the last {s.window} steps"
    clipped = _halves(history, s.window, "clipped_ratio")
    if clipped is not None:
        (c0,), (c1,) = clipped
        if c1 - c0 >= s.clipped_rise:
            return (f"share of completions cut at the length limit rose {c0:.0%} → {c1:.0%} over the last "
                    f"{s.window} steps")
    return None


def length_collapse(history: Sequence[dict], s: AlarmSettings = AlarmSettings()) -> str | None:
    """Mean length shrank to `length_shrink`× over the window, or the last step's mean is below `min_length`."""
    last = _last(history, "completion_length_mean")
    if last is not None and last < s.min_length:
        return f"mean completion length is {last:.1f} tokens: the policy has collapsed to (almost) empty output"
    halves = _halves(history, s.window, "completion_length_mean")
    if halves is not None:
        (l0,), (l1,) = halves
        if l0 > 0 and l1 / l0 <= s.length_shrink:
            return f"mean completion length shrank {l0:.0f} → {l1:.0f} tokens over the last {s.window} steps"
    return None


def no_signal(history: Sequence[dict], s: AlarmSettings = AlarmSettings()) -> str | None:
    """The last `zero_variance_steps` steps all had every group at zero reward variance."""
    n = s.zero_variance_steps
    if len(history) < n:
        return None
    values = [_num(row.get("zero_variance_frac")) for row in history[-n:]]
    if all(v is not None and v >= 1.0 - 1e-9 for v in values):
        return (f"every group had zero reward variance for {n} steps: advantages are all zero and nothing is "
                "learnt (make the task easier or harder, raise the temperature or the group size)")
    return None


_CHECKS = {
    "format_over_accuracy": format_over_accuracy,
    "rewarded_empty": rewarded_empty,
    "rewarded_copy": rewarded_copy,
    "length_explosion": length_explosion,
    "length_collapse": length_collapse,
    "no_signal": no_signal,
}


def check_alarms(history: Sequence[dict], settings: AlarmSettings = AlarmSettings()) -> dict[str, str]:
    """`{alarm name: message}` for every alarm firing at the last row of `history` (oldest row first).

    >>> rows = [{"zero_variance_frac": 1.0}] * 10
    >>> list(check_alarms(rows))
    ['no_signal']
    """
    fired = {}
    for name, check in _CHECKS.items():
        message = check(history, settings)
        if message:
            fired[name] = message
    return fired


# ------------------------------------------------------------------------------------ per-step inputs
def is_empty(answer: str | None) -> bool:
    return answer is None or not answer.strip()


def is_copied(answer: str | None, prompt: str) -> bool:
    """True when the answer appears verbatim in the prompt as a whole token sequence (not inside a number/word).

    >>> is_copied("80", "create an equation that equals 80."), is_copied("8", "equals 80"), is_copied("12", "x")
    (True, False, False)
    """
    if is_empty(answer) or not prompt:
        return False
    needle = answer.strip()
    return re.search(r"(?<![\w.])" + re.escape(needle) + r"(?![\w]|\.\d)", prompt) is not None


def answer_diagnostics(answers: Sequence[str | None], prompts: Sequence[str],
                       correctness: Sequence[float | None]) -> dict[str, float]:
    """Per-step shares of empty / copied answers, and of those that earned correctness reward (> 0).

    Args:
        answers: each completion's extracted answer (None when none could be read).
        prompts: each completion's prompt text.
        correctness: each completion's summed correctness reward (None when no correctness reward applied).
    """
    n = len(answers)
    if n == 0:
        return {"empty_answer_rate": 0.0, "copied_answer_rate": 0.0, "empty_rewarded_rate": 0.0,
                "copied_rewarded_rate": 0.0}
    empty = [is_empty(a) for a in answers]
    copied = [not e and is_copied(a, p) for a, p, e in zip(answers, prompts, empty, strict=True)]
    scored = [c is not None and c > 0 for c in correctness]
    return {
        "empty_answer_rate": sum(empty) / n,
        "copied_answer_rate": sum(copied) / n,
        "empty_rewarded_rate": sum(e and s for e, s in zip(empty, scored, strict=True)) / n,
        "copied_rewarded_rate": sum(c and s for c, s in zip(copied, scored, strict=True)) / n,
    }


# -------------------------------------------------------------------------------------------- helpers
def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _last(history: Sequence[dict], key: str) -> float | None:
    return _num(history[-1].get(key)) if history else None


def _halves(history: Sequence[dict], window: int, *keys: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Means of `keys` over the first and second half of the last `window` rows; None if any is missing."""
    if len(history) < window:
        return None
    rows = history[-window:]
    mid = window // 2
    out = []
    for part in (rows[:mid], rows[mid:]):
        means = []
        for key in keys:
            values = [_num(r.get(key)) for r in part]
            if any(v is None for v in values):
                return None
            means.append(sum(values) / len(values))
        out.append(tuple(means))
    return out[0], out[1]
