"""Reward functions for GRPO, with TRL's signature `(prompts, completions, **columns) -> list[float | None]`.

    from thinktune.rewards import get_reward
    rewards = [get_reward("accuracy"), get_reward("format_strict"), get_reward("overlong", {"max_length": 256})]

By name (see `REWARDS`), or `package.module:function` for your own: a plain reward function (its first two
parameters are `prompts, completions`; `options` become fixed keyword arguments), or a factory (any other
signature) called with the `options` that returns one. `None` in a reward list means "not
applicable to this row" (TRL ignores it). Completions may be strings or conversational message lists.

Each built-in has a kind — `correctness`, `format` or `length` — which the reward-hacking alarms use to
tell "scored because it is right" from "scored because it looks right" (see `thinktune.rewards.alarms`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

from thinktune.rewards import accuracy as _acc
from thinktune.rewards import format as _fmt
from thinktune.rewards import length as _len

RewardFunc = Callable[..., list]


class RewardInfo(NamedTuple):
    """A registry entry: the function (or factory, when `factory`), its kind and a one-line description."""

    func: Callable[..., Any]
    kind: str
    description: str
    factory: bool = False


REWARDS: dict[str, RewardInfo] = {
    "accuracy": RewardInfo(_acc.accuracy, "correctness", "1 if the (leniently) extracted answer passes the row's verifier"),
    "accuracy_strict": RewardInfo(_acc.accuracy_strict, "correctness", "accuracy, but only well-formed completions score"),
    "accuracy_any": RewardInfo(_acc.accuracy_any, "correctness", "accuracy, falling back to the last number without <answer> (bootstrap; gameable)"),
    "countdown": RewardInfo(_acc.countdown, "correctness", "1 if the answer is an equation over `numbers` equal to `target`"),
    "code": RewardInfo(_acc.code, "correctness", "fraction of the row's `tests` the answer's code passes (sandboxed)"),
    "format_strict": RewardInfo(_fmt.format_strict, "format", "1 for exactly <think>…</think><answer>…</answer>"),
    "format_soft": RewardInfo(_fmt.format_soft, "format", "1 when a think block then an answer block appear anywhere"),
    "tag_count": RewardInfo(_fmt.tag_count, "format", "0.25 per tag appearing exactly once"),
    "overlong": RewardInfo(_len.overlong, "length", "DAPO soft overlong punishment (options: max_length, cache)", True),
    "cosine": RewardInfo(_len.cosine, "correctness", "cosine length-scaled accuracy (options: max_length, ...)", True),
}


def get_reward(name: str, options: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None) -> RewardFunc:
    """The reward function called `name`, configured with `options`, its `__name__` set to `name`.

    Args:
        name: a key of `REWARDS`, or `module:function`.
        options: keyword options (factory arguments, or fixed keyword arguments of a plain reward).
        defaults: options applied only where the reward accepts them and `options` does not set them
            (the GRPO recipe passes `max_length` = its completion budget this way).

    Raises:
        ValueError: unknown name, or options the reward does not take (message names them).
    """
    options = dict(options or {})
    if name in REWARDS:
        info = REWARDS[name]
        func, is_factory = info.func, info.factory
    elif ":" in name:
        func = _import(name)
        is_factory = not _is_plain_reward(func)
    else:
        raise ValueError(f"unknown reward {name!r}; built-in: {', '.join(REWARDS)}, or module:function")
    params = inspect.signature(func).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value in (defaults or {}).items():
        if key in params and key not in options:
            options[key] = value
    # users' own rewards and factories may take **kwargs options; the built-ins name theirs, so a typo is caught
    lenient = takes_any and name not in REWARDS
    unknown = [k for k in options if k not in params and not lenient]
    if unknown:
        raise ValueError(f"reward {name!r}: unknown option(s) {', '.join(unknown)}")
    if is_factory:
        try:
            reward = func(**options)
        except TypeError as e:
            raise ValueError(f"reward {name!r}: {e}") from None
    elif options:
        reward = _bind(func, options)
    else:
        reward = func
    if getattr(reward, "__name__", None) != _display_name(name):
        reward = _bind(reward, {})
        reward.__name__ = _display_name(name)
    return reward


def reward_kind(name: str) -> str:
    """`correctness`, `format` or `length` for a built-in; users' own rewards count as `correctness`."""
    return REWARDS[name].kind if name in REWARDS else "correctness"


def _is_plain_reward(func: Callable) -> bool:
    """True for a reward function (`prompts, completions, ...`), False for a factory that makes one."""
    try:
        names = [p.name for p in inspect.signature(func).parameters.values()
                 if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return True
    return names[:2] == ["prompts", "completions"]


def _display_name(name: str) -> str:
    return name.rsplit(":", 1)[-1] if ":" in name else name


def _bind(func: Callable, options: dict[str, Any]) -> RewardFunc:
    def reward(prompts, completions, **kwargs):
        return func(prompts, completions, **{**kwargs, **options})

    reward.__name__ = getattr(func, "__name__", "reward")
    reward.__doc__ = func.__doc__
    return reward


def _import(spec: str) -> Callable:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"reward {spec!r}: cannot import {module_name} ({e})") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ValueError(f"reward {spec!r}: {module_name} has no function {attr!r}")
    return func


__all__ = ["REWARDS", "RewardInfo", "get_reward", "reward_kind"]
