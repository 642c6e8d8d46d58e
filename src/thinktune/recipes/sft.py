"""The SFT recipe: fine-tune a model as a reasoning job or a non-reasoning job from the same data.

    thinktune train sft configs/sft_reasoning.yaml [--set key=value ...]

`run(cfg, reporter)` goes top to bottom: read the data → split it (a content-hashed snapshot) → build the job's view (thinking + answer, or the
answer alone) → load the model → TRL's `SFTTrainer` (LoRA through PEFT, or a full fine-tune) → train,
resuming from the last checkpoint in the run folder → save the final model and the resolved config.

Loss falls on the assistant's target only: rows are conversational prompt/completion pairs, and TRL masks
the prompt's tokens (`completion_only_loss`), which works with any chat template (see
`format.prompt_completion_row`). The run folder (laid out by `thinktune.runs`) holds::

    RUN/run.json           the manifest: status, config, versions, fingerprints, parent run, key metrics
    RUN/checkpoint-N/      trainer checkpoints (+ config.yaml), the last one is resumed automatically
    RUN/final/             the model: a LoRA adapter + tokenizer, or a full model; `load_model(RUN/final)`
    RUN/merged/            the adapter merged into its base (with `merge: true`)
    RUN/config.yaml        the resolved config
    RUN/snapshots/ID/      the train/validation rows the run saw (see `thinktune.data.snapshot`)
    RUN/metrics.jsonl      one row per log: loss, learning rate, tokens/s (and eval loss at the end)
    RUN/events.jsonl       start/resume, the data, the trainer's summary, cancel, finish

A cancel request (`reporter.cancel()` or `thinktune runs cancel RUN`) stops training at the next step with
a checkpoint there and status `cancelled`; rerunning the same config resumes from it, the metrics rows
after the checkpoint cut first, so none is written twice.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from datasets import Dataset
from peft import PeftModel
from transformers import TrainerCallback
from trl import SFTConfig, SFTTrainer

from thinktune import format as fmt
from thinktune.config import ConfigError, save_config
from thinktune.data.readers import read_examples, resolve_data
from thinktune.data.snapshot import Snapshot, load_snapshot, make_snapshot, save_snapshot
from thinktune.data.views import sft_rows
from thinktune.models import load_model
from thinktune.recipes.config import SFTJobConfig
from thinktune.reporter import Reporter
from thinktune.runs import (
    BASE_FILE,  # noqa: F401 - re-exported for older imports
    FINAL,
    MERGED,
    METRICS,
    Run,
    RunWriter,
    checkpoint_step,
    final_folder,  # noqa: F401 - re-exported: the run-folder layout lives in thinktune.runs
    job_run,
    last_checkpoint,
    merge_adapter,
)
from thinktune.runs import save_final as save_model
from thinktune.training import (
    ConfigBesideCheckpoint,
    JobCallback,
    MetricsLogger,
    already_trained,
    check_resumable,
    gathered_state,
    quiet,
    resume_point,
    trainer_arguments,
)

SNAPSHOT_PREFIX = "snapshot:"
CONFIG_CLASS = SFTJobConfig


# ------------------------------------------------------------------------------------------ the recipe
def run(cfg: SFTJobConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Train, save `RUN/final` (+ `RUN/merged`), write the manifest, config and metrics; returns the `Run`.

    `parent` names the run this one belongs to (a compare run for its variants); by default it is the run
    the model comes from, if any. A cancelled run returns with status `cancelled` (rerun to resume).
    """
    out = Path(cfg.output_dir)
    if cfg.resume:
        check_resumable(cfg, last_checkpoint(out), RESUME_KEYS)
        if already_trained(out, cfg):
            return Run.load(out)  # finished: the same command again trains nothing
    with job_run(out, "sft", cfg, reporter, parent=parent, model=cfg.model, data=cfg.data) as writer:
        last = resume_point(out, writer, logs=() if not writer.main else (METRICS,)) if cfg.resume else None
        snap = load_split(cfg)
        if writer.main:  # in a multi-process launch, rank 0 writes the folder
            save_config(cfg, out / "config.yaml")
            save_snapshot(snap, out / "snapshots")  # the exact rows this run saw, named by their hash
        job = JobCallback(writer, f"sft {cfg.job}")  # progress to the reporter; a cancel stops at a step
        trainer = build_trainer(cfg, snap, writer, callbacks=[job])
        writer.event("data", snapshot=snap.id, train_rows=len(snap.train), val_rows=len(snap.validation),
                     resumed_from=last.name if last else None, start_step=checkpoint_step(last) if last else 0)
        trainer.train(resume_from_checkpoint=str(last) if last else None)
        job.raise_if_cancelled()  # a cancel stopped at a step boundary, with a checkpoint there
        if snap.validation:
            trainer.evaluate()  # eval_loss goes to metrics.jsonl through the logger callback

        state = gathered_state(trainer)  # every process takes part when the weights are sharded
        if not writer.main:
            return Run(out, "sft", "running")
        model = trainer.model
        if state is None and isinstance(model, PeftModel) and _is_adapter(cfg.model):
            model = model.merge_and_unload()  # an adapter over a merged adapter has no base folder: save it whole
        final = save_model(model, trainer.processing_class, out / FINAL, config=cfg, base=cfg.model,
                           job=cfg.job, state_dict=state)
        if cfg.merge and (final / "adapter_config.json").is_file():
            shutil.rmtree(out / MERGED, ignore_errors=True)  # this run's own previous merge
            merge_adapter(final, out / MERGED)
        writer.metrics.update(train_rows=len(snap.train), snapshot=snap.id)
    return Run.load(out)


def _is_adapter(spec: str) -> bool:
    """True when the model spec is a LoRA adapter folder (or a run folder whose final/ is one)."""
    try:
        return (final_folder(spec) / "adapter_config.json").is_file()
    except (FileNotFoundError, OSError):
        return False


def build_trainer(cfg: SFTJobConfig, snap: Snapshot, writer: RunWriter | None = None,
                  callbacks: list[TrainerCallback] | None = None) -> SFTTrainer:
    """The configured `SFTTrainer` for a split `snap` (viewed and tokenized, the model loaded), logging to
    `writer`'s run folder (default: `cfg.output_dir`), with `callbacks` added."""
    try:
        train_rows, val_rows = sft_rows(snap.train, cfg.job), sft_rows(snap.validation, cfg.job)
    except ValueError as e:
        raise ConfigError(f"data {cfg.data}: {e}") from None
    args = sft_args(cfg)  # before the model loads, so a bad setting fails fast

    model, tokenizer = load_model(cfg.model)
    if isinstance(model, PeftModel):  # from an earlier LoRA run: bake its adapter in, then train on top
        model = model.merge_and_unload()
    peft_config = cfg.lora.to_peft()
    if cfg.add_reasoning_tokens:
        fmt.add_reasoning_tokens(tokenizer, model)
        if peft_config is not None:
            # The new embedding rows start at the mean embedding and LoRA leaves embeddings frozen, so the
            # embedding matrix is trained (and saved in the adapter) in full, kept tied to the LM head.
            # PEFT's `trainable_token_indices` would train only the new rows, but TRL 1.16's fused LM-head
            # loss cannot read through its wrapper on a tied head.
            peft_config.modules_to_save = [*(peft_config.modules_to_save or []), "embed_tokens"]
            peft_config.ensure_weight_tying = True
    first = train_rows[0]
    try:
        fmt.check_template_prefix(tokenizer, first["prompt"], first["completion"][0]["content"])
    except ValueError as e:
        raise ConfigError(f"model {cfg.model}: {e}") from None

    writer = writer or RunWriter(Path(cfg.output_dir), "sft", None)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[MetricsLogger(writer, extra={"job": cfg.job}), ConfigBesideCheckpoint(cfg), *(callbacks or [])],
    )
    return quiet(trainer)


def sft_args(cfg: SFTJobConfig) -> SFTConfig:
    """TRL's `SFTConfig` for a job: completion-only loss, non-padding tokens counted for tokens/s."""
    return trainer_arguments(SFTConfig, _trainer_kwargs(cfg), cfg.report_to, cfg.trainer_args)


def _trainer_kwargs(cfg: SFTJobConfig) -> dict[str, Any]:
    return dict(
        output_dir=cfg.output_dir,
        max_steps=cfg.max_steps,
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        max_length=cfg.max_length,
        completion_only_loss=True,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="no",
        include_num_input_tokens_seen="non_padding",
    )


# ---------------------------------------------------------------------------------------------- data
def load_split(cfg: SFTJobConfig) -> Snapshot:
    """The job's data as a `Snapshot` (train + validation, named by a content hash).

    `data` may name a saved snapshot (`snapshot:ID`, or a snapshot folder): its split is used as it is.
    Otherwise the rows are read (`limit` first) and split deterministically with `val_fraction`/`seed`.
    """
    spec = cfg.data
    if spec.startswith(SNAPSHOT_PREFIX) or (Path(spec) / "snapshot.json").is_file():
        return load_snapshot(spec.removeprefix(SNAPSHOT_PREFIX))
    source = resolve_data(spec)
    if not source.startswith("hf:") and not Path(source).is_file():
        raise ConfigError(f"data: {source}: file not found")
    examples = read_examples(source, limit=cfg.limit, answer_mode=cfg.answer_mode, column_map=cfg.column_map or None)
    return make_snapshot(examples, cfg.val_fraction, cfg.seed, source=spec)


# ---------------------------------------------------------------------------------------------- resume
# Settings a checkpoint's weights and optimizer state depend on: resuming under other values would silently
# mix two runs. (Step counts, learning rate and logging may change: a longer run resumes a shorter one.)
RESUME_KEYS = ("job", "model", "data", "limit", "column_map", "answer_mode", "val_fraction", "seed", "lora",
               "add_reasoning_tokens", "max_length")
