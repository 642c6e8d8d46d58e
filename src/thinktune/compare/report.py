"""The compare report's own sections: the comparison table, the trade-off plot, accuracy by difficulty and
the recommendation. The page around them (header, run tables, standalone HTML) is the evaluation
harness's `write_report`; these functions only turn compare rows into Markdown, HTML and a PNG.

A compare row is a dict with `name`, `label`, `kind` (`base`, `variant`, `router`), the harness's metrics
(`strict_accuracy`, `lenient_accuracy`, `format_rate`, `thinking_tokens_mean`, `answer_tokens_mean`,
`latency_p50`, `latency_p95`, `tokens_per_s`, `n_questions`), the cost per query the recommendation uses
(`tokens_per_query`, `seconds_per_query`), and for trained variants `train_runtime_s` (the trainer's
own time) / `train_tokens`.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# (key, header, formatter) — the one column list both the terminal table and the report use.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("strict_accuracy", "strict acc", "pct"),
    ("lenient_accuracy", "lenient acc", "pct"),
    ("format_rate", "format", "pct"),
    ("thinking_tokens_mean", "think tok/sample", "f1"),
    ("answer_tokens_mean", "answer tok/sample", "f1"),
    ("tokens_per_query", "tokens/q", "f1"),
    ("seconds_per_query", "s/q", "f3"),
    ("latency_p50", "latency p50 s", "f2"),
    ("latency_p95", "latency p95 s", "f2"),
    ("tokens_per_s", "tok/s", "f1"),
    ("train_runtime_s", "train s", "f0"),
    ("train_tokens", "train tokens", "int"),
    ("routed_to_reasoning", "routed to reasoning", "pct"),
    ("n_questions", "n", "int"),
)
KIND_COLOURS = {"base": "#888888", "variant": "#1f77b4", "router": "#2ca02c"}


def fmt_cell(value: Any, how: str) -> str:
    """One table cell; missing values are '–'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if how == "pct":
        return f"{100 * float(value):.1f}%"
    if how == "int":
        return f"{int(round(float(value))):,}"
    return f"{float(value):,.{int(how[1:])}f}"


def table_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(headers, cells) of the comparison table."""
    headers = ["row", *[h for _, h, _ in COLUMNS]]
    cells = [[str(r.get("label") or r["name"]), *[fmt_cell(r.get(k), how) for k, _, how in COLUMNS]] for r in rows]
    return headers, cells


def table_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    headers, cells = table_rows(rows)
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    out += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(out)


def table_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """The table for the terminal, columns aligned."""
    headers, cells = table_rows(rows)
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    for c in cells:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths, strict=True))))
    return "\n".join(lines)


def table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    headers, cells = table_rows(rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr data-row="{html.escape(str(r["name"]))}">' + "".join(f"<td>{html.escape(v)}</td>" for v in c) + "</tr>"
        for r, c in zip(rows, cells, strict=True)
    )
    return f'<table class="compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# ------------------------------------------------------------------------------------ by difficulty
def by_difficulty(records: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Strict accuracy per difficulty group for each row: (groups, {row: {group: accuracy}}).

    Records carry their group in `difficulty`; rows without groups are left out.
    """
    groups: list[str] = []
    table: dict[str, dict[str, float]] = {}
    for name, recs in records.items():
        counts: dict[str, list[float]] = {}
        for r in recs:
            g = r.get("difficulty")
            if g is None:
                continue
            counts.setdefault(str(g), [0.0, 0])
            counts[str(g)][0] += float(r["correct_strict"] or 0.0)  # partial credit counts as itself
            counts[str(g)][1] += 1
        if counts:
            table[name] = {g: ok / n for g, (ok, n) in counts.items()}
            groups += [g for g in counts if g not in groups]
    return sorted(groups, key=_natural), table


def _natural(s: str) -> tuple:
    digits = "".join(ch for ch in s if ch.isdigit())
    return (int(digits) if digits else math.inf, s)


def difficulty_markdown(groups: list[str], table: Mapping[str, Mapping[str, float]],
                        labels: Mapping[str, str] | None = None) -> str:
    labels = labels or {}
    out = ["| row | " + " | ".join(groups) + " |", "|---|" + "---:|" * len(groups)]
    for name, accs in table.items():
        out.append(f"| {labels.get(name, name)} | " + " | ".join(fmt_cell(accs.get(g), "pct") for g in groups) + " |")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------- plot
def tradeoff_plot(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Accuracy against seconds per query (left) and output tokens per query (right), one point per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for ax, key, xlabel in ((axes[0], "seconds_per_query", "seconds per query"),
                            (axes[1], "tokens_per_query", "output tokens per query")):
        labels: dict[tuple[float, float], list[str]] = {}  # rows on the same spot share one label
        for r in rows:
            x, y = r.get(key), r.get("strict_accuracy")
            if x is None or y is None:
                continue
            colour = KIND_COLOURS.get(str(r.get("kind")), "#d62728")
            if r.get("kind") == "router":  # hollow, so a variant on the same spot stays visible
                ax.scatter([x], [100 * y], s=110, marker="D", facecolors="none", edgecolors=colour, linewidths=1.8,
                           zorder=4)
            else:
                ax.scatter([x], [100 * y], s=60, color=colour, zorder=3)
            labels.setdefault((round(float(x), 3), round(100 * float(y), 1)), []).append(str(r.get("label") or r["name"]))
        xmax = max((x for x, _ in labels), default=1.0) or 1.0
        placed: list[tuple[float, float, int]] = []
        for (x, y), names in sorted(labels.items(), key=lambda item: -item[0][1]):
            # A label near an earlier one (within 20% of the x range, labels run right, and 8 points of
            # accuracy) moves down a line.
            offset = 5
            while any(abs(x - px) < 0.2 * xmax and abs(y - py) < 8 and po == offset for px, py, po in placed):
                offset -= 12
            placed.append((x, y, offset))
            ax.annotate(" = ".join(names), (x, y), textcoords="offset points", xytext=(7, offset), fontsize=8)
        xs = [float(r[key]) for r in rows if r.get(key) is not None]
        ax.set_xlabel(xlabel)
        ax.set_ylabel("strict accuracy (%)")
        ax.set_ylim(-5, 105)
        ax.set_xlim(0, 1.35 * max(xs, default=1.0) or 1.0)  # room for the labels right of the points
        ax.grid(alpha=0.3)
    axes[0].set_title("accuracy vs latency")
    axes[1].set_title("accuracy vs tokens")
    kinds = {"base": "base model", "variant": "fine-tuned variant", "router": "hybrid router"}
    handles = [plt.Line2D([], [], marker="D" if k == "router" else "o", linestyle="", color=KIND_COLOURS[k], label=v,
                          markerfacecolor="none" if k == "router" else KIND_COLOURS[k])
               for k, v in kinds.items() if any(r.get("kind") == k for r in rows)]
    if handles:
        axes[1].legend(handles=handles, loc="upper left", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def img_tag(path: str | Path, alt: str) -> str:
    """A self-contained `<img>` (the PNG inlined as base64), so report.html can be mailed as one file."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'


# ------------------------------------------------------------------------------------- sections
def sections(rows: Sequence[Mapping[str, Any]], recommendation_md: str, plot: str | Path,
             difficulty: tuple[list[str], Mapping[str, Mapping[str, float]]] | None = None,
             notes: Sequence[str] = ()) -> list[dict[str, str]]:
    """The compare sections as `{"title", "markdown", "html"}` dicts, in reading order."""
    plot = Path(plot)
    out = [
        {"title": "The comparison",
         "markdown": table_markdown(rows) + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else ""),
         "html": table_html(rows) + ("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
                                     if notes else "")},
        {"title": "Trade-off: accuracy against latency and tokens",
         "markdown": f"![accuracy vs latency and tokens]({plot.name})",
         "html": img_tag(plot, "accuracy vs latency and tokens")},
    ]
    if difficulty and difficulty[1]:
        labels = {str(r["name"]): str(r.get("label") or r["name"]) for r in rows}
        md = difficulty_markdown(difficulty[0], difficulty[1], labels)
        out.append({"title": "Strict accuracy by difficulty", "markdown": md, "html": _md_table_to_html(md)})
    out.append({"title": "Recommendation", "markdown": recommendation_md,
                "html": "<ul>" + "".join(f"<li>{_inline_md(line[2:])}</li>" for line in recommendation_md.splitlines()
                                         if line.startswith("- ")) + "</ul>"})
    return out


def _inline_md(text: str) -> str:
    """Escape, then render **bold** and `code` (all the recommendation uses)."""
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _md_table_to_html(md: str) -> str:
    lines = [ln for ln in md.splitlines() if ln.strip()]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells[2:])
    return f'<table class="compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# ------------------------------------------------------------------------------------------- page
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:0.5em 0}th,td{border:1px solid #ccc;padding:4px 8px;"
    "text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%}"
    "li{margin:0.3em 0}"
)


def write_html(path: str | Path, title: str, compare_sections: Sequence[Mapping[str, str]],
               runs: Sequence[Mapping[str, Any]]) -> Path:
    """The standalone report page: compare's sections, the harness's run table and plots, and last the
    recommendation.

    Everything is inline (plots as base64 PNG), so the page is one file.
    """
    from thinktune.evaluation.report import plot_accuracy_vs_tokens, plot_token_lengths
    from thinktune.evaluation.report import table_rows as harness_table

    body = [f"<h1>{html.escape(title)}</h1>"]
    last = [s for s in compare_sections if s["title"] == "Recommendation"]  # the page ends with it
    for s in [s for s in compare_sections if s["title"] != "Recommendation"]:
        body += [f"<h2>{html.escape(s['title'])}</h2>", s["html"]]
    if runs:
        header, cells = harness_table(runs)
        body += ["<h2>Every evaluated run (the harness's view)</h2>",
                 "<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>"
                 + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
                 + "</tbody></table>"]
        for png, alt in ((plot_accuracy_vs_tokens(runs), "accuracy vs tokens (harness)"),
                         (plot_token_lengths(runs), "tokens per question")):
            if png is not None:
                data = base64.b64encode(png).decode("ascii")
                body.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">')
    for s in last:
        body += [f"<h2>{html.escape(s['title'])}</h2>", s["html"]]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>")
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
