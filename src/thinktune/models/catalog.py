"""The models a user would pick, with context length and a fine-tuning memory estimate.

Memory estimates are rules of thumb for one GPU, batch 1 at 2k tokens, with activations checkpointed:
- full fine-tune, bf16 weights + fp32 AdamW states and master weights: ~16 bytes per parameter;
- LoRA: the frozen bf16 base (2 bytes per parameter) plus adapters, optimiser and activations (~20%).
They size a machine; they do not replace a measurement (`benchmarks/sft_throughput.py` measures one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CatalogEntry:
    """One model a user can fine-tune."""

    id: str
    """Hub id (or `default` for the embedded model)."""
    params_b: float
    """Parameters, in billions."""
    context: int
    """Context length in tokens."""
    family: str
    licence: str
    suits: tuple[Literal["reasoning", "non_reasoning"], ...]
    note: str = ""


def memory_estimate_gb(params_b: float, method: Literal["full", "lora"]) -> float:
    """Rough GPU memory to fine-tune a model of `params_b` billion parameters (see module docstring)."""
    if method == "full":
        return round(params_b * 16 + 2, 1)
    return round(params_b * 2 * 1.2 + 1.5, 1)


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("default", 0.135, 8192, "SmolLM2", "Apache-2.0", ("reasoning", "non_reasoning"),
                 "SmolLM2-135M-Instruct embedded as GGUF; runs on a 2-core CPU; weak at arithmetic"),
    CatalogEntry("Qwen/Qwen2.5-3B-Instruct", 3.09, 32768, "Qwen2.5", "Qwen Research", ("reasoning", "non_reasoning"),
                 "the reference choice for reasoning jobs (TinyZero, open-r1 recipes start here)"),
    CatalogEntry("Qwen/Qwen2.5-7B-Instruct", 7.62, 131072, "Qwen2.5", "Apache-2.0", ("reasoning", "non_reasoning"),
                 "reasoning at a larger budget; the DeepSeek-R1 distills use this base"),
    CatalogEntry("Qwen/Qwen2.5-Math-1.5B", 1.54, 4096, "Qwen2.5", "Apache-2.0", ("reasoning",),
                 "maths-specialised base; short context"),
    CatalogEntry("Qwen/Qwen2.5-1.5B-Instruct", 1.54, 32768, "Qwen2.5", "Apache-2.0", ("non_reasoning", "reasoning")),
    CatalogEntry("Qwen/Qwen2.5-0.5B-Instruct", 0.49, 32768, "Qwen2.5", "Apache-2.0", ("non_reasoning",),
                 "fast chat and classification"),
    CatalogEntry("google/gemma-2-2b-it", 2.61, 8192, "Gemma", "Gemma", ("non_reasoning",)),
    CatalogEntry("google/gemma-3-1b-it", 1.0, 32768, "Gemma", "Gemma", ("non_reasoning",)),
    CatalogEntry("meta-llama/Llama-3.2-1B-Instruct", 1.24, 131072, "Llama", "Llama 3.2", ("non_reasoning",)),
    CatalogEntry("meta-llama/Llama-3.2-3B-Instruct", 3.21, 131072, "Llama", "Llama 3.2", ("non_reasoning", "reasoning")),
    CatalogEntry("meta-llama/Llama-3.1-8B-Instruct", 8.03, 131072, "Llama", "Llama 3.1", ("non_reasoning", "reasoning")),
    CatalogEntry("microsoft/Phi-3.5-mini-instruct", 3.82, 131072, "Phi", "MIT", ("non_reasoning",)),
    CatalogEntry("microsoft/phi-4", 14.7, 16384, "Phi", "MIT", ("non_reasoning", "reasoning")),
    CatalogEntry("HuggingFaceTB/SmolLM2-1.7B-Instruct", 1.71, 8192, "SmolLM2", "Apache-2.0", ("non_reasoning",)),
)


def catalog_rows(job: str | None = None) -> list[dict]:
    """The catalog as table rows, optionally filtered by job type (`reasoning` / `non_reasoning`)."""
    rows = []
    for e in CATALOG:
        if job and job not in e.suits:
            continue
        rows.append({
            "model": e.id, "params": f"{e.params_b:g}B", "context": e.context, "family": e.family,
            "suits": "/".join(e.suits), "full_ft_gb": memory_estimate_gb(e.params_b, "full"),
            "lora_gb": memory_estimate_gb(e.params_b, "lora"), "licence": e.licence, "note": e.note,
        })
    return rows
