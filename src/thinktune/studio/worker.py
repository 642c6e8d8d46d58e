"""The studio's worker: runs queued jobs in child processes, one at a time by default (`workers`).

Each job runs as `python -m thinktune.studio.child --home HOME --job ID`: the same `thinktune.jobs.run_job`
the CLI calls, with a reporter that writes its progress into the store. Its output goes to
`HOME/logs/ID.log` (the job page shows the tail). A cancel writes the run folder's cancel request
(`thinktune.runs.request_cancel`): the job stops at its next step boundary with a checkpoint, and the
child exits with the run's status.

Nothing is lost or run twice when the studio dies: a child is started with a parent-death signal, so it
dies with the studio; on the next start every job the store still calls `running` or `cancelling` whose
process is gone becomes `interrupted` and is queued again (or `cancelled`, if a cancel was on its way),
and the rerun resumes from the run folder's last checkpoint with its metrics cut back to it. The run
folder's lock keeps a second process out while one still writes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from thinktune.runs import Run, pid_alive, request_cancel
from thinktune.studio.store import Store

log = logging.getLogger("thinktune.studio")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGKILL this process when the studio process that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Worker:
    """Starts queued jobs, watches them, records how they ended."""

    def __init__(self, store: Store, home: Path, workers: int = 1, poll_s: float = 0.2, retries: int = 0) -> None:
        self.store, self.home, self.workers, self.poll_s = store, Path(home), workers, poll_s
        self.retries = retries  # a failed job is queued again (resuming) up to this many times
        self.procs: dict[str, subprocess.Popen] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="thinktune-studio-worker", daemon=True)

    def start(self) -> None:
        self.recover()
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)

    def recover(self) -> list[str]:
        """Jobs the store says are running but whose process is gone: queued again (or cancelled)."""
        requeued = []
        for status in ("running", "cancelling"):
            for job in self.store.jobs(status):
                if job["pid"] and pid_alive(job["pid"]):
                    continue  # still running (another studio on the same home): leave it
                if status == "cancelling":
                    self.store.update_job(job["id"], status="cancelled", ended=time.time(), pid=None)
                    continue
                self.store.update_job(job["id"], status="interrupted", pid=None,
                                      error="the studio stopped while this job ran; resuming from its checkpoint")
                self.store.update_job(job["id"], status="queued")
                requeued.append(job["id"])
        return requeued

    def cancel(self, job_id: str) -> dict:
        """Ask a job to stop: a queued one is cancelled at once, a running one at its next step."""
        # compare-and-set: a job that the worker claims (or that finishes) meanwhile is not overwritten
        if not self.store.transition(job_id, "queued", status="cancelled", ended=time.time()):
            job = self.store.job(job_id)
            if job["status"] in ("running", "cancelling"):
                Path(job["run_dir"]).mkdir(parents=True, exist_ok=True)
                request_cancel(job["run_dir"])  # before the status: the child looks at either
                self.store.transition(job_id, "running", status="cancelling")
        return self.store.job(job_id)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._reap()
                while len(self.procs) < self.workers:
                    job = self.store.claim_next()
                    if job is None:
                        break
                    self._launch(job)
            except Exception:  # the loop must go on; the job that failed says why in the store
                log.exception("studio worker loop")
            self.stop_event.wait(self.poll_s)

    def _launch(self, job: dict) -> None:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = (logs / f"{job['id']}.log").open("ab")
        cmd = [sys.executable, "-m", "thinktune.studio.child", "--home", str(self.home), "--job", job["id"]]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        out.close()
        self.procs[job["id"]] = proc
        self.store.update_job(job["id"], pid=proc.pid)

    def _reap(self) -> None:
        for job_id, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.procs[job_id]
            self._finished(job_id, code)

    def _finished(self, job_id: str, code: int) -> None:
        job = self.store.job(job_id)
        if job is None:  # deleted while it ran
            return
        status, error = _outcome(job, code, self.home / "logs" / f"{job_id}.log")
        if status == "succeeded" and job["status"] == "cancelling":
            error = "the cancel arrived after the last step: the job finished"
        if status == "failed" and job["attempts"] <= self.retries:
            self.store.update_job(job_id, status="queued", pid=None, error=f"attempt {job['attempts']} failed: {error}")
            return
        self.store.update_job(job_id, status=status, ended=time.time(), pid=None, error=error)


def _outcome(job: dict, code: int, log_path: Path) -> tuple[str, str | None]:
    """How a child ended: from its run folder's manifest, else its exit code; a failure's one-line cause."""
    try:
        run = Run.load(job["run_dir"])
        status = run.status if run.status in ("succeeded", "cancelled", "failed") else None
        error = run.error
    except FileNotFoundError:
        status, error = None, None
    if status is None:
        status = {0: "succeeded", 3: "cancelled"}.get(code, "failed")
    if status == "failed" and not error:
        error = last_error_line(log_path) or f"the job's process exited with code {code}"
    return status, error


def last_error_line(log_path: Path) -> str | None:
    """The last line of a log that looks like an error (`...Error: ...`, `thinktune ...: error: ...`)."""
    if not log_path.is_file():
        return None
    lines = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error:" in line:
            return line[:500]
    return lines[-1][:500] if lines else None


def log_tail(log_path: Path, lines: int = 40) -> str:
    if not log_path.is_file():
        return ""
    text = log_path.read_text(encoding="utf-8", errors="replace").replace("\r", "\n")
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def progress_of(job: dict) -> dict[str, Any]:
    """The progress shown for a job (finished ones read 100%)."""
    p = dict(job.get("progress") or {})
    if job["status"] == "succeeded" and p.get("total"):
        p["done"] = p["total"]
    return p
