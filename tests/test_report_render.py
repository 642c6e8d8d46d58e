"""The compare report opened in headless Chromium: the page renders, the trade-off plot and the table show.

Needs Debian's `chromium` (`apt-get install -y chromium`); without it the tests skip and say so.
The checks look at pixels of the screenshot: the plot's point colours (a broken image shows none of them,
which the control test confirms) and the table header's background.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from thinktune.compare.recommend import recommend
from thinktune.compare.report import KIND_COLOURS, sections, tradeoff_plot, write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                "(apt-get install -y chromium); the report render test needs it")

ROWS = [
    {"name": "base_direct", "label": "base model, direct", "kind": "base", "strict_accuracy": 0.0,
     "lenient_accuracy": 0.05, "tokens_per_query": 20.0, "seconds_per_query": 0.30, "n_questions": 12},
    {"name": "non_reasoning", "label": "non-reasoning variant", "kind": "variant", "strict_accuracy": 0.20,
     "lenient_accuracy": 0.22, "tokens_per_query": 12.0, "seconds_per_query": 0.25, "n_questions": 48,
     "train_runtime_s": 200.0, "train_tokens": 30000},
    {"name": "reasoning", "label": "reasoning variant", "kind": "variant", "strict_accuracy": 0.58,
     "lenient_accuracy": 0.60, "tokens_per_query": 57.0, "seconds_per_query": 0.85, "n_questions": 48,
     "train_runtime_s": 320.0, "train_tokens": 52000},
    {"name": "router_classifier", "label": "router (classifier)", "kind": "router", "strict_accuracy": 0.55,
     "lenient_accuracy": 0.57, "tokens_per_query": 40.0, "seconds_per_query": 0.6, "n_questions": 48,
     "routed_to_reasoning": 0.7},
]
HEADER_GREY = (243, 243, 243)  # th background in report.STYLE


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def screenshot(page: Path, tmp: Path, size: str = "1280,2200") -> np.ndarray:
    png = tmp / (page.stem + ".png")
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / 'profile'}",
         f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert png.is_file() and png.stat().st_size > 0
    import matplotlib.image as mpimg

    return (mpimg.imread(png)[..., :3] * 255).round().astype(int)


def pixels_of(image: np.ndarray, colour: tuple[int, int, int], tol: int = 6) -> int:
    return int((np.abs(image - np.array(colour)).sum(axis=-1) <= tol).sum())


def build_page(tmp: Path, plot: Path | None = None) -> Path:
    rec = recommend(ROWS, routers=["router_classifier"])
    plot = plot or tradeoff_plot(ROWS, tmp / "tradeoff.png")
    return write_html(tmp / "report.html", "render test", sections(ROWS, rec.markdown(), plot), runs=[])


def test_report_renders_table_and_tradeoff_plot(tmp_path):
    page = build_page(tmp_path)
    text = page.read_text()
    for row in ROWS:
        assert f'data-row="{row["name"]}"' in text and row["label"] in text
    assert text.count('<img alt="accuracy vs latency and tokens" src="data:image/png;base64,') == 1
    assert "Verdict" in text

    image = screenshot(page, tmp_path)
    assert image.std() > 10, "the screenshot is blank"
    for kind in ("base", "variant", "router"):  # the plot's points, one colour per kind of row
        assert pixels_of(image, _hex(KIND_COLOURS[kind])) > 50, f"no {kind} points visible: plot not rendered"
    assert pixels_of(image, HEADER_GREY) > 2000, "the table header did not render"


def test_control_a_broken_plot_shows_no_points(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    image = screenshot(build_page(tmp_path, plot=broken), tmp_path)
    assert pixels_of(image, _hex(KIND_COLOURS["variant"])) < 20
    assert pixels_of(image, HEADER_GREY) > 2000  # the table still renders
