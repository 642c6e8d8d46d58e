"""Length shaping: punish running into the length limit, or scale correctness by length.

- `overlong` — DAPO's soft overlong punishment (Yu et al. 2025, https://arxiv.org/abs/2503.14476, eq. 13):
  0 up to `max_length - cache`, then falling linearly to -1 at `max_length`, -1 beyond. Added to the
  accuracy reward it tells a model that truncated answers are bad without a cliff at the limit.
- `cosine` — the cosine length-scaled accuracy of "Demystifying Long Chain-of-Thought Reasoning in LLMs"
  (Yeo et al. 2025, https://arxiv.org/abs/2502.03373): a correct answer earns between `max_correct`
  (short) and `min_correct` (at the limit); a wrong one between `min_wrong` (short) and `max_wrong` (at
  the limit), so short right answers are preferred and long thinking is encouraged only when wrong. The
  defaults are open-r1's (1.0/0.5 correct, -1.0/-0.5 wrong) rather than the paper's (2/1 and -10/0).

Lengths are in tokens, from TRL's `completion_ids`; called without them (outside TRL) they fall back to
`len(text) / 4`, a rough characters-per-token estimate.
"""

from __future__ import annotations

import math

from thinktune.rewards.accuracy import score_completion
from thinktune.rewards.columns import completion_text, example_at, restore_think


def soft_overlong_penalty(length: int, max_length: int, cache: int) -> float:
    """DAPO's penalty for one completion of `length` tokens.

    >>> [soft_overlong_penalty(n, 100, 20) for n in (50, 80, 90, 100, 120)]
    [0.0, 0.0, -0.5, -1.0, -1.0]
    """
    if cache <= 0 or cache > max_length:
        raise ValueError(f"cache must be in [1, max_length], got {cache} (max_length {max_length})")
    start = max_length - cache
    if length <= start:
        return 0.0
    if length <= max_length:
        return (start - length) / cache
    return -1.0


def cosine_scale(length: int, max_length: int, start: float, end: float) -> float:
    """`start` at length 0 falling along a half cosine to `end` at `max_length` (clamped beyond).

    >>> cosine_scale(0, 100, 1.0, 0.5), cosine_scale(50, 100, 1.0, 0.5), cosine_scale(100, 100, 1.0, 0.5)
    (1.0, 0.75, 0.5)
    """
    progress = min(max(length / max_length, 0.0), 1.0)
    return end + 0.5 * (start - end) * (1.0 + math.cos(progress * math.pi))


def _lengths(completions: list, completion_ids: list | None) -> list[int]:
    if completion_ids is not None and len(completion_ids) == len(completions):
        return [len(ids) for ids in completion_ids]
    return [math.ceil(len(completion_text(c)) / 4) for c in completions]


def overlong(max_length: int, cache: int | None = None):
    """The soft overlong punishment reward for a `max_length`-token budget (`cache` default: 20% of it)."""
    cache = cache if cache is not None else max(1, max_length // 5)
    soft_overlong_penalty(0, max_length, cache)  # validate now, not mid-training

    def overlong(prompts: list, completions: list, completion_ids: list | None = None, **_) -> list[float]:
        return [soft_overlong_penalty(n, max_length, cache) for n in _lengths(completions, completion_ids)]

    return overlong


def cosine(max_length: int, min_correct: float = 0.5, max_correct: float = 1.0, min_wrong: float = -1.0,
           max_wrong: float = -0.5, strict: bool = False, prefilled: bool = False):
    """The cosine length-scaled accuracy reward (see the module docstring for the shape)."""

    def cosine(prompts: list, completions: list, completion_ids: list | None = None, **columns) -> list[float | None]:
        out: list[float | None] = []
        for i, (c, n) in enumerate(zip(completions, _lengths(completions, completion_ids), strict=True)):
            example = example_at(i, columns)
            if example is None:
                out.append(None)
                continue
            correct = score_completion(restore_think(completion_text(c), prefilled), example, strict) >= 1.0
            out.append(cosine_scale(n, max_length, max_correct, min_correct) if correct
                       else cosine_scale(n, max_length, min_wrong, max_wrong))
        return out

    return cosine
