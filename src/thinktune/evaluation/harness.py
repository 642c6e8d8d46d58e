"""The evaluation harness: one function that runs any model with any strategy and reports accuracy with cost.

    from thinktune.evaluation import evaluate
    from thinktune.tasks import load_task
    result = evaluate("default", load_task("arithmetic", n=50), "self_consistency", n=8, out_dir="runs/eval")
    result.metrics["lenient_accuracy"], result.metrics["output_tokens_mean"]

What lands in `out_dir`:
    eval.json       the settings (a rerun into the same folder must use the same ones; older runs kept
                    them in run.json, which is read when eval.json is absent)
    samples.jsonl   one record per question, appended as each batch finishes: prompt, every completion,
                    its strict and lenient answers and verdicts, the final answers, tokens and timings
    metrics.json    the metrics (`evaluation.metrics.compute_metrics` over the records)
    report.md, report.html   the report (`evaluation.report.write_report`)

A run that is interrupted resumes: questions whose id is already in `samples.jsonl` are not asked again,
and the metrics are recomputed over all records of the requested questions.

Tokens: a record's `output_tokens` is everything generated for the question (all samples, pruned beams,
forced parts: the cost), while `thinking_tokens` and `answer_tokens` are per completion (the mean over its
completions: how long one sample thinks and answers); they add up to `output_tokens` only with one sample.

Timing: questions are asked `batch_size` at a time; a question's `latency_s` is its batch's wall time (how
long its answer took to arrive) and `wall_share_s` that time divided by the batch size, so `wall_s`,
`s_per_question` and `tokens_per_s` add up across batches and resumed runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from thinktune.data.schema import Example
from thinktune.errors import JobCancelled
from thinktune.evaluation.metrics import compute_metrics
from thinktune.format import build_messages, parse
from thinktune.inference import Problem, make_engine, make_strategy
from thinktune.inference.strategies import STRATEGIES, parse_strategy_name
from thinktune.inference.voting import read_answer
from thinktune.io import append_jsonl, read_jsonl, write_json
from thinktune.reporter import Reporter, TqdmReporter
from thinktune.tasks import check_answer

SETTINGS, LEGACY_SETTINGS = "eval.json", "run.json"
# ~25k tokens: past the context of every small model, and tokenising more costs minutes and gigabytes
MAX_QUESTION_CHARS = 100_000
log = logging.getLogger("thinktune.eval")


@dataclass
class EvalResult:
    """What `evaluate` returns.

    Attributes:
        metrics: see `evaluation.metrics.compute_metrics` (strict/lenient accuracy, format rate, pass@k and
            maj@k for fixed-n sampling, token and latency summaries, tokens/s, samples per question).
        records: one dict per question (the rows of `samples.jsonl`).
        label: the run's name in reports.
        config: the settings of the run.
        out_dir: where files were written (None when nothing was).
    """

    metrics: dict[str, float]
    records: list[dict[str, Any]]
    label: str
    config: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None

    def to_run(self) -> dict[str, Any]:
        """The run as `write_report` takes it."""
        return {"label": self.label, "metrics": self.metrics, "records": self.records}

    @property
    def questions(self) -> list[QuestionRecord]:
        """The records as typed values, in question order."""
        return [QuestionRecord.from_row(r) for r in self.records]


@dataclass(frozen=True)
class QuestionRecord:
    """What one question's record says, typed: the fields compare, the routers and reports read.

    The full audit row (prompt, completions, logprobs, votes, ...) stays in `samples.jsonl`.
    """

    id: str
    question: str
    gold: str | None
    answers: list[str | None]
    strict_answers: list[str | None]
    well_formed: list[bool]
    verdicts: list[float]
    correct_strict: float
    correct_lenient: float
    output_tokens: float
    latency_s: float
    wall_share_s: float
    difficulty: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> QuestionRecord:
        return cls(
            id=str(row["id"]), question=row.get("question", ""), gold=row.get("gold"),
            answers=list(row.get("answers") or []), strict_answers=list(row.get("strict_answers") or []),
            well_formed=list(row.get("well_formed") or []), verdicts=[float(v) for v in row.get("verdicts") or []],
            correct_strict=float(row.get("correct_strict") or 0.0),
            correct_lenient=float(row.get("correct_lenient") or 0.0),
            output_tokens=float(row.get("output_tokens") or 0), latency_s=float(row.get("latency_s") or 0.0),
            wall_share_s=float(row.get("wall_share_s", row.get("latency_s")) or 0.0),
            difficulty=row.get("difficulty"),
        )


def strict_verdicts(run_folder: str | Path) -> dict[str, bool]:
    """Question id -> whether the strict answer was right, from a run folder's `samples.jsonl` (what paired
    tests between two evaluations of the same questions compare); empty when there is none."""
    path = Path(run_folder) / "samples.jsonl"
    if not path.exists():
        return {}
    return {q.id: q.correct_strict >= 1.0 for q in map(QuestionRecord.from_row, read_jsonl(path))}


def example_id(ex: Example) -> str:
    """The example's `meta["id"]`, else a hash of its question (stable across runs)."""
    if ex.meta.get("id") is not None:
        return str(ex.meta["id"])
    return "q-" + hashlib.sha1(ex.question.encode()).hexdigest()[:12]


def example_digest(ex: Example) -> str:
    """A hash of what decides a question's verdict (question, gold, verifier, meta): a resumed run reuses a
    saved answer only for the very same example, not for another one that happens to share its id."""
    key = json.dumps([ex.question, ex.answer, ex.verifier, ex.meta], sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _checker(ex: Example) -> Callable[[str | None], float]:
    return partial(check_answer, ex)  # the one verifier evaluation and the RL rewards share


def make_problem(ex: Example, reasoning: bool = True) -> Problem:
    """The prompt for an example: its system prompt (or the job type's), earlier turns, then the question."""
    messages = build_messages(ex.question, reasoning, system=ex.system)
    messages = [messages[0], *ex.history, messages[1]]
    return Problem(messages=messages, question=ex.question, mode=ex.verifier, reasoning=reasoning,
                   check=_checker(ex))


def resolve_strategy(strategy: Any, n: int, max_new_tokens: int, options: dict[str, Any]) -> tuple[Any, str]:
    """A strategy object (and its name) from a name + options, applying `n` and `max_new_tokens`."""
    if not isinstance(strategy, str):
        return strategy, type(strategy).__name__
    label = strategy
    strategy, count = parse_strategy_name(strategy)
    if count is not None:
        if n > 1 and n != count:
            raise ValueError(f"strategy {label!r} asks for {count} samples but n={n}; give one or the other")
        n = count
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    cls, _ = STRATEGIES[strategy]
    fields = {f.name for f in dataclasses.fields(cls)}
    options = dict(options)
    if n > 1:
        if "n" not in fields:
            raise ValueError(f"strategy {strategy!r} draws one completion per question; n={n} applies to "
                             f"sample, self_consistency, adaptive, best_of_n and weighted_majority")
        options.setdefault("n", n)
    if "max_new_tokens" in fields:
        options.setdefault("max_new_tokens", max_new_tokens)
    return make_strategy(strategy, **options), label


def evaluate(
    model: Any,
    examples: Sequence[Example],
    strategy: Any = "greedy",
    *,
    reasoning: bool = True,
    max_new_tokens: int = 256,
    n: int = 1,
    out_dir: str | Path | None = None,
    engine: str | None = None,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = True,
    label: str | None = None,
    dtype: str = "float32",
    reporter: Reporter | None = None,
    max_question_chars: int = MAX_QUESTION_CHARS,
    long_questions: str = "truncate",
    **strategy_options: Any,
) -> EvalResult:
    """Ask every example, score the answers, and summarise accuracy with what it cost.

    Args:
        model: a spec for `thinktune.models.load_model` (`default`, `tiny`, a folder, a `.gguf`, a Hub id),
            an `http(s)://…/v1` server URL, a loaded `(model, tokenizer)`, or an engine.
        examples: the questions (`thinktune.tasks.load_task(...)` or your own `Example`s).
        strategy: a name from `thinktune.inference.strategies.STRATEGIES` or a strategy object.
        reasoning: prompt for `<think>/<answer>` (True) or for the answer alone (False); also decides what
            a well-formed (strict) completion is.
        max_new_tokens: token cap per completion (strategies with their own budgets keep theirs).
        n: samples per question for sampling strategies (1 keeps the strategy's default: 8, adaptive 16).
        out_dir: where to write samples.jsonl, metrics.json and the report; a run there resumes.
        engine: `hf`, `openai`, `vllm` or `llamacpp` (None: from the model spec).
        seed: sampling seed (per batch).
        batch_size: questions per strategy call.
        progress: show a progress bar (when no `reporter` is given).
        reporter: receives the progress (questions answered) and is asked between batches whether a cancel
            was requested; a cancel raises `thinktune.errors.JobCancelled` with every answered question
            saved, so a rerun resumes.
        label: the run's name in reports (default: `<model>/<strategy>`).
        dtype: weights of a model the harness loads itself (`hf` engine): `float32`, `bfloat16`, `float16`.
        max_question_chars: a question longer than this is cut to it with a warning (`long_questions=
            "truncate"`) or refused with a ValueError naming it (`"refuse"`): tokenising a 50 MB question
            takes minutes and gigabytes, and no model reads past its context anyway.
        long_questions: `truncate` or `refuse`.
        **strategy_options: the strategy's own options (e.g. `scorer="logprob"`, `rule="esc"`).
    """
    strat, strat_name = resolve_strategy(strategy, n, max_new_tokens, strategy_options)
    model_name = _model_name(model)
    fixed = _fixed_samples(strat)
    label = label or f"{model_name}/{strat_name}"
    config = {
        "model": str(model_name), "strategy": strat_name, "options": _options(strat), "reasoning": reasoning, "max_new_tokens": max_new_tokens,
        "seed": seed, "label": label, "engine": engine, "dtype": dtype,
    }
    if dtype != "float32" and not (isinstance(model, str) and engine in (None, "hf")
                                   and not model.startswith(("http://", "https://"))):
        raise ValueError(f"dtype={dtype} applies to models the hf engine loads from a spec; "
                         "a server, vLLM, llama.cpp or an already loaded model keeps its own weights")
    examples = _limit_questions(examples, max_question_chars, long_questions, reporter)
    ids = [example_id(ex) for ex in examples]
    if len(set(ids)) != len(ids):
        raise ValueError("examples have duplicate ids (meta['id'] or identical questions); make them unique")
    done: dict[str, dict] = {}
    samples_path = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        samples_path = out_dir / "samples.jsonl"
        _check_run_config(out_dir, config)
        write_json(out_dir / SETTINGS, config)
        if samples_path.is_file():
            wanted = set(ids)
            done = {r["id"]: r for r in read_jsonl(samples_path) if r.get("id") in wanted}
            _check_same_examples(samples_path, done, dict(zip(ids, examples, strict=True)))
    todo = [(i, ex) for i, ex in zip(ids, examples, strict=True) if i not in done]

    eng = (make_engine(model, engine, **({"dtype": dtype} if dtype != "float32" else {}))) if todo else None
    reporter = reporter or TqdmReporter(enabled=progress)
    reporter.begin(label, total=len(examples), unit="q", initial=len(done))
    try:
        for start in range(0, len(todo), batch_size):
            if reporter.cancel_requested():
                raise JobCancelled(f"evaluation cancelled after {len(done)} of {len(examples)} questions")
            batch = todo[start : start + batch_size]
            problems = [make_problem(ex, reasoning) for _, ex in batch]
            t0 = time.perf_counter()
            outcomes = strat.run(eng, problems, seed=seed)
            wall = time.perf_counter() - t0
            for (qid, ex), prob, out in zip(batch, problems, outcomes, strict=True):
                record = _record(qid, ex, _as_sent(strat, prob), out, eng, wall, len(batch), strat_name, fixed)
                done[qid] = record
                if samples_path is not None:
                    append_jsonl(samples_path, record)
            reporter.progress(len(done), len(examples))
    finally:
        reporter.end()

    records = [done[i] for i in ids]
    metrics = compute_metrics(records)
    result = EvalResult(metrics=metrics, records=records, label=label, config=config, out_dir=out_dir)
    if out_dir is not None:
        from thinktune.evaluation.report import write_report

        write_json(out_dir / "metrics.json", {"label": label, "config": config, "metrics": metrics})
        write_report([result.to_run()], out_dir, title=f"thinktune eval: {label}")
    return result


def _limit_questions(examples: Sequence[Example], limit: int, how: str, reporter: Reporter | None) -> list[Example]:
    """`examples` with every question longer than `limit` characters cut to it (warned), or refused."""
    if how not in ("truncate", "refuse"):
        raise ValueError(f"long_questions must be truncate or refuse, got {how!r}")
    out = []
    for ex in examples:
        if len(ex.question) > limit:
            where = f"question {example_id(ex)!r}"
            if how == "refuse":
                raise ValueError(f"{where}: {len(ex.question):,} characters, more than max_question_chars={limit:,}; "
                                 "shorten it, raise the limit, or set long_questions=truncate")
            message = f"{where}: {len(ex.question):,} characters, cut to the first {limit:,} (max_question_chars)"
            log.warning(message)
            if reporter is not None:
                reporter.event("warning", message)
            meta = {**ex.meta, "truncated_from_chars": len(ex.question)}
            if ex.meta.get("id") is None:
                meta["id"] = example_id(ex)  # the id of the question as given, not of its cut copy
            ex = dataclasses.replace(ex, question=ex.question[:limit], meta=meta)
        out.append(ex)
    return out


def _as_sent(strategy: Any, problem: Problem) -> Problem:
    """The problem as the strategy sent it: CoT rewrites the prompt and asks for the reasoning format, so its
    completions are read (and the prompt recorded) that way, not as the harness first built them."""
    prepare = getattr(strategy, "prepare", None)
    return prepare(problem) if callable(prepare) else problem


def _record(qid: str, ex: Example, prob: Problem, out: Any, eng: Any, wall: float, batch: int,
            strategy: str, fixed: bool) -> dict[str, Any]:
    """One question's audit row (see the module docstring)."""
    check = prob.check or (lambda a: 0.0)
    readings = [read_answer(c.text, prob.reasoning) for c in out.completions]
    verdict_cache: dict[str | None, float] = {}

    def verdict(ans: str | None) -> float:
        if ans not in verdict_cache:
            verdict_cache[ans] = float(check(ans)) if ans is not None else 0.0
        return verdict_cache[ans]

    thinking, answer = [], []
    for c in out.completions:
        t = eng.count_tokens(parse(c.text).thinking or "") if eng is not None else 0
        thinking.append(t)
        answer.append(max(0, c.tokens - t))
    n_comp = max(1, len(out.completions))
    return {
        "id": qid, "example_digest": example_digest(ex), "question": ex.question, "gold": ex.answer,
        "mode": prob.mode, "strategy": strategy,
        "prompt": prob.messages,
        "completions": [c.text for c in out.completions],
        "completion_tokens": [c.tokens for c in out.completions],
        "finish_reasons": [c.finish_reason for c in out.completions],
        "completion_logprobs": [c.logprob for c in out.completions],
        "answers": [r.lenient for r in readings],
        "strict_answers": [r.strict for r in readings],
        "well_formed": [r.well_formed for r in readings],
        "verdicts": [verdict(r.lenient) for r in readings],
        "final_answer": out.answer, "final_strict_answer": out.strict_answer,
        "chosen": out.chosen, "votes": out.votes, "scores": out.scores,
        "correct_strict": verdict(out.strict_answer), "correct_lenient": verdict(out.answer),
        "output_tokens": out.output_tokens,
        "thinking_tokens": sum(thinking) / n_comp, "answer_tokens": sum(answer) / n_comp,
        "latency_s": round(wall, 6), "wall_share_s": round(wall / batch, 6),
        "samples_used": out.samples_used,
        "fixed_samples": fixed,
        "info": _jsonable(out.info),
    }


def _model_name(model: Any) -> str:
    if isinstance(model, str):
        return model
    if isinstance(model, tuple):
        return str(getattr(getattr(model[0], "config", None), "_name_or_path", "") or type(model[0]).__name__)
    return str(getattr(model, "spec", None) or getattr(model, "name", type(model).__name__))


def _fixed_samples(strategy: Any) -> bool:
    """True for strategies whose completions are n independent samples (so pass@k and maj@k apply)."""
    from thinktune.inference.strategies import BestOfN, Sample, SelfConsistency, WeightedMajority

    return isinstance(strategy, (Sample, SelfConsistency, BestOfN, WeightedMajority))


def _check_same_examples(path: Path, done: dict[str, dict], examples: dict[str, Example]) -> None:
    """Refuse to resume when a saved answer's id now names a different example (other gold, task options…)."""
    for qid, rec in done.items():
        ex = examples[qid]
        saved = rec.get("example_digest")
        same = saved == example_digest(ex) if saved else (rec.get("question"), rec.get("gold")) == (ex.question, ex.answer)
        if not same:
            raise ValueError(f"{path}: the saved answer for id {qid!r} was to a different example (question, gold, "
                             "verifier or task options changed); choose another output folder")


def _check_run_config(out_dir: Path, config: dict[str, Any]) -> None:
    path = out_dir / SETTINGS
    if not path.is_file():
        path = out_dir / LEGACY_SETTINGS  # runs written before the settings moved to eval.json
        if not path.is_file():
            return
    old = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(old.get("kind"), str):  # a job manifest (thinktune.runs), not evaluation settings
        return
    keys = ("model", "strategy", "options", "reasoning", "max_new_tokens", "seed", "dtype")
    diff = [k for k in keys if old.get(k, "float32" if k == "dtype" else None) != config.get(k)]  # older runs: fp32
    if diff:
        raise ValueError(f"{path.parent}: holds a run with different settings ({', '.join(diff)}); "
                         f"resume with the same settings or choose another output folder")


def _options(strategy: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(strategy):
        return {}
    return _jsonable({f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy)})


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: getattr(o, "__name__", None) or type(o).__name__))
