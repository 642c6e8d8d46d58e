"""`report_to` and `trainer_args`: a short tiny-model SFT and GRPO run write a TensorBoard log (read back
here) that holds TRL's metrics and, for GRPO, thinktune's own (accuracy, format rate, alarms); any TRL
config field passes through `trainer_args`, and an unknown one is an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktune.config import ConfigError
from thinktune.jobs import load_job_config, run_job

pytest.importorskip("tensorboard", reason="the tensorboard tracker is a dev dependency (pip install -e '.[dev]')")

SFT = ["model=tiny", "data=builtin:arith_sample", "limit=8", "val_fraction=0.0", "batch_size=2", "max_steps=2",
       "max_length=128", "lora.r=4", "lora.alpha=8", "save_steps=0", "report_to=[tensorboard]"]
GRPO = ["model=tiny", "max_steps=2", "max_completion_length=8", "prompts_per_step=2", "num_generations=2",
        "train_size=8", "task_options={ops: 1, digits: 1}", "report_to=[tensorboard]",
        "rewards=[{name: accuracy}, {name: tag_count, weight: 0.5}]"]


def scalars(folder: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = list(folder.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event file under {folder}"
    out: dict[str, list[float]] = {}
    for f in files:
        acc = EventAccumulator(str(f))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend(e.value for e in acc.Scalars(tag))
    return out


def test_sft_logs_to_tensorboard_and_passes_trainer_args_through(tmp_path):
    out = tmp_path / "sft"
    from thinktune.recipes.sft import sft_args

    cfg = load_job_config("sft", None, [*SFT, f"output_dir={out}", "trainer_args={max_grad_norm: 0.5, seed: 3}"])
    args = sft_args(cfg)
    assert args.max_grad_norm == 0.5 and args.seed == 3 and args.report_to == ["tensorboard"]
    assert run_job("sft", cfg).status == "succeeded"
    logged = scalars(out)  # transformers writes under OUT/runs/ (or $TENSORBOARD_LOGGING_DIR)
    assert len(logged["train/loss"]) == 2 and all(v > 0 for v in logged["train/loss"])


def test_grpo_logs_thinktunes_metrics_and_alarms_to_the_tracker(tmp_path):
    out = tmp_path / "grpo"
    cfg = load_job_config("grpo", None, [*GRPO, f"output_dir={out}"])
    assert run_job("grpo", cfg).status == "succeeded"
    logged = scalars(out)
    for tag in ("train/thinktune/accuracy", "train/thinktune/format_rate", "train/thinktune/alarm/no_signal"):
        assert len(logged[tag]) == 2, sorted(logged)
    assert all(v in (0.0, 1.0) for v in logged["train/thinktune/alarm/no_signal"])
    assert "train/reward" in logged


@pytest.mark.parametrize(("overrides", "message"), [
    (["trainer_args={max_grad_nrom: 1}"], r"trainer_args.max_grad_nrom: not a field of TRL's SFTConfig \(did you mean 'max_grad_norm'\?\)"),
    (["trainer_args={output_dir: x}"], r"trainer_args.output_dir: set by thinktune itself"),
    (["report_to=[tensorbored]"], r"report_to: unknown tracker\(s\) tensorbored"),
])
def test_bad_tracker_settings_are_one_line_errors(tmp_path, overrides, message):
    from thinktune.recipes.sft import sft_args

    cfg = load_job_config("sft", None, ["model=tiny", f"output_dir={tmp_path}", *overrides])
    with pytest.raises(ConfigError, match=message):
        sft_args(cfg)
