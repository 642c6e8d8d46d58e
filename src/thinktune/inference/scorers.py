"""Scorers: a number for each candidate, used by best-of-N, weighted majority and step-level beam search.

A scorer is any callable `(question, completions) -> list[float]`, higher is better, called with all the
candidates for one question at once (so a reward model can batch them). For beam search the candidates
are *partial* solutions (the reasoning so far), which makes a scorer a process reward model (PRM) when it
reads partial text well. What ships:

    logprob          mean token log-probability of the candidate under the generating model: verifier-
                     free and free of charge (the engine reports it); a confidence signal, not correctness
    format           1 for a well-formed `<think>/<answer>` completion, else 0, with mean logprob breaking ties
    verifier         the task's verifier against the gold answer: an *oracle* (it peeks at the answer), for
                     upper bounds only; needs a problem's `check`
    rm:<model>       a Hugging Face sequence-classification reward model (`RewardModelScorer`): the question
                     and candidate are rendered with its chat template and the logit of `label` is the score
    any callable     `(question, text) -> float` is wrapped per candidate (`FunctionScorer`); a callable
                     marked with `@batched` is called as `(question, completions) -> list[float]`

`make_scorer(spec)` builds one from a name, a callable or an object with `score`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from thinktune.inference.base import Completion
from thinktune.inference.voting import read_answer

Scorer = Callable[[str, Sequence[Completion]], list[float]]
SCORERS = ("logprob", "format", "verifier", "rm:<model>")


def logprob_scorer(question: str, completions: Sequence[Completion]) -> list[float]:
    """Mean token log-probability (length-normalised likelihood); -inf for a completion without one.

    Raises:
        ValueError: no completion has a log-probability (the engine reports none): every score would be
            -inf, and the "best" candidate would silently be the first one.
    """
    if completions and all(c.mean_logprob is None for c in completions):
        raise ValueError("scorer 'logprob': the engine reported no log-probabilities; use an engine that does "
                         "(hf, vllm, an OpenAI server with logprobs) or another scorer (format, rm:<model>)")
    return [c.mean_logprob if c.mean_logprob is not None else float("-inf") for c in completions]


def format_scorer(question: str, completions: Sequence[Completion], reasoning: bool = True) -> list[float]:
    """1 + a small logprob tie-break for well-formed completions, the tie-break alone otherwise.

    `reasoning` says which format is well-formed: `<think>…</think><answer>…</answer>`, or `<answer>…</answer>`
    alone for direct problems.
    """
    out = []
    for c in completions:
        tie = c.mean_logprob if c.mean_logprob is not None else 0.0
        well_formed = read_answer(c.text, reasoning).well_formed
        out.append((1.0 if well_formed else 0.0) + 1e-3 * max(-100.0, min(0.0, tie)) / 100)
    return out


class VerifierScorer:
    """Score by checking each candidate's answer against the gold one: an oracle, for upper bounds.

    Args:
        check: `answer -> float` (1.0 correct), e.g. `lambda a: check_answer(example, a)`.
        reasoning: read answers in the reasoning format (True) or the direct one.
    """

    def __init__(self, check: Callable[[str | None], float], reasoning: bool = True) -> None:
        self.check, self.reasoning = check, reasoning

    def __call__(self, question: str, completions: Sequence[Completion]) -> list[float]:
        return [float(self.check(read_answer(c.text, self.reasoning).lenient)) for c in completions]


class FunctionScorer:
    """Wrap `(question, text) -> float` as a scorer."""

    def __init__(self, fn: Callable[[str, str], float]) -> None:
        self.fn = fn

    def __call__(self, question: str, completions: Sequence[Completion]) -> list[float]:
        return [float(self.fn(question, c.text)) for c in completions]


class RewardModelScorer:
    """A Hugging Face `AutoModelForSequenceClassification` reward model (an ORM, or a PRM on partial text).

    Args:
        model: a loaded sequence-classification model, or a path / Hub id to load.
        tokenizer: its tokenizer (loaded from `model` when a path is given).
        label: which logit is the reward (0 for the usual single-logit reward heads).
        batch_size: candidates scored per forward pass.
    """

    def __init__(self, model: Any, tokenizer: Any = None, label: int = 0, batch_size: int = 8) -> None:
        if isinstance(model, str):
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForSequenceClassification.from_pretrained(model)
        if tokenizer is None:
            raise ValueError("RewardModelScorer needs the reward model's tokenizer")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        self.model, self.tokenizer, self.label, self.batch_size = model.eval(), tokenizer, label, batch_size

    def _text(self, question: str, answer: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            chat = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            return self.tokenizer.apply_chat_template(chat, tokenize=False)
        return f"Question: {question}\nAnswer: {answer}"

    def __call__(self, question: str, completions: Sequence[Completion]) -> list[float]:
        import torch

        texts = [self._text(question, c.text) for c in completions]
        scores: list[float] = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[i : i + self.batch_size], return_tensors="pt", padding=True,
                                       truncation=True, add_special_tokens=False).to(self.model.device)
                logits = self.model(**batch).logits
                scores.extend(logits[:, self.label].float().tolist())
        return scores


def make_scorer(spec: str | Callable | None, check: Callable[[str | None], float] | None = None,
                reasoning: bool = True) -> Scorer:
    """Build a scorer from a name (`logprob`, `format`, `verifier`, `rm:<model>`) or a callable.

    Args:
        spec: see the module docstring; None means `logprob`.
        check: the answer checker `verifier` needs (the harness passes the example's).
        reasoning: how `verifier` and `format` read answers.
    """
    if spec is None or spec == "logprob":
        return logprob_scorer
    if spec == "format":
        return format_scorer if reasoning else functools.partial(format_scorer, reasoning=False)
    if spec == "verifier":
        if check is None:
            raise ValueError("scorer 'verifier' needs the gold answer: it is only available inside evaluation")
        return VerifierScorer(check, reasoning)
    if isinstance(spec, str) and spec.startswith("rm:"):
        return RewardModelScorer(spec[3:])
    if isinstance(spec, str):
        raise ValueError(f"unknown scorer {spec!r}; choose from {', '.join(SCORERS)} or pass a callable")
    if getattr(spec, "batched", False):
        return spec  # type: ignore[return-value]
    if callable(spec):
        return FunctionScorer(spec)
    raise TypeError(f"cannot make a scorer from {type(spec).__name__}")


def batched(fn: Callable) -> Callable:
    """Mark `fn(question, completions) -> list[float]` as a whole-batch scorer (plain callables are
    taken as per-candidate `(question, text) -> float`)."""
    fn.batched = True  # type: ignore[attr-defined]
    return fn


for _f in (logprob_scorer, format_scorer):
    batched(_f)
for _c in (VerifierScorer, FunctionScorer, RewardModelScorer):
    _c.batched = True  # type: ignore[attr-defined]
