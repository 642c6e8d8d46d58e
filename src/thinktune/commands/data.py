"""`thinktune data validate|snapshot|show FILE`: check a dataset, name a split of it, look at its rows.

    thinktune data validate train.jsonl --job reasoning      # exit 0: no errors, 1: errors
    thinktune data snapshot train.jsonl --val-fraction 0.1   # prints the snapshot id
    thinktune data show train.jsonl -n 3 --job reasoning     # the rows as the model will see them

FILE is a JSONL file in any form `thinktune.data.readers` reads, or `hf:NAME[:CONFIG[:SPLIT]]`.
"""

from __future__ import annotations

import json
import sys

JOBS = ("reasoning", "non_reasoning")


def register(sub) -> None:
    p = sub.add_parser("data", help="validate a dataset, snapshot a train/validation split, show rows")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    v = data_sub.add_parser("validate", help="report every problem with file, line and field")
    v.add_argument("file", help="JSONL file or hf:NAME[:CONFIG[:SPLIT]]")
    v.add_argument("--job", choices=JOBS, default="reasoning",
                   help="check for this job type (reasoning needs step-by-step reasoning on every row)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(func=validate)

    s = data_sub.add_parser("snapshot", help="a deterministic train/validation split named by a content hash")
    s.add_argument("file", help="JSONL file or hf:NAME[:CONFIG[:SPLIT]]")
    s.add_argument("--val-fraction", type=float, default=0.1, help="share of rows held out (default 0.1)")
    s.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    s.add_argument("--out", default="snapshots", help="folder that holds snapshots (default snapshots/)")
    s.set_defaults(func=snapshot)

    sh = data_sub.add_parser("show", help="print a few rows as the model will see them")
    sh.add_argument("file", help="JSONL file, hf:NAME[:CONFIG[:SPLIT]]")
    sh.add_argument("-n", type=int, default=3, help="how many rows (default 3)")
    sh.add_argument("--job", choices=JOBS, default="reasoning", help="which view (default reasoning)")
    sh.set_defaults(func=show)


def validate(args) -> int:
    from thinktune.data.validate import validate_file

    report = validate_file(args.file, job=args.job)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.format_text())
    return 0 if report.ok else 1


def snapshot(args) -> int:
    from thinktune.data.readers import read_examples
    from thinktune.data.snapshot import make_snapshot, save_snapshot
    from thinktune.errors import UserError

    if not 0 <= args.val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    snap = make_snapshot(read_examples(args.file), args.val_fraction, args.seed, source=str(args.file))
    folder = save_snapshot(snap, args.out)
    print(snap.id)
    print(f"{len(snap.train)} train, {len(snap.validation)} validation rows in {folder}", file=sys.stderr)
    return 0


def show(args) -> int:
    from thinktune.data.readers import read_examples

    examples = read_examples(args.file, limit=max(args.n, 0))
    try:
        from thinktune.data.views import to_view
    except ImportError:  # the views module is optional here: fall back to the plain fields
        to_view = None
    for example in examples:
        where = example.meta.get("location") or example.meta.get("source")
        print(f"=== {where}  (id {example.meta.get('id')})")
        if to_view is None:
            _show_plain(example)
            continue
        try:
            messages, target = to_view(example, args.job)
        except ValueError as e:  # a reasoning view of a row without reasoning
            print(f"[cannot show the {args.job} view: {e}]")
            _show_plain(example)
            continue
        for message in messages:
            print(f"[{message['role']}] {message['content']}")
        print(f"[assistant: target] {target}")
    return 0


def _show_plain(example) -> None:
    if example.system:
        print(f"[system] {example.system}")
    for turn in example.history:
        print(f"[{turn['role']}] {turn['content']}")
    print(f"[question] {example.question}")
    print(f"[reasoning] {example.reasoning if example.reasoning else '(none)'}")
    print(f"[answer] {example.answer}")
