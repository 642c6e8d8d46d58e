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
import socket
import threading
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


def _start(app) -> tuple[str, object, threading.Thread]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the studio did not start"
    return f"http://127.0.0.1:{port}", server, thread


def _stop(app, server, thread) -> None:
    server.should_exit = True
    thread.join(timeout=15)
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
