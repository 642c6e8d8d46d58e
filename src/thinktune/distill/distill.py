"""The distill job: collect a teacher's reasoning traces and keep the good ones (rejection sampling).

    RUN/student.jsonl   the student's greedy verdict per question (only with the s1 difficulty filter)
    RUN/samples.jsonl   one row per question once its N samples are in: every sample with its parse,
                        tokens, verdict and why it was rejected; appended as questions finish, so a killed
                        job loses only the questions in flight and a rerun asks only the others
    RUN/errors.jsonl    questions whose requests failed after their retries (a rerun asks them again)
    RUN/data.jsonl      the dataset: canonical rows (question, answer, reasoning, verifier, meta) that
                        `thinktune train` and `data validate` read, each with its provenance in `meta`
                        (teacher, sample index, verified, tokens, source id)
    RUN/report.json, report.md   acceptance rate, tokens, rejects by reason, by category (difficulty)

The teacher is any model thinktune loads (its own engine, batched) or any OpenAI-compatible endpoint
(requests in flight at once, each retried with exponential back-off; the thinking is read from
`reasoning_content`/`reasoning` or from `<think>` tags, see `inference.engines.openai_http`).

Judging a sample is pure (`judge_samples`), and so is choosing what to keep (`select`): both are table-tested.
What this adds to rejection sampling as TRL or open-r1 do it: per-question resumability, the s1 filters
(difficulty by the student's own answer, a per-category cap) and a report of why samples were rejected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from thinktune.config import ConfigError
from thinktune.data.schema import Example
from thinktune.distill.config import DistillConfig
from thinktune.format import ANSWER_CLOSE, parse
from thinktune.io import append_jsonl, read_jsonl, write_json
from thinktune.reporter import Reporter
from thinktune.runs import Run, job_run

SAMPLES, STUDENT, ERRORS, DATA = "samples.jsonl", "student.jsonl", "errors.jsonl", "data.jsonl"
REJECT_REASONS = ("format", "length", "wrong", "duplicate")
_WORD = re.compile(r"\w+")


# ------------------------------------------------------------------------------------------ questions
def load_questions(cfg: DistillConfig) -> list[Example]:
    """The questions (with gold answers) to distill, repeated questions dropped when `dedupe` is set."""
    try:
        if cfg.data:
            from thinktune.data.readers import read_examples

            examples = read_examples(cfg.data, limit=cfg.questions)
        else:
            from thinktune.tasks import load_task

            if cfg.mix_key:
                examples = []
                for j, value in enumerate(cfg.mix_values):
                    n = cfg.questions // len(cfg.mix_values) + (j < cfg.questions % len(cfg.mix_values))
                    for ex in load_task(cfg.task, split=cfg.split, n=n, seed=cfg.seed,
                                        **{**cfg.task_options, cfg.mix_key: value}):
                        ex.meta[cfg.mix_key] = value  # ids are per value: make them unique across the mix
                        ex.meta["id"] = f"{ex.meta.get('id', question_id(ex))}-{cfg.mix_key}{value}"
                        examples.append(ex)
            else:
                examples = load_task(cfg.task, split=cfg.split, n=cfg.questions, seed=cfg.seed, **cfg.task_options)
    except (ValueError, FileNotFoundError) as e:
        raise ConfigError(f"{cfg.data or 'task ' + str(cfg.task)}: {e}") from None
    examples = examples[: cfg.questions]
    if cfg.dedupe:
        seen: set[str] = set()
        unique = []
        for ex in examples:
            key = " ".join(ex.question.split()).casefold()
            if key not in seen:
                seen.add(key)
                unique.append(ex)
        examples = unique
    if not examples:
        raise ConfigError(f"{cfg.data or cfg.task}: no questions")
    ids = [question_id(ex) for ex in examples]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise ConfigError(f"{cfg.data or cfg.task}: questions share ids ({', '.join(dupes)}); give each row its own id")
    return examples


def question_id(ex: Example) -> str:
    from thinktune.evaluation.harness import example_id

    return example_id(ex)


def category_of(ex: Example, key: str | None) -> str | None:
    return None if not key or ex.meta.get(key) is None else str(ex.meta[key])


def category_key(cfg: DistillConfig) -> str | None:
    return cfg.category_key or cfg.mix_key


# ----------------------------------------------------------------------------------- judging (pure)
def judge_samples(ex: Example, completions: Sequence[dict[str, Any]], cfg: DistillConfig,
                  count_tokens: Callable[[str], int]) -> list[dict[str, Any]]:
    """Every sample of one question, judged: its thinking and answer, tokens, whether the answer is right,
    (read leniently, whatever the format) and `reject`: None (accepted) or the first filter it failed (`format`, `length`, `wrong`, `duplicate`).

    `completions` are `{"text", "tokens", "finish"}` dicts. Duplicates are judged against the samples
    accepted before them, so the first of two identical traces is the one kept.
    """
    from thinktune.tasks import check_answer

    out, accepted = [], set()
    for i, c in enumerate(completions):
        text = c.get("text") or ""
        parsed = parse(text, strict=cfg.strict_format)
        thinking, answer = parsed.thinking, parsed.answer
        said = answer if answer is not None else parse(text).answer  # right or wrong, whatever the format
        correct = bool(said) and check_answer(ex, said) >= 1.0
        n_think = count_tokens(thinking) if thinking else 0
        reject = None
        if not (thinking and thinking.strip() and answer and answer.strip()):
            reject = "format"
        elif n_think < cfg.min_thinking_tokens or (cfg.max_thinking_tokens is not None
                                                   and n_think > cfg.max_thinking_tokens):
            reject = "length"
        elif cfg.verify and not correct:
            reject = "wrong"
        else:
            key = " ".join(thinking.split()).casefold()
            if cfg.dedupe and key in accepted:
                reject = "duplicate"
            accepted.add(key)
        out.append({"i": i, "text": text, "thinking": thinking, "answer": answer, "tokens": int(c.get("tokens") or 0),
                    "thinking_tokens": n_think, "finish": c.get("finish"), "correct": correct, "reject": reject})
    return out


def select(samples: Sequence[dict[str, Any]], keep: int, prefer: str) -> list[dict[str, Any]]:
    """The accepted samples to keep, at most `keep`, in the order `prefer` says.

    >>> s = [{"i": 0, "reject": None, "thinking": "a b c d", "thinking_tokens": 4},
    ...      {"i": 1, "reject": "wrong", "thinking": "x", "thinking_tokens": 1},
    ...      {"i": 2, "reject": None, "thinking": "a b", "thinking_tokens": 2}]
    >>> [x["i"] for x in select(s, 1, "shortest")], [x["i"] for x in select(s, 2, "first")]
    ([2], [0, 2])
    """
    ok = [s for s in samples if s.get("reject") is None]
    if prefer == "first":
        return ok[:keep]
    ok.sort(key=lambda s: (s["thinking_tokens"], s["i"]))
    if prefer == "shortest" or len(ok) <= 1:
        return ok[:keep]
    # diverse: start from the shortest, then take the one least like those kept (word-set Jaccard)
    words = {s["i"]: set(_WORD.findall((s["thinking"] or "").casefold())) for s in ok}
    chosen, rest = [ok[0]], ok[1:]
    while rest and len(chosen) < keep:
        def distance(s: dict[str, Any]) -> float:
            return min(1 - len(words[s["i"]] & words[c["i"]]) / max(1, len(words[s["i"]] | words[c["i"]]))
                       for c in chosen)
        best = max(rest, key=lambda s: (distance(s), -s["thinking_tokens"], -s["i"]))
        chosen.append(best)
        rest.remove(best)
    return chosen


def build_rows(questions: Sequence[Example], records: dict[str, dict[str, Any]], cfg: DistillConfig,
               teacher_name: str) -> tuple[list[Example], Counter]:
    """The dataset rows, in question order: the kept samples of each question, with provenance; and how
    many rows the per-category cap dropped, by category."""
    rows: list[Example] = []
    per_category: Counter = Counter()
    capped: Counter = Counter()
    for ex in questions:
        qid = question_id(ex)
        rec = records.get(qid)
        if rec is None or rec.get("skipped"):
            continue
        category = rec.get("category")
        for s in select(rec["samples"], cfg.keep, cfg.prefer):
            if cfg.max_per_category is not None and per_category[category] >= cfg.max_per_category:
                capped[category] += 1
                continue
            per_category[category] += 1
            meta = {**ex.meta, "id": f"{qid}#s{s['i']}", "source_id": qid, "teacher": teacher_name,
                    "sample": s["i"], "verified": s["correct"], "tokens": s["tokens"],
                    "thinking_tokens": s["thinking_tokens"], "source": f"distill:{qid}"}
            if category is not None:
                meta["category"] = category
            rows.append(Example(ex.question, s["answer"], reasoning=s["thinking"], system=ex.system,
                                history=list(ex.history), verifier=ex.verifier, meta=meta))
    return rows, capped


# ------------------------------------------------------------------------------------------- engines
def make_teacher(spec: str, cfg: DistillConfig) -> Any:
    """The engine for a teacher or student spec: HTTP endpoints get the retries, timeout and API key."""
    from thinktune.inference import make_engine

    if spec.startswith(("http://", "https://")):
        key = os.environ.get(cfg.api_key_env) or "EMPTY"
        return make_engine(spec, api_key=key, concurrency=1, timeout=cfg.timeout, retries=cfg.retries,
                           backoff=cfg.backoff, logprobs=False)
    return make_engine(spec, dtype=cfg.dtype)


def token_counter(spec: str) -> Callable[[str], int]:
    """Tokens of a text as the teacher counts them: its tokenizer for a local model, ~4 characters per token
    for an endpoint (what `OpenAIEngine.count_tokens` assumes without a tokenizer)."""
    if _is_http(spec):
        return lambda text: max(1, round(len(text) / 4)) if text else 0
    from thinktune.models import load_tokenizer

    tok = load_tokenizer(spec)
    return lambda text: len(tok.encode(text, add_special_tokens=False)) if text else 0


def _is_http(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _prompt(ex: Example, reasoning: bool) -> Any:
    from thinktune.evaluation.harness import make_problem

    return make_problem(ex, reasoning).messages


def _params(cfg: DistillConfig, n: int, temperature: float, seed: int) -> Any:
    from thinktune.inference import SamplingParams

    stop = (ANSWER_CLOSE,) if cfg.reasoning else ()
    return SamplingParams(n=n, max_new_tokens=cfg.max_new_tokens, temperature=temperature,
                          top_p=cfg.top_p if temperature > 0 else 1.0, stop=stop, seed=seed)


def _as_dicts(completions: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"text": c.text, "tokens": c.tokens, "finish": c.finish_reason} for c in completions]


def generate_batches(engine: Any, questions: Sequence[Example], cfg: DistillConfig, *, n: int, temperature: float,
                     on_done: Callable[[Example, list[dict[str, Any]] | None, str | None], None],
                     check_cancel: Callable[[], None], http: bool) -> None:
    """Ask `engine` for `n` samples of every question, calling `on_done(question, completions, error)` as
    each question finishes. A local engine gets `batch_size` questions per call; an HTTP one gets one
    request per question, `concurrency` in flight, so one failing question fails alone."""
    if not http:
        for start in range(0, len(questions), cfg.batch_size):
            check_cancel()
            batch = questions[start: start + cfg.batch_size]
            outs = engine.generate([_prompt(ex, cfg.reasoning) for ex in batch],
                                   _params(cfg, n, temperature, cfg.seed + start))
            for ex, comps in zip(batch, outs, strict=True):
                on_done(ex, _as_dicts(comps), None)
        return

    def ask(ex: Example) -> list[dict[str, Any]]:  # a question's seed follows it, not its position in the run
        seed = cfg.seed + int(hashlib.sha256(question_id(ex).encode()).hexdigest()[:8], 16)
        return _as_dicts(engine.generate([_prompt(ex, cfg.reasoning)], _params(cfg, n, temperature, seed))[0])

    todo = list(questions)
    pool = ThreadPoolExecutor(max_workers=cfg.concurrency)
    pending: dict[Any, Example] = {}
    try:
        while todo or pending:
            while todo and len(pending) < cfg.concurrency:
                check_cancel()
                ex = todo.pop(0)
                pending[pool.submit(ask, ex)] = ex
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                ex = pending.pop(future)
                try:
                    comps = future.result()
                except Exception as e:  # noqa: BLE001 - one question's failure is recorded, not fatal
                    on_done(ex, None, f"{type(e).__name__}: {e}"[:500])
                else:
                    on_done(ex, comps, None)
    finally:  # a cancel or an error does not wait for the requests in flight (their answers are not kept)
        pool.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------------------------------------ run
def run(cfg: DistillConfig, reporter: Reporter | None = None, *, parent: str | Path | None = None) -> Run:
    """Distill `cfg.teacher` on `cfg.questions` questions into `RUN/data.jsonl`; returns the `Run`."""
    out = Path(cfg.output_dir)
    questions = load_questions(cfg)
    settings = _check_same_settings(out, cfg)  # before the manifest is touched: a refused rerun changes nothing
    with job_run(out, "distill", cfg, reporter, parent=parent,  # else the teacher's run, when it is one
                 model=None if _is_http(cfg.teacher) else cfg.teacher,
                 data=cfg.data if cfg.data and not cfg.data.startswith(("hf:", "builtin:")) else None) as writer:
        t0 = time.perf_counter()
        write_json(out / "settings.json", settings)
        student = _student_pass(cfg, questions, out, reporter, writer) if cfg.student else {}
        records = {r["id"]: r for r in _read(out / SAMPLES)}
        todo = [ex for ex in questions if question_id(ex) not in records]
        hard = [ex for ex in todo if student.get(question_id(ex), {}).get("correct") is not True]
        hard_ids = {question_id(ex) for ex in hard}
        for ex in todo:
            if question_id(ex) not in hard_ids:  # the student already answers it: nothing to teach (s1's difficulty filter)
                rec = {"id": question_id(ex), "category": category_of(ex, category_key(cfg)), "skipped": "easy",
                       "samples": []}
                append_jsonl(out / SAMPLES, rec)
                records[rec["id"]] = rec
        engine = make_teacher(cfg.teacher, cfg) if hard else None
        teacher_name = cfg.teacher
        if _is_http(cfg.teacher) and engine is not None:  # the endpoint and the model it served
            teacher_name = f"{cfg.teacher.split('#')[0]}#{engine.model}"
        # the teacher's own count (its tokenizer, or ~4 characters a token for an endpoint); the tokenizer
        # alone when every question was asked before (a rerun that only re-judges)
        count = engine.count_tokens if engine is not None else token_counter(cfg.teacher)
        errors: list[str] = []
        if reporter is not None:
            reporter.begin("distill", total=len(questions), unit="question", initial=len(questions) - len(hard))
        done_now = [len(questions) - len(hard)]

        def on_done(ex: Example, comps: list[dict[str, Any]] | None, error: str | None) -> None:
            qid = question_id(ex)
            if error is not None:
                errors.append(qid)
                append_jsonl(out / ERRORS, {"id": qid, "error": error, "time": time.time()})
                writer.event("teacher_error", f"{qid}: {error}", id=qid)
                return
            samples = judge_samples(ex, comps or [], cfg, count)
            rec = {"id": qid, "question": ex.question, "answer": ex.answer, "verifier": ex.verifier,
                   "category": category_of(ex, category_key(cfg)), "samples": samples}
            append_jsonl(out / SAMPLES, rec)
            records[qid] = rec
            done_now[0] += 1
            if reporter is not None:
                accepted = sum(s["reject"] is None for r in records.values() for s in r["samples"])
                total = sum(len(r["samples"]) for r in records.values())
                reporter.progress(done_now[0], len(questions), acceptance=round(accepted / max(1, total), 3))

        if hard:
            generate_batches(engine, hard, cfg, n=cfg.samples, temperature=cfg.temperature, on_done=on_done,
                             check_cancel=writer.check_cancel, http=_is_http(cfg.teacher))
        if reporter is not None:
            reporter.end()
        if errors and len(errors) == len(hard):
            raise RuntimeError(f"the teacher failed on every question asked ({len(errors)}); first error in "
                               f"{out / ERRORS}")
        # every saved sample is judged again under this run's filters (changing them needs no new samples)
        by_id = {question_id(ex): ex for ex in questions}
        for qid, rec in records.items():
            if qid in by_id:
                rec["category"] = category_of(by_id[qid], category_key(cfg))  # this run's category_key
                if rec.get("samples"):
                    rec["samples"] = judge_samples(by_id[qid], rec["samples"], cfg, count)
        rows, capped = build_rows(questions, records, cfg, teacher_name)
        mixed = _mix_rows(cfg)
        from thinktune.data.readers import write_examples

        write_examples([*rows, *mixed], out / DATA)
        report = make_report(questions, records, rows, capped, cfg, student, errors=len(errors),
                             mixed=len(mixed), retried=getattr(engine, "retried", 0),
                             wall_s=time.perf_counter() - t0)
        write_json(out / "report.json", report)
        (out / "report.md").write_text(report_markdown(report, cfg), encoding="utf-8")
        writer.metrics.update({k: report[k] for k in ("rows", "acceptance_rate", "correct_rate", "format_rate",
                                                      "questions_with_rows", "teacher_tokens", "failed_questions")})
        writer.event("summary", f"{report['rows']} rows from {report['questions_asked']} questions "
                                f"(acceptance {report['acceptance_rate']:.1%})")
    return Run.load(out)


def _read(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path)) if path.exists() else []


def _check_same_settings(out: Path, cfg: DistillConfig) -> dict[str, Any]:
    """Samples drawn with other generation settings are not mixed in: refuse, naming the differing keys.
    (Filters, `keep` and `prefer` may change between reruns: they only re-judge the saved samples.)"""
    import json

    keys = ("teacher", "task", "task_options", "split", "data", "samples", "reasoning", "max_new_tokens",
            "temperature", "top_p", "seed", "student")
    now = {k: getattr(cfg, k) for k in keys}
    path = out / "settings.json"
    if path.exists() and ((out / SAMPLES).exists() or (out / STUDENT).exists()):
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(k for k in keys if old.get(k) != now[k])
        if changed:
            raise ConfigError(f"{out}: holds samples drawn with other settings ({', '.join(changed)}); use "
                              "another output_dir, or delete its samples.jsonl and student.jsonl to start over")
    return now


def _student_pass(cfg: DistillConfig, questions: Sequence[Example], out: Path, reporter: Reporter | None,
                  writer: Any) -> dict[str, dict[str, Any]]:
    """The student's greedy answer to every question (resumable): s1's difficulty filter keeps the ones it
    gets wrong."""
    from thinktune.tasks import check_answer

    done = {r["id"]: r for r in _read(out / STUDENT)}
    todo = [ex for ex in questions if question_id(ex) not in done]
    if not todo:
        return done
    engine = make_teacher(cfg.student, cfg)
    if reporter is not None:
        reporter.begin("student (difficulty filter)", total=len(questions), unit="question",
                       initial=len(questions) - len(todo))

    def on_done(ex: Example, comps: list[dict[str, Any]] | None, error: str | None) -> None:
        if error is not None:
            raise RuntimeError(f"the student failed on {question_id(ex)}: {error}")
        answer = parse((comps or [{}])[0].get("text")).answer
        row = {"id": question_id(ex), "answer": answer, "correct": bool(answer) and check_answer(ex, answer) >= 1.0}
        append_jsonl(out / STUDENT, row)
        done[row["id"]] = row
        if reporter is not None:
            reporter.progress(len(done), len(questions))

    generate_batches(engine, todo, cfg, n=1, temperature=0.0, on_done=on_done, check_cancel=writer.check_cancel,
                     http=_is_http(cfg.student))
    if reporter is not None:
        reporter.end()
    return done


def _mix_rows(cfg: DistillConfig) -> list[Example]:
    """`mix_data` rows as they are; a row without thinking is marked to train with an empty think block."""
    if not cfg.mix_data:
        return []
    from thinktune.data.readers import read_examples

    rows = read_examples(cfg.mix_data, limit=cfg.mix_rows or None)
    return [dataclasses.replace(ex, meta={**ex.meta, "mixed": True,
                                          **({} if ex.has_reasoning else {"thinking": "none"})}) for ex in rows]


# --------------------------------------------------------------------------------------------- report
def make_report(questions: Sequence[Example], records: dict[str, dict[str, Any]], rows: Sequence[Example],
                capped: Counter, cfg: DistillConfig, student: dict[str, dict[str, Any]], *, errors: int = 0,
                mixed: int = 0, retried: int = 0, wall_s: float = 0.0) -> dict[str, Any]:
    """Acceptance, tokens and rejects overall and by category, from the judged samples."""
    ids = [question_id(ex) for ex in questions]
    recs = [records[i] for i in ids if i in records]
    asked = [r for r in recs if not r.get("skipped")]
    samples = [s for r in asked for s in r["samples"]]
    rejects = Counter(s["reject"] for s in samples if s["reject"])
    n = max(1, len(samples))
    kept_ids = {ex.meta["source_id"] for ex in rows}
    by_cat: dict[str, dict[str, Any]] = defaultdict(lambda: {"questions": 0, "samples": 0, "correct": 0,
                                                             "accepted": 0, "rows": 0, "skipped_easy": 0})
    for r in recs:
        c = by_cat[str(r.get("category"))]
        if r.get("skipped"):
            c["skipped_easy"] += 1
            continue
        c["questions"] += 1
        c["samples"] += len(r["samples"])
        c["correct"] += sum(s["correct"] for s in r["samples"])
        c["accepted"] += sum(s["reject"] is None for s in r["samples"])
    for ex in rows:
        by_cat[str(ex.meta.get("category"))]["rows"] += 1
    for c in by_cat.values():
        c["acceptance_rate"] = c["accepted"] / max(1, c["samples"])
        c["correct_rate"] = c["correct"] / max(1, c["samples"])
    return {
        "teacher": cfg.teacher, "questions": len(questions), "questions_asked": len(asked),
        "skipped_easy": sum(1 for r in recs if r.get("skipped") == "easy"),
        "student_accuracy": (sum(r["correct"] for r in student.values()) / len(student)) if student else None,
        "failed_questions": errors, "samples": len(samples),
        "correct_rate": sum(s["correct"] for s in samples) / n,
        "format_rate": sum(s["reject"] != "format" for s in samples) / n,
        "acceptance_rate": sum(s["reject"] is None for s in samples) / n,
        "rejects": {k: rejects.get(k, 0) for k in REJECT_REASONS},
        "rows": len(rows), "mixed_rows": mixed, "questions_with_rows": len(kept_ids),
        "capped": dict(capped), "teacher_tokens": sum(s["tokens"] for s in samples),
        "tokens_per_sample": sum(s["tokens"] for s in samples) / n,
        "kept_thinking_tokens_mean": (sum(ex.meta["thinking_tokens"] for ex in rows) / len(rows)) if rows else 0.0,
        "by_category": dict(sorted(by_cat.items())), "retried_requests": retried, "wall_s": round(wall_s, 1),
    }


def report_markdown(r: dict[str, Any], cfg: DistillConfig) -> str:
    lines = [
        f"# Distill: {r['teacher']}", "",
        f"- {r['questions']} questions ({cfg.data or cfg.task}), {r['questions_asked']} asked"
        + (f", {r['skipped_easy']} skipped as easy (the student answers them; its accuracy "
           f"{r['student_accuracy']:.1%})" if r["student_accuracy"] is not None else "")
        + (f", **{r['failed_questions']} failed** (see errors.jsonl; a rerun asks them again)" if r["failed_questions"] else ""),
        f"- {r['samples']} samples ({cfg.samples} per question, temperature {cfg.temperature}); "
        f"{r['teacher_tokens']:,} teacher tokens ({r['tokens_per_sample']:.1f} per sample)",
        f"- correct {r['correct_rate']:.1%}, well-formed {r['format_rate']:.1%}, **accepted {r['acceptance_rate']:.1%}**"
        f" ({'verified' if cfg.verify else 'unverified'}, {'strict' if cfg.strict_format else 'lenient'} format)",
        "- rejected: " + ", ".join(f"{k} {v}" for k, v in r["rejects"].items()),
        f"- **{r['rows']} rows** from {r['questions_with_rows']} questions (at most {cfg.keep} each, {cfg.prefer} "
        f"first); kept thinking {r['kept_thinking_tokens_mean']:.1f} tokens on average"
        + (f"; {r['mixed_rows']} mixed-in rows" if r["mixed_rows"] else "")
        + (f"; capped per category: {r['capped']}" if r["capped"] else ""),
        f"- {r['wall_s']} s" + (f", {r['retried_requests']} requests retried" if r["retried_requests"] else ""),
        "", f"| {category_key(cfg) or 'category'} | questions | samples | correct | accepted | rows | skipped (easy) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in r["by_category"].items():
        lines.append(f"| {name} | {c['questions']} | {c['samples']} | {c['correct_rate']:.1%} | "
                     f"{c['acceptance_rate']:.1%} | {c['rows']} | {c['skipped_easy']} |")
    return "\n".join(lines) + "\n"
