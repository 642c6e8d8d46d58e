"""Typed config loading: unknown keys, wrong types and bad YAML are errors naming the file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from thinktune.config import ConfigError, describe, load_config, save_config
from thinktune.recipes.config import LoraSettings


@dataclass(frozen=True)
class Job:
    job: Literal["reasoning", "non_reasoning"] = field(default="reasoning", metadata={"help": "job type"})
    learning_rate: float = field(default=1e-4, metadata={"help": "peak learning rate"})
    max_steps: int = field(default=10, metadata={"help": "optimiser steps"})
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    lora: LoraSettings = field(default_factory=LoraSettings)


def write(tmp_path, text):
    p = tmp_path / "job.yaml"
    p.write_text(text)
    return p


def test_loads_values_and_nested_sections(tmp_path):
    p = write(tmp_path, "job: non_reasoning\nlearning_rate: 3e-4\nlora:\n  r: 8\n  enabled: false\ntags: [a, b]\n")
    cfg = load_config(Job, p)
    assert cfg == Job(job="non_reasoning", learning_rate=3e-4, tags=["a", "b"], lora=LoraSettings(r=8, enabled=False))


@pytest.mark.parametrize(
    "text,message",
    [
        ("job: reasoning\nlerning_rate: 1\n", r"job.yaml:2: unknown key 'lerning_rate' for Job \(did you mean 'learning_rate'\?\)"),
        ("lora:\n  rank: 8\n", r"job.yaml:2: unknown key 'lora.rank' for LoraSettings"),
        ("job: thinking\n", r"job.yaml:1: 'job' must be one of 'reasoning', 'non_reasoning', got 'thinking'"),
        ("max_steps: ten\n", r"job.yaml:1: 'max_steps' must be an integer, got 'ten'"),
        ("max_steps: 3\nmax_steps: 4\n", r"job.yaml:2: duplicate key 'max_steps'"),
        ("lora: [1, 2]\n", r"'lora' must be a mapping"),
        ("job: [unclosed\n", r"job.yaml:2: invalid YAML"),
        ("- just\n- a list\n", r"top level must be a mapping"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Job, write(tmp_path, text))


def test_overrides_apply_with_types_and_dotted_sections(tmp_path):
    cfg = load_config(Job, write(tmp_path, "max_steps: 3\n"), ["max_steps=7", "lora.r=4", "name=run1"])
    assert (cfg.max_steps, cfg.lora.r, cfg.name) == (7, 4, "run1")
    with pytest.raises(ConfigError, match="unknown key 'lora.rr'"):
        load_config(Job, None, ["lora.rr=4"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(Job, None, ["max_steps"])


@pytest.mark.parametrize("overrides,message", [
    # an overridden key's error points at the override, not at the YAML line it replaced
    (["max_steps=ten"], r"^--set max_steps=ten: 'max_steps' must be an integer, got 'ten'"),
    (["lora.r=abc"], r"^--set lora.r=abc: 'lora.r' must be an integer, got 'abc'"),
    (["lora.rank=4"], r"^--set lora.rank=4: unknown key 'lora.rank'"),
])
def test_override_errors_name_the_override(tmp_path, overrides, message):
    p = write(tmp_path, "max_steps: 3\nlora:\n  r: 8\n")
    with pytest.raises(ConfigError, match=message):
        load_config(Job, p, overrides)
    # keys the overrides did not touch still name the file and line
    bad = write(tmp_path, "max_steps: 3\njob: thinking\n")
    with pytest.raises(ConfigError, match=r"job.yaml:2: 'job' must be one of"):
        load_config(Job, bad, ["max_steps=4"])


@pytest.mark.parametrize("raw,expected", [
    ("7", 7), ("0.5", 0.5), ("true", True), ("null", None), ("[a, b]", ["a", "b"]), ("{r: 4}", {"r": 4}),
    ("runs/exp #2", "runs/exp #2"),  # YAML would cut a comment off
    ("Reply in <answer> tags #no prose", "Reply in <answer> tags #no prose"),
    ("-", "-"),  # YAML would read a list
    ("a: b", "a: b"), ('"quoted text"', "quoted text"), ("", ""),
])
def test_override_values_are_yaml_scalars_and_flow_collections_else_text(raw, expected):
    from thinktune.config import override_value

    assert override_value(raw) == expected


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Job, tmp_path / "nope.yaml")


def test_save_and_reload_round_trip(tmp_path):
    cfg = Job(job="non_reasoning", max_steps=5, tags=["x"], lora=LoraSettings(r=4))
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(Job, tmp_path / "saved.yaml") == cfg


def test_describe_lists_every_field_with_help():
    rows = {key: help_text for key, _, help_text in describe(Job)}
    assert rows["learning_rate"] == "peak learning rate"
    assert rows["lora.r"] == "LoRA rank"
    assert set(rows) >= {"job", "max_steps", "lora.enabled", "lora.target_modules"}


def test_a_mapping_read_from_yaml_saves_back(tmp_path):
    """`task_options: {}` comes back from YAML as the loader's line-tracking dict: saving must still work."""
    from thinktune.compare.config import CompareConfig

    (tmp_path / "c.yaml").write_text("task_options: {ops: 2}\nmix_key: ''\n")
    cfg = load_config(CompareConfig, tmp_path / "c.yaml")
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(CompareConfig, tmp_path / "saved.yaml").task_options == {"ops": 2}
