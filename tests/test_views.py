"""The reasoning and non-reasoning views of one dataset (`thinktune.data.views`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktune import format as fmt
from thinktune.data.readers import parse_row, read_examples
from thinktune.data.schema import Example
from thinktune.data.views import prompt_messages, sft_rows, to_view

PUBLIC_MIXED = Path(__file__).parent / "fixtures" / "data" / "public_mixed.jsonl"

STEPS = "17 + 25 = 42\n42 + 8 = 50"


def example(**kw) -> Example:
    base = {"question": "What is 17 + 25 + 8?", "answer": "50", "reasoning": STEPS,
            "meta": {"source": "data.jsonl:3", "id": "a"}}
    return Example(**{**base, **kw})


@pytest.mark.parametrize(
    ("job", "row", "target"),
    [
        ("reasoning", example(), f"<think>\n{STEPS}\n</think>\n<answer>\n50\n</answer>"),
        ("non_reasoning", example(), "<answer>\n50\n</answer>"),  # the reasoning is dropped
        ("non_reasoning", example(reasoning=None), "<answer>\n50\n</answer>"),
        ("reasoning", example(answer=" 7 ", reasoning="  3 + 4 = 7  "), "<think>\n3 + 4 = 7\n</think>\n<answer>\n7\n</answer>"),
    ],
)
def test_targets(job, row, target):
    messages, got = to_view(row, job)
    assert got == target
    assert messages[-1] == {"role": "user", "content": row.question}


def test_reasoning_target_parses_strictly_to_the_row():
    _, target = to_view(example(), "reasoning")
    assert fmt.parse(target, strict=True) == fmt.Parsed(STEPS, "50", True)


@pytest.mark.parametrize(("job", "prompt"), [("reasoning", fmt.REASONING_SYSTEM_PROMPT),
                                             ("non_reasoning", fmt.DIRECT_SYSTEM_PROMPT)])
def test_system_prompt_follows_the_job(job, prompt):
    messages, _ = to_view(example(), job)
    assert messages[0] == {"role": "system", "content": prompt}


def test_row_system_prompt_comes_before_the_format_instruction():
    messages = prompt_messages(example(system="You are a maths tutor."), "reasoning")
    assert messages[0]["content"] == f"You are a maths tutor.\n\n{fmt.REASONING_SYSTEM_PROMPT}"


def test_history_goes_into_the_prompt_in_order():
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    messages, _ = to_view(example(history=history), "non_reasoning")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1:3] == history
    assert messages[1] is not history[0]  # copied: rows never alias the example


@pytest.mark.parametrize("reasoning", [None, "", "   \n "])
def test_reasoning_job_without_reasoning_names_the_row(reasoning):
    with pytest.raises(ValueError, match=r"data\.jsonl:3: a reasoning job needs step-by-step reasoning"):
        to_view(example(reasoning=reasoning), "reasoning")


def test_unknown_job():
    with pytest.raises(ValueError, match="unknown job type 'thinking'"):
        to_view(example(), "thinking")


def test_sft_rows_are_conversational_prompt_completion():
    rows = sft_rows([example(), example(question="What is 1 + 1?", answer="2", reasoning="1 + 1 = 2")], "reasoning")
    assert len(rows) == 2
    assert set(rows[1]) == {"prompt", "completion"}
    assert rows[1]["completion"] == [{"role": "assistant",
                                      "content": "<think>\n1 + 1 = 2\n</think>\n<answer>\n2\n</answer>"}]
    assert [m["role"] for m in rows[1]["prompt"]] == ["system", "user"]


@pytest.mark.parametrize("job", ["reasoning", "non_reasoning"])
def test_rows_render_with_the_prompt_as_prefix(tokenizer, job):
    """SmolLM2's ChatML template renders the prompt as a prefix of prompt + target (completion-only loss)."""
    row = sft_rows([example()], job)[0]
    fmt.check_template_prefix(tokenizer, row["prompt"], row["completion"][0]["content"])


# ---------------------------------------------------------------- the public datasets' forms, as targets
def test_every_public_form_renders_the_strict_contract():
    """OpenR1, Bespoke-Stratos, <reasoning>, <thought>, GSM8K, Alpaca, MATH, MATH-500, s1K: one contract."""
    examples = read_examples(PUBLIC_MIXED)
    targets = [to_view(example, "reasoning")[1] for example in examples]
    parsed = [fmt.parse(target, strict=True) for target in targets]
    assert all(p.well_formed for p in parsed)
    assert [p.answer for p in parsed] == ["42", "36", "5", "4", "24", "42", "\\frac{3}{4}", "7", "128"]
    assert [p.thinking for p in parsed] == [e.reasoning for e in examples]
    for target in targets:  # no other thinking marker leaks into the target
        assert not any(m in target for m in ("<|begin_of_thought|>", "<|end_of_solution|>", "<reasoning>", "<thought>"))


@pytest.mark.parametrize(("row", "target"), [
    ({"conversations": [{"from": "user", "value": "12 * 3?"}, {"from": "assistant", "value": (
        "<|begin_of_thought|>\n\n12 * 3 = 36.\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\nSo $\\boxed{36}$."
        "\n\n<|end_of_solution|>")}]},
     "<think>\n12 * 3 = 36.\n</think>\n<answer>\n36\n</answer>"),
    ({"problem": "1/2 + 1/4?", "solution": "Over 4.\n$\\boxed{\\frac{3}{4}}$"},
     "<think>\nOver 4.\n$\\boxed{\\frac{3}{4}}$\n</think>\n<answer>\n\\frac{3}{4}\n</answer>"),
    ({"messages": [{"role": "user", "content": "6 * 7?"},
                   {"role": "assistant", "content": "<think>\n6 * 7 = 42\n</think>\n\nThus $\\boxed{42}$."}]},
     "<think>\n6 * 7 = 42\n</think>\n<answer>\n42\n</answer>"),
    ({"question": "2^7?", "thinking_trajectories": ["2^7 = 128."], "attempt": "Final Answer: $\\boxed{128}$"},
     "<think>\n2^7 = 128.\n</think>\n<answer>\n128\n</answer>"),
])
def test_public_rows_render_with_the_boxed_answer_alone(row, target):
    assert to_view(parse_row(row, "f.jsonl:1").example, "reasoning")[1] == target


def test_answer_mode_full_keeps_the_solution_in_the_answer():
    row = {"messages": [{"role": "user", "content": "6 * 7?"},
                        {"role": "assistant", "content": "<think>\n6 * 7 = 42\n</think>\n\nThus $\\boxed{42}$."}]}
    _, target = to_view(parse_row(row, "f.jsonl:1", answer_mode="full").example, "reasoning")
    assert target == "<think>\n6 * 7 = 42\n</think>\n<answer>\nThus $\\boxed{42}$.\n</answer>"
    _, direct = to_view(parse_row(row, "f.jsonl:1", answer_mode="full").example, "non_reasoning")
    assert direct == "<answer>\nThus $\\boxed{42}$.\n</answer>"

