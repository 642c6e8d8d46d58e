"""One dataset, two training views: the reasoning view (thinking + answer) and the non-reasoning view.

The same `Example` rows feed both jobs, so a comparison of the two changes only the target:

- `reasoning`: the system prompt asks for the `<think>`/`<answer>` format and the target is
  `format.render_reasoning(example.reasoning, example.answer)`, with one outer `<think>…</think>` pair the
  reasoning may already carry taken off first (so it is never wrapped twice); a row without reasoning is an
  error, because reasoning fine-tuning needs real step-by-step data.
- `non_reasoning`: the system prompt asks for the answer alone and the target is
  `format.render_direct(example.answer)`; any reasoning the row has is ignored.

Every reader form arrives here as the same `Example`: thinking markers (`<think>`,
`<|begin_of_thought|>`, `<reasoning>`, `<thought>`) are already split off, and with the readers'
`answer_mode="final"` the answer is the boxed final answer read out of a solution, so the reasoning view's
`<answer>` holds just that; `answer_mode="full"` keeps the whole solution text as the answer (free-text
tasks). See `thinktune.data.readers`.

`sft_rows` turns examples into TRL's conversational prompt/completion rows: earlier chat turns go into the
prompt, the target is the only assistant message in the completion, so the loss falls on the target alone
with any chat template (see `format.prompt_completion_row`).

    >>> from thinktune.data.schema import Example
    >>> messages, target = to_view(Example("1+2?", "3", reasoning="1 + 2 = 3"), "reasoning")
    >>> [m["role"] for m in messages], target.splitlines()[0]
    (['system', 'user'], '<think>')
"""

from __future__ import annotations

from typing import Literal

from thinktune import format as fmt
from thinktune.data.readers import LOCATION_KEY, unwrap_think
from thinktune.data.schema import Example

Job = Literal["reasoning", "non_reasoning"]
JOBS: tuple[str, ...] = ("reasoning", "non_reasoning")


def _where(example: Example) -> str:
    """`file:line` of an example (`meta["location"]`, else `meta["source"]`, else its id), for error messages."""
    meta = example.meta or {}
    return str(meta.get(LOCATION_KEY) or meta.get("source") or meta.get("id") or "<example>")


def prompt_messages(example: Example, job: Job) -> list[dict[str, str]]:
    """The chat messages in front of the target: system prompt, earlier turns, the question.

    The job's format instruction is always present, because that is what the model is asked at inference;
    a system prompt that came with the row goes before it.
    """
    reasoning = _is_reasoning(job)
    system = fmt.system_prompt(reasoning)
    if example.system and example.system.strip():
        system = f"{example.system.strip()}\n\n{system}"
    messages = fmt.build_messages(example.question, reasoning=reasoning, system=system)
    return [messages[0], *[dict(turn) for turn in example.history], messages[1]]


def to_view(example: Example, job: Job) -> tuple[list[dict[str, str]], str]:
    """`(prompt messages, target text)` of one example for the given job type.

    Raises:
        ValueError: `job` is unknown, or a reasoning job meets a row without reasoning (the message
            names the row's `meta["location"]`, or `meta["source"]` without one).
    """
    reasoning = _is_reasoning(job)
    if reasoning:
        thinking = unwrap_think(example.reasoning)
        if not (thinking and thinking.strip()) and (example.meta or {}).get("thinking") == "none":
            # a non-reasoning row mixed into reasoning data (R1's stage 3): an empty think block, as
            # Qwen3's no-thinking mode renders it
            return prompt_messages(example, job), f"{fmt.THINK_OPEN}\n\n{fmt.THINK_CLOSE}\n{fmt.render_direct(example.answer)}"
        if not (thinking and thinking.strip()):
            raise ValueError(
                f"{_where(example)}: a reasoning job needs step-by-step reasoning, but this row has none "
                "(add a `reasoning` field, or train it as a non_reasoning job)"
            )
        target = fmt.render_reasoning(thinking, example.answer)
    else:
        target = fmt.render_direct(example.answer)
    return prompt_messages(example, job), target


def sft_rows(examples: list[Example], job: Job) -> list[dict[str, list[dict[str, str]]]]:
    """Conversational prompt/completion rows for TRL's `SFTTrainer` (loss on the completion only)."""
    return [fmt.prompt_completion_row(*to_view(example, job)) for example in examples]


def _is_reasoning(job: str) -> bool:
    if job not in JOBS:
        raise ValueError(f"unknown job type {job!r}: expected one of {', '.join(JOBS)}")
    return job == "reasoning"

