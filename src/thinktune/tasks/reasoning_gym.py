"""`rg:<name>`: any procedural dataset of the `reasoning-gym` package, scored by its own `score_answer`.

The reasoning-gym entry (`question`, `answer`, `metadata`) is kept whole in `Example.meta["rg_entry"]`, because
`score_answer(answer, entry)` needs it; the verifier is `rg`. JSON (snapshots, datasets columns) turns the
entry's tuples into lists, which some scorers (`arc_agi`, `rearc`) then no longer match, so
`meta["rg_source"]` records where the entry came from and scoring regenerates the original entry from it.
Datasets whose entries carry no gold answer (`graph_color`, `propositional_logic`, ...: their scorer checks an
answer by the puzzle's rules) get an empty `answer`, not the string "None". Entries are generated on demand with a seed
derived from the split, and only questions whose hash falls in the split's bucket are kept, so splits
never share a question. Note that reasoning-gym's default `score_answer` gives partial credit
(`len(gold) / len(answer)`) when the gold answer is a substring of a longer answer; datasets that override
it may be stricter.
"""

from __future__ import annotations

import functools
import json

from thinktune.data.schema import Example
from thinktune.tasks._split import check_split, size_for, split_of


def dataset_names() -> list[str]:
    """Every dataset name reasoning-gym registers."""
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def load(name: str, split: str = "test", n: int | None = None, seed: int = 0, **config) -> list[Example]:
    """`n` problems of reasoning-gym dataset `name`; extra options go to its config (e.g. `min_terms`).

    Raises:
        ValueError: unknown dataset name or config option.
    """
    import reasoning_gym

    split = check_split(split)
    if name not in dataset_names():
        raise ValueError(f"unknown reasoning-gym dataset {name!r}; e.g. {', '.join(dataset_names()[:8])}, ...")
    n = size_for(split, n)
    stream_seed = seed * 1000 + {"train": 0, "validation": 1, "test": 2}[split]
    size = max(50 * n + 100, 1000)
    try:
        ds = reasoning_gym.create_dataset(name, size=size, seed=stream_seed, **config)
    except TypeError as e:
        raise ValueError(f"rg:{name}: bad option ({e})") from None
    out: list[Example] = []
    seen: set[str] = set()
    for idx in range(size):
        if len(out) >= n:
            break
        entry = ds[idx]
        question = entry["question"]
        if question in seen or split_of(question) != split:
            continue
        seen.add(question)
        source = {"name": name, "size": size, "seed": stream_seed, "config": config, "index": idx}
        out.append(
            Example(
                question=question,
                answer="" if entry["answer"] is None else str(entry["answer"]),
                verifier="rg",
                meta={"task": f"rg:{name}", "id": f"rg-{name}-{split}-{seed}-{idx}", "split": split,
                      "rg_entry": _jsonable(entry), "rg_source": _jsonable(source)},
            )
        )
    if len(out) < n:
        raise ValueError(f"rg:{name}: only {len(out)} distinct {split} problems found in {size} draws")
    return out


def score(answer: str | None, entry: dict, source: dict | None = None) -> float:
    """reasoning-gym's own `score_answer` for the entry's source dataset, clamped to [0, 1]; never raises.

    With `source` (`meta["rg_source"]`) the original entry, tuples and all, is regenerated and scored against.
    """
    from reasoning_gym import get_score_answer_fn

    if source:
        entry = _original_entry(json.dumps(source, sort_keys=True)) or entry
    try:
        name = entry["metadata"]["source_dataset"]
        value = float(get_score_answer_fn(name)(answer, entry))
    except Exception:  # a scorer crashing on a model's odd answer is a wrong answer, not a dead run
        return 0.0
    return min(1.0, max(0.0, value))


@functools.lru_cache(maxsize=4096)
def _original_entry(source_json: str) -> dict | None:
    source = json.loads(source_json)
    try:
        ds = _dataset(source["name"], source["size"], source["seed"], json.dumps(source.get("config") or {}, sort_keys=True))
        return ds[source["index"]]
    except Exception:  # a reasoning-gym version that cannot rebuild it: score the stored entry
        return None


@functools.lru_cache(maxsize=16)
def _dataset(name: str, size: int, seed: int, config_json: str):
    import reasoning_gym

    return reasoning_gym.create_dataset(name, size=size, seed=seed, **json.loads(config_json))


def _jsonable(entry: dict) -> dict:
    # Entries hold tuples and occasionally sets; a JSON round trip gives the plain form that datasets/Arrow
    # and our JSONL files store, which is also what scorers see after a reload.
    return json.loads(json.dumps(entry, default=lambda o: sorted(o) if isinstance(o, (set, frozenset)) else str(o)))
