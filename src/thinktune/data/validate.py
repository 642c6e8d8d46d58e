"""`thinktune data validate`: every problem in a dataset, with file, line and field, and what is usable.

`validate_file` reads a source with the same parser as `read_examples` (`readers.iter_rows` +
`readers.parse_row`) but does not stop at the first problem: it reports each one as an `Issue` and counts
the valid rows, which it keeps (`report.examples`), so no row is ever dropped silently.

Problems come in two groups, listed in this order so that a broken line is never buried under quality
notes (each group in file order, its file-wide summary last), and counted per kind (`Issue.kind`,
`ValidationReport.by_kind`):

Row errors (the row cannot be used; the exit code is 1 when there is any):
    - a line that is not valid JSON (with its column), not UTF-8, or not a JSON object (`json`,
      `encoding`, `not_object`);
    - a row in none of the reader forms (`unrecognised`); wrong types (`wrong_type`); empty turns, a
      missing question or answer (`missing`); fields that contradict each other (`invalid`); an empty
      file (`empty_file`).
Quality (the row reads, but may not train well):
    - for a ``reasoning`` job, a row without step-by-step reasoning (`not_step_by_step`, see
      `is_step_by_step`): reasoning fine-tuning trains the model to write its working, so it needs real
      working to imitate. These are errors (exit code 1) for a reasoning job, and a summary issue says how
      many rows lack it; a ``non_reasoning`` job only counts them.
    - warnings: a question seen before (`duplicate`; the line of the first one is named): duplicates leak
      between a train and a validation split and weigh some problems twice; a row with more text than
      `max_row_chars` (`too_large`, 100,000 characters by default): usually several problems glued
      together or a dump, and training cuts it at `max_length` anyway.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinktune.data.readers import check_answer_mode, iter_rows, parse_column_map, parse_row
from thinktune.data.schema import Example

Severity = Literal["error", "warning"]
JOBS = ("reasoning", "non_reasoning")
MIN_STEPS = 2
DEFAULT_MAX_ROW_CHARS = 100_000
# what each kind of problem is called in the report; row errors first, then quality problems
KIND_LABELS = {
    "json": "not valid JSON",
    "encoding": "not valid UTF-8 / Unicode text",
    "not_object": "not a JSON object",
    "unrecognised": "row in no known form",
    "wrong_type": "field of the wrong type or value",
    "missing": "missing or empty field",
    "invalid": "malformed or contradictory fields",
    "empty_file": "empty file",
    "not_step_by_step": "no step-by-step reasoning",
    "duplicate": "duplicate question",
    "too_large": "row over the size limit",
}
QUALITY_KINDS = ("not_step_by_step", "duplicate", "too_large")
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
_WORD_BEFORE = re.compile(r"(\w+)\W*$")
# a period after these ends no sentence ("Mr. Lee has 72 apples" is one sentence)
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "approx", "etc", "eg", "ie", "no", "fig", "cf", "resp"}
# one worked computation: numbers joined by an operator, then "= result" ("25 + 17 = 42")
_EQUATION = re.compile(r"\d\s*[-+*/×÷^x·]\s*\(?\s*-?\d[^=]*=\s*-?\$?\d")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Issue:
    """One problem: where (file, line, field) and what.

    Attributes:
        file: the source as given (a path or `hf:...`).
        line: the 1-based line number, None for a problem of the whole file.
        field: the field at fault (`answer`, `messages[2].content`), None for the whole row or file.
        message: what is wrong and, where it helps, how to fix it.
        severity: `error` (the row or file cannot be used as is) or `warning`.
        kind: what sort of problem (a key of `KIND_LABELS`): a row error (`json`, `wrong_type`, `missing`,
            ...) or a quality problem (`QUALITY_KINDS`).
    """

    file: str
    line: int | None
    field: str | None
    message: str
    severity: Severity = "error"
    kind: str = "invalid"

    @property
    def is_quality(self) -> bool:
        """True for a quality problem (the row reads), False for a row error (it does not)."""
        return self.kind in QUALITY_KINDS

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class ValidationReport:
    """What `validate_file` found.

    Attributes:
        path: the source as given.
        job: the job type the rows were checked for.
        n_rows: non-blank lines (rows) read.
        n_valid: rows that read into an example (kept in `examples`).
        problems: every error and warning: row errors, then quality problems, each in file order with its
            file-wide summaries last.
        examples: the valid rows, in file order.
        n_without_reasoning: valid rows without step-by-step reasoning (counted for both job types).
        format: the reader form of the valid rows (`gsm8k`, `messages`, ...), `mixed`, or None if none.
        forms: how many valid rows are in each form.
    """

    path: str
    job: str
    n_rows: int = 0
    n_valid: int = 0
    problems: list[Issue] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    n_without_reasoning: int = 0
    format: str | None = None
    forms: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def row_errors(self) -> list[Issue]:
        """The problems that make a row (or the file) unusable, in file order."""
        return [p for p in self.problems if not p.is_quality]

    @property
    def quality(self) -> list[Issue]:
        """The quality problems of rows that read (no step-by-step reasoning, duplicates, size), in file order."""
        return [p for p in self.problems if p.is_quality]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def by_kind(self) -> dict[str, dict[str, Any]]:
        """Per kind of problem (row errors first, then quality): `{"severity", "count", "lines"}`.

        `count` is the number of rows with that kind of problem (a file-wide summary, such as the count of
        rows without reasoning, is not counted again); `lines` are their line numbers, in file order.
        """
        kinds: dict[str, dict[str, Any]] = {}
        for p in sorted(self.problems, key=lambda p: (p.is_quality, _kind_order(p.kind))):
            if p.line is None and p.is_quality:
                continue  # a summary of rows already counted
            entry = kinds.setdefault(p.kind, {"severity": p.severity, "count": 0, "lines": []})
            if p.line is None or p.line not in entry["lines"]:
                entry["count"] += 1
                if p.line is not None:
                    entry["lines"].append(p.line)
            if p.severity == "error":
                entry["severity"] = "error"
        return kinds

    def to_dict(self) -> dict:
        """A JSON-ready summary (without the examples)."""
        return {
            "path": self.path, "job": self.job, "ok": self.ok, "n_rows": self.n_rows, "n_valid": self.n_valid,
            "n_invalid": self.n_rows - self.n_valid, "n_without_reasoning": self.n_without_reasoning,
            "format": self.format, "forms": self.forms, "n_errors": len(self.errors),
            "n_warnings": len(self.warnings), "by_kind": self.by_kind(),
            "problems": [asdict(p) for p in self.problems],
        }

    def format_text(self, max_listed: int = 20) -> str:
        """The human report: a summary line, the count of each kind of problem, then the row errors and the
        quality problems (at most `max_listed` of each group, so a broken row is never hidden behind many
        quality notes)."""
        lines = [
            f"{self.path}: {self.n_rows} rows, {self.n_valid} valid, {self.n_rows - self.n_valid} invalid"
            f" (format: {self.format or 'none'}; job: {self.job})",
        ]
        if self.n_valid:
            lines.append(f"  {self.n_valid - self.n_without_reasoning} of {self.n_valid} valid rows have "
                         f"step-by-step reasoning")
        kinds = self.by_kind()
        if kinds:
            lines.append("problems by kind:")
            for kind, entry in kinds.items():
                where = _lines_text(entry["lines"])
                lines.append(f"  {entry['count']} × {KIND_LABELS.get(kind, kind)} ({entry['severity']}"
                             f"{'; ' + where if where else ''})")
        quality = self.quality
        n_quality_errors = sum(p.severity == "error" for p in quality)
        groups = (
            ("row errors", self.row_errors, ""),
            ("quality", quality, f": {_plural(n_quality_errors, 'error')}, "
                                 f"{_plural(len(quality) - n_quality_errors, 'warning')}"),
        )
        for title, issues, detail in groups:
            if not issues:
                continue
            # File-wide summaries (line None) first: they say the most.
            ordered = sorted(issues, key=lambda p: p.line is not None)
            lines.append(f"{title} ({len(issues)}{detail}):")
            lines += [f"  {p}" if p.severity == "error" else f"  {p} [warning]" for p in ordered[:max_listed]]
            if len(issues) > max_listed:
                lines.append(f"  ... and {len(issues) - max_listed} more (--json lists them all)")
        n = len(self.errors)
        lines.append("OK" if self.ok else f"FAILED: {_plural(n, 'error')}")
        return "\n".join(lines)


def _kind_order(kind: str) -> int:
    order = list(KIND_LABELS)
    return order.index(kind) if kind in order else len(order)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _lines_text(lines: list[int], shown: int = 5) -> str:
    """`line 3`, `lines 2, 5, 9`, `lines 1, 2, 3, 4, 5 and 91 more`.

    >>> _lines_text([3]), _lines_text(list(range(1, 9)))
    ('line 3', 'lines 1, 2, 3, 4, 5 and 3 more')
    """
    if not lines:
        return ""
    head = ", ".join(str(n) for n in lines[:shown])
    more = f" and {len(lines) - shown} more" if len(lines) > shown else ""
    return f"line{'s' if len(lines) > 1 else ''} {head}{more}"


def count_steps(reasoning: str | None) -> int:
    """How many steps a piece of reasoning has: its non-empty lines, or its sentences if it is one line.

    >>> count_steps("48/2 = 24\\n48 + 24 = 72"), count_steps("Half of 48 is 24. Then 48 + 24 = 72."), count_steps("72")
    (2, 2, 1)
    """
    return len(_steps(reasoning))


def _steps(reasoning: str | None) -> list[str]:
    """The steps: non-empty lines, or the sentences of a single line (abbreviations such as `Mr.` end none)."""
    if not reasoning or not reasoning.strip():
        return []
    lines = [ln.strip() for ln in reasoning.splitlines() if ln.strip()]
    if len(lines) > 1:
        return lines
    text, pieces, start = lines[0], [], 0
    for m in _SENTENCE_END.finditer(text):
        word = _WORD_BEFORE.search(text[start : m.start()])
        if m.group() == "." and word and (word.group(1).casefold().replace(".", "") in _ABBREVIATIONS
                                         or len(word.group(1)) == 1 and word.group(1).isalpha()):
            continue  # "Mr." or the "g." of "e.g."
        pieces.append(text[start : m.end()])
        start = m.end()
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()] or [text]


def is_step_by_step(reasoning: str | None, answer: str | None = None) -> bool:
    """True when `reasoning` is real step-by-step working, the data a reasoning job needs.

    The rule: at least `MIN_STEPS` (2) steps (lines, or sentences on a single line) once the steps that only
    restate the answer (`"72"`, `"The answer is 72."`) are left out; or a single worked computation
    (`"25 + 17 = 42"`), which is all the working a one-operation problem has.

    >>> is_step_by_step("48/2 = 24\\n48 + 24 = 72", "72"), is_step_by_step("The answer is 72.", "72")
    (True, False)
    >>> is_step_by_step("25 + 17 = 42", "42"), is_step_by_step("72\\n72", "72")
    (True, False)
    """
    if answer is not None and _norm(reasoning) == _norm(answer):
        return False  # the "reasoning" is the answer itself
    steps = [s for s in _steps(reasoning) if not _restates(s, answer)]
    if len(steps) >= MIN_STEPS:
        return True
    return len(steps) == 1 and bool(_EQUATION.search(steps[0]))


def _restates(step: str, answer: str | None) -> bool:
    """True for a step that only gives the answer: `72`, `The answer is 72.`, `So the final answer is 72`."""
    if answer is None or not answer.strip():
        return False
    core = re.sub(r"^(so|thus|therefore|hence)?,?\s*(the\s+)?(final\s+)?answer\s+is:?\s*", "", _norm(step))
    return core.rstrip(".") == _norm(answer)


def _norm(text: str | None) -> str:
    return _SPACE.sub(" ", (text or "").strip().casefold()).rstrip(".")


def question_key(example: Example) -> str:
    """What makes two rows the same question: the earlier turns and the question, case and spacing folded.

    Duplicates are flagged by it here, and `snapshot` splits by it, so a flagged duplicate never straddles
    a train/validation split.

    >>> question_key(Example("What is  2+2? ", "4")) == question_key(Example("what is 2+2?", "4"))
    True
    """
    return _norm(" ".join([*(t["content"] for t in example.history), example.question]))


def validate_file(path: str | Path, job: str = "reasoning", *, answer_mode: str = "final",
                  column_map: str | Mapping[str, str] | None = None,
                  max_row_chars: int | None = DEFAULT_MAX_ROW_CHARS) -> ValidationReport:
    """Check every row of a dataset for `job` (`reasoning` or `non_reasoning`); never stops early.

    Args:
        path: a JSONL file or `hf:NAME[:CONFIG[:SPLIT[START:STOP]]]`.
        job: the job type the rows are checked for.
        answer_mode, column_map: how rows are read (see `thinktune.data.readers.read_examples`).
        max_row_chars: warn about rows with more text than this (question, answer, reasoning, system and
            earlier turns together); None or 0: no limit.

    Raises:
        ValueError: `job` is not a job type.
        FileNotFoundError: the file does not exist.
        DataError: a Hugging Face source cannot be loaded, or `answer_mode` / `column_map` is malformed.
    """
    if job not in JOBS:
        raise ValueError(f"unknown job type {job!r}: expected one of {', '.join(JOBS)}")
    check_answer_mode(answer_mode)
    mapping = parse_column_map(column_map)
    name = str(path)
    report = ValidationReport(path=name, job=job)
    forms: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    row_errors: list[Issue] = []
    quality: list[Issue] = []
    for line_no, row in iter_rows(path):
        report.n_rows += 1
        parsed = parse_row(row, f"{name}:{line_no}", answer_mode=answer_mode, column_map=mapping)
        if parsed.errors:
            row_errors += [Issue(name, line_no, e.field, e.message, kind=e.kind) for e in parsed.errors]
            continue
        example = parsed.example
        report.n_valid += 1
        report.examples.append(example)
        forms[parsed.form] += 1
        if not is_step_by_step(example.reasoning, example.answer):
            report.n_without_reasoning += 1
            if job == "reasoning":
                quality.append(Issue(name, line_no, "reasoning", _why_not_steps(example), kind="not_step_by_step"))
        key = question_key(example)
        if key in first_seen:
            quality.append(Issue(name, line_no, "question", f"duplicate question (first at line {first_seen[key]})",
                                 "warning", "duplicate"))
        else:
            first_seen[key] = line_no
        if max_row_chars and (size := text_size(example)) > max_row_chars:
            quality.append(_too_large(name, line_no, example, size, max_row_chars))
    report.forms = dict(forms)
    report.format = None if not forms else next(iter(forms)) if len(forms) == 1 else "mixed"
    if report.n_rows == 0:
        row_errors.append(Issue(name, None, None, "no rows: the file is empty", kind="empty_file"))
    if job == "reasoning" and report.n_without_reasoning:
        quality.append(Issue(name, None, "reasoning", (
            f"{report.n_without_reasoning} of {report.n_valid} valid rows have no step-by-step reasoning; "
            f"reasoning fine-tuning needs real step-by-step data (at least {MIN_STEPS} lines or sentences of "
            "working, or one worked computation, not a restatement of the answer): add it to those rows, or train "
            "with --job non_reasoning"), kind="not_step_by_step"))
    report.problems = row_errors + quality
    return report


def _field_sizes(example: Example) -> dict[str, int]:
    sizes = {"question": len(example.question), "answer": len(example.answer),
             "reasoning": len(example.reasoning or ""), "system": len(example.system or "")}
    sizes["history"] = sum(len(turn.get("content") or "") for turn in example.history)
    return sizes


def text_size(example: Example) -> int:
    """The characters of text in a row: question, answer, reasoning, system prompt and earlier turns.

    >>> text_size(Example("2+3?", "5", reasoning="2 + 3 = 5"))
    14
    """
    return sum(_field_sizes(example).values())


def _too_large(name: str, line_no: int, example: Example, size: int, limit: int) -> Issue:
    sizes = _field_sizes(example)
    biggest = max(sizes, key=lambda k: sizes[k])
    return Issue(name, line_no, biggest, (
        f"large row: {size:,} characters of text, over the {limit:,} limit (--max-row-chars), "
        f"{sizes[biggest]:,} of them in {biggest}: check that it is one problem, not several glued together; "
        "training cuts rows at max_length"), "warning", "too_large")


def _why_not_steps(example: Example) -> str:
    if not example.has_reasoning:
        return "no reasoning: a reasoning job needs step-by-step working for every row"
    if all(_restates(s, example.answer) for s in _steps(example.reasoning)):
        return "the reasoning only restates the answer: a reasoning job needs step-by-step working"
    return (f"the reasoning is not step by step (1 step; at least {MIN_STEPS} lines or sentences, or one "
            "worked computation such as `25 + 17 = 42`, needed)")
