"""Several processes: `accelerate launch` of SFT and GRPO on CPU (gloo, 2 processes) on the tiny model. The
2-process SFT's loss matches the 1-process run at the same effective batch; rank 0 alone writes the run
folder; the shipped accelerate configs load with accelerate's own reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SFT = ["model=tiny", "data=builtin:arith_sample", "limit=16", "val_fraction=0.0", "learning_rate=0.01",
       "warmup_ratio=0.0", "lr_scheduler=constant", "max_length=128", "lora.r=4", "lora.alpha=8", "max_steps=3",
       "save_steps=0", "logging_steps=1", "seed=0"]
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "thinktune"]


def _sets(values: list[str]) -> list[str]:
    return [arg for v in values for arg in ("--set", v)]


def _run(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _losses(folder: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (folder / "metrics.jsonl").read_text().splitlines()
            if '"loss"' in line]


def test_two_process_sft_matches_one_process_at_the_same_effective_batch(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, "-m", "thinktune", "train", "sft", *_sets([*SFT, "batch_size=4", f"output_dir={one}"])],
         tmp_path)
    _run([*LAUNCH, "train", "sft", *_sets([*SFT, "batch_size=2", f"output_dir={two}"])], tmp_path)
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 3
    # the same rows reach each step (2 x 2 vs 4); per-device loss averaging differs in token weighting only
    assert all(abs(x - y) / x < 0.01 for x, y in zip(a, b, strict=True)), (a, b)
    events = [json.loads(line)["event"] for line in (two / "events.jsonl").read_text().splitlines()]
    assert events.count("start") == 1 and events.count("finish") == 1  # rank 0 alone wrote the run folder
    manifest = json.loads((two / "run.json").read_text())
    assert manifest["status"] == "succeeded" and (two / "final" / "adapter_config.json").is_file()
    assert not (two / "run.lock").exists()


def test_two_process_grpo_runs_and_logs_each_step_once(tmp_path):
    out = tmp_path / "grpo"
    _run([*LAUNCH, "train", "grpo", *_sets([
        "model=tiny", "max_completion_length=8", "prompts_per_step=2", "num_generations=2", "train_size=8",
        "learning_rate=0.01", "task_options={ops: 1, digits: 1}", "sample_completions=1", "max_steps=2",
        f"output_dir={out}"])], tmp_path)
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    assert json.loads((out / "run.json").read_text())["status"] == "succeeded"


@pytest.mark.parametrize("name, kind", [("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("zero2", "DEEPSPEED"),
                                        ("zero3", "DEEPSPEED")])
def test_shipped_accelerate_configs_load(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(ROOT / "configs" / "accelerate" / f"{name}.yaml"))
    assert cfg.distributed_type.name == kind and cfg.num_processes >= 2 and not cfg.use_cpu
    if name.startswith("zero"):
        assert cfg.deepspeed_config["zero_stage"] == int(name[-1])
    if name == "fsdp":
        assert cfg.fsdp_config["fsdp_sharding_strategy"] == "FULL_SHARD"
