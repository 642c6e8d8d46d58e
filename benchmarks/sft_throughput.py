"""SFT throughput: tokens/s and peak memory of LoRA vs full fine-tuning on the default model.

    python benchmarks/sft_throughput.py                  # 5 steps per variant, batch 8, both variants
    python benchmarks/sft_throughput.py --steps 3 --batch-size 4 --variants lora

Each variant runs in its own subprocess (the same SFT recipe code as `thinktune train sft`, minus the final
save), so its peak resident memory (`getrusage` maxrss, which sees torch's allocations, unlike tracemalloc)
is its own. Tokens are non-padding input tokens (prompt + target) counted by the trainer. "steady tokens/s"
leaves out the first step (allocator warm-up, lazy init); "overall" divides all tokens by the wall time of
`trainer.train()`.

Writes a table to stdout and `benchmarks/results/sft_throughput.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sft_throughput.json"
VARIANTS = {  # name -> (lora enabled, learning rate)
    "lora": (True, 1e-3),
    "full": (False, 1e-4),
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def worker(variant: str, args: argparse.Namespace) -> dict:
    """Train `args.steps` steps of one variant in this process and measure it."""
    from thinktune.recipes.config import LoraSettings
    from thinktune.recipes.sft import SFTJobConfig, build_trainer, load_split
    from thinktune.training import count_parameters

    lora, lr = VARIANTS[variant]
    with tempfile.TemporaryDirectory(prefix=f"sft-bench-{variant}-") as tmp:
        cfg = SFTJobConfig(
            job="reasoning", model=args.model, data=args.data, limit=args.limit, val_fraction=0.0,
            lora=LoraSettings(enabled=lora, r=args.lora_r, alpha=2 * args.lora_r), max_steps=args.steps,
            batch_size=args.batch_size, learning_rate=lr, warmup_ratio=0.0, max_length=args.max_length,
            output_dir=tmp, save_steps=0, logging_steps=1,
        )
        trainer = build_trainer(cfg, load_split(cfg))
        rss_loaded = _maxrss_mb()
        t0 = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - t0
        trainable, total = count_parameters(trainer.model)
        steps = [r for r in trainer.state.log_history if "loss" in r]
    tokens = trainer.state.num_input_tokens_seen
    # Steady state: tokens and time between the first and the last step's log.
    steady = None
    if len(steps) >= 2:
        first, last = steps[0], steps[-1]
        dt = last["train_runtime"] - first["train_runtime"]
        steady = (last["num_input_tokens_seen"] - first["num_input_tokens_seen"]) / dt if dt > 0 else None
    return {
        "variant": variant, "steps": len(steps), "batch_size": args.batch_size, "learning_rate": lr,
        "trainable_params": trainable, "total_params": total,
        "tokens": tokens, "train_wall_s": round(wall, 2), "s_per_step": round(wall / max(1, len(steps)), 2),
        "tokens_per_s_overall": round(tokens / wall, 1),
        "tokens_per_s_steady": round(steady, 1) if steady else None,
        "rss_after_load_mb": round(rss_loaded), "peak_rss_mb": round(_maxrss_mb()),
        "first_loss": steps[0]["loss"] if steps else None, "last_loss": steps[-1]["loss"] if steps else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="optimizer steps per variant (default 5)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--variants", default="lora,full", help="comma-separated: lora, full")
    p.add_argument("--model", default="default", help="model spec (default: the embedded SmolLM2-135M)")
    p.add_argument("--data", default="builtin:arith_sample")
    p.add_argument("--limit", type=int, default=64, help="rows to read (enough for steps × batch)")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--note", default="", help="free text stored in the JSON (e.g. that the machine was shared)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args)), flush=True)
        return 0

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    rows, load_before = [], os.getloadavg()
    for variant in variants:
        cmd = [sys.executable, __file__, "--worker", variant, *sys.argv[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not found:
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"variant {variant} failed (exit {proc.returncode})")
        rows.append(json.loads(found[-1][len("RESULT "):]))
        print(f"{variant}: done in {rows[-1]['train_wall_s']} s", file=sys.stderr)

    cols = ("variant", "trainable_params", "s_per_step", "tokens_per_s_steady", "tokens_per_s_overall",
            "peak_rss_mb", "rss_after_load_mb", "first_loss", "last_loss")
    print("  ".join(f"{c:>20}" for c in cols))
    for r in rows:
        print("  ".join(f"{(f'{r[c]:.3g}' if isinstance(r[c], float) and c.endswith('loss') else r[c])!s:>20}"
                        for c in cols))

    import torch

    result = {
        "benchmark": "sft_throughput", "model": args.model, "data": args.data, "steps": args.steps,
        "batch_size": args.batch_size, "max_length": args.max_length, "lora_r": args.lora_r,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "note": args.note, "results": rows, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
