"""Continuous batching for the server: requests join and leave the running batch between decode steps.

One background thread owns the model. Each step it admits the waiting requests that fit (prefilling each
prompt once, `HFEngine._prefill`, and splicing its keys and values into the batch cache, right-aligned like
every other row), draws one token for every running row, and drops the rows that finished or whose client
went away. So a request that arrives while others decode starts at the next step instead of waiting for the
batch to drain, and 16 concurrent clients share each forward pass instead of queueing behind each other.

Per row it keeps what the OpenAI API lets a request set: its own sampling settings and random generator
(`seed` makes a request reproducible), stop strings, a token cap, and a thinking budget: once a row has
spent `thinking_budget` tokens inside `<think>`, the next tokens are forced to close the thinking and
open the answer (budget forcing, s1), and the model goes on from there.

Results stream back through a `Handle`: `("delta", index, text)` events as text becomes final (never a
split UTF-8 character), then `("done", index, RowResult)`; `("error", message)` if the loop failed.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from thinktune.format import ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from thinktune.inference.base import SamplingParams, cut_at_stop
from thinktune.inference.engines.hf import HFEngine, _cache_from_kv, _sample

log = logging.getLogger("thinktune.serve")

FORCED_CLOSE = f"\n{THINK_CLOSE}\n{ANSWER_OPEN}\n"  # what budget forcing makes the model write
_GROW = 128  # key-mask columns added at a time


class QueueFull(Exception):
    """More requests are waiting than the server accepts; the client should retry later."""


@dataclass
class GenRequest:
    """One request's generation settings (n rows share its prompt)."""

    prompt_ids: list[int]
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    thinking_budget: int | None = None
    starts_thinking: bool = False  # the prompt already opened <think>


@dataclass
class RowResult:
    """One finished completion."""

    text: str
    tokens: int
    finish_reason: str  # stop | eos | length | cancelled
    logprob: float
    token_logprobs: list[float]
    thinking_tokens: int
    forced: bool  # budget forcing closed the thinking
    latency_s: float
    first_token_s: float | None
    token_ids: list[int] = field(default_factory=list)


class Handle:
    """A submitted request: read its events until every row is done; `cancel()` frees its rows.

    Without an event loop the events go to `events` (a `queue.Queue`, read by `results()`); with one
    (`loop`), to `aevents`, an `asyncio.Queue` filled from the batcher thread with `call_soon_threadsafe`,
    so a server waits for them without holding a thread per request.
    """

    def __init__(self, request: GenRequest, loop: Any = None, deltas: bool = True) -> None:
        import asyncio

        self.request, self.loop, self.deltas = request, loop, deltas
        self.outbox: list | None = None
        self.events: queue.Queue = queue.Queue()
        self.aevents: asyncio.Queue | None = asyncio.Queue() if loop is not None else None
        self.cancelled = threading.Event()
        self.submitted = time.perf_counter()
        self.wake: Any = None

    def put(self, item: tuple) -> None:
        if item[0] == "delta" and not self.deltas:
            return
        if self.loop is not None:
            if self.outbox is not None:  # the batcher hands the loop a step's events in one wake-up
                self.outbox.append((self, item))
            else:
                self.loop.call_soon_threadsafe(self.aevents.put_nowait, item)
        else:
            self.events.put(item)

    def cancel(self) -> None:
        self.cancelled.set()
        if self.wake is not None:
            self.wake()  # a cancelled request still waiting leaves the queue now, not at the next arrival

    async def aresults(self) -> list[RowResult]:
        """`results()` for a handle submitted with a loop."""
        done: dict[int, RowResult] = {}
        while len(done) < self.request.n:
            kind, *rest = await self.aevents.get()
            if kind == "done":
                done[rest[0]] = rest[1]
            elif kind == "error":
                raise RuntimeError(rest[0])
        return [done[i] for i in range(self.request.n)]

    def results(self, timeout: float | None = None) -> list[RowResult]:
        """Block until every row is done; the rows' results in order (raises RuntimeError on a loop error)."""
        done: dict[int, RowResult] = {}
        while len(done) < self.request.n:
            kind, *rest = self.events.get(timeout=timeout)
            if kind == "done":
                done[rest[0]] = rest[1]
            elif kind == "error":
                raise RuntimeError(rest[0])
        return [done[i] for i in range(self.request.n)]


@dataclass
class _Row:
    handle: Handle
    index: int
    gen: Any
    params: SamplingParams
    length: int  # prompt tokens + generated tokens (the next position)
    tokens: list[int] = field(default_factory=list)
    token_logprobs: list[float] = field(default_factory=list)
    forced: list[int] = field(default_factory=list)
    was_forced: bool = False
    thinking: bool = False
    thinking_tokens: int = 0
    sent: str = ""  # the text already emitted as deltas
    first_token_s: float | None = None


class Batcher:
    """The continuous-batching loop over one `HFEngine`'s model (see the module docstring).

    Args:
        engine: an `HFEngine` (its model, tokenizer, prefill cache and end tokens are used).
        max_batch_rows: rows decoded together at most; more wait.
        max_waiting: requests waiting to join at most; past it `submit` raises `QueueFull`.
    """

    def __init__(self, engine: HFEngine, max_batch_rows: int = 32, max_waiting: int = 64) -> None:
        if not engine.fast:
            raise ValueError("the server's batching needs a model with a plain key/value cache "
                             "(sliding-window models: serve them through --upstream)")
        self.engine, self.tokenizer = engine, engine.tokenizer
        self.max_batch_rows, self.max_waiting = max_batch_rows, max_waiting
        self.waiting: collections.deque[Handle] = collections.deque()
        self.rows: list[_Row] = []
        self.cache: Any = None
        self.key_mask: Any = None
        self.logits: Any = None
        self.lock = threading.Condition()
        self.stopped = False
        self.steps = 0
        self.close_ids = engine.tokenizer.encode(FORCED_CLOSE, add_special_tokens=False)
        self._kept: list[int] = []
        # events for handles on an asyncio loop, delivered once per step: waking the server's loop per token
        # per row makes it fight this thread for the GIL, which slowed 4 concurrent tiny-model clients 10x
        self._outbox: list = []
        self.thread = threading.Thread(target=self._loop, name="thinktune-batcher", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------------------------------ interface
    def submit(self, request: GenRequest, loop: Any = None, deltas: bool = True) -> Handle:
        """Queue a request; with `loop` (the server's asyncio loop) its events arrive on `handle.aevents`.

        Raises:
            QueueFull: `max_waiting` requests are already waiting.
        """
        handle = Handle(request, loop, deltas)
        handle.wake = self._wake
        handle.outbox = self._outbox if loop is not None else None
        with self.lock:
            if len(self.waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self.waiting)} requests are waiting")
            self.waiting.append(handle)
            self.lock.notify()
        return handle

    def _wake(self) -> None:
        with self.lock:
            self.lock.notify()

    def load(self) -> dict[str, int]:
        """Rows decoding and requests waiting (for /metrics and /health)."""
        with self.lock:
            return {"running_rows": len(self.rows), "waiting_requests": len(self.waiting)}

    def close(self) -> None:
        with self.lock:
            self.stopped = True
            self.lock.notify()
        self.thread.join(timeout=10)

    # ---------------------------------------------------------------------------------------- loop
    def _loop(self) -> None:
        import torch

        packed = self.engine._packed or contextlib.nullcontext()
        while True:
            with self.lock:
                while not self.stopped and not self.waiting and not self.rows:
                    self.lock.wait()
                if self.stopped:
                    return
                cancelled = [h for h in self.waiting if h.cancelled.is_set()]
                for handle in cancelled:
                    self.waiting.remove(handle)
                admit = []
                free = self.max_batch_rows - len(self.rows)
                while self.waiting and (self.waiting[0].request.n <= free or not self.rows and not admit):
                    handle = self.waiting.popleft()
                    free -= handle.request.n
                    admit.append(handle)
            for handle in cancelled:
                self._finish_cancelled(handle)
            self._flush()
            try:
                with torch.inference_mode(), packed:
                    for handle in admit:
                        if handle.cancelled.is_set():
                            self._finish_cancelled(handle)
                            continue
                        try:
                            prepared = self._prepare(handle)
                        except Exception as e:  # this request's own failure (its prefill): only it is told
                            log.warning("request failed before joining the batch: %s", e)
                            handle.put(("error", f"{type(e).__name__}: {e}"))
                            continue
                        self._join(handle, *prepared)
                    admit = []
                    self._drop([r for r in self.rows if r.handle.cancelled.is_set()], "cancelled")
                    if self.rows:
                        self._step()
            except Exception as e:  # a failed step must not leave clients waiting forever
                log.exception("batcher step failed")
                for handle in {id(r.handle): r.handle for r in self.rows}.values():
                    handle.put(("error", f"{type(e).__name__}: {e}"))
                for handle in admit:
                    handle.put(("error", f"{type(e).__name__}: {e}"))
                self.rows, self.cache, self.key_mask, self.logits = [], None, None, None
            self._flush()

    def _flush(self) -> None:
        """Deliver the step's events: one `call_soon_threadsafe` per event loop, not one per event."""
        if not self._outbox:
            return
        items, self._outbox[:] = list(self._outbox), []
        by_loop: dict[int, tuple[Any, list]] = {}
        for handle, item in items:
            by_loop.setdefault(id(handle.loop), (handle.loop, []))[1].append((handle, item))
        for loop, batch in by_loop.values():
            loop.call_soon_threadsafe(_deliver, batch)

    def _finish_cancelled(self, handle: Handle) -> None:
        for i in range(handle.request.n):
            handle.put(("done", i, RowResult("", 0, "cancelled", 0.0, [], 0, False, 0.0, None)))

    def _prepare(self, handle: Handle) -> tuple[Any, Any]:
        """The request's prefill (keys, values, last logits): done before the batch is touched, so a request
        that fails here fails alone."""
        return self.engine._prefill(list(handle.request.prompt_ids))

    def _join(self, handle: Handle, kv: Any, logits: Any) -> None:
        """Add the request's n rows (prefilled) to the batch, right-aligned with the others."""
        import torch

        req = handle.request
        n_new, length = req.n, len(req.prompt_ids)
        params = SamplingParams(n=1, max_new_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p,
                                top_k=req.top_k, stop=tuple(s for s in req.stop if s), seed=req.seed)
        base_seed = req.seed if req.seed is not None else random.SystemRandom().getrandbits(62)
        new_rows = []
        for i in range(n_new):
            gen = torch.Generator(device="cpu")
            gen.manual_seed((base_seed + i) % 2**63)  # any 64-bit seed, n rows apart
            new_rows.append(_Row(handle, i, gen, params, length, thinking=req.starts_thinking))
        device = self.engine.model.device
        if not self.rows:
            self.cache = _cache_from_kv([kv], [0] * n_new, capacity=length + _GROW)
            self.key_mask = torch.ones(n_new, self.cache.capacity, dtype=torch.bool, device=device)
            self.logits = logits[None].expand(n_new, -1).clone()
            self.rows = new_rows
            return
        width = self.cache.length
        if length > width:  # the newcomer is longer than the batch: pad every running row on the left
            shift = length - width
            for layer in self.cache.layers:
                b, h, cap, d = layer._k.shape
                k = layer._k.new_zeros(b, h, cap + shift, d)
                v = layer._v.new_zeros(b, h, cap + shift, d)
                k[:, :, shift:] = layer._k
                v[:, :, shift:] = layer._v
                layer._k, layer._v, layer._len = k, v, layer._len + shift
                layer._views()
            pad = torch.zeros(len(self.rows), shift, dtype=torch.bool, device=device)
            self.key_mask = torch.cat([pad, self.key_mask], dim=1)
            width = length
        for layer, (k, v) in zip(self.cache.layers, kv, strict=True):
            b, h, cap, d = layer._k.shape
            add_k = layer._k.new_zeros(n_new, h, cap, d)
            add_v = layer._v.new_zeros(n_new, h, cap, d)
            add_k[:, :, width - length : width] = k.expand(n_new, -1, -1, -1)
            add_v[:, :, width - length : width] = v.expand(n_new, -1, -1, -1)
            layer._k, layer._v = torch.cat([layer._k, add_k]), torch.cat([layer._v, add_v])
            layer._views()
        mask = torch.ones(n_new, self.key_mask.shape[1], dtype=torch.bool, device=device)
        mask[:, : width - length] = False
        self.key_mask = torch.cat([self.key_mask, mask])
        self.logits = torch.cat([self.logits, logits[None].expand(n_new, -1)])
        self.rows += new_rows

    def _step(self) -> None:
        """Draw one token for every row, emit text, finish rows, and run the model one position further."""
        import torch

        now = time.perf_counter()
        next_tokens, finished = [], []
        for b, row in enumerate(self.rows):
            self._maybe_force(row)  # a budget already spent (0, or reached last step) closes before this token
            forced = bool(row.forced)
            if forced:  # budget forcing: the closing tokens count as answer, not as thinking
                tok = row.forced.pop(0)
                lp = float(torch.log_softmax(self.logits[b], -1)[tok])
            else:
                t, lps = _sample(self.logits[b : b + 1], row.params, row.gen)
                tok, lp = int(t[0]), float(lps[0])
            if row.first_token_s is None:
                row.first_token_s = now - row.handle.submitted
            if tok in self.engine.eos_ids and not forced:
                finished.append((row, "eos"))
                next_tokens.append(tok)
                continue
            row.tokens.append(tok)
            row.token_logprobs.append(lp)
            if row.thinking and not forced:
                row.thinking_tokens += 1
            reason = self._advance(row)
            if reason:
                finished.append((row, reason))
            next_tokens.append(tok)
        for row, reason in finished:
            self._complete(row, reason)
        self._drop([row for row, _ in finished], None)
        if not self.rows:
            return
        # the tokens of the rows still running (`_drop` left their old indices in `_kept`)
        tokens = torch.tensor([next_tokens[b] for b in self._kept], device=self.key_mask.device)
        used = self.cache.length + 1
        if used > self.key_mask.shape[1]:
            extra = torch.ones(len(self.rows), _GROW, dtype=torch.bool, device=self.key_mask.device)
            self.key_mask = torch.cat([self.key_mask, extra], dim=1)
        positions = torch.tensor([row.length for row in self.rows], device=self.key_mask.device)
        out = self.engine.model(input_ids=tokens[:, None], past_key_values=self.cache, use_cache=True,
                                attention_mask=self.key_mask[:, None, None, :used], position_ids=positions[:, None])
        self.logits = out.logits[:, -1].float()
        for row in self.rows:
            row.length += 1
        self.steps += 1

    def _advance(self, row: _Row) -> str | None:
        """After a new token: stream the text that became final, track thinking, check stops and caps."""
        text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
        stops = row.params.stop
        cut, stop = cut_at_stop(text, stops) if stops else (text, None)
        if not cut.endswith("\ufffd"):  # never emit half a UTF-8 character
            hold = 0
            if stops and stop is None:  # keep back what could be the start of a stop string
                hold = max((k for s in stops for k in range(1, len(s)) if cut.endswith(s[:k])), default=0)
            final = cut[: len(cut) - hold]
            if len(final) > len(row.sent) and final.startswith(row.sent):
                row.handle.put(("delta", row.index, final[len(row.sent):]))
                row.sent = final
        if THINK_OPEN in text and THINK_CLOSE not in text:
            row.thinking = True
        elif THINK_CLOSE in text:
            row.thinking = False
        if stop is not None:
            return "stop"
        if len(row.tokens) >= row.params.max_new_tokens:
            return "length"
        return None

    def _maybe_force(self, row: _Row) -> None:
        """Budget forcing: once the thinking used its budget, the next tokens close it and open the answer."""
        budget = row.handle.request.thinking_budget
        if row.thinking and budget is not None and row.thinking_tokens >= budget and not row.forced \
                and not row.was_forced:
            if row.params.max_new_tokens - len(row.tokens) < len(self.close_ids):
                return  # the close would not fit: the reply ends by length inside the thinking, whole
            row.forced = list(self.close_ids)
            row.was_forced = True

    def _complete(self, row: _Row, reason: str) -> None:
        text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
        text, _ = cut_at_stop(text, row.params.stop) if row.params.stop else (text, None)
        if len(text) > len(row.sent) and text.startswith(row.sent):
            row.handle.put(("delta", row.index, text[len(row.sent):]))
        elapsed = time.perf_counter() - row.handle.submitted
        row.handle.put(("done", row.index, RowResult(
            text, len(row.tokens), reason, sum(row.token_logprobs), list(row.token_logprobs), row.thinking_tokens,
            row.was_forced, elapsed, row.first_token_s, list(row.tokens))))

    def _drop(self, rows: list[_Row], reason: str | None) -> None:
        """Remove rows from the batch (their cache rows too); `reason` set: tell their clients first."""
        if not rows:
            self._kept = list(range(len(self.rows)))
            return
        import torch

        gone = {id(r) for r in rows}
        if reason is not None:
            for row in rows:
                self._complete(row, reason)
        self._kept = [b for b, r in enumerate(self.rows) if id(r) not in gone]
        self.rows = [self.rows[b] for b in self._kept]
        if not self.rows:
            self.cache, self.key_mask, self.logits = None, None, None
            return
        index = torch.tensor(self._kept, device=self.key_mask.device)
        self.cache.select(index)
        self.key_mask = self.key_mask[index]
        self.logits = self.logits[index]
        self._trim_left()

    def _trim_left(self) -> None:
        """Cut the left columns no running row uses any more (long rows left): attention costs less."""
        width = self.cache.length
        real = self.key_mask[:, :width].any(dim=0).nonzero()
        start = int(real[0]) if len(real) else 0
        if start < 16:  # not worth a copy
            return
        for layer in self.cache.layers:
            layer._k = layer._k[:, :, start:].contiguous()
            layer._v = layer._v[:, :, start:].contiguous()
            layer._len -= start
            layer._views()
        self.key_mask = self.key_mask[:, start:]


def _deliver(batch: list) -> None:
    """On the event loop: put each event on its handle's asyncio queue."""
    for handle, item in batch:
        handle.aevents.put_nowait(item)
