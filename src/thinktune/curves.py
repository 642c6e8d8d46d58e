"""Training curves: what a run logged per step (`RUN/metrics.jsonl`), drawn as one PNG.

    thinktune runs plot runs/grpo                    # -> runs/grpo/curves.png
    thinktune runs plot runs/a runs/b -o ab.png      # several runs overlaid, one colour each

Each job kind has its panels: GRPO shows the reward (and each reward function's mean), the accuracy and
strict format rate of the sampled completions, their length, and the share of groups with no reward
variance (nothing to learn from); SFT shows the loss (and the validation loss), the token accuracy and
the learning rate. Per-step values are noisy (GRPO sees a few prompts a step), so each curve is drawn
faint as logged and bold as a moving average over `smooth` steps.

Matplotlib's Agg canvas draws it (no display, no global backend change), like the eval reports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinktune.runs import Run

# kind -> panels; a panel is (title, [(metrics.jsonl key, label)], y range or None)
PANELS: dict[str, list[tuple[str, list[tuple[str, str]], tuple[float, float] | None]]] = {
    "grpo": [
        ("reward (sum of the weighted rewards)", [("reward", "reward")], None),
        ("sampled completions", [("accuracy", "accuracy"), ("accuracy_strict", "accuracy (well-formed only)"),
                                 ("format_rate", "strict format rate")], (-0.02, 1.02)),
        ("completion length (tokens)", [("completion_length_mean", "mean")], None),
        ("groups with no reward variance", [("zero_variance_frac", "share of groups")], (-0.02, 1.02)),
    ],
    "sft": [
        ("loss", [("loss", "train"), ("eval_loss", "validation")], None),
        ("token accuracy", [("mean_token_accuracy", "train")], None),
        ("learning rate", [("learning_rate", "learning rate")], None),
    ],
}


NOT_SMOOTHED = {"learning_rate"}  # a schedule, not a noisy measurement


def read_steps(folder: str | Path) -> list[dict[str, Any]]:
    """The per-step rows of RUN/metrics.jsonl (rows without a `step`, or with an `event`, are left out);
    a step logged twice (a resumed run) keeps its last row."""
    path = Path(folder) / "metrics.jsonl"
    if not path.exists():
        return []
    rows: dict[int, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed process
        if isinstance(row, dict) and isinstance(row.get("step"), int) and "event" not in row:
            rows[row["step"]] = row
    return [rows[s] for s in sorted(rows)]


def moving_average(values: Sequence[float | None], window: int) -> list[float | None]:
    """Trailing mean over the last `window` values that are numbers (None where none is)."""
    out: list[float | None] = []
    for i in range(len(values)):
        seen = [v for v in values[max(0, i - window + 1): i + 1] if isinstance(v, (int, float))]
        out.append(sum(seen) / len(seen) if seen else None)
    return out


def panels_for(kind: str, rows: Sequence[dict[str, Any]]) -> list[tuple[str, list[tuple[str, str]], Any]]:
    """The panels of a kind, with GRPO's per-reward means added and curves nobody logged dropped."""
    if kind not in PANELS:
        raise ValueError(f"no training curves for a {kind!r} run (curves exist for: {', '.join(PANELS)})")
    logged = {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    panels = []
    for title, curves, ylim in PANELS[kind]:
        curves = list(curves)
        if kind == "grpo" and title.startswith("reward"):
            curves += [(k, k.removeprefix("rewards/").removesuffix("/mean"))
                       for k in sorted(logged) if k.startswith("rewards/") and k.endswith("/mean")]
        curves = [(k, label) for k, label in curves if k in logged]
        if curves:
            panels.append((title, curves, ylim))
    return panels


def plot_curves(folders: Sequence[str | Path], out: str | Path, *, smooth: int = 5,
                labels: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Draw the runs' curves into the PNG `out`; the runs must be of one kind. Returns the path."""
    if not folders:
        raise ValueError("give at least one run folder")
    runs = [Run.load(f) for f in folders]
    kinds = {r.kind for r in runs}
    if len(kinds) != 1:
        raise ValueError(f"runs of different kinds cannot share panels: {', '.join(sorted(map(str, kinds)))}")
    kind = kinds.pop()
    data = [read_steps(r.folder) for r in runs]
    panels = panels_for(kind, [row for rows in data for row in rows])  # refuses a kind without curves first
    if not any(data):
        raise ValueError(f"{', '.join(str(r.folder) for r in runs)}: no steps logged yet (metrics.jsonl)")
    labels = list(labels) if labels else [str(r.folder) for r in runs]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = 2
    nrows = (len(panels) + cols - 1) // cols
    fig = Figure(figsize=(11, 3.4 * nrows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    styles = ["-", "--", ":", "-."]
    for p, (ptitle, curves, ylim) in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, p + 1)
        for r, rows in enumerate(data):
            steps = [row["step"] for row in rows]
            for c, (key, label) in enumerate(curves):
                values = [row.get(key) for row in rows]
                if not any(isinstance(v, (int, float)) for v in values):
                    continue
                color = f"C{(c if len(data) == 1 else r) % 10}"
                name = label if len(data) == 1 else f"{labels[r]}: {label}"
                raw = [v if isinstance(v, (int, float)) else float("nan") for v in values]
                if smooth > 1 and key not in NOT_SMOOTHED:
                    ax.plot(steps, raw, color=color, alpha=0.25, linewidth=1)
                    avg = [v if v is not None else float("nan") for v in moving_average(values, smooth)]
                    ax.plot(steps, avg, color=color, linestyle=styles[c % len(styles)] if len(data) > 1 else "-",
                            linewidth=2, label=name)
                else:
                    ax.plot(steps, raw, color=color, marker="o" if smooth == 1 else None, markersize=3, label=name)
        ax.set_title(ptitle, fontsize=10)
        ax.set_xlabel("step")
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    what = f"{kind} training curves" + (f" (bold: mean of the last {smooth} steps)" if smooth > 1 else "")
    fig.suptitle(title or (f"{labels[0]}: {what}" if len(runs) == 1 else what), fontsize=11)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
