"""The studio's web UI in a real browser: headless Chromium (the system's) driven by Playwright.

One walk through the pages on the tiny model, asserting on what a person sees: upload a dataset with a
broken line and a row without reasoning (the report names the line and the field, the new-job page refuses
it), upload a good one (a preview shows the thinking and the answer apart), start a reasoning job from the
new-job page, watch it reach 100% with its loss chart, chat with it in the playground (the thinking collapsed
above the answer; `(no thinking)` when thinking is off), then start a long job and cancel it from its page.
A second test opens the studio with `#token=...` and checks every call carries it.

Needs `playwright` (the Python package; its own browsers are not used) and a system Chromium; skipped,
saying which is missing, otherwise.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (`chromium` or `chromium-browser`) on PATH")
expect = sync_api.expect

from thinktune.studio import StudioSettings, create_studio  # noqa: E402

ARITH = Path(__file__).resolve().parents[1] / "src" / "thinktune" / "resources" / "datasets" / "arith_sample.jsonl"
LONG = 120_000  # ms: a job's child process imports torch and transformers on 2 busy cores


def _start(app) -> tuple[str, object, None]:
    from thinktune.serve import ServerThread

    server = ServerThread(app)
    return server.url, server, None


def _stop(app, server, thread) -> None:
    server.stop()
    for model in list(dict.values(app.state.served)):
        model.batcher.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def _files(tmp_path: Path) -> tuple[Path, Path]:
    rows = ARITH.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([rows[0], rows[1], '{"question": "What is 2 + 2?", "answer": "4"}', '{"question": oops',
                              rows[2]]) + "\n", encoding="utf-8")
    good = tmp_path / "arith.jsonl"
    good.write_text("\n".join(rows[:60]) + "\n", encoding="utf-8")
    return bad, good


def _upload(page, path: Path) -> str:
    """Upload from the Datasets page; returns the new dataset's id (from the address it opens)."""
    before = page.url
    page.set_input_files("[data-testid=dataset-file]", str(path))
    page.click("[data-testid=dataset-upload]")
    page.wait_for_url(lambda url: url != before and re.search(r"#/datasets/ds-\w+$", url) is not None)
    dataset_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("[data-testid=dataset-title]")).to_have_text(path.stem)
    return dataset_id


def test_datasets_a_job_its_chart_the_playground_and_a_cancel(tmp_path, page):
    app = create_studio(StudioSettings(home=tmp_path / "home"))
    base, server, thread = _start(app)
    try:
        _walk(page, base, *_files(tmp_path))
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)  # what the page showed, for the report
        raise
    finally:
        _stop(app, server, thread)
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


def _walk(page, base: str, bad: Path, good: Path) -> None:
    # ---- Datasets: a bad file's report names the line and the field; a good one previews thinking and answer apart
    page.goto(base + "/#/datasets")
    expect(page.locator("h1")).to_have_text("Datasets")
    bad_id = _upload(page, bad)
    report = page.locator("[data-testid=validation-report]")
    expect(report).to_have_attribute("data-ok", "false")
    expect(report.locator("[data-testid=validation-summary]")).to_contain_text("Does not validate for a Reasoning job")
    expect(report.locator("[data-testid=lacking-reasoning]")).to_have_text("1 row lacks step-by-step reasoning")
    broken = report.locator("[data-testid=problem][data-line='4']")
    expect(broken).to_contain_text("bad.jsonl:4")
    expect(broken).to_contain_text("invalid JSON")
    no_steps = report.locator("[data-testid=problem][data-line='3']")
    expect(no_steps.locator("td").nth(1)).to_have_text("reasoning")

    good_id = _upload(page, good)
    expect(report).to_have_attribute("data-ok", "true")
    expect(report.locator("[data-testid=validation-summary]")).to_contain_text("Valid for a Reasoning job: 60 rows of 60")
    first = page.locator("[data-testid=preview-row]").first
    expect(first.locator("[data-testid=preview-thinking]")).to_have_text("58 + 4 = 62\n62 + 34 = 96")
    expect(first.locator("[data-testid=preview-answer]")).to_have_text("96")
    expect(page.locator("[data-testid=dataset-item]")).to_have_count(2)

    # ---- New job: reasoning first; the bad dataset is refused, the good one starts
    page.click("[data-testid=nav-new]")
    expect(page.locator("[data-testid=job-steps]")).to_be_hidden()
    page.click("[data-testid=job-type-reasoning]")
    expect(page.locator("[data-testid=job-type-reasoning]")).to_have_attribute("aria-checked", "true")
    expect(page.locator("[data-testid=decision-table]")).to_contain_text("real-time latency")
    expect(page.locator("[data-testid=model-row][data-model=tiny]")).to_contain_text("< 0.1 GB")
    page.check("[data-testid=model-tiny]")
    start = page.locator("[data-testid=start-job]")
    page.select_option("[data-testid=dataset-select]", bad_id)
    validation = page.locator("[data-testid=nj-validation]")
    expect(validation.locator("[data-testid=lacking-reasoning]")).to_have_text("1 row lacks step-by-step reasoning")
    expect(start).to_be_disabled()
    expect(page.locator("[data-testid=start-blocker]")).to_contain_text("does not validate for a Reasoning job")
    page.select_option("[data-testid=dataset-select]", good_id)
    expect(validation.locator("[data-testid=validation-report]")).to_have_attribute("data-ok", "true")
    expect(page.locator("[data-testid=advice-recommendation]")).to_contain_text("Recommendation: Reasoning")
    page.check("[data-testid=hp-mode-steps]")
    page.fill("[data-testid=hp-max-steps]", "3")
    page.fill("[data-testid=hp-batch-size]", "2")
    page.fill("[data-testid=hp-limit]", "8")
    page.fill("[data-testid=hp-learning-rate]", "0.01")
    page.fill("[data-testid=job-name]", "first")
    expect(start).to_be_enabled()
    start.click()
    page.wait_for_url(re.compile(r"#/jobs/job-\w+$"))
    first_job = page.url.rsplit("/", 1)[1]

    # ---- Job page: progress reaches 100%, the loss chart has a point per step, the log says it succeeded
    expect(page.locator("[data-testid=job-title]")).to_have_text("first")
    expect(page.locator("[data-testid=job-status]")).to_have_text("succeeded", timeout=LONG)
    expect(page.locator("[data-testid=job-progress]")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("[data-testid=job-progress-text]")).to_contain_text("3 / 3 steps · 100%")
    loss = page.locator("[data-testid=chart-loss]")
    expect(loss.locator("svg polyline")).to_have_count(1)
    assert int(loss.get_attribute("data-points")) >= 3  # three training steps (and the eval point)
    expect(loss.locator("figcaption")).to_contain_text("train loss")
    expect(page.locator("[data-testid=job-log]")).to_contain_text("succeeded")
    expect(page.locator("[data-testid=job-error]")).to_be_hidden()

    # ---- Playground: the thinking collapsed above the answer, counted within its budget
    page.click("[data-testid=job-playground]")
    expect(page.locator("[data-testid=pg-model-a]")).to_have_value(first_job)
    expect(page.locator("[data-testid=pg-think-a]")).to_be_checked()
    page.fill("[data-testid=pg-budget]", "8")
    page.fill("[data-testid=pg-max-tokens]", "24")
    page.fill("[data-testid=pg-prompt]", "What is 17 + 25?")
    page.click("[data-testid=pg-send]")
    reply = page.locator("[data-testid=reply]").first
    expect(reply).to_have_attribute("data-state", "done", timeout=LONG)
    thinking = reply.locator("details[data-testid=thinking]")
    expect(thinking).to_have_count(1)
    assert thinking.evaluate("d => d.open") is False, "the thinking should start collapsed"
    summary = reply.locator("[data-testid=thinking-summary]")
    expect(summary).to_have_text(re.compile(r"^thought for \d+ tokens, \d+\.\d s$"))
    assert 1 <= int(re.search(r"\d+", summary.inner_text()).group()) <= 8  # the budget caps the thinking
    expect(thinking.locator("pre")).to_be_hidden()
    assert thinking.locator("pre").text_content().strip(), "the collapsed block holds the model's thinking"
    answer = reply.locator("[data-testid=answer]")
    expect(answer).to_be_visible()
    assert answer.inner_text().strip() not in ("", "…")
    # thinking before the answer, in the page's order
    assert reply.evaluate("r => r.querySelector('[data-testid=thinking]').compareDocumentPosition("
                          "r.querySelector('[data-testid=answer]')) & Node.DOCUMENT_POSITION_FOLLOWING") > 0
    expect(reply.locator("[data-testid=reply-stats]")).to_contain_text(re.compile(r"\d+ tokens · \d+ thinking"))
    # thinking off: the reply says so instead of showing an empty block
    page.uncheck("[data-testid=pg-think-a]")
    page.click("[data-testid=pg-send]")
    expect(page.locator("[data-testid=exchange]")).to_have_count(2)
    newest = page.locator("[data-testid=reply]").first
    expect(newest).to_have_attribute("data-state", "done", timeout=LONG)
    expect(newest.locator("[data-testid=no-thinking]")).to_have_text("(no thinking)")
    expect(newest.locator("[data-testid=thinking]")).to_have_count(0)

    # ---- A long job, cancelled from its page
    page.click("[data-testid=nav-new]")
    expect(page.locator("[data-testid=job-type-reasoning]")).to_have_attribute("aria-checked", "true")
    expect(page.locator("[data-testid=nj-validation] [data-testid=validation-report]")).to_have_attribute("data-ok", "true")
    page.check("[data-testid=hp-mode-steps]")
    page.fill("[data-testid=hp-max-steps]", "200")
    page.fill("[data-testid=hp-limit]", "40")
    page.fill("[data-testid=job-name]", "long")
    page.click("[data-testid=start-job]")
    page.wait_for_url(lambda url: re.search(r"#/jobs/job-\w+$", url) is not None and not url.endswith(first_job))
    long_job = page.url.rsplit("/", 1)[1]
    expect(page.locator("[data-testid=job-title]")).to_have_text("long")
    expect(page.locator("[data-testid=job-progress-text]")).to_contain_text("/ 200 steps", timeout=LONG)
    page.click("[data-testid=job-cancel]")
    expect(page.locator("[data-testid=job-status]")).to_have_text("cancelled", timeout=LONG)
    expect(page.locator("[data-testid=job-resume]")).to_be_visible()
    expect(page.locator("[data-testid=job-cancel]")).to_have_count(0)
    assert int(page.locator("[data-testid=job-progress]").get_attribute("aria-valuenow")) < 100

    # ---- Jobs list: both, with their statuses
    page.click("[data-testid=nav-jobs]")
    expect(page.locator(f"[data-testid=job-row][data-job-id={first_job}] [data-testid=job-status]")).to_have_text("succeeded")
    expect(page.locator(f"[data-testid=job-row][data-job-id={long_job}] [data-testid=job-status]")).to_have_text("cancelled")
    expect(page.locator(f"[data-testid=job-row][data-job-id={first_job}] [role=progressbar]")).to_have_attribute(
        "aria-valuenow", "100")


def test_the_token_in_the_address_is_kept_and_sent(tmp_path, page):
    app = create_studio(StudioSettings(home=tmp_path, token="tok-456"), start_worker=False)
    base, server, thread = _start(app)
    try:
        sent = []
        page.on("request", lambda r: sent.append((r.url, r.headers.get("x-thinktune-token"))) if "/api/" in r.url else None)
        page.goto(base + "/#token=tok-456")
        expect(page.locator("[data-testid=decision-table]")).to_contain_text("real-time latency")
        assert "token" not in page.url, "the token is dropped from the address bar"
        assert page.evaluate("sessionStorage.getItem('thinktune.token')") == "tok-456"
        page.click("[data-testid=nav-datasets]")
        expect(page.locator("[data-testid=datasets-list]")).to_contain_text("None yet")
        assert sent and all(token == "tok-456" for _, token in sent), sent
        # another tab without the token: the studio asks for it
        other = page.context.browser.new_page()
        other.goto(base + "/#/jobs")
        expect(other.locator("[data-testid=error-banner]")).to_contain_text("missing or invalid token")
        other.fill("[data-testid=token-input]", "tok-456")
        other.click("[data-testid=error-banner] button")
        expect(other.locator("[data-testid=jobs]")).to_contain_text("No jobs yet")
        other.close()
    finally:
        _stop(app, server, thread)
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


def _api(base: str, method: str, path: str, body: dict | None = None) -> dict:
    import json
    import urllib.request

    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _wait_job(base: str, job_id: str, timeout_s: float = LONG / 1000) -> dict:
    deadline = time.time() + timeout_s
    while True:
        job = _api(base, "GET", f"/api/jobs/{job_id}")
        if job["status"] in ("succeeded", "failed", "cancelled") or time.time() > deadline:
            return job
        time.sleep(0.5)


def _traces(home: Path) -> list:
    """Four served traces of arithmetic questions; the last two answered wrong."""
    import json

    from thinktune.tasks import load_task

    examples = load_task("arithmetic", split="train", n=4, seed=0, ops=1, digits=1)
    lines = []
    for i, ex in enumerate(examples):
        answer = ex.answer if i < 2 else str(int(ex.answer) + 1)
        lines.append(json.dumps({"id": f"trace-{i}", "time": time.time(), "model": "reasoning",
                                 "messages": [{"role": "user", "content": ex.question}],
                                 "thinking": ["steps"], "answer": [answer]}))
    (home / "serve").mkdir(parents=True, exist_ok=True)
    (home / "serve" / "traces.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return examples


def test_flywheel_traces_scored_a_round_posted_and_the_empty_history(tmp_path, page):
    home = tmp_path / "home"
    app = create_studio(StudioSettings(home=home))
    examples = _traces(home)
    base, server, thread = _start(app)
    try:
        _flywheel(page, base, app, examples)
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        _stop(app, server, thread)
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


def _flywheel(page, base: str, app, examples: list) -> None:
    # ---- the traces, newest first, each with its question, its answer and its thinking collapsed; no rounds yet
    page.goto(base + "/#/new")
    page.click("[data-testid=nav-flywheel]")
    expect(page.locator("h1")).to_have_text("Flywheel")
    expect(page.locator("[data-testid=nav-flywheel]")).to_have_attribute("aria-current", "page")
    rows = page.locator("[data-testid=trace-row]")
    expect(rows).to_have_count(4)
    expect(page.locator("[data-testid=traces-count]")).to_have_text("4 traces.")
    for i, ex in enumerate(examples):
        row = page.locator(f"[data-testid=trace-row][data-trace-id=trace-{i}]")
        expect(row.locator("[data-testid=trace-question]")).to_have_text(ex.question)
        expect(row.locator("[data-testid=trace-answer]")).to_have_text(ex.answer if i < 2 else str(int(ex.answer) + 1))
        assert row.locator("details[data-testid=trace-thinking]").evaluate("d => d.open") is False
        expect(row.locator("[data-testid=trace-score]")).to_have_count(0)
        expect(row.locator("[data-testid=trace-feedback]")).to_have_text("0")
    expect(page.locator("[data-testid=rounds-empty]")).to_contain_text("No rounds yet")
    expect(page.locator("[data-testid=served-version]")).to_have_count(0)
    expect(page.get_by_label("Reference task")).to_have_value("arithmetic")
    expect(page.get_by_label("Reference options")).to_have_value("{}")

    # ---- a bad options text is refused on the page; then score them by the verifier
    page.get_by_label("Reference options").fill("{ops: 1}")
    page.click("[data-testid=fw-score]")
    expect(page.locator("[data-testid=score-job] [data-testid=fw-error]")).to_contain_text("Reference options: not JSON")
    page.get_by_label("Reference options").fill('{"ops": 1, "digits": 1}')
    page.get_by_label("Reference questions").fill("100")  # ops=1, digits=1 has fewer than the default 2000 problems
    page.get_by_label("Served model").fill("reasoning")
    page.click("[data-testid=fw-score]")
    link = page.locator("[data-testid=score-job] [data-testid=fw-job-link]")
    expect(link).to_have_attribute("href", re.compile(r"^#/jobs/job-\w+$"))
    score_id = link.get_attribute("href").rsplit("/", 1)[1]
    job = _wait_job(base, score_id)
    assert job["status"] == "succeeded", job
    assert job["kind"] == "score"
    assert job["config"]["scorers"] == ["verifier"] and job["config"]["reference_options"] == {"ops": 1, "digits": 1}
    assert job["config"]["trace_model"] == "reasoning" and job["config"]["reference_size"] == 100
    expect(page.locator("[data-testid=score-job] [data-testid=job-status]")).to_have_text("succeeded")
    expect(page.locator("[data-testid=score-job]")).to_contain_text("the verifier scored 4 of 4 traces")

    # ---- reloaded: two right (1), two wrong (0), by the verifier; the filters narrow them down
    page.click("[data-testid=traces-reload]")
    verifier = "[data-testid=trace-score][data-scorer=verifier]"
    expect(page.locator(f"[data-testid=trace-row]:has({verifier}[data-score='1'])")).to_have_count(2)
    expect(page.locator(f"[data-testid=trace-row]:has({verifier}[data-score='0'])")).to_have_count(2)
    for i in range(4):
        expect(page.locator(f"[data-testid=trace-row][data-trace-id=trace-{i}] {verifier}")).to_have_attribute(
            "data-score", "1" if i < 2 else "0")
    page.select_option("[data-testid=fw-scorer]", "verifier")
    page.get_by_label("Min score").fill("1")
    page.click("[data-testid=traces-reload]")
    expect(rows).to_have_count(2)
    expect(page.locator("[data-testid=traces-count]")).to_have_text("2 traces match the filters.")
    page.get_by_label("Min score").fill("")
    page.click("[data-testid=traces-reload]")
    expect(rows).to_have_count(4)

    # ---- "Fine-tune on these" posts a valid flywheel round, cancelled while queued: the worker is stopped first,
    # so that the round never starts (a round is too long here, and a starting run clears a cancel request)
    app.state.worker.stop()
    page.select_option("[data-testid=fw-base]", "spec:tiny")
    page.get_by_label("Max steps").fill("2")
    page.get_by_label("Held-out options").fill('{"ops": 1, "digits": 1}')
    page.get_by_label("Held-out questions").fill("8")
    page.select_option("[data-testid=fw-teacher]", "gold")
    page.get_by_label("Alpha").fill("")
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as posted:
        page.click("[data-testid=fw-finetune]")
    assert posted.value.status == 201, posted.value.text()
    created = posted.value.json()
    _api(base, "POST", f"/api/jobs/{created['id']}/cancel")
    assert created["kind"] == "flywheel"
    config = created["config"]
    assert config["model"] == "tiny" and config["trace_model"] == "reasoning" and config["teacher"] == "gold"
    assert config["reference"] == "arithmetic" and config["reference_options"] == {"ops": 1, "digits": 1}
    assert config["held_out"] == "arithmetic" and config["held_out_size"] == 8 and config["threshold"] == 1
    assert config["sft"] == {"max_steps": 2, "batch_size": 8, "learning_rate": 5e-5}
    assert config["margin"] == 0 and config["alpha"] is None
    expect(page.locator("[data-testid=flywheel-job] [data-testid=fw-job-link]")).to_have_attribute(
        "href", f"#/jobs/{created['id']}")
    assert _wait_job(base, created["id"])["status"] == "cancelled"
    expect(page.locator("[data-testid=flywheel-job] [data-testid=job-status]")).to_have_text("cancelled")
    expect(page.locator("[data-testid=rounds-empty]")).to_contain_text("No rounds yet")  # never ran: no registry
    expect(page.locator("[data-testid=served-version]")).to_have_count(0)
