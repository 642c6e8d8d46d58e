"""llama.cpp through `llama-cpp-python` (the optional `llamacpp` extra), for GGUF models on CPU.

At batch 1 it runs the embedded SmolLM2-135M several times faster than transformers on a small CPU
(see /work/shared/CPU-NOTES.md), but the wheel compiles from source (~11 minutes), so it is never needed by
the default install or the default tests: the import is guarded and building the engine without it
raises one line saying how to install it.

llama.cpp decodes one sequence at a time here, so N samples are N calls; the prompt's KV state is reused
between them by llama.cpp's own prefix cache. Prompts are rendered with the GGUF's chat template through
the transformers tokenizer (which reads it from the GGUF), so continuations behave as on the other engines.
Tokens are streamed and stop strings matched here, so the text keeps the stop string as everywhere else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinktune.format import render_prompt
from thinktune.inference.base import Completion, Prompt, SamplingParams, cut_at_stop, split_continuation

INSTALL_HINT = ("the llamacpp engine needs llama-cpp-python: pip install 'thinktune[llamacpp]' "
                "(compiles from source, ~11 minutes on 2 cores)")


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return llama_cpp


class LlamaCppEngine:
    """Generate with `llama_cpp.Llama` from a GGUF file.

    Args:
        gguf: path to a `.gguf` file, or `default` for the embedded SmolLM2-135M-Instruct.
        n_ctx: context window to allocate.
        n_threads: CPU threads (None: llama.cpp's default).
        tokenizer: a transformers tokenizer for the chat template (None: loaded from the GGUF).
    """

    name = "llamacpp"

    def __init__(self, gguf: str = "default", n_ctx: int = 4096, n_threads: int | None = None,
                 tokenizer: Any = None) -> None:
        llama_cpp = _import_llama()
        if gguf == "default":
            from thinktune.models import default_gguf_path

            gguf = str(default_gguf_path())
        if not Path(gguf).is_file():
            raise FileNotFoundError(f"{gguf}: GGUF file not found")
        self.llm = llama_cpp.Llama(model_path=gguf, n_ctx=n_ctx, n_threads=n_threads, verbose=False,
                                   logits_all=False)
        if tokenizer is None:
            from thinktune.models import load_tokenizer

            tokenizer = load_tokenizer(gguf)
        self.tokenizer = tokenizer

    def render(self, prompt: Prompt) -> str:
        head, prefix = split_continuation(prompt)
        return (head if isinstance(head, str) else render_prompt(self.tokenizer, head)) + prefix

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True)) if text else 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        t0 = time.perf_counter()
        out = []
        for p_index, prompt in enumerate(prompts):
            text_in = self.render(prompt)
            prefix = split_continuation(prompt)[1]
            row = []
            for j in range(params.n):
                seed = -1 if params.seed is None else params.seed + 1009 * p_index + j
                row.append(self._one(text_in, prefix, params, seed, t0))
            out.append(row)
        return out

    def _one(self, text_in: str, prefix: str, params: SamplingParams, seed: int, t0: float) -> Completion:
        # Streamed so stop strings are matched here (llama.cpp's own `stop` reports EOS and a stop string
        # alike and drops the string); one chunk is one token.
        text, tokens, reason, stop = "", 0, "length", None
        stream = self.llm.create_completion(
            text_in, max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k, seed=seed, stream=True,
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            text += choice.get("text") or ""
            tokens += 1 if choice.get("text") is not None else 0
            text, stop = cut_at_stop(text, params.stop)
            if stop is not None:
                reason = "stop"
                break
            if choice.get("finish_reason"):
                reason = "length" if choice["finish_reason"] == "length" else "eos"
                break
        return Completion(text=prefix + text, tokens=tokens, finish_reason=reason,
                          latency_s=time.perf_counter() - t0, stop=stop)
