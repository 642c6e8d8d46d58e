"""`thinktune eval --model M --task T --strategy S [--limit N] [--out DIR]`: evaluate a model with a strategy.

A thin wrapper over `thinktune.evaluation.evaluate`. Examples:

    thinktune eval --model default --task arithmetic --limit 20
    thinktune eval --model default --task gsm8k --strategy self_consistency --n 8 --limit 10 --out runs/sc
    thinktune eval --model http://127.0.0.1:8000/v1 --task rg:basic_arithmetic --strategy adaptive
    thinktune eval --model runs/sft --task jsonl:my.jsonl --strategy best_of_n --set scorer=format
    thinktune eval --list-strategies

Rerunning the same command with the same `--out` resumes an interrupted run.
"""

from __future__ import annotations

from typing import Any


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model with an inference strategy (accuracy, tokens, latency)")
    p.add_argument("--model", default="default", help="model spec (default, tiny, folder, .gguf, Hub id, or a server URL)")
    p.add_argument("--task", help="arithmetic, countdown, gsm8k, rg:<name> or jsonl:<path>")
    p.add_argument("--strategy", default="greedy", help="greedy, cot, self_consistency, adaptive, best_of_n, ...; NAME@N sets N samples "
                   "(maj@8); --list-strategies shows all with their options")
    p.add_argument("--limit", type=int, help="evaluate only the first N questions")
    p.add_argument("--split", default="test", help="task split (default: test)")
    p.add_argument("--n", type=int, default=1, help="samples per question for sampling strategies")
    p.add_argument("--max-new-tokens", type=int, default=256, help="token cap per completion")
    p.add_argument("--direct", action="store_true", help="prompt for the answer only (no <think>)")
    p.add_argument("--engine", choices=("hf", "openai", "vllm", "llamacpp"), help="backend (default: from --model)")
    p.add_argument("--batch-size", type=int, default=8, help="questions per strategy call")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="transformers engine weights (bfloat16 is ~1.8x faster on CPUs with AMX)")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is much faster on a busy shared machine)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed; for generated tasks (arithmetic, countdown, rg:) it also picks "
                   "the questions, so compare runs with one seed")
    p.add_argument("--out", help="output folder (samples.jsonl, metrics.json, report.md/html); a rerun resumes "
                   "(default: runs/eval/MODEL__TASK__STRATEGY)")
    p.add_argument("--label", help="the run's name in reports")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="a strategy option, e.g. --set scorer=format --set rule=esc")
    p.add_argument("--task-option", dest="task_options", action="append", default=[], metavar="KEY=VALUE",
                   help="a task option, e.g. --task-option ops=2")
    p.add_argument("--list-strategies", action="store_true", help="list strategies and their options, then exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def parse_options(pairs: list[str], what: str) -> dict[str, Any]:
    """`key=value` strings → a dict, values read as YAML scalars (`8` → 8, `true` → True, `x` → 'x')."""
    import yaml

    from thinktune.cli import UserError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{what} {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def default_out(model: str, task: str, strategy: str, direct: bool) -> str:
    """`runs/eval/MODEL__TASK__STRATEGY[__direct]`, each part reduced to file-name-safe characters.

    >>> default_out("runs/sft/final", "jsonl:data/my.jsonl", "maj@8", False)
    'runs/eval/runs_sft_final__jsonl_data_my.jsonl__maj@8'
    """
    import re

    parts = [model.rstrip("/"), task, strategy] + (["direct"] if direct else [])
    return "runs/eval/" + "__".join(re.sub(r"[^A-Za-z0-9@._-]+", "_", p).strip("_") for p in parts)


def main(args) -> int:
    from thinktune.cli import UserError

    if args.list_strategies:
        from thinktune.inference.strategies import STRATEGIES, strategy_options

        for name in STRATEGIES:
            print(name)
            for key, default, help_text in strategy_options(name):
                print(f"    {key:22} {default!s:14} {help_text}")
        return 0
    if not args.task:
        raise UserError("--task is required (arithmetic, countdown, gsm8k, rg:<name> or jsonl:<path>)")
    from thinktune.evaluation import evaluate
    from thinktune.evaluation.report import table_rows
    from thinktune.tasks import load_task

    options = parse_options(args.options, "--set")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        examples = load_task(args.task, split=args.split, n=args.limit, seed=args.seed,
                             **parse_options(args.task_options, "--task-option"))
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.limit is not None:
        examples = examples[: args.limit]
    if not examples:
        raise UserError(f"task {args.task!r} gave no questions")
    out = args.out or default_out(args.model, args.task, args.strategy, args.direct)
    try:
        result = evaluate(args.model, examples, args.strategy, dtype=args.dtype, reasoning=not args.direct,
                          max_new_tokens=args.max_new_tokens, n=args.n, out_dir=out, engine=args.engine,
                          seed=args.seed, batch_size=args.batch_size, progress=not args.no_progress,
                          label=args.label or f"{args.model}/{args.strategy}", **options)
    except (ValueError, ImportError) as e:
        raise UserError(str(e)) from None
    header, rows = table_rows([result.to_run()])
    for name, value in zip(header, rows[0], strict=True):
        print(f"{name:16} {value}")
    if result.out_dir is not None:
        print(f"\nsamples: {result.out_dir / 'samples.jsonl'}\nreport:  {result.out_dir / 'report.html'}")
    return 0
