"""Every YAML under configs/ loads with its job's typed config (file prefix `KIND_` → `thinktune.jobs` kind)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from thinktune.config import load_config, read_yaml
from thinktune.jobs import JOBS

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

RECIPES = {f"{kind}_": job.config for kind, job in JOBS.items()}
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
    module, _, cls = recipe_of(path).partition(":")
    cfg = load_config(getattr(importlib.import_module(module), cls), path)
    # Every scalar the file sets survives into the typed config (nothing is silently defaulted).
    for key, value in read_yaml(path).items():
        if isinstance(value, (str, int, float, bool)):
            got = getattr(cfg, key)
            assert got == (float(value) if isinstance(got, float) else value), key


@pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("sft_")], ids=lambda p: p.name)
def test_sft_config_data_resolves(path):
    from thinktune.data.readers import resolve_data
    from thinktune.recipes.sft import SFTJobConfig

    cfg = load_config(SFTJobConfig, path)
    source = resolve_data(cfg.data)
    assert source.startswith("hf:") or Path(source).is_file()
