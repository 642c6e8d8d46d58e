"""Model specs: tiny, the embedded default model, folders, errors; and the catalog."""

from __future__ import annotations

import pytest
import torch

from thinktune.models import CATALOG, load_model, memory_estimate_gb, resolve_spec, tiny_model
from thinktune.models.catalog import catalog_rows


def test_tiny_model_is_small_and_deterministic(tokenizer):
    a, _ = tiny_model(tokenizer, seed=0)
    b, _ = tiny_model(tokenizer, seed=0)
    c, _ = tiny_model(tokenizer, seed=1)
    assert a.config.num_hidden_layers == 2 and a.config.hidden_size == 64
    assert sum(p.numel() for p in a.parameters()) < 4_000_000
    assert torch.equal(a.model.layers[0].mlp.up_proj.weight, b.model.layers[0].mlp.up_proj.weight)
    assert not torch.equal(a.model.layers[0].mlp.up_proj.weight, c.model.layers[0].mlp.up_proj.weight)


def test_tiny_model_generates(tiny):
    model, tok = tiny
    ids = tok("hello", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids.input_ids.shape[1] + 5


def test_saved_folder_round_trips(tiny, tmp_path):
    model, tok = tiny
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    loaded, ltok = load_model(str(tmp_path / "m"), device="cpu")
    ids = tok("a b c", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, loaded(ids).logits, atol=1e-5)
    assert ltok.eos_token == tok.eos_token


@pytest.mark.parametrize(
    "spec,message",
    [("./no/such/folder", "no such model folder"), ("missing.gguf", "GGUF file not found")],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(FileNotFoundError, match=message):
        resolve_spec(spec)


def test_a_run_folder_stands_for_its_final_model(tiny, tmp_path):
    model, tok = tiny
    model.save_pretrained(tmp_path / "run" / "final")
    tok.save_pretrained(tmp_path / "run" / "final")
    assert resolve_spec(str(tmp_path / "run")) == (str(tmp_path / "run" / "final"), {})
    loaded, _ = load_model(str(tmp_path / "run"), device="cpu")
    assert loaded.config.hidden_size == model.config.hidden_size
    (tmp_path / "run" / "config.json").write_text(model.config.to_json_string())  # a model folder wins
    assert resolve_spec(str(tmp_path / "run")) == (str(tmp_path / "run"), {})


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_spec(str(tmp_path))


def test_hub_ids_pass_through_untouched():
    assert resolve_spec("Qwen/Qwen2.5-3B-Instruct") == ("Qwen/Qwen2.5-3B-Instruct", {})
    # the default model's own Hub id means the Hub's weights, not the embedded Q4_1 copy
    assert resolve_spec("HuggingFaceTB/SmolLM2-135M-Instruct") == ("HuggingFaceTB/SmolLM2-135M-Instruct", {})


def test_tiny_honours_dtype_and_an_adapter_without_tokenizer_files_finds_its_bases(tmp_path):
    import json

    import torch

    from thinktune.models import load_model, load_tokenizer

    model, _ = load_model("tiny", dtype="bfloat16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "tiny"}))
    assert len(load_tokenizer(str(folder))) == len(load_tokenizer("tiny"))  # "tiny" is a spec, not a Hub id


@pytest.mark.default_model
def test_embedded_default_model_loads_from_the_wheel_and_answers():
    from thinktune.format import build_messages, render_prompt
    from thinktune.models import default_gguf_path

    assert default_gguf_path().stat().st_size > 50_000_000
    model, tok = load_model("default", device="cpu")
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    prompt = render_prompt(tok, build_messages("What is the capital of France?", reasoning=False))
    ids = tok(prompt, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    reply = tok.decode(out[0, ids.input_ids.shape[1]:], skip_special_tokens=True)
    assert "Paris" in reply


def test_catalog_covers_the_families_with_estimates():
    families = {e.family for e in CATALOG}
    assert {"Qwen2.5", "Gemma", "Llama", "Phi"} <= families
    assert any(e.id == "Qwen/Qwen2.5-3B-Instruct" and "reasoning" in e.suits for e in CATALOG)
    assert memory_estimate_gb(3.0, "full") > memory_estimate_gb(3.0, "lora")
    assert all(r["lora_gb"] < r["full_ft_gb"] for r in catalog_rows())
    assert all("reasoning" in r["suits"] for r in catalog_rows("reasoning"))
