"""Kill the studio (SIGKILL) while a job runs, start it again: the job's process died with it, the job is
queued again by itself, resumes from its checkpoint and finishes with every metric row exactly once."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from thinktune.io import read_jsonl

CONFIG = {"model": "tiny", "job": "reasoning", "data": "builtin:arith_sample", "limit": 40, "max_steps": 14,
          "batch_size": 2, "max_length": 128, "save_steps": 2, "lora": {"r": 4, "alpha": 8}}


def start_studio(home: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "thinktune", "studio", "--home", str(home), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the studio did not start")


def job_row(home: Path, job_id: str) -> dict:
    with sqlite3.connect(home / "studio.db") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


def test_a_job_survives_a_killed_studio(tmp_path):
    home = tmp_path / "studio"
    studio, base = start_studio(home)
    try:
        job = httpx.post(base + "/api/jobs", json={"kind": "sft", "config": CONFIG}, timeout=30).json()
        run_dir = Path(job["run_dir"])
        deadline = time.time() + 180
        while time.time() < deadline:  # past the first checkpoint, before the end
            steps = [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl")] if (run_dir / "metrics.jsonl").is_file() else []
            if steps and max(steps) >= 5:
                break
            time.sleep(0.1)
        child = job_row(home, job["id"])["pid"]
        assert child, "the job has no process"
        os.kill(studio.pid, signal.SIGKILL)
        studio.wait()
    finally:
        if studio.poll() is None:
            studio.kill()
    deadline = time.time() + 20
    while time.time() < deadline and Path(f"/proc/{child}").exists() and \
            Path(f"/proc/{child}/stat").read_text().split()[2] != "Z":
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or Path(f"/proc/{child}/stat").read_text().split()[2] == "Z", \
        "the job's process outlived the studio"
    assert job_row(home, job["id"])["status"] == "running"  # what the store said when the studio died
    before = [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "loss" in r]
    assert 5 <= max(before) < 14

    studio, base = start_studio(home)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            current = httpx.get(f"{base}/api/jobs/{job['id']}", timeout=10).json()
            if current["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert current["status"] == "succeeded", httpx.get(f"{base}/api/jobs/{job['id']}/log").text
        assert current["attempts"] == 2
        steps = [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "loss" in r]
        assert steps == list(range(1, 15))  # none twice, none missing
        resumed = [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "data"][-1]
        assert resumed["resumed_from"].startswith("checkpoint-") and resumed["start_step"] >= 2
    finally:
        studio.kill()
        studio.wait()
