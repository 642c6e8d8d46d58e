"""`thinktune models [--job reasoning|non_reasoning]`: the model catalog."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("models", help="list the model catalog with context length and memory estimates")
    p.add_argument("--job", choices=("reasoning", "non_reasoning"), help="only models suited to this job")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.models.catalog import catalog_rows

    rows = catalog_rows(args.job)
    cols = ("model", "params", "context", "suits", "full_ft_gb", "lora_gb", "note")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(widths.get(c, 0)) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths.get(c, 0)) for c in cols))
    print("\nfull_ft_gb / lora_gb: rough GPU memory to fine-tune at batch 1, 2k tokens (see models/catalog.py)")
    return 0
