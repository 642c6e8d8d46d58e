"""Hybrid routing: one call that sends each query to the direct model or the reasoning model by difficulty.

Easy queries get the direct model's short answer; hard ones pay for the reasoning model's thinking. Two
difficulty estimators:

- `AgreementDifficulty` — sample the direct model `k` times; difficulty is `1 − (top vote / k)`, the share
  of samples that disagree with the majority (answers compared through `verify.normalize`, so `0.5` and
  `1/2` agree). An easy query is answered with the majority answer, so its samples are not wasted. This is
  the self-consistency signal of Wang et al. 2022 used as a router, as in Adaptive-Consistency
  (Aggarwal et al. 2023): low agreement means the model is unsure.
- `ClassifierDifficulty` — a logistic regression on cheap features of the question text (length, how many
  numbers and operators, the longest number) fitted on a compare run's per-question results (label: the
  direct model got it wrong). It costs no generation at all. `cross_fit_scores` gives out-of-fold scores,
  so a router row in a compare table is never scored on the questions its classifier was fitted on.

A model, to the router, is any callable `(questions, n) -> [[Reply, …n], …]` (`Model`); `engine_model`
adapts a `thinktune.inference` engine, and tests pass scripted functions. `simulate_router` computes a
router's row from the per-question records of a compare run: with greedy decoding the chosen model would
produce exactly the recorded output, so no generation is repeated.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from thinktune import format as fmt
from thinktune.verify import normalize


@dataclass(frozen=True)
class Reply:
    """One completion: its text, output token count and generation seconds."""

    text: str
    tokens: int = 0
    seconds: float = 0.0


Model = Callable[[Sequence[str], int], list[list[Reply]]]
"""`model(questions, n)` returns `n` replies for each question (sampled when `n > 1`)."""


@dataclass(frozen=True)
class Scores:
    """A difficulty estimate per question, in [0, 1], plus what it cost.

    Attributes:
        scores: one difficulty per question (higher: harder).
        replies: the samples drawn to estimate it (agreement), or None (classifier).
        answers: for each question, the answer the estimate already settles on (the majority), or None.
    """

    scores: list[float]
    replies: list[list[Reply]] | None = None
    answers: list[Reply | None] | None = None


class Difficulty(Protocol):
    def __call__(self, questions: Sequence[str]) -> Scores: ...


# ------------------------------------------------------------------------------------ agreement
def agreement(answers: Sequence[str | None], mode: str = "math") -> tuple[float, int | None]:
    """(share of answers that agree with the majority, index of a reply carrying the majority answer).

    A missing answer never agrees with anything, so a model that fails to answer counts as unsure.

    >>> agreement(["4", "4.0", "5", None])
    (0.5, 0)
    """
    keys = [normalize(a, mode) if a is not None else None for a in answers]
    votes = Counter(k for k in keys if k is not None)
    if not votes:
        return 0.0, None
    top, count = votes.most_common(1)[0]
    return count / len(keys), keys.index(top)


def at_least(score: float, threshold: float) -> bool:
    """`score >= threshold`, allowing for float error: 1 - 4/5 is 0.19999999999999996, which is 1 in 5."""
    return score >= threshold - 1e-9


@dataclass
class AgreementDifficulty:
    """Difficulty = disagreement among `k` samples of the direct model (see the module docstring)."""

    direct: Model
    k: int = 4
    mode: str = "math"

    def __call__(self, questions: Sequence[str]) -> Scores:
        replies = self.direct(list(questions), self.k)
        scores, answers = [], []
        for samples in replies:
            share, idx = agreement([fmt.best_answer(r.text) for r in samples], self.mode)
            scores.append(1.0 - share)
            answers.append(samples[idx] if idx is not None else None)
        return Scores(scores, replies, answers)


# ----------------------------------------------------------------------------------- classifier
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OPERATOR = re.compile(r"(?<=[\d\s)])\s*[-+*/×÷x]\s*(?=[\d(])")
FEATURES = ("chars", "numbers", "operators", "mul_div", "max_digits", "parentheses")


def question_features(question: str) -> np.ndarray:
    """Cheap features of a question's text, in the order of `FEATURES`.

    >>> question_features("What is 12 + 7 * 3?").tolist()
    [19.0, 3.0, 2.0, 1.0, 2.0, 0.0]
    """
    numbers = _NUMBER.findall(question)
    operators = _OPERATOR.findall(question)
    return np.array([
        len(question),
        len(numbers),
        len(operators),
        sum(op.strip() in "*/×÷x" for op in operators),
        max((len(n.split(".")[0]) for n in numbers), default=0),
        question.count("("),
    ], dtype=float)


@dataclass
class LogisticRegression:
    """L2-regularised logistic regression fitted by Newton's method (IRLS) on standardised features.

    Small and exact: a compare run has tens to hundreds of questions and six features, where Newton
    converges in a handful of iterations.
    """

    l2: float = 1.0
    iterations: int = 50
    mean: np.ndarray | None = field(default=None, repr=False)
    std: np.ndarray | None = field(default=None, repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)

    def _design(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        return np.hstack([np.ones((len(z), 1)), z])

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self.mean = x.mean(axis=0)
        self.std = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        a = self._design(x)
        w = np.zeros(a.shape[1])
        penalty = self.l2 * np.eye(a.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        for _ in range(self.iterations):
            p = 1.0 / (1.0 + np.exp(-a @ w))
            grad = a.T @ (p - y) + penalty @ w
            hess = (a * (p * (1 - p))[:, None]).T @ a + penalty + 1e-9 * np.eye(len(w))
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        self.weights = w
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("fit the classifier before predicting")
        return 1.0 / (1.0 + np.exp(-self._design(np.asarray(x, dtype=float)) @ self.weights))


@dataclass
class ClassifierDifficulty:
    """Difficulty = the fitted probability that the direct model gets the question wrong."""

    model: LogisticRegression = field(default_factory=LogisticRegression)

    def fit(self, questions: Sequence[str], hard: Sequence[bool]) -> ClassifierDifficulty:
        self.model.fit(np.stack([question_features(q) for q in questions]), np.asarray(hard, dtype=float))
        return self

    def __call__(self, questions: Sequence[str]) -> Scores:
        probs = self.model.predict_proba(np.stack([question_features(q) for q in questions]))
        return Scores([float(p) for p in probs])


def cross_fit_scores(questions: Sequence[str], hard: Sequence[bool], folds: int = 5, seed: int = 0) -> list[float]:
    """Out-of-fold difficulty scores: each question is scored by a classifier fitted on the other folds.

    A fold whose training part has only one class gets that part's base rate (nothing to learn from).
    """
    n = len(questions)
    order = np.random.default_rng(seed).permutation(n)
    scores = [0.0] * n
    labels = np.asarray(hard, dtype=float)
    for f in range(max(1, min(folds, n))):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        if len(train) == 0 or labels[train].min() == labels[train].max():
            rate = float(labels[train].mean()) if len(train) else 0.5
            for i in test:
                scores[i] = rate
            continue
        clf = ClassifierDifficulty().fit([questions[i] for i in train], labels[train].astype(bool))
        for i, s in zip(test, clf([questions[i] for i in test]).scores, strict=True):
            scores[i] = s
    return scores


# ---------------------------------------------------------------------------------------- route
@dataclass(frozen=True)
class Routed:
    """What the router did with one query.

    Attributes:
        question: the query; hard: whether it went to the reasoning model; difficulty: its score.
        reply: the reply returned; answer: the answer extracted from it (lenient).
        tokens: all output tokens spent on the query (difficulty samples included); seconds: likewise.
    """

    question: str
    hard: bool
    difficulty: float
    reply: Reply
    answer: str | None
    tokens: int
    seconds: float


class HybridRouter:
    """Serve a direct and a reasoning model behind one call, routing by estimated difficulty.

    Args:
        direct: the non-reasoning model (a `Model`).
        reasoning: the reasoning model (a `Model`).
        difficulty: a `Difficulty` (default: agreement of 4 direct samples).
        threshold: queries with difficulty ≥ threshold go to the reasoning model.

    Example::

        router = HybridRouter(direct, reasoning, AgreementDifficulty(direct, k=4), threshold=0.25)
        [routed] = router(["What is 17 * 23?"])   # routed.hard, routed.answer, routed.tokens
    """

    def __init__(self, direct: Model, reasoning: Model, difficulty: Difficulty | None = None,
                 threshold: float = 0.5) -> None:
        self.direct, self.reasoning = direct, reasoning
        self.difficulty = difficulty if difficulty is not None else AgreementDifficulty(direct)
        self.threshold = threshold

    @classmethod
    def from_compare(cls, run_dir: str | Path, difficulty: str = "classifier", threshold: float | None = None,
                     k: int = 4, max_new_tokens: int = 256, engine: str | None = None) -> HybridRouter:
        """Serve the two variants of a finished `thinktune compare` run behind one call.

        Args:
            run_dir: the compare run's `output_dir` (holds `variants/` and `evals/`).
            difficulty: `classifier` (fitted on the run's per-question results: the direct variant's
                misses on the held-out questions) or `agreement` (k samples of the direct variant).
            threshold: routing threshold (default: 0.5 for the classifier, 0.25 for agreement).
            k: samples for `agreement`; max_new_tokens: the reasoning model's budget.
            engine: the generation engine (`thinktune.inference.make_engine`; default `hf`).
        """
        from thinktune.inference import make_engine
        from thinktune.io import read_jsonl

        run_dir = Path(run_dir)
        direct = engine_model(make_engine(str(run_dir / "variants" / "non_reasoning" / "final"), engine),
                              reasoning=False, max_new_tokens=64)
        reasoning = engine_model(make_engine(str(run_dir / "variants" / "reasoning" / "final"), engine),
                                 reasoning=True, max_new_tokens=max_new_tokens)
        if difficulty == "agreement":
            return cls(direct, reasoning, AgreementDifficulty(direct, k=k), 0.25 if threshold is None else threshold)
        if difficulty != "classifier":
            raise ValueError(f"difficulty must be 'classifier' or 'agreement', got {difficulty!r}")
        samples = run_dir / "evals" / "non_reasoning" / "samples.jsonl"
        if not samples.is_file():
            raise FileNotFoundError(f"{samples}: no per-question results of the direct variant to fit on")
        records = list(read_jsonl(samples))
        clf = ClassifierDifficulty().fit([r["question"] for r in records],
                                         [float(r["correct_strict"]) < 1.0 for r in records])
        return cls(direct, reasoning, clf, 0.5 if threshold is None else threshold)

    def __call__(self, questions: Sequence[str]) -> list[Routed]:
        questions = list(questions)
        est = self.difficulty(questions)
        hard = [at_least(s, self.threshold) for s in est.scores]
        spent = [sum(r.tokens for r in rs) for rs in est.replies] if est.replies else [0] * len(questions)
        waited = [sum(r.seconds for r in rs) for rs in est.replies] if est.replies else [0.0] * len(questions)
        # An easy query that the agreement samples already answered keeps their majority reply.
        chosen: list[Reply | None] = [
            est.answers[i] if not hard[i] and est.answers is not None else None for i in range(len(questions))
        ]
        for model, idx in ((self.reasoning, [i for i, h in enumerate(hard) if h]),
                           (self.direct, [i for i, h in enumerate(hard) if not h and chosen[i] is None])):
            if not idx:
                continue
            for i, replies in zip(idx, model([questions[i] for i in idx], 1), strict=True):
                chosen[i] = replies[0]
                spent[i] += replies[0].tokens
                waited[i] += replies[0].seconds
        out = []
        for i, q in enumerate(questions):
            reply = chosen[i]
            out.append(Routed(q, hard[i], est.scores[i], reply, fmt.best_answer(reply.text), spent[i], waited[i]))
        return out


def engine_model(engine: Any, reasoning: bool, max_new_tokens: int = 256, temperature: float = 0.7,
                 seed: int | None = 0) -> Model:
    """Adapt a generation engine (`thinktune.inference`: `engine.generate(prompts, SamplingParams)`) to a `Model`.

    Questions are asked in the job type's format (`format.build_messages`); one reply is greedy, several are
    sampled at `temperature` (the agreement estimate needs diverse samples).
    """
    from thinktune.inference.base import SamplingParams

    def model(questions: Sequence[str], n: int) -> list[list[Reply]]:
        params = SamplingParams(n=n, max_new_tokens=max_new_tokens, temperature=0.0 if n == 1 else temperature,
                                stop=(fmt.ANSWER_CLOSE,), seed=seed)
        prompts = [fmt.build_messages(q, reasoning=reasoning) for q in questions]
        return [[Reply(c.text, c.tokens, c.latency_s) for c in per_question]
                for per_question in engine.generate(prompts, params)]

    return model


# ------------------------------------------------------------------------------ compare row
def simulate_router(
    direct: Sequence[Mapping[str, Any]],
    reasoning: Sequence[Mapping[str, Any]],
    hard: Sequence[bool],
    overhead_tokens: Sequence[float] | None = None,
    overhead_seconds: Sequence[float] | None = None,
    easy: Sequence[Mapping[str, Any] | None] | None = None,
    overhead_latency: Sequence[float] | None = None,
) -> dict[str, Any]:
    """A router's compare row from per-question records of the same questions, in the same order.

    Each record needs `correct_strict`, `correct_lenient`, `output_tokens` and `latency_s` (how long the
    answer took to arrive), and may carry `wall_share_s` (its share of the machine time, the cost; default
    `latency_s`). A hard question takes the reasoning record; an easy one the `easy` record when given (the
    agreement samples' majority), else the direct record. The difficulty estimate's overheads are added to
    every question: tokens, machine seconds, and latency (default: the machine seconds).

    Returns:
        `strict_accuracy`, `lenient_accuracy`, `tokens_per_query`, `seconds_per_query`, `latency_p50`,
        `latency_p95`, `routed_to_reasoning` (fraction) and `n_questions`.
    """
    n = len(hard)
    if not (len(direct) == len(reasoning) == n):
        raise ValueError(f"records must align: {len(direct)} direct, {len(reasoning)} reasoning, {n} flags")
    if n == 0:
        return {"n_questions": 0}
    overhead_tokens = overhead_tokens or [0.0] * n
    overhead_seconds = overhead_seconds or [0.0] * n
    overhead_latency = overhead_latency or overhead_seconds
    strict = lenient = 0.0
    tokens, seconds, latency = [], [], []
    for i in range(n):
        rec = reasoning[i] if hard[i] else (easy[i] if easy is not None and easy[i] is not None else direct[i])
        strict += float(rec["correct_strict"] or 0.0)  # a partial score (0.5 of the tests) stays 0.5
        lenient += float(rec["correct_lenient"] or 0.0)
        tokens.append(float(rec["output_tokens"]) + overhead_tokens[i])
        seconds.append(float(rec.get("wall_share_s", rec["latency_s"])) + overhead_seconds[i])
        latency.append(float(rec["latency_s"]) + overhead_latency[i])
    return {
        "strict_accuracy": strict / n,
        "lenient_accuracy": lenient / n,
        "tokens_per_query": sum(tokens) / n,
        "seconds_per_query": sum(seconds) / n,
        "latency_p50": float(np.percentile(latency, 50)),
        "latency_p95": float(np.percentile(latency, 95)),
        "routed_to_reasoning": sum(map(bool, hard)) / n,
        "n_questions": n,
    }
