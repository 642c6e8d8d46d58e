"""`thinktune data validate`: every problem in a dataset, with file, line and field, and what is usable.

`validate_file` reads a source with the same parser as `read_examples` (`readers.iter_rows` +
`readers.parse_row`) but does not stop at the first problem: it reports each one as an `Issue` and counts
the valid rows, which it keeps (`report.examples`), so no row is ever dropped silently.

Errors (the exit code is 1 when there is any):
    - a line that is not valid JSON (with its column) or not a JSON object;
    - a row in none of the reader forms; wrong types; empty turns; a missing question or answer;
    - for a ``reasoning`` job, a row without step-by-step reasoning (see `is_step_by_step`): reasoning
      fine-tuning trains the model to write its working, so it needs real working to imitate. A summary
      issue says how many rows lack it.
Warnings:
    - a question seen before (the line of the first one is named): duplicates leak between a train and a
      validation split and weigh some problems twice.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from thinktune.data.readers import iter_rows, parse_row
from thinktune.data.schema import Example

Severity = Literal["error", "warning"]
JOBS = ("reasoning", "non_reasoning")
MIN_STEPS = 2
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
    """

    file: str
    line: int | None
    field: str | None
    message: str
    severity: Severity = "error"

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
        problems: every error and warning, in file order (file-wide summaries last).
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
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict:
        """A JSON-ready summary (without the examples)."""
        return {
            "path": self.path, "job": self.job, "ok": self.ok, "n_rows": self.n_rows, "n_valid": self.n_valid,
            "n_invalid": self.n_rows - self.n_valid, "n_without_reasoning": self.n_without_reasoning,
            "format": self.format, "forms": self.forms, "n_errors": len(self.errors),
            "n_warnings": len(self.warnings), "problems": [asdict(p) for p in self.problems],
        }

    def format_text(self, max_listed: int = 20) -> str:
        """The human report: a summary line, then errors and warnings (at most `max_listed` of each)."""
        lines = [
            f"{self.path}: {self.n_rows} rows, {self.n_valid} valid, {self.n_rows - self.n_valid} invalid"
            f" (format: {self.format or 'none'}; job: {self.job})",
        ]
        if self.n_valid:
            lines.append(f"  {self.n_valid - self.n_without_reasoning} of {self.n_valid} valid rows have "
                         f"step-by-step reasoning")
        for title, issues in (("errors", self.errors), ("warnings", self.warnings)):
            if not issues:
                continue
            # File-wide summaries (line None) first: they say the most.
            ordered = sorted(issues, key=lambda p: p.line is not None)
            lines.append(f"{title} ({len(issues)}):")
            lines += [f"  {p}" for p in ordered[:max_listed]]
            if len(issues) > max_listed:
                lines.append(f"  ... and {len(issues) - max_listed} more (--json lists them all)")
        n = len(self.errors)
        lines.append("OK" if self.ok else f"FAILED: {n} error{'s' if n != 1 else ''}")
        return "\n".join(lines)


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


def validate_file(path: str | Path, job: str = "reasoning") -> ValidationReport:
    """Check every row of a dataset for `job` (`reasoning` or `non_reasoning`); never stops early.

    Raises:
        ValueError: `job` is not a job type.
        FileNotFoundError: the file does not exist.
        DataError: a Hugging Face source cannot be loaded.
    """
    if job not in JOBS:
        raise ValueError(f"unknown job type {job!r}: expected one of {', '.join(JOBS)}")
    name = str(path)
    report = ValidationReport(path=name, job=job)
    forms: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for line_no, row in iter_rows(path):
        report.n_rows += 1
        parsed = parse_row(row, f"{name}:{line_no}")
        if parsed.errors:
            report.problems += [Issue(name, line_no, e.field, e.message) for e in parsed.errors]
            continue
        example = parsed.example
        report.n_valid += 1
        report.examples.append(example)
        forms[parsed.form] += 1
        if not is_step_by_step(example.reasoning, example.answer):
            report.n_without_reasoning += 1
            if job == "reasoning":
                report.problems.append(Issue(name, line_no, "reasoning", _why_not_steps(example)))
        key = question_key(example)
        if key in first_seen:
            report.problems.append(Issue(name, line_no, "question",
                                         f"duplicate question (first at line {first_seen[key]})", "warning"))
        else:
            first_seen[key] = line_no
    report.forms = dict(forms)
    report.format = None if not forms else next(iter(forms)) if len(forms) == 1 else "mixed"
    if report.n_rows == 0:
        report.problems.append(Issue(name, None, None, "no rows: the file is empty"))
    if job == "reasoning" and report.n_without_reasoning:
        report.problems.append(Issue(name, None, "reasoning", (
            f"{report.n_without_reasoning} of {report.n_valid} valid rows have no step-by-step reasoning; "
            f"reasoning fine-tuning needs real step-by-step data (at least {MIN_STEPS} lines or sentences of "
            "working, or one worked computation, not a restatement of the answer): add it to those rows, or train with --job non_reasoning")))
    return report


def _why_not_steps(example: Example) -> str:
    if not example.has_reasoning:
        return "no reasoning: a reasoning job needs step-by-step working for every row"
    if all(_restates(s, example.answer) for s in _steps(example.reasoning)):
        return "the reasoning only restates the answer: a reasoning job needs step-by-step working"
    return (f"the reasoning is not step by step (1 step; at least {MIN_STEPS} lines or sentences, or one "
            "worked computation such as `25 + 17 = 42`, needed)")
