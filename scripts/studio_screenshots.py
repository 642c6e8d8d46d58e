"""Screenshots of `thinktune studio` for the docs: the new-job page, a finished job, the playground and the
flywheel's scored traces.

    python scripts/studio_screenshots.py                 # → docs/studio/{new_job,job,playground,flywheel}.png
    python scripts/studio_screenshots.py --out /tmp/shots --steps 20
    python scripts/studio_screenshots.py --only flywheel # no training: served traces, scored by the verifier

Starts the studio in-process on a temporary home and a free loopback port, uploads a slice of the built-in
arithmetic sample, trains a small reasoning job on the tiny model through the REST API, then drives the
system Chromium (headless, 1280x800) with Playwright. Needs `pip install playwright` (its own browsers are
not used) and `chromium` or `chromium-browser` on PATH. The tiny model is random: its replies are
gibberish, shown as the model wrote them. The flywheel page shows a few arithmetic traces written into the
studio's trace store (two answered wrong), scored by a `score` job.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARITH = ROOT / "src" / "thinktune" / "resources" / "datasets" / "arith_sample.jsonl"
VIEWPORT = {"width": 1280, "height": 800}
PAGES = ("new_job", "job", "playground", "flywheel")


def start(app) -> tuple[str, object, None]:
    """The app on a thread, on a free loopback port; returns (base URL, server, None)."""
    from thinktune.serve import ServerThread

    server = ServerThread(app)
    return server.url, server, None


def call(base: str, method: str, path: str, body: bytes | dict | None = None) -> dict:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def train(base: str, steps: int) -> tuple[str, str]:
    """Upload 60 sample rows and train a reasoning job on `tiny`; returns (dataset id, job id) once it ends."""
    rows = ARITH.read_text(encoding="utf-8").splitlines()[:60]
    ds = call(base, "POST", "/api/datasets?filename=arith.jsonl", ("\n".join(rows) + "\n").encode())
    config = {"job": "reasoning", "model": "tiny", "max_steps": steps, "batch_size": 2, "limit": 40,
              "learning_rate": 0.01, "lora": {"enabled": True}}
    job = call(base, "POST", "/api/jobs", {"kind": "sft", "config": config, "dataset_id": ds["id"],
                                          "name": "arith reasoning (tiny)"})
    deadline = time.time() + 600
    while time.time() < deadline:
        job = call(base, "GET", f"/api/jobs/{job['id']}")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    if job["status"] != "succeeded":
        raise SystemExit(f"the job ended {job['status']}: {job.get('error')}")
    return ds["id"], job["id"]


def wait(base: str, job_id: str, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while True:
        job = call(base, "GET", f"/api/jobs/{job_id}")
        if job["status"] in ("succeeded", "failed", "cancelled") or time.time() > deadline:
            return job
        time.sleep(0.5)


def write_traces(home: Path) -> None:
    """Six served arithmetic traces in the studio's trace store, the 3rd and 5th answered wrong (written before
    the studio starts: its server reads the trace ids it knows at start)."""
    from thinktune.tasks import load_task

    examples = load_task("arithmetic", split="train", n=6, seed=0, ops=2, digits=1)
    rows = []
    for i, ex in enumerate(examples):
        answer = str(int(ex.answer) + (3 if i in (2, 4) else 0))
        rows.append({"id": f"trace-{i}", "time": time.time() - 60 * (len(examples) - i), "model": "reasoning",
                     "messages": [{"role": "user", "content": ex.question}], "thinking": [ex.reasoning or ""],
                     "answer": [answer]})
    (home / "serve").mkdir(parents=True, exist_ok=True)
    (home / "serve" / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def score_traces(base: str) -> None:
    """A user's feedback on one trace, then every trace scored by the verifier through a `score` job."""
    call(base, "POST", "/serve/v1/traces/trace-1/feedback", {"score": 1, "comment": "right, and clear"})
    job = call(base, "POST", "/api/jobs", {"kind": "score", "name": "score traces (verifier)", "config": {
        "scorers": ["verifier"], "reference": "arithmetic", "reference_options": {"ops": 2, "digits": 1},
        "reference_size": 200}})
    job = wait(base, job["id"])
    if job["status"] != "succeeded":
        raise SystemExit(f"the score job ended {job['status']}: {job.get('error')}")


def shoot(base: str, dataset_id: str | None, job_id: str | None, out: Path, chromium: str,
          only: tuple[str, ...] = PAGES) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        if "flywheel" in only:  # the traces with their verifier scores, the forms below them
            page.goto(base + "/#/flywheel")
            expect(page.locator("[data-testid=trace-row] [data-testid=trace-score]").first).to_be_visible()
            page.evaluate("window.scrollTo(0, 0)")
            paths.append(out / "flywheel.png")
            page.screenshot(path=str(paths[-1]))
        if not {"new_job", "job", "playground"} & set(only):
            browser.close()
            return paths

        # the new-job page: reasoning chosen, the tiny model and the dataset picked, its advice shown
        page.goto(base + "/#/new")
        page.click("[data-testid=job-type-reasoning]")
        page.check("[data-testid=model-tiny]")
        page.select_option("[data-testid=dataset-select]", dataset_id)
        expect(page.locator("[data-testid=nj-validation] [data-testid=validation-report]")).to_have_attribute("data-ok", "true")
        expect(page.locator("[data-testid=advice-recommendation]")).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        paths.append(out / "new_job.png")
        page.screenshot(path=str(paths[-1]))

        # a finished job with its loss chart
        page.goto(base + f"/#/jobs/{job_id}")
        expect(page.locator("[data-testid=job-status]")).to_have_text("succeeded")
        expect(page.locator("[data-testid=chart-loss] svg polyline").first).to_be_visible()
        page.wait_for_timeout(600)  # the progress bar's glide
        paths.append(out / "job.png")
        page.screenshot(path=str(paths[-1]))

        # the playground, side by side: the trained model thinking (collapsed), the base model asked directly;
        # both are loaded first, so that the latencies shown are the replies' own, not the loading
        for model in (job_id, "tiny"):
            call(base, "POST", "/serve/v1/chat/completions", {"model": model, "max_tokens": 2,
                                                              "messages": [{"role": "user", "content": "hi"}]})
        page.goto(base + f"/#/playground?model={job_id}")
        page.check("[data-testid=pg-mode-side]")
        page.select_option("[data-testid=pg-model-b]", "tiny")
        page.uncheck("[data-testid=pg-think-b]")
        page.fill("[data-testid=pg-budget]", "24")
        page.fill("[data-testid=pg-max-tokens]", "64")
        page.fill("[data-testid=pg-prompt]", "Hugo has 9 boxes with 8 shells in each box, and 19 more shells. How many shells?")
        page.click("[data-testid=pg-send]")
        for i in range(2):
            expect(page.locator("[data-testid=reply]").nth(i)).to_have_attribute("data-state", "done", timeout=180_000)
        page.evaluate("window.scrollTo(0, 0)")
        paths.append(out / "playground.png")
        page.screenshot(path=str(paths[-1]))
        browser.close()
    if errors:
        raise SystemExit(f"JavaScript errors on the page: {errors}")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "studio", help="folder for the PNGs")
    ap.add_argument("--home", type=Path, default=None, help="studio home (default: a temporary folder)")
    ap.add_argument("--steps", type=int, default=16, help="training steps of the job shown")
    ap.add_argument("--only", nargs="+", choices=PAGES, default=list(PAGES), help="these screenshots alone")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no system Chromium (`chromium` or `chromium-browser`) on PATH", file=sys.stderr)
        return 2
    from thinktune.studio import StudioSettings, create_studio

    with tempfile.TemporaryDirectory(prefix="studio-shots-") as tmp:
        home = args.home or Path(tmp)
        if "flywheel" in args.only:
            write_traces(home)
        app = create_studio(StudioSettings(home=home))
        base, server, thread = start(app)
        try:
            dataset_id = job_id = None
            if {"new_job", "job", "playground"} & set(args.only):
                dataset_id, job_id = train(base, args.steps)
            if "flywheel" in args.only:
                score_traces(base)
            for path in shoot(base, dataset_id, job_id, args.out, chromium, tuple(args.only)):
                print(path)
        finally:
            server.stop()
            for model in list(dict.values(app.state.served)):
                model.batcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
