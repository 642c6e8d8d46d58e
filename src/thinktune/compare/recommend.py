"""The recommendation maths: from measured rows (accuracy, tokens and seconds per query) to a verdict.

Pure functions, no models; `compare` feeds them its table and the report prints what they return.

Definitions (for the pair "accurate" = the more accurate variant, "cheap" = the other one):

- **cost per 1,000 queries**: `1000 × tokens_per_query` output tokens and `1000 × seconds_per_query`
  seconds of generation (the harness's wall time per question).
- **gain**: `Δa = a_accurate − a_cheap` (a fraction; printed in points). Its 95% interval half-width is the
  normal approximation for two independent proportions, `1.96 × sqrt(a1(1−a1)/n1 + a2(1−a2)/n2)`; a gain
  inside it is not distinguishable from noise.
- **marginal cost of a correct answer**: `Δc / Δa` — the extra tokens (or seconds) spent per additional
  correct answer. Paying for the accurate variant is worth it exactly when a correct answer is worth more
  than that to you (the value-per-correct-answer break-even).
- **cost per correct answer**: `c / a` — what each variant spends per answer it gets right. The accurate
  variant has the lower cost per correct answer iff `a_accurate / a_cheap > c_accurate / c_cheap`, i.e. iff
  the gain exceeds the **break-even gap** `a_cheap × (c_accurate / c_cheap − 1)`. Below that gap the
  cheaper variant is the better buy even if you only pay for correct answers.

Verdict (`recommend`): non-reasoning when the reasoning variant is not measurably more accurate; hybrid
when a router row keeps the reasoning variant's accuracy (within noise) for fewer tokens; otherwise
reasoning, stated with its price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Z95 = 1.959964


@dataclass(frozen=True)
class Measured:
    """One row of a compare table, reduced to what the recommendation needs.

    Attributes:
        name: the row's label (`reasoning`, `non_reasoning`, `base_cot`, `router_agreement`, …).
        accuracy: strict accuracy, a fraction in [0, 1].
        tokens_per_query: mean output tokens per question (thinking + answer, plus any routing samples).
        seconds_per_query: mean generation seconds per question.
        n: questions evaluated (for the confidence interval).
    """

    name: str
    accuracy: float
    tokens_per_query: float
    seconds_per_query: float
    n: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Measured:
        """Build from a compare row (keys `name`, `strict_accuracy`, `tokens_per_query`, `seconds_per_query`,
        `n_questions`)."""
        return cls(
            name=str(row["name"]),
            accuracy=float(row.get("strict_accuracy", row.get("accuracy", 0.0))),
            tokens_per_query=float(row["tokens_per_query"]),
            seconds_per_query=float(row["seconds_per_query"]),
            n=int(row.get("n_questions", row.get("n", 0)) or 0),
        )

    @property
    def tokens_per_1k(self) -> float:
        return 1000.0 * self.tokens_per_query

    @property
    def seconds_per_1k(self) -> float:
        return 1000.0 * self.seconds_per_query

    @property
    def tokens_per_correct(self) -> float:
        """Tokens spent per correct answer (`inf` when none is correct)."""
        return self.tokens_per_query / self.accuracy if self.accuracy > 0 else math.inf


def gain_ci95(a: Measured, b: Measured) -> float:
    """Half-width of the 95% interval of `a.accuracy − b.accuracy` (normal approximation; inf without n)."""
    if a.n <= 0 or b.n <= 0:
        return math.inf
    var = a.accuracy * (1 - a.accuracy) / a.n + b.accuracy * (1 - b.accuracy) / b.n
    # With 0% or 100% on both sides the normal approximation says 0; use the rule-of-three floor instead.
    floor = 3.0 / max(a.n, b.n)
    return max(Z95 * math.sqrt(var), floor)


def _ratio(x: float, y: float) -> float:
    return x / y if y > 0 else math.inf


@dataclass(frozen=True)
class Tradeoff:
    """What the more accurate variant of a pair costs over the other (see the module docstring)."""

    accurate: Measured
    cheap: Measured
    gain: float
    ci95: float
    token_ratio: float
    second_ratio: float
    extra_tokens_per_correct: float
    extra_seconds_per_correct: float
    breakeven_gap: float

    @property
    def significant(self) -> bool:
        return self.gain > self.ci95

    @property
    def dominant(self) -> bool:
        """The more accurate variant is also no more expensive: nothing to trade."""
        return self.accurate.tokens_per_query <= self.cheap.tokens_per_query


def tradeoff(a: Measured, b: Measured) -> Tradeoff:
    """The trade-off between two rows; `accurate` is the one with the higher accuracy (ties: fewer tokens)."""
    accurate, cheap = sorted((a, b), key=lambda m: (-m.accuracy, m.tokens_per_query))
    gain = accurate.accuracy - cheap.accuracy
    d_tokens = accurate.tokens_per_query - cheap.tokens_per_query
    d_seconds = accurate.seconds_per_query - cheap.seconds_per_query
    token_ratio = _ratio(accurate.tokens_per_query, cheap.tokens_per_query)
    return Tradeoff(
        accurate=accurate,
        cheap=cheap,
        gain=gain,
        ci95=gain_ci95(accurate, cheap),
        token_ratio=token_ratio,
        second_ratio=_ratio(accurate.seconds_per_query, cheap.seconds_per_query),
        extra_tokens_per_correct=d_tokens / gain if gain > 0 else math.inf,
        extra_seconds_per_correct=d_seconds / gain if gain > 0 else math.inf,
        breakeven_gap=cheap.accuracy * (token_ratio - 1) if math.isfinite(token_ratio) else math.inf,
    )


@dataclass(frozen=True)
class Recommendation:
    """The verdict and the lines that justify it.

    Attributes:
        verdict: `reasoning`, `non_reasoning` or `hybrid`.
        best: the most accurate row's name; cheapest: the row with the fewest tokens per query.
        lines: Markdown sentences, each computed from the numbers.
        numbers: the computed quantities, for tests and JSON.
    """

    verdict: str
    best: str
    cheapest: str
    lines: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        return "\n".join(f"- {line}" for line in self.lines)


# ----------------------------------------------------------------------------------- formatting
def pct(x: float) -> str:
    """A fraction as a percentage with one decimal: `0.583 → '58.3%'`."""
    return f"{100 * x:.1f}%"


def pts(x: float) -> str:
    """A fraction as signed percentage points: `0.12 → '+12.0 points'`."""
    return f"{100 * x:+.1f} points"


def num(x: float, digits: int = 0) -> str:
    """A number with thousands separators; `inf` as '∞'."""
    return "∞" if not math.isfinite(x) else f"{x:,.{digits}f}"


def ratio(x: float) -> str:
    return "∞" if not math.isfinite(x) else f"{x:.2f}×"


# ---------------------------------------------------------------------------------- recommend
def recommend(
    rows: Sequence[Mapping[str, Any] | Measured],
    reasoning: str = "reasoning",
    direct: str = "non_reasoning",
    routers: Sequence[str] = (),
) -> Recommendation:
    """The recommendation from a compare table.

    Args:
        rows: measured rows (dicts as `compare` writes them, or `Measured`).
        reasoning: name of the reasoning variant's row; direct: name of the non-reasoning variant's row.
        routers: names of hybrid-router rows to consider.

    Raises:
        KeyError: when `reasoning` or `direct` is not among the rows.
    """
    measured = [r if isinstance(r, Measured) else Measured.from_row(r) for r in rows]
    by_name = {m.name: m for m in measured}
    r, d = by_name[reasoning], by_name[direct]
    best = max(measured, key=lambda m: (m.accuracy, -m.tokens_per_query))
    cheapest = min(measured, key=lambda m: (m.tokens_per_query, -m.accuracy))
    t = tradeoff(r, d)
    lines = [
        f"Most accurate: **{best.name}** ({pct(best.accuracy)} strict accuracy"
        + (f", n={best.n}" if best.n else "") + f"); cheapest: **{cheapest.name}** "
        f"({num(cheapest.tokens_per_query, 1)} output tokens per query).",
        "Per 1,000 queries: " + "; ".join(
            f"{m.name} {num(m.tokens_per_1k)} tokens and {num(m.seconds_per_1k)} s" for m in (r, d)
        ) + ".",
    ]
    numbers: dict[str, Any] = {
        "gain": t.gain, "ci95": t.ci95, "token_ratio": t.token_ratio, "second_ratio": t.second_ratio,
        "extra_tokens_per_correct": t.extra_tokens_per_correct,
        "extra_seconds_per_correct": t.extra_seconds_per_correct,
        "breakeven_gap": t.breakeven_gap, "accurate": t.accurate.name, "cheap": t.cheap.name,
    }
    if t.gain <= 0:
        fewer = min((r, d), key=lambda m: m.tokens_per_query)
        lines.append(f"{r.name} and {d.name} are equally accurate ({pct(r.accuracy)}); the one with fewer "
                     f"tokens ({fewer.name}) is the better buy.")
    elif t.dominant:
        lines.append(f"**{t.accurate.name}** is more accurate ({pts(t.gain)}) and no more expensive "
                     f"({ratio(t.token_ratio)} the tokens): nothing to trade.")
    else:
        lines.append(
            f"**{t.accurate.name}** costs {ratio(t.token_ratio)} the tokens and {ratio(t.second_ratio)} the time "
            f"of **{t.cheap.name}** for {pts(t.gain)} of accuracy (95% interval ±{100 * t.ci95:.1f} points"
            + ("" if t.significant else "; **not distinguishable from noise**") + ")."
        )
        lines.append(
            f"Each extra correct answer costs {num(t.extra_tokens_per_correct)} extra tokens "
            f"({num(t.extra_seconds_per_correct, 2)} s): {t.accurate.name} is worth it if a correct answer is "
            f"worth more than that to you."
        )
        lines.append(
            f"Cost per correct answer: {t.accurate.name} {num(t.accurate.tokens_per_correct)} tokens, "
            f"{t.cheap.name} {num(t.cheap.tokens_per_correct)} tokens. The cheaper {t.cheap.name} is the better "
            f"buy per correct answer while the accuracy gap is below {100 * t.breakeven_gap:.1f} points "
            f"(= {pct(t.cheap.accuracy)} × ({t.token_ratio:.2f} − 1)); the measured gap is {100 * t.gain:.1f}."
        )

    verdict, why = _verdict(t, r, d, [by_name[n] for n in routers if n in by_name])
    numbers["verdict_reason"] = why
    lines.append(f"**Verdict: {verdict.replace('_', '-')}** — {why}")
    return Recommendation(verdict, best.name, cheapest.name, lines, numbers)


def _verdict(t: Tradeoff, r: Measured, d: Measured, routers: list[Measured]) -> tuple[str, str]:
    if t.gain <= 0:
        fewer = min((r, d), key=lambda m: m.tokens_per_query)
        verdict = "reasoning" if fewer is r else "non_reasoning"
        return verdict, f"{r.name} and {d.name} are equally accurate; {fewer.name} spends fewer tokens."
    if t.accurate is not r:
        cheaper = " and spends fewer tokens" if d.tokens_per_query <= r.tokens_per_query else ""
        return "non_reasoning", f"{d.name} is more accurate than {r.name}{cheaper}."
    if not t.significant:
        fewer = min((d, r), key=lambda m: m.tokens_per_query)
        verdict = "reasoning" if fewer is r else "non_reasoning"
        return verdict, (f"{r.name}'s gain ({pts(t.gain)}) is within the noise of {r.n} questions; take "
                         f"the cheaper {fewer.name} and measure on more questions.")
    for router in sorted(routers, key=lambda m: m.tokens_per_query):
        keeps = r.accuracy - router.accuracy <= gain_ci95(r, router) and router.accuracy > d.accuracy
        if keeps and router.tokens_per_query < r.tokens_per_query:
            return "hybrid", (f"{router.name} keeps {r.name}'s accuracy within noise ({pct(router.accuracy)} vs "
                              f"{pct(r.accuracy)}) for {ratio(_ratio(router.tokens_per_query, r.tokens_per_query))} "
                              "its tokens.")
    if t.gain > t.breakeven_gap:
        return "reasoning", (f"{r.name} is {pts(t.gain)} more accurate, enough to be cheaper per correct answer "
                             f"despite {ratio(t.token_ratio)} the tokens per query.")
    return "reasoning", (f"{r.name} is {pts(t.gain)} more accurate at {ratio(t.token_ratio)} the tokens; choose it "
                         f"if a correct answer is worth more than {num(t.extra_tokens_per_correct)} tokens, "
                         f"else {d.name}.")
