"""`thinktune.chat`: the prompt it builds, how it splits replies, streaming, and the `thinktune chat` CLI."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from thinktune import cli
from thinktune import format as fmt
from thinktune.chat import Reply, chat, format_reply

WELL = "<think>\n17 + 25 = 42\n42 + 8 = 50\n</think>\n<answer>\n50\n</answer>"


class ScriptedModel:
    """A stand-in for a causal LM whose `generate` appends a fixed completion (and records its call).

    Without a `config` the HF engine takes its `model.generate` path; without a `generation_config` it stops
    at the tokenizer's end-of-sequence token.
    """

    device = torch.device("cpu")
    generation_config = None

    def __init__(self, tokenizer, completion: str, eos: bool = True):
        ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
        self.completion = torch.tensor([ids + ([tokenizer.eos_token_id] if eos else [])])
        self.vocab = len(tokenizer)
        self.calls = []

    def generate(self, input_ids, attention_mask=None, streamer=None, **kwargs):
        self.calls.append({"input_ids": input_ids, **kwargs})
        if streamer is not None:
            streamer.put(input_ids)
            for token in self.completion[0]:
                streamer.put(token.view(1))
            streamer.end()
        sequences = torch.cat([input_ids, self.completion], dim=1)
        if not kwargs.get("return_dict_in_generate"):
            return sequences
        steps = self.completion.shape[1]
        return SimpleNamespace(sequences=sequences, logits=tuple(torch.zeros(1, self.vocab) for _ in range(steps)))


@pytest.mark.parametrize(
    ("completion", "thinking", "answer", "well_formed"),
    [
        (WELL, "17 + 25 = 42\n42 + 8 = 50", "50", True),
        ("<think>\n17 + 25 = 42\n42 + 8", "17 + 25 = 42\n42 + 8", None, False),  # cut off by the token limit
        ("17 + 25 = 42</think><answer>42", "17 + 25 = 42", "42", False),  # pre-filled <think>, no </answer>
        ("<answer>\n50\n</answer>", None, "50", False),  # a direct answer
        ("fifty", None, None, False),
    ],
)
def test_reply_is_split_into_thinking_and_answer(tokenizer, completion, thinking, answer, well_formed):
    model = ScriptedModel(tokenizer, completion)
    reply = chat((model, tokenizer), "What is 17 + 25 + 8?")
    assert reply == Reply(thinking, answer, completion, well_formed, reply.tokens)
    assert reply.tokens == model.completion.shape[1]  # the eos token counts as generated


def test_a_direct_reply_is_well_formed_in_direct_mode(tokenizer):
    reply = chat((ScriptedModel(tokenizer, "<answer>\n42\n</answer>"), tokenizer), "6 * 7?", reasoning=False)
    assert reply.answer == "42" and reply.well_formed
    assert not chat((ScriptedModel(tokenizer, WELL), tokenizer), "q", reasoning=False).well_formed


@pytest.mark.parametrize(("reasoning", "system"), [(True, fmt.REASONING_SYSTEM_PROMPT),
                                                   (False, fmt.DIRECT_SYSTEM_PROMPT)])
def test_prompt_has_the_job_system_prompt_and_the_history(tokenizer, reasoning, system):
    model = ScriptedModel(tokenizer, WELL)
    history = [{"role": "user", "content": "What is 1 + 1?"}, {"role": "assistant", "content": "2"}]
    chat((model, tokenizer), "And 2 + 2?", history=history, reasoning=reasoning)
    prompt = tokenizer.decode(model.calls[0]["input_ids"][0])
    expected = fmt.render_prompt(tokenizer, [{"role": "system", "content": system}, *history,
                                             {"role": "user", "content": "And 2 + 2?"}])
    assert prompt == expected
    assert prompt.index("What is 1 + 1?") < prompt.index("And 2 + 2?")


def test_greedy_by_default_sampling_with_temperature(tokenizer):
    model = ScriptedModel(tokenizer, WELL)
    chat((model, tokenizer), "q", max_new_tokens=7)
    chat((model, tokenizer), "q", temperature=0.7)
    greedy, sampled = model.calls
    assert greedy["do_sample"] is False and greedy["max_new_tokens"] == 7
    assert sampled["do_sample"] is True and sampled["temperature"] == 0.7


def test_stream_sends_the_completion_piece_by_piece(tokenizer):
    pieces = []
    reply = chat((ScriptedModel(tokenizer, WELL), tokenizer), "q", stream=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == reply.raw == WELL  # the prompt is not streamed


def test_tiny_model_generates_within_the_budget(tiny):
    reply = chat(tiny, "What is 2 + 3?", max_new_tokens=5)
    assert 0 < reply.tokens <= 5
    assert reply.well_formed is False  # a random model does not produce the format


def _varied(model, tokenizer, eos_first: bool = False):
    """The tiny model with larger random weights, so its greedy text varies (at 0.02 it is all newlines)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0, 0.2, generator=gen)
        if eos_first:  # the end-of-sequence token wins every step
            model.lm_head.bias = torch.nn.Parameter(torch.zeros(model.lm_head.out_features))
            model.lm_head.bias[tokenizer.eos_token_id] = 1e4
    return model, tokenizer


@pytest.mark.parametrize(("history", "eos_first"), [
    (None, False),
    ([{"role": "user", "content": "1 + 1?"}, {"role": "assistant", "content": "2"}], False),
    (None, True),
], ids=["one-turn", "with-history", "eos-first"])
def test_greedy_reply_is_exactly_what_generate_gives(tiny, history, eos_first):
    """chat() generates through the HF engine: at temperature 0 its reply is `model.generate`'s greedy one,
    and `tokens` counts what `generate` generated (its end-of-sequence token included)."""
    model, tokenizer = _varied(*tiny, eos_first=eos_first)
    reply = chat((model, tokenizer), "What is 2 + 3?", history=history, max_new_tokens=12)
    system = fmt.build_messages("What is 2 + 3?")
    prompt = fmt.render_prompt(tokenizer, [system[0], *(history or []), system[1]])
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**inputs, do_sample=False, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id)
    new_tokens = output[0, inputs["input_ids"].shape[1]:]
    assert reply.raw == tokenizer.decode(new_tokens, skip_special_tokens=True)
    assert reply.tokens == len(new_tokens) == (1 if eos_first else 12)
    if eos_first:
        assert reply.raw == ""
    else:
        assert len(set(reply.raw)) > 3  # a varied text, not the stock tiny model's newlines


def test_tiny_model_streams_the_reply_it_returns(tiny):
    pieces = []
    reply = chat(_varied(*tiny), "What is 2 + 3?", max_new_tokens=24, stream=pieces.append)
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == reply.raw


def test_stream_true_prints_the_reply(tiny, capsys):
    reply = chat(_varied(*tiny), "What is 2 + 3?", max_new_tokens=8, stream=True)
    assert capsys.readouterr().out == reply.raw


@pytest.mark.parametrize(
    ("reply", "lines"),
    [
        (Reply("a\nb", "7", WELL, True, 9), ["thinking:", "  a", "  b", "answer: 7"]),
        (Reply(None, "7", "<answer>7</answer>", False, 3),
         ["answer: 7", "(the reply did not follow the expected format exactly)"]),
        (Reply(None, None, "no idea", False, 2), ["answer: (none; the raw reply follows)", "no idea"]),
        # cut off while thinking: the thinking is shown once, not again as the raw reply
        (Reply("6 * 7 is", None, "<think>\n6 * 7 is", False, 4),
         ["thinking:", "  6 * 7 is", "answer: (none; the reply ended inside its thinking)"]),
    ],
)
def test_format_reply(reply, lines):
    assert format_reply(reply).splitlines() == lines
    colored = format_reply(reply, color=True)
    assert colored.replace("\033[2m", "").replace("\033[0m", "") == format_reply(reply)
    if reply.thinking:
        assert colored.startswith("\033[2mthinking:") and "\033[0m\nanswer:" in colored  # only the thinking is dim


def test_cli_one_message(capsys):
    assert cli.main(["chat", "tiny", "-m", "What is 2 + 3?", "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr().out
    assert "answer:" in out


def test_cli_missing_model_is_one_line(capsys, tmp_path):
    assert cli.main(["chat", str(tmp_path / "nope"), "-m", "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thinktune chat: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("job", "flags", "reasoning"), [
    ("reasoning", [], True), ("non_reasoning", [], False), ("reasoning", ["--direct"], False), (None, [], True),
])
def test_cli_asks_in_the_format_the_run_was_trained_for(tmp_path, tiny, monkeypatch, capsys, job, flags, reasoning):
    import thinktune.chat

    model, tokenizer = tiny
    final = tmp_path / "run" / "final"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    if job:
        (final / "config.yaml").write_text(f"job: {job}\nmodel: tiny\n")
    seen = {}

    def fake_chat(pair, message, **kwargs):
        seen.update(kwargs)
        return Reply(None, "5", "<answer>5</answer>", False, 3)

    monkeypatch.setattr(thinktune.chat, "chat", fake_chat)
    assert cli.main(["chat", str(tmp_path / "run"), "-m", "What is 2 + 3?", *flags]) == 0
    assert seen["reasoning"] is reasoning
    assert "answer: 5" in capsys.readouterr().out


def test_cli_history_carries_answers_never_raw_thinking(monkeypatch, capsys):
    import builtins

    import thinktune.chat

    replies = iter([Reply("6 * 7 is", None, "<think>\n6 * 7 is", False, 4),  # cut off while thinking
                    Reply("x", "9", "<think>\nx\n</think>\n<answer>\n9\n</answer>", True, 9)])
    histories = []

    def fake_chat(pair, message, history=None, **kwargs):
        histories.append([dict(t) for t in history])
        return next(replies)

    monkeypatch.setattr(thinktune.chat, "chat", fake_chat)
    lines = iter(["What is 6 * 7?", "And 3 * 3?", ""])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(lines))
    assert cli.main(["chat", "tiny"]) == 0
    assert histories[1] == [{"role": "user", "content": "What is 6 * 7?"}, {"role": "assistant", "content": ""}]
