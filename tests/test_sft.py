"""SFT smoke tests on the tiny model, for each job type: the parameters train, the loss falls on the
assistant's target only, the final model reloads and generates, and a second run resumes from the saved
step. (The tiny model with the 49K-token tokenizer takes ~1 s per step at batch 2.)"""

from __future__ import annotations

import json

import pytest
import torch

from thinktune import cli
from thinktune.config import ConfigError, load_config
from thinktune.data.readers import write_examples
from thinktune.data.schema import Example
from thinktune.recipes.config import LoraSettings
from thinktune.recipes.sft import SFTJobConfig, build_trainer, last_checkpoint, load_split, run

FULL = LoraSettings(enabled=False)
SMALL_LORA = LoraSettings(r=4, alpha=8)


def config(tmp_path, name="run", **kw) -> SFTJobConfig:
    base = {"model": "tiny", "data": "builtin:arith_sample", "limit": 8, "val_fraction": 0.0, "max_steps": 2,
            "batch_size": 2, "learning_rate": 1e-2, "warmup_ratio": 0.0, "lr_scheduler": "constant",
            "max_length": 160, "save_steps": 2, "output_dir": str(tmp_path / name), "lora": SMALL_LORA}
    return SFTJobConfig(**{**base, **kw})


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def tiny_state() -> dict[str, torch.Tensor]:
    from thinktune.models import load_model

    model, _ = load_model("tiny", device="cpu")
    return {k: v.clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------------------------- the mask
@pytest.mark.parametrize("job", ["reasoning", "non_reasoning"])
def test_loss_only_on_the_assistant_target(tmp_path, tokenizer, job):
    cfg = config(tmp_path, job=job)
    trainer = build_trainer(cfg, load_split(cfg))
    rows = [trainer.train_dataset[i] for i in range(4)]
    batch = trainer.data_collator(rows)
    for i, row in enumerate(rows):
        # The prompt as generation would see it: every one of its tokens must be masked out.
        prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        n_total = len(row["input_ids"])
        labels, ids = batch["labels"][i], batch["input_ids"][i]
        assert (labels[:n_prompt] == -100).all()
        assert torch.equal(labels[n_prompt:n_total], ids[n_prompt:n_total])  # every target token is trained
        assert (labels[n_total:] == -100).all()  # padding
        trained = tokenizer.decode(ids[n_prompt:n_total])
        assert trained.startswith("<think>" if job == "reasoning" else "<answer>")
        assert "<think>" not in trained if job == "non_reasoning" else "</think>" in trained
        assert trained.rstrip().endswith("<|im_end|>")  # the model learns to stop


# ------------------------------------------------------------------------------ train, reload, resume
@pytest.mark.parametrize(("job", "lora"), [("reasoning", SMALL_LORA), ("non_reasoning", FULL)],
                         ids=["reasoning-lora", "non_reasoning-full"])
def test_train_reload_resume(tmp_path, job, lora):
    from thinktune.chat import chat
    from thinktune.models import load_model

    cfg = config(tmp_path, job=job, lora=lora)
    out = run(cfg).folder

    # The run folder: final model, a checkpoint with the config beside it, config, metrics.
    assert (out / "checkpoint-2" / "config.yaml").is_file()
    assert load_config(SFTJobConfig, out / "config.yaml") == cfg
    assert load_config(SFTJobConfig, out / "checkpoint-2" / "config.yaml") == cfg
    log = [r for r in metrics(out) if "loss" in r]
    assert [r["step"] for r in log] == [1, 2]
    assert all(r["tokens_per_s"] > 0 and r["learning_rate"] == pytest.approx(1e-2) for r in log)

    # The trainable parameters changed; with LoRA the base weights did not.
    model, tok = load_model(str(out / "final"), device="cpu")
    before = tiny_state()
    if lora.enabled:
        assert (out / "final" / "adapter_config.json").is_file()
        lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
        assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # lora_B starts at zero
        base = model.get_base_model().state_dict()
        plain = {k.replace(".base_layer", ""): v for k, v in base.items() if "lora_" not in k}
        assert all(torch.equal(plain[k], v) for k, v in before.items())
    else:
        after = model.state_dict()
        changed = [k for k, v in before.items() if not torch.equal(after[k], v)]
        assert "model.embed_tokens.weight" in changed and any("mlp" in k for k in changed)

    # The final model generates (through the same path as `thinktune chat`).
    reply = chat((model, tok), "What is 2 + 3?", max_new_tokens=6, reasoning=job == "reasoning")
    assert 0 < reply.tokens <= 6 and isinstance(reply.raw, str)

    # Resume: a longer run in the same folder starts from checkpoint-2, not from step 0.
    assert run(config(tmp_path, job=job, lora=lora, max_steps=3)).status == "succeeded"
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e["event"] in ("start", "resume")] == ["start", "resume"]
    second = [e for e in events if e["event"] == "data"][1]
    assert second["resumed_from"] == "checkpoint-2" and second["start_step"] == 2
    assert [r["step"] for r in metrics(out) if "loss" in r] == [1, 2, 3]  # none twice, none missing
    assert last_checkpoint(out).name == "checkpoint-3"  # the trainer also saves the last step
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    # The same command again: finished, nothing to train, the folder untouched.
    events_before = (out / "events.jsonl").read_text()
    assert run(config(tmp_path, job=job, lora=lora, max_steps=3)).status == "succeeded"
    assert (out / "events.jsonl").read_text() == events_before

    # Resuming under settings the checkpoint's weights depend on is refused, naming each difference.
    other = "non_reasoning" if job == "reasoning" else "reasoning"
    with pytest.raises(ConfigError, match=r"checkpoint-3 .*job: .*limit: 8 there, 6 now"):
        run(config(tmp_path, job=other, lora=lora, max_steps=4, limit=6))
    assert last_checkpoint(out).name == "checkpoint-3"  # nothing trained


def test_reasoning_tokens_lora_merge_and_export(tmp_path):
    """Single-token tags with LoRA: the grown embeddings are saved, reload, and merge to the same model."""
    from thinktune.models import load_model

    out = run(config(tmp_path, max_steps=1, save_steps=0, add_reasoning_tokens=True, merge=True)).folder
    adapter, tok = load_model(str(out / "final"), device="cpu")
    merged, tok2 = load_model(str(out / "merged"), device="cpu")
    assert len(tok.encode("<think>", add_special_tokens=False)) == 1
    assert len(tok2) == len(tok) == merged.get_input_embeddings().weight.shape[0]
    assert not (out / "checkpoint-1").exists()
    ids = tok("<think>\n1 + 2 = 3\n</think>", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(adapter(ids).logits, merged(ids).logits, atol=1e-4)
    # the trained tag rows moved away from their shared (mean) initial value
    emb = merged.get_input_embeddings().weight
    new = tok.convert_tokens_to_ids(["<think>", "</think>"])
    assert not torch.allclose(emb[new[0]], emb[new[1]])

    assert cli.main(["export", str(out), "--merge", "--out", str(tmp_path / "exported")]) == 0
    assert (tmp_path / "exported" / "config.json").is_file()
    assert not (tmp_path / "exported" / "adapter_config.json").exists()
    assert cli.main(["export", str(out), "--out", str(tmp_path / "exported")]) == 2  # never overwrites
    (tmp_path / "a_file").write_text("x")
    assert cli.main(["export", str(out), "--out", str(tmp_path / "a_file")]) == 2  # a file: one-line error


# ------------------------------------------------------------------------------------------- errors
def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "sft.yaml"
    path.write_text("job: reasoning\nmodel: tiny\nlearning_rat: 1e-4\n")
    with pytest.raises(ConfigError, match=rf"{path}:3: unknown key 'learning_rat'.*did you mean 'learning_rate'"):
        load_config(SFTJobConfig, path)
    path.write_text("lora:\n  rank: 8\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: unknown key 'lora.rank'"):
        load_config(SFTJobConfig, path)


@pytest.mark.parametrize(("line", "message"), [
    ("job: thinking", "'job' must be one of 'reasoning', 'non_reasoning'"),
    ("val_fraction: 1.5", "val_fraction must be in"),
    ("max_steps: 0", "max_steps must be -1"),
    ("warmup_ratio: 3", "warmup_ratio must be in"),
    ("lora:\n  r: many", "'lora.r' must be an integer"),
])
def test_invalid_values(tmp_path, line, message):
    path = tmp_path / "sft.yaml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(SFTJobConfig, path)


def test_unknown_scheduler_is_a_config_error(tmp_path):
    from thinktune.recipes.sft import sft_args

    with pytest.raises(ConfigError, match="invalid training setting: cosinus is not a valid SchedulerType"):
        sft_args(config(tmp_path, lr_scheduler="cosinus"))


def test_reasoning_job_on_rows_without_reasoning_names_the_row(tmp_path):
    data = write_examples([Example("What is 1 + 1?", "2", reasoning="1 + 1 = 2"), Example("What is 2 + 2?", "4")],
                          tmp_path / "mixed.jsonl")
    cfg = config(tmp_path, data=str(data), limit=None)
    with pytest.raises(ConfigError, match=r"mixed\.jsonl:2: a reasoning job needs step-by-step reasoning"):
        build_trainer(cfg, load_split(cfg))


def test_unknown_builtin_dataset_lists_the_known_ones(tmp_path):
    from thinktune.errors import UserError

    with pytest.raises(UserError, match="builtin:arith_sample"):
        load_split(config(tmp_path, data="builtin:nope"))


def test_split_is_deterministic_and_named(tmp_path):
    a = load_split(config(tmp_path, limit=40, val_fraction=0.1))
    b = load_split(config(tmp_path, limit=40, val_fraction=0.1))
    assert a.id == b.id and len(a.validation) == 4 and len(a.train) == 36
    assert load_split(config(tmp_path, limit=40, val_fraction=0.1, seed=1)).id != a.id


def test_show_config_prints_the_values_the_run_would_use(capsys, tmp_path):
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "configs" / "sft_quickstart.yaml"
    assert cli.main(["train", "sft", str(shipped), "--set", "learning_rate=0.5",
                     "--set", "max_length=77", "--show-config"]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["learning_rate"] == "0.5" and rows["max_length"] == "77"
    assert cli.main(["train", "sft", str(tmp_path / "missing.yaml"), "--show-config"]) == 2  # checked, not ignored
    assert cli.main(["train", "sft", "--show-config"]) == 0  # no config at all: the defaults
