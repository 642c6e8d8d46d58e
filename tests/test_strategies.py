"""Strategies on a scripted engine: known completions → known votes, picks, beams, stops and budgets."""

from __future__ import annotations

import pytest

from thinktune.format import build_messages
from thinktune.inference import Problem, make_strategy
from thinktune.inference.engines.scripted import ScriptedEngine, tokenize
from thinktune.inference.scorers import batched, make_scorer
from thinktune.inference.strategies import COT_TRIGGER, STRATEGIES, parse_strategy_name, strategy_options
from thinktune.inference.voting import read_answer, vote


def problem(question: str = "What is x?", reasoning: bool = True, **kw) -> Problem:
    return Problem(build_messages(question, reasoning), question, reasoning=reasoning, **kw)


def tagged(answer: str, thinking: str = "t") -> str:
    return f"<think>\n{thinking}\n</think>\n<answer>\n{answer}\n</answer>"


# -------------------------------------------------------------------------------- reading and voting
@pytest.mark.parametrize(
    ("text", "reasoning", "strict", "lenient"),
    [
        (tagged("4"), True, "4", "4"),
        ("<answer>4</answer>", True, None, "4"),  # no <think>: not the reasoning format
        ("<answer>4</answer>", False, "4", "4"),
        ("<think>x</think><answer>4</answer>", False, None, "4"),  # thinking is not the direct format
        ("the answer is 12.", True, None, "12"),
        ("<answer>4</answer><answer>5</answer>", False, None, "5"),
        ("", True, None, None),
        (None, True, None, None),
    ],
)
def test_read_answer_table(text, reasoning, strict, lenient):
    r = read_answer(text, reasoning)
    assert (r.strict, r.lenient, r.well_formed) == (strict, lenient, strict is not None)


def test_equivalent_answers_vote_together_and_ties_go_to_the_first_seen():
    v = vote(["3", "1/2", "0.5", "\\frac{1}{2}", "3", None])
    assert v.answer == "1/2" and v.weights == {"3": 2.0, "0.5": 3.0}
    assert vote(["b", "a", "a", "b"], mode="exact").answer == "b"
    assert vote([None, ""]).answer is None


# ------------------------------------------------------------------------------------------- greedy
def test_greedy_stops_at_answer_and_reads_both_ways():
    engine = ScriptedEngine([tagged("4") + " trailing junk <eos>"])
    [out] = make_strategy("greedy", max_new_tokens=64).run(engine, [problem()])
    assert out.completions[0].text == tagged("4")
    assert (out.answer, out.strict_answer, out.chosen, out.samples_used) == ("4", "4", 0, 1)
    [(_, params)] = engine.calls
    assert params.greedy and params.stop == ("</answer>",) and params.n == 1


def test_cot_uses_reasoning_prompt_trigger_and_prefill():
    engine = ScriptedEngine(["2+2=4\n</think>\n<answer>\n4\n</answer>"])
    [out] = make_strategy("cot").run(engine, [problem("What is 2+2?", reasoning=False)])
    [rendered], _ = engine.calls[0]
    assert "<think> </think>" in rendered and COT_TRIGGER in rendered  # reasoning system prompt + trigger
    assert rendered.endswith("assistant: <think>\n")
    assert out.completions[0].text.startswith("<think>\n") and out.strict_answer == "4"


# ------------------------------------------------------------------------------------ sampling votes
def test_self_consistency_majority_with_normalised_answers():
    texts = [tagged("3"), tagged("1/2"), tagged("0.5"), tagged("\\frac{1}{2}"), tagged("3")]
    engine = ScriptedEngine(texts)
    [out] = make_strategy("self_consistency", n=5).run(engine, [problem()])
    assert out.answer == "1/2" and out.votes == {"3": 2.0, "0.5": 3.0} and out.samples_used == 5
    assert engine.calls[0][1].n == 5 and engine.calls[0][1].temperature > 0


def test_strict_vote_only_counts_well_formed_samples():
    texts = [tagged("7"), "<answer>5</answer>", "<answer>5</answer>"]
    [out] = make_strategy("self_consistency", n=3).run(ScriptedEngine(texts), [problem()])
    assert out.answer == "5" and out.strict_answer == "7"


def test_best_of_n_picks_the_top_scored_sample():
    texts = [tagged("1"), tagged("22"), tagged("333")]
    scorer = lambda q, text: float(len(text))  # noqa: E731 - any (question, text) callable
    [out] = make_strategy("best_of_n", n=3, scorer=scorer).run(ScriptedEngine(texts), [problem()])
    assert out.chosen == 2 and out.answer == "333" and out.scores == [float(len(t)) for t in texts]


def test_best_of_n_logprob_scorer_uses_length_normalised_likelihood():
    texts = [(tagged("1"), -40.0), (tagged("2"), -5.0), (tagged("3"), -30.0)]
    engine = ScriptedEngine(lambda prompt, k: texts[k])
    [out] = make_strategy("best_of_n", n=3, scorer="logprob").run(engine, [problem()])
    assert out.answer == "2"


def test_verifier_scorer_is_an_oracle_that_needs_the_gold():
    texts = [tagged("5"), tagged("6")]
    p = problem(check=lambda a: 1.0 if a == "6" else 0.0)
    [out] = make_strategy("best_of_n", n=2, scorer="verifier").run(ScriptedEngine(texts), [p])
    assert out.answer == "6"
    with pytest.raises(ValueError, match="gold"):
        make_strategy("best_of_n", n=2, scorer="verifier").run(ScriptedEngine(texts), [problem()])


def test_weighted_majority_lets_a_confident_minority_win():
    texts = [tagged("9"), tagged("4"), tagged("4")]

    @batched
    def scorer(question, completions):
        return [5.0 if "9" in c.text else 0.0 for c in completions]

    [out] = make_strategy("weighted_majority", n=3, scorer=scorer).run(ScriptedEngine(texts), [problem()])
    assert out.answer == "9"
    [plain] = make_strategy("self_consistency", n=3).run(ScriptedEngine(texts), [problem()])
    assert plain.answer == "4"
    with pytest.raises(ValueError, match="non-negative"):
        make_strategy("weighted_majority", n=3, scorer=lambda q, t: -1.0, weighting="raw").run(
            ScriptedEngine(texts), [problem()])


def test_logprob_scoring_without_logprobs_is_an_error_and_uninformative_scores_fall_back_to_majority():
    texts = [tagged("9"), tagged("4"), tagged("4")]  # a scripted engine with plain texts reports no logprobs
    for name in ("best_of_n", "weighted_majority"):
        with pytest.raises(ValueError, match="no log-probabilities"):
            make_strategy(name, n=3, scorer="logprob").run(ScriptedEngine(texts), [problem()])
    # a scorer that says nothing (-inf everywhere) leaves a plain majority, not the first answer seen
    [out] = make_strategy("weighted_majority", n=3, scorer=lambda q, t: float("-inf")).run(
        ScriptedEngine(texts), [problem()])
    assert out.answer == "4"


def test_format_scorer_reads_direct_problems_in_the_direct_format():
    texts = ["so it is 7", "<answer>4</answer>"]
    [out] = make_strategy("best_of_n", n=2, scorer="format").run(ScriptedEngine(texts), [problem(reasoning=False)])
    assert out.chosen == 1 and out.answer == "4" and out.scores[1] > out.scores[0]


# ----------------------------------------------------------------------------------------- adaptive
def test_adaptive_beta_stops_once_settled_and_records_samples():
    agree = ScriptedEngine([tagged("7")])
    outs = make_strategy("adaptive", n=16, batch=2).run(agree, [problem("a"), problem("b")])
    # Beta rule: 2 agreeing → P=0.875, 4 agreeing → P=0.969 > 0.95
    assert [o.samples_used for o in outs] == [4, 4] and outs[0].answer == "7"
    assert len(agree.calls) == 2 and all(p.n == 2 for _, p in agree.calls)
    assert all(len(prompts) == 2 for prompts, _ in agree.calls)  # both questions batched per round

    split = ScriptedEngine([tagged("1"), tagged("2")])
    [out] = make_strategy("adaptive", n=10, batch=2).run(split, [problem()])
    assert out.samples_used == 10 and out.info["stopped_early"] is False


def test_adaptive_keeps_sampling_only_unsettled_questions():
    def script(prompt, k):
        return tagged("7") if "easy" in prompt else tagged(str(k % 3))

    engine = ScriptedEngine(script)
    easy, hard = make_strategy("adaptive", n=8, batch=2).run(engine, [problem("easy"), problem("hard")])
    assert easy.samples_used == 4 and hard.samples_used == 8
    assert [len(prompts) for prompts, _ in engine.calls] == [2, 2, 1, 1]


def test_adaptive_esc_window():
    engine = ScriptedEngine([tagged("3")])
    [out] = make_strategy("adaptive", n=16, rule="esc", window=5).run(engine, [problem()])
    assert out.samples_used == 5 and engine.calls[0][1].n == 5
    with pytest.raises(ValueError, match="stopping rule"):
        make_strategy("adaptive", rule="nope")


@pytest.mark.parametrize("options", [{"window": 0, "rule": "esc"}, {"batch": 0}, {"n": 0}])
def test_adaptive_refuses_zero_sizes_instead_of_dividing_by_zero_or_looping(options):
    from thinktune.inference.stopping import esc_stop, replay

    with pytest.raises(ValueError, match="at least 1"):
        make_strategy("adaptive", **options)
    with pytest.raises(ValueError, match="at least 1"):
        esc_stop(["1", "1"], window=0)
    with pytest.raises(ValueError, match="at least 1"):
        replay(["1", "1"], batch=0)


# ------------------------------------------------------------------------------------- beam search
def _step_script(prompt: str, k: int) -> str:
    """Each step is 'good' or 'bad' (alternating per prompt); after two steps, answer by the path."""
    prefix = prompt.split("assistant: ", 1)[1]
    if prefix.count("\n\n") >= 2:
        return "<answer>42</answer>" if "bad" not in prefix else "<answer>13</answer>"
    return ("good\n\n", "bad\n\n")[k % 2] + "never reached"


def _prm(question: str, text: str) -> float:
    return text.count("good") - 2.0 * text.count("bad")


def test_beam_search_keeps_the_best_partial_solutions():
    engine = ScriptedEngine(_step_script)
    strategy = make_strategy("beam_search", beam_width=2, expansions=2, scorer=_prm, max_steps=5)
    [out] = strategy.run(engine, [problem()])
    assert out.answer == "42"
    assert out.completions[out.chosen].text == "good\n\ngood\n\n<answer>42</answer>"
    expanded = [p.split("assistant: ", 1)[1] for prompts, _ in engine.calls for p in prompts]
    # step 1: the root; step 2: both kept children; step 3: the two best of four ('bad\n\nbad' pruned)
    assert expanded == ["", "good\n\n", "bad\n\n", "good\n\ngood\n\n", "good\n\nbad\n\n"]
    assert all(p.stop == ("\n\n", "</answer>") and p.n == 2 for _, p in engine.calls)
    assert out.info["finished"] == 2
    # every generated token is paid for, pruned branches and duplicate answers included: each step and
    # each answer is one scripted token; 1 root × 2 + 2 beams × 2 + 2 beams × 2 expansions
    assert len(tokenize("good\n\n")) == len(tokenize("<answer>42</answer>")) == 1
    assert out.output_tokens == 2 + 4 + 4


def test_dvts_runs_independent_subtrees():
    engine = ScriptedEngine(_step_script)
    [out] = make_strategy("dvts", beam_width=3, expansions=2, scorer=_prm).run(engine, [problem()])
    assert len(out.completions) == 3  # one leaf per subtree
    assert all(c.text == "good\n\ngood\n\n<answer>42</answer>" for c in out.completions)
    first_prompts, _ = engine.calls[0]
    assert len(first_prompts) == 3  # every subtree expands its own root


def test_beam_search_survives_blank_steps():
    def script(prompt: str, k: int) -> str:
        prefix = prompt.split("assistant: ", 1)[1]
        return "\n\n" if not prefix else _step_script(prompt.replace("assistant: \n\n", "assistant: "), k)

    for name in ("beam_search", "dvts"):
        [out] = make_strategy(name, beam_width=2, expansions=2, scorer=_prm).run(ScriptedEngine(script), [problem()])
        assert out.answer == "42" and out.completions[out.chosen or 0].text.startswith("\n\ngood")


def test_beam_search_keeps_each_solution_within_max_new_tokens():
    engine = ScriptedEngine(lambda prompt, k: "w " * 50)  # a step that never ends on its own
    [out] = make_strategy("beam_search", beam_width=1, expansions=1, step_tokens=4, max_new_tokens=10,
                          scorer=_prm, max_steps=5).run(engine, [problem()])
    assert [p.max_new_tokens for _, p in engine.calls] == [4, 4, 2]  # the last step gets what is left
    assert out.completions[0].tokens == 10 and out.output_tokens == 10


def test_beam_search_vote_selection():
    engine = ScriptedEngine(_step_script)
    [out] = make_strategy("beam_search", beam_width=2, expansions=2, scorer=_prm, select="vote").run(engine, [problem()])
    assert out.chosen is None and out.answer == "42"


# ----------------------------------------------------------------------------------- budget forcing
def test_budget_forcing_cuts_thinking_at_exactly_b_tokens():
    def script(prompt, k):
        if prompt.endswith("<answer>\n"):
            return "42\n</answer> junk"
        return " ".join(f"w{i}" for i in range(50))  # never closes its thinking

    engine = ScriptedEngine(script)
    [out] = make_strategy("budget_forcing", max_thinking_tokens=20).run(engine, [problem()])
    text = out.completions[0].text
    thinking = text.split("<think>\n", 1)[1].split("\n</think>", 1)[0]
    assert thinking.split() == [f"w{i}" for i in range(20)]
    assert text.endswith("</think>\n<answer>\n42\n</answer>") and out.strict_answer == "42"
    assert out.info == {"waits": 0, "forced_stop": True, "thinking_tokens": 20}
    assert [p.max_new_tokens for _, p in engine.calls] == [20, 32]


@pytest.mark.parametrize("waits", [0, 1, 3])
def test_budget_forcing_extends_with_exactly_k_waits(waits):
    def script(prompt, k):
        if prompt.rstrip().endswith("</think>"):
            return "\n<answer>\n5\n</answer>"
        return " more thought </think>" if prompt.endswith("Wait") else "a b c </think>"

    engine = ScriptedEngine(script)
    [out] = make_strategy("budget_forcing", max_thinking_tokens=100, num_waits=waits).run(engine, [problem()])
    text = out.completions[0].text
    assert text.count("Wait") == waits and text.count("</think>") == 1
    assert out.info["waits"] == waits and out.info["forced_stop"] is False
    assert out.strict_answer == "5"
    assert len(engine.calls) == waits + 2  # the first thinking call, one per Wait, the answer


def test_budget_forcing_wait_respects_the_cap():
    def script(prompt, k):
        if prompt.endswith("<answer>\n"):
            return "1\n</answer>"
        return "x x x x x x </think>"  # 7 tokens each time

    engine = ScriptedEngine(script)
    [out] = make_strategy("budget_forcing", max_thinking_tokens=10, num_waits=5).run(engine, [problem()])
    assert out.info["thinking_tokens"] == 10 and out.info["forced_stop"] is True and out.info["waits"] == 1
    assert [p.max_new_tokens for _, p in engine.calls] == [10, 3, 32]


# ----------------------------------------------------------------------------------------- registry
def test_make_strategy_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        make_strategy("nope")
    with pytest.raises(ValueError, match="unknown option.*beams.*valid"):
        make_strategy("beam_search", beams=3)
    assert make_strategy("dvts").diverse is True and make_strategy("maj").n == 8
    assert all(strategy_options(name) is not None for name in STRATEGIES)


@pytest.mark.parametrize("name, expected", [
    ("maj@4", ("maj", 4)), ("best_of_n@16", ("best_of_n", 16)), ("adaptive@32", ("adaptive", 32)),
    ("greedy", ("greedy", None)),
])
def test_name_at_n_shorthand(name, expected):
    assert parse_strategy_name(name) == expected
    if expected[1] is not None:
        assert make_strategy(name).n == expected[1]


@pytest.mark.parametrize("name, message", [
    ("maj@0", "positive integer"), ("maj@x", "positive integer"), ("maj@", "positive integer"),
    ("greedy@4", "NAME@N works for"), ("nope@4", "NAME@N works for"),
])
def test_name_at_n_shorthand_errors(name, message):
    with pytest.raises(ValueError, match=message):
        make_strategy(name)


def test_eval_resolves_the_shorthand_and_keeps_it_as_the_label():
    from thinktune.evaluation.harness import resolve_strategy

    strat, label = resolve_strategy("maj@4", n=1, max_new_tokens=32, options={})
    assert (strat.n, strat.max_new_tokens, label) == (4, 32, "maj@4")


def test_make_scorer_errors():
    with pytest.raises(ValueError, match="unknown scorer"):
        make_scorer("nope")
    with pytest.raises(TypeError):
        make_scorer(3)


def test_reward_model_scorer_batches_like_single_calls_and_drives_best_of_n(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from thinktune.inference.base import Completion
    from thinktune.inference.scorers import RewardModelScorer

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, num_labels=1,
                         pad_token_id=tokenizer.pad_token_id)
    rm = RewardModelScorer(LlamaForSequenceClassification(config), tokenizer, batch_size=4)
    texts = [tagged("1"), tagged("22", thinking="a much longer line of thinking here"), tagged("3")]
    comps = [Completion(t, tokens=1) for t in texts]
    together = rm("What is x?", comps)
    alone = [rm("What is x?", [c])[0] for c in comps]
    assert together == pytest.approx(alone, abs=1e-4) and len(set(together)) == 3
    [out] = make_strategy("best_of_n", n=3, scorer=rm).run(ScriptedEngine(texts), [problem()])
    assert out.chosen == together.index(max(together))
