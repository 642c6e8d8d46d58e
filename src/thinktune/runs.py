"""The run folder: one layout for every job (sft, grpo, eval, compare, and the kinds to come).

    RUN/run.json         the manifest: kind, config, status, start/end times, thinktune and library
                         versions, data and model fingerprints, the parent run, key metrics, the error
    RUN/metrics.jsonl    one row per logged step (`step` first), append-only
    RUN/events.jsonl     start, resume, cancel, finish, failure, alarms, summaries: what happened when
    RUN/checkpoint-N/    trainer checkpoints; the last one that loads is resumed
    RUN/final/           the model (an adapter + tokenizer, or a full model); `load_model(RUN)` uses it
    RUN/run.lock         held while a process writes to the run (its pid); a second writer is refused
    RUN/cancel.request   written by `request_cancel` (or `thinktune runs cancel`): the job stops at its
                         next step boundary, leaves a checkpoint and status `cancelled`

Status: `running` while a job runs; then `succeeded`, `failed` (with the one-line cause), `cancelled` or
`interrupted` (Ctrl-C, or a process that died: `Run.load` reports a `running` run whose process is gone
as `interrupted`). Rerunning the same job into the same folder resumes it.

Lineage: a run started from another run's model (a GRPO run from an SFT run's `final/`, a compare
variant under its compare run) records that run as its `parent`; `lineage(RUN)` walks the chain and
`thinktune runs show RUN` prints it.

This module also owns what every job does with a trained model: `final_folder`, `last_checkpoint`,
`save_final` (with the base-model note an adapter needs), `merge_adapter`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.errors import JobCancelled, UserError
from thinktune.io import append_jsonl, read_jsonl, refuse_link, sha256_file, write_json

MANIFEST, METRICS, EVENTS = "run.json", "metrics.jsonl", "events.jsonl"
FINAL, MERGED = "final", "merged"
LOCK, CANCEL = "run.lock", "cancel.request"
BASE_FILE = "thinktune_base.json"  # in an adapter folder: the model spec the adapter was trained on
STATUSES = ("running", "succeeded", "failed", "cancelled", "interrupted")
LIBRARIES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")


# ------------------------------------------------------------------------------------------- the record
@dataclass
class Run:
    """A run folder's manifest, read back: what `run(config, reporter)` of every job returns.

    Attributes:
        folder: the run folder.
        kind: the job kind (`sft`, `grpo`, `eval`, `compare`, ...).
        status: one of `STATUSES`.
        config: the resolved config, as saved.
        parent: the run this one started from (a folder path), or None.
        metrics: key metrics (final loss, accuracy, reward, ...), as the job summarised them.
        started, ended: ISO times (UTC).
        error: the one-line cause of a failure.
        manifest: the whole manifest.
    """

    folder: Path
    kind: str
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    started: str | None = None
    ended: str | None = None
    error: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> Path:
        """`RUN/final`: where the job saved its model (may not exist for eval and compare runs)."""
        return self.folder / FINAL

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def load(cls, folder: str | Path) -> Run:
        """Read `folder/run.json`; a `running` run whose process is gone reads as `interrupted`.

        Raises:
            FileNotFoundError: the folder holds no run manifest.
        """
        folder = Path(folder)
        data = read_manifest(folder)
        if data is None:
            raise FileNotFoundError(f"{folder}: not a thinktune run folder (no {MANIFEST} with a job kind)")
        status = data.get("status", "running")
        if status == "running" and not _holder_alive(folder, data):
            status = "interrupted"
        return cls(folder=folder, kind=data["kind"], status=status, config=data.get("config") or {},
                   parent=data.get("parent"), metrics=data.get("metrics") or {}, started=data.get("started"),
                   ended=data.get("ended"), error=data.get("error"), manifest=data)


NOT_COMPARED = ("progress", "output_dir", "report_to")  # how and where a job reports, not what it computes


def same_config(folder: str | Path, cfg: Any) -> bool:
    """Whether the run in `folder` was made with `cfg` (its manifest's config, JSON-normalised, keys in
    `NOT_COMPARED` aside): what lets a pipeline skip a finished stage and a rerun skip a finished training."""
    from thinktune.config import to_dict

    saved = json.loads(json.dumps((read_manifest(folder) or {}).get("config") or {}, default=str))
    now = json.loads(json.dumps(to_dict(cfg), default=str))
    for key in NOT_COMPARED:
        saved.pop(key, None)
        now.pop(key, None)
    return saved == now


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest of a run folder, or None when there is none (or it is not a job manifest)."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


# ------------------------------------------------------------------------------------ a run in progress
def world_size() -> int:
    """Processes in this launch (`accelerate launch` and `torchrun` set `WORLD_SIZE`); 1 alone."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))
    except ValueError:
        return 1


def process_rank() -> int:
    """This process's rank in a multi-process launch (`RANK`); 0 alone (a stray `RANK` without a
    `WORLD_SIZE` above 1 is ignored)."""
    if world_size() == 1:
        return 0
    try:
        return int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        return 0


def is_main_process() -> bool:
    """True for the one process that writes the run folder (rank 0, or the only process)."""
    return process_rank() == 0


class RunWriter:
    """The handle a job writes through while it runs (see `job_run`).

    In a multi-process launch only the main process writes (`main`); the others get a writer whose
    writes are no-ops, so every process runs the same recipe code.
    """

    def __init__(self, folder: Path, kind: str, reporter: Any, main: bool = True) -> None:
        self.folder, self.kind, self.reporter, self.main = folder, kind, reporter, main
        self.metrics: dict[str, Any] = {}
        self.status = "running"

    @property
    def metrics_path(self) -> Path:
        return self.folder / METRICS

    @property
    def final(self) -> Path:
        return self.folder / FINAL

    def event(self, event: str, message: str = "", **data: Any) -> None:
        """Append an event (`start`, `alarm`, `cancel`...) to `events.jsonl` and pass it to the reporter."""
        if not self.main:
            return
        append_jsonl(self.folder / EVENTS, {"time": _now(), "event": event,
                                            **({"message": message} if message else {}), **data})
        if self.reporter is not None:
            self.reporter.event(event, message, **data)

    def log_metrics(self, row: dict[str, Any]) -> None:
        """Append one metrics row (it should carry its `step`)."""
        if not self.main:
            return
        append_jsonl(self.metrics_path, row)

    def cancel_requested(self) -> bool:
        return bool(self.reporter is not None and self.reporter.cancel_requested())

    def check_cancel(self) -> None:
        """Raise `JobCancelled` when a cancel was requested (call it at a step boundary)."""
        if self.cancel_requested():
            raise JobCancelled(f"{self.folder}: cancelled")

    def update(self, **fields: Any) -> None:
        """Merge `fields` into the manifest."""
        if not self.main:
            return
        data = read_manifest(self.folder) or {}
        write_json(self.folder / MANIFEST, {**data, **fields})


@contextlib.contextmanager
def job_run(folder: str | Path, kind: str, config: Any, reporter: Any = None, *, parent: str | Path | None = None,
            model: str | None = None, data: str | None = None) -> Iterator[RunWriter]:
    """Open (or reopen, to resume) a run folder for a job, and close it with its status.

    On entry: take the lock (refusing a folder another live process writes to), clear an old cancel request,
    write the manifest (`status: running`, config, versions, fingerprints, parent) and a `start` or
    `resume` event, and make the reporter watch this folder for cancel requests. On exit: `succeeded`;
    `JobCancelled` (raised by `RunWriter.check_cancel`) → `cancelled` and swallowed; Ctrl-C → `interrupted`
    and re-raised; any other error → `failed` with its one line, re-raised.
    """
    from thinktune.config import to_dict

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: is a file; give a folder for the run (output_dir / --out)")
    if not is_main_process():  # another process of a multi-process launch: rank 0 keeps the folder
        if reporter is not None:
            reporter.watch(folder)
        try:
            yield RunWriter(folder, kind, reporter, main=False)
        except JobCancelled:
            pass
        finally:
            if reporter is not None:
                reporter.unwatch(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    _take_lock(folder)
    writer = RunWriter(folder, kind, reporter)
    try:
        (folder / CANCEL).unlink(missing_ok=True)
        old = read_manifest(folder)
        cfg = to_dict(config) if dataclasses.is_dataclass(config) else dict(config or {})
        manifest = {
            "kind": kind, "status": "running", "config": cfg,
            "parent": str(parent) if parent else parent_of(model),
            "started": (old or {}).get("started") or _now(), "resumed": _now() if old else None, "ended": None,
            "attempts": (old or {}).get("attempts", 0) + 1,
            "pid": os.getpid(), "host": socket.gethostname(),
            "versions": versions(),
            "fingerprints": {**({"model": model_fingerprint(model)} if model else {}),
                             **({"data": data_fingerprint(data)} if data else {})},
            "metrics": (old or {}).get("metrics") or {}, "error": None,
        }
        write_json(folder / MANIFEST, manifest)
        writer.event("resume" if old else "start", job=kind, attempt=manifest["attempts"])
        if reporter is not None:
            reporter.watch(folder)
        try:
            yield writer
        except JobCancelled:
            writer.status = "cancelled"
        except KeyboardInterrupt:
            _close(writer, "interrupted", error="interrupted (Ctrl-C)")
            raise
        except BaseException as e:
            _close(writer, "failed", error=_one_line(e))
            raise
        else:
            if writer.status == "running":
                writer.status = "succeeded"
        _close(writer, writer.status)
    finally:
        if reporter is not None:
            reporter.unwatch(folder)
        _release_lock(folder)


def _close(writer: RunWriter, status: str, error: str | None = None) -> None:
    writer.update(status=status, ended=_now(), metrics=_jsonable(writer.metrics), error=error)
    writer.event({"succeeded": "finish", "cancelled": "cancel"}.get(status, status),
                 error or "", status=status)


def request_cancel(folder: str | Path) -> None:
    """Ask the job writing to `folder` (in this process or another) to stop at its next step boundary."""
    Path(folder, CANCEL).write_text(_now(), encoding="utf-8")


# ---------------------------------------------------------------------------------------------- locking
def _take_lock(folder: Path) -> None:
    """Take `RUN/run.lock` atomically: the pid is written to a temporary file first, then hard-linked to the
    lock's name (a link fails when the name exists), so no reader ever sees a lock without its holder."""
    path = folder / LOCK
    tmp = folder / f".run.lock.{os.getpid()}.{time.monotonic_ns()}"
    tmp.write_text(str(os.getpid()))
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                return
            except FileExistsError:
                holder = _lock_holder(path)
                if holder == os.getpid():
                    raise UserError(f"{folder}: this process is already running a job here") from None
                if holder is None or pid_alive(holder):
                    # a live holder, or a lock being written by a process that crashed mid-way: refuse
                    raise UserError(f"{folder}: a run is already writing here (process {holder}); wait for it, "
                                    f"cancel it (`thinktune runs cancel {folder}`) or choose another output "
                                    "folder") from None
                stale = folder / f".run.lock.stale.{holder}.{time.monotonic_ns()}"
                try:
                    os.rename(path, stale)  # one process wins the stale lock; the others retry the link
                    stale.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass
        raise UserError(f"{folder}: could not take the run lock {path}")
    finally:
        tmp.unlink(missing_ok=True)


def _release_lock(folder: Path) -> None:
    path = folder / LOCK
    if _lock_holder(path) == os.getpid():
        path.unlink(missing_ok=True)


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True while process `pid` runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def _holder_alive(folder: Path, manifest: dict[str, Any]) -> bool:
    holder = _lock_holder(folder / LOCK)
    if holder is None or manifest.get("host") not in (None, socket.gethostname()):
        return holder is not None
    return pid_alive(holder)


# -------------------------------------------------------------------------------------- fingerprints
def versions() -> dict[str, str | None]:
    """thinktune's, Python's and the main libraries' versions (None for one not installed)."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("thinktune", *LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def data_fingerprint(spec: str | None) -> dict[str, Any]:
    """What identifies a dataset: a file's sha256 (so an edited file is new data), else the spec itself."""
    if not spec:
        return {}
    path = Path(str(spec)).expanduser()
    if path.is_file():
        return {"spec": str(spec), "sha256": sha256_file(path)}
    if (path / "snapshot.json").is_file():
        return {"spec": str(spec), "snapshot": path.name}
    return {"spec": str(spec)}


def model_fingerprint(spec: str | None) -> dict[str, Any]:
    """What identifies a model: for a folder, a hash of its config files and its weight files' names and sizes."""
    if not spec:
        return {}
    path = Path(str(spec)).expanduser()
    folder = path / FINAL if (path / FINAL).is_dir() else path
    if not folder.is_dir():
        return {"spec": str(spec)}
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".gguf"):
            h.update(p.name.encode())
            h.update(p.read_bytes() if p.suffix == ".json" else str(p.stat().st_size).encode())
    return {"spec": str(spec), "sha256": h.hexdigest()[:16]}


def parent_of(model: str | None) -> str | None:
    """The run a model spec comes from: a run folder itself, the run around a `final/`, `merged/` or
    `checkpoint-N` folder; None for anything else (a base model, a Hub id)."""
    if not model:
        return None
    path = Path(str(model)).expanduser()
    for candidate in (path, path.parent):
        if read_manifest(candidate) is not None:
            return str(candidate)
    return None



# ------------------------------------------------------------------------------------- listing, lineage
def list_runs(root: str | Path = "runs") -> list[Run]:
    """Every run folder under `root` (nested ones too: compare variants), oldest first."""
    root = Path(root)
    found = []
    for manifest in sorted(root.rglob(MANIFEST)) if root.is_dir() else []:
        try:
            found.append(Run.load(manifest.parent))
        except FileNotFoundError:
            continue  # an evaluation's own settings file of older versions, not a job manifest
    if read_manifest(root) is not None and all(r.folder != root for r in found):
        found.insert(0, Run.load(root))
    return sorted(found, key=lambda r: r.started or "")


def lineage(folder: str | Path) -> list[Run]:
    """The run and its ancestors, newest first (stops at a parent that is gone, or at a loop)."""
    chain: list[Run] = []
    seen: set[str] = set()
    current: str | None = str(folder)
    while current and current not in seen:
        seen.add(current)
        try:
            run = Run.load(current)
        except FileNotFoundError:
            break
        chain.append(run)
        current = run.parent
    return chain


# ------------------------------------------------------------------------------ checkpoints and logs
def checkpoint_step(path: Path) -> int:
    return int(path.name.split("-", 1)[1])


def checkpoints(run_dir: str | Path) -> list[Path]:
    """The `checkpoint-N` folders that hold a trainer state, newest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-", 1)[1].isdigit()
             and (p / "trainer_state.json").is_file()]
    return sorted(found, key=checkpoint_step, reverse=True)


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The `checkpoint-N` folder with the highest N that holds a trainer state, or None."""
    found = checkpoints(run_dir)
    return found[0] if found else None


def cut_after_step(path: str | Path, step: int) -> int:
    """Drop the rows of an append-only log whose `step` is past `step` (what a resumed run writes again).

    Rows without a step are kept. Returns how many rows were dropped. The file is replaced atomically.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    rows = list(read_jsonl(path))
    keep = [r for r in rows if not isinstance(r.get("step"), int) or r["step"] <= step]
    if len(keep) == len(rows) and path.read_bytes().endswith(b"\n") or not path.stat().st_size:
        return 0
    refuse_link(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep), encoding="utf-8")
    os.replace(tmp, path)
    return len(rows) - len(keep)


# -------------------------------------------------------------------------------------------- models
def final_folder(run_or_folder: str | Path) -> Path:
    """`RUN/final` for a run folder, or the folder itself when it already holds a model or adapter."""
    path = Path(run_or_folder)
    if (path / FINAL).is_dir():
        return path / FINAL
    if (path / "config.json").is_file() or (path / "adapter_config.json").is_file():
        return path
    raise FileNotFoundError(f"{path}: neither a run folder (no {FINAL}/) nor a model or adapter folder")


def trained_job(folder: str | Path) -> str | None:
    """The SFT job type (`reasoning` / `non_reasoning`) a run saved beside its model, or None."""
    path = Path(folder) / "config.yaml"
    if not path.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return data.get("job") if isinstance(data, dict) else None


def portable_base(spec: str) -> str:
    """A base-model spec as an adapter should record it: a path made absolute, a name (`default`, `tiny`,
    a Hub id) as it is (the cached path of `default` is machine-specific, `tiny` has no path at all)."""
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.exists() else spec


def save_final(model: Any, tokenizer: Any, folder: str | Path, *, config: Any, base: str, job: str,
               state_dict: dict | None = None) -> Path:
    """Save a trained model (adapter or full) + tokenizer + config to `folder`, loadable by `load_model`.

    An adapter records the base it was trained on in `base_model_name_or_path` (as `portable_base(base)`)
    and in `thinktune_base.json` with the job type. `state_dict`: the weights gathered from every process
    when they were sharded (FSDP, DeepSpeed ZeRO-3; see `training.gathered_state`).
    """
    from thinktune.config import save_config

    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(str(folder), **({"state_dict": state_dict} if state_dict is not None else {}))
    tokenizer.save_pretrained(str(folder))
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        spec = portable_base(base)
        data = json.loads(adapter_config.read_text())
        data["base_model_name_or_path"] = spec
        adapter_config.write_text(json.dumps(data, indent=2))
        (folder / BASE_FILE).write_text(json.dumps({"base": spec, "job": job}))
    save_config(config, folder / "config.yaml")
    return folder


def merge_adapter(run_or_folder: str | Path, out: str | Path) -> Path:
    """Merge a LoRA adapter into its base (PEFT `merge_and_unload`) and save a plain model folder at `out`.

    A full-model folder is copied as it is. The result loads with `load_model(out)` and needs no PEFT.

    Raises:
        FileExistsError: `out` exists and is not empty (nothing is overwritten).
    """
    from thinktune.models import load_model

    src, out = final_folder(run_or_folder), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: already exists and is not empty; choose another folder or remove it")
    if not (src / "adapter_config.json").is_file():
        shutil.copytree(src, out, dirs_exist_ok=True)
        return out
    model, tokenizer = load_model(str(src), device="cpu")
    merged = model.merge_and_unload()
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    if (src / "config.yaml").is_file():
        shutil.copy2(src / "config.yaml", out / "config.yaml")
    return out


# -------------------------------------------------------------------------------- resumable phases
@dataclass
class Phase:
    """One resumable step of a multi-phase job (compare, a flywheel round): the folder it owns and the
    settings its output depends on.

    `begin()` clears the folder when it holds output made with other settings (a changed config re-runs the
    phase from scratch) and keeps it otherwise, so work a killed phase left behind (the harness's
    per-question samples) is resumed. `finish()` writes the marker that makes `done()` true.
    """

    name: str
    folder: Path
    key: dict[str, Any]

    @property
    def marker(self) -> Path:
        return self.folder / "phase.json"

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.key, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def done(self) -> bool:
        return self._read(self.marker).get("fingerprint") == self.fingerprint()

    def begin(self) -> None:
        started = self.folder / "phase.started.json"
        if self.folder.exists() and self._read(started).get("fingerprint") != self.fingerprint():
            shutil.rmtree(self.folder)
        write_json(started, {"fingerprint": self.fingerprint()})

    def finish(self, info: dict[str, Any]) -> None:
        write_json(self.marker, {"fingerprint": self.fingerprint(), "key": self.key, **info})

    def info(self) -> dict[str, Any]:
        return {k: v for k, v in self._read(self.marker).items() if k not in ("fingerprint", "key")}


# ------------------------------------------------------------------------------------------- helpers
def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip()


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))
