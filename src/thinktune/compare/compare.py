"""`thinktune compare`: fine-tune a reasoning and a non-reasoning variant of one model on the same data with
the same budget, evaluate both (and the base model, and a hybrid router) with the same harness on the same
held-out questions, and recommend one from the numbers.

    thinktune compare                                  # the quickstart (see `CompareConfig` defaults)
    thinktune compare my.yaml --set data=rows.jsonl    # your own data with step-by-step reasoning

The pipeline goes top to bottom, one phase at a time; each phase writes its output under `output_dir` and
a marker (`phase.json`) with the settings it ran with, and a phase whose marker matches is skipped, so a
killed run resumes where it stopped, and a changed setting re-runs exactly the phases it affects. An
interrupted evaluation resumes question by question (the harness's own resume); an interrupted training
phase starts that variant again (checkpoints of a full fine-tune cost more than the short runs here)::

    OUT/data/train.jsonl, test.jsonl      the one dataset both variants train on, and the held-out split
    OUT/variants/non_reasoning/final/     the trained variants: `thinktune chat OUT/variants/reasoning`,
    OUT/variants/reasoning/final/         `thinktune eval --model OUT/variants/reasoning/final ...`
    OUT/evals/<row>/                      each evaluated row: the harness's samples.jsonl, metrics and report
    OUT/report.md, report.html, tradeoff.png, results.json

"Same budget" holds by construction: both SFT configs are `dataclasses.replace` of one base config that
differs only in `job` and `output_dir` (same rows, steps, batch, learning rate, LoRA settings, seed).

The quickstart is sized from the calibration in CPU-NOTES.md (SmolLM2-135M, full fine-tune at lr 1e-4,
batch 8, 2 cores: ~9 s/step on 3-operation reasoning rows, ~6 s/step on direct rows; greedy evaluation
~0.85 s/question reasoning, ~0.25 s direct, ~1.1 s for the base model; after 40 steps on addition-only
3-operation problems, reasoning 58% vs direct 2%). Its problems mix 1 to 4 additions of 2-digit numbers
so that "where reasoning pays" shows as a gradient over the number of steps and the router has easy and
hard questions to tell apart. Budget on 2 cores: 2 × 36 steps of training (~4.5 + ~3 min), 48 held-out
questions for each variant (~40 s + ~15 s), 12 for each base row (~30 s together), 4 router samples per
question from the direct variant (~20 s), model loads and saves (~1 min): ~11-12 minutes, leaving room
for a slower or busier machine within the ~15-minute target.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.compare.config import CompareConfig
from thinktune.config import ConfigError, save_config, to_dict
from thinktune.errors import JobCancelled
from thinktune.evaluation.harness import EvalResult, QuestionRecord
from thinktune.io import write_json
from thinktune.reporter import Reporter, TqdmReporter
from thinktune.runs import Phase, Run, RunWriter, job_run  # noqa: F401 - Phase re-exported

CONFIG_CLASS = CompareConfig

JOBS = ("non_reasoning", "reasoning")


# --------------------------------------------------------------------------------------------- phases
class Progress:
    """Prints `[i/n] phase` lines (the phases' own bars come from SFT and the harness); remembers skips."""

    def __init__(self, total: int, enabled: bool = True, echo: Callable[[str], None] = print) -> None:
        self.total, self.i, self.enabled, self.echo = total, 0, enabled, echo
        self.skipped: list[str] = []

    def start(self, title: str, skipped: bool = False) -> float:
        self.i += 1
        if skipped:
            self.skipped.append(title)
        if self.enabled:
            self.echo(f"[{self.i}/{self.total}] {title}" + (" — done before, skipped" if skipped else ""))
        return time.perf_counter()


# ----------------------------------------------------------------------------------------------- data
def build_data(cfg: CompareConfig) -> tuple[list[Any], list[Any]]:
    """(train, test) examples: the user's rows split by a content-hashed snapshot, or generated problems."""
    if cfg.data:
        from thinktune.data.readers import read_examples
        from thinktune.data.snapshot import make_snapshot

        examples = read_examples(cfg.data)
        missing = sum(not e.has_reasoning for e in examples)
        if missing:
            raise ConfigError(f"data {cfg.data}: {missing}/{len(examples)} rows have no step-by-step reasoning; "
                              "the reasoning variant needs it (`thinktune data validate` lists them)")
        if len(examples) < cfg.eval_questions + cfg.batch_size:
            raise ConfigError(f"data {cfg.data}: {len(examples)} rows are too few for {cfg.eval_questions} held-out "
                              f"questions plus training (lower eval_questions)")
        snap = make_snapshot(examples, cfg.eval_questions / len(examples), cfg.seed, source=cfg.data)
        return list(snap.train)[: cfg.train_rows], list(snap.validation)
    return (_generated(cfg, "train", cfg.train_rows), _generated(cfg, "test", cfg.eval_questions))


def _generated(cfg: CompareConfig, split: str, n: int) -> list[Any]:
    """`n` problems of the task, in equal shares over `mix_values`, interleaved so any prefix is mixed."""
    from thinktune.tasks import load_task

    if not cfg.mix_key or not cfg.mix_values:
        rows = load_task(cfg.task, split=split, n=n, seed=cfg.seed, **cfg.task_options)
        return rows
    per = [n // len(cfg.mix_values) + (i < n % len(cfg.mix_values)) for i in range(len(cfg.mix_values))]
    groups = []
    for value, count in zip(cfg.mix_values, per, strict=True):
        rows = load_task(cfg.task, split=split, n=count, seed=cfg.seed, **{**cfg.task_options, cfg.mix_key: value})
        for i, ex in enumerate(rows):
            ex.meta = {**ex.meta, "id": f"{cfg.task}-{split}-{cfg.mix_key}{value}-{i}",
                       "difficulty": f"{cfg.mix_key}={value}"}
        groups.append(rows)
    mixed = [g[i] for i in range(max(per)) for g in groups if i < len(g)]
    return mixed


# ------------------------------------------------------------------------------------------- training
def sft_config(cfg: CompareConfig, train_file: Path, out: Path) -> Any:
    """The one base SFT config both variants share; `train_variant` changes only `job` and `output_dir`."""
    from thinktune.recipes.sft import SFTJobConfig

    return SFTJobConfig(
        job="reasoning",
        model=cfg.model,
        data=str(train_file),
        val_fraction=0.0,  # the held-out split is compare's own test.jsonl
        lora=cfg.lora,
        max_steps=cfg.steps,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        max_length=cfg.max_length,
        seed=cfg.seed,
        output_dir=str(out / "variants" / "reasoning"),
        save_steps=0,  # checkpoints of a full fine-tune cost seconds each; compare resumes per phase
    )


def train_variant(base: Any, job: str, out: Path, reporter: Reporter | None = None) -> tuple[Path, dict[str, Any]]:
    """Train one variant as an SFT job whose parent is the compare run; returns (its `final/` folder, training
    cost: wall seconds, trainer runtime, tokens and final loss). A cancel raises `JobCancelled`."""
    from thinktune.recipes.sft import run

    run_dir = out / "variants" / job
    cfg = dataclasses.replace(base, job=job, output_dir=str(run_dir))
    t0 = time.perf_counter()
    trained = run(cfg, reporter, parent=out)
    wall = time.perf_counter() - t0
    if trained.status == "cancelled":
        raise JobCancelled(f"the {job} variant was cancelled")
    return trained.final, {"train_wall_s": wall, **training_cost(trained)}


def training_cost(trained: Run) -> dict[str, Any]:
    """Trainer runtime, tokens seen and final loss, from an SFT run's manifest."""
    m = trained.metrics
    return {"train_runtime_s": m.get("train_runtime"), "train_tokens": m.get("num_input_tokens_seen"),
            "final_loss": m.get("final_loss")}


# ----------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class EvalSpec:
    """One evaluated row: which model, how it is asked, on how many of the held-out questions."""

    name: str
    label: str
    kind: str
    model: str
    reasoning: bool
    strategy: str = "greedy"
    n: int = 1
    limit: int | None = None
    options: dict = field(default_factory=dict)


def eval_specs(cfg: CompareConfig, variants: dict[str, Path]) -> list[EvalSpec]:
    """The rows of the table, in order."""
    specs = []
    if cfg.base_eval_questions:
        specs += [
            EvalSpec("base_direct", "base model, direct", "base", cfg.model, False, limit=cfg.base_eval_questions),
            EvalSpec("base_cot", "base model, CoT prompt", "base", cfg.model, True, "cot", limit=cfg.base_eval_questions),
        ]
    specs += [
        EvalSpec("non_reasoning", "non-reasoning variant", "variant", str(variants["non_reasoning"]), False),
        EvalSpec("reasoning", "reasoning variant", "variant", str(variants["reasoning"]), True),
    ]
    if cfg.self_consistency > 1:
        specs.append(EvalSpec(f"reasoning_maj{cfg.self_consistency}", f"reasoning variant, maj@{cfg.self_consistency}",
                              "variant", str(variants["reasoning"]), True, "self_consistency", cfg.self_consistency))
    if "agreement" in cfg.routers:
        # Not a table row: the direct variant's samples that the agreement router votes with.
        specs.append(EvalSpec("router_samples", "direct samples for the router", "samples",
                              str(variants["non_reasoning"]), False, "self_consistency", cfg.router_samples))
    return specs


def run_eval(spec: EvalSpec, cfg: CompareConfig, test: list[Any], out_dir: Path,
             reporter: Reporter | None = None) -> EvalResult:
    """Evaluate one row with the harness into `out_dir` (which it resumes); returns the harness's result
    (metrics, and records in question order), each record tagged with its difficulty group."""
    from thinktune.evaluation import evaluate

    examples = test[: spec.limit] if spec.limit else test
    result = evaluate(
        spec.model, examples, spec.strategy, reasoning=spec.reasoning,
        max_new_tokens=cfg.max_new_tokens if spec.reasoning else cfg.direct_max_new_tokens,
        n=spec.n, out_dir=out_dir, seed=cfg.seed, batch_size=cfg.eval_batch_size, progress=cfg.progress,
        reporter=reporter, label=spec.label, **spec.options,
    )
    for rec, ex in zip(result.records, examples, strict=True):  # the by-difficulty table needs the group
        rec["difficulty"] = ex.meta.get("difficulty")
    return result


def row_from_eval(spec: EvalSpec, metrics: dict[str, Any]) -> dict[str, Any]:
    """A table row: the harness's metrics plus the cost per query the recommendation uses.

    Seconds per query is the harness's `s_per_question` (evaluation wall time over questions): the machine
    time a query costs at the evaluation batch size. Per-question latencies inside a batch overlap, so
    their mean would over-count.
    """
    return {"name": spec.name, "label": spec.label, "kind": spec.kind, **metrics,
            "tokens_per_query": metrics.get("output_tokens_mean"),
            "seconds_per_query": metrics.get("s_per_question")}


# -------------------------------------------------------------------------------------------- routers
def router_rows(cfg: CompareConfig, test: list[Any], evals: dict[str, EvalResult]) -> list[dict[str, Any]]:
    """The hybrid-router rows, computed from the per-question records (no generation is repeated)."""
    from thinktune.compare.router import agreement, at_least, cross_fit_scores, simulate_router
    from thinktune.verify import normalize

    # Records carry `latency_s` (its batch's wall time: when the answer arrived) and `wall_share_s` (its share
    # of the machine time: the cost, as in the harness's s_per_question); simulate_router uses both.
    direct, reasoning = evals["non_reasoning"].records, evals["reasoning"].records
    rows = []
    if "agreement" in cfg.routers and "router_samples" in evals:
        samples: list[QuestionRecord] = evals["router_samples"].questions
        hard, easy = [], []
        for rec in samples:
            share, idx = agreement(rec.answers)
            hard.append(at_least(1.0 - share, cfg.agreement_threshold))
            # An easy question is answered with the majority sample, already paid for in the overhead.
            ok = idx is not None and rec.verdicts[idx] >= 1.0
            strict = ok and rec.well_formed[idx] and normalize(rec.strict_answers[idx]) == normalize(rec.answers[idx])
            easy.append({"correct_strict": strict, "correct_lenient": ok, "output_tokens": 0, "latency_s": 0.0,
                         "wall_share_s": 0.0})
        row = simulate_router(direct, reasoning, hard, [r.output_tokens for r in samples],
                              [r.wall_share_s for r in samples], easy, [r.latency_s for r in samples])
        rows.append(_router_row("router_agreement", f"router (agreement of {cfg.router_samples})", row))
    if "classifier" in cfg.routers:
        wrong = [not q.correct_strict >= 1.0 for q in evals["non_reasoning"].questions]
        scores = cross_fit_scores([ex.question for ex in test], wrong, seed=cfg.seed)
        row = simulate_router(direct, reasoning, [at_least(s, cfg.classifier_threshold) for s in scores])
        rows.append(_router_row("router_classifier", "router (classifier)", row))
    return rows


def _router_row(name: str, label: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "label": label, "kind": "router", **row}


# --------------------------------------------------------------------------------------------- report
@dataclass
class CompareResult:
    """What a compare run produced: the rows, the recommendation and the files."""

    rows: list[dict[str, Any]]
    recommendation: Any
    out_dir: Path
    report_md: Path
    report_html: Path
    variants: dict[str, Path]
    phase_seconds: dict[str, float]


def write_compare_report(cfg: CompareConfig, out: Path, rows: list[dict[str, Any]], evals: dict[str, EvalResult],
                         recommendation: Any, notes: list[str]) -> tuple[Path, Path]:
    """report.md through the harness's `write_report` (its run table and plots, then compare's sections as
    Markdown), and report.html with compare's sections as real HTML (table, inline plot) before the
    harness's table and plots."""
    from thinktune.compare.report import by_difficulty, sections, tradeoff_plot, write_html
    from thinktune.evaluation.report import write_report

    plot = tradeoff_plot(rows, out / "tradeoff.png")
    shown = {r["name"] for r in rows}
    runs = [result.to_run() for name, result in evals.items() if name in shown]
    difficulty = by_difficulty({name: result.records for name, result in evals.items() if name in shown})
    extra = sections(rows, recommendation.markdown(), plot, difficulty, notes)
    title = f"Reasoning vs non-reasoning: {cfg.model} on {cfg.data or cfg.task}"
    md, _ = write_report(runs, out, title, extra_sections=[(s["title"], s["markdown"]) for s in extra])
    return Path(md), write_html(out / "report.html", title, extra, runs)


# ------------------------------------------------------------------------------------------ phase keys
def data_key(cfg: CompareConfig) -> dict[str, Any]:
    """What the data phase's output depends on: the user's file (by content) or the generator's settings."""
    key: dict[str, Any] = {"train_rows": cfg.train_rows, "eval_questions": cfg.eval_questions, "seed": cfg.seed}
    if cfg.data:
        path = Path(cfg.data).expanduser()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {**key, "data": cfg.data, "data_sha256": content}  # an edited file is new data
    return {**key, "task": cfg.task, "task_options": cfg.task_options, "mix_key": cfg.mix_key,
            "mix_values": cfg.mix_values}


def train_key(base: Any, data_fingerprint: str, job: str) -> dict[str, Any]:
    """What a variant's training depends on: the data phase's output and the SFT settings that matter."""
    settings = {k: v for k, v in to_dict(base).items() if k not in ("job", "output_dir", "data")}
    if not base.lora.enabled:
        settings["lora"] = {"enabled": False}  # LoRA's rank and the like do not touch a full fine-tune
    return {**settings, "data_phase": data_fingerprint, "job": job}


# ----------------------------------------------------------------------------------------- the pipeline
def run(cfg: CompareConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """The compare job: run (or resume) the whole comparison; returns the `Run` (verdict in `run.metrics`)."""
    run_compare(cfg, reporter=reporter, parent=parent)
    return Run.load(cfg.output_dir)


def run_compare(cfg: CompareConfig, echo: Callable[[str], None] = print, reporter: Reporter | None = None,
                parent: str | Path | None = None) -> CompareResult | None:
    """Run (or resume) the whole comparison (see the module docstring) in its run folder; returns what it
    produced, or None when a cancel stopped it (status `cancelled`: rerun to resume)."""
    result = None
    reporter = reporter or TqdmReporter(enabled=cfg.progress)
    with job_run(cfg.output_dir, "compare", cfg, reporter, parent=parent, model=cfg.model, data=cfg.data) as writer:
        result = _pipeline(cfg, writer, echo, reporter)
        rec = result.recommendation
        writer.metrics.update(verdict=rec.verdict, best=rec.best, cheapest=rec.cheapest,
                              **{f"{r['name']}/strict_accuracy": r.get("strict_accuracy") for r in result.rows})
    return result


def _pipeline(cfg: CompareConfig, writer: RunWriter, echo: Callable[[str], None],
              reporter: Reporter | None) -> CompareResult:
    from thinktune.compare.recommend import recommend
    from thinktune.compare.report import table_text
    from thinktune.data.readers import read_examples, write_examples

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "compare.yaml")
    t_start = time.perf_counter()
    specs_count = 2 + 2 * bool(cfg.base_eval_questions) + (cfg.self_consistency > 1) + ("agreement" in cfg.routers)
    progress = Progress(1 + len(JOBS) + specs_count + 1, cfg.progress, echo)

    # 1. data: one training set for both variants, one held-out set for every row --------------------
    data = Phase("data", out / "data", data_key(cfg))
    t0 = progress.start("data: the training rows and the held-out questions", data.done())
    if not data.done():
        data.begin()
        train, test = build_data(cfg)
        write_examples(train, data.folder / "train.jsonl")
        write_examples(test, data.folder / "test.jsonl")
        data.finish({"train": len(train), "test": len(test), "elapsed_s": time.perf_counter() - t0})
    test = read_examples(data.folder / "test.jsonl")
    phase_seconds = {"data": data.info().get("elapsed_s")}

    # 2. train both variants with one budget ---------------------------------------------------------
    base = sft_config(cfg, data.folder / "train.jsonl", out)
    variants: dict[str, Path] = {}
    trained: dict[str, Phase] = {}
    for job in JOBS:
        writer.check_cancel()
        phase = Phase(f"train_{job}", out / "variants" / job, train_key(base, data.fingerprint(), job))
        t0 = progress.start(f"train the {job.replace('_', '-')} variant ({cfg.steps} steps)", phase.done())
        if not phase.done():
            phase.begin()
            _, cost = train_variant(base, job, out, reporter)
            phase.finish({**cost, "elapsed_s": time.perf_counter() - t0})
        variants[job], trained[job] = phase.folder / "final", phase
        phase_seconds[phase.name] = phase.info().get("elapsed_s")

    # 3. evaluate every row with the same harness on the same held-out questions ---------------------
    by_model = {str(variants[j]): trained[j].fingerprint() for j in JOBS}
    evals: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for spec in eval_specs(cfg, variants):
        writer.check_cancel()
        phase = Phase(f"eval_{spec.name}", out / "evals" / spec.name, {
            "spec": dataclasses.asdict(spec), "model": by_model.get(spec.model, spec.model), "data": data.fingerprint(),
            "max_new_tokens": cfg.max_new_tokens if spec.reasoning else cfg.direct_max_new_tokens,
            "batch_size": cfg.eval_batch_size, "seed": cfg.seed})
        n = min(spec.limit or len(test), len(test))
        t0 = progress.start(f"evaluate the {spec.label} on {n} questions", phase.done())
        # A finished evaluation is read back by the harness without loading the model.
        if phase.done():
            evals[spec.name] = run_eval(spec, cfg, test, phase.folder, reporter)
        else:
            phase.begin()
            evals[spec.name] = run_eval(spec, cfg, test, phase.folder, reporter)
            phase.finish({"metrics": evals[spec.name].metrics, "elapsed_s": time.perf_counter() - t0})
        phase_seconds[phase.name] = phase.info().get("elapsed_s")
        if spec.kind != "samples":
            row = row_from_eval(spec, evals[spec.name].metrics)
            if spec.name in trained:
                row.update({k: v for k, v in trained[spec.name].info().items() if k != "elapsed_s"})
            rows.append(row)

    # 4. router rows, the recommendation, the report ------------------------------------------------
    t0 = progress.start("hybrid-router rows, recommendation and report")
    rows += router_rows(cfg, test, evals)
    rec = recommend(rows, routers=[r["name"] for r in rows if r["kind"] == "router"])
    md, html_path = write_compare_report(cfg, out, rows, evals, rec, _notes(cfg, test, rows, data.info().get("train")))
    phase_seconds["report"] = time.perf_counter() - t0
    write_json(out / "results.json", {
        "config": to_dict(cfg), "rows": rows,
        "recommendation": {"verdict": rec.verdict, "best": rec.best, "cheapest": rec.cheapest, "lines": rec.lines,
                           "numbers": rec.numbers},
        "variants": {k: str(v) for k, v in variants.items()},
        # Seconds each phase took when it ran (a resumed run reports the original runs' times), and this
        # invocation's own wall time.
        "phase_seconds": phase_seconds, "phases_total_s": sum(v for v in phase_seconds.values() if v is not None),
        "resumed_phases": progress.skipped, "wall_s": time.perf_counter() - t_start,
    })
    if cfg.progress:
        echo("\n" + table_text(rows) + "\n\n" + rec.markdown() + f"\n\nreport: {html_path}\n"
             f"variants: thinktune chat {out / 'variants' / 'reasoning'}  |  "
             f"thinktune chat {out / 'variants' / 'non_reasoning'}")
    return CompareResult(rows, rec, out, md, html_path, variants, phase_seconds)


def _notes(cfg: CompareConfig, test: list[Any], rows: list[dict[str, Any]], n_train: int | None) -> list[str]:
    notes = [
        f"Both variants: {cfg.steps} steps × batch {cfg.batch_size} on the same {n_train or cfg.train_rows} rows, "
        f"lr {cfg.learning_rate:g}, " + (f"LoRA r={cfg.lora.r}" if cfg.lora.enabled else "full fine-tune")
        + f", seed {cfg.seed}; evaluated greedily on the same {len(test)} held-out questions.",
        "tokens/q = output tokens per question (for routers, including the samples that estimate difficulty); "
        "seconds per query (used by the recommendation) = evaluation wall time / questions.",
    ]
    if cfg.base_eval_questions and cfg.base_eval_questions < len(test):
        notes.append(f"Base-model rows use the first {cfg.base_eval_questions} held-out questions only (the base "
                     "model is slow and does not use the tags).")
    if any(r["kind"] == "router" for r in rows):
        notes.append("Router rows are computed from the per-question records: a routed question takes the "
                     "chosen model's recorded (greedy) output; the classifier is cross-fitted (5 folds), so no "
                     "question is scored by a classifier that saw it.")
    return notes
