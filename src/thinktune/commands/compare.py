"""`thinktune compare [CONFIG] [--set key=value ...] [--show-config]`: reasoning vs non-reasoning, measured.

    thinktune compare                                 # the quickstart: default model, built-in arithmetic
    thinktune compare --set data=rows.jsonl --set model=Qwen/Qwen2.5-0.5B-Instruct
    thinktune compare --show-config                   # every key with the value the run would use
"""

from __future__ import annotations

from thinktune.commands._job import add_config_arguments, job_config, run_from_cli


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="fine-tune a reasoning and a non-reasoning variant with one budget, evaluate both, recommend one",
    )
    add_config_arguments(p, "YAML config (defaults: the ~15-minute CPU quickstart)")
    p.set_defaults(func=main)


def main(args) -> int:
    cfg = job_config("compare", args)
    if cfg is None:
        return 0
    code, _ = run_from_cli("compare", cfg)
    return code
