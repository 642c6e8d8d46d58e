"""Curation: from scored traces to a new dataset version, with its lineage and no held-out leak.

Rules, in order: keep the traces whose score reaches the threshold; for the ones below it, optionally ask a
teacher for the same question and keep its answer where the verifier accepts it (a distill step); drop
duplicates of the existing training data and of each other (by `question_key`, the key snapshots split
on); refuse every question of the held-out set (the gate's questions must never be trained on). The
result is saved as a snapshot whose `lineage.json` names the traces, the scores, the teacher and the rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.data.schema import Example
from thinktune.data.validate import question_key
from thinktune.flywheel.traces import Trace


@dataclass
class Curated:
    """What curation kept and why."""

    examples: list[Example]
    kept_traces: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> trace ids

    def counts(self) -> dict[str, int]:
        return {"kept": len(self.kept_traces), "rewritten": len(self.rewritten),
                **{f"dropped_{k}": len(v) for k, v in self.dropped.items()}}


def curate(traces: Sequence[Trace], *, threshold: float, scorer: str | None = None,
           existing: Sequence[Example] = (), held_out: Sequence[Example] = (),
           teacher: Callable[[Trace], Example | None] | None = None, job: str = "reasoning") -> Curated:
    """Apply the rules of the module docstring.

    Args:
        traces: the candidates (scored).
        threshold: keep a trace whose score (`scorer`'s, else its newest) is at least this.
        scorer: whose score counts.
        existing: the current training data (no duplicate of it is added).
        held_out: the gate's questions: none may enter the result.
        teacher: for a trace below the threshold (or, for a reasoning job, one without thinking), a verified
            replacement example (or None).
        job: the job the data trains: `reasoning` keeps only rows with thinking (a direct answer goes to the
            teacher, or is dropped as `no_reasoning`).
    """
    existing_keys = {question_key(ex) for ex in existing}
    held_keys = {question_key(ex) for ex in held_out}
    seen: set[str] = set()
    out = Curated([])

    def drop(reason: str, trace: Trace) -> None:
        out.dropped.setdefault(reason, []).append(trace.id)

    for t in traces:
        key = question_key(Example(t.question, ""))
        if key in held_keys:
            drop("held_out", t)
            continue
        if key in existing_keys or key in seen:
            drop("duplicate", t)
            continue
        score = t.score(scorer) if scorer else t.best_score()
        usable = bool(t.answer) and (job != "reasoning" or bool(t.thinking))
        if score is not None and score >= threshold and usable:
            seen.add(key)
            out.examples.append(Example(t.question, t.answer, reasoning=t.thinking or None,
                                        meta={"id": t.id, "source": f"trace:{t.id}", "score": score}))
            out.kept_traces.append(t.id)
            continue
        fixed = teacher(t) if teacher is not None else None
        if fixed is None:
            if score is not None and score >= threshold:
                drop("no_reasoning", t)
            else:
                drop("below_threshold" if score is not None else "unscored", t)
            continue
        seen.add(key)
        fixed.meta = {**fixed.meta, "id": t.id, "source": f"trace:{t.id}", "rewritten_by": "teacher"}
        out.examples.append(fixed)
        out.rewritten.append(t.id)
    leaked = [ex.meta["id"] for ex in out.examples if question_key(ex) in held_keys]
    if leaked:  # cannot happen through the rules above; checked again because a leak would void the gate
        raise AssertionError(f"held-out questions reached the training data: {leaked}")
    return out


def gold_teacher(reference: Sequence[Example]) -> Callable[[Trace], Example | None]:
    """A teacher that answers with the reference's gold step-by-step solution (the task's own solver): the
    `teacher: gold` option. Questions without a gold reasoning get nothing."""
    gold = {question_key(ex): ex for ex in reference}

    def answer(trace: Trace) -> Example | None:
        ex = gold.get(question_key(Example(trace.question, "")))
        if ex is None or not ex.reasoning:
            return None
        return Example(ex.question, ex.answer, reasoning=ex.reasoning, verifier=ex.verifier, meta={"teacher": "gold"})

    return answer


def model_teacher(spec: str, reference: Sequence[Example], max_new_tokens: int = 256,
                  samples: int = 4) -> Callable[[Trace], Example | None]:
    """A teacher model (any spec or `http://…/v1` endpoint): `samples` tries per question; the first whose
    answer the reference's verifier accepts is kept (rejection sampling); questions without a reference get
    nothing, since an unverified rewrite could be wrong."""
    from thinktune.format import build_messages, parse
    from thinktune.inference import SamplingParams, make_engine
    from thinktune.tasks import check_answer

    engine = make_engine(spec)
    gold = {question_key(ex): ex for ex in reference}

    def answer(trace: Trace) -> Example | None:
        ex = gold.get(question_key(Example(trace.question, "")))
        if ex is None:
            return None
        params = SamplingParams(n=samples, max_new_tokens=max_new_tokens, temperature=0.8, seed=0)
        for completion in engine.generate([build_messages(trace.question, True)], params)[0]:
            parsed = parse(completion.text)
            if parsed.answer and parsed.thinking and check_answer(ex, parsed.answer) >= 1.0:
                return Example(trace.question, parsed.answer, reasoning=parsed.thinking, verifier=ex.verifier,
                               meta={"teacher": spec})
        return None

    return answer


def save_version(curated: Curated, existing: Sequence[Example], folder: Path, lineage: dict[str, Any]) -> Any:
    """The new dataset version: the existing rows plus the curated ones, saved as a snapshot (all train;
    the gate has its own held-out set), with `lineage.json` beside it. Returns the `Snapshot`."""
    from thinktune.data.snapshot import make_snapshot, save_snapshot

    snap = make_snapshot([*existing, *curated.examples], 0.0, 0, source="flywheel")
    path = save_snapshot(snap, folder)
    (path / "lineage.json").write_text(json.dumps({**lineage, **curated.counts(), "kept_traces": curated.kept_traces,
                                                   "rewritten_traces": curated.rewritten,
                                                   "dropped": curated.dropped}, indent=2), encoding="utf-8")
    return snap
