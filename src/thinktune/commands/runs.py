"""`thinktune runs list|show|cancel`: the run folders every job leaves (see `thinktune.runs`).

    thinktune runs list                 # every run under runs/: kind, status, parent, key metrics
    thinktune runs list path/to/folder  # under another folder
    thinktune runs show runs/grpo       # the manifest, the lineage chain and the last metrics
    thinktune runs cancel runs/sft      # ask the job writing there to stop at its next step (resumable)
    thinktune runs plot runs/grpo       # training curves -> runs/grpo/curves.png (several runs: overlaid)
"""

from __future__ import annotations

import json

KEY = ("final_loss", "eval_loss", "reward", "accuracy", "strict_accuracy", "lenient_accuracy", "verdict")


def register(sub) -> None:
    p = sub.add_parser("runs", help="list runs, show one with its lineage, plot its curves, cancel one")
    runs_sub = p.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    ls = runs_sub.add_parser("list", help="every run under a folder: kind, status, parent, key metrics")
    ls.add_argument("root", nargs="?", default="runs", help="folder to search (default runs/)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_main)
    show = runs_sub.add_parser("show", help="one run: manifest, lineage (parent chain), metrics")
    show.add_argument("run", help="a run folder")
    show.add_argument("--json", action="store_true", help="print the manifest and lineage as JSON")
    show.set_defaults(func=show_main)
    cancel = runs_sub.add_parser("cancel", help="stop the job writing to a run folder at its next step")
    cancel.add_argument("run", help="a run folder")
    cancel.set_defaults(func=cancel_main)
    plot = runs_sub.add_parser("plot", help="training curves of SFT or GRPO runs as a PNG")
    plot.add_argument("run", nargs="+", help="run folders (several: overlaid, one colour each)")
    plot.add_argument("-o", "--out", default=None, help="PNG path (default RUN/curves.png for one run)")
    plot.add_argument("--smooth", type=int, default=5, help="moving average over this many steps (1: none)")
    plot.add_argument("--label", action="append", default=None, help="a legend label per run, in order")
    plot.set_defaults(func=plot_main)


def key_metrics(metrics: dict) -> str:
    """The few metrics worth a column, `name=value`."""
    parts = []
    for k in KEY:
        v = metrics.get(k)
        if v is not None:
            parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def list_main(args) -> int:
    from thinktune.runs import list_runs

    runs = list_runs(args.root)
    if args.json:
        print(json.dumps([{"folder": str(r.folder), "kind": r.kind, "status": r.status, "parent": r.parent,
                           "started": r.started, "ended": r.ended, "metrics": r.metrics} for r in runs], indent=2))
        return 0
    if not runs:
        print(f"no runs under {args.root}")
        return 0
    rows = [(str(r.folder), r.kind, r.status, r.parent or "-", (r.started or "")[:19], key_metrics(r.metrics))
            for r in runs]
    header = ("run", "kind", "status", "parent", "started", "metrics")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header[:-1])]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + "  metrics")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def show_main(args) -> int:
    from thinktune.errors import UserError
    from thinktune.runs import lineage

    chain = lineage(args.run)
    if not chain:
        raise UserError(f"{args.run}: not a thinktune run folder (no run.json with a job kind)")
    run = chain[0]
    if args.json:
        print(json.dumps({"manifest": run.manifest, "status": run.status,
                          "lineage": [str(r.folder) for r in chain]}, indent=2, default=str))
        return 0
    print(f"run:      {run.folder}")
    print(f"kind:     {run.kind}")
    print(f"status:   {run.status}" + (f"  ({run.error})" if run.error else ""))
    print(f"started:  {run.started}   ended: {run.ended or '-'}")
    model = run.config.get("model")
    if model:
        print(f"model:    {model}")
    print(f"metrics:  {key_metrics(run.metrics) or '-'}")
    print("lineage:")
    for depth, r in enumerate(chain):
        arrow = "  " * depth + ("└─ " if depth else "")
        print(f"  {arrow}{r.folder}  [{r.kind}, {r.status}]  {key_metrics(r.metrics)}".rstrip())
    base = chain[-1].config.get("model")
    if base:
        print(f"  {'  ' * len(chain)}└─ base model: {base}")
    return 0


def cancel_main(args) -> int:
    from thinktune.errors import UserError
    from thinktune.runs import Run, request_cancel

    try:
        run = Run.load(args.run)
    except FileNotFoundError as e:
        raise UserError(str(e)) from None
    if run.status != "running":
        raise UserError(f"{args.run}: nothing to cancel (status {run.status})")
    request_cancel(run.folder)
    print(f"cancel requested: {run.folder} stops at its next step boundary")
    return 0


def plot_main(args) -> int:
    from pathlib import Path

    from thinktune.curves import plot_curves
    from thinktune.errors import UserError

    if args.out is None and len(args.run) > 1:
        raise UserError("--out: give the PNG path when plotting several runs")
    if args.label and len(args.label) != len(args.run):
        raise UserError(f"--label: give one per run ({len(args.run)}), got {len(args.label)}")
    if args.smooth < 1:
        raise UserError(f"--smooth must be at least 1, got {args.smooth}")
    out = Path(args.out) if args.out else Path(args.run[0]) / "curves.png"
    try:
        path = plot_curves(args.run, out, smooth=args.smooth, labels=args.label)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    print(f"wrote {path}")
    return 0
