"""Scripted engines: canned completions with exact, countable tokens (tests), and recorded ones (replays).

The script is what an unconstrained model would say: a function `(rendered_prompt, k) -> text` where `k`
counts the samples already drawn for that exact prompt (so successive calls — adaptive sampling
rounds — get fresh samples), or a list of texts handed out in turn. The engine then applies
`max_new_tokens` and stop strings as a real engine would. A "token" is a whitespace-delimited word with
its trailing whitespace (`"a b  c"` is `["a ", "b  ", "c"]`), so cuts are exact and easy to reason about.

    engine = ScriptedEngine(lambda prompt, k: ["<answer>4</answer>", "<answer>5</answer>"][k % 2])

`ReplayEngine` serves recorded `Completion`s (from an earlier run's samples) in order, so strategies that
are functions of the sample stream (majority vote over the first k, best-of-k, adaptive stopping) can be
compared on the very same samples without generating them again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from thinktune.inference.base import Completion, Prompt, SamplingParams, cut_at_stop, split_continuation

_TOKEN = re.compile(r"\S+\s*|\s+")

Script = Callable[[str, int], "str | tuple[str, float]"]


def tokenize(text: str) -> list[str]:
    """The scripted engine's tokens: words with their trailing whitespace (joining them gives `text`).

    >>> tokenize("a b  c")
    ['a ', 'b  ', 'c']
    """
    return _TOKEN.findall(text)


class ScriptedEngine:
    """Replays a script (see module docstring); records every call in `calls`.

    Args:
        script: `(rendered_prompt, k) -> text` or `-> (text, logprob)`, or a list of texts cycled
            through in order for every prompt.
        eos: a marker in the script's text that stands for the end-of-sequence token.
    """

    name = "scripted"

    def __init__(self, script: Script | Sequence[str], eos: str = "<eos>") -> None:
        if not callable(script):
            texts = list(script)
            script = lambda prompt, k: texts[k % len(texts)]  # noqa: E731
        self.script = script
        self.eos = eos
        self.calls: list[tuple[list[str], SamplingParams]] = []
        self._drawn: Counter[str] = Counter()

    def render(self, prompt: Prompt) -> str:
        head, prefix = split_continuation(prompt)
        if isinstance(head, str):
            return head + prefix
        return "".join(f"{m['role']}: {m['content']}\n" for m in head) + "assistant: " + prefix

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text)) if text else 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        rendered = [self.render(p) for p in prompts]
        self.calls.append((rendered, params))
        out = []
        for prompt, text in zip(prompts, rendered, strict=True):
            row = []
            for _ in range(params.n):
                k = self._drawn[text]
                self._drawn[text] += 1
                row.append(self._complete(self.script(text, k), params, split_continuation(prompt)[1]))
            out.append(row)
        return out

    def _complete(self, said: Any, params: SamplingParams, prefix: str) -> Completion:
        logprob = None
        if isinstance(said, tuple):
            said, logprob = said
        reason = "length"
        if self.eos in said:
            said, reason = said[: said.index(self.eos)], "eos"
        tokens = tokenize(said)
        if len(tokens) > params.max_new_tokens:
            tokens, reason = tokens[: params.max_new_tokens], "length"
        text = "".join(tokens)
        text, stop = cut_at_stop(text, params.stop)
        if stop is not None:
            reason = "stop"
            tokens = tokenize(text)
        return Completion(text=prefix + text, tokens=len(tokens), finish_reason=reason, logprob=logprob, stop=stop)


class ReplayEngine:
    """Serve recorded completions per question, in recorded order; asking for more than were recorded fails.

    Args:
        samples: question text (the last user message) → its recorded completions.
        count_tokens: how to count tokens of a text (for thinking/answer splits); whitespace words by default.
    """

    name = "replay"

    def __init__(self, samples: dict[str, list[Completion]], count_tokens: Callable[[str], int] | None = None) -> None:
        self.samples = samples
        self._count = count_tokens or (lambda text: len(tokenize(text)))
        self._drawn: Counter[str] = Counter()

    def count_tokens(self, text: str) -> int:
        return self._count(text) if text else 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            head, prefix = split_continuation(prompt)
            if prefix or isinstance(head, str):
                raise ValueError("ReplayEngine replays whole answers to chat prompts, not continuations")
            question = [m for m in head if m["role"] == "user"][-1]["content"]
            recorded = self.samples.get(question)
            if recorded is None:
                raise KeyError(f"no recorded samples for question {question[:60]!r}")
            k = self._drawn[question]
            if k + params.n > len(recorded):
                raise ValueError(f"asked for samples {k}..{k + params.n - 1} but only {len(recorded)} were recorded")
            self._drawn[question] += params.n
            out.append(list(recorded[k : k + params.n]))
        return out
