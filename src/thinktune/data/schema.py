"""The one row shape every dataset, task and recipe speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Example:
    """One problem: a question, its final answer and, where known, step-by-step reasoning.

    Attributes:
        question: the user's text (for multi-turn chats, the last user turn).
        answer: the final answer (what goes inside `<answer>`), or the full reply for free-text tasks.
        reasoning: the step-by-step thinking (what goes inside `<think>`), None when the row has none.
        system: a system prompt that came with the row (None: the job type's default is used).
        history: earlier chat turns before `question` (multi-turn rows), as `{"role", "content"}` dicts.
        verifier: how to check an answer (`math`, `numeric`, `exact`, `casefold`, `countdown`, `code`...).
        meta: anything else: `id`, `source` (`file:line`), task fields (`numbers`, `target`, `tests`).
    """

    question: str
    answer: str
    reasoning: str | None = None
    system: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    verifier: str = "math"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_reasoning(self) -> bool:
        return bool(self.reasoning and self.reasoning.strip())
