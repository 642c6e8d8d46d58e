"""Load-test `thinktune serve`: throughput and latency at concurrency 1, 4, 16, 32 against sequential.

    python benchmarks/serve_load.py                       # the default model, 32 requests per level
    python benchmarks/serve_load.py --model runs/compare/variants/reasoning --requests 48

Starts the server in this process on loopback (the same app `thinktune serve` runs), sends the same
requests (arithmetic questions, greedy, `max_tokens` fixed, so every level asks for the same work) one at a
time and then with C clients at once through the official `openai` client, and reports requests/s, output
tokens/s and p50/p95 latency per level, with each level's throughput as a multiple of the sequential one.
Prints a table and writes `benchmarks/results/serve_load.json` and `.md`. The target (issue 11): at
concurrency 16, at least 4x the sequential throughput.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="model spec to serve")
    p.add_argument("--requests", type=int, default=32, help="requests per level")
    p.add_argument("--max-tokens", type=int, default=48, help="max_tokens of every request")
    p.add_argument("--levels", default="1,4,16,32", help="concurrency levels")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default=str(RESULTS), help="results folder")
    args = p.parse_args(argv)

    import openai
    import torch

    from thinktune.serve import ServerSettings, ServerThread, create_app, load_served
    from thinktune.tasks import load_task

    if args.threads:
        torch.set_num_threads(args.threads)
    models = load_served([f"m={args.model}"], max_batch_rows=64, max_waiting=256)
    app = create_app(models, ServerSettings(traces=False, max_tokens=4096))
    server = ServerThread(app)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=3600)
    questions = [ex.question for ex in load_task("arithmetic", split="test", n=args.requests, seed=0, ops=2)]

    def ask(question: str) -> tuple[float, int]:
        t0 = time.perf_counter()
        r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": question}],
                                           max_tokens=args.max_tokens, temperature=0)
        return time.perf_counter() - t0, r.usage.completion_tokens

    ask(questions[0])  # warm-up: first-call allocations are not part of any level
    rows = []
    levels = [("sequential", 1)] + [(f"concurrency {c}", c) for c in map(int, args.levels.split(","))]
    for name, concurrency in levels:
        t0 = time.perf_counter()
        if name == "sequential":
            results = [ask(q) for q in questions]
        else:
            with cf.ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(ask, questions))
        wall = time.perf_counter() - t0
        latencies = sorted(r[0] for r in results)
        tokens = sum(r[1] for r in results)
        rows.append({"level": name, "concurrency": concurrency, "requests": len(results), "wall_s": round(wall, 2),
                     "requests_per_s": round(len(results) / wall, 3), "output_tokens": tokens,
                     "output_tokens_per_s": round(tokens / wall, 2),
                     "p50_latency_s": round(statistics.median(latencies), 2),
                     "p95_latency_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2)})
        print(f"{name:16} {rows[-1]['requests_per_s']:7.3f} req/s  {rows[-1]['output_tokens_per_s']:8.1f} tok/s  "
              f"p50 {rows[-1]['p50_latency_s']:6.2f} s  p95 {rows[-1]['p95_latency_s']:6.2f} s", flush=True)
    server.stop()

    base = rows[0]["output_tokens_per_s"]
    for r in rows:
        r["throughput_vs_sequential"] = round(r["output_tokens_per_s"] / base, 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"model": args.model, "requests_per_level": args.requests, "max_tokens": args.max_tokens,
            "machine": f"{os.cpu_count()} CPUs, {platform.machine()}", "torch_threads": torch.get_num_threads(),
            "load_before": os.getloadavg()}
    (out / "serve_load.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["# `thinktune serve` under load", "", f"`python benchmarks/serve_load.py --model {args.model} "
             f"--requests {args.requests} --max-tokens {args.max_tokens}`; {meta['machine']}, torch threads "
             f"{meta['torch_threads']}. Greedy arithmetic questions, the same requests at every level.", "",
             "| level | req/s | output tok/s | × sequential | p50 s | p95 s |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['level']} | {r['requests_per_s']} | {r['output_tokens_per_s']} | {r['throughput_vs_sequential']} | "
              f"{r['p50_latency_s']} | {r['p95_latency_s']} |" for r in rows]
    (out / "serve_load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
