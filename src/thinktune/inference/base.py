"""The one small interface every generation engine speaks: prompts in, N completions out.

A *prompt* is either a chat (a list of `{"role", "content"}` messages, rendered with the model's chat
template) or raw text (sent as is). A chat whose last message is from the assistant is a *continuation*:
the engine renders the turns before it with the generation prompt and then the assistant's text, and the
model goes on from there. Budget forcing ("…Wait") and step-level beam search are built on that.

    engine.generate(prompts, SamplingParams(n=8, temperature=0.8, stop=("</answer>",), seed=0))
    # -> one list of 8 `Completion`s per prompt

Conventions every engine keeps:
- a completion's text *includes* the stop string that ended it (OpenAI-style servers drop it; the HTTP
  engine puts it back), so a completion stopped at `</answer>` still parses strictly;
- `tokens` counts generated tokens (not the prompt); `finish_reason` is `stop` (a stop string), `eos`
  (the model's end token) or `length` (`max_new_tokens` reached);
- `temperature=0` means greedy decoding (then all N completions are the same, so strategies ask for
  N > 1 only when sampling);
- a fixed `seed` makes a call reproducible on the same engine with the same batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]
Prompt = str | list[Message]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Defaults: one greedy completion of at most 256 tokens."""

    n: int = field(default=1, metadata={"help": "completions per prompt"})
    max_new_tokens: int = field(default=256, metadata={"help": "generated-token cap per completion"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy; > 0 samples"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass (1 = off)"})
    top_k: int = field(default=0, metadata={"help": "keep the k most likely tokens (0 = off)"})
    stop: tuple[str, ...] = field(default=(), metadata={"help": "stop strings (kept at the end of the text)"})
    seed: int | None = field(default=None, metadata={"help": "random seed (None: not reproducible)"})

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.stop, str):  # a lone string is a common slip: ("</answer>") is not a tuple
            object.__setattr__(self, "stop", (self.stop,))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def with_(self, **changes: Any) -> SamplingParams:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass
class Completion:
    """One generated continuation.

    Attributes:
        text: what the assistant said (any forced prefix included, see `Prompt` continuations), with the
            stop string that ended it.
        tokens: generated tokens (the prompt not counted).
        finish_reason: `stop`, `eos` or `length`.
        latency_s: seconds from the start of the engine call until this completion was finished.
        logprob: sum of the tokens' log-probabilities under the model at temperature 1, when known.
        reasoning: the reasoning a server returned in a separate field (already folded into `text` as a
            `<think>` block), None otherwise.
        stop: the stop string that ended it, if any.
        token_ids: the generated token ids (the ending EOS not included), when the engine has them.
        eos_id: the end-of-sequence token that ended it (`finish_reason == "eos"`), when the engine knows it.
    """

    text: str
    tokens: int
    finish_reason: str = "length"
    latency_s: float = 0.0
    logprob: float | None = None
    reasoning: str | None = None
    stop: str | None = None
    token_ids: list[int] | None = field(default=None, repr=False)
    eos_id: int | None = field(default=None, repr=False)

    @property
    def mean_logprob(self) -> float | None:
        """Length-normalised log-likelihood (a verifier-free confidence score)."""
        if self.logprob is None or self.tokens <= 0:
            return None
        return self.logprob / self.tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "tokens": self.tokens, "finish_reason": self.finish_reason,
            "latency_s": round(self.latency_s, 4), "logprob": self.logprob, "stop": self.stop,
        }


@runtime_checkable
class Engine(Protocol):
    """What strategies and the harness need from a backend."""

    name: str

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """`params.n` completions for each prompt, in prompt order."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under this engine's tokenizer (an estimate where none is available)."""
        ...


def split_continuation(prompt: Prompt) -> tuple[Prompt, str]:
    """Split a chat ending in an assistant message into (the chat before it, the assistant's prefix).

    >>> split_continuation([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<think>"}])
    ([{'role': 'user', 'content': 'hi'}], '<think>')
    >>> split_continuation("raw text")
    ('raw text', '')
    """
    if isinstance(prompt, list) and prompt and prompt[-1].get("role") == "assistant":
        return prompt[:-1], prompt[-1].get("content", "")
    return prompt, ""


def continue_prompt(prompt: Prompt, text: str) -> list[Message]:
    """The chat `prompt` with `text` appended to the assistant's (possibly empty) turn."""
    if isinstance(prompt, str):
        raise TypeError("continuations need a chat prompt (a list of messages), not raw text")
    head, prefix = split_continuation(prompt)
    return [*head, {"role": "assistant", "content": prefix + text}]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    """Cut `text` just after the earliest stop string; returns (text, the stop found or None).

    >>> cut_at_stop("a</answer> junk", ["</answer>"])
    ('a</answer>', '</answer>')
    """
    best, found = None, None
    for s in stops:
        if not s:
            continue
        i = text.find(s)
        if i >= 0 and (best is None or i + len(s) < best):
            best, found = i + len(s), s
    return (text, None) if best is None else (text[:best], found)
