"""Table tests for the <think>/<answer> contract (thinktune.format)."""

from __future__ import annotations

import pytest

from thinktune import format as fmt
from thinktune.format import Parsed, parse

WELL = "<think>\nstep 1\nstep 2\n</think>\n<answer>\n42\n</answer>"

# (name, text, strict result, lenient result)
CASES = [
    ("well-formed", WELL, Parsed("step 1\nstep 2", "42", True), Parsed("step 1\nstep 2", "42", True)),
    ("well-formed, surrounding whitespace", "\n  " + WELL + "\n\n",
     Parsed("step 1\nstep 2", "42", True), Parsed("step 1\nstep 2", "42", True)),
    ("no whitespace between tags", "<think>a</think><answer>b</answer>",
     Parsed("a", "b", True), Parsed("a", "b", True)),
    ("missing </answer>", "<think>a</think><answer>7",
     Parsed(None, None, False), Parsed("a", "7", False)),
    ("missing </think>", "<think>a\nb<answer>7</answer>",
     Parsed(None, None, False), Parsed("a\nb", "7", False)),
    ("missing <answer> entirely", "<think>a</think>the answer is 7",
     Parsed(None, None, False), Parsed("a", None, False)),
    ("no tags at all", "The answer is 7.",
     Parsed(None, None, False), Parsed(None, None, False)),
    ("text after </answer>", WELL + "\nHope this helps!",
     Parsed(None, None, False), Parsed("step 1\nstep 2", "42", False)),
    ("text before <think>", "Sure! " + WELL,
     Parsed(None, None, False), Parsed("step 1\nstep 2", "42", False)),
    ("pre-filled <think> (template opened it)", "step 1\n</think>\n<answer>\n5\n</answer>",
     Parsed(None, None, False), Parsed("step 1", "5", False)),
    ("truncated thinking (token limit)", "<think>\nstep 1\nstep 2, and then",
     Parsed(None, None, False), Parsed("step 1\nstep 2, and then", None, False)),
    ("empty answer", "<think>a</think><answer>  </answer>",
     Parsed(None, None, False), Parsed("a", None, False)),
    ("empty thinking", "<think></think><answer>3</answer>",
     Parsed(None, None, False), Parsed(None, "3", False)),
    ("<answer> hidden inside <think>", "<think>maybe <answer>5</answer> or 6</think><answer>6</answer>",
     Parsed(None, None, False), Parsed("maybe 5 or 6", "6", False)),
    ("<answer> only inside <think>, none after", "<think>guess <answer>5</answer></think>",
     Parsed(None, None, False), Parsed("guess 5", None, False)),
    ("repeated answers: the last one counts", "<think>a</think><answer>1</answer><answer>2</answer>",
     Parsed(None, None, False), Parsed("a", "2", False)),
    ("repeated think blocks", "<think>a</think><think>b</think><answer>2</answer>",
     Parsed(None, None, False), Parsed("b", "2", False)),
    ("nested think", "<think>a<think>b</think>c</think><answer>2</answer>",
     Parsed(None, None, False), Parsed("b c".replace(" ", ""), "2", False)),
    ("answer before think", "<answer>2</answer><think>a</think>",
     Parsed(None, None, False), Parsed("a", None, False)),
    ("unicode", "<think>\n√16 = 4 — naïve 😀\n</think>\n<answer>\n四\n</answer>",
     Parsed("√16 = 4 — naïve 😀", "四", True), Parsed("√16 = 4 — naïve 😀", "四", True)),
    ("empty string", "", Parsed(None, None, False), Parsed(None, None, False)),
    ("only tags", "<think></think><answer></answer>", Parsed(None, None, False), Parsed(None, None, False)),
]


@pytest.mark.parametrize("name,text,strict,lenient", CASES, ids=[c[0] for c in CASES])
def test_parse_table(name, text, strict, lenient):
    assert parse(text, strict=True) == strict
    assert parse(text) == lenient


@pytest.mark.parametrize("value", [None, 42, b"<think>", ["<answer>1</answer>"], {"a": 1}])
def test_parse_never_raises_on_non_strings(value):
    assert parse(value) == Parsed(None, None, False)
    assert parse(value, strict=True) == Parsed(None, None, False)


def test_parse_one_megabyte_string_is_fast_and_correct():
    thinking = ("a step of reasoning that goes on\n" * 40_000)[:1_000_000]
    text = f"<think>{thinking}</think><answer>9</answer>"
    assert len(text) > 1_000_000
    strict = parse(text, strict=True)
    assert strict.well_formed and strict.answer == "9" and len(strict.thinking) > 900_000
    junk = "<think>" + "<answer>" * 50_000 + "x" * 500_000
    lenient = parse(junk)
    assert lenient.well_formed is False


def test_render_round_trips_through_strict_parse():
    text = fmt.render_reasoning("  first\nsecond  ", " 12 ")
    assert text == "<think>\nfirst\nsecond\n</think>\n<answer>\n12\n</answer>"
    assert parse(text, strict=True) == Parsed("first\nsecond", "12", True)
    direct = fmt.render_direct(12)
    assert direct == "<answer>\n12\n</answer>" and parse(direct).answer == "12"
    assert fmt.render_direct("hello", tagged=False) == "hello"


def test_render_target_requires_thinking_for_reasoning():
    with pytest.raises(ValueError, match="non-empty thinking"):
        fmt.render_target("4", thinking="  ", reasoning=True)
    assert fmt.render_target("4", reasoning=False) == fmt.render_direct("4")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<think>2+2</think><answer>4</answer>", "4"),
        ("so the total is 1,024 apples", "1024"),
        ("<think>17 and 3</think> final: 20", "20"),
        ("no number here", None),
        ("-3.5 then 7/8", "7/8"),
        (None, None),
    ],
)
def test_best_answer(text, expected):
    assert fmt.best_answer(text) == expected


# (name, text, parse_direct's answer): the strict reading of a direct (non-reasoning) completion
DIRECT_CASES = [
    ("one block", "<answer>4</answer>", "4"),
    ("rendered target", "<answer>\n12\n</answer>", "12"),
    ("surrounding whitespace", "\n  <answer> 4 </answer>\n\n", "4"),
    ("multi-line answer", "<answer>\nline 1\nline 2\n</answer>", "line 1\nline 2"),
    ("empty answer", "<answer>   </answer>", None),
    ("text before", "The answer is <answer>4</answer>", None),
    ("text after", "<answer>4</answer> hope this helps", None),
    ("missing </answer>", "<answer>4", None),
    ("missing <answer>", "4</answer>", None),
    ("two blocks", "<answer>3</answer><answer>4</answer>", None),
    ("nested <answer>", "<answer><answer>4</answer>", None),
    ("a think block", "<think>2+2</think><answer>4</answer>", None),
    ("a stray </think> inside", "<answer>4</think></answer>", None),
    ("a <think> inside", "<answer><think>4</answer>", None),
    ("no tags", "4", None),
    ("empty string", "", None),
]


@pytest.mark.parametrize("name,text,expected", DIRECT_CASES, ids=[c[0] for c in DIRECT_CASES])
def test_parse_direct_table(name, text, expected):
    assert fmt.parse_direct(text) == expected


@pytest.mark.parametrize("value", [None, 42, b"<answer>1</answer>", ["<answer>1</answer>"]])
def test_parse_direct_never_raises_on_non_strings(value):
    assert fmt.parse_direct(value) is None


def test_parse_direct_reads_what_render_direct_writes():
    for answer in ("4", " 3/4 ", "x = 2"):
        assert fmt.parse_direct(fmt.render_direct(answer)) == answer.strip()


def test_build_messages_uses_the_job_type_prompt():
    msgs = fmt.build_messages("What is 2+2?", reasoning=True)
    assert msgs[0]["role"] == "system" and "<think>" in msgs[0]["content"]
    direct = fmt.build_messages("What is 2+2?", reasoning=False)
    assert "<think>" not in direct[0]["content"] and "<answer>" in direct[0]["content"]
    assert fmt.build_messages("q", system="S")[0]["content"] == "S"


# ------------------------------------------------------------------------------- chat templates
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
QWEN25 = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if message.role != "
    "'system' %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif "
    "%}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
R1_PREFILL = CHATML.replace("<|im_start|>assistant\n{% endif %}", "<|im_start|>assistant\n<think>\n{% endif %}")
REWRITES_HISTORY = (  # drops the system prompt once an assistant turn exists: prompt is not a prefix
    "{% for m in messages %}{% if not (m['role'] == 'system' and messages[-1]['role'] == 'assistant') %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture
def templated(tokenizer):
    original = tokenizer.chat_template
    yield tokenizer
    tokenizer.chat_template = original


def test_smollm2_stock_template_is_chatml(tokenizer):
    prompt = fmt.render_prompt(tokenizer, fmt.build_messages("hi"))
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("name,template", [("smollm2-chatml", CHATML), ("llama3", LLAMA3), ("qwen2.5", QWEN25)])
def test_prompt_is_prefix_of_full_conversation(templated, name, template):
    templated.chat_template = template
    msgs = fmt.build_messages("What is 2+2?")
    target = fmt.render_reasoning("2+2=4", "4")
    fmt.check_template_prefix(templated, msgs, target)  # must not raise
    row = fmt.prompt_completion_row(msgs, target)
    assert row["completion"] == [{"role": "assistant", "content": target}]
    assert not fmt.template_prefills_think(templated)


def test_template_that_rewrites_history_is_refused(templated):
    templated.chat_template = REWRITES_HISTORY
    with pytest.raises(ValueError, match="prefix"):
        fmt.check_template_prefix(templated, fmt.build_messages("q"), fmt.render_reasoning("a", "b"))


def test_prefilled_think_template_is_detected_and_parsed(templated):
    templated.chat_template = R1_PREFILL
    assert fmt.template_prefills_think(templated)
    completion = "a\nb\n</think>\n<answer>\n3\n</answer>"
    assert parse(completion) == Parsed("a\nb", "3", False)


def test_add_reasoning_tokens_makes_single_tokens_and_resizes():
    import torch

    from thinktune.models import load_tokenizer, tiny_model

    model, tok = tiny_model(load_tokenizer("tiny"))  # a private tokenizer: this test mutates it
    before = model.get_input_embeddings().weight.shape[0]
    assert fmt.add_reasoning_tokens(tok, model) == 4
    for tag in fmt.REASONING_TAGS:
        assert len(tok.encode(tag, add_special_tokens=False)) == 1
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == before + 4 == len(tok)
    assert torch.allclose(emb[-1], emb[:before].mean(0), atol=1e-6)
    ids = tok.encode(WELL, add_special_tokens=False)
    assert tok.decode(ids, skip_special_tokens=True) == WELL  # tags survive skip_special_tokens
    assert fmt.add_reasoning_tokens(tok, model) == 0  # idempotent


@pytest.mark.parametrize("text,expected", [
    ("so 3 + 4 = 7, and the answer is 1,024.", "1024"),
    ("12,345,678 apples", "12345678"),
    ("the pair is 3,4", "4"),  # a list, not the number 34
    ("(1,2,3)", "3"),
    ("-5.5 degrees", "-5.5"),
    ("3/4 cup", "3/4"),
    ("no digits", None),
])
def test_last_number_keeps_only_thousands_commas(text, expected):
    from thinktune.format import last_number

    assert last_number(text) == expected


def test_reasoning_tokens_with_spare_embedding_rows_never_shrink_and_start_at_the_mean():
    import torch

    from thinktune.models import load_tokenizer, tiny_model

    tok = load_tokenizer("tiny")
    model, _ = tiny_model(tok, seed=0)
    vocab = len(tok)
    model.resize_token_embeddings(vocab + 64, mean_resizing=False)  # spare rows, as Qwen2.5 has
    with torch.no_grad():
        model.get_input_embeddings().weight[vocab:] = 7.0
    assert fmt.add_reasoning_tokens(tok, model) == 4
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == vocab + 64  # not shrunk to the tokenizer's size
    new = tok.convert_tokens_to_ids(["<think>", "</think>", "<answer>", "</answer>"])
    mean = emb[:vocab].mean(dim=0)
    assert all(torch.allclose(emb[i], mean) for i in new)
