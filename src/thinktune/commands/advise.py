"""`thinktune advise [--describe TEXT] [--data FILE] [--measure]`: reasoning or non-reasoning, and why.

    thinktune advise --describe "real-time intent classification for a support chatbot"
    thinktune advise --data rows.jsonl                       # dataset signals: traces, steps, answers
    thinktune advise --data rows.jsonl --measure             # run `compare` on a sample instead of guessing
"""

from __future__ import annotations

import contextlib
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("advise", help="recommend reasoning or non-reasoning fine-tuning for a use case or dataset")
    p.add_argument("--describe", metavar="TEXT", help="a sentence or two about the use case")
    p.add_argument("--data", metavar="FILE", help="a dataset (any JSONL form `thinktune data` reads)")
    p.add_argument("--measure", action="store_true",
                   help="run `thinktune compare` on a sample of --data (or the built-in task) and decide from that")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="with --measure: compare settings (defaults: a small sample, see --help of compare)")
    p.add_argument("--json", action="store_true", help="print the advice as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.compare.advise import advise, advise_from_measurement
    from thinktune.errors import UserError

    if not (args.describe or args.data or args.measure):
        raise UserError("give --describe TEXT and/or --data FILE (and --measure to run a comparison)")
    if args.overrides and not args.measure:
        raise UserError("--set configures the comparison that --measure runs; add --measure or drop --set")
    if args.measure:
        from thinktune.compare.compare import CompareConfig, run_compare
        from thinktune.config import load_config

        rule = advise(args.describe, args.data) if (args.describe or args.data) else None
        cfg = load_config(CompareConfig, None, _measure_overrides(args))
        # With --json, stdout carries only the JSON: the trainer's and the pipeline's output go to stderr.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            result = run_compare(cfg)
        advice = advise_from_measurement(result.rows, rule_of_thumb=rule)
    else:
        advice = advise(args.describe, args.data)
    if args.json:
        print(json.dumps({"recommendation": advice.recommendation, "confidence": advice.confidence,
                          "reasons": advice.reasons, "signals": advice.signals}, indent=2, default=str))
        return 0
    print(f"recommendation: {advice.recommendation.replace('_', '-')} (confidence {advice.confidence:.2f})")
    for reason in advice.reasons:
        print(f"  - {reason}")
    return 0


# A measurement sized to answer the question, not to polish a model: the quickstart's budget on a sample
# of the user's rows, with the output in its own folder.
MEASURE_DEFAULTS = ("output_dir=runs/advise-measure",)


def _measure_overrides(args) -> list[str]:
    overrides = list(MEASURE_DEFAULTS)
    if args.data:
        overrides += [f"data={args.data}", "mix_key=''"]
    return overrides + list(args.overrides)
