"""Jobs: one interface for everything that runs long.

A job is a frozen typed config plus a function `run(config, reporter) -> Run`. Every kind is listed once,
explicitly, in `JOBS`; the CLI, the studio's worker and pipelines call the same entry point:

    from thinktune.jobs import load_job_config, run_job
    cfg = load_job_config("sft", "configs/sft_quickstart.yaml", ["max_steps=5"])
    run = run_job("sft", cfg)            # a thinktune.runs.Run: folder, status, metrics, parent
    run.status, run.final

Config classes live in light modules (no torch at import), the runners in the heavy ones; both are named
here by import path and loaded only when asked for, so listing the jobs or reading a config stays fast.
The run folder each job leaves is described in `thinktune.runs`; progress, events and cancellation go
through a `thinktune.reporter.Reporter`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktune.config import load_config
from thinktune.errors import UserError
from thinktune.reporter import Reporter
from thinktune.runs import Run


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its name, its config class and its runner, by import path (`module:attribute`)."""

    name: str
    config: str
    runner: str
    help: str

    def config_class(self) -> type:
        return _attribute(self.config)

    def run_function(self) -> Callable[..., Run]:
        return _attribute(self.runner)


JOBS: dict[str, JobKind] = {
    "sft": JobKind("sft", "thinktune.recipes.config:SFTJobConfig", "thinktune.recipes.sft:run",
                   "supervised fine-tuning, reasoning or non-reasoning"),
    "grpo": JobKind("grpo", "thinktune.recipes.config:GRPOJobConfig", "thinktune.recipes.grpo:run",
                    "reinforcement learning from verifiable rewards (R1-Zero style)"),
    "eval": JobKind("eval", "thinktune.evaluation.config:EvalJobConfig", "thinktune.evaluation.job:run",
                    "evaluate a model with an inference strategy"),
    "compare": JobKind("compare", "thinktune.compare.config:CompareConfig", "thinktune.compare.compare:run",
                       "reasoning vs non-reasoning fine-tuning, measured"),
    "flywheel": JobKind("flywheel", "thinktune.flywheel.config:FlywheelConfig", "thinktune.flywheel.round:run",
                        "one round of continuous fine-tuning: score, curate, retrain, gate, promote"),
    "score": JobKind("score", "thinktune.flywheel.config:FlywheelConfig", "thinktune.flywheel.round:score",
                     "score served traces by the verifier, an LLM judge or feedback"),
    "distill": JobKind("distill", "thinktune.distill.config:DistillConfig", "thinktune.distill.distill:run",
                       "collect a teacher's reasoning traces and keep the verified ones (rejection sampling)"),
    "pipeline": JobKind("pipeline", "thinktune.pipeline.config:PipelineConfig", "thinktune.pipeline.pipeline:run",
                        "stages that are jobs (sft, grpo, sample, distill, eval), chained by name: the R1 recipe"),
}


MULTI_PROCESS = ("sft", "grpo")  # kinds that run under `accelerate launch` with several processes


def get_job(kind: str) -> JobKind:
    """The registered job kind `kind`; a `UserError` naming the known kinds otherwise."""
    if kind not in JOBS:
        raise UserError(f"unknown job kind {kind!r}; known: {', '.join(JOBS)}")
    return JOBS[kind]


def load_job_config(kind: str, path: str | Path | None = None, overrides: list[str] | None = None,
                    preset: dict[str, Any] | None = None) -> Any:
    """The typed config of a `kind` job from a YAML file, `preset` values (flags) and `--set` overrides."""
    return load_config(get_job(kind).config_class(), path, overrides, preset=preset)


def run_job(kind: str, config: Any, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Run (or resume) a job; returns its `Run`. A cancelled job returns with status `cancelled`."""
    job = get_job(kind)
    from thinktune.runs import world_size

    if world_size() > 1 and kind not in MULTI_PROCESS:
        raise UserError(f"a {kind} job runs in one process; launch only {' and '.join(MULTI_PROCESS)} with "
                        "accelerate launch / torchrun")
    cls = job.config_class()
    if not isinstance(config, cls):
        raise TypeError(f"a {kind} job takes a {cls.__name__}, got {type(config).__name__}")
    return job.run_function()(config, reporter, parent=parent)


def _attribute(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


__all__ = ["JOBS", "JobKind", "get_job", "load_job_config", "run_job"]
