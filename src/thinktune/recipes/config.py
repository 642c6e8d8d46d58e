"""The training jobs' typed configs, apart from the heavy code that runs them.

Importing this module costs no torch, transformers or TRL, so the CLI's `--help` and `--show-config`, the
studio and the job registry read configs without loading a trainer; `thinktune.recipes.sft` and
`thinktune.recipes.grpo` import their libraries at the top and define real classes.

Each YAML config mirrors one of these dataclasses (sections: `lora:`, `alarms:`); every field's help text
is what `thinktune train sft --show-config` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from thinktune.rewards.alarms import AlarmSettings


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



@dataclass(frozen=True)
class SFTJobConfig:
    """A supervised fine-tuning job; the YAML file mirrors these fields (and the `lora:` section)."""

    job: Literal["reasoning", "non_reasoning"] = field(
        default="reasoning",
        metadata={"help": "reasoning: train on <think>steps</think><answer>…; non_reasoning: the answer alone"},
    )
    model: str = field(
        default="default", metadata={"help": "model spec: default | tiny | a folder | a .gguf | a Hub id"}
    )
    data: str = field(
        default="builtin:arith_sample",
        metadata={"help": "JSONL file (messages, prompt/completion, question/answer[/reasoning], GSM8K), "
                          "hf:NAME[:CONFIG[:SPLIT]], snapshot:ID (or a snapshot folder), or builtin:arith_sample"},
    )
    val_fraction: float = field(
        default=0.05, metadata={"help": "share of rows held out for validation (deterministic in seed; "
                                        "a snapshot keeps its own split)"}
    )
    limit: int | None = field(default=None, metadata={"help": "use only the first N rows of the file (before the split)"})
    column_map: dict[str, str] = field(default_factory=dict, metadata={
        "help": "rename the data's columns to the fields thinktune reads, e.g. {question: instruction, answer: output}"})
    answer_mode: Literal["final", "full"] = field(default="final", metadata={
        "help": "final: a boxed answer inside a solution is the answer; full: the whole solution text is"})
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"help": "LoRA settings (section)"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps; -1 trains for `epochs` instead"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the training rows (when max_steps is -1)"})
    batch_size: int = field(default=8, metadata={"help": "rows per device per step"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    learning_rate: float = field(
        default=2e-4, metadata={"help": "peak learning rate (LoRA wants ~1e-4..1e-3, full fine-tunes ~1e-5..1e-4)"}
    )
    lr_scheduler: str = field(
        default="cosine", metadata={"help": "transformers scheduler name: cosine, linear, constant_with_warmup…"}
    )
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of the steps spent warming up linearly"})
    max_length: int = field(default=512, metadata={"help": "longest tokenized row; longer rows are cut at the end"})
    seed: int = field(default=0, metadata={"help": "seed for the split, the shuffling and the initialisation"})
    output_dir: str = field(default="runs/sft", metadata={"help": "run folder: checkpoints, final model, metrics"})
    save_steps: int = field(default=50, metadata={"help": "save a checkpoint every N steps (0: only the final)"})
    save_total_limit: int = field(default=2, metadata={"help": "keep at most N checkpoints"})
    logging_steps: int = field(default=1, metadata={"help": "append metrics every N steps"})
    resume: bool = field(
        default=True, metadata={"help": "resume from the last checkpoint-* in output_dir when there is one"}
    )
    add_reasoning_tokens: bool = field(
        default=False, metadata={"help": "make <think></think><answer></answer> single tokens (resizes embeddings)"}
    )
    merge: bool = field(default=False, metadata={"help": "also save the adapter merged into its base in merged/"})
    report_to: list[str] = field(default_factory=list, metadata={
        "help": "experiment trackers to log to: tensorboard, trackio, wandb, mlflow (installed ones; [] for none)"})
    trainer_args: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "any other TRL SFTConfig field, passed through (checked against SFTConfig's fields)"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (use epochs) or positive, got {self.max_steps}")
        if self.max_steps == -1 and self.epochs <= 0:
            raise ValueError(f"epochs must be positive when max_steps is -1, got {self.epochs}")
        for name in ("batch_size", "grad_accum", "max_length", "logging_steps", "save_total_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.save_steps < 0:
            raise ValueError(f"save_steps must be 0 (final only) or positive, got {self.save_steps}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")



@dataclass(frozen=True)
class RewardSpec:
    """One reward function and its weight in the total."""

    name: str = field(metadata={"help": "a built-in (accuracy, format_strict, tag_count, overlong, ...) or module:function"})
    weight: float = field(default=1.0, metadata={"help": "weight in the summed reward"})
    options: dict[str, Any] = field(default_factory=dict, metadata={"help": "keyword options (e.g. max_length, cache)"})
    kind: Literal["correctness", "format", "length"] | None = field(default=None, metadata={
        "help": "what the reward pays for, used by the hacking alarms (default: the built-in's kind; "
                "module:function rewards count as correctness)"})


def _default_rewards() -> list[RewardSpec]:
    return [RewardSpec("accuracy", 1.0), RewardSpec("format_strict", 0.5)]


@dataclass(frozen=True)
class GRPOJobConfig:
    """A GRPO job; the YAML file mirrors these fields (and the `lora:` and `alarms:` sections)."""

    model: str = field(default="default", metadata={
        "help": "model spec: default | tiny | a folder (an SFT run's final/, adapters are merged) | .gguf | Hub id"})
    task: str = field(default="arithmetic", metadata={
        "help": "task: arithmetic | countdown | gsm8k | rg:<reasoning-gym name> | jsonl:<path> (see thinktune.tasks)"})
    task_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "the task's knobs, e.g. {ops: 2, digits: 1} or {numbers: 3, max_number: 20}"})
    train_size: int = field(default=512, metadata={"help": "training problems drawn from the task's train split"})
    system_prompt: str | None = field(default=None, metadata={
        "help": "system prompt (default: thinktune.format's reasoning prompt asking for <think>/<answer>)"})
    prefill_think: bool = field(default=False, metadata={
        "help": "end the prompt with an opened <think> (R1-Zero / TinyZero's template) so the model only has "
                "to close it; rewards and metrics then read completions as starting inside the thinking"})
    rewards: list[RewardSpec] = field(default_factory=_default_rewards, metadata={
        "help": "reward functions: a list of {name, weight, options}"})
    num_generations: int = field(default=4, metadata={"help": "group size G: completions sampled per prompt"})
    prompts_per_step: int = field(default=4, metadata={"help": "distinct prompts per optimizer step"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    max_completion_length: int = field(default=64, metadata={"help": "completion budget in tokens"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of the rollouts"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling of the rollouts"})
    beta: float = field(default=0.0, metadata={"help": "KL coefficient against the starting model (0: no KL term)"})
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = field(default="dapo", metadata={
        "help": "TRL loss aggregation: dapo (token-level), dr_grpo, grpo (per-sequence mean), bnpo"})
    epsilon: float = field(default=0.2, metadata={"help": "PPO clipping range"})
    learning_rate: float = field(default=1e-5, metadata={
        "help": "learning rate (LoRA ~1e-5..1e-4; full fine-tunes ~1e-6..1e-5)"})
    max_steps: int = field(default=30, metadata={"help": "optimizer steps"})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"help": "LoRA settings (section)"})
    seed: int = field(default=0, metadata={"help": "seed for the task, the sampling and the initialisation"})
    output_dir: str = field(default="runs/grpo", metadata={"help": "run folder: config, metrics, final model"})
    save_steps: int = field(default=0, metadata={
        "help": "save a checkpoint every N steps (0: only the final, and where a cancel stops the run)"})
    resume: bool = field(default=True, metadata={
        "help": "resume from the last checkpoint-* in output_dir when there is one"})
    sample_completions: int = field(default=4, metadata={
        "help": "completions per step written to RUN/completions.jsonl with their rewards (0: none)"})
    use_vllm: bool = field(default=False, metadata={"help": "generate with vLLM (colocated; needs a GPU and vllm)"})
    rollouts: Literal["trl", "thinktune"] = field(default="trl", metadata={
        "help": "who samples the completions without vLLM: trl (transformers generate) or thinktune (its own "
                "engine through TRL's rollout_func: prefill once per prompt, finished rows dropped; "
                "benchmarks/grpo_speed.py measures both)"})
    report_to: list[str] = field(default_factory=list, metadata={
        "help": "experiment trackers to log to (tensorboard, trackio, wandb, mlflow); thinktune's accuracy, "
                "format rate and alarms are logged there too, under thinktune/"})
    trainer_args: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "any other TRL GRPOConfig field, passed through (checked against GRPOConfig's fields)"})
    alarms: AlarmSettings = field(default_factory=AlarmSettings, metadata={"help": "alarm thresholds (section)"})

    def __post_init__(self) -> None:
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be at least 2 (GRPO compares within a group), got {self.num_generations}")
        for name in ("prompts_per_step", "grad_accum", "max_completion_length", "max_steps", "train_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.sample_completions < 0:
            raise ValueError(f"sample_completions must be >= 0, got {self.sample_completions}")
        if self.beta < 0 or self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("need beta >= 0, temperature > 0 and 0 < top_p <= 1")
        if not self.rewards:
            raise ValueError("rewards: at least one reward function is needed")

