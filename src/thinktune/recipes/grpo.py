"""The GRPO recipe: reinforcement learning from verifiable rewards, the DeepSeek-R1-Zero way.

    thinktune train grpo configs/grpo_arithmetic.yaml [--set key=value ...]

`run(cfg)` goes top to bottom: load the task's training problems (`thinktune.tasks`) → turn each into a
chat prompt that asks for `<think>…</think><answer>…</answer>` → load the model (a base spec or an SFT
run's `final/` folder; an SFT adapter is merged first) → build the reward functions by name with their
weights → TRL's `GRPOTrainer` (LoRA or full; CPU-safe arguments; vLLM only when asked and a GPU is there)
→ train, writing one metrics row per step and checking the reward-hacking alarms → save `RUN/final`.

How it differs from the R1 paper: the group size, completion budget and model are tiny by default so a
run fits a CPU; the loss is TRL's (default `dapo`: token-level normalisation, no length bias) and the KL
term is off by default (`beta: 0`, as in DAPO and Dr. GRPO; R1-Zero used a small KL). The run folder::

    RUN/config.yaml     the resolved config
    RUN/metrics.jsonl   a start row, then one row per step (see `STEP_FIELDS`), then an end row
    RUN/completions.jsonl  a few completions per step with each reward (`sample_completions`)
    RUN/final/          the trained model (LoRA adapter or full model) + tokenizer; `load_model(RUN/final)`

Every step row holds each reward's mean (`rewards/<name>/mean`), `reward`, `accuracy` (the task's
verifier on the leniently extracted `<answer>`, whatever rewards are configured), `accuracy_strict` (the
same, counting only strictly well-formed completions), `format_rate` (strictly
well-formed share), `completion_length_mean`/`_max` (tokens), `clipped_ratio`, `zero_variance_frac`
(groups whose rewards are all equal: no learning signal), `kl` (None when `beta` is 0, where TRL does not
compute it), the empty/copied answer diagnostics, and `alarm/<name>` for every alarm in
`thinktune.alarms` plus `alarms`, the list firing at that step.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinktune.alarms import ALARMS, AlarmSettings, answer_diagnostics, check_alarms
from thinktune.config import ConfigError, save_config
from thinktune.io import append_jsonl
from thinktune.training import LoraSettings

log = logging.getLogger("thinktune.grpo")

FINAL = "final"
BASE_FILE = "thinktune_base.json"  # same name the SFT recipe uses: the base spec an adapter was trained on
STEP_FIELDS = (
    "step", "wall_s", "loss", "reward", "reward_std", "accuracy", "accuracy_strict", "format_rate",
    "completion_length_mean",
    "completion_length_max", "clipped_ratio", "zero_variance_frac", "kl", "empty_answer_rate",
    "copied_answer_rate", "empty_rewarded_rate", "copied_rewarded_rate", "alarms",
    *(f"alarm/{name}" for name in ALARMS),
)
_FROM_TRL = {  # our metric name ← TRL's log key
    "completion_length_mean": "completions/mean_length",
    "completion_length_max": "completions/max_length",
    "clipped_ratio": "completions/clipped_ratio",
    "zero_variance_frac": "frac_reward_zero_std",
    "kl": "kl",
}


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
    save_steps: int = field(default=0, metadata={"help": "save a checkpoint every N steps (0: only the final)"})
    sample_completions: int = field(default=4, metadata={
        "help": "completions per step written to RUN/completions.jsonl with their rewards (0: none)"})
    use_vllm: bool = field(default=False, metadata={"help": "generate with vLLM (colocated; needs a GPU and vllm)"})
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


CONFIG_CLASS = GRPOJobConfig


# ------------------------------------------------------------------------------------------ the recipe
def run(cfg: GRPOJobConfig) -> Path:
    """Train with GRPO; write `RUN/config.yaml`, `RUN/metrics.jsonl` and `RUN/final`; return the run folder."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    trainer, monitor = build_trainer(cfg)
    append_jsonl(out / "metrics.jsonl", {
        "event": "start", "model": cfg.model, "task": cfg.task, "task_options": cfg.task_options,
        "rewards": [[r.name, r.weight] for r in cfg.rewards], "train_rows": len(trainer.train_dataset),
    })
    trainer.train()
    append_jsonl(out / "metrics.jsonl", {"event": "end", "steps": trainer.state.global_step,
                                         "alarms_fired": sorted(monitor.ever_fired)})
    save_final(trainer, cfg, out / FINAL)
    return out


def build_trainer(cfg: GRPOJobConfig) -> tuple[Any, Any]:
    """The configured `GRPOTrainer` and its metrics/alarm monitor."""
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from thinktune.format import template_prefills_think
    from thinktune.models import load_model
    from thinktune.rewards import get_reward, reward_kind
    from thinktune.training import cpu_safe_args

    if cfg.use_vllm and not torch.cuda.is_available():
        raise ConfigError("use_vllm: vLLM needs a CUDA GPU; set use_vllm: false on this machine")
    model, tokenizer = load_model(cfg.model)
    dataset = build_dataset(cfg, tokenizer)
    prefilled = cfg.prefill_think or template_prefills_think(tokenizer)
    from_adapter = _is_peft(model)
    if from_adapter:  # an SFT LoRA run: bake its adapter in, then train a fresh one (or all weights)
        model = model.merge_and_unload()
    peft_config = cfg.lora.to_peft()
    out = Path(cfg.output_dir)
    if cfg.beta > 0 and peft_config is None:
        # the KL reference must be the merged SFT model, not the base its config still names
        _make_reference_loadable(model, tokenizer, out / "reference", force=from_adapter)

    try:
        defaults = {"max_length": cfg.max_completion_length, "prefilled": prefilled}
        funcs = [get_reward(r.name, r.options, defaults=defaults) for r in cfg.rewards]
    except ValueError as e:
        raise ConfigError(f"rewards: {e}") from None
    names = [f.__name__ for f in funcs]
    if len(set(names)) != len(names):
        raise ConfigError(f"rewards: each reward may appear once, got {', '.join(names)}")
    kinds = [r.kind or reward_kind(r.name) for r in cfg.rewards]
    monitor = GRPOMonitor(out / "metrics.jsonl", names, kinds, [r.weight for r in cfg.rewards], cfg.alarms,
                          prefilled, cfg.sample_completions)

    args = GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
        gradient_accumulation_steps=cfg.grad_accum,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        epsilon=cfg.epsilon,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=cfg.warmup_steps,
        max_steps=cfg.max_steps,
        reward_weights=[r.weight for r in cfg.rewards],
        logging_steps=1,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_vllm=cfg.use_vllm,
        vllm_mode="colocate",
        log_completions=False,
        **cpu_safe_args(),
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[monitor.wrap(f) for f in funcs],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[monitor],
    )
    return trainer, monitor


def build_dataset(cfg: GRPOJobConfig, tokenizer: Any = None) -> Any:
    """The task's training problems as a `datasets.Dataset` of prompts plus verifier columns.

    Prompts are conversational (TRL applies the chat template), or, with `prefill_think`, the rendered
    chat text ending in `<think>` (which needs the `tokenizer`).
    """
    from datasets import Dataset

    from thinktune.tasks import load_task

    try:
        examples = load_task(cfg.task, split="train", n=cfg.train_size, seed=cfg.seed, **cfg.task_options)
    except (ValueError, FileNotFoundError) as e:
        raise ConfigError(f"task {cfg.task}: {e}") from None
    if not examples:
        raise ConfigError(f"task {cfg.task}: no training problems")
    rows = [prompt_row(ex, cfg.system_prompt, tokenizer if cfg.prefill_think else None) for ex in examples]
    return Dataset.from_list(rows)


def prompt_row(example: Any, system_prompt: str | None = None, prefill_with: Any = None) -> dict[str, Any]:
    """One GRPO dataset row: the prompt and the columns the rewards need.

    Args:
        example: the task's `Example`.
        system_prompt: overrides the reasoning system prompt (a row's own `system` wins).
        prefill_with: a tokenizer: render the chat as text and open `<think>` at the end of it.

    `meta` travels as JSON text: reasoning-gym entries differ in shape from row to row, which Arrow's
    fixed schemas cannot hold.
    """
    from thinktune.format import THINK_OPEN, build_messages, render_prompt

    system, user = build_messages(example.question, True, example.system or system_prompt)
    messages = [system, *example.history, user]
    prompt: Any = messages
    if prefill_with is not None:
        prompt = render_prompt(prefill_with, messages)
        if not prompt.rstrip().endswith(THINK_OPEN):  # a template that opens <think> itself (Qwen3, R1 distills)
            prompt += THINK_OPEN + "\n"
    return {
        "prompt": prompt,
        "question": example.question,
        "answer": example.answer,
        "verifier": example.verifier,
        "meta": json.dumps(example.meta, default=str),
    }


# ------------------------------------------------------------------------------- metrics and alarms
class _MonitorBase:
    """Records every reward call, then turns each logged step into a metrics row and checks the alarms."""

    def __init__(self, path: Path, names: list[str], kinds: list[str], weights: list[float],
                 settings: AlarmSettings, prefilled: bool = False, samples: int = 0) -> None:
        self.path, self.names, self.settings, self.prefilled = path, names, settings, prefilled
        self.samples = samples
        self.kinds = dict(zip(names, kinds, strict=True))
        self.fallback_reader = "accuracy_any" in names
        self.weights = dict(zip(names, weights, strict=True))
        self.batches: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.active: set[str] = set()
        self.ever_fired: set[str] = set()
        self.t0 = time.time()

    def wrap(self, func: Any) -> Any:
        """`func`, recording its inputs and outputs for the step's diagnostics (same name for TRL)."""
        name = func.__name__

        def recorded(prompts, completions, **kwargs):
            rewards = func(prompts, completions, **kwargs)
            self._record(name, prompts, completions, kwargs, rewards)
            return rewards

        recorded.__name__ = name
        return recorded

    def _record(self, name: str, prompts: list, completions: list, columns: dict, rewards: list) -> None:
        # TRL calls every reward with the same `completions` list for one generation batch.
        if not self.batches or self.batches[-1]["id"] != id(completions):
            cols = {k: v for k, v in columns.items() if isinstance(v, list) and len(v) == len(completions)}
            self.batches.append({"id": id(completions), "prompts": prompts, "completions": completions,
                                 "columns": cols, "rewards": {}})
        self.batches[-1]["rewards"][name] = list(rewards)

    def step_row(self, step: int, logs: dict[str, Any]) -> dict[str, Any]:
        """The metrics row for one logged step (TRL's logs + our diagnostics + alarm flags)."""
        row: dict[str, Any] = {"step": step, "wall_s": round(time.time() - self.t0, 3)}
        row.update({k: v for k, v in logs.items() if isinstance(v, (int, float, str, bool)) or v is None})
        for ours, theirs in _FROM_TRL.items():
            row[ours] = logs.get(theirs)
        row.update(self._diagnostics())
        self._write_samples(step)
        self.batches.clear()
        for key in STEP_FIELDS:
            row.setdefault(key, None)
        self.history.append(row)
        fired = check_alarms(self.history, self.settings)
        for name in ALARMS:
            row[f"alarm/{name}"] = name in fired
        row["alarms"] = sorted(fired)
        for name in sorted(set(fired) - self.active):
            log.warning("step %d: ALARM %s: %s", step, name, fired[name])
        self.active = set(fired)
        self.ever_fired |= self.active
        return row

    def _write_samples(self, step: int) -> None:
        """Append the step's first `samples` completions, with each reward, to `completions.jsonl`.

        Reading what the model actually wrote is the surest way to tell learning from reward hacking.
        """
        if not self.samples or not self.batches:
            return
        from thinktune.rewards.columns import completion_text, text_of

        batch = self.batches[0]
        for i, completion in enumerate(batch["completions"][: self.samples]):
            append_jsonl(self.path.with_name("completions.jsonl"), {
                "step": step, "prompt": text_of(batch["prompts"][i])[-500:],
                "completion": completion_text(completion),
                "rewards": {name: values[i] for name, values in batch["rewards"].items()},
            })

    def _diagnostics(self) -> dict[str, Any]:
        from thinktune.format import best_answer, parse
        from thinktune.rewards.accuracy import score_completion
        from thinktune.rewards.columns import completion_text, example_at, restore_think, text_of

        answers, prompts, correctness, accurate, strict, well_formed = [], [], [], [], [], []
        for batch in self.batches:
            cols = batch["columns"]
            for i, completion in enumerate(batch["completions"]):
                text = restore_think(completion_text(completion), self.prefilled)
                # read the answer as the correctness reward did: `accuracy_any` falls back to the last number
                answers.append(best_answer(text) if self.fallback_reader else parse(text).answer)
                prompts.append(text_of(batch["prompts"][i]))
                well_formed.append(parse(text, strict=True).well_formed)
                example = example_at(i, cols)
                if example is not None:
                    accurate.append(score_completion(text, example) >= 1.0)
                    strict.append(score_completion(text, example, strict=True) >= 1.0)
                correctness.append(self._correctness(batch["rewards"], i))
        diag: dict[str, Any] = {
            "accuracy": sum(accurate) / len(accurate) if accurate else None,
            "accuracy_strict": sum(strict) / len(strict) if strict else None,
            "format_rate": sum(well_formed) / len(well_formed) if well_formed else None,
        }
        diag.update(answer_diagnostics(answers, prompts, correctness))
        return diag

    def _correctness(self, rewards: dict[str, list], i: int) -> float | None:
        """The weighted correctness reward of completion `i`; None when no correctness reward is configured."""
        names = [n for n in rewards if self.kinds.get(n) == "correctness"]
        values = [self.weights.get(n, 1.0) * rewards[n][i] for n in names if rewards[n][i] is not None]
        return sum(values) if values else None


def GRPOMonitor(path: Path, names: list[str], kinds: list[str], weights: list[float],
                settings: AlarmSettings, prefilled: bool = False, samples: int = 0) -> Any:
    """A `TrainerCallback` + reward recorder writing one metrics row per step (see the module docstring)."""
    from transformers import TrainerCallback

    class Monitor(_MonitorBase, TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "train_runtime" in logs:  # the trainer's closing summary, not a step
                append_jsonl(self.path, {"event": "summary", "step": state.global_step,
                                         **{k: v for k, v in logs.items() if isinstance(v, (int, float))}})
                return
            append_jsonl(self.path, self.step_row(state.global_step, logs))

    return Monitor(path, names, kinds, weights, settings, prefilled, samples)


# ---------------------------------------------------------------------------------------------- saving
def _make_reference_loadable(model: Any, tokenizer: Any, folder: Path, force: bool = False) -> None:
    """Save the starting model to `folder` so TRL can load the KL reference from its config path.

    Skipped when the config already names a folder holding these weights, unless `force`: a model merged
    from an adapter still names the adapter's base, which is not the model being trained.
    """
    name = getattr(model.config, "_name_or_path", "") or ""
    if name and (Path(name) / "config.json").is_file() and not force:
        return
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    model.config._name_or_path = str(folder)


def _starts_from_adapter(spec: str) -> bool:
    """True when the model spec (a folder, or a thinktune run folder standing for its `final/`) is an adapter."""
    from thinktune.models import resolve_spec

    try:
        path, _ = resolve_spec(spec)
    except (FileNotFoundError, OSError):
        return False
    return (Path(path) / "adapter_config.json").is_file()


def _is_peft(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a hard dependency
        return False
    return isinstance(model, PeftModel)


def save_final(trainer: Any, cfg: GRPOJobConfig, folder: Path) -> Path:
    """Save the trained model (adapter or full) + tokenizer + config to `folder`, loadable by `load_model`.

    A LoRA run that started from an SFT adapter saves the merged full model instead: an adapter on top of
    a merged adapter has no base folder to point at.
    """
    if folder.exists():
        shutil.rmtree(folder)
    model = trainer.model
    if _is_peft(model) and _starts_from_adapter(cfg.model):
        model = model.merge_and_unload()
    model.save_pretrained(str(folder))
    trainer.processing_class.save_pretrained(str(folder))
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        path = Path(cfg.model).expanduser()
        base = str(path.resolve()) if path.exists() else cfg.model
        data = json.loads(adapter_config.read_text())
        data["base_model_name_or_path"] = base
        adapter_config.write_text(json.dumps(data, indent=2))
        (folder / BASE_FILE).write_text(json.dumps({"base": base, "job": "grpo"}))
    save_config(cfg, folder / "config.yaml")
    return folder
