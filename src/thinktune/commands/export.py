"""`thinktune export RUN --out DIR [--merge] [--gguf TYPE ...] [--ollama] [--card]`: export a trained model.

    thinktune export runs/quickstart --merge --out models/quickstart   # a plain model folder, no PEFT needed
    thinktune export runs/quickstart --gguf q8_0 --ollama --card --out models/quickstart-ollama
    ollama create quickstart -f models/quickstart-ollama/Modelfile

Without `--gguf`/`--ollama` the final folder (an adapter or a full model) is copied as it is, or merged
with `--merge`. `--gguf f16` / `--gguf q8_0` (repeatable) write `model-TYPE.gguf` (LoRA adapters are
merged first) instead of the folder (`--hf` writes it too, as `hf/`); `--ollama` adds a `Modelfile` (with an
f16 GGUF unless `--gguf` names a type); `--card` adds a model card `README.md`. See `thinktune.export`.
"""

from __future__ import annotations


def register(sub) -> None:
    from thinktune.export import CONVERTERS, GGUF_TYPES, JOBS

    p = sub.add_parser("export", help="export a run's model: a folder (LoRA merged), GGUF, an Ollama Modelfile")
    p.add_argument("run", help="a run folder (uses its final/) or a model/adapter folder")
    p.add_argument("--out", required=True, help="the folder to write (must not exist, or be empty)")
    p.add_argument("--merge", action="store_true", help="merge a LoRA adapter into its base model")
    p.add_argument("--gguf", action="append", choices=GGUF_TYPES, metavar="TYPE", default=[],
                   help=f"write model-TYPE.gguf, TYPE one of {', '.join(GGUF_TYPES)} (repeat for several)")
    p.add_argument("--ollama", action="store_true",
                   help="write an Ollama Modelfile (chat template, thinking, stop tokens, system prompt)")
    p.add_argument("--card", action="store_true", help="write a model card README.md (job, base, data, metrics)")
    p.add_argument("--hf", action="store_true",
                   help="with --gguf/--ollama, also write the transformers folder (as hf/)")
    p.add_argument("--job", choices=JOBS, help="the job type, for a model folder that does not record one")
    p.add_argument("--converter", choices=CONVERTERS, default="thinktune",
                   help="GGUF writer: thinktune's (default) or llama.cpp's convert_hf_to_gguf.py "
                        "(on PATH or $THINKTUNE_LLAMA_CPP_CONVERT)")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.export import export_model

    done = export_model(args.run, args.out, merge=args.merge, gguf=args.gguf, ollama=args.ollama, card=args.card,
                        hf=True if args.hf else None, job=args.job, converter=args.converter)
    print(f"exported {done.source} -> {done.folder}")
    for path in [*done.gguf.values(), done.modelfile, done.card]:
        if path is not None:
            print(f"  {path}")
    return 0
