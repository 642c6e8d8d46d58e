"""Inference-time scaling: generation engines and the strategies composed on top of them.

    from thinktune.inference import make_engine, make_strategy, Problem, SamplingParams
    engine = make_engine("default")                       # transformers; or a URL, "vllm", "llamacpp"
    engine.generate([messages], SamplingParams(n=8, temperature=0.7, stop=("</answer>",), seed=0))
    strategy = make_strategy("adaptive", n=16)            # see strategies.py for the list
    outcomes = strategy.run(engine, [Problem(messages, question)], seed=0)

Layout:
    base.py        the Engine interface, SamplingParams, Completion, continuation prompts
    engines/       hf (default), openai_http, vllm, llamacpp, scripted (tests and replays)
    voting.py      read answers (strict / lenient), majority and weighted votes, pick-best
    stopping.py    adaptive stopping rules (Beta, ESC) and their replay on recorded samples
    scorers.py     logprob, format, verifier (oracle), reward-model and callable scorers
    strategies.py  greedy, cot, sample, self_consistency, adaptive, best_of_n, weighted_majority,
                   beam_search, dvts, budget_forcing
"""

from thinktune.inference.base import Completion, Engine, Prompt, SamplingParams, continue_prompt
from thinktune.inference.engines import ENGINES, make_engine
from thinktune.inference.strategies import STRATEGIES, Outcome, Problem, make_strategy

__all__ = [
    "Completion",
    "ENGINES",
    "Engine",
    "Outcome",
    "Problem",
    "Prompt",
    "STRATEGIES",
    "SamplingParams",
    "continue_prompt",
    "make_engine",
    "make_strategy",
]
