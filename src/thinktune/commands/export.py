"""`thinktune export RUN_FOLDER --out DIR [--merge]`: copy a trained model out of a run, merging LoRA.

    thinktune export runs/quickstart --merge --out models/quickstart   # a plain model folder, no PEFT needed

Without `--merge`, the final folder (an adapter or a full model) is copied as it is.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="export a run's model (merging a LoRA adapter into its base)")
    p.add_argument("run", help="a run folder (uses its final/) or a model/adapter folder")
    p.add_argument("--out", required=True, help="the folder to write")
    p.add_argument("--merge", action="store_true", help="merge a LoRA adapter into its base model")
    p.set_defaults(func=main)


def main(args) -> int:
    import shutil
    from pathlib import Path

    from thinktune.errors import UserError
    from thinktune.runs import final_folder, merge_adapter

    src, out = final_folder(args.run), Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a folder to export into")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out}: already exists and is not empty; choose another folder or remove it")
    if args.merge:
        merge_adapter(src, out)
    else:
        shutil.copytree(src, out, dirs_exist_ok=True)
    print(f"exported {src} -> {out}")
    return 0
