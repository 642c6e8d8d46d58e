"""Hybrid routing with scripted models: queries flagged hard go to the reasoning model, easy ones do not."""

from __future__ import annotations

import numpy as np
import pytest

from thinktune.compare.router import (
    AgreementDifficulty,
    ClassifierDifficulty,
    HybridRouter,
    LogisticRegression,
    Reply,
    agreement,
    cross_fit_scores,
    question_features,
    simulate_router,
)

# The direct model is sure of the "easy" questions (always the same answer) and guesses on the "hard" ones.
EASY = {"What is 2 + 3?": "5", "What is 4 + 4?": "8", "What is 1 + 9?": "10"}
HARD = {"What is 37 * 45 - 12 + 9?": "1662", "What is 88 * 19 + 7?": "1679"}


class ScriptedDirect:
    def __init__(self):
        self.calls: list[tuple[list[str], int]] = []

    def __call__(self, questions, n):
        self.calls.append((list(questions), n))
        out = []
        for q in questions:
            if q in EASY:
                out.append([Reply(f"<answer>\n{EASY[q]}\n</answer>", tokens=5, seconds=0.1)] * n)
            else:  # a different guess on every sample
                out.append([Reply(f"<answer>\n{100 + j}\n</answer>", tokens=6, seconds=0.1) for j in range(n)])
        return out


class ScriptedReasoning:
    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, questions, n):
        self.calls.append(list(questions))
        gold = {**EASY, **HARD}
        return [[Reply(f"<think>\nstep\nstep\n</think>\n<answer>\n{gold[q]}\n</answer>", 40, 1.0)] * n
                for q in questions]


def test_agreement_votes_through_the_verifier():
    assert agreement(["1/2", "0.5", "\\frac{1}{2}", "3"]) == (0.75, 0)
    assert agreement([None, None]) == (0.0, None)
    assert agreement(["7"]) == (1.0, 0)


def test_hard_queries_go_to_the_reasoning_model_and_easy_ones_do_not():
    direct, reasoning = ScriptedDirect(), ScriptedReasoning()
    router = HybridRouter(direct, reasoning, AgreementDifficulty(direct, k=4), threshold=0.25)
    questions = list(EASY) + list(HARD)
    routed = router(questions)
    assert [r.hard for r in routed] == [False] * len(EASY) + [True] * len(HARD)
    assert reasoning.calls == [list(HARD)]  # only the hard ones, in one batch
    assert direct.calls == [(questions, 4)]  # the samples only: easy answers reuse their majority
    for r in routed:
        assert r.answer == {**EASY, **HARD}[r.question]
        assert r.tokens == (4 * 5 if not r.hard else 4 * 6 + 40)
    assert [r.difficulty for r in routed] == [0.0] * 3 + [0.75] * 2


def test_threshold_one_sends_nothing_to_reasoning():
    direct, reasoning = ScriptedDirect(), ScriptedReasoning()
    routed = HybridRouter(direct, reasoning, AgreementDifficulty(direct, k=4), threshold=1.01)(list(HARD))
    assert not any(r.hard for r in routed) and reasoning.calls == []


def test_classifier_router_sends_long_multi_operator_questions_to_reasoning():
    # Fitted on a "compare run": the direct model failed exactly the questions with 3+ operators.
    rng = np.random.default_rng(0)
    questions, hard = [], []
    for _ in range(60):
        ops = int(rng.integers(1, 5))
        nums = rng.integers(10, 99, size=ops + 1)
        questions.append("What is " + " + ".join(map(str, nums)) + "?")
        hard.append(ops >= 3)
    clf = ClassifierDifficulty().fit(questions, hard)
    direct, reasoning = ScriptedDirect(), ScriptedReasoning()
    router = HybridRouter(direct, reasoning, clf, threshold=0.5)
    routed = router(["What is 2 + 3?", "What is 37 * 45 - 12 + 9?"])
    assert [r.hard for r in routed] == [False, True]
    assert reasoning.calls == [["What is 37 * 45 - 12 + 9?"]]
    assert direct.calls == [(["What is 2 + 3?"], 1)]
    assert routed[0].answer == "5" and routed[1].answer == "1662"


def test_question_features_and_logistic_regression():
    assert question_features("What is (12 + 7) * 300 - 4?").tolist() == [27.0, 4.0, 3.0, 1.0, 3.0, 1.0]
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    p = LogisticRegression(l2=0.1).fit(x, y).predict_proba(x)
    assert np.all(np.diff(p) > 0) and p[0] < 0.5 < p[-1]
    with pytest.raises(RuntimeError):
        LogisticRegression().predict_proba(x)


def test_cross_fit_scores_are_out_of_fold():
    questions = [f"What is {' + '.join(['12'] * k)}?" for k in (2, 3, 4, 5) for _ in range(10)]
    hard = [q.count("+") >= 3 for q in questions]
    scores = cross_fit_scores(questions, hard, folds=5)
    assert len(scores) == len(questions)
    assert np.mean([s for s, h in zip(scores, hard, strict=True) if h]) > 0.5
    assert np.mean([s for s, h in zip(scores, hard, strict=True) if not h]) < 0.5
    # one class only: every score is that base rate
    assert cross_fit_scores(questions[:5], [True] * 5, folds=5) == [1.0] * 5


def test_simulate_router_takes_the_routed_records():
    def rec(ok, tokens, s):
        return {"correct_strict": ok, "correct_lenient": ok, "output_tokens": tokens, "latency_s": s}

    direct = [rec(True, 10, 0.2), rec(False, 10, 0.2), rec(False, 12, 0.3)]
    reasoning = [rec(True, 50, 1.0), rec(True, 60, 1.2), rec(False, 70, 1.4)]
    row = simulate_router(direct, reasoning, [False, True, True], overhead_tokens=[5, 5, 5])
    assert row["strict_accuracy"] == pytest.approx(2 / 3)
    assert row["tokens_per_query"] == pytest.approx((10 + 60 + 70 + 15) / 3)
    assert row["seconds_per_query"] == pytest.approx((0.2 + 1.2 + 1.4) / 3)
    assert row["routed_to_reasoning"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        simulate_router(direct, reasoning[:2], [True, True, True])
    # partial scores (a code task's fraction of tests passed) are averaged, not rounded up to 1
    half = [rec(0.5, 10, 0.1), rec(0.0, 10, 0.1)]
    assert simulate_router(half, half, [False, False])["strict_accuracy"] == pytest.approx(0.25)


def test_engine_model_asks_in_the_job_format_and_samples_only_for_n_above_one():
    from thinktune.compare.router import engine_model
    from thinktune.format import DIRECT_SYSTEM_PROMPT
    from thinktune.inference.base import Completion

    seen = []

    class FakeEngine:
        name = "fake"

        def generate(self, prompts, params):
            seen.append((prompts, params))
            return [[Completion("<answer>\n5\n</answer>", 4, "stop", 0.5)] * params.n for _ in prompts]

        def count_tokens(self, text):
            return len(text.split())

    model = engine_model(FakeEngine(), reasoning=False, max_new_tokens=16)
    [[one]] = model(["What is 2 + 3?"], 1)
    assert one == Reply("<answer>\n5\n</answer>", 4, 0.5)
    prompts, params = seen[0]
    assert prompts[0][0] == {"role": "system", "content": DIRECT_SYSTEM_PROMPT}
    assert params.temperature == 0 and params.max_new_tokens == 16
    assert len(model(["q"], 3)[0]) == 3 and seen[1][1].temperature > 0


def test_agreement_threshold_is_exact_despite_float_error():
    from thinktune.compare.router import agreement, at_least

    share, _ = agreement(["4", "4", "4", "4", "5"])  # one of five disagrees: a disagreement of exactly 0.2
    assert 1.0 - share < 0.2  # the premise: float error puts it just below
    assert at_least(1.0 - share, 0.2) and not at_least(1.0 - share, 0.21)


def test_accuracy_by_difficulty_keeps_partial_credit():
    from thinktune.compare.report import by_difficulty

    recs = {"r": [{"difficulty": "ops=1", "correct_strict": 0.5}, {"difficulty": "ops=1", "correct_strict": 0.0}]}
    assert by_difficulty(recs)[1] == {"r": {"ops=1": 0.25}}
