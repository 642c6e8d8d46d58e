"""`thinktune plan`: memory per device, tokens/s, wall time and the launch command of a training job.

    thinktune plan --model default --method sft_lora --batch 8 --seq 256            # this machine's CPU
    thinktune plan --model Qwen/Qwen2.5-7B-Instruct --method sft_full --batch 4 --seq 2048 \\
        --gpus 8 --gpu-memory 80 --gpu-kind H100 --gradient-checkpointing --json
    thinktune plan --model Qwen/Qwen2.5-3B-Instruct --method grpo --batch 4 --generations 8 --seq 256 \\
        --completion 1024 --gpus 4 --gpu-kind H100 --vllm server

The estimate is `thinktune.plan.estimate`; its module docstring lists every formula and constant.
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("plan", help="estimate memory per device, tokens/s, wall time and the launch command of a job")
    p.add_argument("--model", default="default", help="catalog id, default, tiny, a folder, a .gguf or a Hub id")
    p.add_argument("--method", default="sft_lora", choices=("sft_full", "sft_lora", "grpo"))
    p.add_argument("--batch", type=int, default=8, help="SFT: rows per device per step; GRPO: prompts per device")
    p.add_argument("--seq", type=int, default=512,
                   help="SFT: tokens per row after padding (at most max_length); GRPO: prompt tokens")
    p.add_argument("--completion", type=int, default=256, help="GRPO: completion budget in tokens")
    p.add_argument("--generations", type=int, default=8, help="GRPO: completions per prompt (G)")
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank (sft_lora, grpo; 0 makes GRPO a full fine-tune)")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--dtype", default="auto", choices=("auto", "fp32", "mixed", "bf16"),
                   help="auto: fp32 on a CPU, mixed (bf16 autocast over float32 weights) on GPUs")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--parallel", default="auto", choices=("auto", "ddp", "zero2", "zero3", "fsdp"),
                   help="several GPUs: auto takes the first of ddp, zero2, zero3 that fits")
    p.add_argument("--vllm", default="none", choices=("none", "colocate", "server"), help="GRPO rollouts")
    p.add_argument("--beta", type=float, default=0.0, help="GRPO KL coefficient (a full fine-tune then keeps a reference)")
    p.add_argument("--gpus", type=int, default=0, help="GPUs per node (0: train on this machine's CPU)")
    p.add_argument("--gpu-memory", type=float, default=0.0, help="GiB per GPU (default: the --gpu-kind's)")
    p.add_argument("--gpu-kind", default="", help="H200, H100, A100, L40S, A10, L4, RTX4090, T4 (speed; default A100)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--cpu-cores", type=int, default=0, help="default: this machine's")
    p.add_argument("--ram", type=float, default=0.0, help="host GiB (default: this machine's)")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps, for the wall time")
    p.add_argument("--config", default="CONFIG.yaml", help="the job's YAML, named in the launch command")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.plan import GIB, Machine, Method, estimate

    here = Machine.here()
    machine = Machine(cpu_cores=args.cpu_cores or here.cpu_cores, gpus=args.gpus, gpu_memory_gib=args.gpu_memory,
                      gpu_kind=args.gpu_kind, nodes=args.nodes, ram_gib=args.ram or (0.0 if args.gpus else here.ram_gib))
    method = Method(kind=args.method, batch=args.batch, seq_len=args.seq, completion_len=args.completion,
                    num_generations=args.generations, lora_rank=args.lora_r, grad_accum=args.grad_accum,
                    dtype=args.dtype, gradient_checkpointing=args.gradient_checkpointing, parallel=args.parallel,
                    vllm=args.vllm, beta=args.beta)
    est = estimate(args.model, method, machine, steps=args.steps, config=args.config)
    if args.json:
        print(json.dumps(est.to_dict(), indent=2))
        return 0

    shape = est.model
    print(f"model    {shape.name}: {shape.params / 1e6:,.1f}M parameters, {shape.layers} layers, hidden "
          f"{shape.hidden}, vocab {shape.vocab} ({shape.source or 'config'})")
    print(f"method   {method.describe()}, {est.dtype}; trainable {est.trainable_params / 1e6:,.2f}M")
    where = machine.describe() + (f", {est.parallel}" if est.parallel != "none" else "")
    print(f"machine  {where}\n")
    gib = est.memory.gib()
    labels = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer states (AdamW)",
              "activations": "activations + loss tiles", "rollout": "rollout (KV cache / vLLM)",
              "overhead": "overhead"}
    print("memory per device         GiB")
    for key, label in labels.items():
        if key == "rollout" and method.kind != "grpo":
            continue
        print(f"  {label:25} {gib[key]:7.2f}")
    limit = machine.device_memory_gib
    verdict = "" if est.fits is None else (f"   fits in {limit:g} GiB" if est.fits else f"   DOES NOT FIT in {limit:g} GiB")
    print(f"  {'total':25} {est.memory.total / GIB:7.2f}{verdict}\n")
    speed = f"tokens/s {est.tokens_per_s:,.0f} (training tokens, all devices)"
    if est.generated_tokens_per_s is not None:
        speed += f"; generation {est.generated_tokens_per_s:,.0f} tokens/s"
    print(speed)
    print(f"time     {est.step_s:,.1f} s/step; {est.steps} steps: {_duration(est.wall_s)} "
          f"(with {est.startup_s:.0f} s start-up)\n")
    print("launch")
    for command in est.commands:
        print(f"  {command}")
    for note in est.notes:
        print(f"note: {note}")
    return 0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
