"""Answer verifiers: is a predicted answer the gold answer? Pure functions, shared by rewards and eval.

Modes:
    `math`     math-verify (symbolic/numeric equivalence: `1/2`, `0.5` and `\\frac{1}{2}` agree), falling back
               to numeric comparison;
    `numeric`  both parse as numbers (commas, `$`, `%` dropped) and agree within 1e-6 relative;
    `exact`    string equality after stripping whitespace;
    `casefold` case- and whitespace-insensitive string equality.

`normalize(answer, mode)` gives the key under which answers vote together in self-consistency.

math-verify's own timeout uses `signal.alarm`, which raises outside the main thread (TRL, web servers and
thread pools call rewards from other threads), so it is called with `parsing_timeout=None` /
`timeout_seconds=None` there and the inputs are length-capped instead.
"""

from __future__ import annotations

import math
import re
import threading
from fractions import Fraction
from typing import Literal

Mode = Literal["math", "numeric", "exact", "casefold"]
MODES: tuple[str, ...] = ("math", "numeric", "exact", "casefold")
_MAX_LEN = 1_000  # longer "answers" are not answers; also bounds math-verify's parse time

_NUM_SYMBOLS = re.compile(r"[$%€£]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # `1,024` but not `1,2` or `1,0245`
_LATEX_WRAP = re.compile(r"^\\\(|\\\)$|^\$|\$$|^\\boxed\{(.*)\}$")


def to_number(text: str | None) -> float | None:
    """Parse `text` as a number (`1,024`, `$3.50`, `-7`, `3/4`, `50%`); None when it is not one.

    Only thousands separators are dropped: `1, 2` and `1 2` are lists, not the number 12.

    >>> to_number("1,024"), to_number("3/4"), to_number("x"), to_number("1, 2")
    (1024.0, 0.75, None, None)
    """
    if not isinstance(text, str) or len(text) > 64:
        return None
    s = _THOUSANDS.sub("", _NUM_SYMBOLS.sub("", text).strip()).rstrip(".")
    if re.search(r"[\s,]", s):
        return None
    m = re.fullmatch(r"\\boxed\{(.*)\}", s)
    if m:
        s = m.group(1)
    m = re.fullmatch(r"\\d?frac\{(-?\d+)\}\{(\d+)\}", s)
    if m:
        s = f"{m.group(1)}/{m.group(2)}"
    try:
        if re.fullmatch(r"-?\d+/\d+", s):
            return float(Fraction(s))
        value = float(s)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def _numeric_equal(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _math_verify(pred: str, gold: str) -> bool | None:
    try:
        from math_verify import parse, verify
    except ImportError:  # pragma: no cover - math-verify is a hard dependency
        return None
    in_main = threading.current_thread() is threading.main_thread()
    kwargs = {} if in_main else {"parsing_timeout": None}
    try:
        g = parse(f"${gold}$" if "$" not in gold else gold, **kwargs)
        p = parse(f"${pred}$" if "$" not in pred else pred, **kwargs)
        if not g or not p:
            return None
        return bool(verify(g, p, **({} if in_main else {"timeout_seconds": None})))
    except Exception:  # math-verify raises on odd inputs; a verifier must not
        return None


def is_correct(pred: str | None, gold: str | None, mode: Mode = "math") -> bool:
    """True when `pred` matches `gold` under `mode`. Never raises; None or empty is never correct."""
    if not isinstance(pred, str) or not isinstance(gold, str):
        return False
    pred, gold = pred.strip(), gold.strip()
    if not pred or not gold or len(pred) > _MAX_LEN:
        return False
    if mode == "exact":
        return pred == gold
    if mode == "casefold":
        return " ".join(pred.casefold().split()) == " ".join(gold.casefold().split())
    pn, gn = to_number(pred), to_number(gold)
    if pn is not None and gn is not None:
        return _numeric_equal(pn, gn)
    if mode == "numeric":
        return False
    if pred == gold:
        return True
    result = _math_verify(pred, gold)
    return bool(result)


def normalize(answer: str | None, mode: Mode = "math") -> str | None:
    """A canonical key for voting: equal keys mean equivalent answers (`1/2`, `0.5`, `\\frac{1}{2}` → `0.5`)."""
    if not isinstance(answer, str) or not answer.strip() or len(answer) > _MAX_LEN:
        return None
    s = answer.strip()
    if mode == "exact":
        return s
    if mode == "casefold":
        return " ".join(s.casefold().split())
    n = to_number(s)
    if n is not None:
        return repr(round(n, 9)).removesuffix(".0") if n == int(n) else repr(round(n, 9))
    return " ".join(s.split())
