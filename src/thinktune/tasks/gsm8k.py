"""`gsm8k`: grade-school maths word problems (Cobbe et al. 2021) from a local JSONL file or the Hub.

GSM8K rows are `{"question": ..., "answer": "step\\nstep\\n#### 18"}`; the steps carry calculator
annotations (`<<16-3-4=9>>`) that are dropped, the lines before `####` become the gold reasoning and the
number after it the gold answer (commas removed).

Where the file comes from, first match wins: the `path` option; `$THINKTUNE_GSM8K_DIR/<split>.jsonl`;
`../shared/data/gsm8k/<split>.jsonl` next to the repository; with `hub=True`, `openai/gsm8k` from the
Hugging Face Hub (needs network). GSM8K has only train and test; `validation` is refused.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from thinktune.data.schema import Example

_CALC = re.compile(r"<<[^>]*>>")
_REPO_ROOT = Path(__file__).resolve().parents[3]


def parse_row(row: dict, source: str = "") -> Example:
    """One GSM8K row → Example (reasoning without calculator annotations, answer after `####`)."""
    if not isinstance(row, dict):
        raise ValueError(f"{source}: not a GSM8K row (each line must be a JSON object)")
    question, full = row.get("question"), row.get("answer")
    if not isinstance(question, str) or not isinstance(full, str) or "####" not in full:
        raise ValueError(f"{source}: not a GSM8K row (needs 'question' and an 'answer' ending in '#### N')")
    steps, answer = full.rsplit("####", 1)
    reasoning = "\n".join(line.strip() for line in _CALC.sub("", steps).splitlines() if line.strip())
    return Example(
        question=question.strip(),
        answer=answer.strip().replace(",", ""),
        reasoning=reasoning or None,
        verifier="math",
        meta={"task": "gsm8k", "source": source},
    )


def default_paths(split: str) -> list[Path]:
    """Where a local copy is looked for, in order."""
    paths = []
    if os.environ.get("THINKTUNE_GSM8K_DIR"):
        paths.append(Path(os.environ["THINKTUNE_GSM8K_DIR"]) / f"{split}.jsonl")
    paths.append(_REPO_ROOT.parent / "shared" / "data" / "gsm8k" / f"{split}.jsonl")
    return paths


def load(split: str = "test", n: int | None = None, seed: int = 0, *, path: str | None = None,
         hub: bool = False) -> list[Example]:
    """The first `n` GSM8K problems of `split` (all when n is None), in file order.

    Args:
        split: `train` or `test`.
        n: how many rows (None: all).
        seed: unused (GSM8K is a fixed dataset; kept for a uniform signature).
        path: a GSM8K-format JSONL file (overrides the default locations).
        hub: fall back to `openai/gsm8k` on the Hugging Face Hub when no local file is found.
    """
    del seed
    if split not in ("train", "test"):
        raise ValueError(f"gsm8k has only 'train' and 'test' splits, not {split!r}")
    candidates = [Path(path).expanduser()] if path else default_paths(split)
    for p in candidates:
        if p.is_file():
            return _read_local(p, n)
    if hub and not path:
        return _read_hub(split, n)
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"gsm8k: no {split}.jsonl found (tried {tried}); pass path=FILE, set THINKTUNE_GSM8K_DIR, "
        "or hub=True to download openai/gsm8k"
    )


def _read_local(path: Path, n: int | None) -> list[Example]:
    out = []
    with path.open(encoding="utf-8-sig") as f:  # -sig: a byte-order mark is skipped
        for lineno, line in enumerate(f, 1):
            if n is not None and len(out) >= n:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
            ex = parse_row(row, f"{path}:{lineno}")
            ex.meta["id"] = f"gsm8k-{path.stem}-{lineno}"
            out.append(ex)
    return out


def _read_hub(split: str, n: int | None) -> list[Example]:  # pragma: no cover - needs network
    from datasets import load_dataset

    ds = load_dataset("openai/gsm8k", "main", split=split)
    rows = ds if n is None else ds.select(range(min(n, len(ds))))
    return [parse_row(dict(r), f"openai/gsm8k:{split}:{i}") for i, r in enumerate(rows)]
