"""The server's trace store and Prometheus metrics.

Traces: every answered request is one line of `HOME/traces.jsonl` (messages, thinking, answer, model,
route, tokens, latency, strategy), appended and flushed before the response is sent, so a crash loses at
most the request in flight; feedback (`POST /v1/traces/{id}/feedback`, a score 0-1 and a comment) goes to
`HOME/feedback.jsonl`, one line per feedback, never overwriting another. Continuous fine-tuning reads both.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from thinktune.io import append_jsonl, read_jsonl

TRACES, FEEDBACK = "traces.jsonl", "feedback.jsonl"


class TraceStore:
    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        path = self.home / TRACES
        self.ids = {r.get("id") for r in read_jsonl(path)} if path.is_file() else set()

    @staticmethod
    def new_id() -> str:
        return "trace-" + uuid.uuid4().hex[:24]

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            append_jsonl(self.home / TRACES, {"time": time.time(), **record})
            self.ids.add(record["id"])

    def feedback(self, trace_id: str, score: float, comment: str | None) -> bool:
        """Record feedback on a trace; False when no trace has that id."""
        with self.lock:
            if trace_id not in self.ids:
                return False
            append_jsonl(self.home / FEEDBACK, {"time": time.time(), "trace_id": trace_id, "score": score,
                                                "comment": comment})
        return True


LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """Counters and histograms in Prometheus' text format (no client library needed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.tokens: dict[tuple[str, str], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)

    def request(self, model: str, status: int) -> None:
        with self.lock:
            self.requests[(model, str(status))] += 1

    def done(self, model: str, seconds: float, prompt: int, completion: int, reasoning: int) -> None:
        with self.lock:
            for kind, n in (("prompt", prompt), ("completion", completion), ("reasoning", reasoning)):
                self.tokens[(model, kind)] += n
            counts = self.latency[model]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self.latency_sum[model] += seconds

    def render(self, gauges: dict[str, dict[str, int]]) -> str:
        lines = ["# HELP thinktune_requests_total Chat completion requests by model and HTTP status.",
                 "# TYPE thinktune_requests_total counter"]
        with self.lock:
            for (model, status), n in sorted(self.requests.items()):
                lines.append(f'thinktune_requests_total{{model="{_esc(model)}",status="{status}"}} {n}')
            lines += ["# HELP thinktune_tokens_total Tokens by model and kind (prompt, completion, reasoning).",
                      "# TYPE thinktune_tokens_total counter"]
            for (model, kind), n in sorted(self.tokens.items()):
                lines.append(f'thinktune_tokens_total{{model="{_esc(model)}",kind="{kind}"}} {n}')
            lines += ["# HELP thinktune_request_seconds Time from request to full response.",
                      "# TYPE thinktune_request_seconds histogram"]
            for model, counts in sorted(self.latency.items()):
                m = _esc(model)
                for bound, n in zip((*LATENCY_BUCKETS, "+Inf"), counts, strict=True):
                    lines.append(f'thinktune_request_seconds_bucket{{model="{m}",le="{bound}"}} {n}')
                lines.append(f'thinktune_request_seconds_sum{{model="{m}"}} {self.latency_sum[model]:.6f}')
                lines.append(f'thinktune_request_seconds_count{{model="{m}"}} {counts[-1]}')
        lines += ["# HELP thinktune_queue_depth Requests waiting to join the batch, and rows decoding.",
                  "# TYPE thinktune_queue_depth gauge"]
        for model, load in sorted(gauges.items()):
            lines.append(f'thinktune_queue_depth{{model="{_esc(model)}",state="waiting"}} {load["waiting_requests"]}')
            lines.append(f'thinktune_queue_depth{{model="{_esc(model)}",state="running_rows"}} {load["running_rows"]}')
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
