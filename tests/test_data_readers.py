"""Reading every dataset form into `Example` rows: table tests per form, files, round trips, hf: sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from thinktune.data.readers import (
    DataError,
    RowError,
    content_id,
    iter_rows,
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
    ("unknown shape", {"input": "x", "output": "y"}, [(None, "unrecognised row (keys: input, output)")]),
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
    ("hf:openai/gsm8k:main:test", ("openai/gsm8k", "main", "test")),
    ("hf:openai/gsm8k:main", ("openai/gsm8k", "main", "train")),
    ("hf:openai/gsm8k", ("openai/gsm8k", None, "train")),
    ("hf:some/set::validation", ("some/set", None, "validation")),
])
def test_parse_hf_spec(spec, expected):
    assert parse_hf_spec(spec) == expected


@pytest.mark.parametrize("spec", ["hf:", "hf::main", "hf:a:b:c:d"])
def test_parse_hf_spec_rejects(spec):
    with pytest.raises(DataError, match="hf:NAME"):
        parse_hf_spec(spec)


def test_hf_source_goes_through_load_dataset(monkeypatch):
    """The Hub is unreachable here, so `datasets.load_dataset` is replaced; the rest of the path is real."""
    import datasets

    calls = []

    def fake_load_dataset(name, config, split):
        calls.append((name, config, split))
        return [{"question": "Q1", "answer": "a.\nb.\n#### 3"}, {"question": "Q2", "answer": "c.\nd.\n#### 4"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    examples = read_examples("hf:openai/gsm8k:main:test")
    assert calls == [("openai/gsm8k", "main", "test")]
    assert [(e.question, e.answer, e.meta["source"]) for e in examples] == [
        ("Q1", "3", "hf:openai/gsm8k:main:test:1"), ("Q2", "4", "hf:openai/gsm8k:main:test:2")]


def test_hf_load_failure_is_one_clear_error(monkeypatch):
    import datasets

    def failing(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nope/nothing' on the Hub (LocalEntryNotFoundError)\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(DataError) as err:
        read_examples("hf:nope/nothing")
    assert str(err.value) == ("could not load Hugging Face dataset 'nope/nothing' (config None, split train): "
                              "ConnectionError: Couldn't reach 'nope/nothing' on the Hub (LocalEntryNotFoundError)")
