"""Every YAML under configs/ loads with its recipe's typed config (file prefix `sft_`/`grpo_` → recipe)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from thinktune.config import load_config, read_yaml

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
RECIPES = {"sft_": "thinktune.recipes.sft", "grpo_": "thinktune.recipes.grpo"}
FILES = sorted(CONFIGS.glob("*.yaml"))


def recipe_of(path: Path) -> str:
    for prefix, module in RECIPES.items():
        if path.name.startswith(prefix):
            return module
    raise AssertionError(f"{path.name}: config names start with one of {', '.join(RECIPES)}")


def test_configs_are_shipped():
    assert any(p.name.startswith("sft_") for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_config_loads(path):
    name = recipe_of(path)
    try:
        recipe = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        pytest.skip(f"{name} is not written yet, so {path.name} cannot be checked against its config class")
    cfg = load_config(recipe.CONFIG_CLASS, path)
    # Every scalar the file sets survives into the typed config (nothing is silently defaulted).
    for key, value in read_yaml(path).items():
        if isinstance(value, (str, int, float, bool)):
            got = getattr(cfg, key)
            assert got == (float(value) if isinstance(got, float) else value), key


@pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("sft_")], ids=lambda p: p.name)
def test_sft_config_data_resolves(path):
    from thinktune.recipes.sft import SFTJobConfig, resolve_data

    cfg = load_config(SFTJobConfig, path)
    source = resolve_data(cfg.data)
    assert source.startswith("hf:") or Path(source).is_file()
