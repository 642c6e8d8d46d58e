"""`word_problems`: templated multi-step word problems with whole-number results and a gold solution.

A problem tells a short story in 2 to 4 steps of `+`, `-`, `*`, `/` (every intermediate result a whole,
non-negative number; every division exact) about varied people and things, and asks for the final
quantity. The gold reasoning has one sentence and one equation per step, as a person would write it::

    Maya starts with 12 apples.
    She buys 3 bags of 4 apples: 3 * 4 = 12, so 12 + 12 = 24 apples.
    She shares them equally among 6 friends: 24 / 6 = 4 apples each.

Users' problems look more like these than like the quickstart's bare additions, so they show where
reasoning pays on something closer to real questions; `steps` is the difficulty knob (2-4), and the same
task feeds `compare`, `eval`, `grpo` and the journey builder (each step can be checked on its own).
"""

from __future__ import annotations

import random

from thinktune.data.schema import Example
from thinktune.tasks._split import check_split, draw_distinct, rng_for, size_for

NAMES = ("Maya", "Liam", "Aisha", "Kenji", "Sofia", "Omar", "Lena", "Diego", "Priya", "Noah", "Zara", "Ivan")
THINGS = (("apple", "apples", "bag"), ("marble", "marbles", "jar"), ("sticker", "stickers", "sheet"),
          ("cookie", "cookies", "box"), ("pencil", "pencils", "pack"), ("shell", "shells", "bucket"),
          ("card", "cards", "deck"), ("egg", "eggs", "carton"))
PRONOUN = {"Maya": "She", "Aisha": "She", "Sofia": "She", "Lena": "She", "Priya": "She", "Zara": "She"}


def _step(rng: random.Random, total: int, thing: tuple[str, str, str], who: str) -> tuple[str, str, int] | None:
    """One story step from `total`: (the story sentence, the gold line, the new total), or None."""
    one, unit, group = thing
    kind = rng.choice(("buy", "give", "times", "share"))
    if kind == "buy":
        k, per = rng.randint(2, 6), rng.randint(2, 9)
        new = total + k * per
        return (f"{who} buys {k} {group}s with {per} {unit} in each.",
                f"{who} buys {k} {group}s of {per} {unit}: {k} * {per} = {k * per}, so {total} + {k * per} = {new} {unit}.",
                new)
    if kind == "give":
        if total < 2:
            return None
        k = rng.randint(1, total - 1)
        given = one if k == 1 else unit
        return (f"{who} gives {k} {given} away.", f"{who} gives {k} away: {total} - {k} = {total - k} {unit}.",
                total - k)
    if kind == "times":
        if total > 200:
            return None
        k = rng.randint(2, 4)
        return (f"Then the number of {unit} becomes {k} times as many.",
                f"{k} times as many: {total} * {k} = {total * k} {unit}.", total * k)
    divisors = [d for d in range(2, 10) if total % d == 0]
    if not divisors:
        return None
    d = rng.choice(divisors)
    return (f"{who} shares them equally among {d} friends and keeps one share.",
            f"One of {d} equal shares: {total} / {d} = {total // d} {unit}.", total // d)


def make_problem(rng: random.Random, steps: int = 3) -> Example | None:
    """One problem of `steps` steps drawn from `rng` (None when the draw cannot make one)."""
    name = rng.choice(NAMES)
    who = PRONOUN.get(name, "He")
    thing = rng.choice(THINGS)
    unit = thing[1]
    total = rng.randint(5, 40)
    story, gold = [f"{name} has {total} {unit}."], [f"{name} starts with {total} {unit}."]
    for i in range(steps):
        step = None
        for _ in range(10):
            step = _step(rng, total, thing, name if i == 0 else who)
            if step is not None:
                break
        if step is None:
            return None
        sentence, line, total = step
        story.append(sentence)
        gold.append(line)
    question = " ".join(story) + f" How many {unit} does {name} have now?"
    return Example(question=question, answer=str(total), reasoning="\n".join(gold), verifier="numeric",
                   meta={"task": "word_problems", "steps": steps})


def load(split: str = "test", n: int | None = None, seed: int = 0, *, steps: int = 3) -> list[Example]:
    """`n` distinct problems of `split` with `steps` steps each (2-4); deterministic in `(split, seed, steps)`."""
    split = check_split(split)
    if not 1 <= steps <= 6:
        raise ValueError(f"word_problems: steps must be from 1 to 6, got {steps}")
    n = size_for(split, n)
    rng = rng_for(f"word_problems:{steps}", split, seed)
    return draw_distinct("word_problems", split, seed, n, lambda: make_problem(rng, steps),
                         f" with steps={steps}; ask for fewer")
