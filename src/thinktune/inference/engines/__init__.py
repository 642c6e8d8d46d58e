"""Generation engines, one per file, all speaking `thinktune.inference.base.Engine`.

    hf.py           transformers (the default; CPU or GPU)
    openai_http.py  any OpenAI-compatible HTTP server (vLLM, SGLang, llama.cpp server, Ollama, hosted APIs)
    vllm.py         vLLM in-process (optional `gpu` extra)
    llamacpp.py     llama-cpp-python for GGUF files (optional `llamacpp` extra)
    scripted.py     canned completions, for tests and for replaying recorded samples
"""

from __future__ import annotations

from typing import Any

ENGINES = ("hf", "openai", "vllm", "llamacpp")


def make_engine(model: Any, engine: str | None = None, **kwargs: Any) -> Any:
    """An engine for `model`: a spec string, a `(model, tokenizer)` tuple, or an engine (returned as is).

    Args:
        model: `default`, `tiny`, a folder, a `.gguf`, a Hub id; an `http(s)://…/v1` URL for a server
            (append `#name` to pick the served model); or a loaded `(model, tokenizer)`.
        engine: `hf` (default), `openai`, `vllm` or `llamacpp`; None picks `openai` for URLs, else `hf`.
        **kwargs: passed to the engine's constructor (HF: `dtype`, `device`, `max_batch_rows`, …).
    """
    if hasattr(model, "generate") and hasattr(model, "count_tokens"):
        return model
    if isinstance(model, tuple):
        from thinktune.inference.engines.hf import HFEngine

        return HFEngine(model[0], model[1], **kwargs)
    if not isinstance(model, str):
        raise TypeError(f"model must be a spec string, a (model, tokenizer) tuple or an engine, not {type(model).__name__}")
    if engine is None:
        engine = "openai" if model.startswith(("http://", "https://")) else "hf"
    if engine == "hf":
        from thinktune.inference.engines.hf import HFEngine

        split = {k: kwargs.pop(k) for k in ("dtype", "device") if k in kwargs}
        return HFEngine.from_spec(model, **split, **kwargs)
    if engine == "openai":
        from thinktune.inference.engines.openai_http import OpenAIEngine

        url, _, name = model.partition("#")
        return OpenAIEngine(url, name or None, **kwargs)
    if engine == "vllm":
        from thinktune.inference.engines.vllm import VLLMEngine

        return VLLMEngine(model, **kwargs)
    if engine == "llamacpp":
        from thinktune.inference.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(model, **kwargs)
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
