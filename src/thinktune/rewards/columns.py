"""Reading TRL's reward-function arguments: completions, prompts and the dataset columns, row by row.

TRL calls a reward as `f(prompts, completions, completion_ids=..., **columns)` where completions are
strings (standard datasets) or conversational lists of `{"role", "content"}` messages, and every other
dataset column arrives as a list with one entry per completion. These helpers turn that back into plain
text and into the `Example` each completion answers, so every reward reads its inputs the same way.
"""

from __future__ import annotations

import json
from typing import Any

from thinktune.data.schema import Example
from thinktune.format import THINK_OPEN

META_KEYS = ("numbers", "target", "tests", "rg_entry")  # columns a verifier may need, copied into meta


def text_of(message: Any) -> str:
    """The text of a completion or prompt: a string, a message dict, or a list of messages (joined).

    >>> text_of([{"role": "assistant", "content": "<answer>4</answer>"}])
    '<answer>4</answer>'
    """
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        content = message.get("content", "")
        if isinstance(content, list):  # multimodal content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content or "")
    if isinstance(message, (list, tuple)):
        return "\n".join(text_of(m) for m in message)
    return str(message)


def completion_text(completion: Any) -> str:
    """The assistant's text of one completion (the last assistant message of a conversational one)."""
    if isinstance(completion, (list, tuple)):
        assistant = [m for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        return text_of(assistant[-1]) if assistant else text_of(completion)
    return text_of(completion)


def restore_think(text: str, prefilled: bool) -> str:
    """Put back the `<think>` a prompt opened (R1-Zero's template, or a chat template that pre-fills it).

    >>> restore_think("2+2=4</think><answer>4</answer>", prefilled=True)
    '<think>2+2=4</think><answer>4</answer>'
    """
    return THINK_OPEN + text if prefilled and THINK_OPEN not in text else text


def example_at(i: int, columns: dict[str, Any], verifier: str | None = None) -> Example | None:
    """The `Example` completion `i` answers, rebuilt from the dataset columns; None without an answer.

    Uses `answer` (or `solution`, open-r1's name), `verifier` (default `math`), `meta` (a dict or its JSON
    text) and the verifier columns `numbers`, `target`, `tests`, `rg_entry` when present. A `verifier`
    argument overrides the column (the `countdown` and `code` rewards fix theirs); the verifiers that read
    their gold from the meta columns need no `answer`.
    """
    answer = _col(columns, "answer", i)
    if answer is None:
        answer = _col(columns, "solution", i)
    meta = _col(columns, "meta", i) or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            meta = {}
    meta = dict(meta)
    for key in META_KEYS:
        value = _col(columns, key, i)
        if value is not None:
            meta[key] = json.loads(value) if key == "rg_entry" and isinstance(value, str) else value
    verifier = verifier or _col(columns, "verifier", i) or "math"
    if answer is None and verifier not in ("countdown", "code", "rg"):
        return None
    return Example(question=str(_col(columns, "question", i) or ""), answer=str(answer or ""),
                   verifier=str(verifier), meta=meta)


def _col(columns: dict[str, Any], key: str, i: int) -> Any:
    values = columns.get(key)
    if values is None or not isinstance(values, (list, tuple)) or i >= len(values):
        return None
    return values[i]
