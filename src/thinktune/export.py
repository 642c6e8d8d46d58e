"""Export a trained model: a plain transformers folder, GGUF files, an Ollama `Modelfile` and a model card.

    export_model("runs/quickstart", "models/quickstart", gguf=["q8_0"], ollama=True, card=True)

writes into `models/quickstart/`:

    model-q8_0.gguf   the model (LoRA adapters merged first), its tokenizer and chat template embedded
    Modelfile         `ollama create quickstart -f Modelfile`: the GGUF, the chat TEMPLATE the model was
                      trained with (thinking exposed to Ollama as `.Thinking`), the stop tokens and the
                      job type's SYSTEM prompt
    README.md         the model card: job type, base model, data snapshot, metrics, lineage, files

Without `gguf`/`ollama` the model folder is written as before (copied, or merged with `merge=True`);
`hf=True` writes it beside the GGUF files too, as `hf/`. Everything is built in a hidden sibling folder and
renamed into place, so `out` is complete or absent; an existing non-empty `out` is never touched.

GGUF. The writer here (the default) handles the Llama and Qwen2 architectures (SmolLM2, Llama 3.x,
Qwen2.5) with a byte-level BPE tokenizer, at `f16` (every matrix in float16, norms and biases in float32)
or `q8_0` (matrices in blocks of 32 int8 values with one float16 scale each; a matrix whose rows are not a
multiple of 32 stays float16), using the `gguf` package's `GGUFWriter` and its `Q8_0` quantizer. It follows
the layout llama.cpp's `convert_hf_to_gguf.py` writes: llama.cpp's tensor names, Llama's query/key rows
permuted to llama.cpp's rotary layout, no `output.weight` for tied embeddings, Llama 3's rope scaling as a
`rope_freqs` tensor; the tokenizer as `tokenizer.ggml.model = gpt2` with tokens, token types (special
added tokens CONTROL, other added tokens such as `<think>` USER_DEFINED), merges, the bos/eos/unk/pad ids,
`add_bos_token` and `tokenizer.chat_template`. `tokenizer.ggml.pre` (the split rule applied before BPE)
is read from the tokenizer's own pre-tokenizer: plain GPT-2 byte-level → `gpt-2`, SmolLM2's
digits-then-byte-level → `smollm`, Qwen2's and Llama 3's split patterns → `qwen2` / `llama-bpe`; any other
is refused rather than guessed. llama.cpp's own converter can be used instead (`converter="llama.cpp"`,
found as `convert_hf_to_gguf.py` on PATH or through `$THINKTUNE_LLAMA_CPP_CONVERT`).

Ollama. The TEMPLATE is written for ChatML chat templates (SmolLM2, Qwen2.5), checked by rendering the
model's own template; it renders `<|im_start|>system…`, the user and assistant turns and the generation
prompt exactly as training did. For a reasoning model an assistant turn's thinking is rendered as
`<think>\\n{{ .Thinking }}\\n</think>\\n` inside the `range .Messages` loop: that is how Ollama recognises a
thinking model (it reads the tags around `.Thinking` and splits `<think>…</think>` out of the reply into
the `thinking` field). Stop tokens are `<|im_end|>` (the end of a turn, which trained models emit right
after `</answer>`) and `<|im_start|>`; `</answer>` is deliberately not a stop: Ollama cuts a stop string out
of the reply, which would leave an unclosed `<answer>` that strict readers reject. The job type comes from
the `config.yaml` saved beside the model (`job:`; a GRPO run is a reasoning job with its own system prompt
and `prefill_think`), or from `job=` for a folder that records none; an unknown job gets no SYSTEM and no
thinking. A reasoning model thinks whatever Ollama's `think` flag says: it was trained to.

Limits: transformers, reading a GGUF back, knows no `smollm` split rule and reads it as plain GPT-2; that
gives the same ids for SmolLM2, whose vocabulary has no multi-digit tokens to merge. thinktune's `default`
and `tiny` tokenizers (read from a GGUF in the first place) are plain `gpt-2` and round trip exactly. The
whole GGUF is held in memory while it is written.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.errors import UserError
from thinktune.io import sha256_file
from thinktune.runs import (
    BASE_FILE,
    METRICS,
    Run,
    final_folder,
    lineage,
    merge_adapter,
    parent_of,
    read_manifest,
    trained_job,
)

GGUF_TYPES = ("f16", "q8_0")
CONVERTERS = ("thinktune", "llama.cpp")
CONVERTER_ENV = "THINKTUNE_LLAMA_CPP_CONVERT"
ARCHITECTURES = ("llama", "qwen2")  # transformers' model_type, which is also the GGUF architecture name
JOBS = ("reasoning", "non_reasoning")
MODELFILE, CARD, HF_DIR = "Modelfile", "README.md", "hf"
CHATML_STOPS = ("<|im_end|>", "<|im_start|>")

# GGUF token types (llama.cpp's llama_token_type)
NORMAL, CONTROL, USER_DEFINED = 1, 3, 4
# the split patterns of Qwen2's and Llama 3's tokenizer.json, which llama.cpp calls `qwen2` and `llama-bpe`
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


# ------------------------------------------------------------------------------------------ the record
@dataclass
class Provenance:
    """What is known about the model being exported: its run, the job it was trained for, its data.

    Attributes:
        source: the folder the user named (a run folder, a `final/`, or a plain model folder).
        model_dir: the model or adapter folder itself (`final_folder(source)`).
        run: the run that saved it, or None for a plain model folder.
        lineage: the run and its ancestors, newest first (empty without a run).
        job: `reasoning`, `non_reasoning` or None (unknown).
        system: the system prompt the model was trained with (None when the job is unknown).
        prefill_think: the prompt ended with an opened `<think>` in training (GRPO `prefill_think`).
        base: the base model the chain of runs started from, as its spec was written.
    """

    source: Path
    model_dir: Path
    run: Run | None = None
    lineage: list[Run] = field(default_factory=list)
    job: str | None = None
    system: str | None = None
    prefill_think: bool = False
    base: str | None = None

    @property
    def reasoning(self) -> bool:
        return self.job == "reasoning"

    @property
    def name(self) -> str:
        """The run's folder name (or the model folder's): the GGUF's `general.name`, the card's title."""
        folder = Path(self.run.folder if self.run is not None else self.source).resolve()
        return folder.parent.name if folder.name in ("final", "merged") else folder.name

    @property
    def ollama_name(self) -> str:
        """`name` as an Ollama model name: lower case letters, digits, `.`, `_` and `-`."""
        return re.sub(r"[^a-z0-9._-]+", "-", self.name.lower()).strip("-._") or "model"


@dataclass
class Exported:
    """What `export_model` wrote: the folder, and each file in it by role."""

    folder: Path
    source: Path
    model: Path | None = None  # the transformers model folder when one was written (folder, or folder/hf)
    gguf: dict[str, Path] = field(default_factory=dict)
    modelfile: Path | None = None
    card: Path | None = None
    provenance: Provenance | None = None


# ------------------------------------------------------------------------------------------- the entry
def export_model(source: str | Path, out: str | Path, *, merge: bool = False, gguf: Iterable[str] = (),
                 ollama: bool = False, card: bool = False, hf: bool | None = None, job: str | None = None,
                 converter: str = "thinktune") -> Exported:
    """Export the model of a run folder (its `final/`) or of a model/adapter folder into `out`.

    Args:
        source: a run folder, a `final/` folder, or any model or adapter folder.
        out: the folder to write; it must not exist, or be empty.
        merge: write the transformers folder with a LoRA adapter merged into its base (GGUF is always merged).
        gguf: GGUF types to write (`f16`, `q8_0`), each as `model-TYPE.gguf`.
        ollama: write a `Modelfile` (using the first GGUF type; `f16` when `gguf` is empty).
        card: write a model card `README.md`.
        hf: write the transformers model folder (`out` itself, or `out/hf/` beside GGUF files); default: only
            when no GGUF is written.
        job: the job type (`reasoning` / `non_reasoning`) when the model does not record one.
        converter: `thinktune` (the writer in this module) or `llama.cpp` (its `convert_hf_to_gguf.py`).

    Raises:
        UserError: `out` is a file or a non-empty folder; an unknown GGUF type, job or converter; a model
            this writer cannot convert; `ollama` for a chat template that is not ChatML.
        FileNotFoundError: `source` holds no model.
    """
    source, out = Path(source), Path(out)
    types = _gguf_types(gguf, ollama)
    if job is not None and job not in JOBS:
        raise UserError(f"job {job!r}: choose one of {', '.join(JOBS)}")
    if converter not in CONVERTERS:
        raise UserError(f"converter {converter!r}: choose one of {', '.join(CONVERTERS)}")
    model_dir = final_folder(source)
    check_out(out)
    if converter == "llama.cpp" and types:
        _llama_cpp_command()  # a converter that is not there is refused before any merging
    hf = not types if hf is None else hf
    prov = provenance(source, job=job)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_dir(out.parent, f".{out.name}.partial-")
    merged_tmp: Path | None = None
    try:
        adapter = (model_dir / "adapter_config.json").is_file()
        # beside GGUF files the transformers folder goes into hf/: transformers, asked for the GGUF's
        # tokenizer (`gguf_file=`), drops its chat template when a tokenizer_config.json sits beside it
        hf_dir = (staging / HF_DIR if types else staging) if hf else None
        if hf_dir is not None and not (merge and adapter):
            shutil.copytree(model_dir, hf_dir, dirs_exist_ok=True)
        plain = model_dir
        if adapter and (types or (hf and merge)):
            merged_tmp = _fresh_dir(out.parent, f".{out.name}.merge-")
            plain = merge_adapter(model_dir, merged_tmp / "model")
            if hf_dir is not None and merge:
                shutil.copytree(plain, hf_dir, dirs_exist_ok=True)
        hf_out = None if hf_dir is None else out / hf_dir.relative_to(staging)
        result = Exported(folder=out, source=model_dir, model=hf_out, provenance=prov)
        if ollama:  # first: a template it cannot write fails before minutes of conversion
            (staging / MODELFILE).write_text(modelfile(gguf_name(types[0]), plain, prov), encoding="utf-8")
            result.modelfile = out / MODELFILE
        for qtype in types:
            path = staging / gguf_name(qtype)
            if converter == "llama.cpp":
                convert_with_llama_cpp(plain, path, qtype)
            else:
                write_gguf(plain, path, qtype, name=prov.name)
            result.gguf[qtype] = out / path.name
        if card:
            (staging / CARD).write_text(model_card(prov, staging, result), encoding="utf-8")
            result.card = out / CARD
        _move_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if merged_tmp is not None:
            shutil.rmtree(merged_tmp, ignore_errors=True)
    return result


def check_out(out: Path) -> None:
    """Refuse an `out` that is a file or a non-empty folder (nothing is ever overwritten)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a folder to export into")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out}: already exists and is not empty; choose another folder or remove it")


def gguf_name(qtype: str) -> str:
    return f"model-{qtype}.gguf"


def _gguf_types(gguf: Iterable[str], ollama: bool) -> tuple[str, ...]:
    types = tuple(dict.fromkeys(str(t).lower() for t in gguf))
    bad = [t for t in types if t not in GGUF_TYPES]
    if bad:
        raise UserError(f"GGUF type {bad[0]!r}: choose among {', '.join(GGUF_TYPES)}")
    return types or (("f16",) if ollama else ())


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new hidden folder beside `out` (same file system, so the final move is a rename), made with the
    usual permissions (a `tempfile.mkdtemp` folder would be private to its owner once renamed)."""
    for _ in range(100):
        path = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise UserError(f"{parent}: could not make a working folder")


def _move_into_place(staging: Path, out: Path) -> None:
    if out.exists():
        out.rmdir()  # empty (checked before): the rename needs the name free
    os.replace(staging, out)


# ------------------------------------------------------------------------------------------ provenance
def provenance(source: str | Path, job: str | None = None) -> Provenance:
    """Read what a source folder says about its model: run, lineage, job type and prompt, base model.

    A plain model folder (no run manifest beside it) gives what its own files say: the job type from its
    `config.yaml`, the base from an adapter's note; the rest stays unknown.
    """
    source = Path(source)
    model_dir = final_folder(source)
    run_folder = parent_of(str(source)) or parent_of(str(model_dir))
    run = Run.load(run_folder) if run_folder and read_manifest(run_folder) is not None else None
    chain = lineage(run.folder) if run is not None else []
    prov = Provenance(source=source, model_dir=model_dir, run=run, lineage=chain)

    config = _job_config(model_dir, run)
    recorded = job or trained_job(model_dir) or config.get("job")
    grpo = (run is not None and run.kind == "grpo") or "rewards" in config
    prov.job = recorded if recorded in JOBS else ("reasoning" if grpo else None)
    if prov.job is not None:
        from thinktune.format import system_prompt

        custom = config.get("system_prompt") if grpo else None
        prov.system = custom if isinstance(custom, str) and custom.strip() else system_prompt(prov.reasoning)
    prov.prefill_think = bool(grpo and config.get("prefill_think"))
    prov.base = _base_model(model_dir, chain)
    return prov


def _job_config(model_dir: Path, run: Run | None) -> dict[str, Any]:
    """The job config saved beside the model (`config.yaml`), else the run manifest's."""
    path = model_dir / "config.yaml"
    if path.is_file():
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            data = None
        if isinstance(data, dict):
            return data
    return dict(run.config) if run is not None else {}


def _base_model(model_dir: Path, chain: list[Run]) -> str | None:
    """The model the chain of runs started from; else what an adapter or a config.json records."""
    for run in reversed(chain):  # oldest first: the root's model is the base
        spec = run.config.get("model")
        if isinstance(spec, str) and spec:
            return spec
    for name, key in ((BASE_FILE, "base"), ("adapter_config.json", "base_model_name_or_path"),
                      ("config.json", "_name_or_path")):
        data = _read_json(model_dir / name)
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# ------------------------------------------------------------------------------------------------ GGUF
def write_gguf(model_dir: str | Path, path: str | Path, qtype: str = "f16", *, name: str | None = None) -> Path:
    """Write a plain (merged) Llama or Qwen2 model folder as one GGUF file of type `f16` or `q8_0`.

    Raises:
        UserError: an architecture, tokenizer or rope scaling this writer does not handle (llama.cpp's
            converter may: `converter="llama.cpp"`), or an unknown type.
    """
    import gguf
    from transformers import AutoTokenizer

    model_dir, path = Path(model_dir), Path(path)
    if qtype not in GGUF_TYPES:
        raise UserError(f"GGUF type {qtype!r}: choose among {', '.join(GGUF_TYPES)}")
    if (model_dir / "adapter_config.json").is_file():
        raise UserError(f"{model_dir}: is a LoRA adapter; merge it first (thinktune.runs.merge_adapter)")
    config = _read_json(model_dir / "config.json")
    arch = config.get("model_type")
    if arch not in ARCHITECTURES:
        raise UserError(f"{model_dir}: GGUF export handles the {' and '.join(ARCHITECTURES)} architectures, "
                        f"not {arch!r}; try llama.cpp's converter (--converter llama.cpp)")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    vocab_size = int(config.get("vocab_size") or len(tokenizer))
    rope = _rope(config, arch, model_dir)

    writer = gguf.GGUFWriter(str(path), arch)
    try:
        _write_hparams(writer, config, qtype, name or model_dir.resolve().name, vocab_size, rope)
        _write_tokenizer(writer, tokenizer, vocab_size, model_dir)
        for tensor_name, data, raw_dtype in _gguf_tensors(model_dir, config, arch, qtype, rope):
            writer.add_tensor(tensor_name, data, raw_dtype=raw_dtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    writer.close()
    return path


@dataclass
class _Rope:
    theta: float
    kind: str = "default"  # default | linear | yarn | llama3
    factor: float = 1.0
    scaling: dict[str, Any] = field(default_factory=dict)


def _rope(config: dict[str, Any], arch: str, model_dir: Path) -> _Rope:
    """The rotary embedding settings, from transformers 5's `rope_parameters` or older `rope_theta`/`rope_scaling`."""
    params = config.get("rope_parameters") or {}
    scaling = config.get("rope_scaling") or params
    kind = scaling.get("rope_type") or scaling.get("type") or "default"
    theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    rope = _Rope(theta=float(theta), kind=kind, factor=float(scaling.get("factor") or 1.0), scaling=dict(scaling))
    if kind not in ("default", "linear", "yarn", "llama3") or (kind == "llama3" and arch != "llama"):
        raise UserError(f"{model_dir}: rope scaling {kind!r} is not handled by thinktune's GGUF writer; "
                        "try llama.cpp's converter (--converter llama.cpp)")
    return rope


def _write_hparams(writer: Any, config: dict[str, Any], qtype: str, name: str, vocab_size: int,
                   rope: _Rope) -> None:
    import gguf

    n_head = int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_context_length(int(config.get("max_position_embeddings") or 2048))
    writer.add_embedding_length(hidden)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or n_head))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_freq_base(rope.theta)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if rope.kind in ("linear", "yarn"):
        kind = gguf.RopeScalingType.LINEAR if rope.kind == "linear" else gguf.RopeScalingType.YARN
        writer.add_rope_scaling_type(kind)
        writer.add_rope_scaling_factor(rope.factor)
        if rope.kind == "yarn" and rope.scaling.get("original_max_position_embeddings"):
            writer.add_rope_scaling_orig_ctx_len(int(rope.scaling["original_max_position_embeddings"]))
    writer.add_vocab_size(vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if qtype == "q8_0" else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


# ------------------------------------------------------------------------------------------- tokenizer
def pre_tokenizer_name(tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's name (`tokenizer.ggml.pre`) for a byte-level BPE tokenizer's split rule.

    Raises:
        UserError: a pre-tokenizer with no known llama.cpp equivalent (guessing would tokenize wrongly).
    """
    pre = tokenizer_json.get("pre_tokenizer") or {}
    parts = (pre.get("pretokenizers") or []) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in parts]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits") and parts[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not parts[1].get("use_regex", True):
        pattern = (parts[0].get("pattern") or {}).get("Regex")
        known = {QWEN2_SPLIT: "qwen2", LLAMA3_SPLIT: "llama-bpe"}
        if pattern in known:
            return known[pattern]
    raise UserError(f"the tokenizer's pre-tokenizer ({json.dumps(pre)[:200]}) has no known llama.cpp "
                    "equivalent; try llama.cpp's converter (--converter llama.cpp)")


def gguf_vocab(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """The GGUF token list and token types: every id below `vocab_size` (unused rows as `[PADn]`)."""
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder  # id -> AddedToken
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(USER_DEFINED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(CONTROL if added[i].special else USER_DEFINED)
        else:
            tokens.append(token)
            types.append(NORMAL)
    return tokens, types


def _write_tokenizer(writer: Any, tokenizer: Any, vocab_size: int, model_dir: Path) -> None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    data = json.loads(backend.to_str()) if backend is not None else {}
    model = data.get("model") or {}
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(data.get("decoder") or {}):
        raise UserError(f"{model_dir}: GGUF export handles byte-level BPE tokenizers (SmolLM2, Qwen2.5, Llama 3), "
                        "not this one; try llama.cpp's converter (--converter llama.cpp)")
    if len(tokenizer) > vocab_size:
        raise UserError(f"{model_dir}: the tokenizer has {len(tokenizer)} tokens but the model only {vocab_size} rows")
    tokens, types = gguf_vocab(tokenizer, vocab_size)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer_name(data))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for attr, add in (("bos_token_id", writer.add_bos_token_id), ("eos_token_id", writer.add_eos_token_id),
                      ("unk_token_id", writer.add_unk_token_id), ("pad_token_id", writer.add_pad_token_id)):
        token_id = getattr(tokenizer, attr, None)
        if isinstance(token_id, int) and 0 <= token_id < vocab_size:
            add(token_id)
    probe = tokenizer("a")["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    writer.add_add_bos_token(bool(probe) and bos is not None and probe[0] == bos)
    writer.add_add_eos_token(bool(probe) and eos is not None and probe[-1] == eos and len(probe) > 1)
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:
        writer.add_chat_template(template)


# --------------------------------------------------------------------------------------------- tensors
def _read_weights(model_dir: Path) -> Iterator[tuple[str, Any]]:
    """(name, torch tensor) for every weight of a saved model (safetensors, else PyTorch .bin files)."""
    files = sorted(p for p in model_dir.glob("*.safetensors") if not p.name.startswith("adapter_"))
    if files:
        from safetensors import safe_open

        for file in files:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a dict
                    yield key, f.get_tensor(key)
        return
    import torch

    for file in sorted(model_dir.glob("pytorch_model*.bin")):
        yield from torch.load(str(file), map_location="cpu", weights_only=True).items()


def _permute_rows(w: Any, n_head: int) -> Any:
    """Llama's query/key rows from transformers' rotary layout (halves) to llama.cpp's (interleaved pairs)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _encode(data: Any, qtype: str) -> tuple[Any, Any]:
    """(array, raw GGML type or None): float32 for vectors, Q8_0 or float16 for matrices."""
    import gguf
    import numpy as np

    if data.ndim < 2:
        return data.astype(np.float32), None
    if qtype == "q8_0" and data.shape[-1] % 32 == 0:
        q8 = gguf.GGMLQuantizationType.Q8_0
        return gguf.quants.quantize(data.astype(np.float32), q8), q8
    return data.astype(np.float16), None


def _gguf_tensors(model_dir: Path, config: dict[str, Any], arch: str, qtype: str,
                  rope: _Rope) -> Iterator[tuple[str, Any, Any]]:
    import gguf

    n_layers = int(config["num_hidden_layers"])
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    tied = bool(config.get("tie_word_embeddings", False))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2, n_layers)
    for key, tensor in _read_weights(model_dir):
        if key.endswith("rotary_emb.inv_freq") or (tied and key == "lm_head.weight"):
            continue
        new = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise UserError(f"{model_dir}: tensor {key} has no GGUF name; try llama.cpp's converter")
        data = tensor.float().numpy()
        if arch == "llama" and new.endswith(".attn_q.weight"):
            data = _permute_rows(data, n_head)
        elif arch == "llama" and new.endswith(".attn_k.weight"):
            data = _permute_rows(data, n_kv)
        yield (new, *_encode(data, qtype))
    if rope.kind == "llama3":
        yield gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", llama3_rope_factors(config, rope), None


def llama3_rope_factors(config: dict[str, Any], rope: _Rope | None = None) -> Any:
    """Llama 3's rope scaling as llama.cpp reads it: one divisor per frequency (`rope_freqs.weight`)."""
    import math

    import numpy as np

    rope = rope or _rope(config, "llama", Path("."))
    s = rope.scaling
    n_head = int(config["num_attention_heads"])
    dim = int(config.get("head_dim") or int(config["hidden_size"]) // n_head)
    factor, low, high = float(s.get("factor", 8.0)), float(s.get("low_freq_factor", 1.0)), \
        float(s.get("high_freq_factor", 4.0))
    old = float(s.get("original_max_position_embeddings", 8192))
    factors = []
    for i in range(0, dim, 2):
        wavelen = 2 * math.pi * rope.theta ** (i / dim)
        if wavelen < old / high:
            factors.append(1.0)
        elif wavelen > old / low:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)


# ---------------------------------------------------------------------------------- llama.cpp converter
def find_llama_cpp_converter() -> Path | None:
    """llama.cpp's `convert_hf_to_gguf.py`: `$THINKTUNE_LLAMA_CPP_CONVERT` (the script, or a llama.cpp checkout),
    else on PATH; None when there is none."""
    env = os.environ.get(CONVERTER_ENV)
    if env:
        path = Path(env).expanduser()
        return path / "convert_hf_to_gguf.py" if path.is_dir() else path
    for name in ("convert_hf_to_gguf.py", "convert_hf_to_gguf", "convert-hf-to-gguf"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _llama_cpp_command() -> list[str]:
    script = find_llama_cpp_converter()
    if script is None or not script.is_file():
        where = f"${CONVERTER_ENV}={os.environ[CONVERTER_ENV]}" if os.environ.get(CONVERTER_ENV) else "PATH"
        raise UserError(f"llama.cpp's convert_hf_to_gguf.py was not found ({where}); set ${CONVERTER_ENV} to it "
                        "or to a llama.cpp checkout, or use --converter thinktune")
    return [sys.executable, str(script)] if script.suffix == ".py" else [str(script)]


def convert_with_llama_cpp(model_dir: str | Path, path: str | Path, qtype: str = "f16") -> Path:
    """Write the GGUF with llama.cpp's converter (a plain, merged model folder in; `path` out)."""
    command = [*_llama_cpp_command(), str(model_dir), "--outfile", str(path), "--outtype", qtype]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not Path(path).is_file():
        lines = (done.stderr or done.stdout or "").strip().splitlines()
        raise UserError(f"llama.cpp's converter failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}")
    return Path(path)


# ---------------------------------------------------------------------------------------------- Ollama
def is_chatml(tokenizer: Any) -> bool:
    """True when the tokenizer's chat template renders ChatML exactly as `ollama_template` does."""
    if not getattr(tokenizer, "chat_template", None):
        return False
    turns = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
             {"role": "assistant", "content": "A"}, {"role": "user", "content": "V"}]
    expected = ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
                "<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n")
    try:
        rendered = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - a template that cannot render this is not ChatML
        return False
    return rendered == expected


def ollama_template(reasoning: bool, prefill_think: bool = False) -> str:
    """The Modelfile TEMPLATE (Go template syntax) that renders a chat as ChatML, the way thinktune trains.

    For a reasoning model an assistant turn's thinking goes back inside `<think>…</think>` before its
    content, inside the `range .Messages` loop: Ollama infers the thinking tags from the text around
    `.Thinking` there and then reports the model as thinking-capable. `prefill_think` ends the generation
    prompt with an opened `<think>` (GRPO's `prefill_think`).
    """
    thinking = "{{ if .Thinking }}<think>\n{{ .Thinking }}\n</think>\n{{ end }}" if reasoning else ""
    opened = "<think>\n" if prefill_think else ""
    return (
        "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}\n"
        "{{- range $i, $_ := .Messages }}\n"
        "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
        "{{- if eq .Role \"user\" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n"
        "{{ else if eq .Role \"assistant\" }}<|im_start|>assistant\n"
        f"{thinking}{{{{ .Content }}}}{{{{ if not $last }}}}<|im_end|>\n{{{{ end }}}}\n"
        "{{- end }}\n"
        f"{{{{- if and (ne .Role \"assistant\") $last }}}}<|im_start|>assistant\n{opened}{{{{ end }}}}\n"
        "{{- end }}"
    )


def modelfile(gguf_file: str, model_dir: str | Path, prov: Provenance) -> str:
    """The Ollama Modelfile: FROM the GGUF beside it, the ChatML TEMPLATE, stop tokens and the SYSTEM prompt.

    Raises:
        UserError: the model's chat template is not ChatML (the only one this writes a TEMPLATE for).
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if not is_chatml(tokenizer):
        raise UserError(f"{model_dir}: the chat template is not ChatML (<|im_start|>role ... <|im_end|>); "
                        "--ollama writes templates for ChatML models (SmolLM2, Qwen2.5) only: export --gguf "
                        "alone and write the Modelfile's TEMPLATE by hand")
    template = ollama_template(prov.reasoning, prov.prefill_think)
    for text in (template, prov.system or ""):
        if '"""' in text:
            raise UserError('the system prompt holds """, which a Modelfile cannot quote')
    job = prov.job or "unknown (no job type recorded; pass --job to choose one)"
    lines = [
        f"# Ollama Modelfile written by thinktune export; job type: {job}",
        f"# ollama create {prov.ollama_name} -f Modelfile && ollama run {prov.ollama_name}",
        f"FROM ./{gguf_file}",
        f'TEMPLATE """{template}"""',
    ]
    if prov.system:
        lines.append(f'SYSTEM """{prov.system}"""')
    lines += [f'PARAMETER stop "{stop}"' for stop in CHATML_STOPS]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ model card
def model_card(prov: Provenance, folder: Path, exported: Exported) -> str:
    """The model card (`README.md`): what the model is for, where it came from, how it did, how to run it."""
    from thinktune import __version__

    run = prov.run
    lines = [f"# {prov.name}", ""]
    lines.append(f"Exported by thinktune {__version__} on {_dt.date.today().isoformat()} from `{prov.source}`.")
    if run is None:
        lines.append("No thinktune run manifest was found beside this model: its data, metrics and lineage "
                     "are unknown.")
    lines += ["", "| | |", "| --- | --- |"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in _summary(prov).items()]
    lines += _metrics_section(run)
    lines += _lineage_section(prov.lineage)
    lines += _files_section(folder, exported)
    lines += _format_section(prov)
    lines += _usage_section(prov, exported)
    return "\n".join(lines).rstrip() + "\n"


def _summary(prov: Provenance) -> dict[str, str]:
    run = prov.run
    job = {"reasoning": "reasoning: thinks inside `<think>…</think>`, then answers inside `<answer>…</answer>`",
           "non_reasoning": "non_reasoning: answers directly inside `<answer>…</answer>`"}.get(prov.job or "", "unknown")
    rows = {"job type": job, "base model": f"`{prov.base}`" if prov.base else "unknown"}
    if run is not None:
        rows["run"] = f"`{run.folder}` ({run.kind}, {run.status}, {run.started or '?'} → {run.ended or '?'})"
        rows["training data"] = _data_line(run)
        versions = run.manifest.get("versions") or {}
        if versions:
            rows["trained with"] = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    rows["model folder"] = f"`{prov.model_dir}`"
    return rows


def _data_line(run: Run) -> str:
    fp = (run.manifest.get("fingerprints") or {}).get("data") or {}
    spec = fp.get("spec") or run.config.get("data") or run.config.get("task")
    parts = [f"`{spec}`" if spec else "unknown"]
    snapshot = run.metrics.get("snapshot") or fp.get("snapshot")
    if snapshot:
        parts.append(f"snapshot `{snapshot}`")
    if fp.get("sha256"):
        parts.append(f"sha256 `{fp['sha256'][:16]}`")
    if run.metrics.get("train_rows") is not None:
        parts.append(f"{run.metrics['train_rows']} training rows")
    return ", ".join(parts)


def _metrics_section(run: Run | None) -> list[str]:
    if run is None:
        return []
    lines = ["", "## Metrics", ""]
    if run.metrics:
        lines += ["| metric | value |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {_cell(_fmt(v))} |" for k, v in run.metrics.items()]
    else:
        lines.append("The run recorded no summary metrics.")
    last = _last_logged(run.folder / METRICS)
    if last:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in last.items())
        lines += ["", f"Last logged training step: {shown}."]
    return lines


def _last_logged(path: Path) -> dict[str, Any]:
    """The last metrics row with a loss (or a reward): the run's final training numbers."""
    if not path.is_file():
        return {}
    from thinktune.io import read_jsonl

    keep = ("step", "loss", "eval_loss", "reward", "accuracy", "format_rate", "learning_rate")
    last: dict[str, Any] = {}
    try:
        for row in read_jsonl(path):
            if any(k in row for k in ("loss", "reward", "eval_loss")):
                last = {k: row[k] for k in keep if k in row}
    except (OSError, ValueError):
        return last
    return last


def _lineage_section(chain: list[Run]) -> list[str]:
    if not chain:
        return []
    lines = ["", "## Lineage (newest first)", "", "| run | kind | status | model | data |",
             "| --- | --- | --- | --- | --- |"]
    for run in chain:
        data = run.metrics.get("snapshot") or run.config.get("data") or run.config.get("task") or ""
        lines.append(f"| `{run.folder}` | {run.kind} | {run.status} | `{run.config.get('model', '')}` | "
                     f"{_cell(str(data))} |")
    return lines


def _files_section(folder: Path, exported: Exported) -> list[str]:
    lines = ["", "## Files", "", "| file | what | size | sha256 |", "| --- | --- | --- | --- |"]
    for qtype, path in exported.gguf.items():
        local = folder / path.name
        what = f"GGUF, {qtype}" + (" (weights quantized to 8 bits in blocks of 32)" if qtype == "q8_0" else "")
        lines.append(f"| `{path.name}` | {what} | {_size(local)} | `{sha256_file(local)[:16]}` |")
    if exported.modelfile is not None:
        lines.append(f"| `{MODELFILE}` | Ollama Modelfile | | |")
    if exported.model is not None:
        where = f"`{exported.model.relative_to(exported.folder)}/`" if exported.model != exported.folder else \
            "`config.json`, weights, tokenizer"
        lines.append(f"| {where} | transformers model folder | | |")
    return lines


def _format_section(prov: Provenance) -> list[str]:
    if prov.job is None:
        return []
    lines = ["", "## Prompt format", "", "System prompt (the Modelfile's SYSTEM):", "", "```text", prov.system or "",
             "```", ""]
    if prov.reasoning:
        lines.append("The reply: `<think>` with the reasoning, one step per line, `</think>`, then "
                     "`<answer>` with the final answer only, `</answer>`.")
    else:
        lines.append("The reply: the final answer only, inside `<answer>` `</answer>`.")
    if prov.prefill_think:
        lines.append("The prompt ends with an opened `<think>` (the model was trained that way).")
    return lines


def _usage_section(prov: Provenance, exported: Exported) -> list[str]:
    lines = ["", "## Use", ""]
    if exported.modelfile is not None:
        lines += ["```sh", f"ollama create {prov.ollama_name} -f Modelfile", f"ollama run {prov.ollama_name}",
                  "```", ""]
    if exported.gguf:
        first = next(iter(exported.gguf.values())).name
        lines += ["```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  f'model = AutoModelForCausalLM.from_pretrained(".", gguf_file="{first}")',
                  f'tokenizer = AutoTokenizer.from_pretrained(".", gguf_file="{first}")', "```", ""]
    if exported.model is not None:
        folder = "." if exported.model == exported.folder else str(exported.model.relative_to(exported.folder))
        lines += ["```sh", f"thinktune chat {folder}", "```"]
    return lines


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _size(path: Path) -> str:
    size = float(path.stat().st_size) if path.is_file() else 0.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GB"

