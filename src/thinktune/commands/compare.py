"""`thinktune compare [CONFIG] [--set key=value ...]`: reasoning vs non-reasoning fine-tuning, measured.

    thinktune compare                                 # the quickstart: default model, built-in arithmetic
    thinktune compare --set data=rows.jsonl --set model=Qwen/Qwen2.5-0.5B-Instruct
    thinktune compare --show-config                   # every key with its default and help
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="fine-tune a reasoning and a non-reasoning variant with one budget, evaluate both, recommend one",
    )
    p.add_argument("config", nargs="?", help="YAML config (defaults: the ~15-minute CPU quickstart)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, dotted for sections (e.g. --set steps=20 --set lora.enabled=true)")
    p.add_argument("--show-config", action="store_true", help="print every config key with its help and exit")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.compare.compare import CompareConfig, run_compare
    from thinktune.config import describe, load_config

    if args.show_config:
        for key, default, help_text in describe(CompareConfig):
            print(f"{key:24} {default:28} {help_text}")
        return 0
    cfg = load_config(CompareConfig, args.config, args.overrides)
    run_compare(cfg)
    return 0
