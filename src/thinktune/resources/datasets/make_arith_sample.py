"""Generate `arith_sample.jsonl`: the built-in multi-step arithmetic dataset with step-by-step reasoning.

Run `python -m thinktune.resources.datasets.make_arith_sample` to rewrite the file; the output is
deterministic for a given seed, so the shipped file can always be reproduced byte for byte.

Every problem takes 2-3 steps of integer arithmetic, and its reasoning is one step per line in the form
`17 + 25 = 42`, the final answer being the last step's result. Addition dominates (about half the
problems): on CPU, the embedded 135M model learns to chain additions from a few hundred rows, while
borrow/carry-heavy subtraction and multiplication stay hard for it (see /work/shared/CPU-NOTES.md), so
the mix leaves headroom without making the quickstart hopeless.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("arith_sample.jsonl")

_NAMES = ("Ava", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kai", "Lena")
_ITEMS = ("apples", "marbles", "stickers", "books", "pencils", "cards", "shells", "coins")


def _step(a: int, op: str, b: int) -> tuple[int, str]:
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return value, f"{a} {op} {b} = {value}"


def _chain(start: int, ops: list[tuple[str, int]]) -> tuple[int, list[str]]:
    value, lines = start, []
    for op, b in ops:
        value, line = _step(value, op, b)
        lines.append(line)
    return value, lines


def _expression(rng: random.Random) -> tuple[str, list[str], int]:
    """`What is 17 + 25 + 8?`: 3 or 4 operands, left to right, never negative."""
    n = rng.choice((3, 3, 4))
    start = rng.randint(10, 60)
    ops, value = [], start
    for _ in range(n - 1):
        op = rng.choice(("+", "+", "-"))
        b = rng.randint(2, 40)
        if op == "-" and b > value:
            op = "+"
        ops.append((op, b))
        value = value + b if op == "+" else value - b
    text = " ".join([str(start)] + [f"{op} {b}" for op, b in ops])
    value, lines = _chain(start, ops)
    return f"What is {text}?", lines, value


def _word(rng: random.Random) -> tuple[str, list[str], int]:
    """One of a few word-problem shapes, each 2-3 steps."""
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    kind = rng.randrange(5)
    if kind == 0:  # has, buys, gives away
        a, b = rng.randint(10, 50), rng.randint(5, 30)
        c = rng.randint(2, a + b - 1)
        q = f"{name} has {a} {item}, buys {b} more and then gives away {c}. How many {item} does {name} have now?"
        value, lines = _chain(a, [("+", b), ("-", c)])
    elif kind == 1:  # three days of collecting
        a, b, c = rng.randint(5, 40), rng.randint(5, 40), rng.randint(5, 40)
        q = (f"{name} collects {a} {item} on Monday, {b} on Tuesday and {c} on Wednesday. "
             f"How many {item} does {name} collect in total?")
        value, lines = _chain(a, [("+", b), ("+", c)])
    elif kind == 2:  # boxes of items plus loose ones
        boxes, per, loose = rng.randint(2, 9), rng.randint(3, 12), rng.randint(1, 20)
        q = (f"{name} has {boxes} boxes with {per} {item} in each box, and {loose} more {item} outside the boxes. "
             f"How many {item} does {name} have?")
        value, lines = _chain(boxes, [("*", per), ("+", loose)])
    elif kind == 3:  # two friends, then combined
        other = rng.choice([n for n in _NAMES if n != name])
        a, more = rng.randint(10, 45), rng.randint(3, 25)
        q = (f"{name} has {a} {item}. {other} has {more} more {item} than {name}. "
             f"How many {item} do they have together?")
        b, line1 = _step(a, "+", more)
        value, line2 = _step(a, "+", b)
        lines = [line1, line2]
    else:  # spends from a budget twice
        budget = rng.randint(40, 99)
        x = rng.randint(5, budget // 2)
        y = rng.randint(3, budget - x - 1)
        q = (f"{name} has {budget} dollars, spends {x} dollars on lunch and {y} dollars on a book. "
             f"How many dollars does {name} have left?")
        value, lines = _chain(budget, [("-", x), ("-", y)])
    return q, lines, value


def make_examples(n: int = 200, seed: int = 0) -> list[dict]:
    """`n` question/reasoning/answer rows (half expressions, half word problems), deterministic in `seed`."""
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n:
        question, lines, value = (_expression if len(rows) % 2 == 0 else _word)(rng)
        if question in seen:
            continue
        seen.add(question)
        rows.append({
            "id": f"arith-{len(rows):03d}",
            "question": question,
            "reasoning": "\n".join(lines),
            "answer": str(value),
        })
    return rows


def main(path: Path = OUT, n: int = 200, seed: int = 0) -> Path:
    """Write the dataset to `path` (default: the shipped `arith_sample.jsonl`)."""
    with path.open("w", encoding="utf-8") as f:
        for row in make_examples(n, seed):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    print(main())
