"""A scripted engine: canned completions with exact, countable tokens, for tests and replays.

The script is what an unconstrained model would say: a function `(rendered_prompt, k) -> text` where `k`
counts the samples already drawn for that exact prompt (so successive calls — adaptive sampling
rounds — get fresh samples), or a list of texts handed out in turn. The engine then applies
`max_new_tokens` and stop strings as a real engine would. A "token" is a whitespace-delimited word with
its trailing whitespace (`"a b  c"` is `["a ", "b  ", "c"]`), so cuts are exact and easy to reason about.

    engine = ScriptedEngine(lambda prompt, k: ["<answer>4</answer>", "<answer>5</answer>"][k % 2])
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
