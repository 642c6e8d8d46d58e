"""`thinktune studio`: one local app — the REST API, the web UI and the OpenAI-compatible endpoints.

    thinktune studio                       # http://127.0.0.1:8765  (home: ./studio)
    thinktune studio --home ~/tt --workers 2

The API and the UI call the library's functions (`thinktune.jobs`, `thinktune.data`, `thinktune.compare`,
`thinktune.serve`); nothing is computed twice. Long work runs in the worker's child processes, never in a
request handler. OpenAPI docs at `/docs`; the chat endpoints of `thinktune serve` for the trained models
at `/serve/v1` (model names: a job id, `default`, or `tiny`).

REST API (JSON; errors are `{"error": {"message", "type", "param", "code"}}` with a 4xx status):

    GET  /api/catalog?job=reasoning          models for a job type, with memory estimates
    GET  /api/decision-table                 when reasoning pays, when it does not (advise's scenarios)
    POST /api/datasets?name=N&filename=F     upload (the body is the file; size-limited: 413)
    GET  /api/datasets, /api/datasets/{id}   list, one (with its validation report and snapshots)
    POST /api/datasets/{id}/validate?job=    validate for a job type
    GET  /api/datasets/{id}/preview?job=&n=  rows as the model will see them, thinking and answer apart
    GET  /api/datasets/{id}/advise           reasoning or not, for this dataset
    POST /api/datasets/{id}/snapshots        {val_fraction, seed}: a named split
    POST /api/jobs                           {kind, config, name?, dataset_id?, snapshot_id?} → queued
    GET  /api/jobs, /api/jobs/{id}           list, one (progress, status, error, lineage)
    GET  /api/jobs/{id}/metrics | /log | /events (server-sent events until the job ends) | /report
    POST /api/jobs/{id}/cancel | /resume;  DELETE /api/jobs/{id}
    GET  /api/models                         base models and trained ones (for the playground)

Safety: binds to 127.0.0.1; anywhere else a token is required, sent as `Authorization: Bearer` or
`X-Thinktune-Token` on every API call (a cookie alone is never enough). Uploads are written only under
the studio home, under a name the studio makes (the client's file name is kept as data, never as a path).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinktune.serve.app import APIError, error_body, read_json
from thinktune.studio.store import TERMINAL, Store
from thinktune.studio.worker import Worker, log_tail, progress_of

STATIC = Path(__file__).resolve().parent / "static"
JOB_KINDS = ("sft", "grpo", "eval", "compare", "flywheel", "score", "distill")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class StudioSettings:
    home: Path = field(default_factory=lambda: Path("studio"))
    token: str | None = None
    workers: int = 1
    retries: int = 0
    max_upload_bytes: int = 200_000_000


def create_studio(settings: StudioSettings, start_worker: bool = True) -> FastAPI:
    """The studio app over `settings.home` (created if new); its worker starts with the app."""
    home = Path(settings.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    store = Store(home / "studio.db")
    worker = Worker(store, home, workers=settings.workers, retries=settings.retries)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_worker:
            worker.start()
        try:
            yield
        finally:
            if start_worker:
                worker.stop()

    app = FastAPI(title="thinktune studio", version="1", lifespan=lifespan)
    app.state.store, app.state.worker, app.state.home, app.state.settings = store, worker, home, settings

    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError) -> JSONResponse:
        return JSONResponse(error_body(e.message, e.kind, e.param, e.code), status_code=e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:  # unknown paths, methods
        return JSONResponse(error_body(str(e.detail), "invalid_request_error", None, f"http_{e.status_code}"),
                            status_code=e.status_code)

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        path = request.url.path
        if request.method not in ("GET", "HEAD", "OPTIONS") and _cross_site(request):
            # another web page driving the local studio (a form or fetch from a foreign origin): refused
            body = error_body("cross-site requests are refused (the Origin is not this studio)",
                              "permission_error", None, "cross_site")
            return JSONResponse(body, status_code=403)
        if settings.token and (path.startswith(("/api/", "/serve/")) or path in ("/docs", "/openapi.json")):
            given = request.headers.get("x-thinktune-token") or ""
            bearer = request.headers.get("authorization", "")
            if bearer.lower().startswith("bearer "):
                given = given or bearer[7:]
            if not hmac.compare_digest(given.encode(), settings.token.encode()):
                body = error_body("missing or invalid token (send X-Thinktune-Token or Authorization: Bearer)",
                                  "authentication_error", None, "invalid_token")
                return JSONResponse(body, status_code=401)
        return await call_next(request)

    _pages(app)
    _data_routes(app, store, home, settings)
    _job_routes(app, store, worker, home)
    _job_control_routes(app, store, worker)
    _serve_mount(app, store)
    return app


def _cross_site(request: Request) -> bool:
    """True for a state-changing request a browser sent from another origin than the studio's own."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    from urllib.parse import urlsplit

    return urlsplit(origin).netloc != request.headers.get("host", "")


# ---------------------------------------------------------------------------------------------- pages
def _pages(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        path = (STATIC / name).resolve()
        if path.parent != STATIC or not path.is_file():
            raise APIError(404, f"no static file {name!r}", "name", "not_found")
        return FileResponse(path)

    @app.get("/api/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/api/catalog")
    async def catalog(job: str | None = None) -> dict:
        from thinktune.models.catalog import catalog_rows

        if job not in (None, "reasoning", "non_reasoning"):
            raise APIError(400, "job: reasoning or non_reasoning", "job")
        rows = catalog_rows(job)
        rows.append({"model": "tiny", "params": "0.003B", "context": 1024, "family": "test", "suits":
                     "reasoning/non_reasoning", "full_ft_gb": 0.0, "lora_gb": 0.0, "licence": "-",
                     "note": "a 2-layer random model for trying the studio out in seconds (learns nothing)"})
        return {"job": job, "models": rows}

    @app.get("/api/decision-table")
    async def decision_table() -> dict:
        from thinktune.compare.advise import SCENARIOS

        return {"rows": [{"scenario": s.name, "leans": s.leans, "weight": s.weight, "why": s.why} for s in SCENARIOS]}


# --------------------------------------------------------------------------------------------- data
def _data_routes(app: FastAPI, store: Store, home: Path, settings: StudioSettings) -> None:
    def dataset_or_404(dataset_id: str) -> dict:
        return _found(store.dataset(dataset_id), "dataset", dataset_id)

    def job_type(job: str) -> str:
        if job not in ("reasoning", "non_reasoning"):
            raise APIError(400, f"job: reasoning or non_reasoning, got {job!r}", "job")
        return job

    @app.post("/api/datasets", status_code=201)
    async def upload(request: Request, name: str | None = None, filename: str = "data.jsonl") -> dict:
        return await save_upload(request, store, home, settings, name, filename)

    @app.get("/api/datasets")
    async def datasets() -> dict:
        return {"datasets": [{k: v for k, v in d.items() if k != "validation"} | _summary(d) for d in store.datasets()]}

    @app.get("/api/datasets/{dataset_id}")
    async def dataset(dataset_id: str) -> dict:
        ds = dataset_or_404(dataset_id)
        return {**ds, "snapshots": store.snapshots(dataset_id)}

    @app.post("/api/datasets/{dataset_id}/validate")
    async def validate(dataset_id: str, job: str = "reasoning") -> dict:
        ds = dataset_or_404(dataset_id)
        report = await asyncio.to_thread(_validate, Path(ds["path"]), job_type(job))
        store.set_validation(dataset_id, report, report["n_rows"])
        return report

    @app.get("/api/datasets/{dataset_id}/preview")
    async def preview(dataset_id: str, job: str = "reasoning", n: int = 5) -> dict:
        ds, job = dataset_or_404(dataset_id), job_type(job)
        try:
            rows = await asyncio.to_thread(_preview, Path(ds["path"]), job, max(1, min(n, 50)))
        except Exception as e:  # a row the readers reject among the first ones: say so (as advise does), not 500
            raise APIError(422, f"dataset_id: cannot read the dataset ({e})", "dataset_id", "unreadable") from None
        return {"rows": rows}

    @app.get("/api/datasets/{dataset_id}/advise")
    async def advise(dataset_id: str) -> dict:
        from thinktune.compare.advise import advise as advise_fn

        ds = dataset_or_404(dataset_id)
        try:
            advice = await asyncio.to_thread(advise_fn, None, ds["path"])
        except Exception as e:  # a dataset the readers reject: say so instead of advising
            raise APIError(422, f"dataset_id: cannot read the dataset ({e})", "dataset_id", "unreadable") from None
        return {"recommendation": advice.recommendation, "confidence": advice.confidence, "reasons": advice.reasons}

    @app.post("/api/datasets/{dataset_id}/snapshots", status_code=201)
    async def snapshot(dataset_id: str, request: Request) -> dict:
        ds = dataset_or_404(dataset_id)
        val_fraction, seed = _split_settings(
            await read_json(request, 10_000) if int(request.headers.get("content-length") or 0) else {})
        try:
            snap, folder = await asyncio.to_thread(_snapshot, Path(ds["path"]), float(val_fraction), seed, home)
        except ValueError as e:
            raise APIError(422, f"dataset_id: {e}", "dataset_id", "unreadable") from None
        return store.add_snapshot(snap.id, dataset_id, str(folder), len(snap.train), len(snap.validation),
                                  float(val_fraction), seed)


async def save_upload(request: Request, store: Store, home: Path, settings: StudioSettings, name: str | None,
                      filename: str) -> dict:
    """Write an upload under the studio home (a name the studio makes; 413 past the limit), validate it for a
    reasoning job, and record it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise APIError(413, f"upload is {int(declared):,} bytes; the limit is {settings.max_upload_bytes:,}",
                       "file", "too_large")
    folder = _inside(home, home / "datasets" / f"upload-{time.time_ns()}")
    folder.mkdir(parents=True)
    path = folder / "data.jsonl"  # the studio's name; the client's is kept as data only
    size = 0
    try:
        with path.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise APIError(413, f"upload is over the limit of {settings.max_upload_bytes:,} bytes",
                                   "file", "too_large")
                f.write(chunk)
    except APIError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if size == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise APIError(400, "file: the upload is empty", "file", "empty")
    report = await asyncio.to_thread(_validate, path, "reasoning")
    ds = store.add_dataset(_SAFE.sub("_", name or Path(filename).stem)[:80] or "dataset",
                           Path(filename).name[:200], str(path), size, report["n_rows"], report)
    final = _inside(home, home / "datasets" / ds["id"])
    folder.rename(final)
    store.connect().execute("UPDATE datasets SET path = ? WHERE id = ?", (str(final / "data.jsonl"), ds["id"]))
    return store.dataset(ds["id"])


def _split_settings(body: Any) -> tuple[float, int]:
    if not isinstance(body, dict):
        raise APIError(422, "body: a JSON object {val_fraction, seed}", None)
    val_fraction, seed = body.get("val_fraction", 0.1), body.get("seed", 0)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise APIError(422, "val_fraction: a number in [0, 1)", "val_fraction")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise APIError(422, "seed: an integer", "seed")
    return float(val_fraction), seed


def _studio_path(value: Any, home: Path, param: str) -> None:
    """A path a job writes to or trains on must be under the studio home (`builtin:`/`hf:` data is fine)."""
    if not isinstance(value, str) or value.startswith(("builtin:", "hf:", "snapshot:")):
        return
    path = Path(value.removeprefix("jsonl:")).expanduser()
    resolved = path.resolve() if path.is_absolute() else (Path.cwd() / path).resolve()
    if resolved != home and home not in resolved.parents:
        raise APIError(422, f"{param}: {value!r} is outside the studio home; upload the data (or use the "
                            "studio's own folders)", param, "outside_home")


def _found(row: dict | None, what: str, key: str) -> dict:
    """`row`, or a 404 naming the id that matched nothing."""
    if row is None:
        raise APIError(404, f"no {what} {key!r}", f"{what}_id", "not_found")
    return row


def _validate(path: Path, job: str) -> dict:
    from thinktune.data.validate import validate_file

    report = validate_file(str(path), job=job).to_dict()
    report["problems"] = report["problems"][:200]  # the page lists the first ones; counts stay whole
    return report


def _summary(ds: dict) -> dict:
    v = ds.get("validation") or {}
    return {"ok": v.get("ok"), "n_errors": v.get("n_errors"), "n_without_reasoning": v.get("n_without_reasoning")}


def _preview(path: Path, job: str, n: int) -> list[dict]:
    from thinktune.data.readers import read_examples
    from thinktune.data.views import to_view

    rows = []
    for ex in read_examples(str(path), limit=n):
        row = {"location": ex.meta.get("location"), "question": ex.question, "thinking": ex.reasoning,
               "answer": ex.answer, "target": None, "error": None}
        try:
            row["target"] = to_view(ex, job)[1]
        except ValueError as e:
            row["error"] = str(e)
        rows.append(row)
    return rows


def _snapshot(path: Path, val_fraction: float, seed: int, home: Path) -> tuple[Any, Path]:
    from thinktune.data.readers import read_examples
    from thinktune.data.snapshot import make_snapshot, save_snapshot

    snap = make_snapshot(read_examples(str(path)), val_fraction, seed, source=str(path))
    return snap, save_snapshot(snap, home / "snapshots")


def _inside(home: Path, path: Path) -> Path:
    """`path`, refused unless it stays under `home` with no symlink on the way (uploads never leave it)."""
    resolved = path.resolve()
    if home not in resolved.parents and resolved != home:
        raise APIError(400, "path outside the studio home", "file", "bad_path")
    for parent in [path, *path.parents]:
        if parent == home:
            break
        if parent.is_symlink():
            raise APIError(400, f"{parent.name}: a symbolic link in the studio home is refused", "file", "bad_path")
    return path


# --------------------------------------------------------------------------------------------- jobs
def _job_routes(app: FastAPI, store: Store, worker: Worker, home: Path) -> None:
    def job_or_404(job_id: str) -> dict:
        return _found(store.job(job_id), "job", job_id)

    @app.post("/api/jobs", status_code=201)
    async def create_job(request: Request) -> dict:
        return _job_view(await new_job(await read_json(request, 1_000_000), store, home))

    @app.get("/api/jobs")
    async def jobs() -> dict:
        return {"jobs": [_job_view(j, brief=True) for j in store.jobs()]}

    @app.get("/api/jobs/{job_id}")
    async def job(job_id: str) -> dict:
        return _job_view(job_or_404(job_id))

    @app.get("/api/jobs/{job_id}/metrics")
    async def metrics(job_id: str) -> dict:
        from thinktune.io import read_jsonl

        path = Path(job_or_404(job_id)["run_dir"]) / "metrics.jsonl"
        return {"rows": list(read_jsonl(path)) if path.is_file() else []}

    @app.get("/api/jobs/{job_id}/log")
    async def log(job_id: str, lines: int = 40) -> PlainTextResponse:
        job_or_404(job_id)
        return PlainTextResponse(log_tail(home / "logs" / f"{job_id}.log", max(1, min(lines, 500))))

    @app.get("/api/jobs/{job_id}/report")
    async def report(job_id: str) -> FileResponse:
        path = Path(job_or_404(job_id)["run_dir"]) / "report.html"
        if not path.is_file():
            raise APIError(404, "this job has no report (yet)", "job_id", "no_report")
        return FileResponse(path)

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> StreamingResponse:
        job_or_404(job_id)

        return StreamingResponse(job_events(store, job_id, request), media_type="text/event-stream")



def _job_control_routes(app: FastAPI, store: Store, worker: Worker) -> None:
    def job_or_404(job_id: str) -> dict:
        return _found(store.job(job_id), "job", job_id)

    @app.post("/api/jobs/{job_id}/cancel")
    async def cancel(job_id: str) -> dict:
        job = job_or_404(job_id)
        if job["status"] in TERMINAL:
            raise APIError(409, f"job {job_id} already ended ({job['status']})", "job_id", "not_running")
        return _job_view(worker.cancel(job_id))

    @app.post("/api/jobs/{job_id}/resume")
    async def resume(job_id: str) -> dict:
        job = job_or_404(job_id)
        if job["status"] not in ("cancelled", "failed", "interrupted"):
            raise APIError(409, f"job {job_id} is {job['status']}; only a cancelled, failed or interrupted job "
                                "resumes", "job_id", "not_resumable")
        store.update_job(job_id, status="queued", ended=None, error=None)
        return _job_view(store.job(job_id))

    @app.delete("/api/jobs/{job_id}")
    async def delete(job_id: str) -> dict:
        job = job_or_404(job_id)
        if job["status"] not in TERMINAL and job["status"] != "queued":
            raise APIError(409, f"job {job_id} is {job['status']}; cancel it first", "job_id", "running")
        store.delete_job(job_id)
        shutil.rmtree(job["run_dir"], ignore_errors=True)
        return {"deleted": job_id}

    @app.get("/api/traces")
    async def traces(model: str | None = None, scorer: str | None = None, min_score: float | None = None,
                     max_score: float | None = None, limit: int = 200) -> dict:
        from thinktune.flywheel.traces import filter_traces, load_traces

        found = filter_traces(load_traces(app.state.home / "serve"), model=model, scorer=scorer, min_score=min_score,
                              max_score=max_score)
        rows = [{"id": t.id, "model": t.model, "time": t.time, "question": t.question, "thinking": t.thinking,
                 "answer": t.answer, "score": t.score(scorer) if scorer else t.best_score(),
                 "scores": [{k: s[k] for k in ("scorer", "score")} for s in t.scores], "feedback": len(t.feedback)}
                for t in reversed(found)]
        return {"total": len(found), "traces": rows[: max(1, min(limit, 2000))]}

    @app.get("/api/flywheel")
    async def flywheel() -> dict:
        from thinktune.flywheel.gate import load_registry

        return {"registry": load_registry(app.state.home / "flywheel") or None}

    @app.get("/api/models")
    async def models() -> dict:
        trained = [{"id": j["id"], "name": j["name"], "kind": j["kind"], "job": j["config"].get("job", "grpo"),
                    "model": j["config"].get("model")} for j in store.jobs("succeeded") if j["kind"] in ("sft", "grpo")]
        return {"trained": trained, "base": ["default", "tiny"]}


async def new_job(body: Any, store: Store, home: Path) -> dict:
    """Queue a job from a request body `{kind, config, name?, dataset_id?, snapshot_id?, parent?}`: the data
    resolved to the studio's files, the dataset validated for an SFT job, the typed config built (422 naming
    the key otherwise), the run folder under the studio home."""
    if not isinstance(body, dict):
        raise APIError(422, "body: a JSON object {kind, config, ...}", None)
    kind = body.get("kind")
    if kind not in JOB_KINDS:
        raise APIError(422, f"kind: one of {', '.join(JOB_KINDS)}, got {kind!r}", "kind")
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise APIError(422, "config: a mapping of config keys", "config")
    job_id = "job-" + format(time.time_ns(), "x")[-10:]
    config = {**config, "output_dir": str(home / "runs" / job_id)}
    if kind in ("flywheel", "score"):  # the studio's own served traces and flywheel folder
        config.setdefault("traces", str(home / "serve"))
        config.setdefault("home", str(home / "flywheel"))
    for key in ("home", "traces", "data", "existing_data", "mix_data"):  # what a job writes to or reads: the studio's
        _studio_path(config.get(key), home, f"config.{key}")
    dataset_id, snapshot_id = body.get("dataset_id"), body.get("snapshot_id")
    if snapshot_id is not None:
        snap = store.snapshot(str(snapshot_id))
        if snap is None:
            raise APIError(422, f"snapshot_id: no snapshot {snapshot_id!r}", "snapshot_id")
        dataset_id = dataset_id or snap["dataset_id"]
        config["data"] = snap["path"]
    elif dataset_id is not None:
        ds = store.dataset(str(dataset_id))
        if ds is None:
            raise APIError(422, f"dataset_id: no dataset {dataset_id!r}", "dataset_id")
        config["data"] = ds["path"]
    if dataset_id is not None and kind == "sft":
        await _check_dataset(store, str(dataset_id), config.get("job", "reasoning"))
    _check_config(kind, config)
    parent = body.get("parent")
    if parent is not None:
        parent_job = store.job(str(parent))
        if parent_job is None:
            raise APIError(422, f"parent: no job {parent!r}", "parent")
        parent = parent_job["run_dir"]
    name = str(body.get("name") or f"{kind} {config.get('job', '')}".strip())[:120]
    return store.add_job(kind, name, config, config["output_dir"], parent, dataset_id, job_id)


async def _check_dataset(store: Store, dataset_id: str, job: str) -> None:
    """A dataset must validate for the job type before an SFT job can start on it."""
    ds = store.dataset(dataset_id)
    if ds is None:
        raise APIError(422, f"dataset_id: no dataset {dataset_id!r}", "dataset_id")
    report = await asyncio.to_thread(_validate, Path(ds["path"]), job if job in ("reasoning", "non_reasoning")
                                     else "reasoning")
    store.set_validation(dataset_id, report, report["n_rows"])
    if not report["ok"]:
        lacking = f"; {report['n_without_reasoning']} rows lack step-by-step reasoning" if job == "reasoning" else ""
        raise APIError(422, f"dataset_id: the dataset does not validate for a {job} job ({report['n_errors']} "
                            f"errors{lacking})", "dataset_id", "invalid_dataset")


async def job_events(store: Store, job_id: str, request: Request):
    """Server-sent events: the job's view each time it changes, until it ends or the client leaves."""
    last = None
    while not await request.is_disconnected():
        current = store.job(job_id)
        if current is None:
            return
        text = json.dumps(_job_view(current, brief=True))
        if text != last:
            yield f"data: {text}\n\n"
            last = text
        if current["status"] in TERMINAL:
            return
        await asyncio.sleep(0.5)


def _check_config(kind: str, config: dict) -> None:
    """The typed config must build (unknown keys, wrong types, bad values): 422 naming the key."""
    from thinktune.config import ConfigError, from_dict
    from thinktune.jobs import get_job

    try:
        from_dict(get_job(kind).config_class(), config, "config")
    except ConfigError as e:
        message = str(e)
        named = re.search(r"'([A-Za-z_.]+)'", message)
        raise APIError(422, message, f"config.{named.group(1)}" if named else "config", "invalid_config") from None


def _job_view(job: dict, brief: bool = False) -> dict:
    from thinktune.runs import Run

    view = {k: v for k, v in job.items() if not (brief and k == "config")}
    view["progress"] = progress_of(job)
    try:
        run = Run.load(job["run_dir"])
        view["metrics"] = run.metrics
        view["lineage"] = [run.parent] if run.parent else []
    except FileNotFoundError:
        view["metrics"], view["lineage"] = {}, []
    return view


# ------------------------------------------------------------------------------------- serving
class TrainedModels(dict):
    """The serve app's models, loaded on first use: a job id (its final model), `default` or `tiny`."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.lock = threading.Lock()

    def get(self, name, default=None):  # noqa: D102 - dict API
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        spec = self._spec(name)
        if spec is None:
            return default
        from thinktune.serve.models import _local

        with self.lock:
            if not dict.__contains__(self, name):
                self[name] = _local(name, spec, 32, 64, "float32")
        return dict.__getitem__(self, name)

    def _spec(self, name: str) -> str | None:
        if name in ("default", "tiny"):
            return name
        job = self.store.job(name)
        if job and job["status"] == "succeeded" and (Path(job["run_dir"]) / "final").is_dir():
            return job["run_dir"]
        return None


def _serve_mount(app: FastAPI, store: Store) -> None:
    from thinktune.serve import ServerSettings, create_app

    models = TrainedModels(store)
    app.state.served = models
    app.mount("/serve", create_app(models, ServerSettings(home=app.state.home / "serve", max_tokens=2048)))
