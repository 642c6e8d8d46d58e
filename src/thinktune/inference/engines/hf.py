"""The default engine: transformers models, with a decoding loop built for N samples per prompt on CPU.

Why not `model.generate`? On the N-samples workload of inference-time scaling (8-16 samples of one
prompt, lengths from 30 to 256 tokens) plain `generate` spends its time in four places this loop avoids
(`benchmarks/sampling_throughput.py` measures each):

1. *Prefill once, share it.* `num_return_sequences=N` encodes N copies of the prompt; here the prompt is
   encoded once (batch 1) and its KV cache copied N ways.
2. *No quadratic cache copies.* `DynamicCache` grows by `torch.cat`, which copies the whole cache every
   step (O(length²) bytes); here each layer's keys/values live in a preallocated buffer that grows in
   chunks, and a step writes one slot.
3. *Finished rows leave the batch.* `generate` keeps computing a row after it has stopped (it only pads
   it) until the last row stops; here a row that hits EOS or a stop string is dropped from the batch and
   its cache rows removed, so it stops costing compute.
4. *Cheap sampling.* `torch.multinomial` draws an exponential variate per vocabulary entry (49K per row
   per step); inverse-CDF sampling draws one uniform per row.
5. *Prepacked weights on CPU* (`packed.py`): linear layers multiply by weights kept in oneDNN's blocked
   layout when a step has 4 or more rows (the same model to ~1e-4 in the logits; +1× weight memory).

Rows of different prompts are right-aligned in one batch (left padding, masked), each prompt prefilled
on its own so no compute is spent on padding. A small LRU of prefilled prompts lets the next call that
repeats or extends a prompt (adaptive sampling rounds, budget forcing, step-level beam search) reuse the
keys and values of the longest common token prefix.

Models with sliding-window or non-standard caches fall back to `model.generate` (same results, without
the speed-ups); `fast=False` forces that path.

A call for one completion (one prompt, `n=1`) can stream it: `generate(..., on_text=print_piece)` hands
each finalized piece of new text to the callback as it is decoded (what `thinktune chat` prints).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from thinktune.format import render_prompt
from thinktune.inference.base import Completion, Prompt, SamplingParams, cut_at_stop, split_continuation

_CHUNK = 128  # cache capacity grows by this many positions at a time
_TAIL = 12  # tokens decoded per step to look for stop strings


class HFEngine:
    """Generate with a transformers causal LM (CPU or GPU).

    Args:
        model: a loaded causal LM (a PEFT model works too).
        tokenizer: its tokenizer (with a chat template for chat prompts).
        max_batch_rows: at most this many rows (prompt × sample) decode together; more are run in waves.
        fast: use the decoding loop above (True) or plain `model.generate` (False).
        prefix_cache: how many prefilled prompts to keep for reuse (0 turns the LRU off).
        drop_finished: remove finished rows from the batch (False keeps computing them, as `generate`
            does; for measuring what dropping saves). One generator draws for the rows still running, so a
            seed fixes the samples for one batch layout: this flag, `max_batch_rows` and the other prompts
            in the call change them.
        pack_weights: use prepacked oneDNN weights (None: when the model is float32/bfloat16 on CPU).
    """

    name = "hf"

    def __init__(self, model: Any, tokenizer: Any, *, max_batch_rows: int = 32, fast: bool = True,
                 prefix_cache: int = 4, drop_finished: bool = True, pack_weights: bool | None = None) -> None:
        from thinktune.inference.engines import packed

        self.model, self.tokenizer = model, tokenizer
        if pack_weights is None:
            pack_weights = fast and packed.available(model)
        self._packed = packed.PackedLinears(model) if pack_weights else None
        self.drop_finished = drop_finished
        self.max_batch_rows = max_batch_rows
        self.fast = fast and _supports_fast_path(model)
        self._prefixes: OrderedDict[tuple[int, ...], tuple[list, Any]] = OrderedDict()
        self._prefix_cache_size = prefix_cache
        self._weights_version = -1
        eos = getattr(model.generation_config, "eos_token_id", None)
        eos = eos if eos is not None else tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self.stats: dict[str, float] = {}
        self.spec = getattr(getattr(model, "config", None), "_name_or_path", None) or type(model).__name__

    @classmethod
    def from_spec(cls, spec: str, dtype: str = "float32", device: str | None = None, **kwargs: Any) -> HFEngine:
        """Load a model spec (`default`, `tiny`, a folder, a `.gguf`, a Hub id) with `load_model`."""
        from thinktune.models import load_model

        model, tok = load_model(spec, dtype=dtype, device=device)
        engine = cls(model, tok, **kwargs)
        engine.spec = spec
        return engine

    # ------------------------------------------------------------------------------------ interface
    def render(self, prompt: Prompt) -> str:
        """The text the model continues: the chat template (+ an assistant prefix), or raw text as is."""
        head, prefix = split_continuation(prompt)
        if isinstance(head, str):
            return head + prefix
        return render_prompt(self.tokenizer, head) + prefix

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams, *,
                 on_text: Callable[[str], None] | None = None) -> list[list[Completion]]:
        """`params.n` completions for each prompt, in prompt order (see `thinktune.inference.base`).

        Args:
            prompts: chats or raw texts.
            params: how to sample.
            on_text: stream the completion: called with each piece of newly generated text as soon as it is
                final (whole words, as transformers' `TextStreamer` cuts them; special tokens dropped). The
                pieces join to the generated text (a continuation's prefix is not streamed; with stop
                strings the last piece may run past the stop that cuts the completion). Only for a call
                that makes one completion: one prompt and `n=1`.

        Raises:
            ValueError: `on_text` with more than one prompt or `n > 1`.
        """
        import torch

        if on_text is not None and len(prompts) * params.n != 1:
            raise ValueError(f"on_text streams one completion: give one prompt and n=1 "
                             f"(got {len(prompts)} prompt(s), n={params.n})")
        t0 = time.perf_counter()
        ids = [self._encode(self.render(p)) for p in prompts]
        rows = [(i, j) for i in range(len(prompts)) for j in range(params.n)]
        out: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        gen = torch.Generator(device="cpu")
        # a private generator: the caller's global torch random state is left as it was
        gen.manual_seed(params.seed if params.seed is not None else random.SystemRandom().getrandbits(63))
        self.stats = {"prefill_s": 0.0, "decode_s": 0.0, "sample_s": 0.0, "stop_check_s": 0.0,
                      "compact_s": 0.0, "steps": 0, "row_steps": 0}
        with torch.inference_mode(), self._packed or contextlib.nullcontext():
            for start in range(0, len(rows), self.max_batch_rows):
                wave = rows[start : start + self.max_batch_rows]
                run = self._run_fast if self.fast else self._run_plain
                # generate() feeds its streamer the prompt first (skipped); the fast path only new tokens
                streamer = _text_streamer(self.tokenizer, on_text, skip_prompt=not self.fast) if on_text else None
                done = run([ids[i] for i, _ in wave], params, gen, t0, streamer=streamer)
                for (i, j), comp in zip(wave, done, strict=True):
                    prefix = split_continuation(prompts[i])[1]
                    comp.text = prefix + comp.text
                    out[i][j] = comp
        self.stats["total_s"] = time.perf_counter() - t0
        return out  # type: ignore[return-value]

    # ---------------------------------------------------------------------------------- fast path
    def _encode(self, text: str) -> list[int]:
        # The chat template already holds the BOS token where the model wants one.
        return self.tokenizer.encode(text, add_special_tokens=False)

    def _prefill(self, ids: list[int]) -> tuple[list, Any]:
        """KV (per layer: keys, values of shape [1, kv_heads, len, head_dim]) and last-position logits."""
        import torch

        version = sum(p._version for p in self.model.parameters())
        if version != self._weights_version:  # weights changed (a training step): cached KV is stale
            self._prefixes.clear()
            self._weights_version = version
        key = tuple(ids)
        if key in self._prefixes:
            self._prefixes.move_to_end(key)
            return self._prefixes[key]
        # Reuse the cached prompt sharing the longest common prefix with this one: keys and values of the
        # first L tokens depend on those tokens only, so they can be cut at L. (Comparing token ids, not
        # text: re-tokenising prompt + continuation may merge tokens across the old boundary.)
        base, base_len = None, 0
        for k in self._prefixes:
            common = len(os.path.commonprefix([k, key]))
            if common > base_len:
                base, base_len = k, min(common, len(ids) - 1)  # keep one token to compute logits from
        device = self.model.device
        if base is None or base_len < 1:
            base_len = 0
            cache = _empty_cache()
        else:
            kv = [(k[:, :, :base_len], v[:, :, :base_len]) for k, v in self._prefixes[base][0]]
            cache = _cache_from_kv([kv], [0], capacity=len(ids))
        out = self.model(input_ids=torch.tensor([ids[base_len:]], device=device), past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        self.stats["prefill_tokens"] = self.stats.get("prefill_tokens", 0) + len(ids) - base_len
        self.stats["reused_prefix_tokens"] = self.stats.get("reused_prefix_tokens", 0) + base_len
        kv = [(layer.keys.clone(), layer.values.clone()) for layer in cache.layers]
        result = (kv, out.logits[0, -1].float())
        if self._prefix_cache_size:
            self._prefixes[key] = result
            while len(self._prefixes) > self._prefix_cache_size:
                self._prefixes.popitem(last=False)
        return result

    def _run_fast(self, row_ids: list[list[int]], params: SamplingParams, gen: Any, t0: float,
                  streamer: Any = None) -> list[Completion]:
        import torch

        device = self.model.device
        tick = time.perf_counter()
        unique: dict[tuple[int, ...], int] = {}
        prefills = []
        for ids in row_ids:
            if tuple(ids) not in unique:
                unique[tuple(ids)] = len(prefills)
                prefills.append(self._prefill(ids))
        which = [unique[tuple(ids)] for ids in row_ids]
        lengths = [len(ids) for ids in row_ids]
        cache = _cache_from_kv([kv for kv, _ in prefills], which, capacity=max(lengths) + params.max_new_tokens)
        logits = torch.stack([prefills[w][1] for w in which])
        self.stats["prefill_s"] += time.perf_counter() - tick

        n_rows, width = len(row_ids), max(lengths)
        padded = any(n != width for n in lengths)
        # Boolean key mask [rows, capacity]: False on each row's left padding.
        key_mask = torch.ones(n_rows, cache.capacity, dtype=torch.bool, device=device)
        for r, n in enumerate(lengths):
            key_mask[r, : width - n] = False
        positions = torch.tensor(lengths, device=device)
        active = list(range(n_rows))  # original row index of each batch row
        alive = [True] * n_rows  # per batch row; dead rows stay only when drop_finished is False
        tokens: list[list[int]] = [[] for _ in range(n_rows)]
        logprobs = [0.0] * n_rows
        results: list[Completion | None] = [None] * n_rows
        stops = tuple(s for s in params.stop if s)

        for step in range(params.max_new_tokens):
            tick = time.perf_counter()
            next_tokens, lps = _sample(logits, params, gen)
            now = time.perf_counter()
            self.stats["sample_s"] += now - tick
            next_list, lp_list = next_tokens.tolist(), lps.tolist()
            for b, r in enumerate(active):
                if not alive[b]:
                    continue
                tok = next_list[b]
                if tok in self.eos_ids:
                    results[r] = self._finish(tokens[r], logprobs[r], "eos", now - t0, stops, eos_id=tok)
                    alive[b] = False
                    continue
                tokens[r].append(tok)
                logprobs[r] += lp_list[b]
                if streamer is not None:  # one row only (checked in generate)
                    streamer.put(torch.tensor([tok]))
                if stops and self._hit_stop(tokens[r], stops):
                    results[r] = self._finish(tokens[r], logprobs[r], "stop", now - t0, stops)
                    alive[b] = False
                elif step == params.max_new_tokens - 1:
                    results[r] = self._finish(tokens[r], logprobs[r], "length", now - t0, stops)
                    alive[b] = False
            self.stats["stop_check_s"] += time.perf_counter() - now
            if not any(alive):
                break
            if self.drop_finished and not all(alive):
                tick = time.perf_counter()
                keep = [b for b in range(len(active)) if alive[b]]
                index = torch.tensor(keep, device=device)
                cache.select(index)
                key_mask, positions, next_tokens = key_mask[index], positions[index], next_tokens[index]
                active, alive = [active[b] for b in keep], [True] * len(keep)
                self.stats["compact_s"] += time.perf_counter() - tick
            tick = time.perf_counter()
            step_kwargs: dict[str, Any] = {}
            if padded:
                used = cache.length + 1
                step_kwargs["attention_mask"] = key_mask[:, None, None, :used]
                step_kwargs["position_ids"] = positions[:, None]
            out = self.model(input_ids=next_tokens[:, None], past_key_values=cache, use_cache=True, **step_kwargs)
            logits = out.logits[:, -1].float()
            positions = positions + 1
            self.stats["decode_s"] += time.perf_counter() - tick
            self.stats["steps"] += 1
            self.stats["row_steps"] += len(active)
        if streamer is not None:
            streamer.end()
        return results  # type: ignore[return-value]

    def _hit_stop(self, tokens: list[int], stops: tuple[str, ...]) -> bool:
        # enough tokens to hold the longest stop string (a token is at least one character)
        tail = self.tokenizer.decode(tokens[-max(_TAIL, 2 + max(map(len, stops))):], skip_special_tokens=True)
        return any(s in tail for s in stops)

    def _finish(self, tokens: list[int], logprob: float, reason: str, elapsed: float,
                stops: tuple[str, ...], eos_id: int | None = None) -> Completion:
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        text, stop = cut_at_stop(text, stops)
        if stop is not None:
            reason = "stop"
        return Completion(text=text, tokens=len(tokens), finish_reason=reason, latency_s=elapsed,
                          logprob=logprob, stop=stop, token_ids=list(tokens), eos_id=eos_id)

    # --------------------------------------------------------------------------------- plain path
    def _run_plain(self, row_ids: list[list[int]], params: SamplingParams, gen: Any, t0: float,
                   streamer: Any = None) -> list[Completion]:
        """`model.generate` on left-padded rows: for architectures the fast path does not support."""
        import torch

        width = max(len(ids) for ids in row_ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else next(iter(self.eos_ids))
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in row_ids], device=self.model.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in row_ids], device=self.model.device)
        stops = tuple(s for s in params.stop if s)
        kwargs: dict[str, Any] = {"do_sample": not params.greedy, "max_new_tokens": params.max_new_tokens,
                                  "pad_token_id": pad, "return_dict_in_generate": True, "output_logits": True}
        if not params.greedy:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None)
        if stops:  # on the generated text only (transformers' stop_strings also match text begun in the prompt)
            kwargs["stopping_criteria"] = [_NewTextStop(self, width, stops)]
        if streamer is not None:
            kwargs["streamer"] = streamer
        cuda = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # seeded here without touching the caller's random state
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        elapsed = time.perf_counter() - t0
        new = out.sequences[:, width:]
        # Raw (unprocessed) logits per step → log-probabilities at temperature 1, as on the fast path.
        logp = torch.stack(out.logits, dim=1).float().log_softmax(-1)
        results = []
        for r in range(len(row_ids)):
            toks, reason, lp, eos_id = [], "length", 0.0, None
            for k, tok in enumerate(new[r].tolist()):
                if tok in self.eos_ids:
                    reason, eos_id = "eos", tok
                    break
                toks.append(tok)
                lp += float(logp[r, k, tok])
                if stops and self._hit_stop(toks, stops):
                    break
            results.append(self._finish(toks, lp, reason, elapsed, stops, eos_id=eos_id))
        return results


class _NewTextStop:
    """A `StoppingCriteria` that is true for a row once its generated text (not the prompt) holds a stop string."""

    def __init__(self, engine: HFEngine, width: int, stops: tuple[str, ...]) -> None:
        self.engine, self.width, self.stops = engine, width, stops

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        hits = [self.engine._hit_stop(row[self.width:].tolist(), self.stops) for row in input_ids]
        return torch.tensor(hits, dtype=torch.bool, device=input_ids.device)


def _text_streamer(tokenizer: Any, on_text: Callable[[str], None], skip_prompt: bool) -> Any:
    """A transformers `TextStreamer` that hands each non-empty finalized piece of text to `on_text`."""
    from transformers import TextStreamer

    class _Streamer(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                on_text(text)

    return _Streamer(tokenizer, skip_prompt=skip_prompt, skip_special_tokens=True)


# ------------------------------------------------------------------------------------------- sampling
def _sample(logits: Any, params: SamplingParams, gen: Any) -> tuple[Any, Any]:
    """Next tokens [rows] and their log-probabilities under the unmodified model (temperature 1).

    Sampling is inverse-CDF: one uniform per row against the cumulative probabilities, instead of
    `torch.multinomial`'s one exponential variate per vocabulary entry.
    """
    import torch

    log_z = torch.logsumexp(logits, dim=-1)
    if params.greedy:
        tokens = logits.argmax(dim=-1)
    else:
        scaled = logits / params.temperature
        if params.top_k and params.top_k < scaled.shape[-1]:
            kth = torch.topk(scaled, params.top_k, dim=-1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        if params.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p > params.top_p  # keep the smallest set reaching top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        cdf = probs.cumsum(dim=-1)
        u = torch.rand(cdf.shape[0], 1, generator=gen).to(cdf.device) * cdf[:, -1:]
        # an exact 0.0 draw (about 1 in 2**24) would pick token 0 even when top-k / top-p gave it no mass
        u.clamp_(min=torch.finfo(cdf.dtype).tiny)
        tokens = torch.searchsorted(cdf, u).squeeze(-1).clamp_(max=cdf.shape[-1] - 1)
    chosen = logits.gather(-1, tokens[:, None]).squeeze(-1)
    return tokens, chosen - log_z


# -------------------------------------------------------------------------------------------- cache
def _supports_fast_path(model: Any) -> bool:
    """Decoder-only models whose every layer is full attention with a plain key/value cache."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None)
    if layer_types and any(t != "full_attention" for t in layer_types):
        return False
    if getattr(text, "sliding_window", None) and getattr(text, "use_sliding_window", True):
        return False
    return getattr(model, "_supports_cache_class", True) is not False


@functools.cache
def _classes() -> tuple[type, type]:
    """(BufferLayer, BufferCache), built on first use so importing this module stays light."""
    from transformers.cache_utils import Cache, DynamicLayer

    class BufferLayer(DynamicLayer):
        """A `DynamicLayer` whose keys/values are views into a preallocated [batch, heads, capacity, dim]
        buffer: an update writes one slot instead of concatenating (copying) the whole cache."""

        def setup(self, keys: Any, values: Any, length: int) -> None:
            self._k, self._v, self._len = keys, values, length
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True
            self._views()

        def _views(self) -> None:
            self.keys = self._k[:, :, : self._len]
            self.values = self._v[:, :, : self._len]

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            b, h, _, d = key_states.shape
            self.setup(key_states.new_empty(b, h, _CHUNK, d), value_states.new_empty(b, h, _CHUNK, d), 0)

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            import torch

            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            n = key_states.shape[-2]
            if self._len + n > self._k.shape[2]:
                b, h, _, d = self._k.shape
                grow = self._k.new_zeros(b, h, max(_CHUNK, n), d)
                self._k = torch.cat([self._k, grow], dim=2)
                self._v = torch.cat([self._v, grow], dim=2)
            self._k[:, :, self._len : self._len + n] = key_states
            self._v[:, :, self._len : self._len + n] = value_states
            self._len += n
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self._len if self.is_initialized else 0

        def batch_select_indices(self, indices: Any) -> None:
            self._k = self._k.index_select(0, indices)
            self._v = self._v.index_select(0, indices)
            self._views()

    class BufferCache(Cache):
        """A transformers `Cache` of buffer layers, with the two helpers the decoding loop needs."""

        @property
        def length(self) -> int:
            return self.layers[0].get_seq_length() if self.layers else 0

        @property
        def capacity(self) -> int:
            return self.layers[0]._k.shape[2] if self.layers else 0

        def select(self, index: Any) -> None:
            """Keep only batch rows `index` (finished rows leave the batch)."""
            for layer in self.layers:
                layer.batch_select_indices(index)

    return BufferLayer, BufferCache


def _empty_cache() -> Any:
    layer_cls, cache_cls = _classes()
    return cache_cls(layer_class_to_replicate=layer_cls)


def _cache_from_kv(kvs: list[list[tuple[Any, Any]]], which: list[int], capacity: int) -> Any:
    """A batch whose row r holds prompt `which[r]`'s KV, right-aligned (left padding) to the longest.

    Args:
        kvs: per prompt, per layer `(keys, values)` of shape [1, kv_heads, len, head_dim].
        which: the prompt of each batch row.
        capacity: positions to allocate (grown in chunks later if needed).
    """
    layer_cls, cache_cls = _classes()
    width = max(kvs[w][0][0].shape[2] for w in which)
    capacity = max(capacity, width)
    groups: dict[int, list[int]] = {}
    for r, w in enumerate(which):
        groups.setdefault(w, []).append(r)
    layers = []
    for layer in range(len(kvs[which[0]])):
        k0 = kvs[which[0]][layer][0]
        _, h, _, d = k0.shape
        keys = k0.new_zeros(len(which), h, capacity, d)
        values = k0.new_zeros(len(which), h, capacity, d)
        for w, rows in groups.items():
            k, v = kvs[w][layer]
            n = k.shape[2]
            keys[rows, :, width - n : width] = k.expand(len(rows), -1, -1, -1)
            values[rows, :, width - n : width] = v.expand(len(rows), -1, -1, -1)
        lay = layer_cls()
        lay.setup(keys, values, width)
        layers.append(lay)
    return cache_cls(layers=layers)
