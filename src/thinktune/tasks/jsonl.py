"""`jsonl:<path>`: users' own problems, one JSON object a line, checked with a verifier they choose.

Each row needs `question` and `answer`; `reasoning` (or `thinking`) is the optional gold solution,
`system` an optional system prompt, `tests` the test cases of a `code` row (see `thinktune.sandbox`),
`numbers`/`target` those of a `countdown` row, and a per-row `verifier` overrides the task option. Every
other key is kept in `meta`.
"""

from __future__ import annotations

import json
from pathlib import Path

from thinktune.data.schema import Example

KNOWN_VERIFIERS = ("math", "numeric", "exact", "casefold", "countdown", "code", "rg")


def load(path: str, split: str = "test", n: int | None = None, seed: int = 0, *,
         verifier: str = "math") -> list[Example]:
    """The first `n` rows of `path` (all when None). `split` and `seed` are unused: the file is the split.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a row that is not JSON or lacks `question`/`answer` (message names file and line).
    """
    del split, seed
    if verifier not in KNOWN_VERIFIERS:
        raise ValueError(f"jsonl: unknown verifier {verifier!r}; use one of {', '.join(KNOWN_VERIFIERS)}")
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{path}: task file not found")
    out = []
    with p.open(encoding="utf-8-sig") as f:  # -sig: a byte-order mark from Windows editors is skipped
        for lineno, line in enumerate(f, 1):
            if n is not None and len(out) >= n:
                break
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: invalid JSON ({e.msg})") from None
            out.append(_row_to_example(row, where, verifier))
    return out


def _row_to_example(row: object, where: str, verifier: str) -> Example:
    if not isinstance(row, dict):
        raise ValueError(f"{where}: each line must be a JSON object")
    for key in ("question", "answer"):
        if key not in row or row[key] is None:
            raise ValueError(f"{where}: missing '{key}'")
    row = dict(row)
    question, answer = str(row.pop("question")), row.pop("answer")
    reasoning = row.pop("reasoning", None) or row.pop("thinking", None)
    system = row.pop("system", None)
    row_verifier = row.pop("verifier", verifier)
    if row_verifier not in KNOWN_VERIFIERS:
        raise ValueError(f"{where}: unknown verifier {row_verifier!r}")
    if row_verifier == "code" and not isinstance(row.get("tests"), list):
        raise ValueError(f"{where}: a 'code' row needs 'tests', a list of test cases")
    if row_verifier == "countdown" and not ("numbers" in row and "target" in row):
        raise ValueError(f"{where}: a 'countdown' row needs 'numbers' and 'target'")
    meta = {"source": where, **row}
    return Example(question=question, answer=str(answer), reasoning=reasoning, system=system,
                   verifier=row_verifier, meta=meta)
