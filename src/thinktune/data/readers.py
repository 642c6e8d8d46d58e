"""Reading datasets in the forms people already have, into `Example` rows.

One JSON object per line (JSONL), in any of these forms (a file may mix them):

=====================  ==========================================================================
form                   row
=====================  ==========================================================================
``messages``           ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``
                       (OpenAI / Prem chat). The last turn must be the assistant's: it is the
                       target. Its thinking comes from a ``reasoning`` (or ``reasoning_content``)
                       key on that turn, or from ``<think>…</think>`` inside its content. The last
                       user turn is the question; a leading system turn is ``Example.system``;
                       turns in between go to ``Example.history``. ``content`` may be a string or
                       a list of ``{"type": "text", "text": ...}`` parts.
``prompt_completion``  ``{"prompt": "...", "completion": "..."}``; the completion may contain
                       ``<think>``/``<answer>`` tags. TRL's conversational form (both lists of
                       messages) reads like ``messages``.
``question_answer``    ``{"question": "...", "answer": "...", "reasoning": "..."}``; ``reasoning``
                       is optional, ``rationale`` is accepted as its alias (AQuA-RAT and CoT
                       collections). ``answer`` may be a number, or hold ``<think>`` tags.
                       ``history`` (earlier user/assistant turns) is optional. This is the
                       canonical form `write_examples` writes.
``gsm8k``              ``{"question": "...", "answer": "step\\nstep\\n#### 72"}``: when the last
                       non-blank line of ``answer`` starts with ``####``, the text after it is the
                       answer and the text before it the reasoning, with GSM8K's ``<<48/2=24>>``
                       calculator annotations removed.
=====================  ==========================================================================

Any row may also carry ``id`` (string or whole number), ``system``, ``verifier`` (a verify mode name) and
``meta`` (an object); other keys are kept in ``Example.meta``. ``Example.meta["location"]`` is
``"file:line"``; ``Example.meta["source"]`` is the row's own ``source`` (a column or a ``meta`` key) when it
has one, else ``"file:line"`` too. ``Example.meta["id"]`` is the row's ``id`` or, without one, a short hash
of its content (so the same problem has the same id in every file and snapshot).

A ``reasoning`` that is itself wrapped in ``<think>…</think>`` is unwrapped (the tags are the format's, not
the reasoning's). Text holding a lone surrogate (``"\\ud800"``: valid JSON, not valid Unicode) is a row
error naming the field, since it cannot be written back as UTF-8.

A Hugging Face dataset is named ``hf:NAME[:CONFIG[:SPLIT]]`` (split defaults to ``train``), e.g.
``hf:openai/gsm8k:main:train``; it goes through ``datasets.load_dataset`` and its rows are read the same
way.

`iter_rows` splits a source into raw rows (or the reason a line is not one), `parse_row` turns one raw
row into an `Example` or the list of its problems; `read_examples` (strict: the first problem is an
error) and `thinktune.data.validate` (reports every problem) are both built on those two, so there is
exactly one parser. Thinking and answer are split by `thinktune.format.parse`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktune.data.schema import Example
from thinktune.errors import UserError
from thinktune.format import ANSWER_CLOSE, ANSWER_OPEN, REASONING_TAGS, THINK_CLOSE, THINK_OPEN, parse

FORMS = ("messages", "prompt_completion", "question_answer", "gsm8k")
HF_PREFIX = "hf:"
ROLES = ("system", "user", "assistant")
REASONING_KEYS = ("reasoning", "rationale")  # question/answer rows
TURN_REASONING_KEYS = ("reasoning", "reasoning_content")  # the assistant turn of chat rows
# Keys a form consumes; anything else on a row is kept in Example.meta.
_COMMON_KEYS = ("id", "system", "verifier", "meta")
_FORM_KEYS = {
    "messages": ("messages",),
    "prompt_completion": ("prompt", "completion"),
    "question_answer": ("question", "answer", "history", *REASONING_KEYS),
    "gsm8k": ("question", "answer"),
}
_GSM8K_FINAL = re.compile(r"^####[ \t]*([^\n]*?)\s*\Z", re.MULTILINE)  # the last non-blank line
_GSM8K_CALC = re.compile(r"<<[^<>]*>>")
_TAG_RE = re.compile(r"</?(?:think|answer)>")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
LOCATION_KEY = "location"  # Example.meta key of the row's `file:line`


class DataError(UserError):
    """A dataset problem a user can fix; the message names the file, line and field."""


@dataclass(frozen=True)
class RowError:
    """Why one row (or line) cannot be read.

    Attributes:
        field: the field at fault (`answer`, `messages[2].content`), None for the row as a whole.
        message: what is wrong, in words a user can act on.
    """

    field: str | None
    message: str


@dataclass(frozen=True)
class ParsedRow:
    """The result of `parse_row`: the example (None when there are errors), its form and its errors."""

    example: Example | None
    form: str | None
    errors: tuple[RowError, ...] = ()


# ------------------------------------------------------------------------------------------ raw rows
def is_hf_spec(source: str | Path) -> bool:
    """True for a Hugging Face dataset name (`hf:NAME[:CONFIG[:SPLIT]]`) rather than a file."""
    return isinstance(source, str) and source.startswith(HF_PREFIX)


def parse_hf_spec(spec: str) -> tuple[str, str | None, str]:
    """Split `hf:NAME[:CONFIG[:SPLIT]]` into `(name, config, split)`.

    >>> parse_hf_spec("hf:openai/gsm8k:main:test")
    ('openai/gsm8k', 'main', 'test')
    >>> parse_hf_spec("hf:openai/gsm8k")
    ('openai/gsm8k', None, 'train')
    """
    parts = spec[len(HF_PREFIX) :].split(":")
    if not parts[0] or len(parts) > 3:
        raise DataError(f"bad Hugging Face dataset name {spec!r}: use hf:NAME[:CONFIG[:SPLIT]]")
    name = parts[0]
    config = parts[1] if len(parts) > 1 and parts[1] else None
    split = parts[2] if len(parts) > 2 and parts[2] else "train"
    return name, config, split


def iter_rows(source: str | Path) -> Iterator[tuple[int, dict[str, Any] | Any | RowError]]:
    """Yield `(line_no, row)` for each non-blank line of a JSONL file (1-based line numbers).

    `row` is the decoded JSON value (normally a dict; `parse_row` reports anything else) or a `RowError`
    when the line is not valid UTF-8 or not valid JSON (the message gives the column). For a Hugging Face
    source (`hf:...`) line numbers are 1-based row indices.

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: the path is a folder, or a Hugging Face dataset cannot be loaded.
    """
    if is_hf_spec(source):
        yield from _iter_hf_rows(str(source))
        return
    path = Path(source)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a .jsonl file")
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield line_no, RowError(None, f"not valid UTF-8 at byte {e.start + 1}")
                continue
            if line_no == 1:
                line = line.lstrip("\ufeff")  # a byte-order mark from Windows editors
            if not line.strip():
                continue
            line = line.rstrip("\r\n")  # so an error at the end of the line points at the line, not past it
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as e:
                hint = ""
                if line_no == 1 and line.lstrip().startswith("["):
                    hint = " (this looks like a JSON array: thinktune reads JSONL, one JSON object per line)"
                yield line_no, RowError(None, f"invalid JSON at column {e.colno}: {e.msg}{hint}")


def _iter_hf_rows(spec: str) -> Iterator[tuple[int, dict[str, Any]]]:
    name, config, split = parse_hf_spec(spec)
    try:
        import datasets

        ds = datasets.load_dataset(name, config, split=split)
    except Exception as e:  # network, missing dataset, bad config/split: all one clear line
        raise DataError(
            f"could not load Hugging Face dataset {name!r} (config {config}, split {split}): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    for index, row in enumerate(ds, start=1):
        yield index, dict(row)


# --------------------------------------------------------------------------------------- one row
class _Problems:
    """Collects the problems of one row so every one is reported, not just the first."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def add(self, field: str | None, message: str) -> None:
        self.errors.append(RowError(field, message))

    def text(self, value: Any, field: str, *, required: bool = True, number_ok: bool = False) -> str | None:
        """`value` as stripped text; records missing / wrong-type / empty problems and returns None."""
        if value is None:
            if required:
                self.add(field, f"missing {field}")
            return None
        if number_ok and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            expected = "a string or a number" if number_ok else "a string"
            self.add(field, f"{field} must be {expected}, not {_type_name(value)}")
            return None
        if not value.strip():
            if required:
                self.add(field, f"empty {field}")
            return None
        return value.strip()


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def detect_form(row: dict[str, Any]) -> str | None:
    """Which reader form a row is in (see the module docstring), or None when it is none of them."""
    if "messages" in row:
        return "messages"
    if "prompt" in row or "completion" in row:
        return "prompt_completion"
    if "question" in row or "answer" in row:
        answer = row.get("answer")
        if isinstance(answer, str) and _GSM8K_FINAL.search(answer):
            return "gsm8k"
        return "question_answer"
    return None


def parse_row(row: Any, source: str = "") -> ParsedRow:
    """Turn one raw row into an `Example`, or report every problem it has. Never raises.

    Args:
        row: the decoded JSON value of one line (or a `RowError` from `iter_rows`, passed through).
        source: where the row came from (`file:line`), stored in `Example.meta["location"]`, and in
            `Example.meta["source"]` unless the row has its own `source`.
    """
    if isinstance(row, RowError):
        return ParsedRow(None, None, (row,))
    if not isinstance(row, dict):
        return ParsedRow(None, None, (RowError(None, f"row is {_type_name(row)}, not a JSON object"),))
    surrogates = tuple(_surrogate_errors(row))
    if surrogates:  # before anything prints the row's text: a lone surrogate cannot be encoded
        return ParsedRow(None, detect_form(row), surrogates)
    form = detect_form(row)
    if form is None:
        keys = ", ".join(sorted(row)) or "none"
        return ParsedRow(None, None, (RowError(None, (
            f"unrecognised row (keys: {keys}); expected `messages`, `prompt`+`completion` or "
            "`question`+`answer` (see thinktune.data.readers)")),))
    problems = _Problems()
    fields = {"messages": _read_messages_row, "prompt_completion": _read_prompt_completion,
              "question_answer": _read_question_answer, "gsm8k": _read_gsm8k}[form](row, problems)
    extra = _read_common(row, form, problems)
    if fields is not None and fields.get("system") and extra.get("system"):
        problems.add("system", "system prompt given twice: as the system key and as a system turn")
    if problems.errors or fields is None:
        return ParsedRow(None, form, tuple(problems.errors))
    example = Example(**{**fields, **{k: v for k, v in extra.items() if v is not None}})
    example.meta.setdefault("id", content_id(example))
    example.meta[LOCATION_KEY] = source
    example.meta.setdefault("source", source)  # a row's own `source` is kept
    return ParsedRow(example, form, ())


def _surrogate_errors(value: Any, field: str = "") -> Iterator[RowError]:
    """A `RowError` for each string (value or key) of a row that holds a lone surrogate such as `\\ud800`.

    JSON allows such escapes, but the text is not valid Unicode: it cannot be hashed, written or tokenized.
    Fields are named with the surrogate escaped, so the message itself can be printed.
    """
    if isinstance(value, str) and (found := _SURROGATE_RE.search(value)):
        yield RowError(_printable(field), (
            f"{_printable(field)} holds a lone surrogate \\u{ord(found.group()):04x} at character "
            f"{found.start() + 1}: not valid Unicode text (fix that escape in the file)"))
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if _SURROGATE_RE.search(str(key)):
                yield RowError(_printable(name), f"the key `{_printable(str(key))}` holds a lone surrogate: "
                               "not valid Unicode text (fix that escape in the file)")
            else:
                yield from _surrogate_errors(item, name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _surrogate_errors(item, f"{field}[{i}]")


def _printable(text: str) -> str:
    """`text` with any lone surrogate written as a `\\udxxx` escape, so it can be encoded and printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _read_common(row: dict[str, Any], form: str, problems: _Problems) -> dict[str, Any]:
    """`system`, `verifier`, `id`, `meta` and unconsumed keys, shared by every form."""
    extra: dict[str, Any] = {}
    if "system" in row:
        extra["system"] = problems.text(row["system"], "system", required=False)
    if "verifier" in row:
        verifier = problems.text(row["verifier"], "verifier")
        if verifier:
            extra["verifier"] = verifier
    meta = row.get("meta", {})
    if not isinstance(meta, dict):
        problems.add("meta", f"meta must be an object, not {_type_name(meta)}")
        meta = {}
    meta = dict(meta)
    consumed = {*_FORM_KEYS[form], *_COMMON_KEYS}
    meta.update({k: v for k, v in row.items() if k not in consumed})
    if "id" in row:
        row_id = _read_id(row["id"], problems)
        if row_id is not None:
            meta["id"] = row_id
    extra["meta"] = meta
    return extra


def _read_id(value: Any, problems: _Problems) -> str | None:
    """A row's `id` as text: a string as is, a whole number (`7` or `7.0`) as `"7"`; else a problem."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    what = f"the fraction {value!r}" if isinstance(value, float) else _type_name(value)
    problems.add("id", f"id must be a string or a whole number, not {what}")
    return None


def _split_target(text: str, field: str, problems: _Problems) -> tuple[str | None, str | None]:
    """Split a target that may hold `<think>`/`<answer>` tags into `(thinking, answer)`.

    Text without tags is the answer. With tags, `format.parse` (lenient) splits it; the DeepSeek-R1 shape
    `<think>…</think> answer` (no `<answer>` tag after the last `</think>`) takes the text after `</think>`
    as the answer, even when the thinking itself mentions `<answer>`.
    """
    if not any(tag in text for tag in REASONING_TAGS):
        return None, text.strip()
    parsed = parse(text)
    answer = parsed.answer
    after_think = text.rsplit(THINK_CLOSE, 1)[1] if THINK_CLOSE in text else None
    if answer is None and after_think is not None and ANSWER_OPEN not in after_think:
        answer = _TAG_RE.sub("", after_think).strip() or None
    if answer is None:
        problems.add(field, f"missing answer: {field} has thinking tags but no answer after {THINK_CLOSE}"
                     f" (expected {THINK_OPEN}…{THINK_CLOSE} then the answer or {ANSWER_OPEN}…{ANSWER_CLOSE})")
    return parsed.thinking, answer


def unwrap_think(reasoning: str | None) -> str | None:
    """`reasoning` without one outer `<think>…</think>` pair (and the whitespace around it); None if empty.

    A reasoning field that already holds the tags would otherwise be wrapped twice by
    `format.render_reasoning`. Text with further think tags inside is left as it is.

    >>> unwrap_think("<think>\\n2 + 3 = 5\\n</think>"), unwrap_think("2 + 3 = 5")
    ('2 + 3 = 5', '2 + 3 = 5')
    """
    if reasoning is None:
        return None
    text = reasoning.strip()
    if text.startswith(THINK_OPEN) and text.endswith(THINK_CLOSE):
        inner = text[len(THINK_OPEN) : -len(THINK_CLOSE)]
        if THINK_OPEN not in inner and THINK_CLOSE not in inner:
            return inner.strip() or None
    return reasoning


def _merge_reasoning(explicit: str | None, explicit_field: str, tagged: str | None, tagged_field: str,
                     problems: _Problems) -> str | None:
    if explicit and tagged:
        problems.add(explicit_field, f"reasoning given twice: in {explicit_field} and as <think> in {tagged_field}")
    return explicit or tagged


def _read_question_answer(row: dict[str, Any], problems: _Problems) -> dict[str, Any] | None:
    question = problems.text(row.get("question"), "question")
    answer_text = problems.text(row.get("answer"), "answer", number_ok=True)
    key = next((k for k in REASONING_KEYS if k in row), "reasoning")
    reasoning = unwrap_think(problems.text(row.get(key), key, required=False))
    if answer_text is None:
        return None
    thinking, answer = _split_target(answer_text, "answer", problems)
    reasoning = _merge_reasoning(reasoning, key, thinking, "answer", problems)
    history = _read_history(row.get("history", []), problems)
    if question is None or answer is None or history is None:
        return None
    return {"question": question, "answer": answer, "reasoning": reasoning, "history": history}


def _read_history(history: Any, problems: _Problems) -> list[dict[str, str]] | None:
    """Earlier turns of a canonical row: a list of `{"role": "user"|"assistant", "content": str}`."""
    if not isinstance(history, list):
        problems.add("history", f"history must be a list of turns, not {_type_name(history)}")
        return None
    turns = []
    for i, turn in enumerate(history):
        field = f"history[{i}]"
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            problems.add(field, f"{field} must be an object with role user or assistant and content")
            continue
        content = _turn_content(turn.get("content"), f"{field}.content", problems)
        if content is not None:
            turns.append({"role": turn["role"], "content": content})
    return turns if len(turns) == len(history) else None


def _read_gsm8k(row: dict[str, Any], problems: _Problems) -> dict[str, Any] | None:
    question = problems.text(row.get("question"), "question")
    for key in REASONING_KEYS:
        if key in row:
            problems.add(key, f"reasoning given twice: in {key} and before #### in answer (GSM8K form)")
    text = row["answer"]
    final = _GSM8K_FINAL.search(text)
    answer = final.group(1).strip()
    reasoning = _GSM8K_CALC.sub("", text[: final.start()]).strip() or None
    if not answer:
        problems.add("answer", "missing answer: nothing after ####")
    if question is None or not answer:
        return None
    return {"question": question, "answer": answer, "reasoning": reasoning}


def _read_prompt_completion(row: dict[str, Any], problems: _Problems) -> dict[str, Any] | None:
    prompt, completion = row.get("prompt"), row.get("completion")
    if isinstance(prompt, list) and isinstance(completion, list):  # TRL's conversational form
        fields = [f"prompt[{i}]" for i in range(len(prompt))] + [f"completion[{i}]" for i in range(len(completion))]
        return _read_turns(prompt + completion, fields, "completion", problems)
    question = problems.text(prompt, "prompt")
    target = problems.text(completion, "completion")
    if target is None:
        return None
    thinking, answer = _split_target(target, "completion", problems)
    if question is None or answer is None:
        return None
    return {"question": question, "answer": answer, "reasoning": thinking}


def _read_messages_row(row: dict[str, Any], problems: _Problems) -> dict[str, Any] | None:
    messages = row["messages"]
    if not isinstance(messages, list):
        problems.add("messages", f"messages must be a list of turns, not {_type_name(messages)}")
        return None
    return _read_turns(messages, [f"messages[{i}]" for i in range(len(messages))], "messages", problems)


def _turn_content(content: Any, field: str, problems: _Problems) -> str | None:
    """A turn's text: a string, or OpenAI's list of `{"type": "text", "text": ...}` parts joined."""
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        content = "".join(p["text"] for p in content)
    elif isinstance(content, list):
        problems.add(field, f"{field} must be a string or a list of text parts")
        return None
    text = problems.text(content, field, required=False)
    if text is None and (content is None or isinstance(content, str)):
        problems.add(field, f"empty turn: {field} is {'missing' if content is None else 'empty'}")
    return text


def _read_turns(turns: list[Any], fields: list[str], whole: str, problems: _Problems) -> dict[str, Any] | None:
    """Read a chat (list of turns): the last assistant turn is the target, the last user turn the question."""
    if not turns:
        problems.add(whole, f"{whole} is empty")
        return None
    chat: list[dict[str, str]] = []
    for turn, field in zip(turns, fields, strict=True):
        if not isinstance(turn, dict):
            problems.add(field, f"{field} must be an object with role and content, not {_type_name(turn)}")
            continue
        role = turn.get("role")
        if role not in ROLES:
            problems.add(f"{field}.role", f"{field}.role must be one of {', '.join(ROLES)}, not {role!r}")
            continue
        content = _turn_content(turn.get("content"), f"{field}.content", problems)
        chat.append({"role": role, "content": content or "", "_field": field, "_turn": turn})
    if problems.errors:
        return None
    if chat[-1]["role"] != "assistant":
        has_assistant = any(t["role"] == "assistant" for t in chat)
        problems.add(whole, "the conversation must end with the assistant's turn (the training target)"
                     if has_assistant else "missing answer: no assistant turn (the last assistant turn is the target)")
        return None
    target, before = chat[-1], chat[:-1]
    system = before.pop(0)["content"] if before and before[0]["role"] == "system" else None
    if not before or before[-1]["role"] != "user":
        problems.add(whole, "the assistant's last turn must follow a user turn (the question)")
        return None
    if any(t["role"] == "system" for t in before):
        problems.add(whole, "a system turn is only allowed first")
        return None
    field, turn = target["_field"], target["_turn"]
    key = next((k for k in TURN_REASONING_KEYS if k in turn), "reasoning")
    explicit = unwrap_think(problems.text(turn.get(key), f"{field}.{key}", required=False))
    thinking, answer = _split_target(target["content"], f"{field}.content", problems)
    reasoning = _merge_reasoning(explicit, f"{field}.{key}", thinking, f"{field}.content", problems)
    if answer is None:
        return None
    history = [{"role": t["role"], "content": t["content"]} for t in before[:-1]]
    return {"question": before[-1]["content"], "answer": answer, "reasoning": reasoning,
            "system": system, "history": history}


# --------------------------------------------------------------------------------- examples in/out
def to_row(example: Example) -> dict[str, Any]:
    """The canonical question/answer/reasoning row of an example (what `write_examples` writes).

    Every row has an `id` (`meta["id"]`, else `content_id`, which is what reading the row back gives).
    Other fields at their defaults are left out. Where the row was read (`meta["location"]`, and
    `meta["source"]` when it only repeats that or there is no location) is not part of the row's content,
    so it is left out too; a row's own `source` is kept.
    """
    row: dict[str, Any] = {"id": str(example.meta.get("id") or content_id(example))}
    row["question"] = example.question
    row["answer"] = example.answer
    if example.reasoning is not None:
        row["reasoning"] = example.reasoning
    if example.system is not None:
        row["system"] = example.system
    if example.history:
        row["history"] = [dict(t) for t in example.history]
    if example.verifier != "math":
        row["verifier"] = example.verifier
    meta = {k: v for k, v in example.meta.items() if k not in ("id", "source", LOCATION_KEY)}
    if _own_source(example.meta):
        meta["source"] = example.meta["source"]
    if meta:
        row["meta"] = meta
    return row


def _own_source(meta: dict[str, Any]) -> bool:
    """True when `meta["source"]` is the row's own value, not the `file:line` it was read from."""
    return "source" in meta and LOCATION_KEY in meta and meta["source"] != meta[LOCATION_KEY]


def content_id(example: Example) -> str:
    """A short hash of an example's content (question, answer, reasoning, system, history). Never raises.

    Text is hashed as UTF-8 with lone surrogates passed through, so even unencodable text has an id.
    """
    content = [example.question, example.answer, example.reasoning, example.system, example.history]
    data = json.dumps(content, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:12]


def read_examples(source: str | Path, *, limit: int | None = None) -> list[Example]:
    """Read a dataset into examples; any bad row is an error (use `validate_file` to see them all).

    Args:
        source: a JSONL file in any form of the module docstring, or `hf:NAME[:CONFIG[:SPLIT]]`.
        limit: stop after this many examples.

    Raises:
        DataError: the first bad row, as `file:line: field: message`, or a source with no rows.
        FileNotFoundError: the file does not exist.
    """
    examples: list[Example] = []
    if limit is not None and limit <= 0:
        return examples
    for line_no, row in iter_rows(source):
        where = f"{source}:{line_no}"
        parsed = parse_row(row, where)
        if parsed.errors:
            first = parsed.errors[0]
            more = f" (and {len(parsed.errors) - 1} more on this row)" if len(parsed.errors) > 1 else ""
            field = f" {first.field}:" if first.field else ""
            raise DataError(f"{where}:{field} {first.message}{more}; "
                            f"run `thinktune data validate {source}` to list every problem")
        examples.append(parsed.example)
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise DataError(f"{source}: no rows (the file is empty)")
    return examples


def write_examples(examples: Iterable[Example], path: str | Path) -> Path:
    """Write examples as canonical question/answer/reasoning JSONL (see `to_row`); returns the path.

    The file is written to a temporary name and renamed, so a reader never sees half of it.
    """
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for example in examples:
            f.write(json.dumps(to_row(example), ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
