"""The `<think>…</think><answer>…</answer>` contract: rendering, parsing and chat-template handling.

Every other module goes through here to build a target, read a model's output or build a prompt, so the
format is defined exactly once. A reasoning target is::

    <think>
    step 1
    step 2
    </think>
    <answer>
    42
    </answer>

and a non-reasoning target is the answer alone.

Parsing never raises. `parse(text, strict=True)` accepts exactly one `<think>` block followed by exactly
one `<answer>` block with nothing but whitespace around them. `parse(text)` (lenient) also reads the
outputs real models produce: a chat template that pre-fills `<think>` (so the completion starts inside the
thinking), missing closing tags, text after `</answer>`, and thinking cut off by the token limit. An
`<answer>` inside the thinking is never taken as the answer when a `</think>` follows it: that is the
reward-hacking shape "hide several guesses in the reasoning".

Examples:
    >>> parse("<think>\\n2+2 is 4\\n</think>\\n<answer>\\n4\\n</answer>")
    Parsed(thinking='2+2 is 4', answer='4', well_formed=True)
    >>> parse("2+2 is 4</think><answer>4", strict=False)   # pre-filled <think>, no </answer>
    Parsed(thinking='2+2 is 4', answer='4', well_formed=False)
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
REASONING_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

REASONING_SYSTEM_PROMPT = (
    "You are a helpful assistant. Think through the problem step by step inside <think> </think> tags, "
    "one step per line, then give only the final answer inside <answer> </answer> tags."
)
DIRECT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Give only the final answer inside <answer> </answer> tags, "
    "with no explanation."
)

_TAG_RE = re.compile(r"</?(?:think|answer)>")
# thousands groups (`1,024`, `12,345,678`) or plain digits; `3,4` and `(1,2,3)` are lists of numbers
_NUMBER_RE = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+)?")


class Parsed(NamedTuple):
    """A model output split into its parts.

    Attributes:
        thinking: the text inside `<think>` (stripped), or None when there is none.
        answer: the text inside `<answer>` (stripped), or None when no answer could be read.
        well_formed: True only when the output follows the strict format exactly.
    """

    thinking: str | None
    answer: str | None
    well_formed: bool


# --------------------------------------------------------------------------------------------- render
def render_reasoning(thinking: str, answer: str) -> str:
    """The training target of a reasoning job."""
    return f"{THINK_OPEN}\n{thinking.strip()}\n{THINK_CLOSE}\n{ANSWER_OPEN}\n{str(answer).strip()}\n{ANSWER_CLOSE}"


def render_direct(answer: str, tagged: bool = True) -> str:
    """The training target of a non-reasoning job: the answer alone, by default inside `<answer>` tags.

    The tags cost four tokens and let one extractor read both kinds of model; `tagged=False` gives the bare
    answer for datasets whose outputs are free text (chat, creative writing).
    """
    answer = str(answer).strip()
    return f"{ANSWER_OPEN}\n{answer}\n{ANSWER_CLOSE}" if tagged else answer


def render_target(answer: str, thinking: str | None = None, reasoning: bool = True) -> str:
    """Render a reasoning target (`reasoning=True`, needs `thinking`) or a direct one."""
    if reasoning:
        if not thinking or not thinking.strip():
            raise ValueError("a reasoning target needs non-empty thinking")
        return render_reasoning(thinking, answer)
    return render_direct(answer)


# ---------------------------------------------------------------------------------------------- parse
def parse(text: str | None, strict: bool = False) -> Parsed:
    """Split model output into `(thinking, answer, well_formed)`. Never raises.

    Args:
        text: the completion (the assistant's text only, not the prompt).
        strict: accept only the exact format; otherwise read what can be read (see module docstring).
    """
    if not isinstance(text, str):
        return Parsed(None, None, False)
    well = _parse_strict(text)
    if well is not None or strict:
        return well if well is not None else Parsed(None, None, False)
    return _parse_lenient(text)


def _parse_strict(text: str) -> Parsed | None:
    body = text.strip()
    if not (body.startswith(THINK_OPEN) and body.endswith(ANSWER_CLOSE)):
        return None
    if any(body.count(tag) != 1 for tag in REASONING_TAGS):
        return None
    i_tc, i_ao = body.index(THINK_CLOSE), body.index(ANSWER_OPEN)
    if i_ao < i_tc or body[i_tc + len(THINK_CLOSE) : i_ao].strip():
        return None
    thinking = body[len(THINK_OPEN) : i_tc].strip()
    answer = body[i_ao + len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip()
    if not thinking or not answer:
        return None
    return Parsed(thinking, answer, True)


def _parse_lenient(text: str) -> Parsed:
    # Where does the thinking end? At the last </think> if there is one (an <answer> before it is part of
    # the reasoning, not the answer); otherwise at the first <answer>; otherwise it runs to the end
    # (truncated by the token limit, or the model never closed it).
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        think_region, rest = text[:close], text[close + len(THINK_CLOSE) :]
    else:
        first_answer = text.find(ANSWER_OPEN)
        if first_answer >= 0:
            think_region, rest = text[:first_answer], text[first_answer:]
        elif THINK_OPEN in text:
            think_region, rest = text, ""
        else:
            think_region, rest = "", text
    opened = think_region.rfind(THINK_OPEN)
    # No <think> but a </think>: the chat template pre-filled the opening tag.
    thinking = think_region[opened + len(THINK_OPEN) :] if opened >= 0 else think_region
    thinking = _TAG_RE.sub("", thinking).strip() or None

    answer = None
    start = rest.rfind(ANSWER_OPEN)
    if start >= 0:
        tail = rest[start + len(ANSWER_OPEN) :]
        end = tail.find(ANSWER_CLOSE)
        answer = (tail[:end] if end >= 0 else tail).strip()
        answer = _TAG_RE.sub("", answer).strip() or None
    return Parsed(thinking, answer, False)


def parse_direct(text: str | None) -> str | None:
    """The answer of a well-formed direct (non-reasoning) completion, else None. Never raises.

    Well formed means exactly one `<answer>…</answer>` block and nothing else: whitespace may surround it,
    but no text before or after it, no second `<answer>`, no `<think>`/`</think>`, and a non-empty answer.
    It is the strict reading of a non-reasoning job's output, as `parse(text, strict=True)` is of a
    reasoning job's.

    >>> parse_direct("<answer>\\n4\\n</answer>")
    '4'
    >>> parse_direct("The answer is <answer>4</answer>") is None    # text around the block
    True
    >>> parse_direct("<think>2+2</think><answer>4</answer>") is None   # reasoning, not a direct answer
    True
    """
    if not isinstance(text, str):
        return None
    body = text.strip()
    if not (body.startswith(ANSWER_OPEN) and body.endswith(ANSWER_CLOSE)):
        return None
    if body.count(ANSWER_OPEN) != 1 or body.count(ANSWER_CLOSE) != 1:
        return None
    if THINK_OPEN in body or THINK_CLOSE in body:
        return None
    return body[len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip() or None


def extract_answer(text: str | None, strict: bool = False) -> str | None:
    """The answer inside `<answer>`, read strictly or leniently; None when there is none."""
    return parse(text, strict=strict).answer


def last_number(text: str | None) -> str | None:
    """The last number in `text` (thousands commas dropped), the classic fallback extractor for maths outputs.

    >>> last_number("so 3 + 4 = 7, and the answer is 1,024."), last_number("the pair is 3,4")
    ('1024', '4')
    """
    if not isinstance(text, str):
        return None
    found = _NUMBER_RE.findall(text[-10_000:])
    return found[-1].replace(",", "") if found else None


def best_answer(text: str | None) -> str | None:
    """The most generous reading: the tagged answer (lenient), else the last number in the text."""
    answer = extract_answer(text)
    if answer is not None:
        return answer
    if not isinstance(text, str):
        return None
    after_thinking = text.rsplit(THINK_CLOSE, 1)[-1]
    return last_number(after_thinking) or last_number(text)


# ---------------------------------------------------------------------------------- prompts and chats
def system_prompt(reasoning: bool) -> str:
    """The instruction that asks for the reasoning format (or for the answer alone)."""
    return REASONING_SYSTEM_PROMPT if reasoning else DIRECT_SYSTEM_PROMPT


def build_messages(question: str, reasoning: bool = True, system: str | None = None) -> list[dict[str, str]]:
    """The chat messages that ask `question` in the given job type's format."""
    return [
        {"role": "system", "content": system if system is not None else system_prompt(reasoning)},
        {"role": "user", "content": question},
    ]


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The prompt text for generation: the chat template with the generation prompt appended.

    Tokenizers without a chat template (base models) get a plain `System:/User:/Assistant:` layout.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nAssistant:"


def template_prefills_think(tokenizer: Any) -> bool:
    """True when the chat template opens `<think>` itself in the generation prompt (R1 distills, Qwen3).

    Such models' completions start inside the thinking; `parse` (lenient) reads them, and SFT targets for
    them must not repeat the opening tag.
    """
    if not getattr(tokenizer, "chat_template", None):
        return False
    prompt = render_prompt(tokenizer, [{"role": "user", "content": "x"}])
    return prompt.rstrip().endswith(THINK_OPEN)


def prompt_completion_row(prompt_messages: list[dict[str, str]], target: str) -> dict[str, list[dict[str, str]]]:
    """A conversational prompt/completion row for TRL's `SFTTrainer`.

    This is how thinktune gets loss on the assistant part only with *any* chat template: TRL renders the
    prompt with the generation prompt, renders prompt + completion, and masks the prompt's tokens
    (`completion_only_loss`). `SFTConfig(assistant_only_loss=True)` instead needs `{% generation %}` markers
    that SmolLM2's, Qwen2.5's and Llama-3's stock templates lack. `check_template_prefix` verifies the one
    property this relies on.
    """
    return {"prompt": list(prompt_messages), "completion": [{"role": "assistant", "content": target}]}


def check_template_prefix(tokenizer: Any, prompt_messages: list[dict[str, str]], target: str) -> None:
    """Raise ValueError unless the rendered prompt is a prefix of the rendered prompt + completion.

    When this fails (a template that rewrites earlier turns, or pre-fills `<think>` only at generation
    time), completion-only masking would train on the wrong tokens, so we refuse instead of guessing.
    """
    if not getattr(tokenizer, "chat_template", None):
        return
    prompt = tokenizer.apply_chat_template(prompt_messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*prompt_messages, {"role": "assistant", "content": target}], tokenize=False
    )
    if not full.startswith(prompt):
        raise ValueError(
            "the chat template does not render the prompt as a prefix of prompt + answer, so loss on the "
            "assistant part only cannot be computed; pass a `chat_template` without that rewrite"
        )


# ------------------------------------------------------------------------------------ special tokens
def add_reasoning_tokens(tokenizer: Any, model: Any | None = None) -> int:
    """Make the four tags single tokens (serving engines' reasoning parsers look for them as such).

    The tags are added as *non-special* added tokens so `decode(skip_special_tokens=True)` keeps them.
    New embedding rows start at the mean of the existing ones (a common, stable initialisation) and the
    model's embeddings are resized. Returns how many tokens were new.
    """
    from tokenizers import AddedToken

    missing = [t for t in REASONING_TAGS if len(tokenizer.encode(t, add_special_tokens=False)) != 1]
    if not missing:
        return 0
    added = tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in missing])
    if model is not None and added:
        import torch

        vocab = len(tokenizer) - added  # the rows of the tokens that existed before
        new_ids = tokenizer.convert_tokens_to_ids(missing)
        rows = model.get_input_embeddings().weight.shape[0]
        # never shrink: models such as Qwen2.5 carry spare rows past the tokenizer (151,936 for 151,665),
        # and the new tokens may land in them; those rows are initialised, not whatever they held
        model.resize_token_embeddings(max(len(tokenizer), rows), mean_resizing=False)
        with torch.no_grad():
            emb = model.get_input_embeddings().weight
            emb[new_ids] = emb[:vocab].mean(dim=0, keepdim=True)
            out = model.get_output_embeddings()
            if out is not None and out.weight.data_ptr() != emb.data_ptr():
                out.weight[new_ids] = out.weight[:vocab].mean(dim=0, keepdim=True)
    return added
