"""The pure pieces strategies are composed of: read answers, vote, weight, pick.

Every strategy goes generate N → `read_answer` on each completion → `vote` (optionally weighted by a
scorer) or `pick_best`. Answers vote together when `thinktune.verify.normalize` maps them to the same key,
so `1/2`, `0.5` and `\\frac{1}{2}` are one candidate. Ties go to the answer seen first, so a vote over the
same samples in the same order always gives the same result.

Two readings of every completion, matching the harness's two accuracies:
    strict   the answer inside `<answer>` of a completion in the requested format (reasoning: exactly one
             `<think>` block then one `<answer>` block, `format.parse(strict=True)`; direct: one `<answer>`
             block and nothing else, `format.parse_direct`);
    lenient  `format.best_answer`: the tagged answer read leniently, else the last number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from thinktune.format import best_answer, parse, parse_direct
from thinktune.verify import MODES, normalize


class Reading(NamedTuple):
    """What one completion says: its strict answer (None unless well formed) and its lenient answer."""

    strict: str | None
    lenient: str | None
    well_formed: bool


def read_answer(text: str | None, reasoning: bool = True) -> Reading:
    """Read a completion both ways (see module docstring).

    >>> read_answer("<think>\\n2+2\\n</think>\\n<answer>\\n4\\n</answer>")
    Reading(strict='4', lenient='4', well_formed=True)
    >>> read_answer("so the answer is 4", reasoning=True)
    Reading(strict=None, lenient='4', well_formed=False)
    >>> read_answer("<answer>4</answer>", reasoning=False)
    Reading(strict='4', lenient='4', well_formed=True)
    """
    if not isinstance(text, str):
        return Reading(None, None, False)
    lenient = best_answer(text)
    strict = parse(text, strict=True).answer if reasoning else parse_direct(text)
    return Reading(strict, lenient, strict is not None)


def vote_key(answer: str | None, mode: str = "math") -> str | None:
    """The key answers vote under (None never votes); modes outside `verify.MODES` compare exactly."""
    return normalize(answer, mode if mode in MODES else "exact")


class Vote(NamedTuple):
    """The result of a vote: the winning answer as first written, its key, and every key's weight."""

    answer: str | None
    key: str | None
    weights: dict[str, float]


def vote(answers: Sequence[str | None], mode: str = "math", weights: Sequence[float] | None = None) -> Vote:
    """Majority (or weighted-majority) vote; answers that cannot be read do not vote.

    >>> vote(["1/2", "0.5", "3", None]).answer
    '1/2'
    >>> vote(["3", "4", "4"], weights=[5.0, 1.0, 1.0]).answer
    '3'
    """
    if weights is not None and len(weights) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    totals: dict[str, float] = {}
    first: dict[str, str] = {}
    for i, ans in enumerate(answers):
        key = vote_key(ans, mode)
        if key is None:
            continue
        totals[key] = totals.get(key, 0.0) + (1.0 if weights is None else float(weights[i]))
        first.setdefault(key, ans)  # type: ignore[arg-type]
    if not totals:
        return Vote(None, None, {})
    best = max(totals, key=lambda k: totals[k])  # dicts keep insertion order: ties go to the first seen
    return Vote(first[best], best, totals)


def pick_best(scores: Sequence[float]) -> int | None:
    """Index of the highest score (the first one on ties); None for no candidates.

    >>> pick_best([0.1, 0.9, 0.9])
    1
    """
    if not scores:
        return None
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def answer_counts(answers: Sequence[str | None], mode: str = "math") -> list[int]:
    """Vote counts per distinct answer, largest first (the input of the stopping rules)."""
    return sorted((int(v) for v in vote(answers, mode).weights.values()), reverse=True)
