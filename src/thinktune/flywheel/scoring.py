"""Scoring traces: by the task's verifier, by an LLM judge with the user's rubric, by the users' feedback.

Each scorer returns one `{trace_id, scorer, score, detail}` per trace it could score (score in [0, 1]);
`thinktune.flywheel.traces.add_scores` appends them, so several scores of one trace live side by side.

- `verifier`: the question is looked up in a reference set (a task or a JSONL with gold answers, matched by
  the normalised question); the answer is checked with `thinktune.tasks.check_answer`, the same verifier
  evaluation and the RL rewards use. Questions with no reference are not scored.
- `judge`: any OpenAI-compatible endpoint (`thinktune serve`, vLLM, a hosted API) is asked, with the
  user's rubric, for `{"score": 0..1, "feedback": "..."}`; its reasoning is kept. A reply that is not that
  JSON, or a failed call, scores nothing and says why in the round's report — it never invents a score.
- `feedback`: the mean of the users' `POST /v1/traces/{id}/feedback` scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from thinktune.data.schema import Example
from thinktune.data.validate import question_key
from thinktune.flywheel.traces import Trace

JUDGE_PROMPT = """You grade an assistant's answer with this rubric:

{rubric}

Question:
{question}

Assistant's answer:
{answer}

Reply with JSON only: {{"score": a number from 0 to 1, "feedback": "one sentence"}}"""


def verifier_scores(traces: Sequence[Trace], reference: Sequence[Example]) -> list[dict[str, Any]]:
    """Score each trace whose question is in `reference` by that example's verifier."""
    from thinktune.tasks import check_answer

    gold = {question_key(ex): ex for ex in reference}
    out = []
    for t in traces:
        ex = gold.get(question_key(Example(t.question, "")))
        if ex is None:
            continue
        score = float(check_answer(ex, t.answer))
        out.append({"trace_id": t.id, "scorer": "verifier", "score": score,
                    "detail": {"gold": ex.answer, "answer": t.answer, "verifier": ex.verifier}})
    return out


def feedback_scores(traces: Sequence[Trace]) -> list[dict[str, Any]]:
    out = []
    for t in traces:
        s = t.score("feedback")
        if s is not None:
            out.append({"trace_id": t.id, "scorer": "feedback", "score": s,
                        "detail": {"n": len(t.feedback), "comments": [f.get("comment") for f in t.feedback]}})
    return out


def judge_scores(traces: Sequence[Trace], engine: Any, rubric: str, max_tokens: int = 256) -> tuple[list[dict], list[str]]:
    """(scores, problems): ask `engine` (an OpenAI-compatible engine) to grade each trace with `rubric`."""
    from thinktune.inference.base import SamplingParams

    prompts = [[{"role": "user", "content": JUDGE_PROMPT.format(rubric=rubric, question=t.question,
                                                                 answer=t.answer or "(no answer)")}] for t in traces]
    params = SamplingParams(max_new_tokens=max_tokens, temperature=0.0)
    scores, problems = [], []
    for t, prompt in zip(traces, prompts, strict=True):
        try:
            [[completion]] = engine.generate([prompt], params)
        except Exception as e:  # the judge's failure is reported, never turned into a score
            problems.append(f"{t.id}: the judge failed ({type(e).__name__}: {e})")
            continue
        parsed = parse_judgement(completion.text)
        if parsed is None:
            problems.append(f"{t.id}: the judge's reply is not {{\"score\": 0..1, ...}}: {completion.text[:120]!r}")
            continue
        score, feedback = parsed
        scores.append({"trace_id": t.id, "scorer": "judge", "score": score,
                       "detail": {"feedback": feedback, "reasoning": completion.reasoning, "rubric": rubric}})
    return scores, problems


def parse_judgement(text: str | None) -> tuple[float, str | None] | None:
    """`(score, feedback)` from a judge's reply: the last JSON object with a numeric `score` in [0, 1].

    >>> parse_judgement('<think>fine</think> {"score": 0.8, "feedback": "ok"}')
    (0.8, 'ok')
    >>> parse_judgement('{"score": 7}') is None, parse_judgement("great answer") is None
    (True, True)
    """
    if not text:
        return None
    for match in reversed(list(re.finditer(r"\{[^{}]*\}", text))):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        score = data.get("score") if isinstance(data, dict) else None
        if isinstance(score, (int, float)) and not isinstance(score, bool) and 0.0 <= score <= 1.0:
            feedback = data.get("feedback")
            return float(score), feedback if isinstance(feedback, str) else None
    return None
