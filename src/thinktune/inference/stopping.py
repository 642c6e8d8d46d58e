"""Stopping rules for adaptive self-consistency: is the leading answer settled yet?

`beta`  Adaptive-Consistency (Aggarwal et al. 2023, https://arxiv.org/abs/2305.11860): with `a` votes for
        the leading answer and `b` for the runner-up, the posterior of the leader's share between the two
        is Beta(a+1, b+1); stop once P(share > 1/2) exceeds `threshold` (0.95 in the paper). For integer
        parameters that probability is a binomial tail, computed exactly here (no SciPy):
        P(Beta(a+1, b+1) > 1/2) = P(Binomial(a+b+1, 1/2) <= a).
`esc`   Early-Stopping Self-Consistency (Li et al. 2024, https://arxiv.org/abs/2401.10480): sample in
        windows of `window` samples; stop after the first window whose answers are all the same.

Both are pure functions of the answers so far, so a recorded stream of samples can be replayed to see
where a rule would have stopped (`replay`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thinktune.inference.voting import answer_counts, vote_key

RULES = ("beta", "esc")


def beta_confidence(a: int, b: int) -> float:
    """P(p_leader > p_runner_up) under a uniform prior, with `a` and `b` votes.

    >>> round(beta_confidence(4, 0), 4)   # four agreeing samples: 1 - 1/32
    0.9688
    >>> beta_confidence(3, 3)
    0.5
    """
    n = a + b + 1
    return sum(math.comb(n, k) for k in range(a + 1)) / 2**n


def beta_stop(answers: Sequence[str | None], threshold: float = 0.95, mode: str = "math") -> bool:
    """Adaptive-Consistency's Beta criterion over the answers so far (unreadable answers do not count)."""
    counts = answer_counts(answers, mode)
    if not counts:
        return False
    a, b = counts[0], counts[1] if len(counts) > 1 else 0
    return beta_confidence(a, b) > threshold


def esc_stop(answers: Sequence[str | None], window: int = 4, mode: str = "math") -> bool:
    """ESC: True when the last complete window of `window` samples all give the same readable answer.

    >>> esc_stop(["1", "2", "3", "3", "3", "3", "3"], window=4)   # windows are [0:4], [4:8]: not complete
    False
    >>> esc_stop(["1", "2", "3", "3", "3", "3", "3", "3"], window=4)
    True
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    full = len(answers) // window * window
    if full == 0:
        return False
    keys = {vote_key(a, mode) for a in answers[full - window : full]}
    return len(keys) == 1 and None not in keys


def should_stop(answers: Sequence[str | None], rule: str = "beta", *, threshold: float = 0.95,
                window: int = 4, mode: str = "math") -> bool:
    """Dispatch to a rule by name."""
    if rule == "beta":
        return beta_stop(answers, threshold, mode)
    if rule == "esc":
        return esc_stop(answers, window, mode)
    raise ValueError(f"unknown stopping rule {rule!r}; choose from {', '.join(RULES)}")


def replay(answers: Sequence[str | None], rule: str = "beta", *, batch: int = 1, max_samples: int | None = None,
           **kwargs) -> int:
    """How many of a recorded stream of answers adaptive sampling would use, drawing `batch` at a time.

    >>> replay(["7", "7", "7", "7", "2", "7"], rule="beta")
    4
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    limit = len(answers) if max_samples is None else min(max_samples, len(answers))
    used = 0
    while used < limit:
        used = min(used + batch, limit)
        if should_stop(answers[:used], rule, **kwargs):
            break
    return used
