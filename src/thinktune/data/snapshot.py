"""Snapshots: a deterministic train/validation split named by a hash of its content.

A job names its data by snapshot id, so a run can be reproduced and two runs can be known to have seen the
same data. The id is the first 12 hex digits of a sha256 over the split parameters and the canonical rows
(`readers.to_row`, without where each row was read): the same rows and parameters give the same id on any machine
and in any row order; a changed row, an added row or a different seed or fraction gives another id.

The split is order-independent too. Each row gets a key, sha256(seed, `validate.question_key`: the earlier
turns and the question with case and spacing folded, the rule that flags duplicates); rows are sorted by key
and whole groups of the same key are taken into validation, in key order, while they fit in its target of
`round(n * val_fraction)` rows (at least one when the fraction is above 0 and there are two rows, at most
n - 1); a group that would overflow it stays in train. Rows that ask the same question therefore always
land on the same side, so no duplicate leaks from train into validation, and validation never exceeds its
target (it may fall short, even to empty, when only large groups are left). Both splits are written in key
order, which is a seeded shuffle of the data.

On disk::

    <root>/<id>/train.jsonl        canonical question/answer/reasoning rows
    <root>/<id>/validation.jsonl
    <root>/<id>/snapshot.json      id, parameters, counts, the files' sha256

written into a temporary folder and renamed, so a snapshot folder is complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from thinktune.data.readers import DataError, read_examples, to_row, write_examples
from thinktune.data.schema import Example
from thinktune.data.validate import question_key

SNAPSHOT_VERSION = 2  # bump when the canonical row or the split rule changes (2: normalised keys, no overflow)
DEFAULT_ROOT = "snapshots"
ID_LENGTH = 12


@dataclass
class Snapshot:
    """A named split.

    Attributes:
        id: the content hash (12 hex digits).
        train: training rows, in key order.
        validation: held-out rows, in key order.
        val_fraction: the fraction asked for.
        seed: the seed of the split.
        source: where the rows came from (informational; not part of the id).
    """

    id: str
    train: list[Example] = field(default_factory=list)
    validation: list[Example] = field(default_factory=list)
    val_fraction: float = 0.1
    seed: int = 0
    source: str | None = None


def _sha(obj: object) -> str:
    data = json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def _split_key(example: Example, seed: int) -> str:
    """The seeded sort key of a row; rows that `validate` flags as duplicates share it."""
    return _sha([seed, question_key(example)])


def snapshot_id(train: list[Example], validation: list[Example], val_fraction: float, seed: int,
                version: int = SNAPSHOT_VERSION) -> str:
    """The id of a split: a sha256 over the parameters (split rule `version` included) and the canonical rows."""
    content = {
        "version": version, "val_fraction": val_fraction, "seed": seed,
        "train": sorted(_sha(to_row(e)) for e in train),
        "validation": sorted(_sha(to_row(e)) for e in validation),
    }
    return _sha(content)[:ID_LENGTH]


def make_snapshot(examples: list[Example], val_fraction: float = 0.1, seed: int = 0,
                  source: str | None = None) -> Snapshot:
    """Split `examples` deterministically (see the module docstring) and name the split.

    Raises:
        ValueError: `val_fraction` is outside [0, 1), or there are no examples.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if not examples:
        raise ValueError("cannot snapshot an empty dataset")
    keyed = sorted(((_split_key(e, seed), _sha(to_row(e)), i) for i, e in enumerate(examples)))
    val_idx = _pick_validation(keyed, _validation_target(len(examples), val_fraction))
    train = [examples[i] for *_, i in keyed if i not in val_idx]
    validation = [examples[i] for *_, i in keyed if i in val_idx]
    return Snapshot(snapshot_id(train, validation, val_fraction, seed), train, validation, val_fraction, seed,
                    source)


def _validation_target(n: int, val_fraction: float) -> int:
    """`round(n * val_fraction)`, at least 1 when the fraction is above 0 and n >= 2, at most n - 1."""
    target = round(n * val_fraction)
    if val_fraction > 0 and n >= 2:
        target = min(max(1, target), n - 1)
    return target


def _pick_validation(keyed: list[tuple[str, str, int]], target: int) -> set[int]:
    """Indices of the validation rows: whole groups of equal key, in key order, each only if it still fits.

    A group that would take validation past `target` is left in train (and later, smaller groups may still
    fit), so a question never straddles both sides and validation never outgrows its target.
    """
    groups: dict[str, list[int]] = {}
    for key, _, i in keyed:
        groups.setdefault(key, []).append(i)
    picked: set[int] = set()
    for group in groups.values():  # dicts keep insertion order: key order
        if len(picked) >= target:
            break
        if len(picked) + len(group) <= target:
            picked.update(group)
    return picked


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_snapshot(snap: Snapshot, root: str | Path = DEFAULT_ROOT) -> Path:
    """Write `root/<id>/{train.jsonl,validation.jsonl,snapshot.json}` atomically; returns the folder.

    A snapshot folder that already exists holds the same content (the id is its hash) and is kept as is.
    """
    root = Path(root)
    final = root / snap.id
    if (final / "snapshot.json").exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{snap.id}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write_examples(snap.train, tmp / "train.jsonl")
        write_examples(snap.validation, tmp / "validation.jsonl")
        info = {
            "id": snap.id, "version": SNAPSHOT_VERSION, "val_fraction": snap.val_fraction, "seed": snap.seed,
            "source": snap.source, "n_train": len(snap.train), "n_validation": len(snap.validation),
            "sha256": {name: _file_sha(tmp / name) for name in ("train.jsonl", "validation.jsonl")},
        }
        (tmp / "snapshot.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "snapshot.json").exists():  # not a concurrent writer of the same snapshot
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def resolve_snapshot(path_or_id: str | Path, root: str | Path = DEFAULT_ROOT) -> Path:
    """The folder of a snapshot given as a folder, an id, or a unique id prefix under `root`."""
    direct = Path(path_or_id)
    if (direct / "snapshot.json").exists():
        return direct
    root = Path(root)
    ref = str(path_or_id)
    if (root / ref / "snapshot.json").exists():
        return root / ref
    matches = sorted(p for p in root.iterdir() if p.name.startswith(ref) and (p / "snapshot.json").exists()) \
        if root.is_dir() and ref else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DataError(f"snapshot id {ref!r} is ambiguous under {root}: {', '.join(p.name for p in matches)}")
    raise DataError(f"no snapshot {ref!r} (not a snapshot folder, nor an id under {root}/); "
                    "make one with `thinktune data snapshot FILE`")


def load_snapshot(path_or_id: str | Path, root: str | Path = DEFAULT_ROOT) -> Snapshot:
    """Load a snapshot by folder or id, checking that its content still matches its id.

    Raises:
        DataError: no such snapshot, or its files were changed after it was made.
    """
    folder = resolve_snapshot(path_or_id, root)
    info = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
    train = _read_split(folder / "train.jsonl")
    validation = _read_split(folder / "validation.jsonl")
    actual = snapshot_id(train, validation, info["val_fraction"], info["seed"], info.get("version", 1))
    if actual != info["id"] or folder.name != info["id"]:
        raise DataError(f"{folder}: the snapshot's files do not match its id {info['id']} (content hash "
                        f"{actual}); they were edited after it was made: make a new snapshot instead")
    return Snapshot(info["id"], train, validation, info["val_fraction"], info["seed"], info.get("source"))


def _read_split(path: Path) -> list[Example]:
    # An empty validation split is a valid file with no rows; read_examples refuses empty files.
    if path.stat().st_size == 0:
        return []
    return read_examples(path)
