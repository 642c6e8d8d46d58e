"""Reading every dataset form into `Example` rows: table tests per form, the public datasets' shapes, files,
round trips, column maps, hf: sources (spec, slices, streaming)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from thinktune.data.readers import (
    DataError,
    HFSpec,
    RowError,
    content_id,
    iter_rows,
    last_boxed,
    parse_column_map,
    parse_hf_spec,
    parse_row,
    read_examples,
    to_row,
    write_examples,
)
from thinktune.data.schema import Example

FIXTURES = Path(__file__).parent / "fixtures" / "data"
GSM8K_SHARED = Path("/work/shared/data/gsm8k/train.jsonl")

U, A, S = "user", "assistant", "system"
BOXED_SOLUTION = "Half of 8 is 4.\nSo $x = \\boxed{4}$."


def turn(role: str, content, **extra) -> dict:
    return {"role": role, "content": content, **extra}


# (name, row, form, question, answer, reasoning, system, history)
GOOD_ROWS = [
    ("qa plain", {"question": "2+3?", "answer": "5"}, "question_answer", "2+3?", "5", None, None, []),
    ("qa reasoning", {"question": "2+3?", "answer": "5", "reasoning": "2.\n+3."},
     "question_answer", "2+3?", "5", "2.\n+3.", None, []),
    ("qa rationale alias", {"question": "2+3?", "answer": "5", "rationale": "two plus three"},
     "question_answer", "2+3?", "5", "two plus three", None, []),
    ("qa numeric answer", {"question": "2+3?", "answer": 5}, "question_answer", "2+3?", "5", None, None, []),
    ("qa float answer", {"question": "1/2?", "answer": 0.5}, "question_answer", "1/2?", "0.5", None, None, []),
    ("qa tags in answer", {"question": "2+3?", "answer": "<think>2+3</think><answer>5</answer>"},
     "question_answer", "2+3?", "5", "2+3", None, []),
    ("qa system and history",
     {"question": "and 2+3?", "answer": "5", "system": "Be brief.", "history": [turn(U, "1+1?"), turn(A, "2")]},
     "question_answer", "and 2+3?", "5", None, "Be brief.", [turn(U, "1+1?"), turn(A, "2")]),
    ("qa strips whitespace", {"question": "  2+3? \n", "answer": " 5\n"}, "question_answer", "2+3?", "5", None, None, []),
    ("gsm8k", {"question": "Q", "answer": "Half of 48 is 48/2 = <<48/2=24>>24.\nSo 48+24 = <<48+24=72>>72.\n#### 72"},
     "gsm8k", "Q", "72", "Half of 48 is 48/2 = 24.\nSo 48+24 = 72.", None, []),
    ("gsm8k money and commas", {"question": "Q", "answer": "It costs $<<2*5=10>>10.\nTwice.\n####   1,000 "},
     "gsm8k", "Q", "1,000", "It costs $10.\nTwice.", None, []),
    ("gsm8k answer only", {"question": "Q", "answer": "#### 7"}, "gsm8k", "Q", "7", None, None, []),
    ("gsm8k trailing blank lines", {"question": "Q", "answer": "a\n#### 7\n\n"}, "gsm8k", "Q", "7", "a", None, []),
    ("#### not on the last line", {"question": "Q", "answer": "#### Heading\nbody"},
     "question_answer", "Q", "#### Heading\nbody", None, None, []),
    ("prompt completion", {"prompt": "2+3?", "completion": "5"}, "prompt_completion", "2+3?", "5", None, None, []),
    ("completion with tags", {"prompt": "2+3?", "completion": "<think>\n2\n+3\n</think>\n<answer>\n5\n</answer>"},
     "prompt_completion", "2+3?", "5", "2\n+3", None, []),
    ("completion R1 shape", {"prompt": "2+3?", "completion": "<think>2 + 3 = 5</think>\n\nThe answer is 5."},
     "prompt_completion", "2+3?", "The answer is 5.", "2 + 3 = 5", None, []),
    ("completion pre-filled think", {"prompt": "2+3?", "completion": "2 + 3 = 5</think><answer>5</answer>"},
     "prompt_completion", "2+3?", "5", "2 + 3 = 5", None, []),
    ("conversational prompt completion",
     {"prompt": [turn(S, "Be brief."), turn(U, "2+3?")], "completion": [turn(A, "<answer>5</answer>")]},
     "prompt_completion", "2+3?", "5", None, "Be brief.", []),
    ("messages single turn", {"messages": [turn(U, "2+3?"), turn(A, "5")]}, "messages", "2+3?", "5", None, None, []),
    ("messages reasoning key", {"messages": [turn(U, "2+3?"), turn(A, "5", reasoning="2, then 3.")]},
     "messages", "2+3?", "5", "2, then 3.", None, []),
    ("messages reasoning_content key", {"messages": [turn(U, "2+3?"), turn(A, "5", reasoning_content="r")]},
     "messages", "2+3?", "5", "r", None, []),
    ("messages think in content", {"messages": [turn(S, "sys"), turn(U, "2+3?"), turn(A, "<think>a\nb</think>5")]},
     "messages", "2+3?", "5", "a\nb", "sys", []),
    ("messages multi-turn",
     {"messages": [turn(S, "sys"), turn(U, "hi"), turn(A, "<think>greet</think>hello"), turn(U, "2+3?"),
                   turn(A, "<think>add</think><answer>5</answer>")]},
     "messages", "2+3?", "5", "add", "sys", [turn(U, "hi"), turn(A, "<think>greet</think>hello")]),
    ("messages content parts",
     {"messages": [turn(U, [{"type": "text", "text": "2+"}, {"type": "text", "text": "3?"}]), turn(A, "5")]},
     "messages", "2+3?", "5", None, None, []),
    ("unicode", {"question": "Combien font 2+3 ? 🤔", "answer": "五"}, "question_answer", "Combien font 2+3 ? 🤔", "五",
     None, None, []),
    # A reasoning field that already holds <think>…</think> loses that one outer pair (never wrapped twice).
    ("qa reasoning in think tags", {"question": "2+3?", "answer": "5", "reasoning": " <think>\n2.\n+3.\n</think>\n"},
     "question_answer", "2+3?", "5", "2.\n+3.", None, []),
    ("qa rationale in think tags", {"question": "2+3?", "answer": "5", "rationale": "<think>two plus three</think>"},
     "question_answer", "2+3?", "5", "two plus three", None, []),
    ("turn reasoning in think tags", {"messages": [turn(U, "2+3?"), turn(A, "5", reasoning_content="<think>r</think>")]},
     "messages", "2+3?", "5", "r", None, []),
    ("qa reasoning with inner think tags kept", {"question": "2+3?", "answer": "5", "reasoning": "<think>a</think> <think>b</think>"},
     "question_answer", "2+3?", "5", "<think>a</think> <think>b</think>", None, []),
    # R1 shape whose thinking mentions <answer>: only the text after the last </think> is the answer.
    ("messages R1 thinking mentions answer tag",
     {"messages": [turn(U, "2+2?"), turn(A, "<think>try <answer>5</answer>? no, 4</think>\n4")]},
     "messages", "2+2?", "4", "try 5? no, 4", None, []),
    ("completion R1 thinking mentions answer tag",
     {"prompt": "2+2?", "completion": "<think>not <answer>5</answer></think> 4"},
     "prompt_completion", "2+2?", "4", "not 5", None, []),
    ("qa R1 answer thinking mentions answer tag",
     {"question": "2+2?", "answer": "<think>is it <answer>?</think>4"}, "question_answer", "2+2?", "4", "is it ?", None, []),
    # ---- ShareGPT `conversations` (Bespoke-Stratos-17k, Sky-T1_data_17k, chat sets)
    ("sharegpt human/gpt", {"conversations": [{"from": "human", "value": "2+3?"}, {"from": "gpt", "value": "5"}]},
     "sharegpt", "2+3?", "5", None, None, []),
    ("sharegpt user/assistant + top-level system",
     {"system": "Think first.", "conversations": [{"from": "user", "value": "2+3?"},
                                                  {"from": "assistant", "value": "<think>2 + 3 = 5</think>5"}]},
     "sharegpt", "2+3?", "5", "2 + 3 = 5", "Think first.", []),
    ("sharegpt system turn and history",
     {"conversations": [{"from": "system", "value": "sys"}, {"from": "human", "value": "hi"},
                        {"from": "gpt", "value": "hello"}, {"from": "human", "value": "2+3?"},
                        {"from": "gpt", "value": "5"}]},
     "sharegpt", "2+3?", "5", None, "sys", [turn(U, "hi"), turn(A, "hello")]),
    ("sharegpt Bespoke-Stratos markers",
     {"conversations": [{"from": "user", "value": "2+3?"}, {"from": "assistant", "value": (
         "<|begin_of_thought|>\n\nTwo plus three.\n\nThat is 5.\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
         "Adding gives $\\boxed{5}$.\n\n<|end_of_solution|>")}]},
     "sharegpt", "2+3?", "5", "Two plus three.\n\nThat is 5.", None, []),
    ("prompt/completion with a solution column", {"prompt": "q", "completion": "5", "solution": "s"},
     "prompt_completion", "q", "5", None, None, []),
    # ---- Alpaca instruction/input/output
    ("alpaca with input", {"instruction": "Add.", "input": "2 and 3", "output": "5"}, "alpaca", "Add.\n\n2 and 3", "5",
     None, None, []),
    ("alpaca empty input", {"instruction": "Add 2 and 3.", "input": "", "output": "5"}, "alpaca", "Add 2 and 3.", "5",
     None, None, []),
    ("alpaca no input, numeric output", {"instruction": "Add 2 and 3.", "output": 5}, "alpaca", "Add 2 and 3.", "5",
     None, None, []),
    ("alpaca R1 output", {"instruction": "Add 2 and 3.", "output": "<think>2 + 3 = 5</think> 5"}, "alpaca",
     "Add 2 and 3.", "5", "2 + 3 = 5", None, []),
    # ---- problem/solution (MATH, MATH-500, NuminaMath)
    ("MATH boxed answer", {"problem": "8/2?", "solution": BOXED_SOLUTION}, "problem_solution", "8/2?", "4",
     BOXED_SOLUTION, None, []),
    ("MATH nested braces", {"problem": "1/2 + 1/4?", "solution": "Over 4: $\\boxed{\\frac{3}{4}}$."},
     "problem_solution", "1/2 + 1/4?", "\\frac{3}{4}", "Over 4: $\\boxed{\\frac{3}{4}}$.", None, []),
    ("MATH the last box wins", {"problem": "p", "solution": "Not \\boxed{1}.\nBut \\boxed{2}."},
     "problem_solution", "p", "2", "Not \\boxed{1}.\nBut \\boxed{2}.", None, []),
    ("MATH escaped braces in the box", {"problem": "set?", "solution": "It is $\\boxed{\\{1, 2\\}}$."},
     "problem_solution", "set?", "\\{1, 2\\}", "It is $\\boxed{\\{1, 2\\}}$.", None, []),
    ("MATH fbox", {"problem": "p", "solution": "So \\fbox{7}."}, "problem_solution", "p", "7", "So \\fbox{7}.", None, []),
    ("MATH-500 answer column wins", {"problem": "p", "solution": "Add.\nThen \\boxed{9}.", "answer": "3"},
     "problem_solution", "p", "3", "Add.\nThen \\boxed{9}.", None, []),
    ("answer column number", {"problem": "p", "solution": "one\ntwo", "answer": 2}, "problem_solution", "p", "2",
     "one\ntwo", None, []),
    ("empty answer column falls back to the box", {"problem": "p", "solution": "a\n\\boxed{4}", "answer": ""},
     "problem_solution", "p", "4", "a\n\\boxed{4}", None, []),
    ("solution with think tags", {"problem": "p", "solution": "<think>a\nb</think>So \\boxed{4}."},
     "problem_solution", "p", "4", "a\nb", None, []),
    # ---- s1K
    ("s1K", {"question": "2^7?", "thinking_trajectories": ["2^5 = 32.", "2^7 = 128."],
             "attempt": "So $\\boxed{128}$.", "solution": "128"},
     "s1k", "2^7?", "128", "2^5 = 32.\n\n2^7 = 128.", None, []),
    ("s1K attempt without a box", {"question": "Name it.", "thinking_trajectories": ["a.", "b."],
                                   "attempt": "It is Paris."},
     "s1k", "Name it.", "It is Paris.", "a.\n\nb.", None, []),
    ("s1K-1.1 string trajectory", {"question": "q", "thinking_trajectories": "a.\nb.", "attempt": "\\boxed{1}"},
     "s1k", "q", "1", "a.\nb.", None, []),
    # ---- OpenR1-Math-220k / Mixture-of-Thoughts: <think> then a prose solution with a boxed answer
    ("OpenR1 messages", {"messages": [turn(U, "8/2?"), turn(A, "<think>\nHalf of 8.\n</think>\n\nSo $\\boxed{4}$.")],
                         "answer": "4"},
     "messages", "8/2?", "4", "Half of 8.", None, []),
    ("NuminaMath-CoT messages (a worked solution)", {"messages": [turn(U, "8/2?"), turn(A, BOXED_SOLUTION)]},
     "messages", "8/2?", "4", BOXED_SOLUTION, None, []),
    ("a box alone is just the answer", {"question": "q", "answer": "$\\boxed{4}$"}, "question_answer", "q", "4",
     None, None, []),
    ("explicit reasoning and a boxed answer", {"question": "q", "answer": "So \\boxed{4}.", "reasoning": "a\nb"},
     "question_answer", "q", "4", "a\nb", None, []),
    # ---- other thinking markers
    ("<reasoning> then <answer>", {"prompt": "q", "completion": "<reasoning>\na\nb\n</reasoning>\n<answer>\n7\n</answer>"},
     "prompt_completion", "q", "7", "a\nb", None, []),
    ("<thought> then prose", {"question": "q", "answer": "<thought>a\nb</thought>\nIt is 7."}, "question_answer", "q",
     "It is 7.", "a\nb", None, []),
    ("Sky-T1 markers in a completion", {"prompt": "q", "completion": (
        "<|begin_of_thought|>a\nb<|end_of_thought|><|begin_of_solution|>\\boxed{7}<|end_of_solution|>")},
     "prompt_completion", "q", "7", "a\nb", None, []),
]


@pytest.mark.parametrize("name,row,form,question,answer,reasoning,system,history", GOOD_ROWS,
                         ids=[r[0] for r in GOOD_ROWS])
def test_parse_row_forms(name, row, form, question, answer, reasoning, system, history):
    parsed = parse_row(row, "f.jsonl:3")
    assert parsed.errors == ()
    assert parsed.form == form
    ex = parsed.example
    assert (ex.question, ex.answer, ex.reasoning, ex.system, ex.history) == (question, answer, reasoning, system,
                                                                             history)
    assert ex.meta["source"] == "f.jsonl:3"
    assert ex.meta["id"] == content_id(ex)


# (name, row, [(field, message fragment), ...]): every problem of the row, in order.
BAD_ROWS = [
    ("not an object", [1, 2], [(None, "row is a list, not a JSON object")]),
    ("unknown shape", {"text": "x", "label": 1}, [(None, "unrecognised row (keys: label, text); expected `messages`")]),
    ("missing question", {"answer": "5"}, [("question", "missing question")]),
    ("missing both", {"question": None, "answer": None}, [("question", "missing question"), ("answer", "missing answer")]),
    ("empty answer", {"question": "q", "answer": "  "}, [("answer", "empty answer")]),
    ("bool answer", {"question": "q", "answer": True}, [("answer", "answer must be a string or a number, not a boolean")]),
    ("tags without answer", {"question": "q", "answer": "<think>a\nb"}, [("answer", "missing answer")]),
    ("reasoning twice", {"question": "q", "answer": "<think>a</think>5", "reasoning": "b"},
     [("reasoning", "reasoning given twice")]),
    ("gsm8k plus reasoning", {"question": "q", "answer": "a\n#### 5", "reasoning": "b"},
     [("reasoning", "reasoning given twice")]),
    ("bad id", {"question": "q", "answer": "5", "id": [1]}, [("id", "id must be a string or a whole number, not a list")]),
    ("fractional id", {"question": "q", "answer": "5", "id": 7.5},
     [("id", "id must be a string or a whole number, not the fraction 7.5")]),
    ("boolean id", {"question": "q", "answer": "5", "id": True},
     [("id", "id must be a string or a whole number, not a boolean")]),
    ("nan id", {"question": "q", "answer": "5", "id": float("nan")},
     [("id", "id must be a string or a whole number, not the fraction nan")]),
    ("think in answer after last think close", {"question": "q", "answer": "<think>a</think><think>b</think>"},
     [("answer", "missing answer")]),
    ("bad meta", {"question": "q", "answer": "5", "meta": "x"}, [("meta", "meta must be an object")]),
    ("bad history", {"question": "q", "answer": "5", "history": [{"role": "system", "content": "x"}]},
     [("history[0]", "role user or assistant")]),
    ("prompt only", {"prompt": "q"}, [("completion", "missing completion")]),
    ("completion not string", {"prompt": "q", "completion": 5}, [("completion", "completion must be a string")]),
    ("messages empty", {"messages": []}, [("messages", "messages is empty")]),
    ("turn not object", {"messages": ["hi", turn(A, "5")]}, [("messages[0]", "must be an object with role and content")]),
    ("bad role", {"messages": [turn("human", "q"), turn(A, "5")]}, [("messages[0].role", "not 'human'")]),
    ("two empty turns", {"messages": [turn(U, ""), turn(A, " ")]},
     [("messages[0].content", "empty turn"), ("messages[1].content", "empty turn")]),
    ("content number", {"messages": [turn(U, 3), turn(A, "5")]}, [("messages[0].content", "must be a string")]),
    ("content bad parts", {"messages": [turn(U, [{"type": "image"}]), turn(A, "5")]},
     [("messages[0].content", "string or a list of text parts")]),
    ("no assistant", {"messages": [turn(U, "q")]}, [("messages", "missing answer: no assistant turn")]),
    ("ends with user", {"messages": [turn(U, "q"), turn(A, "5"), turn(U, "thanks")]},
     [("messages", "must end with the assistant's turn")]),
    ("assistant first", {"messages": [turn(S, "s"), turn(A, "5")]}, [("messages", "must follow a user turn")]),
    ("late system", {"messages": [turn(U, "a"), turn(S, "s"), turn(U, "q"), turn(A, "5")]},
     [("messages", "system turn is only allowed first")]),
    ("system twice", {"messages": [turn(S, "a"), turn(U, "q"), turn(A, "5")], "system": "b"},
     [("system", "system prompt given twice")]),
    ("turn reasoning wrong type", {"messages": [turn(U, "q"), turn(A, "5", reasoning=3)]},
     [("messages[1].reasoning", "must be a string")]),
    # ---- ShareGPT
    ("sharegpt not a list", {"conversations": {"from": "human"}},
     [("conversations", "conversations must be a list of turns, not an object")]),
    ("sharegpt bad from", {"conversations": [{"from": "human", "value": "q"}, {"from": "bot", "value": "5"}]},
     [("conversations[1].from", "conversations[1].from must be one of human, user, gpt, assistant, system, not 'bot'")]),
    ("sharegpt missing from", {"conversations": [{"value": "q"}, {"from": "gpt", "value": "5"}]},
     [("conversations[0].from", "not None")]),
    ("sharegpt role key instead of from", {"conversations": [{"role": "user", "content": "q"}]},
     [("conversations[0].from", "must be one of human")]),
    ("sharegpt empty value", {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": ""}]},
     [("conversations[1].value", "empty turn: conversations[1].value is empty")]),
    ("sharegpt no gpt turn", {"conversations": [{"from": "human", "value": "q"}]},
     [("conversations", "missing answer: no assistant turn")]),
    ("sharegpt system twice", {"system": "a", "conversations": [
        {"from": "system", "value": "b"}, {"from": "human", "value": "q"}, {"from": "gpt", "value": "5"}]},
     [("system", "system prompt given twice")]),
    ("Bespoke cut off in the thinking", {"conversations": [{"from": "user", "value": "q"}, {"from": "assistant",
                                                                                          "value": "<|begin_of_thought|>a"}]},
     [("conversations[1].value", "missing answer: conversations[1].value has thinking tags but no answer after "
                                 "<|end_of_thought|> (expected <|begin_of_thought|>…<|end_of_thought|> then "
                                 "<|begin_of_solution|>…<|end_of_solution|>)")]),
    ("only solution markers", {"prompt": "q", "completion": "<|begin_of_solution|> <|end_of_solution|>"},
     [("completion", "missing answer: completion holds only the markers")]),
    # ---- Alpaca
    ("alpaca without instruction", {"input": "x", "output": "y"}, [("instruction", "missing instruction")]),
    ("alpaca without output", {"instruction": "Add."}, [("output", "missing output")]),
    ("alpaca output a list", {"instruction": "Add.", "output": ["5"]},
     [("output", "output must be a string or a number, not a list")]),
    ("alpaca input a number", {"instruction": "Add.", "input": 3, "output": "5"},
     [("input", "input must be a string, not a number")]),
    # ---- problem/solution
    ("problem without a box or answer", {"problem": "p", "solution": "2 + 3 = 5."},
     [("solution", "missing answer: no `answer` column and no \\boxed{…} in solution")]),
    ("problem with an unclosed box", {"problem": "p", "solution": "so \\boxed{\\frac{1}{2}"},
     [("solution", "the last \\boxed{ of solution (at character 4) is never closed")]),
    ("problem with an empty box", {"problem": "p", "solution": "so \\boxed{ }"},
     [("solution", "missing answer: the last \\boxed{} of solution is empty")]),
    ("solution without problem", {"solution": "\\boxed{5}"}, [("problem", "missing problem")]),
    ("problem without solution", {"problem": "p", "answer": "5"}, [("solution", "missing solution")]),
    ("answer column a list", {"problem": "p", "solution": "\\boxed{5}", "answer": ["5"]},
     [("answer", "answer must be a string or a number, not a list")]),
    # ---- s1K
    ("s1K trajectories a number", {"question": "q", "thinking_trajectories": 3, "attempt": "5"},
     [("thinking_trajectories", "thinking_trajectories must be a list of strings, not a number")]),
    ("s1K trajectory not a string", {"question": "q", "thinking_trajectories": ["a", None], "attempt": "5"},
     [("thinking_trajectories[1]", "thinking_trajectories[1] must be a string, not null")]),
    ("s1K empty trajectories", {"question": "q", "thinking_trajectories": [" "], "attempt": "5"},
     [("thinking_trajectories", "empty thinking_trajectories")]),
    ("s1K without attempt", {"question": "q", "thinking_trajectories": ["a"]}, [("attempt", "missing attempt")]),
    ("s1K without trajectories", {"question": "q", "attempt": "5"},
     [("thinking_trajectories", "missing thinking_trajectories")]),
    ("s1K without question", {"thinking_trajectories": ["a"], "attempt": "5"}, [("question", "missing question")]),
    # ---- R1-style targets
    ("R1 empty box", {"messages": [turn(U, "q"), turn(A, "<think>a</think>So \\boxed{}.")]},
     [("messages[1].content", "missing answer: the last \\boxed{} of messages[1].content is empty")]),
    ("<reasoning> without an answer", {"prompt": "q", "completion": "<reasoning>a</reasoning>"},
     [("completion", "no answer after </reasoning> (expected <reasoning>…</reasoning> then the answer or "
                     "<answer>…</answer>)")]),
    ("<thought> twice with explicit reasoning", {"question": "q", "answer": "<thought>a</thought>5", "reasoning": "b"},
     [("reasoning", "reasoning given twice")]),
]


# (name, row, [(field, message fragment)]): lone surrogates are valid JSON but not valid Unicode.
SURROGATE_ROWS = [
    ("question", {"question": "2\ud800+3?", "answer": "5"},
     [("question", "question holds a lone surrogate \\ud800 at character 2")]),
    ("answer and reasoning", {"question": "q", "answer": "\udfff", "reasoning": "a\ud801"},
     [("answer", "lone surrogate \\udfff"), ("reasoning", "lone surrogate \\ud801")]),
    ("chat turn", {"messages": [turn(U, "q"), turn(A, "5", reasoning="x\udc00")]},
     [("messages[1].reasoning", "messages[1].reasoning holds a lone surrogate \\udc00")]),
    ("extra column", {"question": "q", "answer": "5", "note": ["ok", "\ud800"]}, [("note[1]", "lone surrogate")]),
    ("key", {"question": "q", "answer": "5", "k\ud800": 1}, [("k\\ud800", "the key `k\\ud800` holds a lone surrogate")]),
]


@pytest.mark.parametrize("name,row,expected", BAD_ROWS + SURROGATE_ROWS, ids=[r[0] for r in BAD_ROWS + SURROGATE_ROWS])
def test_parse_row_problems(name, row, expected):
    parsed = parse_row(row, "f.jsonl:1")
    assert parsed.example is None
    assert [e.field for e in parsed.errors] == [field for field, _ in expected]
    for error, (_, fragment) in zip(parsed.errors, expected, strict=True):
        assert fragment in error.message
        error.message.encode("utf-8")  # printable: a lone surrogate in the row is escaped in the message


@pytest.mark.parametrize("row,kinds", [
    ({"question": 7, "answer": None}, ["wrong_type", "missing"]),
    ({"messages": [turn(U, "q"), turn(A, "5"), turn(U, "x")]}, ["invalid"]),
    ({"text": "x"}, ["unrecognised"]),
    ([1], ["not_object"]),
    ({"question": "\ud800", "answer": "5"}, ["encoding"]),
])
def test_row_errors_have_a_kind(row, kinds):
    assert [e.kind for e in parse_row(row).errors] == kinds


# (name, row, answer, reasoning): answer_mode="full" keeps the whole answer text (free-text tasks).
FULL_ROWS = [
    ("MATH: the whole solution is the answer", {"problem": "p", "solution": BOXED_SOLUTION}, BOXED_SOLUTION, None),
    ("MATH without a box is fine", {"problem": "p", "solution": "It is 4."}, "It is 4.", None),
    ("OpenR1: the prose after </think>", {"messages": [turn(U, "q"), turn(A, "<think>a</think>\nSo $\\boxed{4}$.")]},
     "So $\\boxed{4}$.", "a"),
    ("Bespoke: the solution block", {"conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": (
        "<|begin_of_thought|>a<|end_of_thought|>\n<|begin_of_solution|>\nIt is \\boxed{4}.\n<|end_of_solution|>")}]},
     "It is \\boxed{4}.", "a"),
    ("s1K: the attempt", {"question": "q", "thinking_trajectories": ["a"], "attempt": "So \\boxed{4}."}, "So \\boxed{4}.",
     "a"),
    ("qa: a boxed answer stays", {"question": "q", "answer": "$\\boxed{4}$"}, "$\\boxed{4}$", None),
]


@pytest.mark.parametrize("name,row,answer,reasoning", FULL_ROWS, ids=[r[0] for r in FULL_ROWS])
def test_answer_mode_full_keeps_the_whole_answer(name, row, answer, reasoning):
    ex = parse_row(row, "f.jsonl:1", answer_mode="full").example
    assert (ex.answer, ex.reasoning) == (answer, reasoning)


def test_answer_mode_full_keeps_the_answer_column_in_meta():
    row = {"problem": "p", "solution": "s \\boxed{4}", "answer": "4"}
    assert parse_row(row, answer_mode="full").example.meta["answer"] == "4"
    assert "answer" not in parse_row(row).example.meta


def test_unknown_answer_mode():
    with pytest.raises(ValueError, match="unknown answer_mode 'short'"):
        parse_row({"question": "q", "answer": "5"}, answer_mode="short")
    with pytest.raises(DataError, match="unknown answer mode 'short'"):
        read_examples(FIXTURES / "forms.jsonl", answer_mode="short")


@pytest.mark.parametrize("text,boxed", [
    ("\\boxed{5}", "5"), ("a \\boxed{1} b \\boxed{ 2 }", "2"), ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}"),
    ("\\boxed {x^{2}}", "x^{2}"), ("\\boxed{\\text{(A)}}", "\\text{(A)}"), ("no box", None), ("\\boxed{open", None),
    ("\\boxed{a} then \\boxed{b", None), ("\\boxed{\\}}", "\\}"), (None, None),
])
def test_last_boxed(text, boxed):
    assert last_boxed(text) == boxed


# ------------------------------------------------------------------ the public datasets' shapes, as files
BESPOKE_SYSTEM = ("Your role as an assistant involves thoroughly exploring questions through a systematic long "
                  "thinking process before providing the final precise and accurate solutions.")


def sharegpt(*turns: tuple[str, str], **extra) -> dict:
    return {**extra, "conversations": [{"from": who, "value": what} for who, what in turns]}


# form file -> (rows as the public dataset has them, [(form, question, answer, reasoning)] expected)
PUBLIC_FILES = {
    "bespoke_stratos.jsonl": ([
        sharegpt(("user", "Return your final response within \\boxed{}. What is 12 * 3?"),
                 ("assistant", "<|begin_of_thought|>\n\nI need 12 times 3.\n\n12 * 3 = 36.\n\n<|end_of_thought|>\n\n"
                               "<|begin_of_solution|>\n\nMultiplying, $12 \\times 3 = \\boxed{36}$.\n\n<|end_of_solution|>"),
                 system=BESPOKE_SYSTEM),
        sharegpt(("user", "Return your final response within \\boxed{}. Solve $2x = 10$."),
                 ("assistant", "<|begin_of_thought|>\n\nDivide by 2.\n\nx = 5.\n\n<|end_of_thought|>\n\n"
                               "<|begin_of_solution|>\n\n$x = \\boxed{5}$\n\n<|end_of_solution|>"),
                 system=BESPOKE_SYSTEM),
    ], [("sharegpt", "Return your final response within \\boxed{}. What is 12 * 3?", "36",
         "I need 12 times 3.\n\n12 * 3 = 36."),
        ("sharegpt", "Return your final response within \\boxed{}. Solve $2x = 10$.", "5", "Divide by 2.\n\nx = 5.")]),
    "sharegpt_chat.jsonl": ([
        sharegpt(("system", "Be brief."), ("human", "What is 2 + 2?"), ("gpt", "<think>\n2 + 2 = 4\n</think>\n4")),
        sharegpt(("human", "Hi"), ("gpt", "Hello!"), ("human", "What is 3 + 3?"), ("gpt", "<think>3 + 3 = 6</think>6")),
    ], [("sharegpt", "What is 2 + 2?", "4", "2 + 2 = 4"), ("sharegpt", "What is 3 + 3?", "6", "3 + 3 = 6")]),
    "alpaca.jsonl": ([
        {"instruction": "Give the sum.", "input": "17 and 25", "output": "42"},
        {"instruction": "Name the capital of France.", "input": "", "output": "Paris"},
    ], [("alpaca", "Give the sum.\n\n17 and 25", "42", None), ("alpaca", "Name the capital of France.", "Paris", None)]),
    "math.jsonl": ([  # MATH and NuminaMath-1.5: the answer is the last box; MATH-500: the answer column
        {"problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?", "level": "Level 1", "type": "Prealgebra",
         "solution": "Over 4: $\\frac{2}{4} + \\frac{1}{4} = \\boxed{\\frac{3}{4}}$."},
        {"problem": "If $x + 3 = 10$, what is $x$?", "solution": "Subtract 3.\n$x = 7$.", "answer": "7",
         "subject": "Algebra", "level": 1, "unique_id": "test/algebra/7.json"},
        {"problem": "What is 10 - 3?", "solution": "First 10.\nThen $10 - 3 = \\boxed{7}$.", "answer": "",
         "source": "olympiads", "problem_type": "Algebra", "question_type": "math-word-problem"},
    ], [("problem_solution", "What is $\\frac{1}{2} + \\frac{1}{4}$?", "\\frac{3}{4}",
         "Over 4: $\\frac{2}{4} + \\frac{1}{4} = \\boxed{\\frac{3}{4}}$."),
        ("problem_solution", "If $x + 3 = 10$, what is $x$?", "7", "Subtract 3.\n$x = 7$."),
        ("problem_solution", "What is 10 - 3?", "7", "First 10.\nThen $10 - 3 = \\boxed{7}$.")]),
    "s1k.jsonl": ([
        {"solution": "128", "question": "What is 2^7?", "cot_type": "math", "source_type": "demo", "metadata": "{}",
         "cot": None, "thinking_trajectories": ["2^5 = 32.\n2^7 = 4 * 32 = 128."],
         "attempt": "Doubling gives 128.\n\nFinal Answer: The final answer is $\\boxed{128}$"},
    ], [("s1k", "What is 2^7?", "128", "2^5 = 32.\n2^7 = 4 * 32 = 128.")]),
    "openr1_math.jsonl": ([  # OpenR1-Math-220k and Mixture-of-Thoughts
        {"problem": "What is 6 * 7?", "solution": "$42$", "answer": "42", "uuid": "u1",
         "messages": [turn(U, "What is 6 * 7?"),
                      turn(A, "<think>\nSix sevens.\n6 * 7 = 42.\n</think>\n\nMultiplying, $6 \\cdot 7 = \\boxed{42}$.")]},
        {"messages": [turn(U, "Write a function that adds."),
                      turn(A, "<think>\nTake two arguments.\nReturn the sum.\n</think>\n\n```python\ndef add(a, b):\n"
                              "    return a + b\n```")], "num_tokens": 40, "source": "open-r1/codeforces-cots"},
    ], [("messages", "What is 6 * 7?", "42", "Six sevens.\n6 * 7 = 42."),
        ("messages", "Write a function that adds.", "```python\ndef add(a, b):\n    return a + b\n```",
         "Take two arguments.\nReturn the sum.")]),
    "markers.jsonl": ([
        {"prompt": "What is 9 - 4?", "completion": "<reasoning>\nStart at 9.\nTake 4.\n</reasoning>\n<answer>\n5\n</answer>"},
        {"question": "What is 8 / 2?", "answer": "<thought>\nHalf of 8.\n</thought>\n4"},
    ], [("prompt_completion", "What is 9 - 4?", "5", "Start at 9.\nTake 4."),
        ("question_answer", "What is 8 / 2?", "4", "Half of 8.")]),
}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", PUBLIC_FILES)
def test_public_dataset_files_read_with_thinking_and_answer_split(tmp_path, name):
    rows, expected = PUBLIC_FILES[name]
    path = write_jsonl(tmp_path / name, rows)
    parsed = [parse_row(row, f"{path}:{i}") for i, (_, row) in enumerate(iter_rows(path), start=1)]
    assert [p.form for p in parsed] == [form for form, *_ in expected]
    examples = read_examples(path)
    assert [(e.question, e.answer, e.reasoning) for e in examples] == [tuple(x[1:]) for x in expected]
    assert [e.meta["location"] for e in examples] == [f"{path}:{i}" for i in range(1, len(rows) + 1)]


def test_public_extra_columns_are_kept_in_meta(tmp_path):
    math = read_examples(write_jsonl(tmp_path / "m.jsonl", PUBLIC_FILES["math.jsonl"][0]))
    assert math[0].meta["level"] == "Level 1" and math[1].meta["unique_id"] == "test/algebra/7.json"
    s1k = read_examples(write_jsonl(tmp_path / "s.jsonl", PUBLIC_FILES["s1k.jsonl"][0]))[0]
    assert s1k.meta["solution"] == "128" and s1k.meta["cot_type"] == "math"
    bespoke = read_examples(write_jsonl(tmp_path / "b.jsonl", PUBLIC_FILES["bespoke_stratos.jsonl"][0]))[0]
    assert bespoke.system == BESPOKE_SYSTEM


def test_one_file_mixing_every_form(tmp_path):
    rows = [rows[0] for rows, _ in PUBLIC_FILES.values()] + [{"question": "Q", "answer": "a.\nb.\n#### 3"}]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    examples = read_examples(path)
    assert [e.answer for e in examples] == ["36", "4", "42", "\\frac{3}{4}", "128", "42", "5", "3"]
    forms = [parse_row(row).form for _, row in iter_rows(path)]
    assert set(forms) == {"sharegpt", "alpaca", "problem_solution", "s1k", "messages", "prompt_completion", "gsm8k"}
    assert read_examples(FIXTURES / "public_mixed.jsonl")[-1].answer == "128"  # the committed mixed fixture


# ------------------------------------------------------------------------------------------ column maps
@pytest.mark.parametrize("spec,expected", [
    ("question=instruction,answer=output", {"question": "instruction", "answer": "output"}),
    (" question = q , answer=a ,", {"question": "q", "answer": "a"}),
    (["question=q", "answer=a,reasoning=r"], {"question": "q", "answer": "a", "reasoning": "r"}),
    ({"question": "q"}, {"question": "q"}),
    (None, {}), ("", {}),
])
def test_parse_column_map(spec, expected):
    assert parse_column_map(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("question", "'question' is not FIELD=COLUMN"),
    ("question=", "both the field and the column must be named"),
    ("=q", "both the field and the column must be named"),
    ("questoin=q", "unknown field 'questoin'; map columns to one of"),
    ("question=a,question=b", "question is mapped twice (a and b)"),
    ({"question": 3}, "both the field and the column must be named"),
])
def test_parse_column_map_rejects(spec, message):
    with pytest.raises(DataError, match=re.escape(message)):
        parse_column_map(spec)


def test_column_map_reads_any_layout(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [
        {"query": "What is 2 + 3?", "response": "<think>2 + 3 = 5</think>5", "type": "add"},
        {"query": "What is 3 + 3?", "response": "6", "why": "3 + 3 = 6"},
    ])
    with pytest.raises(DataError, match="unrecognised row"):
        read_examples(path)
    examples = read_examples(path, column_map="question=query,answer=response,reasoning=why")
    assert [(e.question, e.answer, e.reasoning) for e in examples] == [
        ("What is 2 + 3?", "5", "2 + 3 = 5"), ("What is 3 + 3?", "6", "3 + 3 = 6")]
    assert examples[0].meta["type"] == "add" and "query" not in examples[0].meta


def test_column_map_into_another_form():
    row = {"deepseek_thinking_trajectory": "a.\nb.", "deepseek_attempt": "\\boxed{4}", "question": "q"}
    parsed = parse_row(row, column_map={"thinking_trajectories": "deepseek_thinking_trajectory",
                                        "attempt": "deepseek_attempt"})
    assert parsed.form == "s1k" and (parsed.example.answer, parsed.example.reasoning) == ("4", "a.\nb.")


@pytest.mark.parametrize("row,expected", [
    ({"instruction": "q", "output": ""}, [("output", "empty answer (--map answer=output)")]),
    ({"instruction": "q", "output": ["x"]}, [("output", "answer must be a string or a number, not a list (--map answer=output)")]),
    ({"instruction": "q", "reply": "5"}, [("answer", "missing answer (--map answer=output: this row has no column 'output')")]),
    ({"instruction": "q", "output": "5", "question": "other"},
     [("question", "question given twice: as the column question and as the column instruction mapped to it "
                   "(--map question=instruction)")]),
    ({"question": "q", "answer": ""}, [("answer", "empty answer")]),  # a row that has the field itself
])
def test_column_map_errors_name_the_rows_column(row, expected):
    parsed = parse_row(row, column_map="question=instruction,answer=output")
    assert [(e.field, e.message) for e in parsed.errors] == expected


def test_read_examples_error_suggests_the_same_flags(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"instruction": "q", "output": ""}])
    with pytest.raises(DataError, match=re.escape(
            "x.jsonl:1: output: empty answer (--map answer=output); run `thinktune data validate "
            f"{path} --answer-mode full --map question=instruction,answer=output` to list every problem")):
        read_examples(path, column_map="question=instruction,answer=output", answer_mode="full")


def test_parse_row_keeps_extra_keys_and_explicit_id():
    parsed = parse_row({"question": "q", "answer": "5", "id": 17, "topic": "add", "meta": {"level": 2},
                        "verifier": "numeric"})
    ex = parsed.example
    assert ex.meta == {"id": "17", "topic": "add", "level": 2, "source": "", "location": ""}
    assert ex.verifier == "numeric"


@pytest.mark.parametrize("row_id,expected", [(17, "17"), (7.0, "7"), (-3.0, "-3"), (0, "0"), ("q-7", "q-7"),
                                             ("7.0", "7.0")])
def test_parse_row_id_forms(row_id, expected):
    parsed = parse_row({"question": "q", "answer": "5", "id": row_id}, "f.jsonl:1")
    assert parsed.errors == () and parsed.example.meta["id"] == expected



def test_content_id_never_raises():
    assert len(content_id(Example("q\ud800", "5"))) == 12
    assert content_id(Example("q\ud800", "5")) != content_id(Example("q\ud801", "5"))


def test_reasoning_in_think_tags_renders_a_strict_target():
    from thinktune.data.views import to_view
    from thinktune.format import parse

    for row in ({"question": "2+3?", "answer": "5", "reasoning": "<think>\n2 + 3 = 5\n</think>"},
                {"messages": [turn(U, "2+3?"), turn(A, "5", reasoning="<think>2 + 3 = 5</think>")]}):
        _, target = to_view(parse_row(row, "f.jsonl:1").example, "reasoning")
        assert parse(target, strict=True) == ("2 + 3 = 5", "5", True)
    _, target = to_view(Example("2+3?", "5", reasoning="<think>2 + 3 = 5</think>"), "reasoning")  # built by hand
    assert parse(target, strict=True) == ("2 + 3 = 5", "5", True)


# (name, row, source, location): a row's own `source` is kept; where it was read goes to meta["location"].
SOURCE_ROWS = [
    ("no source column", {"question": "q", "answer": "5"}, "f.jsonl:3", "f.jsonl:3"),
    ("source column", {"question": "q", "answer": "5", "source": "textbook p. 12"}, "textbook p. 12", "f.jsonl:3"),
    ("source in meta", {"question": "q", "answer": "5", "meta": {"source": "exam 2019"}}, "exam 2019", "f.jsonl:3"),
    ("chat row source", {"messages": [turn(U, "q"), turn(A, "5")], "source": "forum"}, "forum", "f.jsonl:3"),
]


@pytest.mark.parametrize("name,row,source,location", SOURCE_ROWS, ids=[r[0] for r in SOURCE_ROWS])
def test_parse_row_keeps_a_rows_own_source(name, row, source, location):
    ex = parse_row(row, "f.jsonl:3").example
    assert (ex.meta["source"], ex.meta["location"]) == (source, location)


def test_own_source_survives_a_round_trip_and_errors_name_the_location(tmp_path):
    from thinktune.data.views import to_view

    path = tmp_path / "x.jsonl"
    path.write_text('{"question": "q", "answer": "5", "source": "textbook"}\n{"question": "r", "answer": "6"}\n')
    examples = read_examples(path)
    assert to_row(examples[0])["meta"] == {"source": "textbook"} and "meta" not in to_row(examples[1])
    back = read_examples(write_examples(examples, tmp_path / "out.jsonl"))
    assert [e.meta["source"] for e in back] == ["textbook", f"{tmp_path / 'out.jsonl'}:2"]
    assert back[0].meta["location"] == f"{tmp_path / 'out.jsonl'}:1"
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:1: a reasoning job needs"):
        to_view(examples[0], "reasoning")


def test_content_id_depends_on_content_only():
    a = parse_row({"question": "q", "answer": "5"}, "a.jsonl:1").example
    b = parse_row({"question": "q", "answer": "5"}, "b.jsonl:9").example
    c = parse_row({"question": "q", "answer": "6"}, "a.jsonl:1").example
    assert a.meta["id"] == b.meta["id"] != c.meta["id"]


def test_iter_rows_line_numbers_blank_lines_bom_and_bad_bytes(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n   \n{"b": 2}\r\n\xff\xfe\n{"c": \n')
    rows = list(iter_rows(path))
    assert [line for line, _ in rows] == [1, 4, 5, 6]
    assert rows[0][1] == {"a": 1} and rows[1][1] == {"b": 2}
    assert rows[2][1] == RowError(None, "not valid UTF-8 at byte 1")
    assert rows[3][1] == RowError(None, "invalid JSON at column 7: Expecting value")


def test_iter_rows_json_array_hint(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('[{"question": "q",\n "answer": "a"}]\n')
    (line, error), *_ = iter_rows(path)
    assert line == 1 and "looks like a JSON array" in error.message


def test_read_examples_fixture_forms():
    examples = read_examples(FIXTURES / "forms.jsonl")
    got = [(e.question, e.answer, e.reasoning, e.meta["source"].rsplit(":", 1)[1]) for e in examples]
    assert got == [
        ("What is 2 + 3?", "5", "Start with 2.\nAdd 3 to get 5.", "1"),
        ("What is 4 + 4?", "8", "Four and four.\nThat makes 8.", "2"),
        ("What is 6 + 1?", "7", "Six plus one.\nThat is 7.", "3"),
        ("What is 9 - 4?", "5", "Start with 9.\nTake away 4.", "4"),
        ("What is 10 / 2?", "5", "Half of 10 is 10/2 = 5.\nSo the answer is 5.", "5"),
    ]
    assert examples[0].system == "You add numbers."
    assert examples[1].history == [turn(U, "Hi!"), turn(A, "Hello.")]
    assert examples[3].meta["id"] == "q-5"
    assert examples[4].meta["topic"] == "division"


def test_read_examples_gsm8k_fixture():
    examples = read_examples(FIXTURES / "gsm8k_sample.jsonl")
    assert [e.answer for e in examples] == ["24", "220", "7", "15", "650"]
    assert all("<<" not in e.reasoning and ">>" not in e.reasoning for e in examples)
    assert examples[0].reasoning == "The bags hold 3 * 4 = 12 apples.\nMia now has 12 + 12 = 24 apples."


@pytest.mark.skipif(not GSM8K_SHARED.exists(), reason=f"the shared GSM8K copy {GSM8K_SHARED} is not on this machine")
def test_read_examples_real_gsm8k():
    examples = read_examples(GSM8K_SHARED, limit=200)
    assert len(examples) == 200
    assert examples[0].answer == "72" and examples[0].reasoning.startswith("Natalia sold 48/2 = 24 clips")
    assert all(e.answer and e.has_reasoning and "<<" not in e.reasoning and "####" not in e.reasoning
               for e in examples)


def test_read_examples_limit():
    assert [e.answer for e in read_examples(FIXTURES / "gsm8k_sample.jsonl", limit=2)] == ["24", "220"]
    assert read_examples(FIXTURES / "gsm8k_sample.jsonl", limit=0) == []


def test_read_examples_stops_at_first_bad_row_with_file_line_field():
    path = FIXTURES / "mixed.jsonl"
    with pytest.raises(DataError) as err:
        read_examples(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2: invalid JSON at column 43")
    assert "thinktune data validate" in message


@pytest.mark.parametrize("second_row,message", [
    ('{"question": "q", "answer": {"v": 1}}', r"x\.jsonl:2: answer: answer must be a string or a number"),
    ('{"question": "q\\ud800", "answer": "1"}', r"x\.jsonl:2: question: question holds a lone surrogate \\ud800"),
])
def test_read_examples_names_the_line_and_field(tmp_path, second_row, message):
    path = tmp_path / "x.jsonl"
    path.write_text('{"question": "q", "answer": "1"}\n' + second_row + "\n")
    with pytest.raises(DataError, match=message):
        read_examples(path)


def test_read_examples_empty_and_missing_files():
    with pytest.raises(DataError, match="no rows"):
        read_examples(FIXTURES / "broken" / "empty.jsonl")
    with pytest.raises(FileNotFoundError):
        read_examples(FIXTURES / "does-not-exist.jsonl")
    with pytest.raises(DataError, match="is a folder"):
        read_examples(FIXTURES)


def test_write_examples_round_trip(tmp_path):
    examples = read_examples(FIXTURES / "forms.jsonl")
    examples[0].verifier = "numeric"
    path = write_examples(examples, tmp_path / "out" / "canonical.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert set(rows[0]) == {"id", "question", "answer", "reasoning", "system", "verifier"}
    assert set(rows[2]) == {"id", "question", "answer", "reasoning"}  # the canonical form, tags split off
    assert rows[1]["history"] == [turn(U, "Hi!"), turn(A, "Hello.")]
    back = read_examples(path)
    assert [to_row(e) for e in back] == [to_row(e) for e in examples]
    assert back[4].meta["topic"] == "division" and back[4].meta["source"] == f"{path}:5"
    assert not list(path.parent.glob("*.tmp"))


def test_to_row_leaves_out_defaults():
    assert to_row(Example("q", "5", meta={"id": "x", "source": "f:1"})) == {"id": "x", "question": "q", "answer": "5"}
    no_id = Example("q", "5")
    assert to_row(no_id) == {"id": content_id(no_id), "question": "q", "answer": "5"}


def test_rows_without_id_read_back_the_same(tmp_path):
    examples = [Example("q", "5", reasoning="a.\nb."), Example("r", "6", history=[turn(U, "hi"), turn(A, "yo")])]
    back = read_examples(write_examples(examples, tmp_path / "x.jsonl"))
    assert [to_row(e) for e in back] == [to_row(e) for e in examples]


@pytest.mark.parametrize("spec,expected", [
    ("hf:openai/gsm8k:main:test", ("openai/gsm8k", "main", "test", None, None, False)),
    ("hf:openai/gsm8k:main", ("openai/gsm8k", "main", "train", None, None, False)),
    ("hf:openai/gsm8k", ("openai/gsm8k", None, "train", None, None, False)),
    ("hf:some/set::validation", ("some/set", None, "validation", None, None, False)),
    ("hf:openai/gsm8k:main:train[:1000]", ("openai/gsm8k", "main", "train", None, 1000, False)),
    ("hf:a/b::test[100:200]", ("a/b", None, "test", 100, 200, False)),
    ("hf:a/b:c:train[-50:]", ("a/b", "c", "train", -50, None, False)),
    ("hf:a/b:c:train[ 10 : 20 ]", ("a/b", "c", "train", 10, 20, False)),
    ("hf:a/b:c:train[:10%]", ("a/b", "c", "train", None, 10, True)),
    ("hf:a/b:c:train[10%:20%]", ("a/b", "c", "train", 10, 20, True)),
    ("hf:a/b:c:[:5]", ("a/b", "c", "train", None, 5, False)),
])
def test_parse_hf_spec(spec, expected):
    assert parse_hf_spec(spec) == HFSpec(*expected)


@pytest.mark.parametrize("spec,message", [
    ("hf:", "hf:NAME"), ("hf::main", "hf:NAME"), ("hf:a:b:c:d", "hf:NAME"),
    ("hf:a/b[:10]", "the slice goes on the split"), ("hf:a/b:c[:10]", "the slice goes on the split"),
    ("hf:a/b:c:train[:10", "bad slice"), ("hf:a/b:c:train[10]", "bad slice"), ("hf:a/b:c:train[a:b]", "bad slice"),
    ("hf:a/b:c:train[1:2:3]", "bad slice"), ("hf:a/b:c:train[:1.5]", "bad slice"),
    ("hf:a/b:c:train[10%:20]", "both bounds must be row counts or both percentages"),
])
def test_parse_hf_spec_rejects(spec, message):
    with pytest.raises(DataError, match=re.escape(message)):
        parse_hf_spec(spec)


@pytest.mark.parametrize("spec,n,bounds", [
    ("hf:a/b", 7, (0, 7)), ("hf:a/b::train[:3]", 7, (0, 3)), ("hf:a/b::train[2:]", 7, (2, 7)),
    ("hf:a/b::train[-2:]", 7, (5, 7)), ("hf:a/b::train[:100]", 7, (0, 7)), ("hf:a/b::train[5:2]", 7, (5, 5)),
    ("hf:a/b::train[:50%]", 7, (0, 4)), ("hf:a/b::train[10%:30%]", 10, (1, 3)),
])
def test_hf_slice_bounds(spec, n, bounds):
    assert parse_hf_spec(spec).bounds(n) == bounds


GSM8K_ROWS = [{"question": f"Q{i}", "answer": f"a.\nb.\n#### {i}"} for i in range(10)]


class FakeHub:
    """`datasets.load_dataset` without the Hub: records each call and how many rows a stream handed out."""

    def __init__(self, rows: list[dict], with_select: bool = False):
        self.rows, self.with_select, self.calls, self.streamed = rows, with_select, [], 0

    def load_dataset(self, name, config, split, **kwargs):
        self.calls.append((name, config, split, kwargs))
        if kwargs.get("streaming"):
            return self._stream()
        return FakeDataset(self.rows) if self.with_select else list(self.rows)

    def _stream(self):
        for row in self.rows:
            self.streamed += 1
            yield dict(row)


class FakeDataset(list):
    """A downloaded split: `len`, iteration and `select`, like `datasets.Dataset`."""

    def select(self, indices):
        return FakeDataset(self[i] for i in indices)


@pytest.fixture
def hub(monkeypatch):
    """The Hub is unreachable here, so `datasets.load_dataset` is replaced; the rest of the path is real."""
    import datasets

    fake = FakeHub(GSM8K_ROWS)
    monkeypatch.setattr(datasets, "load_dataset", fake.load_dataset)
    return fake


def test_hf_source_goes_through_load_dataset(hub):
    hub.rows = GSM8K_ROWS[:2]
    examples = read_examples("hf:openai/gsm8k:main:test")
    assert hub.calls == [("openai/gsm8k", "main", "test", {})]  # no slice, no limit: downloaded, not streamed
    assert [(e.question, e.answer, e.meta["source"]) for e in examples] == [
        ("Q0", "0", "hf:openai/gsm8k:main:test:1"), ("Q1", "1", "hf:openai/gsm8k:main:test:2")]


def test_hf_slice_with_an_end_streams_only_the_rows_needed(hub):
    examples = read_examples("hf:openai/gsm8k:main:train[2:5]")
    assert hub.calls == [("openai/gsm8k", "main", "train", {"streaming": True})]
    assert [e.answer for e in examples] == ["2", "3", "4"]
    assert hub.streamed == 5  # rows 0-4 pulled from the stream, nothing after the slice
    assert [e.meta["location"] for e in examples] == [f"hf:openai/gsm8k:main:train[2:5]:{i}" for i in (3, 4, 5)]


def test_hf_limit_streams(hub):
    examples = read_examples("hf:openai/gsm8k:main", limit=3)
    assert hub.calls == [("openai/gsm8k", "main", "train", {"streaming": True})]
    assert [e.answer for e in examples] == ["0", "1", "2"] and hub.streamed == 3
    assert [e.answer for e in read_examples("hf:openai/gsm8k:main:train[4:]", limit=2)] == ["4", "5"]


@pytest.mark.parametrize("with_select", [False, True])
@pytest.mark.parametrize("spec,answers,first_index", [
    ("hf:a/b::train[-3:]", ["7", "8", "9"], 8),
    ("hf:a/b::train[:20%]", ["0", "1"], 1),
    ("hf:a/b::train[50%:70%]", ["5", "6"], 6),
])
def test_hf_slices_that_need_the_length_download_then_slice(hub, with_select, spec, answers, first_index):
    hub.with_select = with_select
    examples = read_examples(spec, limit=100)
    assert hub.calls == [("a/b", None, "train", {})]
    assert [e.answer for e in examples] == answers
    assert examples[0].meta["location"] == f"{spec}:{first_index}"


def test_hf_iter_rows_numbers_rows_by_their_index_in_the_split(hub):
    assert [n for n, _ in iter_rows("hf:a/b::train[7:]")] == [8, 9, 10]
    assert [n for n, _ in iter_rows("hf:a/b::train[7:9]")] == [8, 9]


def test_hf_empty_slice_is_no_rows(hub):
    with pytest.raises(DataError, match="no rows"):
        read_examples("hf:a/b::train[20:30]")


def test_hf_load_failure_is_one_clear_error(monkeypatch):
    import datasets

    def failing(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nope/nothing' on the Hub (LocalEntryNotFoundError)\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(DataError) as err:
        read_examples("hf:nope/nothing")
    assert str(err.value) == ("could not load Hugging Face dataset 'nope/nothing' (config None, split train): "
                              "ConnectionError: Couldn't reach 'nope/nothing' on the Hub (LocalEntryNotFoundError)")


def test_hf_stream_breaking_half_way_is_one_clear_error(monkeypatch):
    import datasets

    def stream(*args, **kwargs):
        def rows():
            yield GSM8K_ROWS[0]
            raise TimeoutError("read timed out")
        return rows()

    monkeypatch.setattr(datasets, "load_dataset", stream)
    with pytest.raises(DataError, match=re.escape("could not read row 2 of Hugging Face dataset 'a/b' (config None, "
                                                  "split train): TimeoutError: read timed out")):
        read_examples("hf:a/b::train[:5]")
