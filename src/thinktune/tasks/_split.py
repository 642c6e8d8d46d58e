"""Split bookkeeping shared by the generated tasks: a question's split is a function of its text.

Generated tasks (arithmetic, countdown, reasoning-gym) draw problems from a seeded stream and keep only
those whose question hashes into the requested split's bucket, so train, validation and test can never
share a question, whatever the seeds, sizes or difficulty knobs.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from thinktune.data.schema import Example

SPLITS = ("train", "validation", "test")
DEFAULT_SIZE = {"train": 1000, "validation": 200, "test": 200}


def check_split(split: str) -> str:
    """Normalise `split` (`val` → `validation`); ValueError for anything else."""
    split = {"val": "validation", "dev": "validation"}.get(split, split)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return split


def split_of(question: str) -> str:
    """The split a question belongs to: 80% train, 10% validation, 10% test, by a stable hash.

    >>> split_of("Calculate 1 + 2.") in SPLITS
    True
    """
    bucket = int(hashlib.sha256(question.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def rng_for(task: str, split: str, seed: int) -> random.Random:
    """A generator seeded by task, split and seed (string seeds are hashed deterministically)."""
    return random.Random(f"{task}:{split}:{seed}")


def size_for(split: str, n: int | None) -> int:
    if n is None:
        return DEFAULT_SIZE[split]
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return n


def draw_distinct(name: str, split: str, seed: int, n: int, make: Callable[[], Example | None],
                  too_few: str, key: Callable[[Example], str] | None = None) -> list[Example]:
    """`n` distinct problems of `split` from `make()` (None: no problem this draw), ids `NAME-SPLIT-SEED-i`.

    `key` says when two problems are the same one (default: the question text); both the split and the
    repeats go by it, so e.g. countdown's `[3, 5, 7] -> 22` and `[7, 3, 5] -> 22` land in the same split.
    A ValueError ends a search that keeps drawing repeats or other splits' questions; `too_few` says what to
    change, after "NAME: only K distinct SPLIT problems found".
    """
    key = key or (lambda ex: ex.question)
    seen: set[str] = set()
    out: list[Example] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200 * n + 1000:
            raise ValueError(f"{name}: only {len(out)} distinct {split} problems found{too_few}")
        ex = make()
        if ex is None:
            continue
        k = key(ex)
        if k in seen or split_of(k) != split:
            continue
        seen.add(k)
        ex.meta.update(id=f"{name}-{split}-{seed}-{len(out)}", split=split)
        out.append(ex)
    return out
