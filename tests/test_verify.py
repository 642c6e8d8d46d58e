"""Table tests for the answer verifiers shared by rewards and evaluation."""

from __future__ import annotations

import threading

import pytest

from thinktune.verify import is_correct, normalize, to_number

CASES = [
    # pred, gold, mode, expected
    ("42", "42", "math", True),
    ("42.0", "42", "math", True),
    ("1,024", "1024", "math", True),
    ("$18", "18", "math", True),
    ("0.5", "1/2", "math", True),
    ("\\frac{1}{2}", "0.5", "math", True),
    ("\\boxed{7}", "7", "math", True),
    ("x^2 + 2x", "2x + x^2", "math", True),
    ("41", "42", "math", False),
    ("", "42", "math", False),
    (None, "42", "math", False),
    ("42", None, "math", False),
    ("forty-two", "42", "math", False),
    ("9" * 5000, "9", "math", False),
    ("42", "42", "numeric", True),
    ("42.0000001", "42", "numeric", True),
    ("x", "x", "numeric", False),
    ("Paris", "paris", "exact", False),
    ("Paris", "Paris", "exact", True),
    ("  New   York ", "new york", "casefold", True),
    ("Ünïcödé", "ünïcödé", "casefold", True),
    ("四", "四", "math", True),
    ("1, 2", "12", "math", False),  # a list is not the number 12
    ("12", "1, 2", "numeric", False),
    ("1 2", "12", "numeric", False),
    ("1,234,567", "1234567", "numeric", True),
    ("1,2", "12", "numeric", False),
    ("$ 18", "18", "numeric", True),
    ("50 %", "50", "numeric", True),
    ("37851745", "37851744", "numeric", False),  # integers compare exactly, not within 1e-6 relative
    ("37851745", "37851744", "math", False),
    ("37,851,744", "37851744", "math", True),
    ("2/4", "1/2", "numeric", True),
    ("0.333333", "1/3", "numeric", True),  # a decimal keeps the tolerance
    ("37851744.0", "37851744", "numeric", True),
]


@pytest.mark.parametrize("pred,gold,mode,expected", CASES)
def test_is_correct_table(pred, gold, mode, expected):
    assert is_correct(pred, gold, mode) is expected


def test_math_verify_works_outside_the_main_thread():
    # math-verify's default timeout uses signal.alarm, which fails in threads (TRL and servers use them)
    results = []
    t = threading.Thread(target=lambda: results.append(is_correct("\\frac{1}{2}", "0.5") and is_correct("x+1", "1+x")))
    t.start()
    t.join(30)
    assert results == [True]


@pytest.mark.parametrize("pred", ["10^{10^{10^{10}}}", "9^{9999999}", "99999!", "2**2**2**30", "2^3^4"])
def test_explosive_answers_return_at_once_even_outside_the_main_thread(pred):
    # sympy would evaluate these for minutes, and threads get no timeout: a policy could stall a GRPO step
    results = []
    t = threading.Thread(target=lambda: results.append(is_correct(pred, "5")), daemon=True)
    t.start()
    t.join(20)
    assert results == [False]


@pytest.mark.parametrize("expr", ["x^2 + y^2", "2^{10}", "10!", "(x+1)^2", "a**2 + b**2", "2**10"])
def test_ordinary_powers_and_factorials_still_reach_math_verify(expr):
    from thinktune.verify import _explosive

    assert not _explosive(expr)


@pytest.mark.parametrize(
    "answers",
    [("1/2", "0.5", "\\frac{1}{2}", "0.50"), ("1,000", "1000", "1000.0", "$1000")],
)
def test_equivalent_answers_share_a_vote_key(answers):
    assert len({normalize(a) for a in answers}) == 1


def test_normalize_edge_cases():
    assert normalize("") is None and normalize(None) is None
    assert normalize(" A  b ", "casefold") == "a b"
    assert normalize("3", "math") != normalize("4", "math")
    assert to_number("inf") is None and to_number("1/0") is None
