"""Verifiable tasks: one registry, one row shape, one verifier shared by evaluation and RL rewards.

    from thinktune.tasks import load_task, check_answer
    test = load_task("arithmetic", split="test", n=100, ops=3, digits=2)
    score = check_answer(test[0], "84")          # 1.0 correct, 0.0 wrong, in between for partial credit

Every task returns `Example` rows (`thinktune.data.schema`) with a gold answer, a `verifier` name and,
where one exists, a gold step-by-step `reasoning`, so the same task feeds SFT, distillation, GRPO and
evaluation. `check_answer` dispatches on `example.verifier`:

    math | numeric | exact | casefold   `thinktune.verify.is_correct` against `example.answer`
    countdown                           `tasks.countdown.check_equation` with `meta["numbers"]`, `meta["target"]`
    rg                                  reasoning-gym's `score_answer` with `meta["rg_entry"]`
    code                                `thinktune.sandbox.run_tests` with `meta["tests"]` (fraction passed)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from thinktune.data.schema import Example
from thinktune.verify import MODES, is_correct

TASKS: dict[str, str] = {
    "arithmetic": "multi-step integer arithmetic, one gold step per line (options: ops=3, digits=2, operators='+-*')",
    "countdown": "reach a target with given numbers, each once, + - * / (options: numbers=3, max_number=50, "
                 "min_target=10, max_target=100)",
    "gsm8k": "grade-school maths word problems from a GSM8K JSONL (options: path, hub=False)",
    "word_problems": "templated multi-step word problems, + - * / with whole results, gold steps (options: steps=3)",
    "rg:<name>": "any reasoning-gym dataset, scored by its own score_answer (options go to its config)",
    "jsonl:<path>": "your own question/answer JSONL (option: verifier=math|numeric|exact|casefold|countdown|code)",
}
VERIFIERS: tuple[str, ...] = (*MODES, "countdown", "rg", "code")


def load_task(name: str, *, split: str = "test", n: int | None = None, seed: int = 0, **options) -> list[Example]:
    """Load `n` problems of task `name` (see `TASKS`); deterministic in `(name, split, n, seed, options)`.

    Args:
        name: `arithmetic`, `countdown`, `gsm8k`, `rg:<dataset>` or `jsonl:<path>`.
        split: `train`, `validation` or `test`; generated tasks keep them disjoint by construction.
        n: how many problems (generated tasks default to 1000 for train and 200 otherwise; files: all rows).
        seed: the generator seed.
        **options: the task's knobs; an unknown one is a ValueError naming the valid ones.

    Raises:
        ValueError: unknown task, split or option, or a malformed data file.
        FileNotFoundError: a task file that does not exist.
    """
    from thinktune.tasks import arithmetic, countdown, gsm8k, jsonl, reasoning_gym, word_problems

    if name.startswith("rg:"):
        return reasoning_gym.load(name[3:], split=split, n=n, seed=seed, **options)
    if name.startswith("jsonl:"):
        return _call(jsonl.load, name, options, name[6:], split=split, n=n, seed=seed)
    loaders: dict[str, Callable[..., list[Example]]] = {
        "arithmetic": arithmetic.load, "countdown": countdown.load, "gsm8k": gsm8k.load,
        "word_problems": word_problems.load,
    }
    if name not in loaders:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
    return _call(loaders[name], name, options, split=split, n=n, seed=seed)


def check_answer(example: Example, answer: str | None) -> float:
    """Score an extracted answer against `example` with its verifier: a float in [0, 1], 1.0 = correct.

    Never raises on a model's answer (None, empty, huge, hostile); raises ValueError only for an example
    whose verifier is unknown or whose meta lacks what the verifier needs (a data bug, not a model error).
    """
    verifier = example.verifier
    if verifier in MODES:
        return 1.0 if is_correct(answer, example.answer, verifier) else 0.0
    if verifier == "countdown":
        from thinktune.tasks.countdown import check_equation

        meta = example.meta
        if "numbers" not in meta or "target" not in meta:
            raise ValueError("a countdown example needs meta['numbers'] and meta['target']")
        return 1.0 if check_equation(answer, meta["numbers"], meta["target"]) else 0.0
    if verifier == "rg":
        from thinktune.tasks.reasoning_gym import score

        if "rg_entry" not in example.meta:
            raise ValueError("an rg example needs meta['rg_entry'] (the reasoning-gym entry)")
        return score(answer, example.meta["rg_entry"], example.meta.get("rg_source"))
    if verifier == "code":
        from thinktune.sandbox import extract_code, run_tests

        tests = example.meta.get("tests")
        if not isinstance(tests, list):
            raise ValueError("a code example needs meta['tests'], a list of test cases")
        code = extract_code(answer)
        if not code:
            return 0.0
        return run_tests(code, tests).fraction_passed
    raise ValueError(f"unknown verifier {verifier!r}; known: {', '.join(VERIFIERS)}")


def _call(fn: Callable[..., list[Example]], name: str, options: dict, *args, **kwargs) -> list[Example]:
    params = inspect.signature(fn).parameters
    valid = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ValueError(f"task {name!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid) or 'none'}")
    return fn(*args, **kwargs, **options)


__all__ = ["TASKS", "VERIFIERS", "Example", "check_answer", "load_task"]
