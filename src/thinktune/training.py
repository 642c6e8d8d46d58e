"""Pieces every training recipe shares: CPU-safe trainer arguments, the metrics log, progress and cancel.

Recipes stay readable because the plumbing lives here once:
- `cpu_safe_args()` → the `TrainingArguments` fields TRL needs on a CPU machine (bf16 off, a non-fused
  optimiser, no gradient checkpointing) and sensible ones on a GPU;
- `MetricsLogger` → a `TrainerCallback` that appends every step's log (loss, learning rate, tokens/s, …)
  to the run's `metrics.jsonl`, flushed per row, so a killed run keeps its history; the trainer's closing
  summary goes to `events.jsonl` and the run's key metrics;
- `JobCallback` → progress to the job's reporter after every step, and cooperative cancellation: a cancel
  request stops training at the next step boundary with a checkpoint saved there;
- `resume_point()` → the checkpoint a rerun resumes from, with the logs cut back to it (exact resume).

The LoRA settings (`LoraSettings`) live with the configs in `thinktune.recipes.config`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import PrinterCallback, TrainerCallback

from thinktune.config import ConfigError, save_config, to_dict
from thinktune.errors import JobCancelled
from thinktune.runs import METRICS, RunWriter, checkpoint_step, checkpoints, cut_after_step

log = logging.getLogger("thinktune.training")


def cpu_safe_args() -> dict[str, Any]:
    """TrainingArguments fields that work on CPU (and are harmless on GPU)."""
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
        "disable_tqdm": True,  # the job's reporter draws the progress bar
    }


TRACKERS = ("tensorboard", "trackio", "wandb", "mlflow", "comet_ml", "clearml", "swanlab")
# set by thinktune from its own config keys: passing them through trainer_args would split one setting in two
OWNED = ("output_dir", "report_to", "use_cpu")


def trainer_arguments(config_class: type, ours: dict[str, Any], report_to: list[str], passthrough: dict[str, Any],
                      where: str = "trainer_args") -> Any:
    """TRL's `config_class` (SFTConfig, GRPOConfig) from thinktune's values, the trackers and the pass-through.

    `passthrough` keys must be fields of `config_class` (an unknown one is a `ConfigError` with the nearest
    name) and win over thinktune's own values, except the few thinktune owns (`OWNED`).

    Raises:
        ConfigError: an unknown tracker, an unknown or owned pass-through key, or a value TRL rejects.
    """
    import dataclasses
    import difflib

    unknown = [t for t in report_to if t not in TRACKERS]
    if unknown:
        raise ConfigError(f"report_to: unknown tracker(s) {', '.join(unknown)}; choose from {', '.join(TRACKERS)}")
    fields = {f.name for f in dataclasses.fields(config_class)}
    for key in passthrough:
        if key in OWNED:
            raise ConfigError(f"{where}.{key}: set by thinktune itself; use the config key "
                              f"{'report_to' if key == 'report_to' else key} instead")
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where}.{key}: not a field of TRL's {config_class.__name__}{hint}")
    kwargs = {**ours, **cpu_safe_args(), "report_to": list(report_to) or "none", **passthrough}
    try:
        return config_class(**kwargs)
    except (ValueError, TypeError, ImportError, RuntimeError) as e:  # e.g. a tracker that is not installed
        raise ConfigError(f"invalid training setting: {str(e).strip().splitlines()[0]}") from None


def quiet(trainer: Any) -> Any:
    """Drop the callback that prints every log dict to stdout when tqdm is off: the reporter shows progress."""
    trainer.remove_callback(PrinterCallback)
    return trainer


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


class MetricsLogger(TrainerCallback):
    """Appends each step's `on_log` dict to the run's `metrics.jsonl` with step, epoch and wall time.

    tokens/s is computed from the trainer's `num_input_tokens_seen` when it is tracked
    (`include_num_input_tokens_seen`). The closing summary (`train_runtime`, `train_loss`) is not a step:
    it becomes a `summary` event and the run's key metrics.
    """

    def __init__(self, writer: RunWriter, extra: dict[str, Any] | None = None) -> None:
        self.writer, self.extra = writer, extra or {}
        self.t0 = time.time()
        self.last_t = self.t0
        self.last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run restores the token count before this call: count tokens/s from there.
        self.last_t = time.time()
        self.last_tokens = getattr(state, "num_input_tokens_seen", 0) or 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        now = time.time()
        values = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float, str, bool))}
        tokens = getattr(state, "num_input_tokens_seen", 0) or 0
        if "train_loss" in values:  # the trainer's closing summary (step logs carry train_runtime too)
            summary = {**values, "step": state.global_step, "num_input_tokens_seen": tokens}
            self.writer.metrics.update(summary)
            self.writer.event("summary", **summary)
            return
        row = {"step": state.global_step, "epoch": state.epoch, "wall_s": round(now - self.t0, 3), **values}
        if tokens > self.last_tokens and now > self.last_t:
            row["tokens_per_s"] = round((tokens - self.last_tokens) / (now - self.last_t), 2)
        self.last_t, self.last_tokens = now, tokens
        row.update(self.extra)
        self.writer.log_metrics(row)
        for key in ("loss", "eval_loss"):
            if key in values:
                self.writer.metrics["final_" + key if key == "loss" else key] = values[key]


class JobCallback(TrainerCallback):
    """Reports progress after every step and stops at a step boundary when a cancel is requested.

    On a cancel the trainer is told to save a checkpoint at that step and stop; the recipe then calls
    `raise_if_cancelled()`, and the run ends `cancelled`, resumable from that checkpoint.
    """

    def __init__(self, writer: RunWriter, title: str) -> None:
        self.writer, self.title = writer, title
        self.latest: dict[str, Any] = {}
        self.cancelled_at: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.t_begin, self.step_begin = time.perf_counter(), state.global_step
        if self.writer.reporter is not None and self.writer.main:
            self.writer.reporter.begin(self.title, total=state.max_steps, unit="step", initial=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self._report(state)
        # every process of a multi-process launch must stop at the same step: the decision is shared
        if any_process(self.writer.cancel_requested()) and state.global_step < state.max_steps:
            control.should_save = True
            control.should_training_stop = True
            self.cancelled_at = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.latest.update({k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))})
        self._report(state)

    def on_train_end(self, args, state, control, **kwargs):
        if self.writer.reporter is not None and self.writer.main:
            self.writer.reporter.end()

    def _report(self, state) -> None:
        if self.writer.reporter is None or not self.writer.main:
            return
        done = state.global_step - getattr(self, "step_begin", 0)
        elapsed = time.perf_counter() - getattr(self, "t_begin", time.perf_counter())
        eta = elapsed / done * max(0, state.max_steps - state.global_step) if done > 0 else None
        self.writer.reporter.progress(state.global_step, state.max_steps, **self.latest, eta_s=eta)

    def raise_if_cancelled(self) -> None:
        if self.cancelled_at is not None:
            self.writer.event("cancel", f"stopped at step {self.cancelled_at}; rerun to resume",
                              step=self.cancelled_at, checkpoint=f"checkpoint-{self.cancelled_at}")
            raise JobCancelled(f"cancelled at step {self.cancelled_at}")


def gathered_state(trainer: Any) -> dict | None:
    """The full weights when they are sharded across processes (FSDP, DeepSpeed): every process must call
    this (it gathers); None when each process holds the whole model (one process, DDP)."""
    if not (getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False)):
        return None
    return trainer.accelerator.get_state_dict(trainer.model_wrapped)


def any_process(flag: bool) -> bool:
    """`flag` or'ed over every process of a multi-process launch (itself when alone)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def checkpoint_loads(path: Path) -> str | None:
    """None when a checkpoint folder looks complete; else why not (its files are read, not loaded)."""
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return f"trainer_state.json unreadable ({type(e).__name__})"
    weights = [p for p in path.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not weights:
        return "no weights file"
    for p in weights:
        if p.suffix == ".safetensors":
            try:
                from safetensors import safe_open

                with safe_open(str(p), framework="pt") as f:
                    f.keys()
            except Exception as e:  # a truncated file fails its header or its size check
                return f"{p.name} unreadable ({type(e).__name__})"
    return None


def resume_point(run_dir: Path, writer: RunWriter | None, logs: tuple[str, ...] = (METRICS,)) -> Path | None:
    """The checkpoint to resume from (the newest that looks complete; broken ones are skipped with a
    warning naming them), after cutting every log in `logs` back to its step, so that no metric row is
    written twice and none is missing."""
    chosen = None
    for path in checkpoints(run_dir):
        why = checkpoint_loads(path)
        if why is None:
            chosen = path
            break
        log.warning("%s: skipped (%s); trying the checkpoint before it", path, why)
        if writer is not None:
            writer.event("checkpoint_skipped", f"{path.name}: {why}", checkpoint=path.name)
    step = checkpoint_step(chosen) if chosen else 0
    for name in logs:
        dropped = cut_after_step(run_dir / name, step)
        if dropped and writer is not None:
            writer.event("log_cut", f"{name}: {dropped} rows after step {step} dropped (they are redone)",
                         file=name, rows=dropped, step=step)
    return chosen


def already_trained(run_dir: Path, cfg: Any) -> bool:
    """True when the run in `run_dir` finished (status succeeded, `final/` saved) with this very config:
    the same command again has nothing to train. (Without this, a rerun resumed at the last checkpoint,
    where TRL's GRPO still takes one more step, or, with no checkpoint kept, trained again from scratch.)"""
    from thinktune.runs import FINAL, read_manifest, same_config

    manifest = read_manifest(run_dir)
    return (manifest is not None and manifest.get("status") == "succeeded" and (Path(run_dir) / FINAL).is_dir()
            and same_config(run_dir, cfg))


def check_resumable(cfg: Any, checkpoint: Path | None, keys: tuple[str, ...]) -> None:
    """Raise `ConfigError` naming every setting in `keys` that differs from `checkpoint`'s config.yaml."""
    if checkpoint is None or not (checkpoint / "config.yaml").is_file():
        return
    saved = yaml.safe_load((checkpoint / "config.yaml").read_text(encoding="utf-8")) or {}
    now = to_dict(cfg)
    diff = [f"{k}: {saved.get(k)!r} there, {now[k]!r} now" for k in keys if k in saved and saved[k] != now[k]]
    if diff:
        raise ConfigError(
            f"output_dir {cfg.output_dir}: {checkpoint.name} was trained with other settings ({'; '.join(diff)}); "
            "use a new output_dir, or --set resume=false to train from scratch there"
        )


class ConfigBesideCheckpoint(TrainerCallback):
    """Writes the resolved config into every `checkpoint-N` folder as it is saved (what resume checks)."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir() and state.is_world_process_zero:
            save_config(self.cfg, folder / "config.yaml")
