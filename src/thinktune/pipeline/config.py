"""The pipeline job's typed config (light): stages that are jobs, chained by name.

    model: default
    stages:
      - {name: cold_start, kind: sft,    config: {data: builtin:arith_sample, max_steps: 30}}
      - {name: rl,         kind: grpo,   config: {model: "${cold_start}", max_steps: 20}}
      - {name: rs,         kind: sample, config: {teacher: "${rl}", questions: 200, samples: 4}}
      - {name: sft2,       kind: sft,    config: {data: "${rs}"}}
    held_out: {task: arithmetic, limit: 100}

A `${NAME}` in a stage's config names an earlier stage's output: in `data` or `mix_data` its dataset (a
`sample`/`distill` stage's `data.jsonl`), elsewhere its run folder, i.e. its model (`${NAME.model}` and
`${NAME.data}` say which explicitly; `${base}` is the pipeline's `model`). A training or eval stage without a
`model` starts from the last stage that made one (or the base), a `sample` stage without a `teacher` samples
from it. Each stage's `output_dir` is the pipeline's `stages/NN-NAME`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

STAGE_KINDS = ("sft", "grpo", "sample", "distill", "eval")


@dataclass(frozen=True)
class StageSpec:
    """One stage: a job of `kind` whose config is `file` (optional YAML) with `config` keys over it."""

    name: str = field(metadata={"help": "the stage's name (letters, digits, _ and -): later stages refer to ${name}"})
    kind: Literal["sft", "grpo", "sample", "distill", "eval"] = field(metadata={
        "help": "sft, grpo, sample (rejection sampling from the current model, R1's stage 3), distill (a teacher), "
                "eval"})
    config: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "keys of that job's config (as in its YAML); ${stage} references resolved"})
    file: str | None = field(default=None, metadata={"help": "a YAML config of that job; `config` keys override it"})

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name or "") or self.name == "base":
            raise ValueError(f"stage name {self.name!r}: use letters, digits, _ and - (and not 'base')")
        if "output_dir" in self.config:
            raise ValueError(f"stage {self.name}: output_dir is set by the pipeline (stages/NN-{self.name})")


@dataclass(frozen=True)
class HeldOut:
    """The one held-out set every model of the pipeline is measured on at the end (the final report)."""

    task: str = field(default="arithmetic", metadata={"help": "task (or jsonl:PATH) of the held-out questions"})
    task_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "the task's options"})
    split: str = field(default="test", metadata={"help": "split (the test split never overlaps a task's train split)"})
    limit: int = field(default=100, metadata={"help": "held-out questions"})
    max_new_tokens: int = field(default=256, metadata={"help": "token cap per answer (greedy)"})
    batch_size: int = field(default=16, metadata={"help": "questions generated together"})
    base: bool = field(default=True, metadata={"help": "also measure the base model (the first row)"})
    enabled: bool = field(default=True, metadata={"help": "run the final comparison (false: stages only)"})


@dataclass(frozen=True)
class PipelineConfig:
    """A multi-stage recipe (DeepSeek-R1: cold-start SFT, RL, rejection sampling, SFT, RL), one resumable job."""

    model: str = field(default="default", metadata={"help": "the base model every chain starts from (${base})"})
    stages: list[StageSpec] = field(default_factory=list, metadata={"help": "the stages, run in order"})
    held_out: HeldOut = field(default_factory=HeldOut, metadata={"help": "the final comparison (section)"})
    output_dir: str = field(default="runs/pipeline", metadata={
        "help": "run folder: stages/NN-NAME (each stage's run), lineage.json, evals/, report.md/json"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("stages: give at least one stage")
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stages: names must be unique, repeated: {', '.join(dupes)}")
