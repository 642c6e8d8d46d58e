"""Ask a model one question and get its thinking and its answer apart: the function behind `thinktune chat`.

    from thinktune.chat import chat
    reply = chat("runs/quickstart/final", "What is 17 + 25 + 8?")
    reply.thinking   # '17 + 25 = 42\\n42 + 8 = 50'
    reply.answer     # '50'

The prompt is built the way training built it (`format.build_messages` + `format.render_prompt`, with the
reasoning or the direct system prompt) and the completion is read by `format.parse` in lenient mode, so a
reply is split even when the model closes no tags or runs out of tokens; `well_formed` says whether it
followed the format exactly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thinktune import format as fmt
from thinktune.inference.voting import read_answer


@dataclass(frozen=True)
class Reply:
    """One model reply.

    Attributes:
        thinking: the text inside `<think>`, or None.
        answer: the text inside `<answer>`, or None when the model gave none the parser could read.
        raw: the completion as generated (special tokens dropped, the tags kept).
        well_formed: True when the completion follows the strict `<think>…</think><answer>…</answer>` format.
        tokens: how many tokens were generated.
    """

    thinking: str | None
    answer: str | None
    raw: str
    well_formed: bool
    tokens: int


def chat(
    model_or_spec: str | tuple[Any, Any],
    message: str,
    *,
    history: list[dict[str, str]] | None = None,
    reasoning: bool = True,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    stream: bool | Callable[[str], None] = False,
) -> Reply:
    """Generate a reply to `message` and split it into thinking and answer.

    Args:
        model_or_spec: a `(model, tokenizer)` pair, or a model spec for `load_model` (loaded on each call:
            pass the pair when asking several questions).
        message: the user's message.
        history: earlier `{"role", "content"}` turns (user/assistant), oldest first.
        reasoning: ask for the reasoning format (True) or for the answer alone (False).
        max_new_tokens: generation budget; thinking cut off by it is still returned (lenient parse).
        temperature: 0 for greedy decoding, otherwise sampling at this temperature.
        stream: True prints the text to stdout as it is generated; a callable receives each piece instead.
    """
    import torch

    model, tokenizer = _resolve(model_or_spec)
    system = fmt.build_messages(message, reasoning=reasoning)
    messages = [system[0], *(history or []), system[1]]
    prompt = fmt.render_prompt(tokenizer, messages)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)

    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    if stream:
        kwargs["streamer"] = _streamer(tokenizer, stream if callable(stream) else _print_piece)
    with torch.no_grad():
        output = model.generate(**inputs, **kwargs)
    new_tokens = output[0, inputs["input_ids"].shape[1]:]
    raw = tokenizer.decode(new_tokens, skip_special_tokens=True)
    parsed = fmt.parse(raw)
    # well-formed in the mode asked for: <think>…</think><answer>…</answer>, or one <answer> block when direct
    well_formed = read_answer(raw, reasoning).well_formed
    return Reply(parsed.thinking, parsed.answer, raw, well_formed, len(new_tokens))


def _resolve(model_or_spec: str | tuple[Any, Any]) -> tuple[Any, Any]:
    if isinstance(model_or_spec, tuple):
        return model_or_spec
    from thinktune.models import load_model

    return load_model(str(model_or_spec))


def _print_piece(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _streamer(tokenizer: Any, emit: Callable[[str], None]) -> Any:
    from transformers import TextStreamer

    class _Streamer(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            emit(text)

    return _Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def format_reply(reply: Reply, color: bool = False) -> str:
    """The reply as the CLI shows it: the thinking (dimmed on a terminal), then `answer: …`."""
    dim, reset = ("\033[2m", "\033[0m") if color else ("", "")
    lines = []
    if reply.thinking:
        lines.append(f"{dim}thinking:")
        lines.extend(f"  {line}" for line in reply.thinking.splitlines())
        lines[-1] += reset
    if reply.answer is not None:
        lines.append(f"answer: {reply.answer}")
    elif reply.thinking:
        lines.append("answer: (none; the reply ended inside its thinking)")
    else:
        lines.append("answer: (none; the raw reply follows)")
        lines.append(reply.raw.strip())
    if not reply.well_formed and reply.answer is not None:
        lines.append(f"{dim}(the reply did not follow the expected format exactly){reset}")
    return "\n".join(lines)
