"""The evaluation job's typed config (light: no torch, no transformers), as `thinktune eval` reads it.

    thinktune eval --model default --task arithmetic --strategy maj@8 --limit 20
    thinktune eval my_eval.yaml --set limit=50 --set options.scorer=format

Flags and YAML keys are the same settings: `--limit 20` is `limit: 20`; the strategy's own options go in
the `options:` mapping (`--set options.rule=esc`), the task's in `task_options:`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class EvalJobConfig:
    """An evaluation: one model, one task, one inference strategy; the YAML file mirrors these fields."""

    model: str = field(default="default", metadata={
        "help": "model spec (default, tiny, a folder or run folder, a .gguf, a Hub id) or a server URL .../v1"})
    task: str = field(default="arithmetic", metadata={
        "help": "arithmetic, countdown, gsm8k, rg:<reasoning-gym name> or jsonl:<path>"})
    strategy: str = field(default="greedy", metadata={
        "help": "greedy, cot, self_consistency, adaptive, best_of_n, ...; NAME@N sets N samples (maj@8)"})
    limit: int | None = field(default=None, metadata={"help": "evaluate only the first N questions"})
    split: str = field(default="test", metadata={"help": "task split"})
    n: int = field(default=1, metadata={"help": "samples per question for sampling strategies"})
    max_new_tokens: int = field(default=256, metadata={"help": "token cap per completion"})
    reasoning: bool = field(default=True, metadata={
        "help": "prompt for <think>/<answer> (true) or for the answer alone (false; the --direct flag)"})
    engine: Literal["hf", "openai", "vllm", "llamacpp"] | None = field(default=None, metadata={
        "help": "backend (default: from the model spec)"})
    batch_size: int = field(default=8, metadata={"help": "questions per strategy call"})
    dtype: Literal["float32", "bfloat16", "float16"] = field(default="float32", metadata={
        "help": "transformers engine weights (bfloat16 is ~1.8x faster on CPUs with AMX)"})
    threads: int | None = field(default=None, metadata={
        "help": "torch CPU threads (1 is much faster on a busy shared machine)"})
    seed: int = field(default=0, metadata={
        "help": "sampling seed; for generated tasks (arithmetic, countdown, rg:) it also picks the questions"})
    output_dir: str | None = field(default=None, metadata={
        "help": "run folder (samples.jsonl, metrics.json, report); a rerun resumes (default: "
                "runs/eval/MODEL__TASK__STRATEGY)"})
    label: str | None = field(default=None, metadata={"help": "the run's name in reports"})
    options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "the strategy's own options, e.g. {scorer: format} or {rule: esc}"})
    task_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "the task's options, e.g. {ops: 2}"})
    max_question_chars: int = field(default=100_000, metadata={
        "help": "questions longer than this (characters) are cut with a warning, or refused (long_questions)"})
    long_questions: Literal["truncate", "refuse"] = field(default="truncate", metadata={
        "help": "what to do with a question past max_question_chars"})
    progress: bool = field(default=True, metadata={"help": "progress bar"})

    def __post_init__(self) -> None:
        for name in ("n", "max_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")

    def run_folder(self) -> str:
        """`output_dir`, or the default `runs/eval/MODEL__TASK__STRATEGY[__direct]`."""
        return self.output_dir or default_out(self.model, self.task, self.strategy, not self.reasoning)


def default_out(model: str, task: str, strategy: str, direct: bool) -> str:
    """`runs/eval/MODEL__TASK__STRATEGY[__direct]`, each part reduced to file-name-safe characters.

    >>> default_out("runs/sft/final", "jsonl:data/my.jsonl", "maj@8", False)
    'runs/eval/runs_sft_final__jsonl_data_my.jsonl__maj@8'
    """
    parts = [model.rstrip("/"), task, strategy] + (["direct"] if direct else [])
    return "runs/eval/" + "__".join(re.sub(r"[^A-Za-z0-9@._-]+", "_", p).strip("_") for p in parts)
