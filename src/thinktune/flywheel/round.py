"""One round of continuous fine-tuning, as a job: score → curate → train → gate → promote.

    thinktune flywheel configs/flywheel.yaml           # `thinktune.jobs` kind `flywheel`

Each phase owns a folder of the round's run folder and a marker (`thinktune.runs.Phase`), so a killed
round resumes at the phase it was in (an interrupted training resumes from its checkpoint, an interrupted
gate evaluation question by question). The round's history row (data version, model, metrics, decision)
goes to the registry (`thinktune.flywheel.gate`), which the server reads to serve the current version.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from thinktune.config import ConfigError
from thinktune.errors import JobCancelled
from thinktune.flywheel import gate, scoring
from thinktune.flywheel.config import FlywheelConfig
from thinktune.flywheel.curate import curate, gold_teacher, model_teacher, save_version
from thinktune.flywheel.traces import add_scores, filter_traces, load_traces
from thinktune.reporter import Reporter
from thinktune.runs import MANIFEST, Phase, Run, RunWriter, job_run, read_manifest

CONFIG_CLASS = FlywheelConfig


def round_folder(cfg: FlywheelConfig) -> Path:
    """`output_dir`, else the last unfinished `HOME/rounds/round-N`, else the next N."""
    if cfg.output_dir:
        return Path(cfg.output_dir)
    rounds = sorted((Path(cfg.home) / "rounds").glob("round-*"), key=lambda p: int(p.name.split("-")[1]))
    if rounds and (read_manifest(rounds[-1]) or {}).get("status") != "succeeded":
        return rounds[-1]
    return Path(cfg.home) / "rounds" / f"round-{len(rounds) + 1}"


def run(cfg: FlywheelConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Run (or resume) one round; returns its `Run` (decision and metrics in `run.metrics`)."""
    out = round_folder(cfg)
    cfg = dataclasses.replace(cfg, output_dir=str(out))
    registry = gate.load_registry(cfg.home)
    if not registry:
        if not cfg.model:
            raise ConfigError(f"home {cfg.home}: no registry yet; give `model`, the model served before round 1")
        registry = gate.init_registry(cfg.home, cfg.name, cfg.model)
    current = registry["versions"][registry["current"]]["model"]
    with job_run(out, "flywheel", cfg, reporter, parent=parent, model=current) as writer:
        _round(cfg, out, current, writer, reporter)
    return Run.load(out)


def score(cfg: FlywheelConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """The scoring job alone (`thinktune.jobs` kind `score`): score every trace not yet scored by each of
    `cfg.scorers`; the scores are appended to the server home's scores.jsonl. Returns the `Run` (counts in
    `run.metrics`)."""
    import time

    from thinktune.tasks import load_task

    out = Path(cfg.output_dir) if cfg.output_dir else Path(cfg.home) / "scoring" / f"score-{int(time.time())}"
    with job_run(out, "score", dataclasses.replace(cfg, output_dir=str(out)), reporter, parent=parent) as writer:
        reference = load_task(cfg.reference, split=cfg.reference_split, n=cfg.reference_size, seed=cfg.seed,
                              **cfg.reference_options) if "verifier" in cfg.scorers else []
        writer.metrics.update(_score(cfg, reference))
    return Run.load(out)


def _round(cfg: FlywheelConfig, out: Path, current: str, writer: RunWriter, reporter: Reporter | None) -> None:
    from thinktune.tasks import load_task

    number = int(out.name.split("-")[1]) if out.name.startswith("round-") else None
    reference = load_task(cfg.reference, split=cfg.reference_split, n=cfg.reference_size, seed=cfg.seed,
                          **cfg.reference_options)
    held_out = load_task(cfg.held_out, split=cfg.held_out_split, n=cfg.held_out_size, seed=cfg.seed,
                         **cfg.held_out_options)[: cfg.held_out_size]

    # 1. score the traces (each scorer once per trace; earlier scores are kept) ---------------------------
    score = Phase("score", out / "score", {"traces": cfg.traces, "scorers": cfg.scorers, "judge": cfg.judge,
                                           "rubric": cfg.rubric, "reference": cfg.reference})
    if not score.done():
        score.begin()
        score.finish(_score(cfg, reference))
    writer.event("phase", "scored", **score.info())
    writer.check_cancel()

    # 2. curate a new dataset version ---------------------------------------------------------------------
    data = Phase("curate", out / "data", {"score": score.fingerprint(), "threshold": cfg.threshold,
                                          "teacher": cfg.teacher, "existing": cfg.existing_data,
                                          "held_out": [cfg.held_out, cfg.held_out_options, cfg.held_out_split,
                                                       cfg.held_out_size, cfg.seed]})
    if not data.done():
        data.begin()
        data.finish(_curate(cfg, reference, held_out, data.folder, number))
    writer.event("phase", "curated", **{k: v for k, v in data.info().items() if k != "path"})
    writer.check_cancel()
    if not data.info().get("new_rows"):
        writer.metrics.update(decision="kept", why="no new training rows passed curation", **data.info())
        gate.record_round(cfg.home, {"round": number, "data_version": data.info().get("snapshot"),
                                     "metrics": {}, "why": "no new rows"}, None, False)
        return

    # 3. retrain from the current model ------------------------------------------------------------------
    trained = _train(cfg, current, Path(data.info()["path"]), out / "train", reporter)

    # 4. gate: old and new on the same held-out questions ------------------------------------------------
    results = {}
    for which, model in (("old", current), ("new", str(trained))):
        results[which] = _evaluate(cfg, model, held_out, out / f"eval_{which}", reporter)
        writer.check_cancel()
    decision = gate.decide(results["old"], results["new"], cfg.margin, cfg.alpha)
    metrics = {"old_accuracy": decision.old_accuracy, "new_accuracy": decision.new_accuracy, "gain": decision.gain,
               "p_value": decision.p_value, "only_old": decision.only_old, "only_new": decision.only_new,
               "held_out": decision.n}

    # 5. promote or keep, and remember the round ---------------------------------------------------------
    history = gate.load_registry(cfg.home).get("history", [])
    if not any(h.get("round_dir") == str(out) for h in history):
        gate.record_round(cfg.home, {"round": number, "round_dir": str(out), "data_version": data.info()["snapshot"],
                                     "model": str(trained), "metrics": metrics, "why": decision.why},
                          str(trained), decision.promote)
    writer.metrics.update(decision="promoted" if decision.promote else "kept", why=decision.why, **metrics,
                          **{k: v for k, v in data.info().items() if k != "path"})
    writer.event("decision", decision.why, promote=decision.promote)


def _score(cfg: FlywheelConfig, reference: list) -> dict[str, Any]:
    traces = filter_traces(load_traces(cfg.traces), model=cfg.trace_model)
    counts: dict[str, Any] = {"traces": len(traces)}
    problems: list[str] = []
    for scorer in cfg.scorers:
        todo = [t for t in traces if t.score(scorer) is None or scorer == "feedback"]
        if scorer == "verifier":
            scores = scoring.verifier_scores(todo, reference)
        elif scorer == "feedback":
            scores = []  # feedback is read where it is stored: nothing to copy
            counts["feedback"] = len(scoring.feedback_scores(traces))
            continue
        else:
            from thinktune.inference import make_engine

            scores, problems_judge = scoring.judge_scores(todo, make_engine(cfg.judge), cfg.rubric)
            problems += problems_judge
        add_scores(cfg.traces, scores)
        counts[scorer] = len(scores)
    counts["problems"] = problems[:50]
    counts["n_problems"] = len(problems)
    return counts


def _curate(cfg: FlywheelConfig, reference: list, held_out: list, folder: Path, number: int | None) -> dict:
    from thinktune.data.readers import read_examples
    from thinktune.data.snapshot import load_snapshot

    traces = filter_traces(load_traces(cfg.traces), model=cfg.trace_model)
    existing: list = []
    if cfg.existing_data:
        path = Path(cfg.existing_data)
        if (path / "snapshot.json").is_file():
            snap = load_snapshot(path)
            existing = [*snap.train, *snap.validation]
        else:
            existing = read_examples(cfg.existing_data)
    teacher = None
    if cfg.teacher == "gold":
        teacher = gold_teacher(reference)
    elif cfg.teacher:
        teacher = model_teacher(cfg.teacher, reference)
    scorer = cfg.scorers[0] if len(cfg.scorers) == 1 else None
    curated = curate(traces, threshold=cfg.threshold, scorer=scorer, existing=existing, held_out=held_out,
                     teacher=teacher, job=cfg.sft.get("job", "reasoning"))
    snap = save_version(curated, existing, folder / "snapshots", {
        "round": number, "traces": cfg.traces, "scorers": cfg.scorers, "threshold": cfg.threshold,
        "teacher": cfg.teacher, "existing_data": cfg.existing_data})
    return {"snapshot": snap.id, "path": str(folder / "snapshots" / snap.id), "rows": len(snap.train),
            "new_rows": len(curated.examples), **curated.counts()}


def _train(cfg: FlywheelConfig, current: str, snapshot: Path, folder: Path, reporter: Reporter | None) -> Path:
    """An SFT job from the current model on the new version (an adapter is merged first); its final model."""
    from thinktune.config import from_dict
    from thinktune.recipes.config import SFTJobConfig
    from thinktune.recipes.sft import run as sft_run
    from thinktune.runs import final_folder, merge_adapter

    start = current
    source = final_folder(current) if Path(current).exists() else None
    if source is not None and (source / "adapter_config.json").is_file():
        merged = folder.parent / "base"
        if not (merged / "config.json").is_file():
            merge_adapter(source, merged)
        start = str(merged)
    settings = {"job": "reasoning", "val_fraction": 0.0, "save_steps": 10, "seed": cfg.seed,
                "lora": {"enabled": False}, "learning_rate": 5e-5, "max_steps": 20, **cfg.sft,
                "model": start, "data": str(snapshot), "output_dir": str(folder)}
    trained = sft_run(from_dict(SFTJobConfig, settings, "flywheel sft"), reporter,
                      parent=current if read_manifest(Path(current)) or (Path(current).parent / MANIFEST).is_file()
                      else None)
    if trained.status == "cancelled":
        raise JobCancelled("the retraining was cancelled")
    return trained.final


def _evaluate(cfg: FlywheelConfig, model: str, held_out: list, folder: Path, reporter: Reporter | None) -> list[bool]:
    """Per-question strict correctness of `model` on the held-out set (greedy; resumable)."""
    from thinktune.evaluation import evaluate

    result = evaluate(model, held_out, "greedy", max_new_tokens=cfg.max_new_tokens, out_dir=folder, seed=cfg.seed,
                      batch_size=cfg.batch_size, progress=cfg.progress, reporter=reporter)
    return [q.correct_strict >= 1.0 for q in result.questions]
