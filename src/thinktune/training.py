"""Pieces every training recipe shares: LoRA settings, CPU-safe trainer arguments, the metrics log.

Recipes stay readable because the plumbing lives here once:
- `LoraSettings` → a PEFT `LoraConfig` (or full fine-tuning when disabled);
- `cpu_safe_args()` → the `TrainingArguments` fields TRL needs on a CPU machine (bf16 off, a non-fused
  optimiser, no gradient checkpointing) and sensible ones on a GPU;
- `MetricsLogger` → a `TrainerCallback` that appends every log (loss, learning rate, tokens/s, …) to
  `metrics.jsonl` in the run folder, flushed per row, so a killed run keeps its history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.io import append_jsonl


@dataclass(frozen=True)
class LoraSettings:
    """LoRA (PEFT) settings; `enabled: false` means a full fine-tune."""

    enabled: bool = field(default=True, metadata={"help": "LoRA adapters (true) or full fine-tuning (false)"})
    r: int = field(default=16, metadata={"help": "LoRA rank"})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA path"})
    target_modules: str = field(
        default="all-linear", metadata={"help": "modules to adapt: 'all-linear' or a comma-separated list"}
    )

    def to_peft(self) -> Any:
        """The PEFT `LoraConfig`, or None for a full fine-tune."""
        if not self.enabled:
            return None
        from peft import LoraConfig

        targets = self.target_modules
        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
            task_type="CAUSAL_LM",
        )


def cpu_safe_args() -> dict[str, Any]:
    """TrainingArguments fields that work on CPU (and are harmless on GPU)."""
    import torch

    on_gpu = torch.cuda.is_available()
    return {
        "use_cpu": not on_gpu,
        "bf16": bool(on_gpu and torch.cuda.is_bf16_supported()),
        "fp16": False,
        # TRL turns checkpointing on by default; on a small CPU model it only costs time. (transformers 5
        # renamed `gradient_checkpointing` to `activation_checkpointing`; the old name warns.)
        "activation_checkpointing": False,
        "optim": "adamw_torch",
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
    }


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def make_metrics_logger(path: str | Path, extra: dict[str, Any] | None = None) -> Any:
    """A `TrainerCallback` appending each `on_log` dict to `path` as JSONL, with step, epoch and wall time.

    tokens/s is computed from the trainer's `num_input_tokens_seen` when it is tracked
    (`include_num_input_tokens_seen`).
    """
    from transformers import TrainerCallback

    class MetricsLogger(TrainerCallback):
        def __init__(self) -> None:
            self.t0 = time.time()
            self.last_t = self.t0
            self.last_tokens = 0

        def on_train_begin(self, args, state, control, **kwargs):
            # A resumed run restores the token count before this call: count tokens/s from there.
            self.last_t = time.time()
            self.last_tokens = getattr(state, "num_input_tokens_seen", 0) or 0

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D401 - HF callback signature
            now = time.time()
            row = {"step": state.global_step, "epoch": state.epoch, "wall_s": round(now - self.t0, 3)}
            row.update({k: v for k, v in (logs or {}).items() if isinstance(v, (int, float, str, bool))})
            tokens = getattr(state, "num_input_tokens_seen", 0) or 0
            if tokens > self.last_tokens and now > self.last_t:
                row["tokens_per_s"] = round((tokens - self.last_tokens) / (now - self.last_t), 2)
            self.last_t, self.last_tokens = now, tokens
            if extra:
                row.update(extra)
            append_jsonl(path, row)

    return MetricsLogger()
