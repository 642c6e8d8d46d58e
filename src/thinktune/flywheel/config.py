"""The flywheel round's typed config (light: no torch); `thinktune flywheel CONFIG` reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class FlywheelConfig:
    """One round of continuous fine-tuning: score → curate → train → gate → promote."""

    home: str = field(default="runs/flywheel", metadata={
        "help": "the flywheel's folder: registry.json (served versions, history) and rounds/"})
    name: str = field(default="reasoning", metadata={"help": "the served model name the registry points"})
    model: str | None = field(default=None, metadata={
        "help": "the model served before the first round (version v0); later rounds start from the current version"})
    traces: str = field(default="runs/serve", metadata={"help": "the server home holding traces.jsonl"})
    trace_model: str | None = field(default=None, metadata={
        "help": "use only the traces answered by this served model name (default: all)"})
    reference: str = field(default="arithmetic", metadata={
        "help": "where gold answers come from for the verifier and the teacher: a task (arithmetic, gsm8k, "
                "jsonl:PATH, ...); questions are matched by their text"})
    reference_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "the reference task's options"})
    reference_split: str = field(default="train", metadata={"help": "the reference task's split"})
    reference_size: int = field(default=2000, metadata={"help": "reference questions to load"})
    scorers: list[Literal["verifier", "judge", "feedback"]] = field(default_factory=lambda: ["verifier"], metadata={
        "help": "who scores the traces: verifier (the task's), judge (an LLM with `rubric`), feedback (users')"})
    judge: str | None = field(default=None, metadata={
        "help": "the judge: an OpenAI-compatible endpoint http://HOST/v1[#model] (key: $JUDGE_API_KEY)"})
    rubric: str = field(default="1 if the answer is correct and follows from sound reasoning, 0 if it is wrong.",
                        metadata={"help": "what the judge grades by"})
    threshold: float = field(default=1.0, metadata={"help": "keep traces scoring at least this"})
    teacher: str | None = field(default=None, metadata={
        "help": "rewrite traces below the threshold: gold (the reference's gold solution), a model spec or a "
                "URL (its answer kept only when the verifier accepts it); empty: drop them"})
    existing_data: str | None = field(default=None, metadata={
        "help": "the data the current model was trained on (JSONL or snapshot folder): kept, and no duplicate "
                "of it is added"})
    held_out: str = field(default="arithmetic", metadata={
        "help": "the gate's fixed held-out task; none of its questions may enter training"})
    held_out_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "the held-out task's options"})
    held_out_split: str = field(default="test", metadata={"help": "the held-out task's split"})
    held_out_size: int = field(default=100, metadata={"help": "held-out questions the gate asks"})
    sft: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "settings of the retraining SFT job (any SFTJobConfig key: max_steps, batch_size, learning_rate, lora...)"})
    margin: float = field(default=0.0, metadata={"help": "promote only when the new model gains at least this accuracy"})
    alpha: float | None = field(default=0.05, metadata={
        "help": "and only when the one-sided paired (McNemar) test gives p < alpha (null: the margin alone)"})
    max_new_tokens: int = field(default=160, metadata={"help": "the gate's generation budget"})
    batch_size: int = field(default=12, metadata={"help": "the gate's questions generated together"})
    seed: int = field(default=0, metadata={"help": "seed of the held-out draw and of training"})
    output_dir: str | None = field(default=None, metadata={
        "help": "the round's run folder (default: HOME/rounds/round-N; an unfinished round there is resumed)"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if "judge" in self.scorers and not self.judge:
            raise ValueError("scorers: judge needs `judge`, the judge's endpoint URL")
        if self.alpha is not None and not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1) or null, got {self.alpha}")
        if self.held_out_size < 1 or self.reference_size < 1:
            raise ValueError("held_out_size and reference_size must be at least 1")
