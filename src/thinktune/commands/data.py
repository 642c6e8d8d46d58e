"""`thinktune data validate|snapshot|show FILE`: check a dataset, name a split of it, look at its rows.

    thinktune data validate train.jsonl --job reasoning      # exit 0: no errors, 1: errors
    thinktune data snapshot train.jsonl --val-fraction 0.1   # prints the snapshot id
    thinktune data show train.jsonl -n 3 --job reasoning     # the rows as the model will see them
    thinktune data validate alpaca.jsonl --map question=instruction,answer=output
    thinktune data show hf:HuggingFaceH4/MATH-500::test[:5]  # streams 5 rows, not the whole split

FILE is a JSONL file in any form `thinktune.data.readers` reads, or `hf:NAME[:CONFIG[:SPLIT[START:STOP]]]`.
All three actions take `--map FIELD=COLUMN,...` (rename the rows' columns to the readers' fields) and
`--answer-mode final|full` (a `\\boxed{}` answer read out of the solution, or the whole solution kept).
"""

from __future__ import annotations

import json
import sys

JOBS = ("reasoning", "non_reasoning")
SOURCE_HELP = "JSONL file or hf:NAME[:CONFIG[:SPLIT[START:STOP]]] (e.g. hf:openai/gsm8k:main:train[:1000])"
DEFAULT_SHOW_CHARS = 2000


def _add_read_options(p) -> None:
    """`--map` and `--answer-mode`: how rows are read, the same for every action."""
    p.add_argument("--map", dest="column_map", action="append", metavar="FIELD=COLUMN[,...]",
                   help="read the rows' COLUMN as FIELD (question, answer, reasoning, prompt, messages, ...), "
                        "e.g. --map question=instruction,answer=output; may be repeated")
    p.add_argument("--answer-mode", choices=("final", "full"), default="final",
                   help="final (default): a \\boxed{} answer is read out of the solution into <answer>; "
                        "full: the whole solution text is the answer (free-text tasks)")


def register(sub) -> None:
    p = sub.add_parser("data", help="validate a dataset, snapshot a train/validation split, show rows")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    v = data_sub.add_parser("validate", help="report every problem with file, line and field")
    v.add_argument("file", help=SOURCE_HELP)
    v.add_argument("--job", choices=JOBS, default="reasoning",
                   help="check for this job type (reasoning needs step-by-step reasoning on every row)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--max-row-chars", type=int, default=100_000, metavar="N",
                   help="warn about rows with more than N characters of text (default 100000; 0: no limit)")
    _add_read_options(v)
    v.set_defaults(func=validate)

    s = data_sub.add_parser("snapshot", help="a deterministic train/validation split named by a content hash")
    s.add_argument("file", help=SOURCE_HELP)
    s.add_argument("--val-fraction", type=float, default=0.1, help="share of rows held out (default 0.1)")
    s.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    s.add_argument("--out", default="snapshots", help="folder that holds snapshots (default snapshots/)")
    _add_read_options(s)
    s.set_defaults(func=snapshot)

    j = data_sub.add_parser("journey", help="reasoning rows with a caught slip and its correction (journey learning)")
    src = j.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="a task whose steps hold equations: arithmetic, word_problems")
    src.add_argument("--data", help="a dataset whose rows carry step-by-step reasoning with equations")
    src.add_argument("--samples", help="a distill/sample run folder (or its samples.jsonl): a wrong and a right "
                                       "attempt of the same question make one journey")
    j.add_argument("--task-option", dest="task_options", action="append", default=[], metavar="KEY=VALUE",
                   help="a task option, e.g. --task-option steps=3")
    j.add_argument("--n", type=int, default=200, help="rows to draw from the task (default 200)")
    j.add_argument("--split", default="train", help="task split (default train)")
    j.add_argument("--ratio", type=float, default=0.5, help="share of rows turned into journeys (default 0.5)")
    j.add_argument("--seed", type=int, default=0, help="seed of the draw and of the slips")
    j.add_argument("--out", required=True, help="the JSONL file to write")
    j.set_defaults(func=journey)

    sh = data_sub.add_parser("show", help="print a few rows as the model will see them")
    sh.add_argument("file", help=SOURCE_HELP)
    sh.add_argument("-n", type=int, default=3, help="how many rows (default 3)")
    sh.add_argument("--job", choices=JOBS, default="reasoning", help="which view (default reasoning)")
    sh.add_argument("--max-chars", type=int, default=DEFAULT_SHOW_CHARS, metavar="N",
                    help=f"cut each field longer than N characters in the middle, saying how many were cut "
                         f"(default {DEFAULT_SHOW_CHARS}; 0: print them whole)")
    _add_read_options(sh)
    sh.set_defaults(func=show)


def validate(args) -> int:
    from thinktune.data.validate import validate_file

    report = validate_file(args.file, job=args.job, answer_mode=args.answer_mode, column_map=args.column_map,
                           max_row_chars=args.max_row_chars or None)
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
    examples = read_examples(args.file, answer_mode=args.answer_mode, column_map=args.column_map)
    snap = make_snapshot(examples, args.val_fraction, args.seed, source=str(args.file))
    folder = save_snapshot(snap, args.out)
    print(snap.id)
    print(f"{len(snap.train)} train, {len(snap.validation)} validation rows in {folder}", file=sys.stderr)
    return 0


def journey(args) -> int:
    from thinktune.config import override_value
    from thinktune.data.journey import build_journey
    from thinktune.data.readers import read_examples, write_examples
    from thinktune.errors import UserError

    if not 0 <= args.ratio <= 1:
        raise UserError(f"--ratio must be in [0, 1], got {args.ratio}")
    if args.task:
        from thinktune.tasks import load_task

        options = {}
        for pair in args.task_options:
            key, sep, raw = pair.partition("=")
            if not sep:
                raise UserError(f"--task-option {pair!r}: expected KEY=VALUE")
            options[key.strip()] = override_value(raw)
        try:
            examples = load_task(args.task, split=args.split, n=args.n, seed=args.seed, **options)
        except ValueError as e:
            raise UserError(str(e)) from None
    elif args.samples:
        from pathlib import Path

        from thinktune.data.journey import from_samples
        from thinktune.io import read_jsonl

        path = Path(args.samples)
        path = path / "samples.jsonl" if path.is_dir() else path
        if not path.is_file():
            raise UserError(f"{args.samples}: no samples.jsonl (give a distill run folder or the file)")
        records = list(read_jsonl(path))
        if records and not any("samples" in r for r in records):
            raise UserError(f"{path}: not a distill/sample run's samples (rows have no `samples`); an eval run's "
                            "samples.jsonl does not pair attempts")
        rows = from_samples(records, args.ratio, args.seed)
        if not rows:
            raise UserError(f"{path}: no question has a right sample; nothing to build journeys from")
    else:
        examples = read_examples(args.data)
    if not args.samples:
        rows = build_journey(examples, args.ratio, args.seed)
    write_examples(rows, args.out)
    n_journey = sum(r.meta.get("journey") in ("injected_slip", "attempts") for r in rows)
    print(f"{len(rows)} rows ({n_journey} journeys, {len(rows) - n_journey} shortcuts) -> {args.out}")
    return 0


def show(args) -> int:
    from thinktune.data.readers import read_examples

    examples = read_examples(args.file, limit=max(args.n, 0), answer_mode=args.answer_mode,
                             column_map=args.column_map)
    try:
        from thinktune.data.views import to_view
    except ImportError:  # the views module is optional here: fall back to the plain fields
        to_view = None
    cut = max(args.max_chars, 0) or None
    for example in examples:
        where = example.meta.get("location") or example.meta.get("source")
        print(f"=== {where}  (id {example.meta.get('id')})")
        if to_view is None:
            _show_plain(example, cut)
            continue
        try:
            messages, target = to_view(example, args.job)
        except ValueError as e:  # a reasoning view of a row without reasoning
            print(f"[cannot show the {args.job} view: {e}]")
            _show_plain(example, cut)
            continue
        for message in messages:
            print(f"[{message['role']}] {shorten(message['content'], cut)}")
        print(f"[assistant: target] {shorten(target, cut)}")
    return 0


def _show_plain(example, max_chars: int | None = None) -> None:
    if example.system:
        print(f"[system] {shorten(example.system, max_chars)}")
    for turn in example.history:
        print(f"[{turn['role']}] {shorten(turn['content'], max_chars)}")
    print(f"[question] {shorten(example.question, max_chars)}")
    print(f"[reasoning] {shorten(example.reasoning, max_chars) if example.reasoning else '(none)'}")
    print(f"[answer] {shorten(example.answer, max_chars)}")


def shorten(text: str, max_chars: int | None) -> str:
    """`text` cut in the middle to `max_chars` characters (its head and its tail), with a note of how many
    characters were cut; whole when it fits or `max_chars` is None. What `data show` prints.

    >>> shorten("0123456789" * 3, 10)
    '01234\\n[… 20 characters cut …]\\n56789'
    >>> shorten("short", 10), shorten("long " * 10, None) == "long " * 10
    ('short', True)
    """
    if max_chars is None or max_chars <= 0 or len(text) <= max_chars:
        return text
    head = max_chars // 2 + max_chars % 2
    tail = max_chars - head
    cut = len(text) - max_chars
    return f"{text[:head]}\n[… {cut:,} characters cut …]\n{text[len(text) - tail:] if tail else ''}"
