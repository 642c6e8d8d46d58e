"""`advise`: the eight scenarios of the decision table, conflicting descriptions, and dataset signals."""

from __future__ import annotations

import pytest

from thinktune.compare.advise import (
    DECISIVE_MARGIN,
    SCENARIOS,
    advise,
    dataset_signals,
    decide,
    has_real_reasoning,
    scenario_signals,
)
from thinktune.data.schema import Example

# The eight rows of the decision table (scenario, its example use cases) plus format conversion.
EIGHT = [
    ("Solve mathematical word problems that need multi-step analysis", "reasoning",
     "complex multi-step problem solving"),
    ("A chatbot doing real-time translation and autocomplete, fast responses needed", "non_reasoning",
     "real-time latency"),
    ("Medical diagnosis support and legal research where every answer must be auditable", "reasoning",
     "transparency or audit needs"),
    ("Simple classification: sentiment analysis and content moderation", "non_reasoning",
     "simple classification"),
    ("A tutoring system for students' homework help", "reasoning", "education"),
    ("Summaries at scale: millions of API calls per day, high-volume", "non_reasoning", "high-volume calls"),
    ("Debugging model decisions: understand why the model made specific choices", "reasoning",
     "debugging model decisions"),
    ("Creative writing: story generation and marketing copy", "non_reasoning", "creative or stylistic writing"),
]


@pytest.mark.parametrize("description,expected,scenario", EIGHT)
def test_eight_scenarios(description, expected, scenario):
    advice = advise(description)
    assert advice.recommendation == expected
    assert scenario in [s["scenario"] for s in advice.signals["scenarios"]]
    assert advice.confidence > 0.5
    assert any(scenario in reason for reason in advice.reasons)


def test_format_conversion_leans_non_reasoning():
    advice = advise("Convert JSON records to CSV rows")
    assert advice.recommendation == "non_reasoning"
    assert [s["scenario"] for s in advice.signals["scenarios"]] == ["format conversion"]


@pytest.mark.parametrize("description", [
    "step-by-step maths word problems; our dataset is a JSONL file",  # JSONL is not format conversion
    "a moderately complex multi-step planning assistant",  # "moderately" is not content moderation
])
def test_incidental_words_do_not_trigger_other_scenarios(description):
    names = [s["scenario"] for s in scenario_signals(description)]
    assert "format conversion" not in names and "simple classification" not in names
    assert advise(description).recommendation == "reasoning"


def test_every_scenario_has_a_description_that_matches_only_it():
    # Guards the phrase tables against one scenario swallowing another's description.
    for description, _, scenario in EIGHT:
        names = [s["scenario"] for s in scenario_signals(description)]
        assert names == [scenario], (description, names)
    assert {s for _, _, s in EIGHT} | {"format conversion"} == {s.name for s in SCENARIOS}


def test_conflicting_description_gives_hybrid_with_the_next_steps():
    advice = advise("A real-time tutoring chatbot for maths homework")
    assert advice.recommendation == "hybrid"
    r, d = advice.signals["reasoning_score"], advice.signals["non_reasoning_score"]
    assert r > 0 and d > 0 and abs(r - d) / (r + d) < DECISIVE_MARGIN
    assert any("compare" in reason for reason in advice.reasons)
    assert any("route" in reason for reason in advice.reasons)


def test_no_signal_is_hybrid_with_low_confidence():
    advice = advise("hello there")
    assert advice.recommendation == "hybrid"
    assert advice.confidence < 0.5
    assert advice.signals["scenarios"] == []


def test_more_evidence_means_more_confidence():
    one = advise("sentiment analysis")
    two = advise("real-time sentiment analysis for millions of messages")
    assert one.recommendation == two.recommendation == "non_reasoning"
    assert two.confidence > one.confidence


@pytest.mark.parametrize("evidence,expected", [
    ([], "hybrid"),
    ([{"leans": "reasoning", "weight": 1.0}], "reasoning"),
    ([{"leans": "non_reasoning", "weight": 1.0}], "non_reasoning"),
    ([{"leans": "reasoning", "weight": 1.0}, {"leans": "non_reasoning", "weight": 1.0}], "hybrid"),
    ([{"leans": "reasoning", "weight": 2.0}, {"leans": "non_reasoning", "weight": 1.0}], "hybrid"),  # 1/3 < .34
    ([{"leans": "reasoning", "weight": 2.1}, {"leans": "non_reasoning", "weight": 1.0}], "reasoning"),
])
def test_decide_margin(evidence, expected):
    assert decide(evidence)[0] == expected


# --------------------------------------------------------------------------------------- datasets
def _arith(i: int, steps: int = 3) -> Example:
    lines = [f"{i} + {k} = {i + k}" for k in range(1, steps + 1)]
    return Example(question=f"What is {i} + ...?", answer=str(i + steps), reasoning="\n".join(lines))


def test_real_reasoning():
    assert has_real_reasoning(_arith(1))
    assert has_real_reasoning(Example("q", "7", reasoning="Add them. Then halve it."))
    assert not has_real_reasoning(Example("q", "7", reasoning="7"))  # the answer restated
    assert not has_real_reasoning(Example("q", "7", reasoning="It is seven."))  # one step
    assert not has_real_reasoning(Example("q", "7"))


def test_dataset_with_traces_leans_reasoning():
    rows = [_arith(i) for i in range(10)]
    stats = dataset_signals(rows)
    assert stats["reasoning_fraction"] == 1.0 and stats["median_steps"] == 3 and stats["numeric_fraction"] == 1.0
    advice = advise(dataset=rows)
    assert advice.recommendation == "reasoning"
    assert any("multi-step gold solutions" in r for r in advice.reasons)


def test_dataset_without_traces_leans_non_reasoning_and_says_how_many_lack_them():
    rows = [Example(question=f"Label: text {i}", answer="positive") for i in range(8)]
    rows += [_arith(i) for i in range(2)]
    advice = advise(dataset=rows)
    assert advice.signals["dataset"]["rows_with_reasoning"] == 2
    assert advice.recommendation == "non_reasoning"
    assert any("2/10 rows" in r for r in advice.reasons)


def test_long_free_text_answers_lean_non_reasoning():
    essay = " ".join(["word"] * 80)
    rows = [Example(question=f"Write about {i}", answer=essay, reasoning="Plan it.\nWrite it.") for i in range(5)]
    stats = dataset_signals(rows)
    assert stats["median_answer_words"] == 80 and stats["checkable_fraction"] == 0.0
    advice = advise(dataset=rows)
    assert any("long free text" in r for r in advice.reasons)
    assert advice.recommendation in ("hybrid", "non_reasoning")


def test_description_and_dataset_combine():
    rows = [_arith(i) for i in range(10)]
    only_text = advise("real-time answers")
    both = advise("real-time answers", dataset=rows)
    assert only_text.recommendation == "non_reasoning"
    assert both.recommendation != "non_reasoning"  # the multi-step traces pull it back
    assert both.signals["reasoning_score"] > only_text.signals["reasoning_score"]


def test_dataset_from_a_jsonl_file(tmp_path):
    from thinktune.data.readers import write_examples

    path = write_examples([_arith(i) for i in range(6)] + [Example("q7", "7")], tmp_path / "d.jsonl")
    advice = advise(dataset=str(path))
    assert advice.signals["dataset"]["rows"] == 7
    assert advice.signals["dataset"]["rows_with_reasoning"] == 6
    assert advice.recommendation == "reasoning"


def test_measurement_replaces_the_rule_of_thumb():
    from thinktune.compare.advise import advise_from_measurement

    rows = [
        {"name": "reasoning", "kind": "variant", "strict_accuracy": 0.6, "tokens_per_query": 60.0,
         "seconds_per_query": 0.9, "n_questions": 50},
        {"name": "non_reasoning", "kind": "variant", "strict_accuracy": 0.1, "tokens_per_query": 12.0,
         "seconds_per_query": 0.3, "n_questions": 50},
    ]
    rule = advise("real-time sentiment classification")
    assert rule.recommendation == "non_reasoning"
    measured = advise_from_measurement(rows, rule_of_thumb=rule)
    assert measured.recommendation == "reasoning"
    assert measured.confidence > 0.9  # a 50-point gap on 50 questions is far outside the noise
    assert any("says reasoning, and wins" in r for r in measured.reasons)
    assert any(f"{60 / 12:.2f}× the tokens" in r for r in measured.reasons)
    # A gap inside the noise: the cheaper variant, with low confidence.
    close = [dict(rows[0], strict_accuracy=0.30), dict(rows[1], strict_accuracy=0.26)]
    weak = advise_from_measurement(close)
    assert weak.recommendation == "non_reasoning" and weak.confidence < 0.9


def test_cli_refuses_set_without_measure(capsys):
    from thinktune.cli import main

    assert main(["advise", "--describe", "maths tutor", "--set", "nonsense_key=1"]) == 2
    assert "--set configures the comparison that --measure runs" in capsys.readouterr().err
