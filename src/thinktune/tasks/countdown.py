"""`countdown` (TinyZero's task): reach a target with the given numbers, each used once, using + − × ÷.

Generation works backwards so every problem has a known solution: draw the numbers, combine them in a
random order with random operators (keeping every intermediate value a positive integer), and make the
result the target. The gold reasoning lists those steps (`36 - 19 = 17`, …) and the gold answer is the
equation, so the task feeds SFT as well as RL.

The checker (`check_equation`) never evaluates text: it parses the answer with `ast`, allows only integer
literals, `+ - * /` and parentheses, evaluates with exact fractions, and bounds length and nesting first,
so `__import__('os')`, `2**99999` or 10,000 nested parentheses are rejected without running anything.
"""

from __future__ import annotations

import ast
import random
from collections import Counter
from fractions import Fraction

from thinktune.data.schema import Example
from thinktune.tasks._split import check_split, draw_distinct, rng_for, size_for

MAX_EQUATION_CHARS = 300  # six 3-digit numbers with parentheses fit in ~40
MAX_NESTING = 32
_UNICODE_OPS = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "＋": "+", "（": "(", "）": ")"})
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


# --------------------------------------------------------------------------------------------- checker
def evaluate_equation(text: str | None) -> tuple[Fraction, list[int]] | None:
    """The exact value of an equation and the integers it uses, or None when it is not a valid one.

    A trailing `= value` is ignored (models often write `(7 + 3) * 2 = 20`). Unicode `×`, `÷`, `−` are read
    as their ASCII operators.

    >>> evaluate_equation("(7 + 3) * 2 = 20")
    (Fraction(20, 1), [7, 3, 2])
    >>> evaluate_equation("__import__('os')") is None
    True
    """
    if not isinstance(text, str):
        return None
    expr = text.translate(_UNICODE_OPS).strip()
    if expr.count("=") > 1:
        return None
    expr = expr.split("=")[0].strip()
    if not expr or len(expr) > MAX_EQUATION_CHARS or not _nesting_ok(expr):
        return None
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    used: list[int] = []
    try:
        value = _eval(tree.body, used)
    except (ValueError, ZeroDivisionError, RecursionError):
        return None
    return value, used


def check_equation(text: str | None, numbers: list[int], target: int | float, use_all: bool = True) -> bool:
    """True when `text` is an equation over `numbers` (each exactly once) that equals `target`.

    Args:
        text: the model's answer, e.g. `(25 - 5) * 4`.
        numbers: the numbers given in the problem.
        target: the value to reach.
        use_all: every number must be used (TinyZero's rule); False allows a sub-multiset.

    >>> check_equation("(25 - 5) * 4", [4, 5, 25], 80)
    True
    >>> check_equation("25 * 4 - 5 - 5", [4, 5, 25], 90)   # 5 used twice
    False
    """
    result = evaluate_equation(text)
    if result is None:
        return False
    value, used = result
    given, got = Counter(int(x) for x in numbers), Counter(used)
    if use_all and got != given:
        return False
    if not use_all and any(got[k] > given[k] for k in got):
        return False
    return value == Fraction(target).limit_denominator(10**6)


def _nesting_ok(expr: str) -> bool:
    depth = 0
    for ch in expr:
        if ch == "(":
            depth += 1
            if depth > MAX_NESTING:
                return False
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _eval(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, used), _eval(node.right, used)
        op = _BINOPS[type(node.op)]
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        return left / right  # ZeroDivisionError → invalid
    raise ValueError(f"not allowed in a countdown equation: {type(node).__name__}")


# ------------------------------------------------------------------------------------------ generator
def make_problem(rng: random.Random, count: int = 3, min_number: int = 1, max_number: int = 50,
                 min_target: int = 10, max_target: int = 100, tries: int = 200) -> Example | None:
    """One problem with a known solution, or None when `tries` random combinations missed the range."""
    numbers = [rng.randint(min_number, max_number) for _ in range(count)]
    for _ in range(tries):
        solved = _random_solution(rng, numbers)
        if solved is None:
            continue
        target, equation, steps = solved
        if min_target <= target <= max_target:
            break
    else:
        return None
    question = (
        f"Using the numbers {numbers}, create an equation that equals {target}. You can use basic arithmetic "
        "operations (+, -, *, /) and each number must be used exactly once. Give only the equation as the "
        "answer, for example (1 + 2) * 3."
    )
    return Example(
        question=question,
        answer=equation,
        reasoning="\n".join(steps),
        verifier="countdown",
        meta={"task": "countdown", "numbers": numbers, "target": target},
    )


def _random_solution(rng: random.Random, numbers: list[int]) -> tuple[int, str, list[str]] | None:
    # Each pool item is (value, expression text, its top operator or "" for a literal); combine two at
    # random until one is left, keeping every value a positive integer and skipping trivial ×1 / ÷1 steps.
    pool = [(x, str(x), "") for x in numbers]
    steps = []
    tries = 0
    while len(pool) > 1:
        tries += 1
        if tries > 50 * len(numbers):
            return None
        i, j = rng.sample(range(len(pool)), 2)
        (a, ea, oa), (b, eb, ob) = pool[i], pool[j]
        op = rng.choice("+-*/")
        if op == "-" and a <= b or op == "/" and (b == 0 or a % b) or op in "*/" and 1 in (a, b):
            continue
        c = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a // b  # only op is computed
        steps.append(f"{a} {op} {b} = {c}")
        expr = f"{_wrap(ea, oa, op, right=False)} {op} {_wrap(eb, ob, op, right=True)}"
        pool = [p for k, p in enumerate(pool) if k not in (i, j)] + [(c, expr, op)]
    value, expr, _ = pool[0]
    return value, expr, steps


def _wrap(expr: str, inner: str, outer: str, right: bool) -> str:
    """Parenthesise a sub-expression only where precedence needs it: `(a + b) * c`, `a - (b + c)`."""
    if not inner:
        return expr
    low_inside_high = inner in "+-" and outer in "*/"
    right_of_noncommutative = right and outer in "-/" and (inner in "+-" if outer == "-" else True)
    return f"({expr})" if low_inside_high or right_of_noncommutative else expr


def load(split: str = "test", n: int | None = None, seed: int = 0, *, numbers: int = 3, min_number: int = 1,
         max_number: int = 50, min_target: int = 10, max_target: int = 100) -> list[Example]:
    """`n` distinct countdown problems of `split`, each with a gold equation; deterministic by seed.

    Args:
        split: `train`, `validation` or `test` (disjoint by construction).
        n: how many problems (default 1000 for train, 200 otherwise).
        seed: the stream seed.
        numbers: how many numbers per problem (TinyZero uses 3–4).
        min_number, max_number: the range the numbers are drawn from.
        min_target, max_target: the range of targets.
    """
    split = check_split(split)
    if numbers < 2:
        raise ValueError(f"countdown: numbers must be >= 2, got {numbers}")
    if not 0 <= min_number <= max_number or min_target > max_target:
        raise ValueError("countdown: need 0 <= min_number <= max_number and min_target <= max_target")
    n = size_for(split, n)
    rng = rng_for(f"countdown:{numbers}:{min_number}:{max_number}:{min_target}:{max_target}", split, seed)
    return draw_distinct(
        "countdown", split, seed, n,
        lambda: make_problem(rng, numbers, min_number, max_number, min_target, max_target), "; widen the ranges",
        key=_same_puzzle,
    )


def _same_puzzle(ex: Example) -> str:
    """The numbers in any order and the target: what makes two countdown problems the same puzzle."""
    return f"countdown {sorted(ex.meta['numbers'])} -> {ex.meta['target']}"
