"""Plan a training job before running it: memory per device, tokens/s, wall time and the launch command.

    thinktune plan --model default --method sft_lora --batch 8 --seq 256
    thinktune plan --model Qwen/Qwen2.5-7B-Instruct --method grpo --batch 8 --generations 8 --seq 256 \\
        --completion 1024 --gpus 8 --gpu-memory 80 --vllm server

`estimate(model, method, machine, steps)` reads the model's shape (`model_shape`: the built-in shapes of the
catalog's models, a local folder's `config.json`, a `.gguf`, or a Hub id's `config.json` through
`huggingface_hub`), adds up the bytes a step holds and divides the step's FLOPs by what the device does.
Nothing heavy is imported: no torch, no transformers. These are rules of thumb to size a machine; what they
were checked against is in `benchmarks/results/plan_check.md` (peak memory of SFT and GRPO on the default
model, measured on a 2-core CPU; the GPU numbers are datasheet-based and were not measured here).

Memory per device, in bytes (P: parameters, P_t: trainable ones, n: devices sharing the model):

- **Weights, gradients, optimizer states** (`PRECISION`): bytes per parameter for weights / gradients /
  AdamW's two moments. `fp32`: 4 / 4 / 8. `mixed` (bf16 autocast over float32 weights, what thinktune's jobs
  do on a GPU): 4 / 4 / 8 as well, the 16 bytes per parameter that the ZeRO paper (Rajbhandari et al., 2020)
  counts for mixed-precision Adam, split there as 2 (half-precision weights) + 2 (their gradients) + 12
  (float32 master weights, momentum and variance). `bf16` (pure bf16 weights and states, as some stacks
  train): 2 / 2 / 4.
- **LoRA** (Hu et al., 2021): the base is frozen (weights only); the adapters, r x (d_in + d_out) per
  adapted matrix on every linear layer of every block (PEFT's `all-linear`; 7 per Llama block), are kept in
  float32 whatever the base dtype, so 16 bytes per adapter parameter. For SmolLM2-135M at r=16 that is
  4.9M trainable parameters, 3.6% of the model.
- **Sharding** over n devices (the ZeRO stages): `ddp` keeps everything on every device, plus a second
  gradient-sized copy for DDP's all-reduce buckets; `zero2` divides gradients and optimizer states by n;
  `zero3` and `fsdp` divide weights too, and hold two gathered decoder layers at a time.
- **Activations** (the bookkeeping of Korthikanti et al., 2022, "Reducing Activation Recomputation in Large
  Transformer Models", redone for a Llama block: RMSNorm, rotary attention, SwiGLU MLP, no dropout,
  SDPA/flash attention that keeps no seq x seq score matrix), per token per layer, in elements:
  `4h` kept at the master dtype (each RMSNorm's input and its normalised copy) + `h + 3q + 2q` for attention
  (the projections' input, q/k/v after RoPE with k and v repeated to all heads as transformers does for a
  padded batch, the attention output and its contiguous copy) + `h + 4i` for the MLP (its input, gate, up,
  SiLU(gate) and their product; `2i` for an ungated MLP) + `7r` float32 for LoRA's down-projections, plus
  the attention kernel's float32 log-sum-exp per head.
  h: hidden size, q: heads x head_dim, i: intermediate size. With gradient checkpointing only each layer's
  input (`h`) is kept, plus one layer's worth while it is recomputed. A micro-batch holds `batch x seq`
  tokens for SFT and `batch x G x (prompt + completion)` for GRPO.
- **Loss buffers**: TRL 1.16 projects to the vocabulary in tiles of up to 4,096 tokens x 32,768 vocabulary
  entries and never holds the whole logits; on a CPU (torch fallback, no Triton) each tile is copied about
  `CPU_LOSS_TILE_COPIES` times by the element-wise steps of its forward and backward; on a GPU once.
- **Rollouts** (GRPO): generating with `generate` holds a KV cache of `2 x layers x kv_dim x rows x
  (prompt + completion)` elements, freed before the training pass, so the peak takes the larger of the two.
  A colocated vLLM keeps its share of the GPU (`VLLM_GPU_MEMORY_UTILIZATION`) beside training; a vLLM server
  lives on its own GPU. A KL term (`beta > 0`) of a full fine-tune holds a frozen reference copy.
- **Overhead**: on a CPU, `CPU_OVERHEAD_GIB` (TRL, PEFT, datasets, the tokenizer and allocator slack;
  Python, torch and transformers themselves, about 0.5 GiB, are not counted) plus `CPU_FRAGMENTATION` of
  the tensors; on a GPU, `GPU_CONTEXT_GIB` for the CUDA context and NCCL, plus `GPU_FRAGMENTATION` for the
  caching allocator.

Speed: a training token costs about 6N FLOPs (2N forward, 4N backward; Kaplan et al., 2020) with N the
parameters a token goes through (the LM head included, the embedding lookup not), plus attention's
`6 x layers x seq x q` (the score and value products over a causal mask, forward and backward). LoRA skips the frozen weights' gradients, 4N in theory; `LORA_FLOPS_PER_PARAM`
is the measured equivalent. Checkpointing adds a forward (2N). A GPU does `GPU_MFU` of its datasheet bf16
peak (`GPU_SPECS`); a CPU core `CPU_GFLOPS_PER_CORE` (float32). Several devices scale by
`PARALLEL_EFFICIENCY`. GRPO adds generation, one decode step per completion token: the time to read the
weights once (memory bandwidth) plus the rows' FLOPs, with a fixed per-step cost for `generate`'s Python
loop on a GPU (vLLM's is smaller). Wall time = start-up (imports and model load) + steps x step time.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from thinktune.errors import UserError

GIB = 1024**3

# ------------------------------------------------------------------------------------------ constants
PRECISION: dict[str, tuple[int, int, int]] = {  # dtype -> bytes per parameter: weights, gradients, AdamW states
    "fp32": (4, 4, 8),
    "mixed": (4, 4, 8),
    "bf16": (2, 2, 4),
}
ACTIVATION_BYTES = {"fp32": 4, "mixed": 2, "bf16": 2}  # matmul outputs; norms stay at the weights' dtype
LORA_ADAPTER_BYTES = (4, 4, 8)  # float32 adapter weights, gradients, two AdamW moments: 16 per parameter
LOSS_TILE_TOKENS, LOSS_TILE_VOCAB = 4096, 32768  # TRL 1.16's fused LM head tile
CPU_LOSS_TILE_COPIES = 8
GPU_LOSS_TILE_COPIES = 1
CPU_OVERHEAD_GIB = 0.4
CPU_FRAGMENTATION = 0.05
GPU_CONTEXT_GIB = 1.0
GPU_FRAGMENTATION = 0.10
VLLM_GPU_MEMORY_UTILIZATION = 0.3  # TRL's default share for a colocated vLLM
VLLM_SERVER_GPU_MEMORY_UTILIZATION = 0.9  # vLLM's default on its own GPU

TRAIN_FLOPS_PER_PARAM = 6
LORA_FLOPS_PER_PARAM = 5
CHECKPOINTING_EXTRA_FLOPS_PER_PARAM = 2
CPU_GFLOPS_PER_CORE = 42.0  # float32 training, AVX2 (benchmarks/results/sft_throughput.json)
CPU_DECODE_GBPS = 7.0  # effective bandwidth of one decode step over the weights (sampling_throughput.md)
CPU_DECODE_GFLOPS_PER_CORE = 16.0
GPU_MFU = 0.35
GPU_DECODE_BANDWIDTH_SHARE = 0.6
GENERATE_STEP_OVERHEAD_S = {"none": 0.02, "colocate": 0.004, "server": 0.004}  # per decode step on a GPU
PARALLEL_EFFICIENCY = {"none": 1.0, "ddp": 0.9, "zero2": 0.85, "zero3": 0.75, "fsdp": 0.75}
MULTI_NODE_EFFICIENCY = 0.85
CPU_STARTUP_S = 15.0  # TRL import (~8 s), model load, data
GPU_STARTUP_S = 30.0
LOAD_BYTES_PER_S = 1e9

# Datasheet numbers: dense bf16 tensor TFLOP/s (fp16 for the T4), memory GiB, memory bandwidth TB/s.
GPU_SPECS: dict[str, tuple[float, float, float]] = {
    "H200": (989.0, 141.0, 4.8),
    "H100": (989.0, 80.0, 3.35),
    "A100": (312.0, 80.0, 2.0),
    "L40S": (362.0, 48.0, 0.86),
    "A10": (125.0, 24.0, 0.6),
    "L4": (121.0, 24.0, 0.3),
    "RTX4090": (165.0, 24.0, 1.0),
    "T4": (65.0, 16.0, 0.32),
}
DEFAULT_GPU = "A100"

MethodKind = Literal["sft_full", "sft_lora", "grpo"]
Parallel = Literal["auto", "none", "ddp", "zero2", "zero3", "fsdp"]
METHODS: tuple[str, ...] = ("sft_full", "sft_lora", "grpo")
PARALLELS: tuple[str, ...] = ("auto", "none", "ddp", "zero2", "zero3", "fsdp")
DTYPES: tuple[str, ...] = ("auto", "fp32", "mixed", "bf16")
VLLM_MODES: tuple[str, ...] = ("none", "colocate", "server")
ACCELERATE_CONFIGS = {p: f"configs/accelerate/{p}.yaml" for p in ("ddp", "fsdp", "zero2", "zero3")}


# ---------------------------------------------------------------------------------------- model shape
@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know about a decoder-only transformer."""

    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    head_dim: int = 0
    """0: hidden / heads."""
    tied: bool = True
    """Input embedding and LM head share one matrix."""
    gated: bool = True
    """SwiGLU/GeGLU MLP (three matrices) rather than two."""
    qkv_bias: bool = False
    experts: int = 1
    """MoE: experts per MLP layer (their intermediate size is `intermediate`)."""
    active_experts: int = 1
    """MoE: experts each token goes through."""
    source: str = ""
    """Where the shape came from."""

    @property
    def q_dim(self) -> int:
        return self.heads * (self.head_dim or self.hidden // self.heads)

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * (self.head_dim or self.hidden // self.heads)

    @property
    def mlp_mats(self) -> int:
        return 3 if self.gated else 2

    def layer_params(self, experts: int | None = None) -> int:
        """Parameters of one decoder block (all experts, or `experts` of them)."""
        h, q, kv = self.hidden, self.q_dim, self.kv_dim
        attn = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.qkv_bias else 0)
        n_exp = self.experts if experts is None else experts
        mlp = n_exp * self.mlp_mats * h * self.intermediate + (h * self.experts if self.experts > 1 else 0)
        return attn + mlp + 2 * h

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        """All parameters."""
        return self.embedding_params + self.layers * self.layer_params() + self.hidden

    @property
    def compute_params(self) -> int:
        """Parameters a token's matmuls go through: the active experts and the LM head, not the lookup."""
        return self.layers * self.layer_params(self.active_experts) + self.vocab * self.hidden

    def lora_params(self, r: int) -> int:
        """LoRA parameters at rank `r` on every linear layer of every block (PEFT's `all-linear`)."""
        h, q, kv, i = self.hidden, self.q_dim, self.kv_dim, self.intermediate
        per_layer = (h + q) + 2 * (h + kv) + (q + h) + self.experts * self.mlp_mats * (h + i)
        return r * per_layer * self.layers

    def lora_matrices(self) -> int:
        """Adapted matrices per block (each keeps an r-wide activation)."""
        return 4 + self.active_experts * self.mlp_mats


# The catalog's models (thinktune.models.catalog), read from their config.json files once, so planning works
# offline; `test_plan.py` checks each against the catalog's parameter count.
_SMOL = ModelShape("SmolLM2-135M-Instruct", 576, 30, 9, 3, 1536, 49152, source="built-in (SmolLM2-135M)")
_QWEN = dict(qkv_bias=True, head_dim=128, vocab=151936)
KNOWN_SHAPES: dict[str, ModelShape] = {
    "default": _SMOL,
    "SmolLM2-135M-Instruct": _SMOL,
    "HuggingFaceTB/SmolLM2-135M-Instruct": _SMOL,
    "tiny": ModelShape("tiny", 64, 2, 4, 2, 128, 49152, source="built-in (thinktune's random 2-layer Llama)"),
    "Qwen/Qwen2.5-3B-Instruct": ModelShape("Qwen/Qwen2.5-3B-Instruct", 2048, 36, 16, 2, 11008, **_QWEN),
    "Qwen/Qwen2.5-7B-Instruct": ModelShape("Qwen/Qwen2.5-7B-Instruct", 3584, 28, 28, 4, 18944, tied=False,
                                           **{**_QWEN, "vocab": 152064}),
    "Qwen/Qwen2.5-Math-1.5B": ModelShape("Qwen/Qwen2.5-Math-1.5B", 1536, 28, 12, 2, 8960, **_QWEN),
    "Qwen/Qwen2.5-1.5B-Instruct": ModelShape("Qwen/Qwen2.5-1.5B-Instruct", 1536, 28, 12, 2, 8960, **_QWEN),
    "Qwen/Qwen2.5-0.5B-Instruct": ModelShape("Qwen/Qwen2.5-0.5B-Instruct", 896, 24, 14, 2, 4864,
                                             **{**_QWEN, "head_dim": 64}),
    "google/gemma-2-2b-it": ModelShape("google/gemma-2-2b-it", 2304, 26, 8, 4, 9216, 256000, head_dim=256),
    "google/gemma-3-1b-it": ModelShape("google/gemma-3-1b-it", 1152, 26, 4, 1, 6912, 262144, head_dim=256),
    "meta-llama/Llama-3.2-1B-Instruct": ModelShape("meta-llama/Llama-3.2-1B-Instruct", 2048, 16, 32, 8, 8192, 128256),
    "meta-llama/Llama-3.2-3B-Instruct": ModelShape("meta-llama/Llama-3.2-3B-Instruct", 3072, 28, 24, 8, 8192, 128256,
                                                   head_dim=128),
    "meta-llama/Llama-3.1-8B-Instruct": ModelShape("meta-llama/Llama-3.1-8B-Instruct", 4096, 32, 32, 8, 14336, 128256,
                                                   tied=False),
    "microsoft/Phi-3.5-mini-instruct": ModelShape("microsoft/Phi-3.5-mini-instruct", 3072, 32, 32, 32, 8192, 32064,
                                                  tied=False),
    "microsoft/phi-4": ModelShape("microsoft/phi-4", 5120, 40, 40, 10, 17920, 100352, tied=False),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": ModelShape("HuggingFaceTB/SmolLM2-1.7B-Instruct", 2048, 24, 32, 32, 8192,
                                                      49152),
}
KNOWN_SHAPES = {k: v if v.source else replace(v, source="built-in (catalog)") for k, v in KNOWN_SHAPES.items()}
_UNGATED = {"gpt2", "gpt_neox", "gptj", "phi", "opt", "gpt_bigcode", "bloom", "falcon", "starcoder2", "mpt"}


def shape_from_config(config: dict[str, Any], name: str, source: str = "config.json") -> ModelShape:
    """A `ModelShape` from a Hugging Face `config.json` dict (multimodal configs: their `text_config`).

    >>> s = shape_from_config({"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
    ...     "num_key_value_heads": 3, "intermediate_size": 1536, "vocab_size": 49152}, "smol")
    >>> s.params
    134515008
    """
    cfg = config.get("text_config") or config
    model_type = str(cfg.get("model_type") or config.get("model_type") or "")

    def first(*keys: str, default: Any = None) -> Any:
        for key in keys:
            if cfg.get(key) is not None:
                return cfg[key]
        return default

    hidden = first("hidden_size", "n_embd", "d_model")
    layers = first("num_hidden_layers", "n_layer", "num_layers")
    heads = first("num_attention_heads", "n_head", "num_heads")
    vocab = first("vocab_size")
    missing = [k for k, v in (("hidden_size", hidden), ("num_hidden_layers", layers),
                              ("num_attention_heads", heads), ("vocab_size", vocab)) if not v]
    if missing:
        raise UserError(f"model {name}: {source} has no {', '.join(missing)}: not a decoder-only language model "
                        "thinktune can plan for")
    experts = int(first("num_local_experts", "num_experts", "n_routed_experts", default=1) or 1)
    intermediate = first("moe_intermediate_size") if experts > 1 else None
    intermediate = intermediate or first("intermediate_size", "n_inner", "ffn_dim", default=4 * hidden)
    tied = config.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
    return ModelShape(
        name=name, hidden=int(hidden), layers=int(layers), heads=int(heads),
        kv_heads=int(first("num_key_value_heads", "num_kv_heads", default=heads)),
        intermediate=int(intermediate), vocab=int(vocab), head_dim=int(first("head_dim", default=0) or 0),
        tied=bool(tied), gated=model_type not in _UNGATED,
        qkv_bias=bool(first("attention_bias", "qkv_bias", default=model_type.startswith("qwen2"))),
        experts=experts, active_experts=int(first("num_experts_per_tok", default=1)) if experts > 1 else 1,
        source=source,
    )


def _shape_from_gguf(path: Path, name: str) -> ModelShape:
    try:
        from gguf import GGUFReader
    except ImportError:
        raise UserError(f"model {name}: reading a .gguf needs the gguf package (pip install gguf)") from None
    reader = GGUFReader(str(path))

    def value(key: str, default: Any = None) -> Any:
        f = reader.fields.get(key)
        return default if f is None else f.contents()

    arch = value("general.architecture", "llama")
    tokens = value("tokenizer.ggml.tokens")
    heads = value(f"{arch}.attention.head_count")
    hidden = value(f"{arch}.embedding_length")
    return ModelShape(
        name=name, hidden=hidden, layers=value(f"{arch}.block_count"), heads=heads,
        kv_heads=value(f"{arch}.attention.head_count_kv", heads),
        intermediate=value(f"{arch}.feed_forward_length", 4 * hidden),
        vocab=value(f"{arch}.vocab_size") or len(tokens or ()),
        head_dim=value(f"{arch}.attention.key_length", 0) or 0,
        tied=not any(t.name == "output.weight" for t in reader.tensors), source=str(path),
    )


def model_shape(spec: str) -> ModelShape:
    """The shape of a model spec: a built-in (the catalog, `default`, `tiny`), a local folder (its
    `config.json`; a PEFT adapter's base; a run folder's `final/`), a `.gguf`, or a Hub id's `config.json`
    (from the local Hugging Face cache, else downloaded).

    Raises:
        UserError: a folder without a config, or a Hub id whose config cannot be read (offline, unknown).
    """
    if spec in KNOWN_SHAPES and not Path(spec).exists():
        return KNOWN_SHAPES[spec]
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise UserError(f"model {spec}: GGUF file not found")
        return _shape_from_gguf(path, spec)
    if path.is_dir():
        for folder in (path, path / "final"):
            if (folder / "config.json").is_file():
                return shape_from_config(json.loads((folder / "config.json").read_text()), spec,
                                         str(folder / "config.json"))
            if (folder / "adapter_config.json").is_file():
                base = json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
                return replace(model_shape(base), name=spec)
        raise UserError(f"model {spec}: folder has no config.json (nor adapter_config.json, nor final/)")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise UserError(f"model {spec}: no such model folder")
    return _hub_shape(spec)


def _hub_shape(repo_id: str) -> ModelShape:
    """A Hub model's shape from its `config.json`: the local cache first, then the Hub (one quick
    reachability check first, so an offline machine answers at once instead of after the client's retries).

    `config.json` is parsed by `shape_from_config`, the same path as a local folder, rather than through
    `transformers.AutoConfig`: it costs no transformers import and reads architectures transformers lacks.
    """
    hint = "not in the catalog (thinktune models); pass a local folder with a config.json, or check the id"
    try:
        from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache
    except ImportError:
        raise UserError(f"model {repo_id}: {hint} (huggingface_hub is not installed to fetch it)") from None
    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        return shape_from_config(json.loads(Path(cached).read_text()), repo_id, f"{repo_id} (Hub cache)")
    if constants.HF_HUB_OFFLINE:
        raise UserError(f"model {repo_id}: {hint}; its config.json is not in the Hub cache (HF_HUB_OFFLINE is set)")
    reason = _unreachable(constants.ENDPOINT)
    if reason:
        raise UserError(f"model {repo_id}: {hint}; the Hub is unreachable to fetch its config.json ({reason})")
    try:
        local = hf_hub_download(repo_id, "config.json")
    except Exception as e:  # noqa: BLE001 - any failure to fetch is the same user error: one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise UserError(f"model {repo_id}: {hint}; fetching its config.json failed: {first}") from None
    return shape_from_config(json.loads(Path(local).read_text()), repo_id, f"{repo_id} (Hub)")


def _unreachable(endpoint: str, timeout: float = 3.0) -> str | None:
    """None when `endpoint`'s host accepts a connection, else why not."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
    except OSError as e:
        return f"{url.hostname}: {e.strerror or e}"
    return None


# ------------------------------------------------------------------------------------ machine, method
@dataclass(frozen=True)
class Machine:
    """Where the job runs. No GPUs: one process on `cpu_cores` cores."""

    cpu_cores: int = 2
    gpus: int = 0
    """GPUs per node."""
    gpu_memory_gib: float = 0.0
    """Memory of one GPU; 0: the `gpu_kind`'s datasheet value."""
    gpu_kind: str = ""
    """H100, A100, L4, … (`GPU_SPECS`); empty: an A100's speed."""
    nodes: int = 1
    ram_gib: float = 0.0
    """Host memory (checked when training on the CPU); 0: unknown."""

    def __post_init__(self) -> None:
        if self.cpu_cores < 1 or self.gpus < 0 or self.nodes < 1 or self.gpu_memory_gib < 0:
            raise UserError("machine: need cpu_cores >= 1, gpus >= 0, nodes >= 1, gpu_memory_gib >= 0")
        if self.nodes > 1 and not self.gpus:
            raise UserError("machine: several nodes need GPUs (thinktune trains on one CPU process)")
        if self.gpu_kind and self.gpu_kind.upper() not in GPU_SPECS:
            raise UserError(f"machine: unknown GPU kind {self.gpu_kind!r}; known: {', '.join(GPU_SPECS)}")

    @classmethod
    def here(cls) -> Machine:
        """This machine's cores and memory (GPUs are not probed: say them)."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        try:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
        except (ValueError, OSError, AttributeError):
            ram = 0.0
        return cls(cpu_cores=cores, ram_gib=round(ram, 1))

    @property
    def devices(self) -> int:
        return self.gpus * self.nodes if self.gpus else 1

    @property
    def spec(self) -> tuple[float, float, float]:
        return GPU_SPECS[(self.gpu_kind or DEFAULT_GPU).upper()]

    @property
    def device_memory_gib(self) -> float:
        """Memory of one device: the GPU's, or the host's for CPU training (0: unknown)."""
        if self.gpus:
            return self.gpu_memory_gib or self.spec[1]
        return self.ram_gib

    def describe(self) -> str:
        if not self.gpus:
            return f"{self.cpu_cores} CPU cores" + (f", {self.ram_gib:g} GiB RAM" if self.ram_gib else "")
        nodes = f"{self.nodes} nodes x " if self.nodes > 1 else ""
        return f"{nodes}{self.gpus} x {self.gpu_kind or 'GPU'} ({self.device_memory_gib:g} GiB)"


@dataclass(frozen=True)
class Method:
    """What the job does, per device (the same meaning as the job configs' fields)."""

    kind: MethodKind = "sft_lora"
    batch: int = 8
    """SFT: rows per device per step (`batch_size`); GRPO: prompts per device per step (`prompts_per_step`)."""
    seq_len: int = 512
    """SFT: tokens per row after padding (the longest row of a batch, at most `max_length`); GRPO: prompt tokens."""
    completion_len: int = 256
    """GRPO: completion budget in tokens (`max_completion_length`)."""
    num_generations: int = 8
    """GRPO: completions per prompt (G)."""
    lora_rank: int = 16
    """LoRA rank for sft_lora and grpo; 0 makes GRPO a full fine-tune."""
    grad_accum: int = 1
    dtype: Literal["auto", "fp32", "mixed", "bf16"] = "auto"
    """auto: fp32 on a CPU, mixed (bf16 autocast) on GPUs."""
    gradient_checkpointing: bool = False
    parallel: Parallel = "auto"
    """several devices: ddp, zero2, zero3 or fsdp; auto: the first of ddp, zero2, zero3 that fits."""
    vllm: Literal["none", "colocate", "server"] = "none"
    """GRPO rollouts: transformers' generate, a colocated vLLM, or a `trl vllm-serve` on its own GPU."""
    beta: float = 0.0
    """GRPO KL coefficient: above 0 a full fine-tune keeps a frozen reference copy."""

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}, got {self.kind!r}")
        for name in ("batch", "seq_len", "completion_len", "grad_accum"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.kind == "grpo" and self.num_generations < 2:
            problems.append("GRPO needs num_generations >= 2")
        if self.kind == "sft_lora" and self.lora_rank < 1:
            problems.append("sft_lora needs lora_rank >= 1")
        if self.dtype not in DTYPES or self.parallel not in PARALLELS or self.vllm not in VLLM_MODES:
            problems.append("dtype, parallel or vllm has an unknown value")
        if self.vllm != "none" and self.kind != "grpo":
            problems.append("vllm is for GRPO rollouts")
        if problems:
            raise UserError("method: " + "; ".join(problems))

    @property
    def lora(self) -> bool:
        return self.kind == "sft_lora" or (self.kind == "grpo" and self.lora_rank > 0)

    @property
    def rows(self) -> int:
        """Sequences in one micro-batch."""
        return self.batch * (self.num_generations if self.kind == "grpo" else 1)

    @property
    def row_len(self) -> int:
        return self.seq_len + (self.completion_len if self.kind == "grpo" else 0)

    def describe(self) -> str:
        tune = f"LoRA r={self.lora_rank}" if self.lora else "full"
        if self.kind == "grpo":
            return (f"GRPO ({tune}), {self.batch} prompts x G={self.num_generations}, {self.seq_len} prompt + "
                    f"{self.completion_len} completion tokens")
        return f"SFT ({tune}), batch {self.batch} x {self.seq_len} tokens"


def method_from_job(cfg: Any, seq_len: int, **changes: Any) -> Method:
    """The `Method` of a thinktune job config (an `SFTJobConfig` or `GRPOJobConfig`).

    `seq_len` is what the config does not say: an SFT row's padded length, or a GRPO prompt's length.
    """
    lora = cfg.lora.r if cfg.lora.enabled else 0
    if hasattr(cfg, "num_generations"):
        fields = dict(kind="grpo", batch=cfg.prompts_per_step, num_generations=cfg.num_generations,
                      completion_len=cfg.max_completion_length, lora_rank=lora, beta=cfg.beta,
                      vllm="colocate" if cfg.use_vllm else "none")
    else:
        fields = dict(kind="sft_lora" if lora else "sft_full", batch=cfg.batch_size, lora_rank=lora or 16)
    return Method(**{**fields, "seq_len": seq_len, "grad_accum": cfg.grad_accum, **changes})


# ------------------------------------------------------------------------------------------- estimate
@dataclass(frozen=True)
class Memory:
    """Bytes per device, by what holds them."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    """Kept for the backward pass, plus the loss's vocabulary tiles."""
    rollout: float
    """GRPO: the KV cache of `generate`, or a colocated vLLM's share of the GPU."""
    overhead: float
    rollout_overlaps: bool = False
    """True when the rollout memory is held during training too (a colocated vLLM); else it is freed first."""

    @property
    def total(self) -> float:
        working = self.activations + self.rollout if self.rollout_overlaps else max(self.activations, self.rollout)
        return self.weights + self.gradients + self.optimizer + working + self.overhead

    def gib(self) -> dict[str, float]:
        rows = {k: v for k, v in asdict(self).items() if k != "rollout_overlaps"}
        return {k: round(v / GIB, 3) for k, v in {**rows, "total": self.total}.items()}


@dataclass(frozen=True)
class Estimate:
    """What `estimate` returns: memory per device, speed, wall time and the commands that launch the job."""

    model: ModelShape
    method: Method
    machine: Machine
    dtype: str
    parallel: str
    memory: Memory
    trainable_params: int
    tokens_per_s: float
    """Training tokens (prompt and completion) through the model per second, all devices together."""
    generated_tokens_per_s: float | None
    """GRPO: completion tokens sampled per second, all devices together."""
    step_s: float
    startup_s: float
    steps: int
    commands: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return self.startup_s + self.steps * self.step_s

    @property
    def fits(self) -> bool | None:
        """None when the device's memory is unknown."""
        limit = self.machine.device_memory_gib
        return None if not limit else self.memory.total <= limit * GIB

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {**asdict(self.model), "params": self.model.params},
            "method": asdict(self.method), "machine": asdict(self.machine),
            "dtype": self.dtype, "parallel": self.parallel, "devices": self.machine.devices,
            "trainable_params": self.trainable_params,
            "memory_gib_per_device": self.memory.gib(),
            "device_memory_gib": self.machine.device_memory_gib or None, "fits": self.fits,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "generated_tokens_per_s": None if self.generated_tokens_per_s is None
            else round(self.generated_tokens_per_s, 1),
            "step_s": round(self.step_s, 2), "steps": self.steps, "startup_s": round(self.startup_s, 1),
            "wall_s": round(self.wall_s, 1), "commands": self.commands, "notes": self.notes,
        }


def layer_activation_bytes(shape: ModelShape, method: Method, dtype: str, master: int | None = None) -> float:
    """Bytes one decoder layer keeps for the backward pass, per token (see the module docstring).

    `master`: bytes of the weights' dtype, which the residual stream and the norms keep (default: `dtype`'s).
    """
    h, q, i = shape.hidden, shape.q_dim, shape.intermediate
    master, act = master or PRECISION[dtype][0], ACTIVATION_BYTES[dtype]
    mlp = shape.active_experts * (4 * i if shape.gated else 2 * i) + (shape.experts if shape.experts > 1 else 0)
    lora = shape.lora_matrices() * method.lora_rank * 4 if method.lora else 0
    flash_lse = 4 * shape.heads  # the attention kernel's log-sum-exp, float32
    return 4 * h * master + (h + 3 * q + 2 * q + h + mlp) * act + flash_lse + lora


def activation_bytes_per_token(shape: ModelShape, method: Method, dtype: str, master: int | None = None) -> float:
    """Bytes kept for the backward pass per token, all layers (see the module docstring).

    >>> round(activation_bytes_per_token(KNOWN_SHAPES["default"], Method("sft_full"), "fp32") / 2**20, 2)
    1.44
    """
    master = master or PRECISION[dtype][0]
    head = 3 * shape.hidden * master  # the final norm's input and output, kept by the LM head
    layer = layer_activation_bytes(shape, method, dtype, master)
    if method.gradient_checkpointing:  # each layer's input, and one layer at a time while it is recomputed
        return shape.layers * shape.hidden * master + layer + head
    return shape.layers * layer + head


def _activations(shape: ModelShape, method: Method, dtype: str, on_gpu: bool, master: int) -> float:
    """Activations of one micro-batch plus the fused LM head's vocabulary tiles."""
    tokens = method.rows * method.row_len
    stored = tokens * activation_bytes_per_token(shape, method, dtype, master)
    # every position is scored on a CPU; on a GPU (Triton) only the labelled ones: a GRPO row's completion
    scored = tokens if not on_gpu or method.kind != "grpo" else method.rows * method.completion_len
    tile = min(scored, LOSS_TILE_TOKENS) * min(shape.vocab, LOSS_TILE_VOCAB) * ACTIVATION_BYTES[dtype]
    return stored + tile * (GPU_LOSS_TILE_COPIES if on_gpu else CPU_LOSS_TILE_COPIES)


def bytes_per_param(dtype: str, parallel: str) -> tuple[int, int, int]:
    """Bytes per parameter for weights, gradients and AdamW states.

    Mixed precision under DeepSpeed (zero2, zero3) holds the model in bf16 and the float32 master weights
    in the optimizer (the ZeRO paper's 2 + 2 + 12); under autocast (one device, ddp, fsdp) the model stays
    float32 (4 + 4 + 8). Both are 16.

    >>> bytes_per_param("mixed", "zero3"), bytes_per_param("mixed", "ddp"), bytes_per_param("bf16", "none")
    ((2, 2, 12), (4, 4, 8), (2, 2, 4))
    """
    if dtype == "mixed" and parallel in ("zero2", "zero3"):
        return 2, 2, 12
    return PRECISION[dtype]


def _memory(shape: ModelShape, method: Method, machine: Machine, dtype: str, parallel: str, n: int) -> Memory:
    w, g, o = bytes_per_param(dtype, parallel)
    P = shape.params
    if method.lora:
        lora = shape.lora_params(method.lora_rank)
        aw, ag, ao = LORA_ADAPTER_BYTES
        weights, grads, optim = P * w + lora * aw, lora * ag, lora * ao
    else:
        weights, grads, optim = P * w, P * g, P * o
    if method.kind == "grpo" and method.beta > 0 and not method.lora:
        weights += P * w  # the frozen reference model (LoRA gets it by switching the adapter off)
    if parallel == "ddp" and n > 1:
        grads *= 2  # DDP's all-reduce buckets beside the gradients
    if parallel in ("zero2", "zero3", "fsdp"):
        grads, optim = grads / n, optim / n
    if parallel in ("zero3", "fsdp"):
        weights = weights / n + 2 * shape.layer_params() * w  # two gathered decoder layers
    on_gpu = machine.gpus > 0
    activations = _activations(shape, method, dtype, on_gpu, w)

    rollout, overlaps = 0.0, False
    if method.kind == "grpo":
        if method.vllm == "colocate":
            rollout, overlaps = VLLM_GPU_MEMORY_UTILIZATION * machine.device_memory_gib * GIB, True
        elif method.vllm == "none":
            gen_rows = method.rows * method.grad_accum  # TRL generates for all accumulation steps at once
            rollout = 2 * shape.layers * shape.kv_dim * gen_rows * method.row_len * ACTIVATION_BYTES[dtype]
    tensors = weights + grads + optim + (activations + rollout if overlaps else max(activations, rollout))
    if on_gpu:
        overhead = GPU_CONTEXT_GIB * GIB + GPU_FRAGMENTATION * tensors
    else:
        overhead = CPU_OVERHEAD_GIB * GIB + CPU_FRAGMENTATION * tensors
    return Memory(weights, grads, optim, activations, rollout, overhead, overlaps)


def _train_flops_per_token(shape: ModelShape, method: Method) -> float:
    per_param = LORA_FLOPS_PER_PARAM if method.lora else TRAIN_FLOPS_PER_PARAM
    if method.gradient_checkpointing:
        per_param += CHECKPOINTING_EXTRA_FLOPS_PER_PARAM
    attention = 12 * shape.layers * method.row_len * shape.q_dim / 2  # causal: half the score matrix on average
    return per_param * shape.compute_params + attention


def _decode_step_s(shape: ModelShape, rows: int, machine: Machine, method: Method, dtype: str) -> float:
    """Seconds for one decode step of `rows` sequences: read the weights once, then the rows' FLOPs."""
    weight_bytes = shape.params * PRECISION[dtype][0] if not machine.gpus else shape.params * 2
    flops = rows * 2 * shape.compute_params
    if not machine.gpus:
        return weight_bytes / (CPU_DECODE_GBPS * 1e9) + flops / (machine.cpu_cores * CPU_DECODE_GFLOPS_PER_CORE * 1e9)
    tflops, _, tbps = machine.spec
    read = weight_bytes / (tbps * 1e12 * GPU_DECODE_BANDWIDTH_SHARE)
    return max(read, flops / (tflops * 1e12 * GPU_MFU)) + GENERATE_STEP_OVERHEAD_S[method.vllm]


def _device_flops(machine: Machine) -> float:
    if machine.gpus:
        return machine.spec[0] * 1e12 * GPU_MFU
    return machine.cpu_cores * CPU_GFLOPS_PER_CORE * 1e9


def _resolve(method: Method, machine: Machine) -> tuple[str, list[str]]:
    """The dtype to use, and the notes about the choice."""
    notes = []
    dtype = method.dtype
    if dtype == "auto":
        dtype = "mixed" if machine.gpus else "fp32"
    if dtype != "fp32" and not machine.gpus:
        notes.append(f"dtype {dtype} on a CPU: thinktune's jobs train in float32 there (bf16 is slower on CPUs)")
    if dtype == "bf16":
        notes.append("bf16: thinktune's jobs load float32 weights and use bf16 autocast on a GPU (dtype mixed); "
                     "pure bf16 is what some other stacks do")
    return dtype, notes


def estimate(model: str | ModelShape, method: Method, machine: Machine | None = None, steps: int = 100,
             config: str = "CONFIG.yaml") -> Estimate:
    """Memory per device, tokens/s, wall time for `steps` steps and the launch command of a training job.

    Args:
        model: a model spec (see `model_shape`) or a `ModelShape`.
        method: what the job does.
        machine: where it runs (default: this machine's CPU).
        steps: optimizer steps for the wall time.
        config: the job's YAML file, named in the launch command.

    >>> e = estimate("default", Method("sft_full", batch=8, seq_len=256), Machine(cpu_cores=2))
    >>> e.parallel, e.commands[0].split(" --set")[0]
    ('none', 'thinktune train sft CONFIG.yaml')
    """
    shape = model if isinstance(model, ModelShape) else model_shape(model)
    machine = machine or Machine.here()
    if steps < 1:
        raise UserError("steps must be at least 1")
    dtype, notes = _resolve(method, machine)
    server = method.kind == "grpo" and method.vllm == "server"
    if server and machine.devices < 2:
        raise UserError("vllm server needs at least 2 GPUs: one for `trl vllm-serve`, the rest to train "
                        "(or use vllm colocate on one GPU)")
    if method.vllm != "none" and not machine.gpus:
        raise UserError("vLLM needs GPUs; GRPO on a CPU generates with transformers (vllm none)")
    n = machine.devices - (1 if server else 0)  # training processes

    parallel = method.parallel
    if n == 1:
        if parallel not in ("auto", "none"):
            notes.append(f"one training device: {parallel} does nothing, planned without it")
        parallel = "none"
    elif parallel in ("auto", "none"):
        wanted = parallel
        for parallel in ("ddp", "zero2", "zero3"):
            mem = _memory(shape, method, machine, dtype, parallel, n)
            if not machine.device_memory_gib or mem.total <= machine.device_memory_gib * GIB:
                break
        if wanted == "none":
            notes.append(f"{n} devices: data parallel ({parallel})")
    memory = _memory(shape, method, machine, dtype, parallel, n)

    # speed: training tokens through the model, plus generation for GRPO
    tokens_per_device = method.rows * method.row_len * method.grad_accum
    efficiency = PARALLEL_EFFICIENCY[parallel] * (MULTI_NODE_EFFICIENCY if machine.nodes > 1 else 1.0)
    train_s = tokens_per_device * _train_flops_per_token(shape, method) / (_device_flops(machine) * efficiency)
    gen_s, generated = 0.0, None
    if method.kind == "grpo":
        gen_rows = method.rows * method.grad_accum
        served = gen_rows * (n if server else 1)  # one vLLM server samples for every training process
        prefill = served * method.seq_len * 2 * shape.compute_params / _device_flops(machine)
        gen_s = prefill + method.completion_len * _decode_step_s(shape, served, machine, method, dtype)
        if method.beta > 0:  # the reference model's forward over the same tokens
            train_s += tokens_per_device * 2 * shape.compute_params / _device_flops(machine)
        generated = gen_rows * method.completion_len * n / gen_s
    step_s = train_s + gen_s
    tokens_per_s = tokens_per_device * n / step_s
    if machine.gpus:
        startup = GPU_STARTUP_S + shape.params * 4 / LOAD_BYTES_PER_S
    else:
        startup = CPU_STARTUP_S + shape.params * 4 / LOAD_BYTES_PER_S

    est = Estimate(shape, method, machine, dtype, parallel, memory,
                   shape.lora_params(method.lora_rank) if method.lora else shape.params,
                   tokens_per_s, generated, step_s, startup, steps,
                   launch_commands(model if isinstance(model, str) else shape.name, method, machine, parallel,
                                   config), notes)
    if server:
        notes.append(f"the vLLM server's GPU is not in the table: vLLM takes {VLLM_SERVER_GPU_MEMORY_UTILIZATION:.0%} "
                     "of it for the weights and the KV cache")
    if est.fits is False:
        notes.append(_advice(est))
    return est


def _advice(est: Estimate) -> str:
    need, have = est.memory.total / GIB, est.machine.device_memory_gib
    tips = []
    if not est.method.lora:
        tips.append("LoRA (sft_lora, or grpo with a LoRA rank)")
    if not est.method.gradient_checkpointing:
        tips.append("gradient checkpointing")
    if est.method.batch > 1:
        tips.append("a smaller batch with more grad_accum")
    if est.machine.devices > 1 and est.parallel not in ("zero3", "fsdp"):
        tips.append("zero3 or fsdp")
    if est.machine.gpus:
        tips.append("more or larger GPUs")
    return f"does not fit: {need:.1f} GiB needed per device, {have:g} GiB there; try " + ", ".join(tips)


# --------------------------------------------------------------------------------------- launch commands
def _overrides(model: str, method: Method) -> list[str]:
    sets = [f"model={model}"]
    if method.kind == "grpo":
        sets += [f"prompts_per_step={method.batch}", f"num_generations={method.num_generations}",
                 f"max_completion_length={method.completion_len}"]
        sets += [f"lora.r={method.lora_rank}"] if method.lora else ["lora.enabled=false"]
        if method.beta:
            sets.append(f"beta={method.beta:g}")
    else:
        sets += [f"batch_size={method.batch}", f"max_length={method.seq_len}"]
        sets += [f"lora.r={method.lora_rank}"] if method.lora else ["lora.enabled=false"]
    if method.grad_accum > 1:
        sets.append(f"grad_accum={method.grad_accum}")
    if method.gradient_checkpointing:
        sets.append("trainer_args.activation_checkpointing=true")
    if method.vllm != "none":
        sets += ["use_vllm=true"] + (["trainer_args.vllm_mode=server"] if method.vllm == "server" else [])
    return sets


def launch_commands(model: str, method: Method, machine: Machine, parallel: str,
                    config: str = "CONFIG.yaml") -> list[str]:
    """The shell commands that run the job as planned (one per line; a vLLM server first when there is one).

    >>> launch_commands("default", Method("sft_lora", batch=4, seq_len=256), Machine(), "none")
    ['thinktune train sft CONFIG.yaml --set model=default --set batch_size=4 --set max_length=256 --set lora.r=16']
    """
    job = "grpo" if method.kind == "grpo" else "sft"
    args = f"train {job} {shlex.quote(config)} " + " ".join(f"--set {shlex.quote(s)}" for s in _overrides(model, method))
    server = method.kind == "grpo" and method.vllm == "server"
    n = machine.devices - (1 if server else 0)
    if n == 1 and not server:
        return [f"thinktune {args}"]
    commands = []
    gpus = list(range(machine.gpus))
    if server:
        # vLLM takes the first GPU of the first node; training the others (TRL syncs the weights to it each step)
        commands.append(f"CUDA_VISIBLE_DEVICES=0 trl vllm-serve --model {shlex.quote(_served_model(model))} &")
        gpus = gpus[1:]
    launch = ["accelerate", "launch"]
    if parallel in ACCELERATE_CONFIGS:
        launch += ["--config_file", ACCELERATE_CONFIGS[parallel]]
    launch += ["--num_processes", str(n)]
    if machine.nodes > 1:
        launch += ["--num_machines", str(machine.nodes), "--machine_rank", "$NODE_RANK",
                   "--main_process_ip", "$MASTER_ADDR", "--main_process_port", "29500"]
    prefix = f"CUDA_VISIBLE_DEVICES={','.join(map(str, gpus))} " if server else ""
    commands.append(f"{prefix}{' '.join(launch)} -m thinktune {args}")
    return commands


def _served_model(model: str) -> str:
    """What `trl vllm-serve --model` loads: the Hub id, or for the embedded model its converted folder."""
    if model in ("default", "SmolLM2-135M-Instruct"):
        return "~/.cache/thinktune/models/SmolLM2-135M-Instruct"
    return model
