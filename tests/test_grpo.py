"""The GRPO recipe: shipped configs load, prompts are built right, and a few steps on the tiny model
train (parameters change), write every metric field per step, raise alarms and save a loadable model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktune.config import ConfigError, load_config
from thinktune.data.schema import Example
from thinktune.recipes.grpo import CONFIG_CLASS, STEP_FIELDS, GRPOJobConfig, prompt_row

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "tasks"
SHIPPED = sorted((ROOT / "configs").glob("grpo_*.yaml"))


# -------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_grpo_config_loads_and_its_rewards_build(path, tmp_path):
    from thinktune.config import save_config
    from thinktune.rewards import get_reward
    from thinktune.tasks import TASKS

    cfg = load_config(CONFIG_CLASS, path)
    save_config(cfg, tmp_path / "saved.yaml")  # the run folder's copy reloads to the same config
    assert load_config(CONFIG_CLASS, tmp_path / "saved.yaml") == cfg
    assert cfg.task in TASKS or cfg.task.split(":")[0] + ":<" in " ".join(TASKS)
    for spec in cfg.rewards:
        get_reward(spec.name, spec.options, defaults={"max_length": cfg.max_completion_length, "prefilled": True})


def test_there_are_shipped_configs():
    assert {p.name for p in SHIPPED} >= {"grpo_arithmetic.yaml", "grpo_countdown.yaml", "grpo_gsm8k.yaml"}


def test_unknown_key_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: tiny\nnum_generation: 4\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: unknown key 'num_generation'.*did you mean 'num_generations'"):
        load_config(CONFIG_CLASS, path)


def test_unknown_reward_key_names_the_section(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rewards:\n  - {name: accuracy, wieght: 2}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'rewards\[0\].wieght'"):
        load_config(CONFIG_CLASS, path)


@pytest.mark.parametrize("override,message", [
    ("num_generations=1", "num_generations must be at least 2"),
    ("max_steps=0", "max_steps must be at least 1"),
    ("rewards=[]", "at least one reward"),
    ("loss_type=ppo", "loss_type"),
    ("temperature=0", "temperature > 0"),
])
def test_bad_values_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIG_CLASS, None, [override])


def test_defaults_are_accuracy_plus_format_and_cpu_sized():
    cfg = GRPOJobConfig()
    assert [(r.name, r.weight) for r in cfg.rewards] == [("accuracy", 1.0), ("format_strict", 0.5)]
    assert cfg.use_vllm is False and cfg.beta == 0.0 and cfg.num_generations >= 2


# -------------------------------------------------------------------------------------------- prompts
def test_prompt_row_is_a_chat_with_verifier_columns():
    ex = Example("Calculate 2 + 3.", "5", verifier="numeric", meta={"numbers": [2, 3]})
    row = prompt_row(ex)
    assert row["prompt"][0]["role"] == "system" and "<think>" in row["prompt"][0]["content"]
    assert row["prompt"][-1] == {"role": "user", "content": "Calculate 2 + 3."}
    assert (row["answer"], row["verifier"], json.loads(row["meta"])) == ("5", "numeric", {"numbers": [2, 3]})


def test_prompt_row_keeps_history_after_the_system_message_and_honours_overrides():
    ex = Example("and now?", "1", system="Be terse.", history=[{"role": "user", "content": "hi"},
                                                                 {"role": "assistant", "content": "hello"}])
    roles = [m["role"] for m in prompt_row(ex, system_prompt="ignored")["prompt"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert prompt_row(ex)["prompt"][0]["content"] == "Be terse."
    plain = Example("q", "1")
    assert prompt_row(plain, system_prompt="Custom.")["prompt"][0]["content"] == "Custom."


def test_prompt_row_prefilled_think_ends_inside_the_thinking(tokenizer):
    row = prompt_row(Example("Calculate 2 + 3.", "5"), prefill_with=tokenizer)
    assert isinstance(row["prompt"], str)
    assert row["prompt"].endswith("<|im_start|>assistant\n<think>\n")


def test_prompt_row_does_not_open_think_twice_when_the_template_already_does():
    class OpensThink:  # a Qwen3 / R1-distill style template
        chat_template = "..."

        def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
            return "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n"

    row = prompt_row(Example("q", "1"), prefill_with=OpensThink())
    assert row["prompt"].count("<think>") == 1 and row["prompt"].endswith("<think>\n")


# ------------------------------------------------------------------------------------- diagnostics
def _monitor(tmp_path, rewards: dict[str, str]):
    from thinktune.recipes.grpo import GRPOMonitor
    from thinktune.rewards import get_reward
    from thinktune.rewards.alarms import AlarmSettings

    names, kinds = list(rewards), list(rewards.values())
    monitor = GRPOMonitor(tmp_path / "m.jsonl", names, kinds, [1.0] * len(names), AlarmSettings(), prefilled=True)
    return monitor, [monitor.wrap(get_reward(n, {"prefilled": True})) for n in names]


def test_answers_the_bootstrap_reward_reads_are_not_counted_as_empty(tmp_path):
    # accuracy_any pays "so it is 7" for reading the last number: that answer is not empty, nothing is hacked
    monitor, funcs = _monitor(tmp_path, {"accuracy_any": "correctness", "format_strict": "format"})
    prompts, completions = ["What is 3 + 4?"] * 4, ["so it is 7"] * 4
    for f in funcs:
        f(prompts, completions, answer=["7"] * 4)
    d = monitor._diagnostics()
    assert d["empty_answer_rate"] == 0.0 and d["empty_rewarded_rate"] == 0.0


def test_accuracy_reads_the_answer_block_leniently_and_accuracy_strict_needs_the_format(tmp_path):
    monitor, funcs = _monitor(tmp_path, {"accuracy": "correctness"})
    completions = ["2 + 2 is 4</think>\n<answer>\n4", "2 + 2 is 4</think>\n<answer>\n4\n</answer>"]
    funcs[0](["q"] * 2, completions, answer=["4"] * 2)  # prefilled: the first lacks only </answer>
    d = monitor._diagnostics()
    assert d["accuracy"] == 1.0 and d["accuracy_strict"] == 0.5 and d["format_rate"] == 0.5


def test_format_rewards_alone_do_not_count_as_rewarding_empty_answers(tmp_path):
    monitor, funcs = _monitor(tmp_path, {"tag_count": "format"})
    prompts, completions = ["q"] * 2, ["x</think>\n<answer>\n</answer>"] * 2
    for f in funcs:
        assert f(prompts, completions) == [1.0, 1.0]
    d = monitor._diagnostics()
    assert d["empty_answer_rate"] == 1.0 and d["empty_rewarded_rate"] == 0.0  # no correctness reward at all


def test_grpo_from_an_sft_lora_run_uses_the_sft_model_as_reference_and_saves_it_merged(tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from thinktune.models import tiny_model
    from thinktune.recipes import sft
    from thinktune.recipes.config import LoraSettings
    from thinktune.recipes.grpo import _starts_from_adapter, build_trainer

    base = tmp_path / "base"  # a base model in a folder, as `default` and every Hub model are
    model, tok = tiny_model(seed=0)
    model.save_pretrained(str(base))
    tok.save_pretrained(str(base))
    sft_run = sft.run(sft.SFTJobConfig(model=str(base), data="builtin:arith_sample", limit=4, val_fraction=0.0,
                                       max_steps=1, batch_size=2, learning_rate=0.05, save_steps=0,
                                       output_dir=str(tmp_path / "sft"), lora=LoraSettings(r=4, alpha=8))).folder
    assert _starts_from_adapter(str(sft_run))  # the run folder stands for its final/ adapter
    monkeypatch.syspath_prepend(str(FIXTURES))
    cfg = load_config(CONFIG_CLASS, None, [*SMOKE, f"model={sft_run}", "lora={enabled: false}", "beta=0.1",
                                           f"output_dir={tmp_path / 'grpo'}"])
    trainer, _ = build_trainer(cfg)
    reference = AutoModelForCausalLM.from_pretrained(str(tmp_path / "grpo" / "reference"))
    policy = dict(trainer.model.named_parameters())
    assert all(torch.equal(p, policy[n]) for n, p in reference.named_parameters())  # the merged SFT model


def test_unknown_task_is_a_config_error():
    from thinktune.recipes.grpo import build_dataset

    with pytest.raises(ConfigError, match="task nope"):
        build_dataset(load_config(CONFIG_CLASS, None, ["task=nope"]))
    with pytest.raises(ConfigError, match="unknown option"):
        build_dataset(load_config(CONFIG_CLASS, None, ["task_options={opps: 2}"]))


def test_dataset_from_a_users_jsonl_task_carries_the_verifier_columns():
    from thinktune.recipes.grpo import build_dataset

    ds = build_dataset(load_config(CONFIG_CLASS, None, [f"task=jsonl:{FIXTURES / 'user.jsonl'}"]))
    assert len(ds) == 4 and ds[3]["verifier"] == "code"
    assert json.loads(ds[2]["meta"])["numbers"] == [2, 5]


def test_rewards_error_is_a_config_error(tmp_path):
    from thinktune.recipes.grpo import build_trainer

    cfg = load_config(CONFIG_CLASS, None, ["model=tiny", "rewards=[{name: acurracy}]", "train_size=4",
                                            f"output_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="rewards: unknown reward 'acurracy'"):
        build_trainer(cfg)


# ---------------------------------------------------------------------------------------------- smoke
SMOKE = ["model=tiny", "max_steps=3", "max_completion_length=8", "prompts_per_step=2", "num_generations=2",
         "train_size=8", "learning_rate=0.01", "temperature=1.0", "task_options={ops: 1, digits: 1}",
         "rewards=[{name: accuracy}, {name: tag_count, weight: 0.5}, {name: 'smoke_rewards:distinct_chars'}]"]


def _steps(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rows


def test_grpo_smoke_lora_through_the_cli(tmp_path, monkeypatch):
    """`thinktune train grpo` on the tiny model: LoRA weights move, every field is logged, alarms fire."""
    from safetensors.torch import load_file

    from thinktune.cli import main
    from thinktune.models import load_model

    monkeypatch.syspath_prepend(str(FIXTURES))
    out = tmp_path / "run"
    argv = ["train", "grpo", *sum((["--set", s] for s in [*SMOKE, f"output_dir={out}"]), [])]
    assert main(argv) == 0

    steps = _steps(out)
    assert [r["step"] for r in steps] == [1, 2, 3]
    for r in steps:
        missing = [k for k in STEP_FIELDS if k not in r]
        assert not missing, missing
        for name in ("accuracy", "tag_count", "distinct_chars"):
            assert isinstance(r[f"rewards/{name}/mean"], float)
        assert r["completion_length_max"] <= 8 and 0.0 <= r["zero_variance_frac"] <= 1.0
        assert r["accuracy"] == 0.0 and r["format_rate"] == 0.0  # a random model: no tags, no answers
        assert r["kl"] is None  # beta 0: TRL computes no KL
    # the users' reward counts as correctness and pays gibberish with no answer: the alarm must say so
    assert all(r["alarm/rewarded_empty"] for r in steps)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["kind"] == "grpo" and manifest["status"] == "succeeded"
    assert "rewarded_empty" in manifest["metrics"]["alarms_fired"]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "finish"
    assert any(e["event"] == "alarm" and e["alarm"] == "rewarded_empty" for e in events)

    adapter = load_file(str(out / "final" / "adapter_model.safetensors"))
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # B starts at zero: nonzero means it trained
    model, _ = load_model(str(out / "final"))
    assert model is not None
    assert (out / "config.yaml").is_file() and (out / "final" / "config.yaml").is_file()
    samples = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert [s["step"] for s in samples] == [1] * 4 + [2] * 4 + [3] * 4  # sample_completions defaults to 4
    assert set(samples[0]["rewards"]) == {"accuracy", "tag_count", "distinct_chars"}


def test_grpo_smoke_full_finetune_with_kl(tmp_path, monkeypatch):
    """Full fine-tune with beta > 0: the tiny model's weights change and the KL is logged."""
    import torch

    from thinktune.config import load_config
    from thinktune.models import load_model, tiny_model
    from thinktune.recipes.grpo import run

    monkeypatch.syspath_prepend(str(FIXTURES))
    cfg = load_config(CONFIG_CLASS, None, [*SMOKE, "max_steps=2", "lora={enabled: false}", "beta=0.1",
                                           "learning_rate=0.001", f"output_dir={tmp_path / 'run'}"])
    out = run(cfg).folder
    steps = _steps(out)
    assert len(steps) == 2 and all(isinstance(r["kl"], float) for r in steps)
    before, _ = tiny_model(seed=0)
    after, _ = load_model(str(out / "final"))
    changed = [n for n, p in after.named_parameters() if not torch.equal(p, before.state_dict()[n])]
    assert changed


def test_thinktune_rollouts_train_and_a_seed_reproduces_the_completions(tmp_path):
    """`rollouts: thinktune`: the completions come from thinktune's engine through TRL's rollout_func, G per
    prompt within the budget; the same seed gives the same completions; the adapter trains."""
    from thinktune.jobs import load_job_config, run_job
    from thinktune.recipes.rollouts import group_prompts

    assert group_prompts(["a", "a", "b", "b", "a"]) == [("a", 2), ("b", 2), ("a", 1)]
    settings = ["model=tiny", "max_completion_length=8", "prompts_per_step=2", "num_generations=4", "train_size=8",
                "learning_rate=0.01", "task_options={ops: 1, digits: 1}", "sample_completions=8", "max_steps=2",
                "rollouts=thinktune"]
    texts = []
    for name in ("a", "b"):
        run = run_job("grpo", load_job_config("grpo", None, [*settings, f"output_dir={tmp_path / name}"]))
        assert run.status == "succeeded"
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows] == [1, 2] and all(0 < r["completion_length_max"] <= 8 for r in rows)
        samples = [json.loads(line) for line in (tmp_path / name / "completions.jsonl").read_text().splitlines()]
        assert len(samples) == 16 and len({s["completion"] for s in samples}) > 1
        texts.append([s["completion"] for s in samples])
    assert texts[0] == texts[1]
    # The same command on the finished run trains nothing (resumed at its last step, TRL would take one more).
    events_before = (tmp_path / "a" / "events.jsonl").read_text()
    again = run_job("grpo", load_job_config("grpo", None, [*settings, f"output_dir={tmp_path / 'a'}"]))
    assert again.status == "succeeded" and (tmp_path / "a" / "events.jsonl").read_text() == events_before
    assert [json.loads(line)["step"] for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert not (tmp_path / "a" / "checkpoint-3").exists()
    other = run_job("grpo", load_job_config("grpo", None, [*settings, "seed=1", f"output_dir={tmp_path / 'c'}"]))
    assert other.status == "succeeded"
    assert [json.loads(line)["completion"] for line in (tmp_path / "c" / "completions.jsonl").read_text().splitlines()] != texts[0]
