"""The studio's REST API on the tiny model: datasets (upload, validate, preview, snapshot), jobs run by the
worker in child processes (progress, metrics, cancel, resume, lineage), the playground's serve endpoints,
and every bad input answered with a 4xx JSON naming the field; the token when one is set."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from thinktune.studio import StudioSettings, create_studio

ARITH = Path(__file__).resolve().parents[1] / "src" / "thinktune" / "resources" / "datasets" / "arith_sample.jsonl"
SFT = {"model": "tiny", "job": "reasoning", "max_steps": 3, "batch_size": 2, "limit": 8, "max_length": 128,
       "save_steps": 1, "lora": {"r": 4, "alpha": 8}, "learning_rate": 0.01}


def wait_for(client: TestClient, job_id: str, statuses: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} is still {job['status']} after {timeout} s: {job}")


def error(response, status: int, param: str | None) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["param"] == param, body
    return body["message"]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    home = tmp_path_factory.mktemp("studio")
    app = create_studio(StudioSettings(home=home, max_upload_bytes=2_000_000))
    with TestClient(app) as client:
        yield client, home, app


def upload(client: TestClient, content: bytes, filename: str = "arith.jsonl") -> dict:
    r = client.post("/api/datasets", params={"filename": filename}, content=content)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_dataset_is_uploaded_validated_previewed_and_snapshotted(studio):
    client, home, _ = studio
    ds = upload(client, ARITH.read_bytes())
    assert ds["validation"]["ok"] and ds["rows"] == ds["validation"]["n_rows"] > 0
    assert Path(ds["path"]).is_relative_to(home) and ds["filename"] == "arith.jsonl"
    report = client.post(f"/api/datasets/{ds['id']}/validate", params={"job": "non_reasoning"}).json()
    assert report["job"] == "non_reasoning" and report["ok"]
    rows = client.get(f"/api/datasets/{ds['id']}/preview", params={"n": 2}).json()["rows"]
    assert len(rows) == 2 and rows[0]["thinking"] and rows[0]["answer"] and "<think>" in rows[0]["target"]
    advice = client.get(f"/api/datasets/{ds['id']}/advise").json()
    assert advice["recommendation"] in ("reasoning", "non_reasoning", "hybrid") and advice["reasons"]
    snap = client.post(f"/api/datasets/{ds['id']}/snapshots", json={"val_fraction": 0.25, "seed": 1})
    assert snap.status_code == 201 and snap.json()["train"] + snap.json()["validation"] == ds["rows"]
    assert client.get(f"/api/datasets/{ds['id']}").json()["snapshots"][0]["id"] == snap.json()["id"]
    listed = client.get("/api/datasets").json()["datasets"]
    assert any(d["id"] == ds["id"] and d["ok"] for d in listed)


def test_a_reasoning_job_runs_in_the_worker_and_its_model_chats(studio):
    client, home, _ = studio
    ds = upload(client, ARITH.read_bytes())
    snap = client.post(f"/api/datasets/{ds['id']}/snapshots", json={"val_fraction": 0.0}).json()
    r = client.post("/api/jobs", json={"kind": "sft", "config": SFT, "snapshot_id": snap["id"], "name": "first"})
    assert r.status_code == 201, r.text
    job = wait_for(client, r.json()["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", client.get(f"/api/jobs/{job['id']}/log").text
    assert job["progress"]["done"] == job["progress"]["total"] == 3
    assert job["metrics"]["final_loss"] > 0 and job["config"]["data"] == snap["path"]
    rows = client.get(f"/api/jobs/{job['id']}/metrics").json()["rows"]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert "succeeded" in client.get(f"/api/jobs/{job['id']}/log").text
    assert any(m["id"] == job["id"] for m in client.get("/api/models").json()["trained"])
    reply = client.post("/serve/v1/chat/completions", json={
        "model": job["id"], "messages": [{"role": "user", "content": "What is 2 + 3?"}], "max_tokens": 4})
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] <= 4
    # a second job from the first one's model records its parent
    child = client.post("/api/jobs", json={"kind": "eval", "parent": job["id"], "config": {
        "model": job["run_dir"], "task": "arithmetic", "limit": 2, "max_new_tokens": 4, "progress": False}})
    done = wait_for(client, child.json()["id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded" and done["parent"] == job["run_dir"]
    assert done["metrics"]["n_questions"] == 2


def test_a_running_job_is_cancelled_at_a_step_and_resumes(studio):
    client, _, _ = studio
    config = {**SFT, "max_steps": 60, "data": "builtin:arith_sample", "limit": 40}
    job = client.post("/api/jobs", json={"kind": "sft", "config": config}).json()
    deadline = time.time() + 120
    while time.time() < deadline:
        current = client.get(f"/api/jobs/{job['id']}").json()
        if (current["progress"] or {}).get("done", 0) >= 2:
            break
        time.sleep(0.2)
    cancelled = client.post(f"/api/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] in ("cancelling", "cancelled")
    ended = wait_for(client, job["id"], ("cancelled", "failed", "succeeded"))
    assert ended["status"] == "cancelled"
    steps = [r["step"] for r in client.get(f"/api/jobs/{job['id']}/metrics").json()["rows"] if "loss" in r]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) < 60
    error(client.post(f"/api/jobs/{job['id']}/cancel"), 409, "job_id")
    assert client.post(f"/api/jobs/{job['id']}/resume").json()["status"] == "queued"
    client.post(f"/api/jobs/{job['id']}/cancel")  # not to spend a minute here: cancelled again, while queued
    assert wait_for(client, job["id"], ("cancelled",))["status"] == "cancelled"


def test_bad_inputs_are_4xx_json_naming_the_field(studio):
    client, home, _ = studio
    error(client.get("/api/jobs/job-nope"), 404, "job_id")
    error(client.get("/api/datasets/ds-nope"), 404, "dataset_id")
    error(client.post("/api/jobs/job-nope/cancel"), 404, "job_id")
    error(client.post("/api/jobs", json={"kind": "nope", "config": {}}), 422, "kind")
    error(client.post("/api/jobs", json={"kind": "sft", "config": {"max_stepz": 3}}), 422, "config.max_stepz")
    error(client.post("/api/jobs", json={"kind": "sft", "config": {"max_steps": "ten"}}), 422, "config.max_steps")
    error(client.post("/api/jobs", json={"kind": "sft", "config": {}, "snapshot_id": "nope"}), 422, "snapshot_id")
    error(client.post("/api/jobs", content=b"{", headers={"content-type": "application/json"}), 400, None)
    error(client.post("/api/datasets", content=b"x" * 2_000_001), 413, "file")
    error(client.post("/api/datasets", content=b""), 400, "file")
    no_steps = "\n".join(json.dumps({"question": f"q{i}", "answer": str(i)}) for i in range(4)).encode()
    ds = upload(client, no_steps)
    assert not ds["validation"]["ok"] and ds["validation"]["n_without_reasoning"] == 4
    message = error(client.post("/api/jobs", json={"kind": "sft", "config": {"model": "tiny"}, "dataset_id": ds["id"]}),
                    422, "dataset_id")
    assert "4 rows lack step-by-step reasoning" in message
    # the client's file name is data, never a path
    evil = upload(client, ARITH.read_bytes(), filename="../../../../etc/evil.jsonl")
    assert Path(evil["path"]).resolve().is_relative_to(home.resolve()) and evil["filename"] == "evil.jsonl"
    error(client.get("/api/datasets/" + "x" * 10, params={"job": "x"}), 404, "dataset_id")
    error(client.get(f"/api/datasets/{ds['id']}/preview", params={"job": "chatty"}), 400, "job")
    error(client.get("/static/..%2Fapp.py"), 404, None)
    error(client.get("/static/app.py"), 404, "name")
    error(client.get("/api/no-such-endpoint"), 404, None)


def test_a_token_is_needed_when_one_is_set(tmp_path):
    app = create_studio(StudioSettings(home=tmp_path, token="tok-123"), start_worker=False)
    with TestClient(app) as client:
        assert client.get("/").status_code == 200  # the page itself holds no data
        error(client.get("/api/jobs"), 401, None)
        error(client.post("/api/jobs", json={"kind": "sft", "config": {}}, cookies={"token": "tok-123"}), 401, None)
        error(client.post("/serve/v1/chat/completions", json={}), 401, None)
        assert client.get("/api/jobs", headers={"X-Thinktune-Token": "tok-123"}).status_code == 200
        assert client.get("/api/jobs", headers={"Authorization": "Bearer tok-123"}).status_code == 200


def test_served_traces_are_listed_and_a_flywheel_round_runs_on_them(studio, write_traces):
    from thinktune.tasks import load_task

    client, home, _ = studio
    questions = load_task("arithmetic", split="train", n=4, seed=0, ops=1, digits=1)
    write_traces(home / "serve", [(q.question, q.answer if i % 2 else "0", "steps") for i, q in enumerate(questions)])
    listed = client.get("/api/traces", params={"model": "reasoning"}).json()  # the playground's chats are others
    assert listed["total"] == 4 and all(t["score"] is None for t in listed["traces"])
    job = client.post("/api/jobs", json={"kind": "score", "config": {
        "reference_options": {"ops": 1, "digits": 1}, "reference_size": 100}}).json()
    assert wait_for(client, job["id"], ("succeeded", "failed"))["status"] == "succeeded"
    scored = client.get("/api/traces", params={"model": "reasoning", "scorer": "verifier", "min_score": 1}).json()
    assert scored["total"] == 2 and all(t["scores"][0]["scorer"] == "verifier" for t in scored["traces"])
    assert client.get("/api/flywheel").json() == {"registry": None}  # no round yet


def test_a_distill_job_runs_in_the_worker_and_its_data_stays_home(studio):
    client, home, _ = studio
    error(client.post("/api/jobs", json={"kind": "distill", "config": {"teacher": "tiny", "task": None,
                                                                        "data": "/etc/hostname"}}), 422, "config.data")
    job = client.post("/api/jobs", json={"kind": "distill", "config": {
        "teacher": "tiny", "task": "arithmetic", "questions": 2, "samples": 2, "max_new_tokens": 4}}).json()
    done = wait_for(client, job["id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    assert (Path(done["run_dir"]) / "samples.jsonl").read_text().count("\n") == 2


def test_cross_site_requests_and_paths_outside_the_home_are_refused(studio):
    client, home, _ = studio
    evil = {"Origin": "http://evil.example", "content-type": "text/plain"}
    body = json.dumps({"kind": "sft", "config": {"model": "tiny"}})
    error(client.post("/api/jobs", content=body, headers=evil), 403, None)
    error(client.post("/api/datasets", content=b"{}", headers={"Sec-Fetch-Site": "cross-site"}), 403, None)
    error(client.post("/api/jobs", json={"kind": "sft", "config": {"model": "tiny", "data": "/etc/hostname"}}),
          422, "config.data")
    error(client.post("/api/jobs", json={"kind": "flywheel", "config": {"model": "tiny", "home": "/tmp/elsewhere"}}),
          422, "config.home")
    error(client.post("/api/jobs", json={"kind": "score", "config": {"traces": str(home / ".." / "x")}}),
          422, "config.traces")
    same = client.post("/api/jobs", json={"kind": "eval", "config": {"model": "tiny", "task": "arithmetic",
                                                                      "limit": 1, "max_new_tokens": 2}},
                       headers={"Origin": "http://testserver"})
    assert same.status_code == 201  # the studio's own page
    client.post(f"/api/jobs/{same.json()['id']}/cancel")


def test_a_cancel_never_overwrites_a_job_that_moved_on(tmp_path):
    from thinktune.studio.store import Store
    from thinktune.studio.worker import Worker

    store = Store(tmp_path / "studio.db")
    worker = Worker(store, tmp_path)
    job = store.add_job("sft", "x", {}, str(tmp_path / "run"))
    store.claim_next()  # the worker took it between the user's click and the cancel
    store.update_job(job["id"], status="succeeded")  # and it even finished
    assert worker.cancel(job["id"])["status"] == "succeeded"
    queued = store.add_job("sft", "y", {}, str(tmp_path / "run2"))
    assert worker.cancel(queued["id"])["status"] == "cancelled"
    assert store.claim_next() is None  # a cancelled job is never started
