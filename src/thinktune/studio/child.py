"""One studio job in its own process: `python -m thinktune.studio.child --home HOME --job ID`.

Reads the job from the store, builds its typed config (the same `thinktune.jobs` registry the CLI uses),
runs it with a reporter that writes progress into the store (at most twice a second, and at every phase
start and end), and exits 0 (succeeded), 3 (cancelled) or 1 (failed, the cause printed last).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from thinktune.reporter import Reporter


class StoreReporter(Reporter):
    """Progress into the studio's store; events are in the run folder's events.jsonl already."""

    def __init__(self, store: Any, job_id: str, every_s: float = 0.5) -> None:
        super().__init__()
        self.store, self.job_id, self.every_s = store, job_id, every_s
        self.state: dict[str, Any] = {}
        self.last = 0.0

    def begin(self, title, total=None, unit="step", initial=0):
        self.state = {"phase": title, "unit": unit, "done": initial, "total": total}
        self._write(force=True)

    def progress(self, done, total=None, **metrics):
        self.state.update(done=done, total=total if total is not None else self.state.get("total"))
        self.state["metrics"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and k != "eta_s"}
        self.state["eta_s"] = metrics.get("eta_s")
        self._write()

    def end(self):
        self._write(force=True)

    def event(self, kind, message="", **data):
        if kind in ("alarm", "warning", "cancel"):
            events = self.state.setdefault("events", [])
            events.append({"kind": kind, "message": message, "time": time.time()})
            del events[:-20]
            self._write(force=True)

    def cancel_requested(self) -> bool:
        """Also true when the store says the job is being cancelled (a cancel sent while this process started)."""
        if super().cancel_requested():
            return True
        now = time.monotonic()
        if now - getattr(self, "_checked", 0.0) >= self.every_s:
            self._checked = now
            job = self.store.job(self.job_id)
            self._store_cancel = job is None or job["status"] in ("cancelling", "cancelled")
        return getattr(self, "_store_cancel", False)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.every_s:
            self.last = now
            self.store.update_job(self.job_id, progress=self.state)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", required=True)
    p.add_argument("--job", required=True)
    args = p.parse_args(argv)

    from pathlib import Path

    from thinktune.config import from_dict
    from thinktune.jobs import get_job, run_job
    from thinktune.studio.store import Store

    store = Store(Path(args.home) / "studio.db")
    job = store.job(args.job)
    if job is None:
        print(f"thinktune studio: no job {args.job}", file=sys.stderr)
        return 1
    if job["status"] in ("cancelling", "cancelled"):  # cancelled before this process got going
        print(f"{job['kind']} {args.job}: cancelled before it started", flush=True)
        return 3
    try:
        cfg = from_dict(get_job(job["kind"]).config_class(), job["config"], f"job {args.job}")
        run = run_job(job["kind"], cfg, StoreReporter(store, args.job), parent=job["parent"])
    except Exception as e:
        import traceback

        traceback.print_exc()
        print(f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}", flush=True)
        return 1
    print(f"{job['kind']} {args.job}: {run.status}", flush=True)
    return {"succeeded": 0, "cancelled": 3}.get(run.status, 1)


if __name__ == "__main__":
    sys.exit(main())
