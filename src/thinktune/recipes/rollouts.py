"""GRPO rollouts by thinktune's own engine, through TRL's `rollout_func` hook (`rollouts: thinktune`).

TRL's default path without vLLM left-pads the step's prompts (each repeated G times) and calls
`model.generate`, decoding every row until the longest one ends. thinktune's `HFEngine` prefills each
distinct prompt once and shares its key/value cache across the G samples, drops finished rows from the
batch, and samples with its own seeded generator (`benchmarks/results/sampling_throughput.md`: ~2x faster
on N-sample workloads). Here it samples from the policy being trained, inside TRL's
`unwrap_model_for_generation` (DeepSpeed-3 gathering, DDP unwrapping), with the same temperature, top-p and
completion budget as TRL's path; like TRL's path it stops at the end-of-sequence token (kept in the
completion, so the policy learns to stop) or at the budget.

Seeds: step `s` of process `r` samples with seed `hash(seed, s, r)`, so a rerun with the same seed draws
the same completions. The sampling log-probabilities are not returned (`logprobs: None`): TRL then uses its
own forward pass as the behaviour policy, as it does for its `generate` path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thinktune.config import ConfigError
from thinktune.inference.base import SamplingParams
from thinktune.inference.engines.hf import HFEngine


def group_prompts(prompts: Sequence[Any]) -> list[tuple[Any, int]]:
    """Consecutive equal prompts as `(prompt, count)` (TRL repeats each prompt G times in a row).

    >>> group_prompts(["a", "a", "b", "b"])
    [('a', 2), ('b', 2)]
    """
    groups: list[tuple[Any, int]] = []
    for p in prompts:
        if groups and groups[-1][0] == p:
            groups[-1] = (p, groups[-1][1] + 1)
        else:
            groups.append((p, 1))
    return groups


class EngineRollouts:
    """A `rollout_func` for `GRPOTrainer`: `(prompts, trainer) -> {prompt_ids, completion_ids, logprobs}`."""

    def __init__(self, tokenizer: Any, *, temperature: float, top_p: float, max_new_tokens: int, seed: int) -> None:
        self.tokenizer, self.seed = tokenizer, seed
        self.temperature, self.top_p, self.max_new_tokens = temperature, top_p, max_new_tokens
        eos = tokenizer.eos_token_id
        self.eos_id = eos[0] if isinstance(eos, list) else eos
        self.calls = 0

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        from trl.models import unwrap_model_for_generation

        if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
            # sharded weights would need every process to run the same forward passes: ours drop rows
            raise ConfigError("rollouts: thinktune runs on one process or DDP; with FSDP or DeepSpeed use "
                              "rollouts: trl (or use_vllm: true)")
        groups = group_prompts(prompts)
        counts = {n for _, n in groups}
        rank = trainer.accelerator.process_index
        seed = (self.seed * 1_000_003 + trainer.state.global_step * 7919 + self.calls * 131 + rank) % 2**63
        self.calls += 1
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
                                         gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs
                                         ) as model:
            was_training = model.training
            model.eval()
            try:
                engine = HFEngine(model, self.tokenizer, max_batch_rows=max(1, len(prompts)), pack_weights=False)
                by_group: dict[int, list[Any]] = {}
                for n in sorted(counts):  # one call per group size (all the same in GRPO: G)
                    chosen = [g for g, (_, k) in enumerate(groups) if k == n]
                    params = SamplingParams(n=n, max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                            top_p=self.top_p, seed=seed + n)
                    outs = engine.generate([groups[g][0] for g in chosen], params)
                    by_group.update(zip(chosen, outs, strict=True))
            finally:
                model.train(was_training)
        prompt_ids, completion_ids = [], []
        for g, (p, n) in enumerate(groups):
            ids = engine._encode(engine.render(p))
            for c in by_group[g][:n]:
                tokens = list(c.token_ids or [])
                if c.finish_reason == "eos":  # the end token the model sampled, so the policy learns to stop
                    eos = c.eos_id if c.eos_id is not None else self.eos_id
                    if eos is not None:
                        tokens.append(eos)
                prompt_ids.append(ids)
                completion_ids.append(tokens)
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}
