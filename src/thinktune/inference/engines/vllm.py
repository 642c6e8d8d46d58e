"""vLLM in-process (the optional `gpu` extra: `pip install thinktune[gpu]`), for fast sampling on a GPU.

The import is guarded: without vLLM this module still imports, and building the engine raises one clear
line saying how to install it. Prompts are rendered with the model's chat template (via the tokenizer vLLM
loads), so continuations work as on the transformers engine; vLLM keeps the stop string in the text
(`include_stop_str_in_output`) and reports the cumulative log-probability of each sample.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from thinktune.format import render_prompt
from thinktune.inference.base import Completion, Prompt, SamplingParams, split_continuation

INSTALL_HINT = "the vllm engine needs vLLM and a GPU: pip install 'thinktune[gpu]' (or pip install vllm)"


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return vllm


class VLLMEngine:
    """Generate with an in-process `vllm.LLM`.

    Args:
        model: a Hub id or a local folder vLLM can load (GGUF files work where vLLM supports them).
        **llm_kwargs: passed to `vllm.LLM` (e.g. `gpu_memory_utilization=0.8`, `max_model_len=4096`,
            `dtype="bfloat16"`, `tensor_parallel_size=2`).
    """

    name = "vllm"

    def __init__(self, model: str, **llm_kwargs: Any) -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, prompt: Prompt) -> str:
        head, prefix = split_continuation(prompt)
        return (head if isinstance(head, str) else render_prompt(self.tokenizer, head)) + prefix

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        t0 = time.perf_counter()
        sp = self._vllm.SamplingParams(
            n=params.n, max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k if params.top_k > 0 else -1, stop=list(params.stop) or None, seed=params.seed,
            include_stop_str_in_output=True,
        )
        outputs = self.llm.generate([self.render(p) for p in prompts], sp, use_tqdm=False)
        elapsed = time.perf_counter() - t0
        result = []
        for prompt, out in zip(prompts, outputs, strict=True):
            prefix = split_continuation(prompt)[1]
            row = []
            for o in out.outputs:
                stop = o.stop_reason if isinstance(o.stop_reason, str) else None
                reason = "stop" if stop else ("length" if o.finish_reason == "length" else "eos")
                row.append(Completion(text=prefix + o.text, tokens=len(o.token_ids), finish_reason=reason,
                                      latency_s=elapsed, logprob=getattr(o, "cumulative_logprob", None), stop=stop))
            result.append(row)
        return result
