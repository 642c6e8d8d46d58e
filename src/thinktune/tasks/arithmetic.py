"""`arithmetic`: multi-step integer arithmetic whose gold solution writes out every step.

A problem is an expression such as `Calculate 17 + 25 * 3 - 8.` evaluated with the usual precedence
(`*` before `+`/`-`, then left to right). The gold reasoning has one line per operation, in the order a
person would work it out, and the answer is the final number::

    25 * 3 = 75
    17 + 75 = 92
    92 - 8 = 84

Difficulty knobs: `ops` (number of operations), `digits` (digits per operand) and `operators` (a subset of
`+-*`). This is the task the quickstart uses to show where reasoning pays: a small model cannot do three
operations in one token but can chain single steps it writes down.
"""

from __future__ import annotations

import random

from thinktune.data.schema import Example
from thinktune.tasks._split import check_split, draw_distinct, rng_for, size_for

ALLOWED_OPERATORS = "+-*"


def make_problem(rng: random.Random, ops: int = 3, digits: int = 2, operators: str = "+-*") -> Example:
    """One problem drawn from `rng` (no split filtering)."""
    lo, hi = (1, 9) if digits == 1 else (10 ** (digits - 1), 10**digits - 1)
    numbers = [rng.randint(lo, hi) for _ in range(ops + 1)]
    symbols = [rng.choice(operators) for _ in range(ops)]
    question = "Calculate " + " ".join(_interleave(numbers, symbols)) + "."
    steps, answer = solve_steps(numbers, symbols)
    return Example(
        question=question,
        answer=str(answer),
        reasoning="\n".join(steps),
        verifier="numeric",
        meta={"task": "arithmetic", "numbers": numbers, "operators": symbols},
    )


def solve_steps(numbers: list[int], symbols: list[str]) -> tuple[list[str], int]:
    """Evaluate with precedence, returning one `a op b = c` line per operation and the result.

    >>> solve_steps([17, 25, 3, 8], ["+", "*", "-"])
    (['25 * 3 = 75', '17 + 75 = 92', '92 - 8 = 84'], 84)
    """
    values, ops = list(numbers), list(symbols)
    steps = []
    for wanted in ("*", "+-"):
        i = 0
        while i < len(ops):
            if ops[i] in wanted:
                a, b, op = values[i], values[i + 1], ops[i]
                c = a * b if op == "*" else a + b if op == "+" else a - b
                steps.append(f"{a} {op} {b} = {c}")
                values[i : i + 2] = [c]
                del ops[i]
            else:
                i += 1
    return steps, values[0]


def load(split: str = "test", n: int | None = None, seed: int = 0, *, ops: int = 3, digits: int = 2,
         operators: str = "+-*") -> list[Example]:
    """`n` distinct problems of `split`; deterministic in `(split, seed, options)`.

    Args:
        split: `train`, `validation` or `test` (disjoint by construction, see `_split.py`).
        n: how many problems (default 1000 for train, 200 otherwise).
        seed: the stream seed.
        ops: operations per problem (≥ 1).
        digits: digits per operand (≥ 1).
        operators: which operators to draw from, a non-empty subset of `+-*`.
    """
    split = check_split(split)
    if ops < 1 or digits < 1:
        raise ValueError(f"arithmetic: ops and digits must be >= 1, got ops={ops}, digits={digits}")
    if not operators or set(operators) - set(ALLOWED_OPERATORS):
        raise ValueError(f"arithmetic: operators must be a non-empty subset of {ALLOWED_OPERATORS!r}, got {operators!r}")
    n = size_for(split, n)
    rng = rng_for(f"arithmetic:{ops}:{digits}:{operators}", split, seed)
    return draw_distinct("arithmetic", split, seed, n, lambda: make_problem(rng, ops, digits, operators),
                         f" with ops={ops}, digits={digits}; ask for fewer or raise the difficulty")


def _interleave(numbers: list[int], symbols: list[str]) -> list[str]:
    parts = [str(numbers[0])]
    for op, x in zip(symbols, numbers[1:], strict=True):
        parts += [op, str(x)]
    return parts
