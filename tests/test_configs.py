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


# ------------------------------------------------------------ recipes and pipelines (subfolders)
RECIPE_KINDS = {"sky_t1": "pipeline", "s1": "pipeline", "tinyzero": "grpo", "journey": "sft"}
NESTED = sorted([*CONFIGS.glob("recipes/*.yaml"), *CONFIGS.glob("pipelines/*.yaml")])


def _kind(path: Path) -> str:
    if path.parent.name == "pipelines":
        return "pipeline"
    assert path.stem in RECIPE_KINDS, f"{path.name}: add it to RECIPE_KINDS with its job kind"
    return RECIPE_KINDS[path.stem]


def test_the_recipes_and_the_pipelines_are_shipped():
    names = {p.relative_to(CONFIGS).as_posix() for p in NESTED}
    assert {"pipelines/r1.yaml", "pipelines/grpo_learns.yaml", *(f"recipes/{k}.yaml" for k in RECIPE_KINDS)} <= names


def test_the_grpo_learns_recipe_measures_before_and_after_grpo_on_200_questions():
    """What benchmarks/grpo_learns.py reports rests on these settings: the GRPO stage is compared with the
    model it started from (the stage before), on at least 200 held-out questions of its own task."""
    from thinktune.jobs import load_job_config

    cfg = load_job_config("pipeline", str(CONFIGS / "pipelines" / "grpo_learns.yaml"), [])
    kinds = [s.kind for s in cfg.stages]
    assert kinds[-1] == "grpo" and "sft" in kinds[:-1]
    rl = cfg.stages[-1].config
    assert cfg.held_out.limit >= 200 and cfg.held_out.split == "test"
    assert cfg.held_out.task == rl["task"] and cfg.held_out.task_options == rl["task_options"]


@pytest.mark.parametrize("path", NESTED, ids=[p.relative_to(CONFIGS).as_posix() for p in NESTED])
def test_nested_config_loads_and_every_stage_resolves(path):
    from thinktune.jobs import load_job_config

    kind = _kind(path)
    cfg = load_job_config(kind, path)
    if kind == "pipeline":
        from thinktune.pipeline.pipeline import resolve, stage_config

        for i, stage in enumerate(cfg.stages):
            values = resolve(stage, i, cfg, Path(cfg.output_dir))
            stage_cfg = stage_config(stage, values)  # every key is one the stage's job knows
            for key, value in stage.config.items():
                if isinstance(value, (int, float, bool)) and not isinstance(getattr(stage_cfg, key), dict):
                    assert getattr(stage_cfg, key) == value, f"{stage.name}.{key}"
