"""`thinktune train RECIPE CONFIG.yaml [--set key=value ...]`: run a training recipe.

Each recipe module `thinktune.recipes.<name>` exposes `CONFIG_CLASS` (its typed config) and
`run(cfg) -> Path` (the run folder).
"""

from __future__ import annotations

import importlib

RECIPES = ("sft", "grpo")


def register(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a model (sft: reasoning or non-reasoning SFT; grpo: RL)")
    p.add_argument("recipe", choices=RECIPES, help="which recipe")
    p.add_argument("config", nargs="?", help="YAML config (defaults are used for keys it leaves out)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, dotted for sections (e.g. --set lora.r=8)")
    p.add_argument("--show-config", action="store_true",
                   help="print every config key with the value the run would use (CONFIG and --set applied) and exit")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.config import describe, load_config

    recipe = importlib.import_module(f"thinktune.recipes.{args.recipe}")
    given = args.config or args.overrides
    cfg = load_config(recipe.CONFIG_CLASS, args.config, args.overrides) if given or not args.show_config else None
    if args.show_config:  # the values this run would use: checked, with the file and --set applied
        for key, value, help_text in describe(recipe.CONFIG_CLASS, defaults=cfg):
            print(f"{key:32} {value:24} {help_text}")
        return 0
    out = recipe.run(cfg)
    print(f"run folder: {out}")
    return 0
