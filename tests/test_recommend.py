"""The recommendation maths, on hand-made numbers; every expected string is computed here from the numbers."""

from __future__ import annotations

import math

import pytest

from thinktune.compare.recommend import Measured, gain_ci95, num, pct, recommend, tradeoff


def rows(r_acc=0.58, d_acc=0.02, r_tok=57.0, d_tok=12.0, r_s=0.85, d_s=0.25, n=50, extra=()):
    base = [
        {"name": "reasoning", "strict_accuracy": r_acc, "tokens_per_query": r_tok, "seconds_per_query": r_s,
         "n_questions": n},
        {"name": "non_reasoning", "strict_accuracy": d_acc, "tokens_per_query": d_tok, "seconds_per_query": d_s,
         "n_questions": n},
    ]
    return base + list(extra)


def test_tradeoff_quantities_follow_the_definitions():
    a = Measured("reasoning", 0.58, 57.0, 0.85, 50)
    b = Measured("non_reasoning", 0.02, 12.0, 0.25, 50)
    t = tradeoff(b, a)  # order does not matter
    assert t.accurate is a and t.cheap is b
    assert t.gain == pytest.approx(0.56)
    assert t.token_ratio == pytest.approx(57 / 12)
    assert t.second_ratio == pytest.approx(0.85 / 0.25)
    assert t.extra_tokens_per_correct == pytest.approx((57 - 12) / 0.56)
    assert t.extra_seconds_per_correct == pytest.approx((0.85 - 0.25) / 0.56)
    assert t.breakeven_gap == pytest.approx(0.02 * (57 / 12 - 1))
    expected_ci = 1.959964 * math.sqrt(0.58 * 0.42 / 50 + 0.02 * 0.98 / 50)
    assert t.ci95 == pytest.approx(expected_ci)
    assert t.significant
    # The break-even gap is where cost per correct answer is equal on both sides.
    at_breakeven = Measured("x", b.accuracy + t.breakeven_gap, 57.0, 0.85, 50)
    assert at_breakeven.tokens_per_correct == pytest.approx(b.tokens_per_correct)


def test_reasoning_wins_and_the_text_carries_the_numbers():
    rec = recommend(rows())
    assert rec.verdict == "reasoning" and rec.best == "reasoning" and rec.cheapest == "non_reasoning"
    text = rec.markdown()
    assert f"{num(57 * 1000)} tokens and {num(0.85 * 1000)} s" in text  # per 1,000 queries
    assert f"{num(12 * 1000)} tokens and {num(0.25 * 1000)} s" in text
    assert f"{57 / 12:.2f}× the tokens" in text
    assert f"{(0.85 / 0.25):.2f}× the time" in text
    assert f"{100 * 0.56:+.1f} points" in text
    assert f"{num((57 - 12) / 0.56)} extra tokens" in text
    assert f"below {100 * 0.02 * (57 / 12 - 1):.1f} points" in text
    assert f"{pct(0.58)} strict accuracy" in text


def test_gain_inside_the_noise_recommends_the_cheaper_variant():
    rec = recommend(rows(r_acc=0.30, d_acc=0.25, n=20))
    ci = gain_ci95(Measured("r", 0.30, 1, 1, 20), Measured("d", 0.25, 1, 1, 20))
    assert 0.05 < ci  # the premise of the test
    assert rec.verdict == "non_reasoning"
    assert "not distinguishable from noise" in rec.markdown()
    assert "take the cheaper non_reasoning" in rec.markdown()


def test_gain_inside_the_noise_takes_reasoning_when_it_spends_fewer_tokens():
    # a reasoning variant that is terser than the direct one is the cheaper pick, whatever its name
    rec = recommend(rows(r_acc=0.30, d_acc=0.25, r_tok=10.0, d_tok=20.0, n=20))
    assert rec.verdict == "reasoning"
    assert "take the cheaper reasoning" in rec.markdown()


def test_direct_more_accurate_recommends_non_reasoning():
    rec = recommend(rows(r_acc=0.10, d_acc=0.40))
    assert rec.verdict == "non_reasoning"
    assert rec.best == "non_reasoning"
    assert rec.numbers["accurate"] == "non_reasoning"


def test_router_that_keeps_accuracy_for_fewer_tokens_gives_hybrid():
    router = {"name": "router", "strict_accuracy": 0.56, "tokens_per_query": 30.0, "seconds_per_query": 0.5,
              "n_questions": 50}
    rec = recommend(rows(extra=[router]), routers=["router"])
    assert rec.verdict == "hybrid"
    assert f"{30 / 57:.2f}× its tokens" in rec.markdown()
    # A router that loses most of the gain does not qualify.
    weak = dict(router, strict_accuracy=0.10)
    assert recommend(rows(extra=[weak]), routers=["router"]).verdict == "reasoning"


def test_value_threshold_when_reasoning_is_dearer_per_correct_answer():
    # 60% vs 50% at 10× the tokens: reasoning costs more per correct answer (gain 10 < break-even 450 points).
    rec = recommend(rows(r_acc=0.60, d_acc=0.50, r_tok=100.0, d_tok=10.0, n=2000))
    assert rec.verdict == "reasoning"
    assert rec.numbers["breakeven_gap"] == pytest.approx(0.5 * 9)
    assert f"worth more than {num(90 / 0.10)} tokens" in rec.numbers["verdict_reason"]


def test_equal_accuracy_and_dominance():
    rec = recommend(rows(r_acc=0.4, d_acc=0.4))
    assert rec.verdict == "non_reasoning" and "fewer tokens (non_reasoning)" in rec.markdown()
    rec = recommend(rows(r_acc=0.4, d_acc=0.4, r_tok=10.0, d_tok=12.0))
    assert rec.verdict == "reasoning" and "fewer tokens (reasoning)" in rec.markdown()
    rec = recommend(rows(r_acc=0.6, d_acc=0.4, r_tok=10.0, d_tok=12.0, n=500))
    assert rec.verdict == "reasoning" and "nothing to trade" in rec.markdown()


def test_missing_row_is_a_key_error():
    with pytest.raises(KeyError):
        recommend(rows()[:1])
