"""The evaluation job: `run(EvalJobConfig, reporter) -> Run`, what `thinktune eval` and the studio call.

It loads the task's questions, runs the harness (`evaluation.harness.evaluate`) into the run folder, and
records the key metrics in the run's manifest. The run folder holds the harness's files (eval.json,
samples.jsonl, metrics.json, report.md/html) beside the manifest (`thinktune.runs`). A cancel stops between
batches with every answered question saved; a rerun asks only the questions left.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from thinktune.config import ConfigError
from thinktune.evaluation.config import EvalJobConfig
from thinktune.evaluation.harness import evaluate
from thinktune.reporter import Reporter
from thinktune.runs import Run, job_run
from thinktune.tasks import load_task

CONFIG_CLASS = EvalJobConfig
KEY_METRICS = ("strict_accuracy", "lenient_accuracy", "format_rate", "output_tokens_mean", "s_per_question",
               "n_questions")


def run(cfg: EvalJobConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Evaluate `cfg.model` on `cfg.task` with `cfg.strategy`; returns the `Run` (metrics in `run.metrics`)."""
    out = Path(cfg.run_folder())
    cfg = dataclasses.replace(cfg, output_dir=str(out))
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    try:
        examples = load_task(cfg.task, split=cfg.split, n=cfg.limit, seed=cfg.seed, **cfg.task_options)
    except (ValueError, FileNotFoundError) as e:
        raise ConfigError(f"task {cfg.task}: {e}") from None
    if cfg.limit is not None:
        examples = examples[: cfg.limit]
    if not examples:
        raise ConfigError(f"task {cfg.task!r} gave no questions")
    with job_run(out, "eval", cfg, reporter, parent=parent, model=cfg.model, data=cfg.task) as writer:
        try:
            result = evaluate(cfg.model, examples, cfg.strategy, dtype=cfg.dtype, reasoning=cfg.reasoning,
                              max_new_tokens=cfg.max_new_tokens, n=cfg.n, out_dir=out, engine=cfg.engine,
                              seed=cfg.seed, batch_size=cfg.batch_size, progress=cfg.progress, reporter=reporter,
                              max_question_chars=cfg.max_question_chars, long_questions=cfg.long_questions,
                              label=cfg.label or f"{cfg.model}/{cfg.strategy}", **cfg.options)
        except (ValueError, ImportError) as e:
            raise ConfigError(str(e)) from None
        writer.metrics.update({k: result.metrics.get(k) for k in KEY_METRICS if k in result.metrics})
    return Run.load(out)
