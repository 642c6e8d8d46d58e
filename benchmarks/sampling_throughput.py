"""Sampling throughput: thinktune's default engine against plain `model.generate`, same prompts, same run.

    python benchmarks/sampling_throughput.py                       # default model, all workloads
    python benchmarks/sampling_throughput.py --max-new-tokens 128 --seeds 2 --workloads n8,n16
    python benchmarks/sampling_throughput.py --dtype bfloat16 --out benchmarks/results/sampling_throughput_bf16.json

Workloads (reasoning prompts from the arithmetic task and GSM8K; sampling at temperature 0.8, full vocabulary,
stopping at `</answer>` or end of sequence, so outputs have mixed lengths):
    b1      one prompt, one sample (batch 1)
    n8      one prompt, 8 samples          (the self-consistency / best-of-N workload)
    n16     one prompt, 16 samples
    mixed   4 prompts of different lengths, 4 samples each (left padding)

Both sides get the same prompts, seeds, stop string and token cap; the two run alternately so a shared
machine's load falls on both. Throughput is *useful* tokens per second: tokens up to and including the one
that ends a sample (EOS or the stop string), over wall time. Outputs are sampled, so the two sides draw
different samples of different lengths; several seeds (`--seeds`) average that out.

`--dtype bfloat16` runs both sides in bfloat16 (fast on CPUs with AMX, such as this one; the numerics are
bfloat16's, not the float32 model's). Where the time goes is reported four ways: the engine's own timers (prefill, decode, sampling, stop
checks, cache compaction); row-steps (rows × decoding steps actually computed: `generate` keeps
computing a finished row until the last one stops); micro-measurements of the parts (prefill of 1 vs N
prompt copies, multinomial vs inverse-CDF sampling, a decode step on DynamicCache vs the buffer cache);
and an ablation of the engine with finished rows kept in the batch (`--ablate`). llama.cpp is measured when `llama-cpp-python` is installed.
Writes benchmarks/results/sampling_throughput.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def prompts_for(workload: str) -> tuple[list[list[dict]], int]:
    """(chat prompts, samples per prompt) for a workload."""
    from thinktune.format import build_messages
    from thinktune.tasks import load_task

    arith = load_task("arithmetic", n=4, seed=1)
    try:
        gsm = load_task("gsm8k", n=4)
    except (FileNotFoundError, ValueError):  # no local GSM8K copy: longer arithmetic questions instead
        gsm = load_task("arithmetic", n=4, seed=2, ops=5)
    one = [build_messages(gsm[0].question, True)]
    if workload == "b1":
        return one, 1
    if workload == "n8":
        return one, 8
    if workload == "n16":
        return one, 16
    if workload == "mixed":
        qs = [arith[0].question, gsm[1].question, arith[1].question, gsm[2].question]
        return [build_messages(q, True) for q in qs], 4
    raise SystemExit(f"unknown workload {workload!r}")


def useful_tokens(tok, row, eos_ids, stop: str) -> int:
    """Tokens up to and including the one that ends the sample (EOS, or the token completing `stop`)."""
    ids = []
    for t in row:
        if t in eos_ids:
            return len(ids) + 1
        ids.append(t)
        if stop in tok.decode(ids[-12:], skip_special_tokens=True):
            return len(ids)
    return len(ids)


def run_plain(model, tok, chats, n, args, seed) -> dict:
    """`model.generate` with num_return_sequences=n on left-padded prompts."""
    import torch

    from thinktune.format import render_prompt

    texts = [render_prompt(tok, c) for c in chats]
    tok.padding_side = "left"
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**enc, do_sample=True, temperature=args.temperature, top_k=0, top_p=1.0,
                             num_return_sequences=n, max_new_tokens=args.max_new_tokens, stop_strings=["</answer>"],
                             tokenizer=tok, pad_token_id=tok.pad_token_id)
    wall = time.perf_counter() - t0
    new = out[:, enc["input_ids"].shape[1]:]
    eos = {tok.eos_token_id}
    lengths = [useful_tokens(tok, row.tolist(), eos, "</answer>") for row in new]
    return {"wall_s": wall, "tokens": sum(lengths), "lengths": lengths, "steps": new.shape[1],
            "row_steps": new.shape[0] * new.shape[1]}


def run_engine(engine, chats, n, args, seed) -> dict:
    from thinktune.inference import SamplingParams

    engine._prefixes.clear()  # no help from earlier calls
    params = SamplingParams(n=n, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                            stop=("</answer>",), seed=seed)
    t0 = time.perf_counter()
    out = engine.generate(chats, params)
    wall = time.perf_counter() - t0
    # The engine's count excludes the EOS token; count it like the plain side does.
    lengths = [c.tokens + (c.finish_reason == "eos") for row in out for c in row]
    stats = {k: round(v, 3) for k, v in engine.stats.items()}
    return {"wall_s": wall, "tokens": sum(lengths), "lengths": lengths, "steps": stats.get("steps"),
            "row_steps": stats.get("row_steps"), "breakdown": stats}


def run_llamacpp(chats, n, args, seed) -> dict | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    from thinktune.inference import SamplingParams
    from thinktune.inference.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine("default", n_threads=os.cpu_count())
    params = SamplingParams(n=n, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                            stop=("</answer>",), seed=seed)
    t0 = time.perf_counter()
    out = engine.generate(chats, params)
    wall = time.perf_counter() - t0
    lengths = [c.tokens for row in out for c in row]
    return {"wall_s": wall, "tokens": sum(lengths), "lengths": lengths}


def prefill_cost(model, tok, chats, n) -> dict:
    """Seconds to encode the prompt once versus n copies (what `num_return_sequences` does)."""
    import torch

    from thinktune.format import render_prompt

    ids = tok(render_prompt(tok, chats[0]), return_tensors="pt", add_special_tokens=False).input_ids
    out = {}
    with torch.inference_mode():
        for rows in (1, n):
            t0 = time.perf_counter()
            model(input_ids=ids.repeat(rows, 1), use_cache=True, logits_to_keep=1)
            out[f"prefill_{rows}x_s"] = round(time.perf_counter() - t0, 3)
    out["prompt_tokens"] = ids.shape[1]
    return out


def sampling_cost(n: int, vocab: int) -> dict:
    """Seconds per step to draw one token per row: torch.multinomial vs inverse-CDF (one uniform per row)."""
    import torch

    logits = torch.randn(n, vocab)
    probs = torch.softmax(logits / 0.8, -1)
    t0 = time.perf_counter()
    for _ in range(20):
        torch.multinomial(probs, 1)
    multi = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    for _ in range(20):
        cdf = probs.cumsum(-1)
        torch.searchsorted(cdf, torch.rand(n, 1) * cdf[:, -1:])
    inv = (time.perf_counter() - t0) / 20
    return {"multinomial_ms": round(multi * 1000, 3), "inverse_cdf_ms": round(inv * 1000, 3)}


def cache_cost(model, rows: int, context: int) -> dict:
    """ms per decode step at `context` cached tokens: transformers' DynamicCache (grows by torch.cat, so
    every step copies the whole cache) against the engine's preallocated buffer cache."""
    import torch
    from transformers import DynamicCache

    from thinktune.inference.engines import hf

    ids = torch.randint(100, 1000, (1, context))
    step = torch.randint(100, 1000, (rows, 1))
    out = {"rows": rows, "context": context}
    with torch.inference_mode():
        base = hf._empty_cache()
        model(input_ids=ids, past_key_values=base, use_cache=True, logits_to_keep=1)
        kv = [(layer.keys.clone(), layer.values.clone()) for layer in base.layers]
        for name in ("dynamic_cache_ms", "buffer_cache_ms"):
            if name == "dynamic_cache_ms":
                cache = DynamicCache()
                for i, (k, v) in enumerate(kv):
                    cache.update(k.expand(rows, -1, -1, -1).contiguous(), v.expand(rows, -1, -1, -1).contiguous(), i)
            else:
                cache = hf._cache_from_kv([kv], [0] * rows, capacity=context + 16)
            model(input_ids=step, past_key_values=cache, use_cache=True)  # warm-up
            t0 = time.perf_counter()
            for _ in range(5):
                model(input_ids=step, past_key_values=cache, use_cache=True)
            out[name] = round((time.perf_counter() - t0) / 5 * 1000, 1)
    return out


def summarise(runs: list[dict]) -> dict:
    tokens, wall = sum(r["tokens"] for r in runs), sum(r["wall_s"] for r in runs)
    return {"tokens": tokens, "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 2),
            "row_steps": sum(r.get("row_steps") or 0 for r in runs),
            "mean_length": round(statistics.mean(x for r in runs for x in r["lengths"]), 1),
            "max_length": max(x for r in runs for x in r["lengths"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--workloads", default="b1,n8,n16,mixed")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--seeds", type=int, default=1, help="runs per workload and side (different seeds)")
    ap.add_argument("--ablate", action="store_true", help="also run the engine with finished rows kept (n16)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--dtype", default="float32", help="weights dtype for both sides (float32, bfloat16)")
    ap.add_argument("--note", default="", help="free text stored in the JSON (e.g. machine load)")
    ap.add_argument("--out", default=str(RESULTS / "sampling_throughput.json"))
    args = ap.parse_args(argv)

    import torch

    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok = load_model(args.model, dtype=args.dtype)
    engine = HFEngine(model, tok)
    kept = HFEngine(model, tok, drop_finished=False)
    load_before = os.getloadavg()
    results: dict = {"workloads": {}}
    print(f"{'workload':8} {'side':22} {'tokens':>7} {'wall s':>8} {'tok/s':>7} {'row-steps':>9} {'mean len':>8}")
    for w in args.workloads.split(","):
        chats, n = prompts_for(w)
        plain, ours, ablated, llama = [], [], [], []
        for seed in range(args.seeds):
            plain.append(run_plain(model, tok, chats, n, args, seed))
            ours.append(run_engine(engine, chats, n, args, seed))
            if args.ablate and w == "n16":
                ablated.append(run_engine(kept, chats, n, args, seed))
            lc = run_llamacpp(chats, n, args, seed)
            if lc:
                llama.append(lc)
        entry = {"prompts": len(chats), "samples_per_prompt": n, "plain_generate": summarise(plain),
                 "engine": summarise(ours), "engine_breakdown": [r["breakdown"] for r in ours]}
        if ablated:
            entry["engine_keep_finished_rows"] = summarise(ablated)
        if llama:
            entry["llamacpp"] = summarise(llama)
        entry["speedup"] = round(entry["engine"]["tokens_per_s"] / entry["plain_generate"]["tokens_per_s"], 2)
        if n > 1:
            entry["prefill"] = prefill_cost(model, tok, chats, n)
            entry["sampling_step"] = sampling_cost(n * len(chats), model.config.vocab_size)
        if w == "n16":
            entry["cache_step"] = cache_cost(model, 16, 300)
        results["workloads"][w] = entry
        for side in ("plain_generate", "engine", "engine_keep_finished_rows", "llamacpp"):
            if side in entry:
                s = entry[side]
                print(f"{w:8} {side:22} {s['tokens']:7d} {s['wall_s']:8.1f} {s['tokens_per_s']:7.1f} "
                      f"{s['row_steps']:9d} {s['mean_length']:8.1f}", flush=True)
        print(f"{w:8} speed-up {entry['speedup']:.2f}x   engine breakdown: {entry['engine_breakdown'][0]}", flush=True)

    results["config"] = {k: v for k, v in vars(args).items() if k != "out"}
    results["machine"] = {
        "platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "shared": "2-core machine shared with other helpers' jobs (tests, training); loadavg shows how busy",
        "llamacpp_installed": importlib.util.find_spec("llama_cpp") is not None,
    }
    results["note"] = args.note
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
