"""Correctness rewards: extract the answer through the format contract, then score it with the task's verifier.

The verifier is `thinktune.tasks.check_answer`, the same function evaluation uses, so a completion that
earns reward 1.0 in training is exactly one that evaluation counts correct. Extraction goes through
`thinktune.format.parse` (never a regex of our own): `accuracy` reads leniently (a missing `</answer>`, a
pre-filled `<think>`), `accuracy_strict` only from well-formed completions. An `<answer>` hidden inside
the thinking is never taken as the answer (the contract's rule), and neither is the last of several
guesses in the thinking.

`accuracy_any` falls back to the last number in the text when there is no `<answer>` (`format.best_answer`):
a bootstrap for base models that do not use the tags yet, which is gameable by design (any text ending in
the right number scores) and should be paired with a format reward and dropped once the format is learnt.

All of them take `prefilled=True` for prompts that end inside an opened `<think>` (R1-Zero's template, or a
chat template that pre-fills it), so the completion starts inside the thinking.

`countdown` and `code` are the same reward with the verifier fixed, for datasets that carry the columns
(`numbers` + `target`, or `tests`) but no `verifier` column.
"""

from __future__ import annotations

import functools
import json

from thinktune.data.schema import Example
from thinktune.format import best_answer, parse
from thinktune.rewards.columns import completion_text, example_at, restore_think
from thinktune.tasks import check_answer


def score_completion(text: str, example: Example, strict: bool = False, fallback: bool = False) -> float:
    """The verifier's score for one completion's extracted answer; 0.0 when no answer can be read.

    Args:
        text: the completion (with the opening `<think>` restored when the prompt pre-filled it).
        example: the row (gold answer, verifier, meta).
        strict: read only strictly well-formed completions.
        fallback: without an `<answer>`, take the last number of the text (`format.best_answer`).
    """
    answer = best_answer(text) if fallback and not strict else parse(text, strict=strict).answer
    if answer is None:
        return 0.0
    return _cached_score(answer, example.answer, example.verifier, json.dumps(example.meta, sort_keys=True,
                                                                              default=str))


@functools.lru_cache(maxsize=4096)
def _cached_score(answer: str, gold: str, verifier: str, meta_json: str) -> float:
    # The same answer is often scored twice per step (the accuracy reward and the monitor's accuracy
    # metric); code answers cost a subprocess each, so identical calls are remembered.
    return check_answer(Example(question="", answer=gold, verifier=verifier, meta=json.loads(meta_json)), answer)


def _reward(completions: list, columns: dict, strict: bool, verifier: str | None = None,
            prefilled: bool = False, fallback: bool = False) -> list[float | None]:
    out: list[float | None] = []
    for i, completion in enumerate(completions):
        example = example_at(i, columns, verifier)
        if example is None:
            out.append(None)  # no gold for this row: "not applicable", TRL ignores it
            continue
        text = restore_think(completion_text(completion), prefilled)
        out.append(score_completion(text, example, strict, fallback))
    return out


def accuracy(prompts: list, completions: list, prefilled: bool = False, **columns) -> list[float | None]:
    """1.0 when the (leniently) extracted answer passes the row's verifier; None for rows without a gold answer.

    >>> accuracy(None, ["<think>2+2</think><answer>4</answer>", "<answer>5</answer>"], answer=["4", "4"])
    [1.0, 0.0]
    """
    return _reward(completions, columns, strict=False, prefilled=prefilled)


def accuracy_strict(prompts: list, completions: list, prefilled: bool = False, **columns) -> list[float | None]:
    """Like `accuracy`, but only a strictly well-formed completion can score."""
    return _reward(completions, columns, strict=True, prefilled=prefilled)


def accuracy_any(prompts: list, completions: list, prefilled: bool = False, **columns) -> list[float | None]:
    """Like `accuracy`, but without an `<answer>` the last number in the text is taken (gameable bootstrap).

    >>> accuracy_any(None, ["so 2 + 2 = 4", "<answer>5</answer> 4"], answer=["4", "4"])
    [1.0, 0.0]
    """
    return _reward(completions, columns, strict=False, prefilled=prefilled, fallback=True)


def countdown(prompts: list, completions: list, prefilled: bool = False, **columns) -> list[float | None]:
    """1.0 when the answer is an equation over `numbers` (each once) equal to `target` (TinyZero's reward)."""
    return _reward(completions, columns, strict=False, verifier="countdown", prefilled=prefilled)


def code(prompts: list, completions: list, prefilled: bool = False, **columns) -> list[float | None]:
    """The fraction of the row's `tests` that the answer's code passes (sandboxed, see `thinktune.sandbox`)."""
    return _reward(completions, columns, strict=False, verifier="code", prefilled=prefilled)
