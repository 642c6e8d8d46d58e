"""`advise`: should this use case fine-tune a reasoning model or a direct (non-reasoning) one?

A rule of thumb, made explicit and testable. Two kinds of evidence are weighed:

**Scenario signals** read from a short description of the use case. Each row of `SCENARIOS` is one line of
the usual decision table (Prem's "reasoning vs non-reasoning" guide has the eight scenarios; format
conversion comes from its "simple, direct tasks" list) with the phrases that reveal it:

    leans reasoning                         leans non-reasoning
    complex multi-step problem solving      real-time latency / fast responses
    transparency or audit needs             high-volume calls
    education                               simple classification
    debugging model decisions               format conversion
                                            creative or stylistic writing

**Dataset signals** measured on the rows themselves (`dataset_signals`):
- the fraction of rows with *real* step-by-step reasoning (`data.validate.is_step_by_step`: at least two
  steps that are not just the answer again). Reasoning SFT needs it: without traces there is nothing to imitate, so a dataset that
  mostly lacks them leans non-reasoning (or towards distilling traces / RL first);
- how many steps the gold solutions take (three or more: multi-step, where reasoning pays);
- how long the answers are (long free-text answers are generation tasks, where thinking buys little);
- whether the answers are checkable (numbers or a few words): a checkable answer is where accuracy can be
  measured, and where reasoning is known to help.

Each matched signal adds its weight to one side. The margin `(reasoning - direct) / (reasoning + direct)`
decides: at least `DECISIVE_MARGIN` one way gives that side, anything in between (or no evidence at all)
gives **hybrid** — start non-reasoning as a baseline, measure both with `thinktune compare`, and route
hard queries to the reasoning model. `confidence` grows with the margin and with the amount of evidence;
it is a rule of thumb's confidence, not a probability. `advise_from_measurement` replaces all of this
with what `compare` measured.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinktune.data.schema import Example
from thinktune.data.validate import count_steps, is_step_by_step
from thinktune.verify import to_number

Recommendation = Literal["reasoning", "non_reasoning", "hybrid"]

DECISIVE_MARGIN = 0.34
"""|margin| needed to leave the hybrid path: the winning side must hold more than two thirds of the evidence
(2 : 1 is a margin of exactly 1/3, which stays hybrid)."""
MIN_REASONING_FRACTION = 0.5
"""Below this fraction of rows with real traces, reasoning SFT is short of data."""


@dataclass(frozen=True)
class Scenario:
    """One row of the decision table: what it is, which way it leans, and the phrases that reveal it."""

    name: str
    leans: Literal["reasoning", "non_reasoning"]
    weight: float
    patterns: tuple[str, ...]
    why: str


# Patterns are regular expressions matched case-insensitively on word boundaries (`\b` is added at the
# start); keep them specific enough that one scenario does not fire on another's description.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "complex multi-step problem solving", "reasoning", 1.5,
        (r"multi[- ]?step", r"step[- ]by[- ]step", r"word problems?", r"math(s|ematic\w*)?\b", r"arithmetic",
         r"proofs?\b", r"logic(al)? (puzzles?|problems?|reasoning)", r"puzzles?", r"planning", r"complex (problem|analys|reason)\w*",
         r"problem[- ]solving", r"competition", r"olympiad", r"derivations?", r"calculat\w+"),
        "multi-step problems are where thinking before answering raises accuracy",
    ),
    Scenario(
        "transparency or audit needs", "reasoning", 1.0,
        (r"audit\w*", r"transparen\w+", r"explainab\w+", r"explain (its|the|their) (answer|decision|reasoning)\w*",
         r"justif\w+", r"complian\w+", r"regulat\w+", r"legal", r"medical", r"diagnos\w+", r"show (its|the|their) work",
         r"traceab\w+", r"accountab\w+"),
        "the thinking is a record a reviewer can check",
    ),
    Scenario(
        "education", "reasoning", 1.0,
        (r"educat\w+", r"tutor\w*", r"homework", r"students?", r"teach\w*", r"learners?", r"lessons?",
         r"classroom", r"exam prep\w*", r"worked (examples?|solutions?)"),
        "learners need the worked steps, not only the answer",
    ),
    Scenario(
        "debugging model decisions", "reasoning", 1.0,
        (r"debug\w*", r"why the model", r"understand (why|how) (the|a|our) model", r"inspect\w* (the )?(model|decisions?)",
         r"interpretab\w+", r"root[- ]cause", r"model decisions?"),
        "the thinking shows where a wrong decision went wrong",
    ),
    Scenario(
        "real-time latency", "non_reasoning", 1.5,
        (r"real[- ]?time", r"latency", r"low[- ]latency", r"fast (response|answer|repl)\w*", r"instant\w*",
         r"autocomplet\w*", r"milliseconds?", r"\d+ ?ms\b", r"chatbots?", r"customer (support|service)", r"live chat",
         r"interactive", r"quick (response|answer|repl)\w*", r"responsive"),
        "thinking tokens add seconds to every answer",
    ),
    Scenario(
        "high-volume calls", "non_reasoning", 1.0,
        (r"high[- ]volume", r"millions? of", r"thousands of", r"at scale", r"throughput", r"bulk",
         r"batch (processing|jobs?|labell?ing)", r"per (day|second|hour|minute)", r"cost[- ]sensitive", r"cheap\w*",
         r"large volumes?", r"every (request|call|message)"),
        "a reasoning model spends several times the tokens on each of many calls",
    ),
    Scenario(
        "simple classification", "non_reasoning", 1.5,
        (r"classif\w+", r"sentiment", r"moderation", r"content moderat\w*", r"categori[sz]\w*", r"labell?(ing|s)?\b", r"tagging",
         r"intent (detection|recognition|classification)", r"spam", r"named[- ]entit\w+", r"\bner\b",
         r"topic (detection|labell?ing)", r"yes/no", r"keyword extraction"),
        "a label is pattern-matching; thinking rarely changes it",
    ),
    Scenario(
        "format conversion", "non_reasoning", 1.0,
        (r"convert\w*", r"conversion", r"reformat\w*", r"\bjson\b", r"\bcsv\b", r"xml", r"yaml", r"transform\w* (data|text|records)",
         r"data transformation", r"extract\w* (fields|structured)", r"structured (output|data)", r"schema"),
        "a fixed mapping from input to output needs no deliberation",
    ),
    Scenario(
        "creative or stylistic writing", "non_reasoning", 1.0,
        (r"creative", r"stor(y|ies)", r"poe(m|ms|try)", r"marketing", r"copywrit\w*", r"slogans?", r"style transfer",
         r"stylistic", r"brand voice", r"tone of voice", r"fiction", r"song lyrics", r"ad copy"),
        "the process matters less than the output, and there is no single right answer to reason towards",
    ),
)

_COMPILED = {s.name: [re.compile(r"\b" + p, re.IGNORECASE) for p in s.patterns] for s in SCENARIOS}


@dataclass(frozen=True)
class Advice:
    """What `advise` recommends and why.

    Attributes:
        recommendation: `reasoning`, `non_reasoning` or `hybrid` (measure, then route).
        confidence: 0..1, how strongly the evidence points (a rule of thumb's confidence, not a probability).
        reasons: one line per piece of evidence, strongest first, then the next step.
        signals: the evidence as data: matched scenarios, dataset statistics, the two sides' scores.
    """

    recommendation: Recommendation
    confidence: float
    reasons: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- description
def scenario_signals(description: str) -> list[dict[str, Any]]:
    """The decision-table scenarios a description matches, with the phrases that matched.

    >>> [s["scenario"] for s in scenario_signals("a tutor for maths homework")]
    ['complex multi-step problem solving', 'education']
    """
    found = []
    for scenario in SCENARIOS:
        hits = []
        for pattern in _COMPILED[scenario.name]:
            m = pattern.search(description or "")
            if m:
                hits.append(m.group(0).lower())
        if hits:
            found.append({"scenario": scenario.name, "leans": scenario.leans, "weight": scenario.weight,
                          "matched": sorted(set(hits)), "why": scenario.why})
    return found


# ------------------------------------------------------------------------------------- dataset
def has_real_reasoning(example: Example) -> bool:
    """True when the row's trace is real step-by-step working (the data helper's rule, shared with
    `thinktune data validate`: at least two steps, not the answer restated)."""
    return example.has_reasoning and is_step_by_step(example.reasoning, example.answer)


def is_checkable(answer: str) -> bool:
    """A number, or a short string (at most four words) that a verifier can compare exactly."""
    answer = str(answer).strip()
    return bool(answer) and (to_number(answer) is not None or len(answer.split()) <= 4)


def dataset_signals(examples: Sequence[Example]) -> dict[str, Any]:
    """Statistics of a dataset that bear on the choice (see the module docstring)."""
    n = len(examples)
    if n == 0:
        return {"rows": 0}
    real = [e for e in examples if has_real_reasoning(e)]
    steps = [count_steps(e.reasoning) for e in real]
    answer_words = [len(str(e.answer).split()) for e in examples]
    return {
        "rows": n,
        "rows_with_reasoning": len(real),
        "reasoning_fraction": len(real) / n,
        "median_steps": statistics.median(steps) if steps else 0,
        "median_answer_words": statistics.median(answer_words),
        "checkable_fraction": sum(is_checkable(e.answer) for e in examples) / n,
        "numeric_fraction": sum(to_number(str(e.answer)) is not None for e in examples) / n,
    }


def _dataset_evidence(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn dataset statistics into weighted evidence, in the same shape as scenario signals."""
    if not stats.get("rows"):
        return []
    out = []
    n, k, frac = stats["rows"], stats["rows_with_reasoning"], stats["reasoning_fraction"]
    if frac < MIN_REASONING_FRACTION:
        out.append({"scenario": "few step-by-step traces", "leans": "non_reasoning", "weight": 2.0,
                    "why": f"only {k}/{n} rows ({frac:.0%}) carry real step-by-step reasoning; reasoning SFT "
                           "needs it (add traces, e.g. distilled from a stronger model, or train with RL on "
                           "checkable answers first)"})
    else:
        out.append({"scenario": "step-by-step traces present", "leans": "reasoning", "weight": 0.5,
                    "why": f"{k}/{n} rows ({frac:.0%}) carry step-by-step reasoning, so a reasoning variant "
                           "can be trained on them"})
        if stats["median_steps"] >= 3:
            out.append({"scenario": "multi-step gold solutions", "leans": "reasoning", "weight": 1.0,
                        "why": f"gold solutions take {stats['median_steps']:g} steps (median): multi-step "
                               "problems are where reasoning pays"})
    if stats["median_answer_words"] > 30:
        out.append({"scenario": "long free-text answers", "leans": "non_reasoning", "weight": 1.0,
                    "why": f"answers are long free text ({stats['median_answer_words']:g} words, median): "
                           "generation tasks gain little from thinking first"})
    elif stats["checkable_fraction"] >= 0.8 and stats["numeric_fraction"] >= 0.5:
        out.append({"scenario": "checkable numeric answers", "leans": "reasoning", "weight": 0.5,
                    "why": f"{stats['numeric_fraction']:.0%} of answers are numbers a verifier can check: "
                           "accuracy is measurable and computation benefits from steps"})
    return out


def _load(dataset: str | Path | Sequence[Example]) -> list[Example]:
    if isinstance(dataset, (str, Path)):
        from thinktune.data.readers import read_examples

        return read_examples(dataset)
    return list(dataset)


# -------------------------------------------------------------------------------------- decide
def decide(evidence: Sequence[dict[str, Any]]) -> tuple[Recommendation, float, float, float]:
    """(recommendation, confidence, reasoning score, direct score) from weighted evidence."""
    r = sum(e["weight"] for e in evidence if e["leans"] == "reasoning")
    d = sum(e["weight"] for e in evidence if e["leans"] == "non_reasoning")
    total = r + d
    if total == 0:
        return "hybrid", 0.3, r, d
    margin = (r - d) / total
    if abs(margin) < DECISIVE_MARGIN:
        # Conflicting evidence: the hybrid path is the safe bet, more so the more evenly split it is.
        return "hybrid", round(0.4 + 0.2 * (1 - abs(margin) / DECISIVE_MARGIN), 2), r, d
    amount = min(1.0, total / 3.0)  # three units of evidence (e.g. two strong scenarios) is "plenty"
    confidence = round(0.5 + 0.45 * abs(margin) * amount, 2)
    return ("reasoning" if margin > 0 else "non_reasoning"), confidence, r, d


HYBRID_STEPS = (
    "start with a non-reasoning fine-tune as the baseline (cheaper to train and to serve)",
    "measure both on your own held-out questions: `thinktune compare --set data=FILE` (or `advise --measure`)",
    "route: send the questions the direct model is unsure of to the reasoning model (`thinktune.compare.router`)",
)


def advise(description: str | None = None, dataset: str | Path | Sequence[Example] | None = None) -> Advice:
    """Recommend reasoning, non-reasoning or the hybrid path from a description and/or a dataset.

    Args:
        description: a sentence or two about the use case ("real-time intent classification for a chatbot").
        dataset: a JSONL path (any form `thinktune data` reads) or a list of `Example`.

    Returns:
        An `Advice`; `reasons` lists the evidence strongest first and ends with the next step.
    """
    evidence = scenario_signals(description or "")
    stats = dataset_signals(_load(dataset)) if dataset is not None else {}
    evidence = evidence + _dataset_evidence(stats)
    rec, confidence, r, d = decide(evidence)
    ordered = sorted(evidence, key=lambda e: -e["weight"])
    reasons = [
        f"{'→ reasoning' if e['leans'] == 'reasoning' else '→ non-reasoning'}: {e['scenario']}"
        + (f" ({', '.join(repr(m) for m in e['matched'])})" if e.get("matched") else "")
        + f" — {e['why']}"
        for e in ordered
    ]
    if not evidence:
        reasons.append("no scenario or dataset signal found: the rule of thumb cannot decide")
    if rec == "hybrid":
        reasons.extend(f"hybrid path {i}: {step}" for i, step in enumerate(HYBRID_STEPS, 1))
    elif stats.get("rows") and rec == "reasoning" and stats["reasoning_fraction"] < MIN_REASONING_FRACTION:
        reasons.append("before reasoning SFT, give the rows step-by-step traces")
    reasons.append("`thinktune advise --measure` replaces this rule of thumb with a measurement on your data")
    signals = {"scenarios": [e for e in evidence if "matched" in e], "dataset": stats,
               "reasoning_score": r, "non_reasoning_score": d}
    return Advice(rec, confidence, reasons, signals)


# --------------------------------------------------------------------------------- measurement
def advise_from_measurement(
    rows: Sequence[dict[str, Any]],
    rule_of_thumb: Advice | None = None,
    reasoning: str = "reasoning",
    direct: str = "non_reasoning",
) -> Advice:
    """Advice from a `compare` table instead of the rule of thumb (`thinktune advise --measure`).

    The recommendation is `recommend`'s verdict; `confidence` is `Φ(gain / SE)` for the measured accuracy
    gap between the two variants (how sure the measurement is of their order, at least 0.5), and the
    reasons are the recommendation's own lines, computed from the numbers.
    """
    import math

    from thinktune.compare.recommend import Z95, recommend

    routers = [r["name"] for r in rows if r.get("kind") == "router"]
    rec = recommend(rows, reasoning=reasoning, direct=direct, routers=routers)
    gain, ci = rec.numbers["gain"], rec.numbers["ci95"]
    z = gain / (ci / Z95) if math.isfinite(ci) and ci > 0 else 0.0
    confidence = round(min(0.99, max(0.5, 0.5 * (1 + math.erf(abs(z) / math.sqrt(2))))), 2)
    reasons = [line.replace("**", "") for line in rec.lines]
    if rule_of_thumb is not None:
        same = rule_of_thumb.recommendation == rec.verdict
        reasons.append(f"the rule of thumb said {rule_of_thumb.recommendation.replace('_', '-')}; the measurement "
                       + ("agrees" if same else f"says {rec.verdict.replace('_', '-')}, and wins"))
    signals = {"measured": [{k: r.get(k) for k in ("name", "strict_accuracy", "tokens_per_query",
                                                    "seconds_per_query", "n_questions")} for r in rows],
               "numbers": rec.numbers,
               "rule_of_thumb": rule_of_thumb.recommendation if rule_of_thumb else None}
    return Advice(rec.verdict, confidence, reasons, signals)
