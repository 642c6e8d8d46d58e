"""The distill job's typed config (light: no torch, no transformers); `thinktune distill` reads it.

    thinktune distill configs/recipes/sky_t1.yaml
    thinktune distill --set teacher=http://127.0.0.1:8000/v1 --set task=word_problems --set questions=200
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class DistillConfig:
    """Collect a teacher's reasoning traces and keep the good ones (rejection sampling); the YAML mirrors these."""

    teacher: str = field(default="default", metadata={
        "help": "the teacher: a model spec (default, a folder or run folder, a .gguf, a Hub id) or an "
                "OpenAI-compatible endpoint http(s)://HOST/v1[#model] (thinktune serve, vLLM, SGLang, Ollama, hosted)"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={
        "help": "environment variable holding the endpoint's API key (unset: the placeholder EMPTY, which local servers ignore)"})
    task: str | None = field(default="word_problems", metadata={
        "help": "questions from a task (arithmetic, countdown, word_problems, gsm8k, rg:NAME, jsonl:PATH); "
                "empty when `data` is given"})
    task_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "the task's options"})
    mix_key: str | None = field(default=None, metadata={
        "help": "a task option varied to mix difficulties (ops, steps...): `questions` split evenly over "
                "mix_values, and the per-category report and cap use it unless category_key says otherwise"})
    mix_values: list[Any] = field(default_factory=list, metadata={"help": "values of mix_key, in equal shares"})
    split: str = field(default="train", metadata={"help": "task split the questions come from"})
    data: str | None = field(default=None, metadata={
        "help": "questions (with gold answers) from a dataset in any form `thinktune data` reads, instead of a task"})
    questions: int = field(default=200, metadata={"help": "questions to ask (the first N of the task or dataset)"})
    samples: int = field(default=4, metadata={"help": "teacher samples per question (N)"})
    keep: int = field(default=1, metadata={"help": "rows kept per question at most (k)"})
    prefer: Literal["shortest", "diverse", "first"] = field(default="shortest", metadata={
        "help": "which accepted samples are kept first: shortest thinking, most different from those kept, "
                "or in sampling order"})
    verify: bool = field(default=True, metadata={
        "help": "rejection sampling: keep only samples whose answer the task's verifier accepts (false: keep "
                "unverified traces, still recording whether each was right)"})
    strict_format: bool = field(default=True, metadata={
        "help": "keep only samples in the exact <think>…</think><answer>…</answer> form"})
    min_thinking_tokens: int = field(default=1, metadata={"help": "drop samples whose thinking is shorter (tokens)"})
    max_thinking_tokens: int | None = field(default=None, metadata={
        "help": "drop samples whose thinking is longer (tokens; empty: no bound)"})
    dedupe: bool = field(default=True, metadata={
        "help": "drop a sample whose thinking repeats one already kept for the question, and repeated questions"})
    student: str | None = field(default=None, metadata={
        "help": "s1-style difficulty filter: a model spec; only the questions it answers wrong (greedy) are distilled"})
    category_key: str | None = field(default=None, metadata={
        "help": "a question field (meta key, e.g. steps, ops, level) for the per-category report and cap"})
    max_per_category: int | None = field(default=None, metadata={
        "help": "diversity: rows kept per category at most (needs category_key; empty: no cap)"})
    reasoning: bool = field(default=True, metadata={"help": "ask the teacher for <think>/<answer> (thinktune's prompt)"})
    max_new_tokens: int = field(default=256, metadata={"help": "token cap per teacher sample"})
    temperature: float = field(default=0.8, metadata={"help": "teacher sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "teacher nucleus sampling"})
    seed: int = field(default=0, metadata={"help": "sampling seed (and the task's draw)"})
    batch_size: int = field(default=8, metadata={"help": "questions per generate call (a local teacher)"})
    concurrency: int = field(default=8, metadata={"help": "requests in flight at once (an HTTP teacher)"})
    timeout: float = field(default=120.0, metadata={"help": "seconds per HTTP request"})
    retries: int = field(default=3, metadata={"help": "retries of a failed HTTP request (with exponential back-off)"})
    backoff: float = field(default=1.0, metadata={"help": "seconds before the first retry, doubled each time"})
    mix_data: str | None = field(default=None, metadata={
        "help": "R1 stage 3: rows added to the output as they are (e.g. non-reasoning rows; a row without "
                "thinking is trained with an empty <think></think>, as Qwen3's no-thinking mode renders it)"})
    mix_rows: int = field(default=0, metadata={"help": "how many rows of mix_data to add (0: all of them)"})
    dtype: Literal["float32", "bfloat16", "float16"] = field(default="float32", metadata={
        "help": "local teacher/student weights"})
    output_dir: str = field(default="runs/distill", metadata={
        "help": "run folder: samples.jsonl (every sample, question by question), data.jsonl, report.md/json"})
    progress: bool = field(default=True, metadata={"help": "progress bar"})

    def __post_init__(self) -> None:
        for name in ("questions", "samples", "keep", "max_new_tokens", "batch_size", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.keep > self.samples:
            raise ValueError(f"keep ({self.keep}) cannot exceed samples ({self.samples})")
        if bool(self.task) == bool(self.data):
            raise ValueError("give exactly one of task and data (set the other to null)")
        if bool(self.mix_key) != bool(self.mix_values) or (self.mix_key and self.data):
            raise ValueError("mix_key and mix_values go together, with a task (not data)")
        if self.max_per_category is not None and not (self.category_key or self.mix_key):
            raise ValueError("max_per_category needs category_key")
        if self.max_thinking_tokens is not None and self.max_thinking_tokens < self.min_thinking_tokens:
            raise ValueError("max_thinking_tokens must be at least min_thinking_tokens")
        if self.retries < 0 or self.timeout <= 0 or self.mix_rows < 0:
            raise ValueError("retries and mix_rows must be >= 0, timeout > 0")
