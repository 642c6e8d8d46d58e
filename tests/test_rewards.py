"""Table tests for every reward: right, wrong, malformed, adversarial, unicode, empty — and the registry."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import pytest

from thinktune.rewards import REWARDS, get_reward, reward_kind
from thinktune.rewards.accuracy import accuracy, accuracy_any, accuracy_strict, code, countdown
from thinktune.rewards.format import format_soft, format_strict, tag_count
from thinktune.rewards.length import cosine, cosine_scale, overlong, soft_overlong_penalty
from thinktune.tasks.countdown import check_equation

FIXTURES = Path(__file__).parent / "fixtures" / "tasks"
GOOD = "<think>\n6 * 7 = 42\n</think>\n<answer>\n42\n</answer>"


def conv(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


# -------------------------------------------------------------------------------------------- format
FORMAT_CASES = [
    # completion, strict, soft, tag_count
    (GOOD, 1.0, 1.0, 1.0),
    ("<think>a</think><answer>b</answer>", 1.0, 1.0, 1.0),
    ("  <think>a</think>\n\n<answer>b</answer>  ", 1.0, 1.0, 1.0),
    ("<think>a</think>text<answer>b</answer>", 0.0, 0.0, 1.0),  # text between the blocks
    ("intro <think>a</think><answer>b</answer>", 0.0, 1.0, 1.0),  # text before
    ("<think>a</think><answer>b</answer> outro", 0.0, 1.0, 1.0),
    ("<answer>b</answer>", 0.0, 0.0, 0.5),
    ("<think>a</think>", 0.0, 0.0, 0.5),
    ("<think>a</think><answer></answer>", 0.0, 1.0, 1.0),  # empty answer is not well formed
    ("<think></think><answer>b</answer>", 0.0, 1.0, 1.0),  # empty thinking neither
    ("<answer>b</answer><think>a</think>", 0.0, 0.0, 1.0),  # wrong order
    ("<think>a<answer>1</answer><answer>2</answer></think><answer>3</answer>", 0.0, 1.0, 0.5),  # several answers
    ("<think>a</think><answer>b", 0.0, 0.0, 0.75),  # truncated
    ("42", 0.0, 0.0, 0.0),
    ("", 0.0, 0.0, 0.0),
    ("<think>五 + 七 = 十二 ✓</think><answer>十二</answer>", 1.0, 1.0, 1.0),  # unicode
    ("<THINK>a</THINK><ANSWER>b</ANSWER>", 0.0, 0.0, 0.0),  # tags are case-sensitive
]


@pytest.mark.parametrize("text,strict,soft,tags", FORMAT_CASES)
def test_format_rewards_table(text, strict, soft, tags):
    assert format_strict(None, [text]) == [strict]
    assert format_soft(None, [text]) == [soft]
    assert tag_count(None, [text]) == [tags]
    # conversational completions score the same as plain strings
    assert format_strict(None, [conv(text)]) == [strict]
    assert tag_count(None, [conv(text)]) == [tags]


def test_format_rewards_with_a_prefilled_think():
    completion = "6 * 7 = 42\n</think>\n<answer>\n42\n</answer>"
    assert format_strict(None, [completion]) == [0.0]
    assert format_strict(None, [completion], prefilled=True) == [1.0]
    assert tag_count(None, [completion], prefilled=True) == [1.0]


def test_format_rewards_on_huge_input_are_fast():
    huge = "<think>" + "x" * 2_000_000 + "</think><answer>1</answer>"
    assert format_strict(None, [huge]) == [1.0]
    assert format_soft(None, ["<think>" * 100_000]) == [0.0]


# ------------------------------------------------------------------------------------------ accuracy
ACCURACY_CASES = [
    # completion, gold, lenient, strict
    (GOOD, "42", 1.0, 1.0),
    ("<think>x</think><answer>41</answer>", "42", 0.0, 0.0),
    ("<answer>42</answer>", "42", 1.0, 0.0),  # no thinking: lenient reads it, strict does not
    ("<think>x</think><answer>42", "42", 1.0, 0.0),  # missing </answer>
    ("x</think><answer>42</answer>", "42", 1.0, 0.0),  # pre-filled <think>
    ("<think><answer>42</answer></think><answer>7</answer>", "42", 0.0, 0.0),  # answer hidden in the thinking
    ("<think>maybe 42</think><answer>41</answer><answer>42</answer>", "42", 1.0, 0.0),  # lenient takes the last
    ("<think>x</think><answer>41, 42, 43</answer>", "42", 0.0, 0.0),  # several answers in one
    ("The answer is 42.", "42", 0.0, 0.0),  # no tags at all
    ("<think>x</think><answer>1,024</answer>", "1024", 1.0, 1.0),
    ("<think>x</think><answer>\\frac{1}{2}</answer>", "0.5", 1.0, 1.0),
    ("<think>x</think><answer>$\\boxed{42}$</answer>", "42", 1.0, 1.0),
    ("<think>x</think><answer></answer>", "42", 0.0, 0.0),
    ("", "42", 0.0, 0.0),
    ("<think>x</think><answer>" + "9" * 10_000 + "</answer>", "42", 0.0, 0.0),
    ("<think>x</think><answer>４２</answer>", "42", 1.0, 1.0),  # full-width digits: float() reads them
]


@pytest.mark.parametrize("text,gold,lenient,strict", ACCURACY_CASES)
def test_accuracy_rewards_table(text, gold, lenient, strict):
    assert accuracy(None, [text], answer=[gold]) == [lenient]
    assert accuracy_strict(None, [text], answer=[gold]) == [strict]
    assert accuracy(None, [conv(text)], answer=[gold]) == [lenient]


def test_accuracy_uses_the_row_verifier_and_meta():
    texts = ["<answer>PARIS</answer>", "<answer>paris</answer>", "<answer>3 * 4</answer>"]
    got = accuracy(None, texts, answer=["Paris", "Paris", "3 * 4"], verifier=["casefold", "exact", "countdown"],
                   meta=["{}", "{}", '{"numbers": [3, 4], "target": 12}'])
    assert got == [1.0, 0.0, 1.0]


def test_accuracy_without_a_gold_column_is_not_applicable():
    assert accuracy(None, [GOOD, GOOD]) == [None, None]
    assert accuracy(None, [GOOD], solution=["42"]) == [1.0]  # open-r1's column name


def test_accuracy_any_falls_back_to_the_last_number():
    texts = ["so 6 * 7 = 42", "the answer is 41", "<answer>41</answer> and 42", "no number", ""]
    assert accuracy_any(None, texts, answer=["42"] * 5) == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_accuracy_from_worker_threads():
    results = {}

    def work(i):
        results[i] = accuracy(None, ["<answer>\\frac{1}{2}</answer>", "<answer>1/3</answer>"], answer=["0.5", "0.5"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == [1.0, 0.0] for r in results.values()) and len(results) == 4


# ----------------------------------------------------------------------------------------- countdown
NUMS, TARGET = [25, 5, 4], 80
COUNTDOWN_CASES = [
    ("(25 - 5) * 4", True),
    ("4 * (25 - 5)", True),
    ("(25 - 5) * 4 = 80", True),  # trailing "= target" is fine
    ("(25 − 5) × 4", True),  # unicode operators
    ("((((25 - 5)))) * 4", True),
    ("25 * 4 - 5 * 4", False),  # 4 used twice
    ("(25 - 5) * 4 * 1", False),  # a number not given
    ("25 * 4 - 20", False),  # 20 not given, 5 unused
    ("25 - 5 + 4", False),  # wrong value
    ("(25 - 5) * 4 = 81", True),  # the text after = is ignored; the value is what counts
    ("80", False),  # the target copied from the prompt
    ("25 + 5 + 4", False),
    ("(25 - 5) ** 4", False),  # power is not allowed
    ("-(5 - 25) * 4", False),  # unary minus is not allowed
    ("25 // 5 * 4", False),  # floor division is not allowed
    ("(25 - 5) * 4.0", False),  # floats are not allowed
    ("__import__('os').system('echo hi')", False),
    ("(lambda: 80)()", False),
    ("[80][0]", False),
    ("25 - 5 * 4 = 5 = 80", False),  # several '='
    ("", False),
    (None, False),
    ("(" * 10_000 + "25" + ")" * 10_000 + " - 5 * 4", False),  # 10,000 nested parentheses
    ("(25 - 5) * 4" + " + 0" * 200, False),  # too long
    ("25 / (5 - 5) * 4", False),  # division by zero
    ("(25 - 5) * 4 )", False),  # unbalanced
    ("２５ - 5", False),  # unicode digits parse to 25 but the value is wrong — and must not crash
]


@pytest.mark.parametrize("text,expected", COUNTDOWN_CASES)
def test_countdown_checker_table(text, expected):
    assert check_equation(text, NUMS, TARGET) is expected


def test_countdown_division_is_exact():
    assert check_equation("(6 / 4) * 2", [6, 4, 2], 3)  # 1.5 * 2 with exact fractions
    assert not check_equation("7 / 2", [7, 2], 3)


def test_countdown_use_all_false_allows_a_subset_but_not_reuse():
    assert check_equation("25 * 4 - 20", [25, 4, 20, 7], 80, use_all=False)
    assert not check_equation("25 * 4 - 4 * 5", [25, 4, 5], 80, use_all=False)


def test_countdown_reward_reads_the_answer_block():
    texts = ["<think>25 - 5 = 20, 20 * 4 = 80</think><answer>(25 - 5) * 4</answer>",
             "<think>x</think><answer>80</answer>", "(25 - 5) * 4"]
    got = countdown(None, texts, numbers=[NUMS] * 3, target=[TARGET] * 3, answer=["", "", ""])
    assert got == [1.0, 0.0, 0.0]


def test_countdown_reward_needs_no_answer_column():
    # the fixed verifier reads its gold from numbers + target; without an `answer` column it must still score
    texts = ["<answer>(25 - 5) * 4</answer>", "<answer>25 * 4</answer>"]
    assert countdown(None, texts, numbers=[NUMS] * 2, target=[TARGET] * 2) == [1.0, 0.0]


def test_countdown_checker_survives_deep_nesting_from_a_thread():
    # a recursion guard that only worked in the main thread (smaller stacks) would fail here
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", check_equation("(" * 5000 + "1" + ")" * 5000, [1], 1)))
    t.start()
    t.join()
    assert box["r"] is False


# -------------------------------------------------------------------------------------------- length
@pytest.mark.parametrize("length,expected", [(0, 0.0), (80, 0.0), (81, -0.05), (90, -0.5), (100, -1.0), (500, -1.0)])
def test_soft_overlong_penalty(length, expected):
    assert soft_overlong_penalty(length, 100, 20) == pytest.approx(expected)


def test_overlong_reward_uses_token_counts_and_validates_cache():
    reward = overlong(max_length=10, cache=4)
    assert reward(None, ["a", "b", "c"], completion_ids=[[1] * 5, [1] * 8, [1] * 10]) == [0.0, -0.5, -1.0]
    assert reward(None, ["x" * 4 * 7]) == [-0.25]  # without ids: ~4 characters per token
    with pytest.raises(ValueError, match="cache"):
        overlong(max_length=10, cache=11)


def test_cosine_scale_endpoints_and_monotonic():
    assert cosine_scale(0, 100, 1.0, 0.5) == pytest.approx(1.0)
    assert cosine_scale(100, 100, 1.0, 0.5) == pytest.approx(0.5)
    assert cosine_scale(1000, 100, 1.0, 0.5) == pytest.approx(0.5)
    values = [cosine_scale(n, 100, 1.0, 0.5) for n in range(0, 101, 10)]
    assert values == sorted(values, reverse=True)


def test_cosine_reward_prefers_short_right_and_long_wrong():
    reward = cosine(max_length=100)
    right, wrong = "<think>x</think><answer>42</answer>", "<think>x</think><answer>41</answer>"
    ids = [[1] * 10, [1] * 90, [1] * 10, [1] * 90]
    short_right, long_right, short_wrong, long_wrong = reward(None, [right, right, wrong, wrong],
                                                              completion_ids=ids, answer=["42"] * 4)
    assert 1.0 >= short_right > long_right >= 0.5
    assert -1.0 <= short_wrong < long_wrong <= -0.5
    assert reward(None, [right], completion_ids=[[1]]) == [None]  # no gold → not applicable


# ---------------------------------------------------------------------------------------------- code
def test_code_reward_reads_the_answer_and_runs_the_tests():
    tests = ["assert add(2, 3) == 5", "assert add(2, 0) == 2"]
    good = "<think>x</think><answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
    half = "<think>x</think><answer>def add(a, b):\n    return a * b + (b == 0) * a</answer>"
    none = "<think>x</think><answer></answer>"
    assert code(None, [good, half, none], tests=[tests] * 3, answer=["", "", ""]) == [1.0, 0.5, 0.0]
    assert code(None, [good, none], tests=[tests] * 2) == [1.0, 0.0]  # no `answer` column needed


# ------------------------------------------------------------------------------------------ registry
def test_registry_builds_every_builtin_with_kinds():
    for name, info in REWARDS.items():
        f = get_reward(name, defaults={"max_length": 32})
        assert f.__name__ == name
        assert reward_kind(name) == info.kind in ("correctness", "format", "length")
        out = f(["p"], [GOOD], answer=["42"], completion_ids=[[1] * 5], numbers=[[6, 7]], target=[42],
                tests=[["assert True"]])
        assert len(out) == 1 and (out[0] is None or isinstance(out[0], float))


def test_registry_user_function_and_factory(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))
    sys.modules.pop("smoke_rewards", None)
    f = get_reward("smoke_rewards:distinct_chars")
    assert f.__name__ == "distinct_chars"
    assert f(None, ["aab", conv("abc")]) == [0.2, 0.3]
    assert reward_kind("smoke_rewards:distinct_chars") == "correctness"
    g = get_reward("thinktune.rewards.length:overlong", {"max_length": 10, "cache": 2})
    assert g.__name__ == "overlong" and g(None, ["x"], completion_ids=[[1] * 10]) == [-1.0]


def test_registry_tells_plain_rewards_from_factories_by_signature(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))
    sys.modules.pop("smoke_rewards", None)
    # a plain reward with options: the options are bound, the function is not called as a factory
    f = get_reward("smoke_rewards:length_at_most", {"limit": 1})
    assert f.__name__ == "length_at_most" and f(None, ["a", "ab"]) == [1.0, 0.0]
    # a factory without options is still called (it was once returned uncalled)
    g = get_reward("smoke_rewards:make_constant")
    assert g.__name__ == "make_constant" and g(None, ["a", "b"]) == [0.5, 0.5]
    assert get_reward("smoke_rewards:make_constant", {"value": 2.0})(None, ["a"]) == [2.0]
    with pytest.raises(ValueError, match="unknown option"):
        get_reward("smoke_rewards:make_constant", {"valu": 2.0})


@pytest.mark.parametrize("name,options,message", [
    ("nope", None, "unknown reward"),
    ("no_such_module_xyz:f", None, "cannot import"),
    ("thinktune.rewards:missing", None, "has no function"),
    ("overlong", {"max_length": 10, "cash": 2}, "unknown option"),
    ("format_strict", {"strict": True}, "unknown option"),
])
def test_registry_errors(name, options, message):
    with pytest.raises(ValueError, match=message):
        get_reward(name, options)


def test_registry_options_bind_to_plain_rewards():
    f = get_reward("format_strict", {"prefilled": True})
    assert f.__name__ == "format_strict"
    assert f(None, ["x</think><answer>1</answer>"]) == [1.0]


def test_rewards_never_return_nan():
    for name in REWARDS:
        f = get_reward(name, defaults={"max_length": 8})
        for text in ["", "<think>", "\x00" * 10, "💥" * 100]:
            out = f(None, [text], answer=["1"], completion_ids=[[1, 2]], numbers=[[1]], target=[1], tests=[["assert True"]])
            assert out[0] is None or not math.isnan(out[0])


def test_format_soft_matches_its_regex_definition_on_random_tag_soup():
    # format_soft avoids the regex (quadratic on adversarial text) but must decide exactly the same thing
    import random
    import re

    from thinktune.rewards.format import _soft_match

    regex = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
    parts = ["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x"]
    rng = random.Random(0)
    for _ in range(3000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 12)))
        assert _soft_match(text) == bool(regex.search(text)), text
