"""`thinktune train RECIPE [CONFIG.yaml] [--set key=value ...] [--show-config]`: run a training job.

    thinktune train sft configs/sft_quickstart.yaml --set max_steps=20
    thinktune train grpo configs/grpo_countdown.yaml
    thinktune train sft --show-config

Each recipe is a job kind (`thinktune.jobs`); rerunning the same command resumes from the last checkpoint.
"""

from __future__ import annotations

from thinktune.commands._job import add_config_arguments, job_config, run_from_cli

RECIPES = ("sft", "grpo")


def register(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a model (sft: reasoning or non-reasoning SFT; grpo: RL)")
    p.add_argument("recipe", choices=RECIPES, help="which recipe")
    add_config_arguments(p)
    p.set_defaults(func=main)


def main(args) -> int:
    cfg = job_config(args.recipe, args)
    if cfg is None:
        return 0
    code, run = run_from_cli(args.recipe, cfg)
    print(f"run folder: {run.folder}")
    return code
