"""Format rewards: does a completion follow the `<think>…</think><answer>…</answer>` contract?

- `format_strict`: 1.0 only for exactly one think block then one answer block, nothing around them
  (`thinktune.format.parse(strict=True)`).
- `format_soft`: 1.0 when a `<think>…</think>` followed by `<answer>…</answer>` appears anywhere.
- `tag_count`: partial credit, 0.25 for each of the four tags that appears exactly once, so a model that
  has learnt half the format gets half the reward (open-r1's `tag_count_reward`).

All three take `prefilled=True` for chat templates that open `<think>` themselves (the completion then
starts inside the thinking; see `format.template_prefills_think`).
"""

from __future__ import annotations

import re

from thinktune.format import REASONING_TAGS, parse
from thinktune.rewards.columns import completion_text, restore_think

_ANSWER_AFTER = re.compile(r"\s*<answer>")


def _texts(completions: list, prefilled: bool) -> list[str]:
    return [restore_think(completion_text(c), prefilled) for c in completions]


def format_strict(prompts: list, completions: list, prefilled: bool = False, **_) -> list[float]:
    """1.0 when the completion is exactly `<think>…</think><answer>…</answer>`, else 0.0.

    >>> format_strict(None, ["<think>\\n1+1=2\\n</think>\\n<answer>\\n2\\n</answer>", "2"])
    [1.0, 0.0]
    """
    return [1.0 if parse(t, strict=True).well_formed else 0.0 for t in _texts(completions, prefilled)]


def format_soft(prompts: list, completions: list, prefilled: bool = False, **_) -> list[float]:
    """1.0 when `<think>…</think>` then `<answer>…</answer>` appear anywhere in the completion."""
    return [1.0 if _soft_match(t) else 0.0 for t in _texts(completions, prefilled)]


def _soft_match(text: str) -> bool:
    """`<think>.*?</think>\\s*<answer>.*?</answer>` anywhere, in linear time.

    The regex itself backtracks quadratically on adversarial text (100,000 unclosed `<think>` tags take
    minutes), so the same condition is checked with `find`: some `</think>` after the first `<think>` is
    followed by whitespace and `<answer>`, and a `</answer>` comes after that.
    """
    start = text.find("<think>")
    if start < 0:
        return False
    last_close = text.rfind("</answer>")
    pos = text.find("</think>", start + len("<think>"))
    while 0 <= pos < last_close:
        m = _ANSWER_AFTER.match(text, pos + len("</think>"))
        if m and m.end() <= last_close:
            return True
        pos = text.find("</think>", pos + 1)
    return False


def tag_count(prompts: list, completions: list, prefilled: bool = False, **_) -> list[float]:
    """0.25 for each of `<think>`, `</think>`, `<answer>`, `</answer>` appearing exactly once.

    >>> tag_count(None, ["<think>x</think>", "<think>a</think><answer>b</answer>"])
    [0.5, 1.0]
    """
    return [sum(0.25 for tag in REASONING_TAGS if t.count(tag) == 1) for t in _texts(completions, prefilled)]
