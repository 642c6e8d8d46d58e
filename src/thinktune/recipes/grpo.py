"""The GRPO recipe: reinforcement learning from verifiable rewards, the DeepSeek-R1-Zero way.

    thinktune train grpo configs/grpo_arithmetic.yaml [--set key=value ...]

`run(cfg, reporter)` goes top to bottom: load the task's training problems (`thinktune.tasks`) → turn each into a
chat prompt that asks for `<think>…</think><answer>…</answer>` → load the model (a base spec or an SFT
run's `final/` folder; an SFT adapter is merged first) → build the reward functions by name with their
weights → TRL's `GRPOTrainer` (LoRA or full; CPU-safe arguments; vLLM only when asked and a GPU is there)
→ train, writing one metrics row per step and checking the reward-hacking alarms → save `RUN/final`.

How it differs from the R1 paper: the group size, completion budget and model are tiny by default so a
run fits a CPU; the loss is TRL's (default `dapo`: token-level normalisation, no length bias) and the KL
term is off by default (`beta: 0`, as in DAPO and Dr. GRPO; R1-Zero used a small KL). The run folder
(laid out by `thinktune.runs`)::

    RUN/run.json        the manifest: status, config, versions, fingerprints, parent run, key metrics
    RUN/config.yaml     the resolved config
    RUN/metrics.jsonl   one row per step (see `STEP_FIELDS`)
    RUN/events.jsonl    start/resume, the task, alarms as they start firing, the summary, cancel, finish
    RUN/checkpoint-N/   checkpoints (every `save_steps`, and where a cancel stopped the run): a rerun resumes
    RUN/completions.jsonl  a few completions per step with each reward (`sample_completions`)
    RUN/final/          the trained model (LoRA adapter or full model) + tokenizer; `load_model(RUN/final)`

Every step row holds each reward's mean (`rewards/<name>/mean`), `reward`, `accuracy` (the task's
verifier on the leniently extracted `<answer>`, whatever rewards are configured), `accuracy_strict` (the
same, counting only strictly well-formed completions), `format_rate` (strictly
well-formed share), `completion_length_mean`/`_max` (tokens), `clipped_ratio`, `zero_variance_frac`
(groups whose rewards are all equal: no learning signal), `kl` (None when `beta` is 0, where TRL does not
compute it), the empty/copied answer diagnostics, and `alarm/<name>` for every alarm in
`thinktune.rewards.alarms` plus `alarms`, the list firing at that step.

A cancel request stops the run at the next step with a checkpoint there (status `cancelled`); rerunning
resumes from the last checkpoint, with `metrics.jsonl` and `completions.jsonl` cut back to its step and the
alarms' history reloaded from the rows kept.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import PeftModel
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from thinktune.config import ConfigError, save_config
from thinktune.data.schema import Example
from thinktune.format import (
    THINK_OPEN,
    best_answer,
    build_messages,
    parse,
    render_prompt,
    template_prefills_think,
)
from thinktune.io import append_jsonl, read_jsonl
from thinktune.models import load_model, resolve_spec
from thinktune.recipes.config import AlarmSettings, GRPOJobConfig, RewardSpec  # noqa: F401 - re-exported
from thinktune.reporter import Reporter
from thinktune.rewards import get_reward, reward_kind
from thinktune.rewards.accuracy import score_completion
from thinktune.rewards.alarms import ALARMS, answer_diagnostics, check_alarms
from thinktune.rewards.columns import completion_text, example_at, restore_think, text_of
from thinktune.runs import FINAL, Run, RunWriter, checkpoint_step, job_run, last_checkpoint, save_final
from thinktune.tasks import load_task
from thinktune.training import (
    ConfigBesideCheckpoint,
    JobCallback,
    already_trained,
    check_resumable,
    gathered_state,
    quiet,
    resume_point,
    trainer_arguments,
)

log = logging.getLogger("thinktune.grpo")

COMPLETIONS = "completions.jsonl"
TRACKED = ("accuracy", "accuracy_strict", "format_rate", "empty_answer_rate", "copied_answer_rate",
           "empty_rewarded_rate", "copied_rewarded_rate")
CONFIG_CLASS = GRPOJobConfig

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

# Settings a GRPO checkpoint depends on (see `sft.RESUME_KEYS`).
RESUME_KEYS = ("model", "task", "task_options", "train_size", "system_prompt", "prefill_think", "rewards",
               "num_generations", "prompts_per_step", "max_completion_length", "lora", "seed", "beta", "loss_type")


# ------------------------------------------------------------------------------------------ the recipe
def run(cfg: GRPOJobConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Train with GRPO; write the manifest, `config.yaml`, `metrics.jsonl` and `RUN/final`; return the `Run`.

    A cancelled run returns with status `cancelled` and a checkpoint to resume from.
    """
    out = Path(cfg.output_dir)
    if cfg.resume:
        check_resumable(cfg, last_checkpoint(out), RESUME_KEYS)
        if already_trained(out, cfg):
            return Run.load(out)  # finished: the same command again trains nothing
    with job_run(out, "grpo", cfg, reporter, parent=parent, model=cfg.model) as writer:
        logs = ("metrics.jsonl", COMPLETIONS) if writer.main else ()  # several processes: rank 0 writes
        last = resume_point(out, writer, logs=logs) if cfg.resume else None
        if writer.main:
            save_config(cfg, out / "config.yaml")
        job = JobCallback(writer, "grpo")  # progress to the reporter; a cancel stops at a step boundary
        trainer, monitor = build_trainer(cfg, writer, callbacks=[job])
        if last is not None:
            monitor.reload_history()  # the alarms look back over the steps before the checkpoint too
        writer.event("task", task=cfg.task, task_options=cfg.task_options, train_rows=len(trainer.train_dataset),
                     rewards=[[r.name, r.weight] for r in cfg.rewards],
                     resumed_from=last.name if last else None, start_step=checkpoint_step(last) if last else 0)
        trainer.train(resume_from_checkpoint=str(last) if last else None)
        job.raise_if_cancelled()
        writer.metrics.update(steps=trainer.state.global_step, alarms_fired=sorted(monitor.ever_fired),
                              **monitor.summary())
        state = gathered_state(trainer)  # every process takes part when the weights are sharded
        if not writer.main:
            return Run(out, "grpo", "running")
        save_grpo_final(trainer, cfg, out / FINAL, state_dict=state)
    return Run.load(out)


def build_trainer(cfg: GRPOJobConfig, writer: RunWriter | None = None,
                  callbacks: list[TrainerCallback] | None = None) -> tuple[GRPOTrainer, GRPOMonitor]:
    """The configured `GRPOTrainer` (with `callbacks` added) and its metrics/alarm monitor."""
    if cfg.use_vllm and not torch.cuda.is_available():
        raise ConfigError("use_vllm: vLLM needs a CUDA GPU; set use_vllm: false on this machine")
    model, tokenizer = load_model(cfg.model)
    dataset = build_dataset(cfg, tokenizer)
    prefilled = cfg.prefill_think or template_prefills_think(tokenizer)
    from_adapter = isinstance(model, PeftModel)
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
    writer = writer or RunWriter(out, "grpo", None)
    monitor = GRPOMonitor(writer.metrics_path, names, kinds, [r.weight for r in cfg.rewards], cfg.alarms,
                          prefilled, cfg.sample_completions, writer=writer)

    args = trainer_arguments(GRPOConfig, dict(
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
    ), cfg.report_to, cfg.trainer_args)
    rollout = None
    if cfg.rollouts == "thinktune" and not cfg.use_vllm:
        from thinktune.recipes.rollouts import EngineRollouts

        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental in TRL
        rollout = EngineRollouts(tokenizer, temperature=cfg.temperature, top_p=cfg.top_p,
                                 max_new_tokens=cfg.max_completion_length, seed=cfg.seed)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[monitor.wrap(f) for f in funcs],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[monitor, ConfigBesideCheckpoint(cfg), *(callbacks or [])],
        rollout_func=rollout,
    )
    # the monitor first: its on_log adds thinktune's metrics to the logs every tracker callback then sees
    trainer.remove_callback(monitor)
    trainer.callback_handler.callbacks.insert(0, monitor)
    return quiet(trainer), monitor


def build_dataset(cfg: GRPOJobConfig, tokenizer: Any = None) -> Dataset:
    """The task's training problems as a `datasets.Dataset` of prompts plus verifier columns.

    Prompts are conversational (TRL applies the chat template), or, with `prefill_think`, the rendered
    chat text ending in `<think>` (which needs the `tokenizer`).
    """
    try:
        examples = load_task(cfg.task, split="train", n=cfg.train_size, seed=cfg.seed, **cfg.task_options)
    except (ValueError, FileNotFoundError) as e:
        raise ConfigError(f"task {cfg.task}: {e}") from None
    if not examples:
        raise ConfigError(f"task {cfg.task}: no training problems")
    rows = [prompt_row(ex, cfg.system_prompt, tokenizer if cfg.prefill_think else None) for ex in examples]
    return Dataset.from_list(rows)


def prompt_row(example: Example, system_prompt: str | None = None, prefill_with: Any = None) -> dict[str, Any]:
    """One GRPO dataset row: the prompt and the columns the rewards need.

    Args:
        example: the task's `Example`.
        system_prompt: overrides the reasoning system prompt (a row's own `system` wins).
        prefill_with: a tokenizer: render the chat as text and open `<think>` at the end of it.

    `meta` travels as JSON text: reasoning-gym entries differ in shape from row to row, which Arrow's
    fixed schemas cannot hold.
    """
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
class GRPOMonitor(TrainerCallback):
    """Records every reward call, then turns each logged step into a metrics row and checks the alarms.

    A `TrainerCallback` (its `on_log` writes the row) and a reward recorder (`wrap` each reward function).
    """

    def __init__(self, path: Path, names: list[str], kinds: list[str], weights: list[float],
                 settings: AlarmSettings, prefilled: bool = False, samples: int = 0,
                 writer: RunWriter | None = None) -> None:
        self.path, self.names, self.settings, self.prefilled = path, names, settings, prefilled
        self.samples, self.writer = samples, writer
        self.kinds = dict(zip(names, kinds, strict=True))
        self.fallback_reader = "accuracy_any" in names
        self.weights = dict(zip(names, weights, strict=True))
        self.batches: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.active: set[str] = set()
        self.ever_fired: set[str] = set()
        self.t0 = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if self.writer is not None and not self.writer.main:  # several processes: rank 0 records (its rows)
            self.batches.clear()
            return
        if "train_loss" in logs:  # the trainer's closing summary, not a step
            summary = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            if self.writer is not None:
                self.writer.metrics.update(summary)
                self.writer.event("summary", **summary)
            return
        row = self.step_row(state.global_step, logs)
        append_jsonl(self.path, row)
        # what trackers (report_to) log: thinktune's own readings beside TRL's
        logs.update({f"thinktune/{k}": float(v) for k, v in row.items()
                     if v is not None and (k in TRACKED or k.startswith("alarm/") and isinstance(v, bool))})

    def reload_history(self) -> None:
        """Take the rows already in metrics.jsonl (a resumed run) as the alarms' history."""
        if self.path.is_file():
            self.history = [r for r in read_jsonl(self.path) if isinstance(r.get("step"), int)]
            self.ever_fired = {a for r in self.history for a in r.get("alarms") or []}

    def summary(self) -> dict[str, Any]:
        """Key metrics for the manifest: the last step's reward, accuracy and format rate."""
        last = self.history[-1] if self.history else {}
        return {k: last.get(k) for k in ("reward", "accuracy", "accuracy_strict", "format_rate")}

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
            if self.writer is not None:
                self.writer.event("alarm", f"{name}: {fired[name]}", alarm=name, step=step)
        self.active = set(fired)
        self.ever_fired |= self.active
        return row

    def _write_samples(self, step: int) -> None:
        """Append the step's first `samples` completions, with each reward, to `completions.jsonl`.

        Reading what the model actually wrote is the surest way to tell learning from reward hacking.
        """
        if not self.samples or not self.batches:
            return
        batch = self.batches[0]
        for i, completion in enumerate(batch["completions"][: self.samples]):
            append_jsonl(self.path.with_name(COMPLETIONS), {
                "step": step, "prompt": text_of(batch["prompts"][i])[-500:],
                "completion": completion_text(completion),
                "rewards": {name: values[i] for name, values in batch["rewards"].items()},
            })

    def _diagnostics(self) -> dict[str, Any]:
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
    try:
        path, _ = resolve_spec(spec)
    except (FileNotFoundError, OSError):
        return False
    return (Path(path) / "adapter_config.json").is_file()


def save_grpo_final(trainer: Any, cfg: GRPOJobConfig, folder: Path, state_dict: dict | None = None) -> Path:
    """Save the trained model (adapter or full) + tokenizer + config to `folder`, loadable by `load_model`.

    A LoRA run that started from an SFT adapter saves the merged full model instead: an adapter on top of
    a merged adapter has no base folder to point at. With sharded weights (`state_dict` gathered from every
    process) the model is saved from that state as it is, unmerged.
    """
    model = trainer.model
    if state_dict is None and isinstance(model, PeftModel) and _starts_from_adapter(cfg.model):
        model = model.merge_and_unload()
    return save_final(model, trainer.processing_class, folder, config=cfg, base=cfg.model, job="grpo",
                      state_dict=state_dict)
