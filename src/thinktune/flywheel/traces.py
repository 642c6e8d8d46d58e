"""What a served model answered, read back: the trace store of `thinktune serve` (`HOME/traces.jsonl`),
the users' feedback (`HOME/feedback.jsonl`) and the scores given by scoring rounds (`HOME/scores.jsonl`).

A trace can carry several scores (a verifier's, a judge's, the users' feedback); none overwrites another:
every score is its own appended line with the scorer's name. `Trace.score(scorer)` reads the newest of a
scorer; `Trace.best_score()` the newest of any.

    traces = load_traces("runs/serve")
    kept = filter_traces(traces, model="reasoning", min_score=1.0)
    export_dataset(kept, "curated.jsonl")      # question / reasoning / answer rows thinktune reads
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.io import append_jsonl, read_jsonl

TRACES, FEEDBACK, SCORES = "traces.jsonl", "feedback.jsonl", "scores.jsonl"


@dataclass
class Trace:
    """One answered request (the first choice), with its feedback and scores."""

    id: str
    model: str
    time: float
    messages: list[dict[str, str]]
    thinking: str | None
    answer: str | None
    route: dict | None = None
    strategy: dict | None = None
    usage: dict = field(default_factory=dict)
    latency_s: float | None = None
    feedback: list[dict] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)

    @property
    def question(self) -> str:
        """The last user message."""
        return next((m["content"] for m in reversed(self.messages) if m.get("role") == "user"), "")

    @property
    def system(self) -> str | None:
        return next((m["content"] for m in self.messages if m.get("role") == "system"), None)

    def score(self, scorer: str) -> float | None:
        """The newest score a scorer gave (`feedback`: the mean of the users' feedback), or None."""
        if scorer == "feedback":
            values = [f["score"] for f in self.feedback]
            return sum(values) / len(values) if values else None
        mine = [s for s in self.scores if s["scorer"] == scorer]
        return mine[-1]["score"] if mine else None

    def best_score(self) -> float | None:
        """The newest score of any scorer, else the feedback's mean."""
        return self.scores[-1]["score"] if self.scores else self.score("feedback")


def load_traces(home: str | Path) -> list[Trace]:
    """Every trace under a server home, with its feedback and scores, oldest first."""
    home = Path(home)
    if not (home / TRACES).is_file():
        return []
    feedback: dict[str, list[dict]] = {}
    for row in read_jsonl(home / FEEDBACK) if (home / FEEDBACK).is_file() else []:
        feedback.setdefault(row["trace_id"], []).append(row)
    scores: dict[str, list[dict]] = {}
    for row in read_jsonl(home / SCORES) if (home / SCORES).is_file() else []:
        scores.setdefault(row["trace_id"], []).append(row)
    traces = []
    for row in read_jsonl(home / TRACES):
        thinking, answer = (row.get("thinking") or [None])[0], (row.get("answer") or [None])[0]
        traces.append(Trace(
            id=row["id"], model=row.get("model", ""), time=row.get("time", 0.0), messages=row.get("messages") or [],
            thinking=thinking, answer=answer, route=row.get("route"), strategy=row.get("strategy"),
            usage=row.get("usage") or {}, latency_s=row.get("latency_s"), feedback=feedback.get(row["id"], []),
            scores=scores.get(row["id"], [])))
    return traces


def filter_traces(traces: Iterable[Trace], *, model: str | None = None, route: str | None = None,
                  since: float | None = None, until: float | None = None, min_score: float | None = None,
                  max_score: float | None = None, scorer: str | None = None, has_feedback: bool | None = None,
                  strategy: str | None = None, scored: bool | None = None) -> list[Trace]:
    """The traces that match every filter given (None: no filter). Scores are `scorer`'s, else the best."""
    out = []
    for t in traces:
        s = t.score(scorer) if scorer else t.best_score()
        checks = (
            model is None or t.model == model,
            route is None or (t.route or {}).get("model") == route,
            since is None or t.time >= since,
            until is None or t.time <= until,
            min_score is None or (s is not None and s >= min_score),
            max_score is None or (s is not None and s <= max_score),
            has_feedback is None or bool(t.feedback) == has_feedback,
            strategy is None or (t.strategy or {}).get("name") == strategy,
            scored is None or (s is not None) == scored,
        )
        if all(checks):
            out.append(t)
    return out


def add_scores(home: str | Path, scores: Sequence[dict[str, Any]]) -> None:
    """Append scores (`trace_id`, `scorer`, `score`, `detail`) to the store; earlier ones are kept."""
    for s in scores:
        append_jsonl(Path(home) / SCORES, {"time": time.time(), **s})


def to_row(trace: Trace) -> dict[str, Any]:
    """A dataset row in thinktune's question/reasoning/answer form, with the trace as provenance."""
    row: dict[str, Any] = {"id": trace.id, "question": trace.question, "answer": trace.answer or ""}
    if trace.thinking:
        row["reasoning"] = trace.thinking
    if trace.system:
        row["system"] = trace.system
    row["source"] = f"trace:{trace.id}"
    row["score"] = trace.best_score()
    return row


def export_dataset(traces: Iterable[Trace], path: str | Path) -> int:
    """Write the traces as a JSONL dataset `thinktune data` reads; returns the rows written."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [to_row(t) for t in traces]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)
