"""Reporters: where a job's progress and events go, and how a cancel request reaches it.

Every job takes a `Reporter`. The job calls `begin(title, total)` when a phase with a known length starts
(training steps, questions to ask), `progress(done, total, **metrics)` after each step, `event(kind, ...)`
for what happened (start, resume, alarm, cancel), and `cancel_requested()` at each step boundary. The CLI
uses `TqdmReporter` (bars with loss, reward and ETA); the studio's worker will write the same calls to its
store; tests record them.

Cancellation is cooperative: `cancel()` (same process) or a `cancel.request` file in a run folder the
reporter watches (`thinktune.runs.request_cancel`, any process) makes `cancel_requested()` true; the job then
stops at its next step boundary, leaving a checkpoint to resume from.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

CANCEL_FILE = "cancel.request"  # the same name as `thinktune.runs.CANCEL`


class Reporter:
    """A reporter that records nothing: subclass it and override what you need."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._watched: list[Path] = []

    # ---- progress and events
    def begin(self, title: str, total: int | None = None, unit: str = "step", initial: int = 0) -> None:
        """A phase starts: `total` units of work (None: unknown), `initial` of them already done (a resume)."""

    def progress(self, done: int, total: int | None = None, **metrics: Any) -> None:
        """`done` units of the current phase are finished; `metrics` are the latest values (loss, reward...)."""

    def end(self) -> None:
        """The current phase is over."""

    def event(self, kind: str, message: str = "", **data: Any) -> None:
        """Something happened: `kind` is a short name (`start`, `resume`, `alarm`, `cancel`, `finish`...)."""

    # ---- cancellation
    def cancel(self) -> None:
        """Ask the job to stop at its next step boundary."""
        self._cancel.set()

    def cancel_requested(self) -> bool:
        """True once `cancel()` was called or a watched run folder holds a cancel request."""
        if self._cancel.is_set():
            return True
        return any((folder / CANCEL_FILE).exists() for folder in self._watched)

    def watch(self, folder: str | Path) -> None:
        """Also stop when `folder/cancel.request` appears (nested jobs watch their parents' folders too)."""
        self._watched.append(Path(folder))

    def unwatch(self, folder: str | Path) -> None:
        folder = Path(folder)
        if folder in self._watched:
            self._watched.remove(folder)


class RecordingReporter(Reporter):
    """Keeps every call in `calls` (for tests and for callers that read progress afterwards)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def begin(self, title, total=None, unit="step", initial=0):
        self.calls.append(("begin", {"title": title, "total": total, "unit": unit, "initial": initial}))

    def progress(self, done, total=None, **metrics):
        self.calls.append(("progress", {"done": done, "total": total, **metrics}))

    def end(self):
        self.calls.append(("end", {}))

    def event(self, kind, message="", **data):
        self.calls.append(("event", {"kind": kind, "message": message, **data}))


class TqdmReporter(Reporter):
    """The CLI's reporter: one tqdm bar per phase (with loss / reward / accuracy and tqdm's ETA), events as
    lines on stderr."""

    SHOWN = ("loss", "reward", "accuracy", "format_rate", "eval_loss")

    def __init__(self, enabled: bool = True, stream: Any = None) -> None:
        super().__init__()
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.bar: Any = None

    def begin(self, title, total=None, unit="step", initial=0):
        self.end()
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc=title, unit=unit, file=self.stream, dynamic_ncols=True)

    def progress(self, done, total=None, **metrics):
        if self.bar is None:
            return
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(max(0, done - self.bar.n))
        shown = {k: _short(metrics[k]) for k in self.SHOWN if metrics.get(k) is not None}
        if shown:
            self.bar.set_postfix(shown, refresh=False)

    def end(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def event(self, kind, message="", **data):
        if not self.enabled or kind in ("start", "finish", "summary"):
            return
        text = f"[{time.strftime('%H:%M:%S')}] {kind}" + (f": {message}" if message else "")
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream)


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value
