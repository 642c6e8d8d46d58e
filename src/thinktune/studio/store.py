"""The studio's store: SQLite in WAL mode under the studio home, versioned with migrations.

Tables: `datasets` (the uploaded file, its validation report), `snapshots` (named splits of a dataset),
`jobs` (kind, config, status, progress, times, run folder, parent, error, the worker's pid). What a job
measured stays in its run folder (`thinktune.runs`: manifest, metrics, events); the store points at it.

Job status: `queued` → `running` → `succeeded` | `failed` | `cancelled`; `cancelling` while a cancel
request travels to the job; `interrupted` when the studio died while the job ran (it is queued again on
restart and resumes from its checkpoint).

Several processes write here (the studio and each job's worker process), so every connection waits for
the lock (`busy_timeout`) instead of failing, and each write is one short transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE datasets (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, filename TEXT NOT NULL, path TEXT NOT NULL,
        size INTEGER NOT NULL, rows INTEGER, created REAL NOT NULL, validation TEXT
    );
    CREATE TABLE snapshots (
        id TEXT NOT NULL, dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE, path TEXT NOT NULL,
        train INTEGER NOT NULL, validation INTEGER NOT NULL, val_fraction REAL NOT NULL, seed INTEGER NOT NULL,
        created REAL NOT NULL, PRIMARY KEY (id, dataset_id)
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
        status TEXT NOT NULL, progress TEXT, created REAL NOT NULL, started REAL, ended REAL,
        run_dir TEXT NOT NULL, parent TEXT, dataset_id TEXT, error TEXT, pid INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_status ON jobs(status, created);
    """,
}
TERMINAL = ("succeeded", "failed", "cancelled")
STATUSES = ("queued", "running", "cancelling", "interrupted", *TERMINAL)


class Store:
    """A thread-safe handle on the studio database (one connection per thread)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    def connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def migrate(self) -> int:
        """Bring the schema to `SCHEMA_VERSION`; returns the version it was at."""
        conn = self.connect()
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row["value"]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: schema version {version} is newer than this thinktune's "
                               f"({SCHEMA_VERSION}); upgrade thinktune")
        for v in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[v].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(v),))
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
        return version

    # ------------------------------------------------------------------------------------ datasets
    def add_dataset(self, name: str, filename: str, path: str, size: int, rows: int | None,
                    validation: dict | None) -> dict:
        ds = {"id": "ds-" + uuid.uuid4().hex[:10], "name": name, "filename": filename, "path": path, "size": size,
              "rows": rows, "created": time.time(), "validation": json.dumps(validation) if validation else None}
        self.connect().execute("INSERT INTO datasets VALUES (:id, :name, :filename, :path, :size, :rows, :created, "
                               ":validation)", ds)
        return self.dataset(ds["id"])

    def dataset(self, dataset_id: str) -> dict | None:
        row = self.connect().execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        return _dataset(row) if row else None

    def datasets(self) -> list[dict]:
        return [_dataset(r) for r in self.connect().execute("SELECT * FROM datasets ORDER BY created DESC")]

    def set_validation(self, dataset_id: str, validation: dict, rows: int | None) -> None:
        self.connect().execute("UPDATE datasets SET validation = ?, rows = ? WHERE id = ?",
                               (json.dumps(validation), rows, dataset_id))

    def add_snapshot(self, snapshot_id: str, dataset_id: str, path: str, train: int, validation: int,
                     val_fraction: float, seed: int) -> dict:
        self.connect().execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (snapshot_id, dataset_id, path, train, validation, val_fraction, seed, time.time()))
        return next(s for s in self.snapshots(dataset_id) if s["id"] == snapshot_id)

    def snapshots(self, dataset_id: str) -> list[dict]:
        rows = self.connect().execute("SELECT * FROM snapshots WHERE dataset_id = ? ORDER BY created DESC",
                                      (dataset_id,))
        return [dict(r) for r in rows]

    def snapshot(self, snapshot_id: str) -> dict | None:
        row = self.connect().execute("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
        return dict(row) if row else None

    # ---------------------------------------------------------------------------------------- jobs
    def add_job(self, kind: str, name: str, config: dict, run_dir: str, parent: str | None = None,
                dataset_id: str | None = None, job_id: str | None = None) -> dict:
        job = {"id": job_id or "job-" + uuid.uuid4().hex[:10], "kind": kind, "name": name,
               "config": json.dumps(config), "status": "queued", "progress": None, "created": time.time(),
               "started": None, "ended": None, "run_dir": run_dir, "parent": parent, "dataset_id": dataset_id,
               "error": None, "pid": None, "attempts": 0}
        self.connect().execute(
            "INSERT INTO jobs VALUES (:id, :kind, :name, :config, :status, :progress, :created, :started, :ended, "
            ":run_dir, :parent, :dataset_id, :error, :pid, :attempts)", job)
        return self.job(job["id"])

    def job(self, job_id: str) -> dict | None:
        row = self.connect().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, status: str | None = None) -> list[dict]:
        conn = self.connect()
        if status:
            rows = conn.execute("SELECT * FROM jobs WHERE status = ? ORDER BY created", (status,))
        else:
            rows = conn.execute("SELECT * FROM jobs ORDER BY created DESC")
        return [_job(r) for r in rows]

    def update_job(self, job_id: str, **fields: Any) -> None:
        if "progress" in fields and not isinstance(fields["progress"], (str, type(None))):
            fields["progress"] = json.dumps(fields["progress"])
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self.connect().execute(f"UPDATE jobs SET {sets} WHERE id = :id", {**fields, "id": job_id})

    def transition(self, job_id: str, from_status: str, **fields: Any) -> bool:
        """Update a job only if its status is still `from_status` (compare-and-set); True when it was."""
        if "progress" in fields and not isinstance(fields["progress"], (str, type(None))):
            fields["progress"] = json.dumps(fields["progress"])
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        cur = self.connect().execute(f"UPDATE jobs SET {sets} WHERE id = :id AND status = :from_status",
                                     {**fields, "id": job_id, "from_status": from_status})
        return cur.rowcount == 1

    def claim_next(self) -> dict | None:
        """Mark the oldest queued job `running` and return it (one transaction: no job is taken twice)."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            conn.execute("UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1, error = NULL "
                         "WHERE id = ?", (time.time(), row["id"]))
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        return self.job(row["id"])

    def delete_job(self, job_id: str) -> None:
        self.connect().execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def _dataset(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["validation"] = json.loads(d["validation"]) if d["validation"] else None
    return d


def _job(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["config"] = json.loads(d["config"])
    d["progress"] = json.loads(d["progress"]) if d["progress"] else None
    return d
