"""The compare job's typed config (light: no torch, no transformers); `thinktune compare` reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from thinktune.recipes.config import LoraSettings


@dataclass(frozen=True)
class CompareConfig:
    """A reasoning-vs-non-reasoning comparison; the YAML file mirrors these fields (and `lora:`)."""

    model: str = field(default="default", metadata={"help": "base model spec: default | tiny | folder | .gguf | Hub id"})
    data: str | None = field(
        default=None,
        metadata={"help": "a JSONL whose rows carry step-by-step reasoning (any form `thinktune data` reads); "
                          "empty: generate problems from `task`"},
    )
    task: str = field(default="arithmetic", metadata={"help": "built-in task used when `data` is empty"})
    task_options: dict = field(
        default_factory=lambda: {"digits": 2, "operators": "+"},
        metadata={"help": "options of the task (a mapping; a --set replaces all of it)"},
    )
    mix_key: str = field(default="ops", metadata={"help": "task option varied to mix difficulties ('' : no mix)"})
    mix_values: list[int] = field(
        default_factory=lambda: [1, 2, 3, 4],
        metadata={"help": "values of `mix_key`, in equal shares; the report breaks accuracy down by them"},
    )
    train_rows: int = field(default=288, metadata={"help": "training rows (both variants see the same ones)"})
    eval_questions: int = field(default=48, metadata={"help": "held-out questions for the trained variants"})
    base_eval_questions: int = field(
        default=12, metadata={"help": "held-out questions for the base-model rows (0: skip them)"}
    )
    steps: int = field(default=36, metadata={"help": "optimizer steps for each variant (the same budget)"})
    batch_size: int = field(default=8, metadata={"help": "training rows per step"})
    learning_rate: float = field(default=1e-4, metadata={"help": "peak learning rate (full FT ~1e-4, LoRA ~1e-3)"})
    max_length: int = field(default=256, metadata={"help": "longest tokenized training row"})
    lora: LoraSettings = field(
        default_factory=lambda: LoraSettings(enabled=False),
        metadata={"help": "LoRA settings (section); the quickstart fine-tunes the 135M model in full"},
    )
    seed: int = field(default=0, metadata={"help": "seed for the data, the split and training"})
    eval_batch_size: int = field(default=12, metadata={"help": "questions generated together in evaluation"})
    max_new_tokens: int = field(default=160, metadata={"help": "generation budget for reasoning rows"})
    direct_max_new_tokens: int = field(default=32, metadata={"help": "generation budget for direct rows"})
    self_consistency: int = field(
        default=0, metadata={"help": "also evaluate the reasoning variant with maj@k over k samples (0: skip)"}
    )
    routers: list[str] = field(
        default_factory=lambda: ["agreement", "classifier"],
        metadata={"help": "hybrid-router rows: agreement (k direct samples), classifier (fitted, cross-fitted)"},
    )
    router_samples: int = field(default=4, metadata={"help": "direct samples per question for the agreement router"})
    agreement_threshold: float = field(
        default=0.25, metadata={"help": "route to reasoning when this share of the samples disagrees (or more)"}
    )
    classifier_threshold: float = field(
        default=0.5, metadata={"help": "route to reasoning when P(direct is wrong) is at least this"}
    )
    output_dir: str = field(default="runs/compare", metadata={"help": "where variants, evals and the report go"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})

    def __post_init__(self) -> None:
        for name in ("train_rows", "eval_questions", "steps", "batch_size", "eval_batch_size", "max_new_tokens",
                     "direct_max_new_tokens", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.base_eval_questions < 0 or self.self_consistency < 0 or self.router_samples < 2:
            raise ValueError("base_eval_questions and self_consistency must be >= 0, router_samples >= 2")
        unknown = set(self.routers) - {"agreement", "classifier"}
        if unknown:
            raise ValueError(f"routers: unknown {sorted(unknown)}; use agreement and/or classifier")
