"""Small, crash-safe file helpers shared by recipes, evaluation and reports."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def append_jsonl(path: str | Path, row: dict[str, Any]) -> None:
    """Append one JSON row and flush it to disk, so a killed process loses at most the row in flight.

    A torn last line (a process killed mid-write) is cut off first, so the new row starts a line of its own
    instead of being glued to the fragment (and then unreadable).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_link(path)
    _drop_torn_tail(path)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n")
        f.flush()
        os.fsync(f.fileno())


def refuse_link(path: str | Path) -> None:
    """Refuse to write a log through a symlink (it could point anywhere: another run's log, a system file).

    Raises:
        UserError: `path` is a symbolic link.
    """
    if Path(path).is_symlink():
        from thinktune.errors import UserError

        raise UserError(f"{path}: is a symbolic link; thinktune writes its logs only to plain files "
                        "(replace the link with the file, or choose another output folder)")


def _drop_torn_tail(path: Path) -> None:
    """Truncate `path` back to its last newline when its last line is unfinished."""
    if not path.is_file():
        return
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        keep = 0
        for start in range(size, 0, -65536):  # find the last newline, reading backwards in blocks
            lo = max(0, start - 65536)
            f.seek(lo)
            block = f.read(start - lo)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = lo + nl + 1
                break
        f.truncate(keep)


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file we wrote; a torn last line (process killed mid-write) is skipped."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable), encoding="utf-8")
    os.replace(tmp, path)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)
