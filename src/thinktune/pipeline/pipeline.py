"""The pipeline job: stages that are jobs, chained by name, resumable at the stage it was in.

    RUN/stages/NN-NAME/   each stage's own run folder (its manifest, checkpoints, final model or data.jsonl)
    RUN/lineage.json      every stage: kind, run folder, resolved inputs, status, fingerprints, metrics, times
    RUN/evals/NAME/       the final comparison: each model on the one held-out set (eval runs)
    RUN/report.md, report.json   accuracy, format, tokens and training cost per stage, side by side

A stage that finished with the same resolved config is not run again; a stage that was killed or cancelled
is rerun into its folder, which resumes it (SFT and GRPO from their last checkpoint, sampling question by
question, evaluation from the questions already answered). A changed stage config reruns that stage and,
since their inputs change with it, the stages after it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from thinktune.config import ConfigError
from thinktune.errors import JobCancelled
from thinktune.io import write_json
from thinktune.pipeline.config import HeldOut, PipelineConfig, StageSpec
from thinktune.reporter import Reporter
from thinktune.runs import Run, job_run, read_manifest, same_config

MODEL_KINDS = ("sft", "grpo")  # stages that make a model
DATA_KINDS = ("sample", "distill")  # stages that make a dataset
DATA_KEYS = ("data", "mix_data")
_REF = re.compile(r"\$\{([A-Za-z0-9_-]+)(?:\.(model|data))?\}")


def job_kind(stage_kind: str) -> str:
    """The registered job a stage runs: `sample` is the distill job with the current model as its teacher."""
    return "distill" if stage_kind == "sample" else stage_kind


def stage_folder(root: Path, index: int, stage: StageSpec) -> Path:
    return root / "stages" / f"{index + 1:02d}-{stage.name}"


def resolve(stage: StageSpec, index: int, cfg: PipelineConfig, root: Path) -> dict[str, Any]:
    """The stage's config values with `${...}` references replaced and the defaults a chain implies."""
    earlier = {s.name: (i, s) for i, s in enumerate(cfg.stages[:index])}
    later = {s.name for s in cfg.stages[index:]}

    def output(name: str, what: str, key: str) -> str:
        if name == "base":
            if what == "data":
                raise ConfigError(f"stage {stage.name}: {key}: ${{base}} is a model, not data")
            return cfg.model
        if name not in earlier:
            where = "a later stage" if name in later else "no stage"
            raise ConfigError(f"stage {stage.name}: {key}: ${{{name}}} names {where}; refer to an earlier one")
        i, s = earlier[name]
        folder = stage_folder(root, i, s)
        if what == "data":
            if s.kind not in DATA_KINDS:
                raise ConfigError(f"stage {stage.name}: {key}: stage {name} ({s.kind}) makes no dataset")
            return str(folder / "data.jsonl")
        if s.kind not in MODEL_KINDS:
            raise ConfigError(f"stage {stage.name}: {key}: stage {name} ({s.kind}) makes no model")
        return str(folder)

    def sub(value: Any, key: str) -> Any:
        if isinstance(value, str):
            default = "data" if key.split(".")[-1] in DATA_KEYS else "model"
            return _REF.sub(lambda m: output(m.group(1), m.group(2) or default, key), value)
        if isinstance(value, dict):
            return {k: sub(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, key) for v in value]
        return value

    values = {k: sub(v, k) for k, v in stage.config.items()}
    last_model = next((str(stage_folder(root, i, s)) for i, s in reversed(list(enumerate(cfg.stages[:index])))
                       if s.kind in MODEL_KINDS), cfg.model)
    if stage.kind in ("sft", "grpo", "eval") and "model" not in values and not stage.file:
        values["model"] = last_model
    if stage.kind == "sample" and "teacher" not in values and not stage.file:
        values["teacher"] = last_model
    values["output_dir"] = str(stage_folder(root, index, stage))
    if "progress" not in values and stage.kind in ("sample", "distill", "eval"):
        values["progress"] = cfg.progress
    return values


def stage_config(stage: StageSpec, values: dict[str, Any]) -> Any:
    from thinktune.jobs import load_job_config

    try:
        return load_job_config(job_kind(stage.kind), stage.file, preset=values)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"stage {stage.name} ({stage.kind}): {e}") from None


def run(cfg: PipelineConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Run the stages in order (skipping those already done), then the held-out comparison."""
    from thinktune.jobs import run_job

    root = Path(cfg.output_dir)
    resolved = [resolve(s, i, cfg, root) for i, s in enumerate(cfg.stages)]
    configs = [stage_config(s, v) for s, v in zip(cfg.stages, resolved, strict=True)]  # all checked up front
    with job_run(root, "pipeline", cfg, reporter, parent=parent, model=cfg.model) as writer:
        lineage = {"base": cfg.model, "stages": []}
        rerun_rest = False  # once a stage runs, every stage after it runs on its new output
        for i, (stage, stage_cfg) in enumerate(zip(cfg.stages, configs, strict=True)):
            writer.check_cancel()
            folder = stage_folder(root, i, stage)
            prior = Run.load(folder) if read_manifest(folder) else None
            same = prior is not None and same_config(folder, stage_cfg)
            if prior is not None and prior.ok and same and not rerun_rest:
                writer.event("stage_skipped", f"{stage.name}: done already", stage=stage.name)
                result = prior
            else:
                if prior is not None and (prior.ok or not same):
                    _clear(folder)  # stale (its inputs changed) or made with other settings: from scratch
                rerun_rest = True
                writer.event("stage", f"[{i + 1}/{len(cfg.stages)}] {stage.name} ({stage.kind})", stage=stage.name,
                             stage_kind=stage.kind, folder=str(folder))
                result = run_job(job_kind(stage.kind), stage_cfg, reporter)
            lineage["stages"].append(_lineage_row(stage, folder, resolved[i], result))
            write_json(root / "lineage.json", lineage)
            if result.status == "cancelled":
                raise JobCancelled(f"{stage.name}: cancelled")
            if not result.ok:
                raise RuntimeError(f"stage {stage.name} ended {result.status}: {result.error}")
            writer.metrics[f"{stage.name}"] = {k: v for k, v in result.metrics.items() if _scalar(v)}
        if cfg.held_out.enabled:
            writer.check_cancel()
            report = compare_stages(cfg, root, reporter, lineage)
            writer.metrics["held_out"] = {r["name"]: r["strict_accuracy"] for r in report["rows"]}
        writer.event("summary", f"{len(cfg.stages)} stages done")
    return Run.load(root)


def _clear(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder)


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


def _lineage_row(stage: StageSpec, folder: Path, values: dict[str, Any], result: Run) -> dict[str, Any]:
    m = result.manifest
    return {
        "name": stage.name, "kind": stage.kind, "run": str(folder), "status": result.status,
        "inputs": {k: values[k] for k in ("model", "teacher", "student", "data", "mix_data") if values.get(k)},
        "parent": result.parent, "fingerprints": m.get("fingerprints") or {},
        "metrics": {k: v for k, v in result.metrics.items() if _scalar(v)},
        "started": result.started, "ended": result.ended, "wall_s": _wall(result),
    }


def _wall(run: Run) -> float | None:
    """Seconds the stage ran, from its events (summing attempts: a resumed stage's pauses are not counted)."""
    events = run.folder / "events.jsonl"
    if not events.exists():
        return None
    import datetime as dt

    total, start = 0.0, None
    for line in events.read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
            t = dt.datetime.fromisoformat(e["time"]).timestamp()
        except (ValueError, KeyError, TypeError):
            continue
        if e.get("event") in ("start", "resume"):
            start = t
        elif e.get("event") in ("finish", "cancel", "failed", "interrupted") and start is not None:
            total += t - start
            start = None
    return round(total, 1)


# ----------------------------------------------------------------------------------- the comparison
def compare_stages(cfg: PipelineConfig, root: Path, reporter: Reporter | None, lineage: dict[str, Any]) -> dict[str, Any]:
    """Every model of the pipeline (the base, then each sft/grpo stage) greedily on one held-out set.

    A model's evaluation is kept across reruns only while the model and the held-out settings are the
    same (a retrained stage, or other held-out settings, are evaluated afresh)."""
    from thinktune.evaluation.harness import strict_verdicts
    from thinktune.evaluation.metrics import paired_comparison
    from thinktune.jobs import run_job
    from thinktune.runs import Phase

    h = cfg.held_out
    models = ([("base", cfg.model, None)] if h.base else []) + [
        (s["name"], s["run"], s) for s in lineage["stages"] if s["kind"] in MODEL_KINDS]
    rows, questions = [], {}
    for name, model, stage in models:
        key = {"held_out": dataclasses.asdict(h), "model": model, "trained": (stage or {}).get("ended")}
        phase = Phase(f"eval {name}", root / "evals" / name, key)
        phase.begin()  # other held-out settings, or a model trained again since: evaluated afresh
        result = run_job("eval", held_out_eval(h, model, root / "evals" / name, name, cfg.progress), reporter)
        if result.status == "cancelled":
            raise JobCancelled("held-out evaluation cancelled")
        m = result.metrics
        questions[name] = strict_verdicts(result.folder)
        rows.append({"name": name, "kind": stage["kind"] if stage else "base", "model": model,
                     "strict_accuracy": m.get("strict_accuracy"), "format_rate": m.get("format_rate"),
                     "tokens_per_question": m.get("output_tokens_mean"), "s_per_question": m.get("s_per_question"),
                     "n": m.get("n_questions"), "train_wall_s": stage["wall_s"] if stage else 0.0})
    cumulative = 0.0
    for r in rows:
        cumulative += r["train_wall_s"] or 0.0
        r["cumulative_train_s"] = round(cumulative, 1)
    for prev, r in zip(rows, rows[1:], strict=False):
        r["vs_previous"] = paired_comparison(questions[prev["name"]], questions[r["name"]])
    report = {"held_out": dataclasses.asdict(h), "rows": rows, "stages": lineage["stages"]}
    write_json(root / "report.json", report)
    (root / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return report


def held_out_eval(h: HeldOut, model: str, output_dir: str | Path, label: str, progress: bool = True) -> Any:
    """The greedy evaluation of `model` on the held-out set `h` (the report's, or a checkpoint's on the same
    questions), as an `EvalJobConfig` writing to `output_dir`."""
    from thinktune.evaluation.config import EvalJobConfig

    return EvalJobConfig(model=model, task=h.task, task_options=dict(h.task_options), split=h.split, limit=h.limit,
                         max_new_tokens=h.max_new_tokens, batch_size=h.batch_size, strategy="greedy",
                         output_dir=str(output_dir), label=label, progress=progress)


def report_markdown(report: dict[str, Any]) -> str:
    h = report["held_out"]
    lines = [f"# Pipeline: every stage on one held-out set ({h['task']} {h['split']}, {h['limit']} questions, greedy)", "",
             "| stage | kind | strict acc | format | tokens/q | s/q | train s | cumulative s | vs previous (wins/losses, p) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["rows"]:
        vs = r.get("vs_previous")
        lines.append(
            f"| {r['name']} | {r['kind']} | {_pct(r['strict_accuracy'])} | {_pct(r['format_rate'])} | "
            f"{_num(r['tokens_per_question'])} | {_num(r['s_per_question'], 3)} | {_num(r['train_wall_s'], 0)} | "
            f"{_num(r['cumulative_train_s'], 0)} | "
            + (f"{vs['delta_points']:+.1f} pts (+{vs['wins']}/-{vs['losses']}, p={vs['p_value']:.3f})" if vs else "–") + " |")
    lines += ["", "## Stages", "", "| # | stage | kind | inputs | status | wall s | key metrics |", "|---|---|---|---|---|---:|---|"]
    for i, s in enumerate(report["stages"], 1):
        inputs = ", ".join(f"{k}={Path(v).name if '/' in str(v) else v}" for k, v in s["inputs"].items())
        metrics = ", ".join(f"{k}={_num(v) if isinstance(v, float) else v}" for k, v in list(s["metrics"].items())[:5])
        lines.append(f"| {i} | {s['name']} | {s['kind']} | {inputs} | {s['status']} | {_num(s['wall_s'], 0)} | {metrics} |")
    return "\n".join(lines) + "\n"


def _pct(x: Any) -> str:
    return "–" if x is None else f"{x:.1%}"


def _num(x: Any, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"

