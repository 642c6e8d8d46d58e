"""The SFT recipe: fine-tune a model as a reasoning job or a non-reasoning job from the same data.

    thinktune train sft configs/sft_reasoning.yaml [--set key=value ...]

`run(cfg)` goes top to bottom: read the data → split it (a content-hashed snapshot) → build the job's view (thinking + answer, or the
answer alone) → load the model → TRL's `SFTTrainer` (LoRA through PEFT, or a full fine-tune) → train,
resuming from the last checkpoint in the run folder → save the final model and the resolved config.

Loss falls on the assistant's target only: rows are conversational prompt/completion pairs, and TRL masks
the prompt's tokens (`completion_only_loss`), which works with any chat template (see
`format.prompt_completion_row`). The run folder holds::

    RUN/checkpoint-N/      trainer checkpoints (+ config.yaml), the last one is resumed automatically
    RUN/final/             the model: a LoRA adapter + tokenizer, or a full model; `load_model(RUN/final)`
    RUN/merged/            the adapter merged into its base (with `merge: true`)
    RUN/config.yaml        the resolved config
    RUN/snapshots/ID/      the train/validation rows the run saw (see `thinktune.data.snapshot`)
    RUN/metrics.jsonl      one row per log: loss, learning rate, tokens/s (and eval loss at the end)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinktune.config import ConfigError, save_config, to_dict
from thinktune.io import append_jsonl
from thinktune.training import LoraSettings

BUILTIN_PREFIX = "builtin:"
SNAPSHOT_PREFIX = "snapshot:"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "resources" / "datasets"
FINAL, MERGED = "final", "merged"
BASE_FILE = "thinktune_base.json"  # in an adapter folder: the model spec the adapter was trained on


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


CONFIG_CLASS = SFTJobConfig


# ------------------------------------------------------------------------------------------ the recipe
def run(cfg: SFTJobConfig) -> Path:
    """Train, save `RUN/final` (+ `RUN/merged`), write config and metrics; returns the run folder."""
    from thinktune.data.snapshot import save_snapshot

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.resume:
        check_resumable(cfg, last_checkpoint(out))
    save_config(cfg, out / "config.yaml")

    snap = load_split(cfg)
    save_snapshot(snap, out / "snapshots")  # the exact rows this run saw, named by their hash
    trainer = build_trainer(cfg, snap)
    last = last_checkpoint(out) if cfg.resume else None
    append_jsonl(out / "metrics.jsonl", {
        "event": "start", "job": cfg.job, "model": cfg.model, "snapshot": snap.id,
        "train_rows": len(snap.train), "val_rows": len(snap.validation),
        "resumed_from": last.name if last else None, "start_step": _checkpoint_step(last) if last else 0,
    })
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    if snap.validation:
        trainer.evaluate()  # eval_loss goes to metrics.jsonl through the logger callback

    final = save_final(trainer, cfg, out / FINAL)
    if cfg.merge and (final / "adapter_config.json").is_file():
        shutil.rmtree(out / MERGED, ignore_errors=True)  # this run's own previous merge
        merge_adapter(final, out / MERGED)
    return out


def build_trainer(cfg: SFTJobConfig, snap: Any) -> Any:
    """The configured `SFTTrainer` for a split `snap` (viewed and tokenized, the model loaded)."""
    from datasets import Dataset
    from trl import SFTTrainer

    from thinktune import format as fmt
    from thinktune.data.views import sft_rows
    from thinktune.models import load_model
    from thinktune.training import make_metrics_logger

    try:
        train_rows, val_rows = sft_rows(snap.train, cfg.job), sft_rows(snap.validation, cfg.job)
    except ValueError as e:
        raise ConfigError(f"data {cfg.data}: {e}") from None
    out = Path(cfg.output_dir)
    args = sft_args(cfg)  # before the model loads, so a bad setting fails fast

    model, tokenizer = load_model(cfg.model)
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

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[
            make_metrics_logger(out / "metrics.jsonl", extra={"job": cfg.job}),
            _config_beside_checkpoints(cfg),
        ],
    )
    return trainer


def sft_args(cfg: SFTJobConfig) -> Any:
    """TRL's `SFTConfig` for a job: completion-only loss, non-padding tokens counted for tokens/s."""
    from trl import SFTConfig

    from thinktune.training import cpu_safe_args

    try:
        return SFTConfig(**_trainer_kwargs(cfg), **cpu_safe_args())
    except ValueError as e:  # e.g. an unknown lr_scheduler name
        raise ConfigError(f"invalid training setting: {str(e).splitlines()[0]}") from None


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
def resolve_data(spec: str) -> str:
    """A data spec as `read_examples` takes it: `builtin:NAME` becomes the shipped JSONL file's path.

    Files and `hf:NAME[:CONFIG[:SPLIT]]` pass through unchanged.
    """
    if not spec.startswith(BUILTIN_PREFIX):
        return spec
    path = BUILTIN_DIR / f"{spec[len(BUILTIN_PREFIX):]}.jsonl"
    if not path.is_file():
        known = ", ".join(BUILTIN_PREFIX + p.stem for p in sorted(BUILTIN_DIR.glob("*.jsonl")))
        raise ConfigError(f"data: no built-in dataset {spec!r} (known: {known})")
    return str(path)


def load_split(cfg: SFTJobConfig) -> Any:
    """The job's data as a `Snapshot` (train + validation, named by a content hash).

    `data` may name a saved snapshot (`snapshot:ID`, or a snapshot folder): its split is used as it is.
    Otherwise the rows are read (`limit` first) and split deterministically with `val_fraction`/`seed`.
    """
    from thinktune.data.readers import read_examples
    from thinktune.data.snapshot import load_snapshot, make_snapshot

    spec = cfg.data
    if spec.startswith(SNAPSHOT_PREFIX) or (Path(spec) / "snapshot.json").is_file():
        return load_snapshot(spec.removeprefix(SNAPSHOT_PREFIX))
    source = resolve_data(spec)
    if not source.startswith("hf:") and not Path(source).is_file():
        raise ConfigError(f"data: {source}: file not found")
    examples = read_examples(source, limit=cfg.limit)
    return make_snapshot(examples, cfg.val_fraction, cfg.seed, source=spec)


# ------------------------------------------------------------------------------- checkpoints and saving
def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The `checkpoint-N` folder with the highest N that holds a trainer state, or None."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    done = [p for p in run_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    done = [p for p in done if p.name.split("-", 1)[1].isdigit()]
    return max(done, key=_checkpoint_step) if done else None


# Settings a checkpoint's weights and optimizer state depend on: resuming under other values would silently
# mix two runs. (Step counts, learning rate and logging may change: a longer run resumes a shorter one.)
RESUME_KEYS = ("job", "model", "data", "limit", "val_fraction", "seed", "lora", "add_reasoning_tokens",
               "max_length")


def check_resumable(cfg: SFTJobConfig, checkpoint: Path | None) -> None:
    """Raise `ConfigError` naming every `RESUME_KEYS` setting that differs from `checkpoint`'s config.yaml."""
    if checkpoint is None or not (checkpoint / "config.yaml").is_file():
        return
    import yaml

    saved = yaml.safe_load((checkpoint / "config.yaml").read_text(encoding="utf-8")) or {}
    now = to_dict(cfg)
    diff = [f"{k}: {saved.get(k)!r} there, {now[k]!r} now" for k in RESUME_KEYS if k in saved and saved[k] != now[k]]
    if diff:
        raise ConfigError(
            f"output_dir {cfg.output_dir}: {checkpoint.name} was trained with other settings ({'; '.join(diff)}); "
            "use a new output_dir, or --set resume=false to train from scratch there"
        )


def _checkpoint_step(path: Path) -> int:
    return int(path.name.split("-", 1)[1])


def _config_beside_checkpoints(cfg: SFTJobConfig) -> Any:
    """A callback writing the resolved config into every `checkpoint-N` folder as it is saved."""
    from transformers import TrainerCallback

    class ConfigBesideCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                save_config(cfg, folder / "config.yaml")

    return ConfigBesideCheckpoint()


def save_final(trainer: Any, cfg: SFTJobConfig, folder: Path) -> Path:
    """Save the trained model (adapter or full) + tokenizer + config to `folder`, loadable by `load_model`.

    An adapter records the base it was trained on in `base_model_name_or_path`; for the `default` and
    `tiny` specs thinktune writes the spec itself (the cached path is machine-specific, and `tiny` has no
    path at all: it is rebuilt from its seed), and keeps the spec in `thinktune_base.json` too.
    """
    if folder.exists():
        shutil.rmtree(folder)
    trainer.model.save_pretrained(str(folder))
    trainer.processing_class.save_pretrained(str(folder))
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        base = _portable_base(cfg.model)
        data = json.loads(adapter_config.read_text())
        data["base_model_name_or_path"] = base
        adapter_config.write_text(json.dumps(data, indent=2))
        (folder / BASE_FILE).write_text(json.dumps({"base": base, "job": cfg.job}))
    save_config(cfg, folder / "config.yaml")
    return folder


def _portable_base(spec: str) -> str:
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.exists() else spec


def final_folder(run_or_folder: str | Path) -> Path:
    """`RUN/final` for a run folder, or the folder itself when it already holds a model or adapter."""
    path = Path(run_or_folder)
    if (path / FINAL).is_dir():
        return path / FINAL
    if (path / "config.json").is_file() or (path / "adapter_config.json").is_file():
        return path
    raise FileNotFoundError(f"{path}: neither a run folder (no {FINAL}/) nor a model or adapter folder")


def merge_adapter(run_or_folder: str | Path, out: str | Path) -> Path:
    """Merge a LoRA adapter into its base (PEFT `merge_and_unload`) and save a plain model folder at `out`.

    A full-model folder is copied as it is. The result loads with `load_model(out)` and needs no PEFT.

    Raises:
        FileExistsError: `out` exists and is not empty (nothing is overwritten).
    """
    from thinktune.models import load_model

    src, out = final_folder(run_or_folder), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: already exists and is not empty; choose another folder or remove it")
    if not (src / "adapter_config.json").is_file():
        shutil.copytree(src, out, dirs_exist_ok=True)
        return out
    model, tokenizer = load_model(str(src), device="cpu")
    merged = model.merge_and_unload()
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    if (src / "config.yaml").is_file():
        shutil.copy2(src / "config.yaml", out / "config.yaml")
    return out
