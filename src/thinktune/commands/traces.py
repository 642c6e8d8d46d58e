"""`thinktune traces list|show|export`: what `thinktune serve` answered, with its scores and feedback.

    thinktune traces list --home runs/serve --model reasoning --min-score 1
    thinktune traces show trace-0123abcd
    thinktune traces export --min-score 1 --out curated.jsonl     # a dataset thinktune reads
"""

from __future__ import annotations

import json
import time


def register(sub) -> None:
    p = sub.add_parser("traces", help="list, show and export the served model's traces (with scores, feedback)")
    t = p.add_subparsers(dest="traces_command", metavar="ACTION", required=True)
    for name, helptext in (("list", "one line per trace"), ("export", "write the traces as a JSONL dataset")):
        q = t.add_parser(name, help=helptext)
        q.add_argument("--home", default="runs/serve", help="the server home (default runs/serve)")
        q.add_argument("--model", help="only this served model name")
        q.add_argument("--route", help="only traces the router sent to this model")
        q.add_argument("--since", type=float, help="only traces newer than this many hours")
        q.add_argument("--min-score", type=float, help="only traces scoring at least this")
        q.add_argument("--max-score", type=float, help="only traces scoring at most this")
        q.add_argument("--scorer", help="whose score the score filters read (verifier, judge, feedback)")
        q.add_argument("--feedback", choices=("yes", "no"), help="only traces with (or without) user feedback")
        q.add_argument("--strategy", help="only traces answered with this strategy (e.g. maj@8)")
        q.set_defaults(func=main)
        if name == "export":
            q.add_argument("--out", required=True, help="the JSONL file to write")
        else:
            q.add_argument("--json", action="store_true", help="print JSON lines")
    s = t.add_parser("show", help="one trace in full")
    s.add_argument("id", help="the trace id (trace-...)")
    s.add_argument("--home", default="runs/serve", help="the server home (default runs/serve)")
    s.set_defaults(func=main)


def main(args) -> int:
    from thinktune.errors import UserError
    from thinktune.flywheel.traces import export_dataset, filter_traces, load_traces

    traces = load_traces(args.home)
    if args.traces_command == "show":
        match = [t for t in traces if t.id == args.id]
        if not match:
            raise UserError(f"{args.home}: no trace {args.id!r}")
        t = match[0]
        print(json.dumps({"id": t.id, "model": t.model, "messages": t.messages, "thinking": t.thinking,
                          "answer": t.answer, "route": t.route, "strategy": t.strategy, "usage": t.usage,
                          "scores": t.scores, "feedback": t.feedback}, indent=2, ensure_ascii=False))
        return 0
    kept = filter_traces(traces, model=args.model, route=args.route,
                         since=time.time() - args.since * 3600 if args.since else None, min_score=args.min_score,
                         max_score=args.max_score, scorer=args.scorer,
                         has_feedback=None if args.feedback is None else args.feedback == "yes", strategy=args.strategy)
    if args.traces_command == "export":
        n = export_dataset(kept, args.out)
        print(f"{n} traces -> {args.out}")
        return 0
    for t in kept:
        score = t.score(args.scorer) if args.scorer else t.best_score()
        if args.json:
            print(json.dumps({"id": t.id, "model": t.model, "score": score, "question": t.question, "answer": t.answer}))
        else:
            s = "-" if score is None else f"{score:.2f}"
            print(f"{t.id}  {t.model:14} score {s:>4}  {t.question[:60]!r} -> {str(t.answer)[:30]!r}")
    print(f"{len(kept)} of {len(traces)} traces")
    return 0
