"""What the server serves: local models (batched), upstream models, and the hybrid router as a model.

    load_served(["default", "fast=runs/x", "runs/compare"])   # names: default, fast, reasoning, non_reasoning, auto

A spec is anything `thinktune.models.load_model` loads, optionally named (`NAME=SPEC`; unnamed ones are
named after the folder, or `default`/`tiny`). A `compare` run folder serves its two variants as
`reasoning` and `non_reasoning`, and `auto`: the agreement router compare measured (k direct samples; when
enough of them agree the majority answer is returned, else the question goes to the reasoning variant).
With `upstream`, the names are models of an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama)
that does the decoding; thinktune adds the reasoning split, strategies and traces.

A model trained as a non-reasoning job (its `config.yaml` says `job: non_reasoning`) is asked directly by
default; a reasoning model gets the reasoning system prompt unless the request brings its own system
message or asks for no thinking (`enable_thinking: false`, `reasoning_effort: "none"`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktune.format import THINK_OPEN, render_prompt, system_prompt, template_prefills_think
from thinktune.inference.base import Completion, Prompt, SamplingParams, split_continuation
from thinktune.serve.batcher import Batcher, GenRequest, Handle

# thinking budgets (tokens) for OpenAI's reasoning_effort levels; `none` asks for no thinking at all
EFFORT_BUDGET = {"minimal": 32, "low": 128, "medium": 512, "high": 2048}


@dataclass
class LocalModel:
    """A model decoded here, through the continuous batcher."""

    name: str
    spec: str
    reasoning: bool  # the job type it was trained for (non_reasoning: asked for the answer alone)
    batcher: Batcher
    created: int = field(default_factory=lambda: int(time.time()))
    kind: str = "local"

    @property
    def tokenizer(self) -> Any:
        return self.batcher.tokenizer

    def messages(self, messages: list[dict[str, str]], thinking: bool) -> list[dict[str, str]]:
        """The chat as the model was trained to see it: the job type's system prompt unless one is given."""
        if messages and messages[0]["role"] == "system":
            return messages
        return [{"role": "system", "content": system_prompt(thinking and self.reasoning)}, *messages]

    def prompt_ids(self, messages: list[dict[str, str]], thinking: bool) -> tuple[list[int], bool]:
        """(token ids of the rendered prompt, whether the template already opened `<think>`)."""
        head, prefix = split_continuation(self.messages(messages, thinking))
        text = render_prompt(self.tokenizer, head) + prefix
        opened = text.rstrip().endswith(THINK_OPEN) or (template_prefills_think(self.tokenizer) and thinking)
        return self.tokenizer.encode(text, add_special_tokens=False), opened

    def start(self, messages: list[dict[str, str]], *, thinking: bool, max_tokens: int, n: int = 1,
              temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None, stop: Sequence[str] = (),
              thinking_budget: int | None = None, loop: Any = None, deltas: bool = True) -> tuple[Handle, bool, int]:
        """Submit a generation; returns (its handle, whether it starts inside <think>, prompt tokens)."""
        ids, opened = self.prompt_ids(messages, thinking)
        request = GenRequest(ids, max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                             stop=tuple(stop), n=n, thinking_budget=thinking_budget if thinking else None,
                             starts_thinking=opened)
        return self.batcher.submit(request, loop, deltas), opened, len(ids)

    def engine(self) -> BatcherEngine:
        return BatcherEngine(self)


class BatcherEngine:
    """The `thinktune.inference` engine interface over a served model's batcher, so that strategies
    (`maj@8`, `adaptive`, `best_of_n`) run on the server's batch with every other request."""

    name = "served"

    def __init__(self, model: LocalModel) -> None:
        self.model = model
        self.spec = model.spec

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        t0 = time.perf_counter()
        handles = []
        for prompt in prompts:
            if isinstance(prompt, str):
                ids = self.model.tokenizer.encode(prompt, add_special_tokens=False)
                prefix = ""
            else:
                head, prefix = split_continuation(prompt)
                text = render_prompt(self.model.tokenizer, head) + prefix
                ids = self.model.tokenizer.encode(text, add_special_tokens=False)
            request = GenRequest(ids, max_tokens=params.max_new_tokens, temperature=params.temperature,
                                 top_p=params.top_p, top_k=params.top_k, seed=params.seed, stop=params.stop,
                                 n=params.n)
            handles.append((self.model.batcher.submit(request), prefix))
        out = []
        for handle, prefix in handles:
            rows = handle.results()
            out.append([Completion(text=prefix + r.text, tokens=r.tokens,
                                   finish_reason="length" if r.finish_reason == "cancelled" else r.finish_reason,
                                   latency_s=time.perf_counter() - t0, logprob=r.logprob) for r in rows])
        return out


@dataclass
class UpstreamModel:
    """A model of an OpenAI-compatible server thinktune sits in front of."""

    name: str
    engine: Any  # thinktune.inference.engines.openai_http.OpenAIEngine
    reasoning: bool = True
    created: int = field(default_factory=lambda: int(time.time()))
    kind: str = "upstream"
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class RouterModel:
    """`auto`: the hybrid router of a compare run, as a model (see the module docstring)."""

    name: str
    fast: LocalModel
    slow: LocalModel
    samples: int = 4
    threshold: float = 0.25
    created: int = field(default_factory=lambda: int(time.time()))
    kind: str = "router"
    reasoning: bool = True


# -------------------------------------------------------------------------------------------- loading
def parse_spec(item: str) -> tuple[str | None, str]:
    """`NAME=SPEC` → (NAME, SPEC); a bare spec → (None, SPEC). A URL's `=` in a query is not a name."""
    name, sep, spec = item.partition("=")
    if sep and name and "/" not in name and ":" not in name:
        return name, spec
    return None, item


def default_name(spec: str) -> str:
    path = Path(spec)
    if path.name in ("final", "merged") and path.parent.name:
        return path.parent.name
    return path.name or spec


def load_served(items: Sequence[str], *, max_batch_rows: int = 32, max_waiting: int = 64,
                dtype: str = "float32", upstream: str | None = None, api_key_env: str = "UPSTREAM_API_KEY") -> dict:
    """Load every model named on the command line; returns {name: served model}."""
    import os

    from thinktune.errors import UserError

    served: dict[str, Any] = {}

    def add(name: str, model: Any) -> None:
        if name in served:
            raise UserError(f"two models are named {name!r}; name them apart with NAME=SPEC")
        served[name] = model

    if upstream:
        from thinktune.inference.engines.openai_http import OpenAIEngine

        for item in items:
            name, spec = parse_spec(item)
            add(name or spec, UpstreamModel(name or spec, OpenAIEngine(upstream, spec, api_key=os.environ.get(api_key_env) or "EMPTY")))
        return served
    for item in items:
        name, spec = parse_spec(item)
        if spec.startswith("registry:"):  # a flywheel's current version, under the registry's name
            from thinktune.flywheel.gate import current_model, load_registry

            home = spec[len("registry:"):]
            try:
                reg_name, spec = load_registry(home).get("name"), current_model(home)
            except FileNotFoundError as e:
                raise UserError(str(e)) from None
            name = name or reg_name
        folder = Path(spec)
        if (folder / "variants" / "reasoning" / "final").is_dir() and (folder / "variants" / "non_reasoning").is_dir():
            prefix = f"{name}/" if name else ""
            slow = _local(f"{prefix}reasoning", str(folder / "variants" / "reasoning"), max_batch_rows, max_waiting, dtype)
            fast = _local(f"{prefix}non_reasoning", str(folder / "variants" / "non_reasoning"), max_batch_rows,
                          max_waiting, dtype)
            add(slow.name, slow)
            add(fast.name, fast)
            samples, threshold = _router_settings(folder)
            add(f"{prefix}auto", RouterModel(f"{prefix}auto", fast, slow, samples, threshold))
            continue
        add(name or default_name(spec), _local(name or default_name(spec), spec, max_batch_rows, max_waiting, dtype))
    return served


def _local(name: str, spec: str, max_batch_rows: int, max_waiting: int, dtype: str) -> LocalModel:
    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import load_model
    from thinktune.runs import FINAL, trained_job

    folder = Path(spec) / FINAL if (Path(spec) / FINAL).is_dir() else Path(spec)
    model, tokenizer = load_model(spec, dtype=dtype)
    engine = HFEngine(model, tokenizer, max_batch_rows=max_batch_rows)
    return LocalModel(name, spec, trained_job(folder) != "non_reasoning", Batcher(engine, max_batch_rows, max_waiting))


def _router_settings(folder: Path) -> tuple[int, float]:
    """The agreement router's k and threshold, as the compare run measured them."""
    import yaml

    try:
        cfg = yaml.safe_load((folder / "compare.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        cfg = {}
    return int(cfg.get("router_samples", 4)), float(cfg.get("agreement_threshold", 0.25))
