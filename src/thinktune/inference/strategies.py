"""Inference-time scaling strategies, each a small composition: generate → read answers → vote/weight/pick.

    greedy              one greedy completion in the prompt's own format
    cot                 zero-shot chain of thought (Kojima et al. 2022): the reasoning system prompt, "Let's
                        think step by step." after the question, and `<think>` pre-filled
    sample              n samples, the first one's answer (the pass@k baseline)
    self_consistency    majority vote over n samples (Wang et al. 2022); `maj` is an alias
    adaptive            self-consistency that samples in small batches and stops once the leading answer
                        is settled (`stopping.py`: Adaptive-Consistency's Beta rule or ESC's window)
    best_of_n           the sample a scorer likes best (`scorers.py`)
    weighted_majority   a vote where each sample weighs what the scorer gives it
    beam_search         step-level beam search guided by a (process) scorer: keep `beam_width` partial
                        solutions, extend each with `expansions` sampled next steps, steps end at
                        `delimiter` (Snell et al. 2024, https://arxiv.org/abs/2408.03314)
    dvts                diverse verifier tree search (Beeching et al. 2024): `beam_width` independent
                        subtrees, each keeping only its own best child
    budget_forcing      s1 (Muennighoff et al. 2025, https://arxiv.org/abs/2501.19393): cap the thinking at
                        `max_thinking_tokens` by forcing `</think>` and `<answer>`, or extend it by replacing
                        the model's `</think>` with "Wait" up to `num_waits` times

Every strategy is a frozen dataclass with `run(engine, problems, seed) -> list[Outcome]`; it batches the
problems it is given into as few engine calls as it can. `make_strategy(name, **options)` builds one by
name and rejects unknown options by name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinktune.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, system_prompt
from thinktune.inference.base import Completion, Engine, Message, SamplingParams, continue_prompt
from thinktune.inference.scorers import make_scorer
from thinktune.inference.stopping import RULES, should_stop
from thinktune.inference.voting import pick_best, read_answer, vote

ANSWER_STOP = (ANSWER_CLOSE,)
COT_TRIGGER = "Let's think step by step."


@dataclass
class Problem:
    """One question as strategies see it.

    Attributes:
        messages: the prompt chat (system + user turns).
        question: the question text (what scorers read).
        mode: how answers vote together (a `verify` mode or the task's verifier name).
        reasoning: whether completions are read in the reasoning format (strict = `<think>` + `<answer>`).
        check: `answer -> float` against the gold answer; only the oracle `verifier` scorer uses it.
    """

    messages: list[Message]
    question: str
    mode: str = "math"
    reasoning: bool = True
    check: Callable[[str | None], float] | None = None


@dataclass
class Outcome:
    """What a strategy decided for one problem, with everything needed to audit it.

    Attributes:
        answer: the final answer, from lenient readings (the vote winner or the picked sample's).
        strict_answer: the same decision made over well-formed completions only.
        completions: every candidate considered (samples, or final beams).
        chosen: index of the picked completion (None when the answer came from a vote).
        votes: vote key → weight (empty when nothing was voted).
        scores: the scorer's score per completion (empty when no scorer was used).
        samples_used: completions drawn for the final decision.
        output_tokens: every token generated for this problem, including pruned beams and forced parts.
        info: strategy-specific details (stop round, waits used, …).
    """

    answer: str | None
    strict_answer: str | None
    completions: list[Completion]
    chosen: int | None = None
    votes: dict[str, float] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    samples_used: int = 0
    output_tokens: int = 0
    info: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ pieces
def _pick(problem: Problem, comps: list[Completion], index: int | None, scores: list[float] | None = None,
          **info: Any) -> Outcome:
    reading = read_answer(comps[index].text, problem.reasoning) if index is not None else None
    return Outcome(
        answer=reading.lenient if reading else None, strict_answer=reading.strict if reading else None,
        completions=comps, chosen=index, scores=list(scores or []), samples_used=len(comps),
        output_tokens=sum(c.tokens for c in comps), info=info,
    )


def _vote(problem: Problem, comps: list[Completion], weights: list[float] | None = None,
          scores: list[float] | None = None, **info: Any) -> Outcome:
    readings = [read_answer(c.text, problem.reasoning) for c in comps]
    lenient = vote([r.lenient for r in readings], problem.mode, weights)
    strict = vote([r.strict for r in readings], problem.mode, weights)
    return Outcome(
        answer=lenient.answer, strict_answer=strict.answer, completions=comps, votes=lenient.weights,
        scores=list(scores or []), samples_used=len(comps), output_tokens=sum(c.tokens for c in comps), info=info,
    )


def _weights(scores: Sequence[float], weighting: str) -> list[float]:
    """Scores → non-negative vote weights: `softmax` (exp(s - max s), any real scores) or `raw` (s ≥ 0).

    Scores that say nothing (all -inf, or all zero under `raw`) give every vote the weight 1: a plain majority,
    not the first answer seen.
    """
    if weighting == "raw":
        if any(s < 0 for s in scores):
            raise ValueError("weighting='raw' needs non-negative scores; use weighting='softmax'")
        return list(scores) if any(s > 0 for s in scores) else [1.0] * len(scores)
    if weighting == "softmax":
        finite = [s for s in scores if math.isfinite(s)]
        if not finite:
            return [1.0] * len(scores)
        top = max(finite)
        return [math.exp(s - top) if math.isfinite(s) else 0.0 for s in scores]
    raise ValueError(f"unknown weighting {weighting!r}; choose softmax or raw")


def _scorer_for(spec: Any, problem: Problem, cache: dict) -> Callable:
    if spec == "verifier":
        return make_scorer(spec, check=problem.check, reasoning=problem.reasoning)
    if spec == "format":
        return make_scorer(spec, reasoning=problem.reasoning)
    key = spec if isinstance(spec, str) or spec is None else id(spec)
    if key not in cache:
        cache[key] = make_scorer(spec)
    return cache[key]


def _prefilled(messages: list[Message], prefill: str) -> list[Message]:
    return continue_prompt(messages, prefill) if prefill else list(messages)


@dataclass(frozen=True)
class _Sampled:
    """Fields every sampling strategy shares."""

    n: int = field(default=8, metadata={"help": "samples per question"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    max_new_tokens: int = field(default=256, metadata={"help": "token cap per sample"})

    def params(self, seed: int, n: int | None = None) -> SamplingParams:
        return SamplingParams(n=n or self.n, max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                              top_p=self.top_p, stop=ANSWER_STOP, seed=seed)

    def sample(self, engine: Engine, problems: Sequence[Problem], seed: int) -> list[list[Completion]]:
        return engine.generate([p.messages for p in problems], self.params(seed))


# -------------------------------------------------------------------------------------- strategies
@dataclass(frozen=True)
class Greedy:
    """One greedy completion per question, in the prompt's own format."""

    max_new_tokens: int = field(default=256, metadata={"help": "token cap"})

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        params = SamplingParams(max_new_tokens=self.max_new_tokens, stop=ANSWER_STOP, seed=seed)
        outs = engine.generate([p.messages for p in problems], params)
        return [_pick(p, cs, 0) for p, cs in zip(problems, outs, strict=True)]


@dataclass(frozen=True)
class CoT:
    """Zero-shot chain of thought: ask for `<think>/<answer>`, add the trigger, pre-fill `<think>`; greedy."""

    max_new_tokens: int = field(default=256, metadata={"help": "token cap"})
    trigger: str = field(default=COT_TRIGGER, metadata={"help": "text added after the question"})
    prefill_think: bool = field(default=True, metadata={"help": "start the answer with <think>"})

    def prepare(self, p: Problem) -> Problem:
        msgs = [m for m in p.messages if m["role"] != "system"]
        if msgs and msgs[-1]["role"] == "user" and self.trigger:
            msgs[-1] = {"role": "user", "content": f"{msgs[-1]['content']}\n{self.trigger}"}
        msgs = [{"role": "system", "content": system_prompt(True)}, *msgs]
        return dataclasses.replace(p, messages=_prefilled(msgs, THINK_OPEN + "\n" if self.prefill_think else ""),
                                   reasoning=True)

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        return Greedy(self.max_new_tokens).run(engine, [self.prepare(p) for p in problems], seed)


@dataclass(frozen=True)
class Sample(_Sampled):
    """n samples; the answer is the first sample's (pass@k and maj@k come from the harness's metrics)."""

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        return [_pick(p, cs, 0) for p, cs in zip(problems, self.sample(engine, problems, seed), strict=True)]


@dataclass(frozen=True)
class SelfConsistency(_Sampled):
    """Majority vote over n samples, answers normalised so equivalent forms vote together."""

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        return [_vote(p, cs) for p, cs in zip(problems, self.sample(engine, problems, seed), strict=True)]


@dataclass(frozen=True)
class Adaptive(_Sampled):
    """Self-consistency that stops sampling a question once its leading answer is settled."""

    n: int = field(default=16, metadata={"help": "the most samples a question may use"})
    batch: int = field(default=2, metadata={"help": "samples drawn per round (the rule is checked after each)"})
    rule: str = field(default="beta", metadata={"help": "stopping rule: beta (Adaptive-Consistency) or esc"})
    threshold: float = field(default=0.95, metadata={"help": "beta: stop when P(leader wins) exceeds this"})
    window: int = field(default=4, metadata={"help": "esc: stop after a window of this many agreeing samples"})

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown stopping rule {self.rule!r}; choose from {', '.join(RULES)}")
        if self.n < 1 or self.batch < 1 or self.window < 1:
            raise ValueError(f"adaptive needs n, batch and window of at least 1, got {self.n}, {self.batch}, "
                             f"{self.window}")

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        comps: list[list[Completion]] = [[] for _ in problems]
        answers: list[list[str | None]] = [[] for _ in problems]
        stopped_at: list[int | None] = [None] * len(problems)
        step = self.window if self.rule == "esc" else self.batch
        rnd = 0
        while True:
            active = [i for i in range(len(problems)) if stopped_at[i] is None and len(comps[i]) < self.n]
            if not active:
                break
            k = min(step, min(self.n - len(comps[i]) for i in active))
            outs = engine.generate([problems[i].messages for i in active], self.params(seed * 1000 + rnd, n=k))
            for i, cs in zip(active, outs, strict=True):
                comps[i].extend(cs)
                answers[i].extend(read_answer(c.text, problems[i].reasoning).lenient for c in cs)
                if should_stop(answers[i], self.rule, threshold=self.threshold, window=self.window,
                               mode=problems[i].mode):
                    stopped_at[i] = len(comps[i])
            rnd += 1
        return [_vote(p, cs, rule=self.rule, stopped_early=s is not None and s < self.n)
                for p, cs, s in zip(problems, comps, stopped_at, strict=True)]


@dataclass(frozen=True)
class BestOfN(_Sampled):
    """The sample the scorer ranks highest."""

    scorer: Any = field(default="logprob", metadata={"help": "logprob | format | verifier | rm:<model> | callable"})

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        cache: dict = {}
        out = []
        for p, cs in zip(problems, self.sample(engine, problems, seed), strict=True):
            scores = _scorer_for(self.scorer, p, cache)(p.question, cs)
            out.append(_pick(p, cs, pick_best(scores), scores))
        return out


@dataclass(frozen=True)
class WeightedMajority(_Sampled):
    """A vote in which each sample weighs what the scorer gives it."""

    scorer: Any = field(default="logprob", metadata={"help": "logprob | format | verifier | rm:<model> | callable"})
    weighting: str = field(default="softmax", metadata={"help": "softmax (any scores) or raw (scores >= 0)"})

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        cache: dict = {}
        out = []
        for p, cs in zip(problems, self.sample(engine, problems, seed), strict=True):
            scores = _scorer_for(self.scorer, p, cache)(p.question, cs)
            out.append(_vote(p, cs, _weights(scores, self.weighting), scores))
        return out


@dataclass
class _Beam:
    text: str
    tokens: int = 0
    logprob: float = 0.0
    done: bool = False
    tree: int = 0
    score: float = float("-inf")

    def completion(self) -> Completion:
        return Completion(text=self.text, tokens=self.tokens, logprob=self.logprob,
                          finish_reason="stop" if self.done else "length")


@dataclass(frozen=True)
class BeamSearch:
    """Step-level beam search guided by a (process) scorer; `diverse=True` is DVTS."""

    beam_width: int = field(default=4, metadata={"help": "partial solutions kept (DVTS: independent subtrees)"})
    expansions: int = field(default=4, metadata={"help": "next steps sampled per kept solution"})
    max_steps: int = field(default=10, metadata={"help": "the most reasoning steps"})
    step_tokens: int = field(default=64, metadata={"help": "token cap per step"})
    max_new_tokens: int = field(default=256, metadata={"help": "token cap per solution"})
    delimiter: str = field(default="\n\n", metadata={"help": "what ends a step (blank line; '\\n' for lines)"})
    temperature: float = field(default=0.8, metadata={"help": "sampling temperature for steps"})
    scorer: Any = field(default="logprob", metadata={"help": "the step scorer (PRM): logprob | rm:<model> | callable"})
    select: str = field(default="best", metadata={"help": "final answer: best (top score) or vote (weighted)"})
    prefill_think: bool = field(default=False, metadata={"help": "start every solution with <think>"})
    diverse: bool = field(default=False, metadata={"help": "DVTS: each subtree keeps only its best child"})

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        cache: dict = {}
        return [self._search(engine, p, seed, cache) for p in problems]

    def _search(self, engine: Engine, p: Problem, seed: int, cache: dict) -> Outcome:
        scorer = _scorer_for(self.scorer, p, cache)
        start = THINK_OPEN + "\n" if self.prefill_think else ""
        n_roots = self.beam_width if self.diverse else 1
        beams = [_Beam(start, tree=t) for t in range(n_roots)]
        finished: list[_Beam] = []
        spent, steps = 0, 0
        for steps in range(1, self.max_steps + 1):  # noqa: B007 - `steps` is reported below
            outs = self._expand(engine, p, beams, seed * 1000 + steps)
            children, seen = [], set()
            for b, cs in zip(beams, outs, strict=True):
                for c in cs:
                    spent += c.tokens
                    # A blank step (the model opened with the delimiter) is kept: the next expansion goes on
                    # from it, and identical children are merged below.
                    step = c.text[len(b.text):] if c.text.startswith(b.text) else c.text
                    child = _Beam(b.text + step, b.tokens + c.tokens, b.logprob + (c.logprob or 0.0), tree=b.tree)
                    child.done = (c.finish_reason == "eos" or c.stop == ANSWER_CLOSE
                                  or child.tokens >= self.max_new_tokens)
                    if (child.tree, child.text) not in seen:
                        seen.add((child.tree, child.text))
                        children.append(child)
            for child, s in zip(children, scorer(p.question, [c.completion() for c in children]), strict=True):
                child.score = s
            beams = []
            for group in self._groups(children):
                group.sort(key=lambda c: -c.score)
                keep = group[: 1 if self.diverse else self.beam_width - len(finished)]
                finished.extend(c for c in keep if c.done)
                beams.extend(c for c in keep if not c.done)
            if not beams or (not self.diverse and len(finished) >= self.beam_width):
                break
        final = finished + beams
        comps = [b.completion() for b in final]
        scores = [b.score for b in final]
        info = {"steps": steps, "finished": len(finished)}
        if self.select == "vote":
            out = _vote(p, comps, _weights(scores, "softmax"), scores, **info)
        else:
            out = _pick(p, comps, pick_best(scores), scores, **info)
        out.output_tokens = spent
        return out

    def _expand(self, engine: Engine, p: Problem, beams: list[_Beam], seed: int) -> list[list[Completion]]:
        """`expansions` next steps for every beam; a step is capped by `step_tokens` and by what is left of the
        solution's `max_new_tokens` (beams with the same cap share one engine call)."""
        caps = [min(self.step_tokens, self.max_new_tokens - b.tokens) for b in beams]
        outs: list[list[Completion]] = [[] for _ in beams]
        for cap in sorted(set(caps)):
            idx = [i for i, c in enumerate(caps) if c == cap]
            params = SamplingParams(n=self.expansions, max_new_tokens=cap, temperature=self.temperature,
                                    stop=(self.delimiter, ANSWER_CLOSE), seed=seed)
            for i, cs in zip(idx, engine.generate([continue_prompt(p.messages, beams[i].text) for i in idx], params),
                             strict=True):
                outs[i] = cs
        return outs

    def _groups(self, children: list[_Beam]) -> list[list[_Beam]]:
        if not self.diverse:
            return [children]
        groups: dict[int, list[_Beam]] = {}
        for c in children:
            groups.setdefault(c.tree, []).append(c)
        return list(groups.values())


@dataclass(frozen=True)
class BudgetForcing:
    """s1 budget forcing: cap the thinking at a token budget, or extend it with "Wait"."""

    max_thinking_tokens: int = field(default=128, metadata={"help": "thinking budget B: forced </think> after B tokens"})
    num_waits: int = field(default=0, metadata={"help": "K: replace the model's </think> with 'Wait' up to K times"})
    wait: str = field(default="Wait", metadata={"help": "the text appended instead of </think>"})
    max_answer_tokens: int = field(default=32, metadata={"help": "token cap for the answer after thinking"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy (as in s1)"})
    prefill_think: bool = field(default=True, metadata={"help": "start the answer with <think>"})

    def run(self, engine: Engine, problems: Sequence[Problem], seed: int = 0) -> list[Outcome]:
        start = THINK_OPEN + "\n" if self.prefill_think else ""
        texts = [start] * len(problems)
        thought = [0] * len(problems)  # thinking tokens so far
        spent = [0] * len(problems)
        waits = [0] * len(problems)
        forced = [False] * len(problems)
        phase = ["think"] * len(problems)  # think → answer → done
        last: list[Completion | None] = [None] * len(problems)
        rnd = 0
        while any(ph != "done" for ph in phase):
            groups: dict[SamplingParams, list[int]] = {}
            for i, ph in enumerate(phase):
                if ph == "think":
                    params = SamplingParams(max_new_tokens=self.max_thinking_tokens - thought[i],
                                            temperature=self.temperature, stop=(THINK_CLOSE, ANSWER_CLOSE),
                                            seed=seed * 1000 + rnd)
                elif ph == "answer":
                    params = SamplingParams(max_new_tokens=self.max_answer_tokens, temperature=self.temperature,
                                            stop=ANSWER_STOP, seed=seed * 1000 + rnd)
                else:
                    continue
                groups.setdefault(params, []).append(i)
            for params, idx in groups.items():
                outs = engine.generate([continue_prompt(problems[i].messages, texts[i]) for i in idx], params)
                for i, (c,) in zip(idx, outs, strict=True):
                    new = c.text[len(texts[i]):] if c.text.startswith(texts[i]) else c.text
                    spent[i] += c.tokens
                    last[i] = c
                    if phase[i] == "answer":
                        texts[i] += new
                        phase[i] = "done"
                        continue
                    thought[i] += c.tokens
                    texts[i] += new
                    self._after_thinking(i, c, texts, thought, waits, forced, phase)
            rnd += 1
        out = []
        for i, p in enumerate(problems):
            comp = Completion(text=texts[i], tokens=spent[i], finish_reason=last[i].finish_reason if last[i] else "length",
                              stop=last[i].stop if last[i] else None)
            o = _pick(p, [comp], 0, waits=waits[i], forced_stop=forced[i], thinking_tokens=thought[i])
            out.append(o)
        return out

    def _after_thinking(self, i: int, c: Completion, texts: list[str], thought: list[int], waits: list[int],
                        forced: list[bool], phase: list[str]) -> None:
        """Decide what follows a thinking call: Wait, the answer, or a forced end of thinking."""
        if c.stop == ANSWER_CLOSE:  # the model answered without closing its thinking
            phase[i] = "done"
        elif c.stop == THINK_CLOSE:
            if waits[i] < self.num_waits and thought[i] < self.max_thinking_tokens:
                texts[i] = texts[i][: -len(THINK_CLOSE)].rstrip() + "\n" + self.wait
                waits[i] += 1
            else:
                phase[i] = "answer"
        elif c.finish_reason == "length" or thought[i] >= self.max_thinking_tokens:
            texts[i] = texts[i].rstrip() + f"\n{THINK_CLOSE}\n{ANSWER_OPEN}\n"
            forced[i] = True
            phase[i] = "answer"
        else:  # end of sequence inside the thinking: close it and ask for the answer
            texts[i] = texts[i].rstrip() + f"\n{THINK_CLOSE}\n{ANSWER_OPEN}\n"
            phase[i] = "answer"


# ---------------------------------------------------------------------------------------- registry
STRATEGIES: dict[str, tuple[type, dict[str, Any]]] = {
    "greedy": (Greedy, {}),
    "cot": (CoT, {}),
    "sample": (Sample, {}),
    "self_consistency": (SelfConsistency, {}),
    "maj": (SelfConsistency, {}),
    "adaptive": (Adaptive, {}),
    "best_of_n": (BestOfN, {}),
    "weighted_majority": (WeightedMajority, {}),
    "beam_search": (BeamSearch, {}),
    "dvts": (BeamSearch, {"diverse": True}),
    "budget_forcing": (BudgetForcing, {}),
}


def parse_strategy_name(name: str) -> tuple[str, int | None]:
    """Split the `NAME@N` shorthand (`maj@8`, `best_of_n@4`, `adaptive@16`) into the name and N samples.

    >>> parse_strategy_name("maj@8"), parse_strategy_name("greedy")
    (('maj', 8), ('greedy', None))
    """
    base, at, count = name.partition("@")
    if not at:
        return name, None
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"strategy {name!r}: the number after '@' must be a positive integer (e.g. maj@8)")
    if base not in STRATEGIES or "n" not in {f.name for f in dataclasses.fields(STRATEGIES[base][0])}:
        takes_n = [k for k, (cls, _) in STRATEGIES.items() if "n" in {f.name for f in dataclasses.fields(cls)}]
        raise ValueError(f"strategy {name!r}: NAME@N works for {', '.join(takes_n)}")
    return base, int(count)


def make_strategy(name: str, **options: Any) -> Any:
    """Build a strategy by name; an unknown name or option is a ValueError naming the valid ones.

    >>> make_strategy("self_consistency", n=4).n
    4
    >>> make_strategy("maj@8").n
    8
    """
    name, count = parse_strategy_name(name)
    if count is not None:
        options = {**options, "n": count}
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    cls, fixed = STRATEGIES[name]
    valid = [f.name for f in dataclasses.fields(cls) if f.name not in fixed]
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ValueError(f"strategy {name!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid) or 'none'}")
    return cls(**fixed, **options)


def strategy_options(name: str) -> list[tuple[str, Any, str]]:
    """(option, default, help) for a strategy, for `--help` and docs."""
    cls, fixed = STRATEGIES[name]
    return [(f.name, f.default, f.metadata.get("help", "")) for f in dataclasses.fields(cls) if f.name not in fixed]
