"""Reading datasets in the forms people already have, into `Example` rows.

One JSON object per line (JSONL), in any of these forms, detected row by row (a file may mix them):

=====================  ==========================================================================
form                   row
=====================  ==========================================================================
``messages``           ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``
                       (OpenAI / Prem chat; OpenR1-Math-220k, Mixture-of-Thoughts, NuminaMath-CoT).
                       The last turn must be the assistant's: it is the target. Its thinking comes
                       from a ``reasoning`` (or ``reasoning_content``) key on that turn, or from
                       thinking markers inside its content (see below). The last user turn is the
                       question; a leading system turn is ``Example.system``; turns in between go
                       to ``Example.history``. ``content`` may be a string or a list of
                       ``{"type": "text", "text": ...}`` parts.
``sharegpt``           ``{"conversations": [{"from": "human"|"user"|"gpt"|"assistant"|"system",
                       "value": ...}, ...], "system": ...}`` (ShareGPT; Bespoke-Stratos-17k,
                       Sky-T1_data_17k, many chat sets), read like ``messages``; the top-level
                       ``system`` is optional.
``prompt_completion``  ``{"prompt": "...", "completion": "..."}``; the completion may contain
                       ``<think>``/``<answer>`` tags. TRL's conversational form (both lists of
                       messages) reads like ``messages``.
``question_answer``    ``{"question": "...", "answer": "...", "reasoning": "..."}``; ``reasoning``
                       is optional, ``rationale`` is accepted as its alias (AQuA-RAT and CoT
                       collections). ``answer`` may be a number, or hold thinking markers.
                       ``history`` (earlier user/assistant turns) is optional. This is the
                       canonical form `write_examples` writes.
``gsm8k``              ``{"question": "...", "answer": "step\\nstep\\n#### 72"}``: when the last
                       non-blank line of ``answer`` starts with ``####``, the text after it is the
                       answer and the text before it the reasoning, with GSM8K's ``<<48/2=24>>``
                       calculator annotations removed.
``alpaca``             ``{"instruction": "...", "input": "...", "output": "..."}`` (Stanford Alpaca
                       and its many instruction sets): the question is the instruction, then a
                       blank line and the ``input`` when it is not empty; ``output`` is the target.
``problem_solution``   ``{"problem": "...", "solution": "...", "answer": "..."}`` (MATH, MATH-500,
                       NuminaMath): the solution is the reasoning; the answer is the ``answer``
                       column when there is one, else the last ``\\boxed{…}`` of the solution.
``s1k``                ``{"question": "...", "thinking_trajectories": ["..."], "attempt": "...",
                       "solution": "..."}`` (simplescaling/s1K): the trajectories (a list, joined
                       by blank lines) are the reasoning, the attempt the target; ``solution``
                       (the reference) is kept in ``Example.meta``.
=====================  ==========================================================================

Thinking markers, wherever a target may hold them (an assistant turn, ``completion``, ``answer``,
``output``, ``solution``, ``attempt``): ``<think>…</think>`` (DeepSeek-R1 and its distills),
``<|begin_of_thought|>…<|end_of_thought|>`` with ``<|begin_of_solution|>…<|end_of_solution|>``
(Bespoke-Stratos, Sky-T1), ``<reasoning>…</reasoning>`` and ``<thought>…</thought>``. The text inside is
the reasoning; the text after it (or inside ``<answer>`` / the solution markers) is the answer text.

``answer_mode`` says what the answer is. ``final`` (the default): a target's answer text that holds a
``\\boxed{…}`` (or ``\\fbox{…}``; nested braces are fine) gives the content of its last box as the answer,
as thinktune's ``<answer>`` wants for checkable tasks; a target without thinking is then a worked
solution, so its text becomes the reasoning. ``full``: the answer text is kept whole (free-text tasks), and
a ``problem``/``solution`` row's whole solution is its answer. Answer texts without a box are the answer
in both modes.

``column_map`` (``--map question=instruction,answer=output`` on the command line) renames a row's columns
to the fields above before its form is detected, so any other column layout can be read; errors then
name the row's own column. See `parse_column_map`.

Any row may also carry ``id`` (string or whole number), ``system``, ``verifier`` (a verify mode name) and
``meta`` (an object); other keys are kept in ``Example.meta``. ``Example.meta["location"]`` is
``"file:line"``; ``Example.meta["source"]`` is the row's own ``source`` (a column or a ``meta`` key) when it
has one, else ``"file:line"`` too. ``Example.meta["id"]`` is the row's ``id`` or, without one, a short hash
of its content (so the same problem has the same id in every file and snapshot).

A ``reasoning`` that is itself wrapped in ``<think>…</think>`` is unwrapped (the tags are the format's, not
the reasoning's). Text holding a lone surrogate (``"\\ud800"``: valid JSON, not valid Unicode) is a row
error naming the field, since it cannot be written back as UTF-8.

A Hugging Face dataset is named ``hf:NAME[:CONFIG[:SPLIT]]`` (split defaults to ``train``), e.g.
``hf:openai/gsm8k:main:train``, and may take a slice of its split: ``hf:openai/gsm8k:main:train[:1000]``,
``train[1000:2000]``, ``train[:10%]``. It goes through ``datasets.load_dataset`` and its rows are read the
same way; with a slice that has an end (or a ``limit``) the rows are streamed, not the whole split
downloaded.

`iter_rows` splits a source into raw rows (or the reason a line is not one), `parse_row` turns one raw
row into an `Example` or the list of its problems; `read_examples` (strict: the first problem is an
error) and `thinktune.data.validate` (reports every problem) are both built on those two, so there is
exactly one parser. Thinking and answer are split by `thinktune.format.parse`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, NamedTuple

from thinktune.data.schema import Example
from thinktune.errors import UserError
from thinktune.format import ANSWER_CLOSE, ANSWER_OPEN, REASONING_TAGS, THINK_CLOSE, THINK_OPEN, parse

FORMS = ("messages", "sharegpt", "prompt_completion", "question_answer", "gsm8k", "alpaca", "problem_solution",
         "s1k")
ANSWER_MODES = ("final", "full")
HF_PREFIX = "hf:"
ROLES = ("system", "user", "assistant")
# ShareGPT's `from` values and the role each one is
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
REASONING_KEYS = ("reasoning", "rationale")  # question/answer rows
TURN_REASONING_KEYS = ("reasoning", "reasoning_content")  # the assistant turn of chat rows
# (open, close) pairs around thinking, `<think>` first; the others are read as if they were `<think>`
THOUGHT_MARKERS = (
    (THINK_OPEN, THINK_CLOSE),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
    ("<reasoning>", "</reasoning>"),
    ("<thought>", "</thought>"),
)
SOLUTION_MARKERS = ("<|begin_of_solution|>", "<|end_of_solution|>")  # around the answer text (Bespoke-Stratos)
# Keys a form consumes; anything else on a row is kept in Example.meta.
_COMMON_KEYS = ("id", "system", "verifier", "meta")
_FORM_KEYS = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "prompt_completion": ("prompt", "completion"),
    "question_answer": ("question", "answer", "history", *REASONING_KEYS),
    "gsm8k": ("question", "answer"),
    "alpaca": ("instruction", "input", "output"),
    "problem_solution": ("problem", "solution", "answer"),
    "s1k": ("question", "thinking_trajectories", "attempt"),
}
# the fields a column map may fill
MAP_TARGETS = tuple(sorted({key for keys in _FORM_KEYS.values() for key in keys} | set(_COMMON_KEYS)))
_GSM8K_FINAL = re.compile(r"^####[ \t]*([^\n]*?)\s*\Z", re.MULTILINE)  # the last non-blank line
_GSM8K_CALC = re.compile(r"<<[^<>]*>>")
_TAG_RE = re.compile(r"</?(?:think|answer)>")
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_FIELD_ROOT = re.compile(r"^[^.\[]+")
LOCATION_KEY = "location"  # Example.meta key of the row's `file:line`


class DataError(UserError):
    """A dataset problem a user can fix; the message names the file, line and field."""


@dataclass(frozen=True)
class RowError:
    """Why one row (or line) cannot be read.

    Attributes:
        field: the field at fault (`answer`, `messages[2].content`), None for the row as a whole.
        message: what is wrong, in words a user can act on.
        kind: what sort of problem, for summaries (not compared): `json` (a line that is not JSON),
            `encoding` (not UTF-8, lone surrogates), `not_object`, `unrecognised` (no form fits),
            `wrong_type`, `missing` (a missing or empty field), `invalid` (fields that do not fit together).
    """

    field: str | None
    message: str
    kind: str = dataclass_field(default="invalid", compare=False)


@dataclass(frozen=True)
class ParsedRow:
    """The result of `parse_row`: the example (None when there are errors), its form and its errors."""

    example: Example | None
    form: str | None
    errors: tuple[RowError, ...] = ()


# ------------------------------------------------------------------------------------- Hugging Face
class HFSpec(NamedTuple):
    """A parsed `hf:NAME[:CONFIG[:SPLIT[START:STOP]]]` source.

    Attributes:
        name, config, split: what `datasets.load_dataset` takes (split defaults to `train`).
        start, stop: the slice's bounds as written (None: open), row counts or, with `percent`, percentages.
        percent: the bounds are percentages of the split (`train[:10%]`).
    """

    name: str
    config: str | None = None
    split: str = "train"
    start: int | None = None
    stop: int | None = None
    percent: bool = False

    @property
    def sliced(self) -> bool:
        return self.start is not None or self.stop is not None

    def streams(self, limit: int | None = None) -> bool:
        """True when the rows can be streamed: absolute, non-negative bounds and a known end (or `limit`).

        >>> parse_hf_spec("hf:a/b::train[:1000]").streams(), parse_hf_spec("hf:a/b").streams(limit=5)
        (True, True)
        >>> parse_hf_spec("hf:a/b").streams(), parse_hf_spec("hf:a/b::train[:10%]").streams(limit=5)
        (False, False)
        """
        if self.percent or any(b is not None and b < 0 for b in (self.start, self.stop)):
            return False
        return self.stop is not None or limit is not None

    def bounds(self, n_rows: int) -> tuple[int, int]:
        """The `[start, stop)` row indices of the slice in a split of `n_rows` rows (Python slice rules;
        percentages rounded to the closest row, as `datasets` does).

        >>> spec = parse_hf_spec("hf:a/b::train[10:-10]")
        >>> spec.bounds(100), parse_hf_spec("hf:a/b::test[:25%]").bounds(10), parse_hf_spec("hf:a/b").bounds(7)
        ((10, 90), (0, 3), (0, 7))
        """

        def rows(bound: int | None) -> int | None:
            if bound is None or not self.percent:
                return bound
            return math.floor(n_rows * bound / 100 + 0.5)

        start, stop, _ = slice(rows(self.start), rows(self.stop)).indices(n_rows)
        return start, max(start, stop)


def is_hf_spec(source: str | Path) -> bool:
    """True for a Hugging Face dataset name (`hf:NAME[:CONFIG[:SPLIT]]`) rather than a file."""
    return isinstance(source, str) and source.startswith(HF_PREFIX)


_HF_USAGE = "use hf:NAME[:CONFIG[:SPLIT]], with an optional slice on the split: hf:NAME:CONFIG:train[:1000]"
_HF_BOUND = re.compile(r"\s*(-?\d+)\s*(%?)\s*")


def parse_hf_spec(spec: str) -> HFSpec:
    """Split `hf:NAME[:CONFIG[:SPLIT[START:STOP]]]` into an `HFSpec`.

    The slice is the `datasets` split syntax: `train[:1000]`, `train[100:200]`, `train[-500:]`,
    `train[:10%]` (both bounds rows, or both percentages). An empty CONFIG is none: `hf:NAME::test[:50]`.

    >>> parse_hf_spec("hf:openai/gsm8k:main:test")
    HFSpec(name='openai/gsm8k', config='main', split='test', start=None, stop=None, percent=False)
    >>> parse_hf_spec("hf:openai/gsm8k:main:train[:1000]")[:5]
    ('openai/gsm8k', 'main', 'train', None, 1000)
    >>> parse_hf_spec("hf:openai/gsm8k")[:3]
    ('openai/gsm8k', None, 'train')

    Raises:
        DataError: the name is empty, there are too many parts, or the slice is malformed.
    """
    body = spec[len(HF_PREFIX) :] if spec.startswith(HF_PREFIX) else spec
    head, bracket, tail = body.partition("[")
    parts = head.split(":")
    if not parts[0] or len(parts) > 3:
        raise DataError(f"bad Hugging Face dataset name {spec!r}: {_HF_USAGE}")
    name = parts[0]
    config = parts[1] if len(parts) > 1 and parts[1] else None
    split = parts[2] if len(parts) > 2 and parts[2] else "train"
    if not bracket:
        return HFSpec(name, config, split)
    if len(parts) != 3:
        raise DataError(f"bad Hugging Face dataset name {spec!r}: the slice goes on the split, after the config "
                        f"(an empty config is none): hf:{name}:{config or ''}:{split}[{tail}")
    inner = tail[:-1] if tail.endswith("]") else None
    pieces = inner.split(":") if inner is not None and "[" not in inner and "]" not in inner else []
    bounds = [_HF_BOUND.fullmatch(p) if p.strip() else None for p in pieces]
    if len(pieces) != 2 or any(p.strip() and b is None for p, b in zip(pieces, bounds, strict=True)):
        raise DataError(f"bad slice in Hugging Face dataset name {spec!r}: write it as {split}[START:STOP] with "
                        f"whole numbers (or percentages), e.g. {split}[:1000], {split}[100:200], {split}[:10%]")
    units = {b.group(2) for b in bounds if b is not None}
    if len(units) > 1:
        raise DataError(f"bad slice in Hugging Face dataset name {spec!r}: both bounds must be row counts or both "
                        "percentages")
    start, stop = (int(b.group(1)) if b is not None else None for b in bounds)
    return HFSpec(name, config, split, start, stop, units == {"%"})


def _iter_hf_rows(source: str, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a Hugging Face split (sliced), numbered by their 1-based index in the split when known.

    With a slice that has an end, or a `limit` (the caller stops after that many rows), the split is
    streamed (`streaming=True`) and only the rows needed are fetched; otherwise it is downloaded and sliced.
    """
    spec = parse_hf_spec(source)
    stream = spec.streams(limit)

    def fail(e: Exception, doing: str) -> DataError:
        first = str(e).splitlines()[0] if str(e) else ""
        return DataError(f"could not {doing} Hugging Face dataset {spec.name!r} (config {spec.config}, split "
                         f"{spec.split}): {type(e).__name__}: {first}")

    try:
        import datasets

        if stream:
            ds = datasets.load_dataset(spec.name, spec.config, split=spec.split, streaming=True)
        else:
            ds = datasets.load_dataset(spec.name, spec.config, split=spec.split)
    except Exception as e:  # network, missing dataset, bad config/split: all one clear line
        raise fail(e, "load") from e
    if stream:
        start = spec.start or 0
        rows: Iterable[Any] = itertools.islice(ds, start, spec.stop)
    elif spec.sliced:
        start, stop = spec.bounds(len(ds))
        rows = ds.select(range(start, stop)) if hasattr(ds, "select") else ds[start:stop]
    else:
        start, rows = 0, ds
    index = start
    try:
        for index, row in enumerate(rows, start=start + 1):
            yield index, dict(row)
    except Exception as e:  # a stream that breaks half way
        raise fail(e, f"read row {index + 1} of") from e


# ------------------------------------------------------------------------------------------ raw rows
def iter_rows(source: str | Path, *, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any] | Any | RowError]]:
    """Yield `(line_no, row)` for each non-blank line of a JSONL file (1-based line numbers).

    `row` is the decoded JSON value (normally a dict; `parse_row` reports anything else) or a `RowError`
    when the line is not valid UTF-8 or not valid JSON (the message gives the column). For a Hugging Face
    source (`hf:...`, see `parse_hf_spec`) line numbers are 1-based row indices in the split.

    Args:
        source: a JSONL file or `hf:NAME[:CONFIG[:SPLIT[START:STOP]]]`.
        limit: the caller reads at most this many rows; a Hugging Face split is then streamed, not
            downloaded whole. Rows are always yielded lazily, so stopping early costs nothing.

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: the path is a folder, or a Hugging Face dataset cannot be loaded.
    """
    if is_hf_spec(source):
        yield from _iter_hf_rows(str(source), limit)
        return
    path = Path(source)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a .jsonl file")
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield line_no, RowError(None, f"not valid UTF-8 at byte {e.start + 1}", "encoding")
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
                yield line_no, RowError(None, f"invalid JSON at column {e.colno}: {e.msg}{hint}", "json")


# ---------------------------------------------------------------------------------------- column map
def parse_column_map(spec: str | Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """A column map as `{field: the row's column}`, from `"question=instruction,answer=output"`, a list of
    such strings (repeated `--map`), or a mapping (a config's). None or empty gives `{}`.

    Each field is one the readers know (`MAP_TARGETS`: `question`, `answer`, `reasoning`, `prompt`,
    `messages`, `problem`, ...); `parse_row` renames the row's column to it before detecting the form.

    >>> parse_column_map("question=instruction, answer=output")
    {'question': 'instruction', 'answer': 'output'}

    Raises:
        DataError: a piece without `=`, an empty name, a field given twice, or a field the readers do not know.
    """
    if not spec:
        return {}
    if isinstance(spec, Mapping):
        pairs = [(str(k), v) for k, v in spec.items()]
    else:
        pieces = [spec] if isinstance(spec, str) else list(spec)
        pairs = []
        for piece in (p for text in pieces for p in str(text).split(",")):
            if not piece.strip():
                continue
            target, eq, column = piece.partition("=")
            if not eq:
                raise DataError(f"column map: {piece.strip()!r} is not FIELD=COLUMN (e.g. question=instruction)")
            pairs.append((target, column))
    mapping: dict[str, str] = {}
    for target, column in pairs:
        target = target.strip()
        column = column.strip() if isinstance(column, str) else column
        if not target or not isinstance(column, str) or not column:
            raise DataError(f"column map: {target or '?'}={column!r}: both the field and the column must be named")
        if target not in MAP_TARGETS:
            raise DataError(f"column map: unknown field {target!r}; map columns to one of {', '.join(MAP_TARGETS)}")
        if target in mapping:
            raise DataError(f"column map: {target} is mapped twice ({mapping[target]} and {column})")
        mapping[target] = column
    return mapping


def _apply_column_map(row: dict[str, Any], mapping: dict[str, str]) -> tuple[dict[str, Any], list[RowError]]:
    """`row` with its mapped columns renamed to their fields, and the clashes (a field the row already has)."""
    sources = set(mapping.values())
    out = {k: v for k, v in row.items() if k not in sources}
    errors = []
    for target, column in mapping.items():
        if column not in row:
            continue
        if target in row and target not in sources:
            errors.append(RowError(target, f"{target} given twice: as the column {target} and as the column "
                                   f"{column} mapped to it (--map {target}={column})"))
        out[target] = row[column]
    return out, errors


def _unmap_errors(errors: Iterable[RowError], row: dict[str, Any], mapping: dict[str, str]) -> tuple[RowError, ...]:
    """Errors about a mapped field name the row's own column (and say which mapping made it)."""
    out = []
    for error in errors:
        root = _FIELD_ROOT.match(error.field).group() if error.field else None
        column = mapping.get(root) if root else None
        if column is None or "given twice: as the column" in error.message:
            out.append(error)
        elif column in row:
            out.append(RowError(column + error.field[len(root) :], f"{error.message} (--map {root}={column})",
                                error.kind))
        elif root in row:  # the row has the field itself (a file that mixes layouts)
            out.append(error)
        else:
            out.append(RowError(error.field, f"{error.message} (--map {root}={column}: this row has no column "
                                f"{column!r})", error.kind))
    return tuple(out)


# --------------------------------------------------------------------------------------- one row
class _Problems:
    """Collects the problems of one row so every one is reported, not just the first."""

    def __init__(self, errors: Iterable[RowError] = ()) -> None:
        self.errors: list[RowError] = list(errors)

    def add(self, field: str | None, message: str, kind: str = "invalid") -> None:
        self.errors.append(RowError(field, message, kind))

    def text(self, value: Any, field: str, *, required: bool = True, number_ok: bool = False) -> str | None:
        """`value` as stripped text; records missing / wrong-type / empty problems and returns None."""
        if value is None:
            if required:
                self.add(field, f"missing {field}", "missing")
            return None
        if number_ok and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            expected = "a string or a number" if number_ok else "a string"
            self.add(field, f"{field} must be {expected}, not {_type_name(value)}", "wrong_type")
            return None
        if not value.strip():
            if required:
                self.add(field, f"empty {field}", "missing")
            return None
        return value.strip()


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def detect_form(row: dict[str, Any]) -> str | None:
    """Which reader form a row is in (see the module docstring), or None when it is none of them.

    The first that fits, in this order: `messages`; `conversations` (sharegpt); `thinking_trajectories` or
    `attempt` (s1k); `problem` (problem_solution); `prompt` or `completion`; `question` or `answer` (gsm8k
    when the answer ends in a `#### N` line, else question_answer); `instruction` or `output` (alpaca);
    `solution` (problem_solution, so that a `prompt`/`completion` row with a `solution` column stays one).

    >>> [detect_form(r) for r in ({"conversations": []}, {"problem": "", "solution": ""}, {"output": ""}, {})]
    ['sharegpt', 'problem_solution', 'alpaca', None]
    >>> detect_form({"prompt": "", "completion": "", "solution": ""}), detect_form({"solution": ""})
    ('prompt_completion', 'problem_solution')
    """
    if "messages" in row:
        return "messages"
    if "conversations" in row:
        return "sharegpt"
    if "thinking_trajectories" in row or "attempt" in row:
        return "s1k"
    if "problem" in row:
        return "problem_solution"
    if "prompt" in row or "completion" in row:
        return "prompt_completion"
    if "question" in row or "answer" in row:
        answer = row.get("answer")
        if isinstance(answer, str) and _GSM8K_FINAL.search(answer):
            return "gsm8k"
        return "question_answer"
    if "instruction" in row or "output" in row:
        return "alpaca"
    if "solution" in row:
        return "problem_solution"
    return None


def parse_row(row: Any, source: str = "", *, answer_mode: str = "final",
              column_map: str | Mapping[str, str] | None = None) -> ParsedRow:
    """Turn one raw row into an `Example`, or report every problem it has. Never raises for a bad row.

    Args:
        row: the decoded JSON value of one line (or a `RowError` from `iter_rows`, passed through).
        source: where the row came from (`file:line`), stored in `Example.meta["location"]`, and in
            `Example.meta["source"]` unless the row has its own `source`.
        answer_mode: `final` (a `\\boxed{}` answer is read out of the answer text) or `full` (the answer
            text is kept whole); see the module docstring.
        column_map: `{field: column}` (or its `"field=column,..."` text, see `parse_column_map`): the row's
            columns renamed before its form is detected. Errors about a mapped field name the column.

    Raises:
        ValueError: an unknown `answer_mode`.
        DataError: a malformed `column_map`.
    """
    if answer_mode not in ANSWER_MODES:
        raise ValueError(f"unknown answer_mode {answer_mode!r}: expected one of {', '.join(ANSWER_MODES)}")
    if isinstance(row, RowError):
        return ParsedRow(None, None, (row,))
    if not isinstance(row, dict):
        return ParsedRow(None, None, (RowError(None, f"row is {_type_name(row)}, not a JSON object", "not_object"),))
    mapping = parse_column_map(column_map)
    if not mapping:
        return _parse_dict(row, source, answer_mode, [])
    mapped, clashes = _apply_column_map(row, mapping)
    parsed = _parse_dict(mapped, source, answer_mode, clashes)
    if parsed.errors:
        return ParsedRow(None, parsed.form, _unmap_errors(parsed.errors, row, mapping))
    return parsed


_EXPECTED_FORMS = ("expected `messages`, `prompt`+`completion` or `question`+`answer`, or `conversations` "
                   "(ShareGPT), `instruction`+`output` (Alpaca), `problem`+`solution` (MATH), "
                   "`question`+`thinking_trajectories`+`attempt` (s1K); name other columns with --map FIELD=COLUMN "
                   "(see thinktune.data.readers)")


def _parse_dict(row: dict[str, Any], source: str, answer_mode: str, clashes: list[RowError]) -> ParsedRow:
    surrogates = tuple(_surrogate_errors(row))
    if surrogates:  # before anything prints the row's text: a lone surrogate cannot be encoded
        return ParsedRow(None, detect_form(row), surrogates)
    form = detect_form(row)
    if form is None:
        keys = ", ".join(sorted(row)) or "none"
        return ParsedRow(None, None, (RowError(None, f"unrecognised row (keys: {keys}); {_EXPECTED_FORMS}",
                                               "unrecognised"),))
    problems = _Problems(clashes)
    fields = _READERS[form](row, problems, answer_mode)
    extra = _read_common(row, form, answer_mode, problems)
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
            f"{found.start() + 1}: not valid Unicode text (fix that escape in the file)"), "encoding")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if _SURROGATE_RE.search(str(key)):
                yield RowError(_printable(name), f"the key `{_printable(str(key))}` holds a lone surrogate: "
                               "not valid Unicode text (fix that escape in the file)", "encoding")
            else:
                yield from _surrogate_errors(item, name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _surrogate_errors(item, f"{field}[{i}]")


def _printable(text: str) -> str:
    """`text` with any lone surrogate written as a `\\udxxx` escape, so it can be encoded and printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _consumed_keys(form: str, answer_mode: str) -> set[str]:
    keys = {*_FORM_KEYS[form], *_COMMON_KEYS}
    if form == "problem_solution" and answer_mode == "full":
        keys.discard("answer")  # the whole solution is the answer: the answer column is kept in meta
    return keys


def _read_common(row: dict[str, Any], form: str, answer_mode: str, problems: _Problems) -> dict[str, Any]:
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
        problems.add("meta", f"meta must be an object, not {_type_name(meta)}", "wrong_type")
        meta = {}
    meta = dict(meta)
    consumed = _consumed_keys(form, answer_mode)
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
    problems.add("id", f"id must be a string or a whole number, not {what}", "wrong_type")
    return None


# ------------------------------------------------------------------------------- thinking and answers
def _thought_marker(text: str) -> tuple[str, str]:
    """The `(open, close)` thinking markers `text` uses: the first of `THOUGHT_MARKERS` it holds, else `<think>`'s."""
    for open_, close in THOUGHT_MARKERS:
        if open_ in text or close in text:
            return open_, close
    return THINK_OPEN, THINK_CLOSE


def _as_think_tags(text: str) -> tuple[str, tuple[str, str]]:
    """`text` with its thinking markers written as `<think>` tags and solution markers removed, and the
    markers it used."""
    markers = _thought_marker(text)
    if markers[0] != THINK_OPEN:
        text = text.replace(markers[0], THINK_OPEN).replace(markers[1], THINK_CLOSE)
    for marker in SOLUTION_MARKERS:
        text = text.replace(marker, "")
    return text, markers


def _split_target(text: str, field: str, problems: _Problems) -> tuple[str | None, str | None]:
    """Split a target that may hold thinking markers into `(thinking, answer text)`.

    Text without markers is the answer. With them, `format.parse` (lenient) splits it; the DeepSeek-R1 shape
    `<think>…</think> answer` (no `<answer>` tag after the last `</think>`) takes the text after `</think>`
    as the answer, even when the thinking itself mentions `<answer>`. The other markers of
    `THOUGHT_MARKERS` are read as `<think>` tags, and the solution markers around the answer are dropped.
    """
    text, (open_, close) = _as_think_tags(text)
    if not any(tag in text for tag in REASONING_TAGS):
        if not text.strip():
            problems.add(field, f"missing answer: {field} holds only the markers {' '.join(SOLUTION_MARKERS)}",
                         "missing")
            return None, None
        return None, text.strip()
    parsed = parse(text)
    answer = parsed.answer
    after_think = text.rsplit(THINK_CLOSE, 1)[1] if THINK_CLOSE in text else None
    if answer is None and after_think is not None and ANSWER_OPEN not in after_think:
        answer = _TAG_RE.sub("", after_think).strip() or None
    if answer is None:
        then = (f"{SOLUTION_MARKERS[0]}…{SOLUTION_MARKERS[1]}" if open_ == THOUGHT_MARKERS[1][0]
                else f"the answer or {ANSWER_OPEN}…{ANSWER_CLOSE}")
        problems.add(field, f"missing answer: {field} has thinking tags but no answer after {close}"
                     f" (expected {open_}…{close} then {then})", "missing")
    return parsed.thinking, answer


def _box_close(text: str, start: int) -> int | None:
    """The index of the `}` that closes the brace opened just before `start`; None when it never closes.
    Escaped braces (`\\{`, `\\}`) do not count."""
    depth, i = 1, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _last_box(text: str) -> tuple[int, int, str | None] | None:
    """`(start, end, content)` of the last `\\boxed{…}` / `\\fbox{…}` (content None: never closed), or None."""
    found = None
    for m in _BOXED_RE.finditer(text):
        close = _box_close(text, m.end())
        found = (m.start(), len(text) if close is None else close + 1,
                 None if close is None else text[m.end() : close])
    return found


def last_boxed(text: str | None) -> str | None:
    r"""The content of the last `\boxed{…}` (or `\fbox{…}`) in `text`, nested braces and all (stripped);
    None when there is none, or the last one is never closed.

    >>> print(last_boxed(r"First $\boxed{2}$, then $x = \boxed{\frac{1}{2}}$."))
    \frac{1}{2}
    >>> print(last_boxed(r"the set $\boxed{\{1, 2\}}$")), last_boxed("no box"), last_boxed(r"\boxed{1 + {2")
    \{1, 2\}
    (None, None, None)
    """
    box = _last_box(text) if isinstance(text, str) else None
    return None if box is None or box[2] is None else box[2].strip()


def _final_answer(text: str, reasoning: str | None, field: str, problems: _Problems,
                  missing: str | None = None) -> tuple[str | None, str | None]:
    """`(reasoning, answer)` of an answer text read in `final` mode: the last box's content is the answer.

    A text with a box and no other reasoning is a worked solution: it becomes the reasoning. A text without
    a box is the answer as it is, unless `missing` (the message) says one is required.
    """
    box = _last_box(text)
    if box is None:
        if missing:
            problems.add(field, missing, "missing")
            return reasoning, None
        return reasoning, text
    start, end, content = box
    if content is None:
        problems.add(field, f"the last \\boxed{{ of {field} (at character {start + 1}) is never closed: its braces "
                     "do not balance")
        return reasoning, None
    if not content.strip():
        problems.add(field, f"missing answer: the last \\boxed{{}} of {field} is empty", "missing")
        return reasoning, None
    if reasoning is None and re.search(r"\w", text[:start] + text[end:]):
        reasoning = text
    return reasoning, content.strip()


def _target(text: str, field: str, problems: _Problems, answer_mode: str, explicit: str | None = None,
            explicit_field: str = "reasoning") -> tuple[str | None, str | None]:
    """`(reasoning, answer)` of a target text (thinking markers split off, the answer per `answer_mode`),
    merged with a reasoning given in its own field (`explicit`, a problem when both have one)."""
    thinking, answer = _split_target(text, field, problems)
    reasoning = _merge_reasoning(explicit, explicit_field, thinking, field, problems)
    if answer is None or answer_mode == "full":
        return reasoning, answer
    return _final_answer(answer, reasoning, field, problems)


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


# ------------------------------------------------------------------------------------------- the forms
def _read_question_answer(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """`question`/`answer` (+ `reasoning` or `rationale`, `history`): the canonical form, AQuA-RAT, CoT sets."""
    question = problems.text(row.get("question"), "question")
    answer_text = problems.text(row.get("answer"), "answer", number_ok=True)
    key = next((k for k in REASONING_KEYS if k in row), "reasoning")
    reasoning = unwrap_think(problems.text(row.get(key), key, required=False))
    if answer_text is None:
        return None
    reasoning, answer = _target(answer_text, "answer", problems, answer_mode, reasoning, key)
    history = _read_history(row.get("history", []), problems)
    if question is None or answer is None or history is None:
        return None
    return {"question": question, "answer": answer, "reasoning": reasoning, "history": history}


def _read_history(history: Any, problems: _Problems) -> list[dict[str, str]] | None:
    """Earlier turns of a canonical row: a list of `{"role": "user"|"assistant", "content": str}`."""
    if not isinstance(history, list):
        problems.add("history", f"history must be a list of turns, not {_type_name(history)}", "wrong_type")
        return None
    turns = []
    for i, turn in enumerate(history):
        field = f"history[{i}]"
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            problems.add(field, f"{field} must be an object with role user or assistant and content", "wrong_type")
            continue
        content = _turn_content(turn.get("content"), f"{field}.content", problems)
        if content is not None:
            turns.append({"role": turn["role"], "content": content})
    return turns if len(turns) == len(history) else None


def _read_gsm8k(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """GSM8K (`openai/gsm8k`): `question`, and an `answer` whose last line is `#### N`."""
    del answer_mode  # the answer after #### is already the final one
    question = problems.text(row.get("question"), "question")
    for key in REASONING_KEYS:
        if key in row:
            problems.add(key, f"reasoning given twice: in {key} and before #### in answer (GSM8K form)")
    text = row["answer"]
    final = _GSM8K_FINAL.search(text)
    answer = final.group(1).strip()
    reasoning = _GSM8K_CALC.sub("", text[: final.start()]).strip() or None
    if not answer:
        problems.add("answer", "missing answer: nothing after ####", "missing")
    if question is None or not answer:
        return None
    return {"question": question, "answer": answer, "reasoning": reasoning}


def _read_prompt_completion(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """`prompt`/`completion` (TRL's standard form; both lists of messages: its conversational form)."""
    prompt, completion = row.get("prompt"), row.get("completion")
    if isinstance(prompt, list) and isinstance(completion, list):  # TRL's conversational form
        fields = [f"prompt[{i}]" for i in range(len(prompt))] + [f"completion[{i}]" for i in range(len(completion))]
        return _read_turns(prompt + completion, fields, "completion", problems, answer_mode)
    question = problems.text(prompt, "prompt")
    target = problems.text(completion, "completion")
    if target is None:
        return None
    reasoning, answer = _target(target, "completion", problems, answer_mode)
    if question is None or answer is None:
        return None
    return {"question": question, "answer": answer, "reasoning": reasoning}


def _read_messages_row(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """OpenAI-style `messages` (OpenR1-Math-220k, Mixture-of-Thoughts: `<think>…</think>` then a solution
    with a `\\boxed{}` answer in the assistant turn; NuminaMath-CoT: the worked solution alone)."""
    messages = row["messages"]
    if not isinstance(messages, list):
        problems.add("messages", f"messages must be a list of turns, not {_type_name(messages)}", "wrong_type")
        return None
    return _read_turns(messages, [f"messages[{i}]" for i in range(len(messages))], "messages", problems, answer_mode)


def _read_sharegpt(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """ShareGPT `conversations` of `{"from", "value"}` turns, with an optional top-level `system`
    (Bespoke-Stratos-17k and Sky-T1_data_17k, whose assistant turns hold `<|begin_of_thought|>` markers)."""
    turns = row["conversations"]
    if not isinstance(turns, list):
        problems.add("conversations", f"conversations must be a list of turns, not {_type_name(turns)}", "wrong_type")
        return None
    return _read_turns(turns, [f"conversations[{i}]" for i in range(len(turns))], "conversations", problems,
                       answer_mode, role_key="from", content_key="value", roles=SHAREGPT_ROLES)


def _turn_content(content: Any, field: str, problems: _Problems) -> str | None:
    """A turn's text: a string, or OpenAI's list of `{"type": "text", "text": ...}` parts joined."""
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        content = "".join(p["text"] for p in content)
    elif isinstance(content, list):
        problems.add(field, f"{field} must be a string or a list of text parts", "wrong_type")
        return None
    text = problems.text(content, field, required=False)
    if text is None and (content is None or isinstance(content, str)):
        problems.add(field, f"empty turn: {field} is {'missing' if content is None else 'empty'}", "missing")
    return text


def _read_turns(turns: list[Any], fields: list[str], whole: str, problems: _Problems, answer_mode: str, *,
                role_key: str = "role", content_key: str = "content",
                roles: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Read a chat (list of turns): the last assistant turn is the target, the last user turn the question.

    `roles` maps the values of `role_key` to `system`/`user`/`assistant` (ShareGPT's `human`, `gpt`).
    """
    roles = roles or {role: role for role in ROLES}
    if not turns:
        problems.add(whole, f"{whole} is empty", "missing")
        return None
    chat: list[dict[str, Any]] = []
    for turn, field in zip(turns, fields, strict=True):
        if not isinstance(turn, dict):
            problems.add(field, f"{field} must be an object with {role_key} and {content_key}, not "
                         f"{_type_name(turn)}", "wrong_type")
            continue
        raw_role = turn.get(role_key)
        role = roles.get(raw_role) if isinstance(raw_role, str) else None
        if role is None:
            problems.add(f"{field}.{role_key}", f"{field}.{role_key} must be one of {', '.join(roles)}, not "
                         f"{raw_role!r}", "wrong_type")
            continue
        content = _turn_content(turn.get(content_key), f"{field}.{content_key}", problems)
        chat.append({"role": role, "content": content or "", "_field": field, "_turn": turn})
    if problems.errors:
        return None
    if chat[-1]["role"] != "assistant":
        has_assistant = any(t["role"] == "assistant" for t in chat)
        if has_assistant:
            problems.add(whole, "the conversation must end with the assistant's turn (the training target)")
        else:
            problems.add(whole, "missing answer: no assistant turn (the last assistant turn is the target)", "missing")
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
    reasoning, answer = _target(target["content"], f"{field}.{content_key}", problems, answer_mode, explicit,
                                f"{field}.{key}")
    if answer is None:
        return None
    history = [{"role": t["role"], "content": t["content"]} for t in before[:-1]]
    return {"question": before[-1]["content"], "answer": answer, "reasoning": reasoning,
            "system": system, "history": history}


def _read_alpaca(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """Stanford Alpaca's `instruction`/`input`/`output` (tatsu-lab/alpaca and the instruction sets built like it).

    The question is the instruction, then a blank line and the input when it is not empty.
    """
    instruction = problems.text(row.get("instruction"), "instruction")
    extra_input = problems.text(row.get("input"), "input", required=False)
    output = problems.text(row.get("output"), "output", number_ok=True)
    if output is None:
        return None
    reasoning, answer = _target(output, "output", problems, answer_mode)
    if instruction is None or answer is None:
        return None
    question = f"{instruction}\n\n{extra_input}" if extra_input else instruction
    return {"question": question, "answer": answer, "reasoning": reasoning}


def _read_problem_solution(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """`problem`/`solution` (hendrycks MATH, HuggingFaceH4/MATH-500, AI-MO/NuminaMath-CoT), `answer` optional.

    The solution is the reasoning. In `final` mode the answer is the `answer` column when it holds one
    (MATH-500), else the last `\\boxed{…}` of the solution (MATH, NuminaMath); neither is an error. In
    `full` mode the whole solution is the answer and an `answer` column is kept in `Example.meta`.
    """
    problem = problems.text(row.get("problem"), "problem")
    solution = problems.text(row.get("solution"), "solution", number_ok=True)
    given = None
    column = row.get("answer")
    if answer_mode == "final" and column is not None and not (isinstance(column, str) and not column.strip()):
        given = problems.text(column, "answer", number_ok=True)
        if given is None:
            return None
    if solution is None:
        return None
    thinking, rest = _split_target(solution, "solution", problems)
    if rest is None:
        return None
    if answer_mode == "full":
        reasoning, answer = thinking, rest
    elif given is not None:
        reasoning, answer = (thinking if thinking is not None else rest), given
    else:
        reasoning, answer = _final_answer(rest, thinking, "solution", problems, missing=(
            "missing answer: no `answer` column and no \\boxed{…} in solution (add an answer column, map one with "
            "--map answer=COLUMN, or read with --answer-mode full to keep the whole solution as the answer)"))
    if problem is None or answer is None:
        return None
    return {"question": problem, "answer": answer, "reasoning": reasoning}


def _read_trajectories(value: Any, problems: _Problems) -> str | None:
    """s1K's `thinking_trajectories`: a list of strings joined by blank lines (a single string is taken too)."""
    field = "thinking_trajectories"
    if value is None or isinstance(value, str):
        return problems.text(value, field)
    if not isinstance(value, list):
        problems.add(field, f"{field} must be a list of strings, not {_type_name(value)}", "wrong_type")
        return None
    parts = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems.add(f"{field}[{i}]", f"{field}[{i}] must be a string, not {_type_name(item)}", "wrong_type")
        elif item.strip():
            parts.append(item.strip())
    if not parts:
        if all(isinstance(item, str) for item in value):
            problems.add(field, f"empty {field}", "missing")
        return None
    return "\n\n".join(parts)


def _read_s1k(row: dict[str, Any], problems: _Problems, answer_mode: str) -> dict[str, Any] | None:
    """simplescaling/s1K: `question`, `thinking_trajectories` (a list), `attempt`; `solution` goes to meta.

    The trajectories are the reasoning, the attempt the target (its last `\\boxed{}` is the answer in
    `final` mode). s1K-1.1's `deepseek_thinking_trajectory`/`deepseek_attempt` (strings) read the same
    with `--map thinking_trajectories=deepseek_thinking_trajectory,attempt=deepseek_attempt`.
    """
    question = problems.text(row.get("question"), "question")
    trajectories = _read_trajectories(row.get("thinking_trajectories"), problems)
    attempt = problems.text(row.get("attempt"), "attempt", number_ok=True)
    if attempt is None:
        return None
    reasoning, answer = _target(attempt, "attempt", problems, answer_mode, unwrap_think(trajectories),
                                "thinking_trajectories")
    if question is None or trajectories is None or answer is None:
        return None
    return {"question": question, "answer": answer, "reasoning": reasoning}


_READERS = {
    "messages": _read_messages_row, "sharegpt": _read_sharegpt, "prompt_completion": _read_prompt_completion,
    "question_answer": _read_question_answer, "gsm8k": _read_gsm8k, "alpaca": _read_alpaca,
    "problem_solution": _read_problem_solution, "s1k": _read_s1k,
}
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


BUILTIN_PREFIX = "builtin:"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "resources" / "datasets"


def resolve_data(spec: str) -> str:
    """A data spec as the readers take it: `builtin:NAME` becomes the shipped JSONL file's path.

    Files and `hf:NAME[:CONFIG[:SPLIT]]` pass through unchanged.
    """
    if not str(spec).startswith(BUILTIN_PREFIX):
        return spec
    path = BUILTIN_DIR / f"{spec[len(BUILTIN_PREFIX):]}.jsonl"
    if not path.is_file():
        known = ", ".join(BUILTIN_PREFIX + p.stem for p in sorted(BUILTIN_DIR.glob("*.jsonl")))
        raise DataError(f"data: no built-in dataset {spec!r} (known: {known})")
    return str(path)


def read_examples(source: str | Path, *, limit: int | None = None, answer_mode: str = "final",
                  column_map: str | Mapping[str, str] | None = None) -> list[Example]:
    """Read a dataset into examples; any bad row is an error (use `validate_file` to see them all).

    Args:
        source: a JSONL file in any form of the module docstring, or `hf:NAME[:CONFIG[:SPLIT[START:STOP]]]`
            (streamed when a `limit` or a slice end is given).
        limit: stop after this many examples.
        answer_mode: `final` (a boxed answer is read out of the solution) or `full` (the whole answer text
            is kept, for free-text tasks); see the module docstring.
        column_map: the row's columns renamed to the readers' fields, `{"question": "instruction"}` or
            `"question=instruction,answer=output"` (see `parse_column_map`).

    Raises:
        DataError: the first bad row, as `file:line: field: message`, a source with no rows, an unknown
            `answer_mode` or a malformed `column_map`.
        FileNotFoundError: the file does not exist.
    """
    check_answer_mode(answer_mode)
    mapping = parse_column_map(column_map)
    source = resolve_data(source) if isinstance(source, str) else source
    examples: list[Example] = []
    if limit is not None and limit <= 0:
        return examples
    for line_no, row in iter_rows(source, limit=limit):
        where = f"{source}:{line_no}"
        parsed = parse_row(row, where, answer_mode=answer_mode, column_map=mapping)
        if parsed.errors:
            first = parsed.errors[0]
            more = f" (and {len(parsed.errors) - 1} more on this row)" if len(parsed.errors) > 1 else ""
            field = f" {first.field}:" if first.field else ""
            raise DataError(f"{where}:{field} {first.message}{more}; "
                            f"run `thinktune data validate {source}{cli_flags(answer_mode, mapping)}` to list "
                            "every problem")
        examples.append(parsed.example)
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise DataError(f"{source}: no rows (the file is empty)")
    return examples


def check_answer_mode(answer_mode: str) -> str:
    """`answer_mode` if it is one of `ANSWER_MODES`, else a `DataError` naming them."""
    if answer_mode not in ANSWER_MODES:
        raise DataError(f"unknown answer mode {answer_mode!r}: expected one of {', '.join(ANSWER_MODES)}")
    return answer_mode


def cli_flags(answer_mode: str = "final", column_map: Mapping[str, str] | None = None) -> str:
    """The `thinktune data` flags that read a source the same way (for messages that suggest a command).

    >>> cli_flags("full", {"question": "instruction", "answer": "output"})
    ' --answer-mode full --map question=instruction,answer=output'
    """
    flags = "" if answer_mode == "final" else f" --answer-mode {answer_mode}"
    if column_map:
        flags += " --map " + ",".join(f"{k}={v}" for k, v in column_map.items())
    return flags


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
