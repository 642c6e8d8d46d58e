"""Check `thinktune plan`'s memory estimates against the peak memory measured on this machine.

    nice -n 19 python benchmarks/plan_check.py              # measure and compare (three short training runs)
    python benchmarks/plan_check.py --from-json             # compare the stored measurements again (no training)

Each run is a subprocess of its own, so its peak resident memory (`ru_maxrss` from `wait4`, which sees
torch's allocations) is its own: an idle `import torch, transformers`, then the default model's SFT job (full
and LoRA r=16: batch 8, max_length 256, 2 steps on `builtin:arith_sample`, 24 rows, no validation, no
checkpoints) and its GRPO job (arithmetic task, 2 steps of 2 prompts x 4 generations, 64-token completions,
LoRA r=16), built and trained with the recipes' own `build_trainer` (the final save left out). Measured
memory = a run's peak RSS minus the idle import's. Each run records the micro-batch shapes it trained on
(padded row length for SFT; prompt and completion lengths for GRPO), and the estimate is made for those
shapes; the estimate for the nominal shapes (SFT rows padded to max_length) is shown beside it, as an upper
bound. `--from-json` recomputes the estimates from the stored measurements, to check a recalibration of
`thinktune.plan`'s constants without training again.

Speed is compared separately, against the quiet-machine benchmarks already stored
(`sft_throughput.json`, `grpo_arithmetic_from_sft.json`): the runs here are too short and run at the lowest
priority beside other jobs, so their seconds per step say nothing about the machine.

Writes `benchmarks/results/plan_check.json` and `.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
RUNS = ("idle", "sft_full", "sft_lora", "grpo")
SFT = dict(batch=8, max_length=256, steps=2, limit=24, lora_r=16)
GRPO = dict(prompts=2, generations=4, completion=64, steps=2, lora_r=16, train_size=16)


# ------------------------------------------------------------------------------------------- workers
def _spy_shapes(trainer, keys: tuple[str, ...]) -> list[dict]:
    """Record the shape of `keys` in every batch `compute_loss` sees (the micro-batches trained on)."""
    seen: list[dict] = []
    original = trainer.compute_loss

    def compute_loss(model, inputs, *args, **kwargs):
        seen.append({k: list(inputs[k].shape) for k in keys if k in inputs})
        return original(model, inputs, *args, **kwargs)

    trainer.compute_loss = compute_loss
    return seen


def job_config(run: str, model: str = "default", output_dir: str = "unused"):
    """The job config of a run: the same object trains the run and is planned for."""
    from thinktune.recipes.config import GRPOJobConfig, LoraSettings, SFTJobConfig

    if run.startswith("sft"):
        return SFTJobConfig(
            job="reasoning", model=model, data="builtin:arith_sample", limit=SFT["limit"], val_fraction=0.0,
            lora=LoraSettings(enabled=run == "sft_lora", r=SFT["lora_r"], alpha=2 * SFT["lora_r"]),
            max_steps=SFT["steps"], batch_size=SFT["batch"], learning_rate=1e-4, warmup_ratio=0.0,
            max_length=SFT["max_length"], output_dir=output_dir, save_steps=0,
        )
    return GRPOJobConfig(
        model=model, task="arithmetic", train_size=GRPO["train_size"], prompts_per_step=GRPO["prompts"],
        num_generations=GRPO["generations"], max_completion_length=GRPO["completion"],
        lora=LoraSettings(r=GRPO["lora_r"], alpha=2 * GRPO["lora_r"]), max_steps=GRPO["steps"],
        output_dir=output_dir, sample_completions=0,
    )


def worker(run: str, threads: int, model: str = "default") -> dict:
    """Do one run in this process; return what it trained on (the parent measures the memory)."""
    import torch
    import transformers  # noqa: F401 - the idle baseline imports both

    torch.set_num_threads(threads)
    if run == "idle":
        return {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"plan-check-{run}-") as tmp:
        cfg = job_config(run, model, tmp)
        if run.startswith("sft"):
            from thinktune.recipes.sft import build_trainer, load_split

            trainer = build_trainer(cfg, load_split(cfg))
            seen = _spy_shapes(trainer, ("input_ids",))
        else:
            from thinktune.recipes.grpo import build_trainer

            trainer, _ = build_trainer(cfg)
            seen = _spy_shapes(trainer, ("prompt_ids", "completion_ids"))
        trainer.train()
        steps = trainer.state.global_step
    return {"steps": steps, "batches": seen, "wall_s": round(time.perf_counter() - t0, 1),
            "torch_threads": torch.get_num_threads()}


def measure(run: str, threads: int, timeout: float, model: str = "default") -> dict:
    """Run `worker(run)` in a subprocess; its result plus its peak RSS (MiB) from the kernel."""
    out = tempfile.NamedTemporaryFile(prefix=f"plan-check-{run}-", suffix=".out", delete=False)
    proc = subprocess.Popen([sys.executable, __file__, "--worker", run, "--threads", str(threads), "--model", model],
                            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = Path(out.name).read_text(errors="replace")
    os.unlink(out.name)
    found = [line for line in text.splitlines() if line.startswith("RESULT ")]
    result = json.loads(found[-1][len("RESULT "):]) if found and proc.returncode == 0 else {}
    if not found or proc.returncode:
        result["error"] = f"exit {proc.returncode}" + (" (timed out)" if proc.returncode == -9 else "")
        sys.stderr.write(text[-2000:])
    return {"run": run, "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), **result}


# ----------------------------------------------------------------------------------------- estimates
def estimates(row: dict) -> dict:
    """The plan's estimates for a measured run: at the shapes it trained on, and at the nominal ones."""
    from thinktune.plan import GIB, Machine, estimate, method_from_job

    machine = Machine(cpu_cores=2)
    batches = row.get("batches") or []
    cfg = job_config(row["run"])
    if row["run"].startswith("sft"):
        seq = max(b["input_ids"][1] for b in batches)
        actual, nominal = method_from_job(cfg, seq), method_from_job(cfg, cfg.max_length)
        shape = f"{cfg.batch_size} x {seq} tokens (padded; max_length {cfg.max_length})"
    else:
        prompt = max(b["prompt_ids"][1] for b in batches)
        completion = max(b["completion_ids"][1] for b in batches)
        actual, nominal = method_from_job(cfg, prompt, completion_len=completion), method_from_job(cfg, prompt)
        shape = (f"{cfg.prompts_per_step} x {cfg.num_generations} rows x ({prompt} prompt + {completion} completion) "
                 f"tokens (budget {cfg.max_completion_length})")
    at = estimate("default", actual, machine, steps=1)
    bound = estimate("default", nominal, machine, steps=1)
    return {"shape": shape, "estimate": at.memory.gib(), "estimate_total_gib": round(at.memory.total / GIB, 3),
            "nominal_total_gib": round(bound.memory.total / GIB, 3), "method": at.to_dict()["method"]}


def speed_checks(prompt_len: int) -> list[dict]:
    """Estimated speed against the quiet-machine benchmarks stored in benchmarks/results.

    GRPO is estimated twice: at the completion budget (what a plan is given: an upper bound, since `generate`
    stops when every row has ended and training pads to the longest completion) and at the recorded mean
    completion length. `prompt_len` is the arithmetic prompt's length measured in this check.
    """
    from thinktune.plan import Machine, Method, estimate

    rows, machine = [], Machine(cpu_cores=2)
    sft = RESULTS / "sft_throughput.json"
    if sft.is_file():
        data = json.loads(sft.read_text())
        for r in data["results"]:
            seq = round(r["tokens"] / (r["steps"] * r["batch_size"]))  # mean non-padding tokens per row
            e = estimate("default", Method(f"sft_{r['variant']}", batch=r["batch_size"], seq_len=seq,
                                           lora_rank=data["lora_r"]), machine)
            rows.append({"what": f"SFT {r['variant']}, batch {r['batch_size']} x ~{seq} tokens: tokens/s",
                         "recorded": r["tokens_per_s_steady"], "estimated": round(e.tokens_per_s, 1),
                         "source": "sft_throughput.json (steady tokens/s)"})
    grpo = RESULTS / "grpo_arithmetic_from_sft.json"
    if grpo.is_file():
        data = json.loads(grpo.read_text())
        c = data["config"]
        mean = round(sum(s["completion_length_mean"] for s in data["steps"]) / len(data["steps"]))
        for completion, how in ((c["max_completion_length"], "budget"), (mean, "mean completion")):
            e = estimate("default", Method("grpo", batch=c["prompts_per_step"], num_generations=c["num_generations"],
                                           seq_len=prompt_len, completion_len=completion, lora_rank=c["lora_r"]),
                         machine)
            rows.append({"what": f"GRPO {c['prompts_per_step']} x {c['num_generations']} rows, {prompt_len} + "
                                 f"{completion} tokens ({how}), LoRA: s/step",
                         "recorded": data["s_per_step"], "estimated": round(e.step_s, 1),
                         "source": "grpo_arithmetic_from_sft.json"})
    for r in rows:
        r["ratio"] = round(r["estimated"] / r["recorded"], 2)
    return rows


def compare(measured: list[dict]) -> list[dict]:
    idle = next(r for r in measured if r["run"] == "idle")["peak_rss_mib"]
    table = []
    for row in measured:
        if row["run"] == "idle" or "error" in row:
            continue
        used = (row["peak_rss_mib"] - idle) / 1024
        est = estimates(row)
        table.append({"run": row["run"], "shape": est["shape"], "measured_gib": round(used, 3),
                      "estimated_gib": est["estimate_total_gib"], "ratio": round(est["estimate_total_gib"] / used, 2),
                      "nominal_gib": est["nominal_total_gib"], "nominal_ratio": round(est["nominal_total_gib"] / used, 2),
                      "breakdown_gib": est["estimate"]})
    return table


def render(result: dict) -> str:
    lines = ["# `thinktune plan` against measured peak memory (default model, CPU)", "",
             "    nice -n 19 python benchmarks/plan_check.py", "",
             f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} cores; "
             f"{result['machine']['note']}; the four runs took {result['machine']['wall_s']:.0f} s "
             f"({result['time']}). Measured = a run's peak RSS minus an idle `import torch, transformers` "
             f"({result['idle_rss_mib']:.0f} MiB). Estimated = `thinktune.plan.estimate` for the micro-batch shapes the "
             "run trained on; nominal = for SFT rows padded to max_length (256), GRPO completions at their budget "
             "(an upper bound).", "",
             "| run | micro-batch | measured GiB | estimated GiB | estimated / measured | nominal GiB | nominal / measured |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["comparison"]:
        lines.append(f"| {r['run']} | {r['shape']} | {r['measured_gib']:.2f} | {r['estimated_gib']:.2f} | "
                     f"**{r['ratio']:.2f}** | {r['nominal_gib']:.2f} | {r['nominal_ratio']:.2f} |")
    lines += ["", "Estimated breakdown (GiB):", "",
              "| run | weights | gradients | optimizer | activations | rollout | overhead | total |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["comparison"]:
        b = r["breakdown_gib"]
        lines.append(f"| {r['run']} | " + " | ".join(f"{b[k]:.2f}" for k in
                     ("weights", "gradients", "optimizer", "activations", "rollout", "overhead", "total")) + " |")
    for r in result["measured"]:
        if "error" in r:
            lines.append(f"\n{r['run']}: not measured ({r['error']}).")
    if result.get("speed"):
        lines += ["", "Speed against the quiet-machine benchmarks already stored (2 threads):", "",
                  "| what | recorded | estimated | estimated / recorded | source |", "|---|---:|---:|---:|---|"]
        for r in result["speed"]:
            lines.append(f"| {r['what']} | {r['recorded']} | {r['estimated']} | {r['ratio']:.2f} | {r['source']} |")
    if result.get("calibration"):
        lines += ["", "## Calibration", "", result["calibration"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (1: gentle beside other jobs)")
    p.add_argument("--timeout", type=float, default=600, help="seconds before a run is stopped")
    p.add_argument("--from-json", action="store_true", help="compare the measurements stored in the JSON again")
    p.add_argument("--calibration", default=None, help="text for the Calibration section (kept when omitted)")
    p.add_argument("--note", default="", help="free text about the machine's state")
    p.add_argument("--out", type=Path, default=RESULTS / "plan_check.json")
    p.add_argument("--model", default="default", help=argparse.SUPPRESS)  # `tiny`: a smoke test of the script
    p.add_argument("--worker", choices=RUNS, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args.threads, args.model)), flush=True)
        return 0
    if args.from_json:
        result = json.loads(args.out.read_text())
    else:
        load_before, t0, measured = os.getloadavg(), time.time(), []
        for run in RUNS:
            measured.append(measure(run, args.threads, args.timeout, args.model))
            print(f"{run}: peak {measured[-1]['peak_rss_mib']:.0f} MiB, {measured[-1].get('wall_s', '-')} s",
                  file=sys.stderr)
        result = {
            "benchmark": "plan_check", "sft": SFT, "grpo": GRPO, "measured": measured,
            "idle_rss_mib": measured[0]["peak_rss_mib"],
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "nice": os.nice(0),
                        "threads": args.threads, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                        "wall_s": round(time.time() - t0, 1), "note": args.note},
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    result["comparison"] = compare(result["measured"])
    grpo = next((r for r in result["measured"] if r["run"] == "grpo" and r.get("batches")), None)
    result["speed"] = speed_checks(max(b["prompt_ids"][1] for b in grpo["batches"]) if grpo else 73)
    if args.calibration is not None:
        result["calibration"] = args.calibration
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
