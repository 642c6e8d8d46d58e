"""Evaluation metrics: pure functions of the per-question records, so a resumed run recomputes them exactly.

pass@k uses the unbiased estimator of Chen et al. 2021 (https://arxiv.org/abs/2107.03374): with n samples of
which c are correct, pass@k = 1 - C(n-c, k) / C(n, k), the probability that k samples drawn without
replacement from the n include a correct one, computed as a stable product. maj@k is the majority vote
over a question's first k samples (answers normalised by the verifier's mode), scored with the verdict the
winning answer got.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from thinktune.inference.voting import vote, vote_key


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct.

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 4), pass_at_k(4, 0, 2)
    (0.25, 1.0, 0.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k / i)  ==  1 - C(n-c, k) / C(n, k)
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation (NumPy's default); NaN for no values.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def summary(values: Sequence[float], name: str) -> dict[str, float]:
    """`{name}_mean`, `{name}_p50`, `{name}_p95`."""
    return {f"{name}_mean": _mean(values), f"{name}_p50": percentile(values, 50), f"{name}_p95": percentile(values, 95)}


def k_values(n: int) -> list[int]:
    """The k reported for n samples: powers of two below n, and n itself.

    >>> k_values(16), k_values(6), k_values(1)
    ([1, 2, 4, 8, 16], [1, 2, 4, 6], [1])
    """
    ks = [2**i for i in range(n.bit_length()) if 2**i < n]
    return [*ks, n]


def majority_correct(answers: Sequence[str | None], verdicts: Sequence[float], mode: str = "math") -> float:
    """The verdict of the majority answer among `answers` (0 when none can be read).

    >>> majority_correct(["5", "4", "4.0"], [1.0, 0.0, 0.0])
    0.0
    """
    winner = vote(answers, mode)
    if winner.key is None:
        return 0.0
    for ans, ok in zip(answers, verdicts, strict=True):
        if vote_key(ans, mode) == winner.key:
            return float(ok)
    return 0.0


def compute_metrics(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Every reported number from the records (see `evaluation.harness` for the record fields); a number
    that cannot be measured is None or absent (with no records, only `n_questions` is there; pass@k / maj@k
    only when every question has the same number of independent samples)."""
    m: dict[str, float] = {"n_questions": len(records)}
    if not records:
        return m
    m["strict_accuracy"] = _mean(float(r["correct_strict"]) for r in records)
    m["lenient_accuracy"] = _mean(float(r["correct_lenient"]) for r in records)
    m["format_rate"] = _mean(_mean(map(float, r["well_formed"])) if r["well_formed"] else 0.0 for r in records)
    sizes = {len(r["verdicts"]) for r in records}
    if len(sizes) == 1 and (n := sizes.pop()) > 1 and all(r.get("fixed_samples", True) for r in records):
        for k in k_values(n):
            m[f"pass@{k}"] = _mean(pass_at_k(n, sum(v >= 1.0 for v in r["verdicts"]), k) for r in records)
        for k in k_values(n)[1:]:
            m[f"maj@{k}"] = _mean(majority_correct(r["answers"][:k], r["verdicts"][:k], r.get("mode", "math"))
                                  for r in records)
    m.update(summary([r["thinking_tokens"] for r in records], "thinking_tokens"))
    m.update(summary([r["answer_tokens"] for r in records], "answer_tokens"))
    m.update(summary([r["output_tokens"] for r in records], "output_tokens"))
    latencies = [r["latency_s"] for r in records]
    m["latency_p50"], m["latency_p95"] = percentile(latencies, 50), percentile(latencies, 95)
    wall = sum(r["wall_share_s"] for r in records)
    m["wall_s"] = wall
    m["s_per_question"] = wall / len(records)
    m["tokens_per_s"] = sum(r["output_tokens"] for r in records) / wall if wall > 0 else float("nan")
    m["samples_per_question_mean"] = _mean(r["samples_used"] for r in records)
    # NaN (nothing to measure, e.g. a zero wall time) becomes None, so metrics.json stays valid JSON.
    return {k: (round(v, 6) if math.isfinite(v) else None) if isinstance(v, float) else v for k, v in m.items()}


def mcnemar_one_sided(only_old: int, only_new: int) -> float:
    """P(X >= only_new), X ~ Binomial(only_old + only_new, 1/2): how likely the new model wins this many of
    the discordant questions by chance.

    >>> round(mcnemar_one_sided(2, 10), 4), mcnemar_one_sided(0, 0)
    (0.0193, 1.0)
    """
    n = only_old + only_new
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(only_new, n + 1)) / 2 ** n


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for paired verdicts: `only_a` questions right only under A, `only_b`
    only under B (the discordant pairs), against Binomial(only_a + only_b, 1/2).

    >>> round(mcnemar_exact(2, 10), 4), mcnemar_exact(0, 0), mcnemar_exact(3, 3)
    (0.0386, 1.0, 1.0)
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(0, min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_comparison(a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    """B against A on the questions both answered (keyed by question id): wins (right only under B), losses,
    the accuracy change in points and McNemar's two-sided exact p."""
    common = sorted(set(a) & set(b))
    wins = sum(b[q] and not a[q] for q in common)
    losses = sum(a[q] and not b[q] for q in common)
    delta = 100.0 * (wins - losses) / len(common) if common else 0.0
    return {"n": len(common), "wins": wins, "losses": losses, "delta_points": round(delta, 1),
            "p_value": round(mcnemar_exact(losses, wins), 4)}
