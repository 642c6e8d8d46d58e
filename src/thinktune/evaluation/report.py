"""Evaluation reports: a Markdown file and a standalone HTML page comparing runs side by side.

    write_report([result.to_run(), other.to_run()], "runs/report", title="greedy vs maj@8")

Each run is `{"label": ..., "metrics": {...}}`, optionally with `"records"` (the per-question rows of
`samples.jsonl`) for the token-length distribution. The page holds:
- a table of every run's main metrics (accuracy, format rate, pass@k / maj@k, tokens, latency, tokens/s);
- accuracy against tokens spent per question, one point per run (lenient filled, strict hollow);
- the distribution of tokens spent per question, one histogram per run (runs with records only).
Plots are drawn with matplotlib's Agg canvas (no display, no global backend change) and embedded in the
HTML as base64 PNG, so the page is one self-contained file; the Markdown links the same PNGs on disk.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MAIN_COLUMNS = (
    ("lenient_accuracy", "lenient acc"), ("strict_accuracy", "strict acc"), ("format_rate", "format"),
    ("output_tokens_mean", "tokens/q"), ("thinking_tokens_mean", "thinking tok/sample"), ("answer_tokens_mean", "answer tok/sample"),
    ("samples_per_question_mean", "samples/q"), ("latency_p50", "latency p50 s"), ("latency_p95", "latency p95 s"),
    ("tokens_per_s", "tok/s"), ("n_questions", "questions"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table_rows(runs: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the side-by-side table; pass@k / maj@k columns appear when any run has them."""
    extra = sorted({k for r in runs for k in r["metrics"] if k.startswith(("pass@", "maj@"))},
                   key=lambda k: (k.split("@")[0], int(k.split("@")[1])))
    cols = [c for c, _ in MAIN_COLUMNS[:3]] + extra + [c for c, _ in MAIN_COLUMNS[3:]]
    names = dict(MAIN_COLUMNS)
    header = ["run"] + [names.get(c, c) for c in cols]
    rows = [[str(r["label"])] + [_fmt(r["metrics"].get(c)) for c in cols] for r in runs]
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; `|` and line breaks inside cells (a run's label) are escaped so columns stay aligned."""
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def _figure(width: float = 6.4, height: float = 4.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_accuracy_vs_tokens(runs: Sequence[Mapping[str, Any]]) -> bytes:
    """PNG: accuracy (y) against mean tokens spent per question (x), one labelled point per run."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for i, r in enumerate(runs):
        m = r["metrics"]
        x = m.get("output_tokens_mean")
        if x is None or not isinstance(x, (int, float)) or math.isnan(x):
            continue
        color = f"C{i % 10}"
        ax.scatter([x], [m.get("lenient_accuracy", float("nan"))], color=color, label=str(r["label"]), zorder=3)
        ax.scatter([x], [m.get("strict_accuracy", float("nan"))], facecolors="none", edgecolors=color, zorder=3)
        ax.annotate(str(r["label"]), (x, m.get("lenient_accuracy", 0)), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    ax.set_xlabel("tokens generated per question (mean)")
    ax.set_ylabel("accuracy (filled: lenient, hollow: strict)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if runs:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _png(fig)


def plot_token_lengths(runs: Sequence[Mapping[str, Any]]) -> bytes | None:
    """PNG: histogram of tokens generated per question for each run with records; None when none has."""
    with_records = [r for r in runs if r.get("records")]
    if not with_records:
        return None
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    values = [[float(x["output_tokens"]) for x in r["records"]] for r in with_records]
    top = max((max(v) for v in values if v), default=1.0)
    bins = [top * i / 20 for i in range(21)] if top > 0 else 10
    for i, (r, v) in enumerate(zip(with_records, values, strict=True)):
        ax.hist(v, bins=bins, alpha=0.45, color=f"C{i % 10}", label=str(r["label"]))
    ax.set_xlabel("tokens generated per question")
    ax.set_ylabel("questions")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _sections(extra: Any) -> list[tuple[str, str]]:
    if not extra:
        return []
    if isinstance(extra, Mapping):
        return [(str(k), str(v)) for k, v in extra.items()]
    return [(str(k), str(v)) for k, v in extra]


def write_report(runs: Sequence[Mapping[str, Any]], out_dir: str | Path, title: str,
                 extra_sections: Mapping[str, str] | Sequence[tuple[str, str]] | None = None) -> tuple[Path, Path]:
    """Write `report.md` and `report.html` (plus the plot PNGs) into `out_dir`; returns (md_path, html_path).

    Args:
        runs: `{"label", "metrics"}` dicts, optionally with `"records"`.
        out_dir: the folder (created if needed).
        title: the report's heading.
        extra_sections: more sections, `{heading: markdown text}` or `[(heading, text), ...]`; in HTML the
            text is shown preformatted.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header, rows = table_rows(runs)
    acc_png = plot_accuracy_vs_tokens(runs)
    len_png = plot_token_lengths(runs)
    (out / "accuracy_vs_tokens.png").write_bytes(acc_png)
    if len_png is not None:
        (out / "token_lengths.png").write_bytes(len_png)
    sections = _sections(extra_sections)

    md = [f"# {title}", "", markdown_table(header, rows), "",
          "Accuracy: lenient reads the best answer (tagged, else the last number); strict needs a well-formed "
          "completion. tokens/q counts every generated token spent on a question (all samples, beams and "
          "forced parts).", "", "## Accuracy against tokens spent", "", "![accuracy vs tokens](accuracy_vs_tokens.png)", ""]
    if len_png is not None:
        md += ["## Tokens per question", "", "![token lengths](token_lengths.png)", ""]
    for head, text in sections:
        md += [f"## {head}", "", text, ""]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md), encoding="utf-8")

    def img(data: bytes, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'

    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    table += "</table>"
    body = [f"<h1>{html.escape(title)}</h1>", table,
            "<p>Accuracy: lenient reads the best answer (tagged, else the last number); strict needs a "
            "well-formed completion. tokens/q counts every generated token spent on a question.</p>",
            "<h2>Accuracy against tokens spent</h2>", img(acc_png, "accuracy vs tokens")]
    if len_png is not None:
        body += ["<h2>Tokens per question</h2>", img(len_png, "token lengths")]
    for head, text in sections:
        body += [f"<h2>{html.escape(head)}</h2>", f"<pre>{html.escape(text)}</pre>"]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;"
            "text-align:right}th:first-child,td:first-child{text-align:left}img{max-width:100%}"
            "pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return md_path, html_path
