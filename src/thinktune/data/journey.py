"""Journey learning: reasoning rows whose thinking holds a wrong step, the check that catches it, and the
corrected path to the right answer (O1 Replication Journey, part 1: train on the exploration, not only on
the shortcut to the answer).

Two sources:

- **Injected slips**, for tasks whose steps can be checked line by line (`arithmetic`, `word_problems`: every
  step holds an equation `a op b = c`): one step's result is replaced by a plausible slip (off by a little,
  two digits swapped), the next line re-checks that step and finds the mismatch, and the corrected steps
  follow from there to the right answer. Steps after the slip are never written with the wrong value, so
  the row teaches catching a slip at once, not carrying it on.
- **The model's own attempts** (`from_attempts`): a wrong sample and a right sample of the same question,
  e.g. from rejection sampling; the thinking is the wrong attempt, a check that its answer does not hold,
  and the right attempt.

`build_journey(examples, ratio, seed)` turns `ratio` of the rows into journeys and leaves the rest as
shortcuts; every row keeps its gold answer and reads as a reasoning row (`thinktune data validate --job
reasoning` passes it).

    >>> from thinktune.data.schema import Example
    >>> ex = Example("Calculate 17 + 25.", "42", reasoning="17 + 25 = 42", verifier="numeric")
    >>> print(inject_slip(ex, __import__("random").Random(0)).reasoning)
    17 + 25 = 46
    Check: 17 + 25 = 42, not 46. Correcting that step.
    17 + 25 = 42
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from thinktune.data.schema import Example

_EQUATION = re.compile(r"(-?\d+) ([-+*/]) (-?\d+) = (-?\d+)")
CHECK = "Check: {a} {op} {b} = {right}, not {wrong}. Correcting that step."
RECHECK = "Wait, let me check that answer: {why} Let me redo it."


def _slip(value: int, rng: random.Random) -> int:
    """A plausible wrong result: off by 1-10, or two adjacent digits swapped; never the value itself."""
    text = str(abs(value))
    if len(text) >= 2 and rng.random() < 0.4:
        i = rng.randrange(len(text) - 1)
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        if swapped != text:
            return int(swapped) * (-1 if value < 0 else 1)
    delta = rng.choice([d for d in range(-10, 11) if d and value + d >= 0] or [1])
    return value + delta


def inject_slip(example: Example, rng: random.Random) -> Example | None:
    """The example with one checked slip in its gold reasoning (None when no step holds an equation)."""
    if not example.reasoning:
        return None
    lines = example.reasoning.splitlines()
    steps = [i for i, line in enumerate(lines) if _EQUATION.search(line)]
    if not steps:
        return None
    i = rng.choice(steps)
    matches = list(_EQUATION.finditer(lines[i]))
    m = matches[-1]  # the step's last equation: its result is what the next steps build on
    a, op, b, right = m.group(1), m.group(2), m.group(3), int(m.group(4))
    wrong = _slip(right, rng)
    slipped = lines[i][: m.start(4)] + str(wrong) + lines[i][m.end(4):]
    check = CHECK.format(a=a, op=op, b=b, right=right, wrong=wrong)
    thinking = "\n".join([*lines[:i], slipped, check, *lines[i:]])
    meta = {**example.meta, "journey": "injected_slip", "slip_line": i, "slip": {"wrong": wrong, "right": right}}
    return Example(example.question, example.answer, reasoning=thinking, system=example.system,
                   history=list(example.history), verifier=example.verifier, meta=meta)


def from_attempts(question: str, wrong_thinking: str, wrong_answer: str, right_thinking: str, right_answer: str,
                  why: str | None = None, **meta) -> Example:
    """A journey row from two attempts at one question: the wrong one, the check that rejects it, the right one."""
    reason = why or f"the answer {wrong_answer} does not follow when I go over the steps again."
    thinking = "\n".join([wrong_thinking.strip(), f"So the answer would be {wrong_answer}.",
                          RECHECK.format(why=reason), right_thinking.strip()])
    return Example(question, right_answer, reasoning=thinking, verifier=meta.pop("verifier", "math"),
                   meta={**meta, "journey": "attempts"})


def build_journey(examples: Sequence[Example], ratio: float = 0.5, seed: int = 0) -> list[Example]:
    """`ratio` of the rows (those whose steps can be checked) as journeys, the rest as shortcuts, in order."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    rng = random.Random(seed)
    out = []
    for ex in examples:
        journey = inject_slip(ex, rng) if rng.random() < ratio else None
        out.append(journey or Example(ex.question, ex.answer, reasoning=ex.reasoning, system=ex.system,
                                      history=list(ex.history), verifier=ex.verifier,
                                      meta={**ex.meta, "journey": "shortcut"}))
    return out


def from_samples(records: Sequence[dict], ratio: float = 1.0, seed: int = 0) -> list[Example]:
    """Journey rows from a distill or `sample` run's judged samples (`RUN/samples.jsonl` rows): for a question
    with a wrong and a right well-formed sample, the first wrong one, the check, then the shortest right one;
    `ratio` of those questions become journeys, the others (and questions with only right samples) keep the
    shortest right sample alone (a shortcut). Questions with no right sample give nothing.

    >>> rec = {"id": "q", "question": "2 + 3?", "answer": "5", "verifier": "numeric", "samples": [
    ...     {"thinking": "2 + 3 = 6", "answer": "6", "correct": False, "thinking_tokens": 5},
    ...     {"thinking": "2 + 3 = 5", "answer": "5", "correct": True, "thinking_tokens": 5}]}
    >>> print(from_samples([rec])[0].reasoning)
    2 + 3 = 6
    So the answer would be 6.
    Wait, let me check that answer: the answer 6 does not follow when I go over the steps again. Let me redo it.
    2 + 3 = 5
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    rng = random.Random(seed)
    out = []
    for rec in records:
        formed = [s for s in rec.get("samples") or [] if s.get("thinking") and s.get("answer")]
        right = sorted((s for s in formed if s.get("correct")), key=lambda s: s.get("thinking_tokens") or 0)
        wrong = [s for s in formed if not s.get("correct")]
        if not right:
            continue
        verifier = rec.get("verifier") or "math"
        meta = {"id": rec.get("id"), "source": f"samples:{rec.get('id')}"}
        answer = rec.get("answer") or right[0]["answer"]  # the gold answer (the right sample verified against it)
        if wrong and rng.random() < ratio:
            out.append(from_attempts(rec["question"], wrong[0]["thinking"], wrong[0]["answer"], right[0]["thinking"],
                                     answer, verifier=verifier, **meta))
        else:
            out.append(Example(rec["question"], answer, reasoning=right[0]["thinking"], verifier=verifier,
                               meta={**meta, "journey": "shortcut"}))
    return out


def caught_slips(thinking: str | None) -> int:
    """How many times a thinking text catches and corrects a step (the journey rows' check lines, or a
    recomputation that disagrees with the line before): what the journey benchmark counts in outputs."""
    if not thinking:
        return 0
    return len(re.findall(r"Check: .*?, not .*?\. Correcting", thinking)) + thinking.count("Let me redo it")
