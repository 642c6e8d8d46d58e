"""`thinktune eval [CONFIG] [--model M --task T --strategy S ...] [--set key=value] [--show-config]`.

The evaluation job (`thinktune.evaluation.job`): each flag is a key of `EvalJobConfig` (`--limit 20` is
`limit: 20`), and `--set` overrides any key as in every job command. Examples:

    thinktune eval --model default --task arithmetic --limit 20
    thinktune eval --model default --task gsm8k --strategy self_consistency --n 8 --limit 10 --out runs/sc
    thinktune eval --model http://127.0.0.1:8000/v1 --task rg:basic_arithmetic --strategy adaptive
    thinktune eval --model runs/sft --task jsonl:my.jsonl --strategy best_of_n --option scorer=format
    thinktune eval my_eval.yaml --set options.rule=esc --show-config
    thinktune eval --list-strategies

Rerunning the same command with the same `--out` resumes an interrupted run.
"""

from __future__ import annotations

from typing import Any

from thinktune.commands._job import add_config_arguments, job_config, run_from_cli

# flag → config key, for the flags whose name is not the key's
_RENAMED = {"out": "output_dir"}


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model with an inference strategy (accuracy, tokens, latency)")
    add_config_arguments(p, "YAML config mirroring EvalJobConfig (flags and --set override it)")
    p.add_argument("--model", help="model spec (default, tiny, folder, .gguf, Hub id, or a server URL)")
    p.add_argument("--task", help="arithmetic, countdown, gsm8k, rg:<name> or jsonl:<path>")
    p.add_argument("--strategy", help="greedy, cot, self_consistency, adaptive, best_of_n, ...; NAME@N sets N samples "
                   "(maj@8); --list-strategies shows all with their options")
    p.add_argument("--limit", type=int, help="evaluate only the first N questions")
    p.add_argument("--split", help="task split (default: test)")
    p.add_argument("--n", type=int, help="samples per question for sampling strategies")
    p.add_argument("--max-new-tokens", type=int, help="token cap per completion (default 256)")
    p.add_argument("--direct", action="store_const", const=False, dest="reasoning",
                   help="prompt for the answer only (no <think>): reasoning=false")
    p.add_argument("--engine", choices=("hf", "openai", "vllm", "llamacpp"), help="backend (default: from --model)")
    p.add_argument("--batch-size", type=int, help="questions per strategy call (default 8)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"),
                   help="transformers engine weights (bfloat16 is ~1.8x faster on CPUs with AMX)")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is much faster on a busy shared machine)")
    p.add_argument("--seed", type=int, help="sampling seed; for generated tasks (arithmetic, countdown, rg:) it also "
                   "picks the questions, so compare runs with one seed")
    p.add_argument("--out", help="output folder (samples.jsonl, metrics.json, report.md/html); a rerun resumes "
                   "(default: runs/eval/MODEL__TASK__STRATEGY)")
    p.add_argument("--label", help="the run's name in reports")
    p.add_argument("--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="a strategy option, e.g. --option scorer=format (= --set options.scorer=format)")
    p.add_argument("--task-option", dest="task_options", action="append", default=[], metavar="KEY=VALUE",
                   help="a task option, e.g. --task-option ops=2 (= --set task_options.ops=2)")
    p.add_argument("--list-strategies", action="store_true", help="list strategies and their options, then exit")
    p.add_argument("--no-progress", action="store_const", const=False, dest="progress", help="no progress bar")
    p.set_defaults(func=main)


FLAGS = ("model", "task", "strategy", "limit", "split", "n", "max_new_tokens", "reasoning", "engine", "batch_size",
         "dtype", "threads", "seed", "out", "label", "progress")


def preset_from_flags(args: Any) -> dict[str, Any]:
    """The config values the flags set (only the flags given), keyed by config field."""
    from thinktune.config import ConfigError, override_value

    preset = {_RENAMED.get(f, f): getattr(args, f) for f in FLAGS if getattr(args, f, None) is not None}
    for flag, key in (("option", "options"), ("task-option", "task_options")):
        pairs = getattr(args, key)
        if pairs:
            values = {}
            for pair in pairs:
                name, sep, raw = pair.partition("=")
                if not sep or not name.strip():
                    raise ConfigError(f"--{flag} {pair!r}: expected KEY=VALUE")
                values[name.strip()] = override_value(raw)
            preset[key] = values
    return preset


def main(args) -> int:
    if args.list_strategies:
        from thinktune.inference.strategies import STRATEGIES, strategy_options

        for name in STRATEGIES:
            print(name)
            for key, default, help_text in strategy_options(name):
                print(f"    {key:22} {default!s:14} {help_text}")
        return 0
    from thinktune.config import ConfigError
    from thinktune.errors import UserError

    if not (args.task or args.config or any(o.startswith("task=") for o in args.overrides) or args.show_config):
        raise UserError("--task is required (arithmetic, countdown, gsm8k, rg:<name> or jsonl:<path>)")
    try:
        cfg = job_config("eval", args, preset_from_flags(args))
    except ConfigError as e:
        if "unknown key" in str(e) and "--set" in str(e):
            raise ConfigError(f"{e}; a strategy option goes under options (--set options.KEY=VALUE or "
                              "--option KEY=VALUE)") from None
        raise
    if cfg is None:
        return 0
    code, run = run_from_cli("eval", cfg)
    if run.status == "succeeded":
        _print_summary(run)
    return code


def _print_summary(run: Any) -> None:
    import json

    from thinktune.evaluation.report import table_rows

    saved = json.loads((run.folder / "metrics.json").read_text(encoding="utf-8"))
    header, rows = table_rows([{"label": saved["label"], "metrics": saved["metrics"]}])
    for name, value in zip(header, rows[0], strict=True):
        print(f"{name:16} {value}")
    print(f"\nsamples: {run.folder / 'samples.jsonl'}\nreport:  {run.folder / 'report.html'}")
