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
`timeout_seconds=None` there; the inputs are length-capped instead, and answers that would take sympy minutes
to evaluate (power towers, six-digit exponents, factorials of four-digit numbers) are never sent to it: they
are not correct.
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
    s = _number_text(text)
    if s is None:
        return None
    try:
        if re.fullmatch(r"-?\d+/\d+", s):
            return float(Fraction(s))
        value = float(s)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _number_text(text: str | None) -> str | None:
    """`text` with what decorates a number removed (`$`, `%`, thousands commas, `\\boxed{}`, `\\frac`)."""
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
    return s


def _exact_number(text: str) -> Fraction | None:
    """The exact value of an integer or `p/q` answer; None for decimals (and for anything else)."""
    s = _number_text(text)
    if s is None or not re.fullmatch(r"-?\d+(/[1-9]\d*)?", s):
        return None
    return Fraction(s)


def _numbers_equal(pred: str, gold: str, pn: float, gn: float) -> bool:
    """Integers and fractions compare exactly (37851745 is not 37851744, however close in relative terms);
    a decimal on either side compares within 1e-6 relative (`0.333333` and `1/3`, `42.0` and `42`)."""
    ep, eg = _exact_number(pred), _exact_number(gold)
    if ep is not None and eg is not None:
        return ep == eg
    return abs(pn - gn) <= 1e-6 * max(1.0, abs(pn), abs(gn))


# Answers whose evaluation explodes (power towers, huge exponents or factorials): sympy would compute them
# for minutes, and outside the main thread there is no timeout to stop it, so a policy could stall training
# by writing one. They are not sent to math-verify (and so never count as correct).
_EXPLOSIVE = re.compile(
    r"\^\s*\{[^{}]*\^"          # 10^{10^{10}}
    r"|\^\s*\(?\s*-?\d+\s*\)?\s*\^"  # 2^3^4
    r"|\*\*\s*\(?\s*-?\d+\s*\)?\s*\*\*"  # 2**2**30
    r"|\^\s*\{?\s*\(?\s*\d{6,}"  # 9^{9999999}
    r"|\*\*\s*\(?\s*\d{6,}"
    r"|\d{4,}\s*!"              # 99999!
)


def _explosive(text: str) -> bool:
    return bool(_EXPLOSIVE.search(text))


def _math_verify(pred: str, gold: str) -> bool | None:
    try:
        from math_verify import parse, verify
    except ImportError:  # pragma: no cover - math-verify is a hard dependency
        return None
    if _explosive(pred) or _explosive(gold):
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
        return _numbers_equal(pred, gold, pn, gn)
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
