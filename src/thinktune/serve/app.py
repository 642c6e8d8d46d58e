"""`thinktune serve`: an OpenAI-compatible server whose responses carry the thinking apart from the answer.

    thinktune serve runs/compare              # reasoning, non_reasoning and auto (the hybrid router)
    thinktune serve default fast=runs/x --port 8000

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (JSON, or server-sent events with `stream`),
`GET /health`, `GET /metrics` (Prometheus text), `POST /v1/traces/{id}/feedback`.

What a response holds, as vLLM's reasoning parsers and DeepSeek's API shape it (so the official `openai`
client, LangChain and the rest read it as they are): `message.content` is the answer with no tags;
`message.reasoning_content` and, with the same text, `message.reasoning` hold the thinking. A stream
sends thinking deltas, then content deltas. `usage.completion_tokens_details.reasoning_tokens` counts the
thinking. thinktune's own additions sit in a `thinktune` field: the trace id, a strategy's votes, the
router's route and why.

Per request: `chat_template_kwargs: {"enable_thinking": false}` or `reasoning_effort: "none"` ask for a
direct answer; `reasoning_effort` low/medium/high (`EFFORT_BUDGET` tokens) or `thinking_token_budget`
cap the thinking (budget forcing); `n`, `seed`, `temperature` (default 1, as OpenAI's), `top_p`,
`max_tokens`/`max_completion_tokens`, `stop`, `logprobs`; and, through `extra_body`, a thinktune strategy
(`"strategy": "maj@8"`, `adaptive`, `best_of_n`, with `strategy_options`).

Every bad request gets an OpenAI-style error (`{"error": {"message", "type", "param", "code"}}`) with a
4xx status that names the field: unknown model 404, malformed JSON or messages 400, a body past the limit
413, a full queue 429 with `Retry-After`, a missing or wrong key 401. Handlers are thin: generation runs on
the continuous batcher's thread (`thinktune.serve.batcher`), strategies on the library's strategies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinktune.serve.batcher import QueueFull, RowResult
from thinktune.serve.models import EFFORT_BUDGET, LocalModel, RouterModel, UpstreamModel
from thinktune.serve.reasoning import ReasoningSplitter, split_reasoning
from thinktune.serve.schemas import ChatCompletionRequest, FeedbackRequest
from thinktune.serve.traces import Metrics, TraceStore

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServerSettings:
    """Limits and switches of one server."""

    api_key: str | None = None
    home: Path = field(default_factory=lambda: Path("runs/serve"))
    traces: bool = True
    max_body_bytes: int = 2_000_000
    max_messages: int = 256
    max_n: int = 16
    max_tokens: int = 4096
    default_max_tokens: int = 512
    default_temperature: float = 1.0


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = headers or {}


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def create_app(models: dict[str, Any], settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI app serving `models` ({name: LocalModel | RouterModel | UpstreamModel})."""
    settings = settings or ServerSettings()
    app = FastAPI(title="thinktune serve", version="1", docs_url="/docs")
    store = TraceStore(settings.home) if settings.traces else None
    metrics = Metrics()
    app.state.models, app.state.settings, app.state.store, app.state.metrics = models, settings, store, metrics

    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError) -> JSONResponse:
        if request.url.path.endswith("/chat/completions"):  # a served name, or "-": no label per unknown name
            name = getattr(request.state, "model", "-")
            metrics.request(name if name in models else "-", e.status)
        return JSONResponse(error_body(e.message, e.kind, e.param, e.code), status_code=e.status, headers=e.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, e: Exception) -> JSONResponse:  # never a traceback to the client
        return JSONResponse(error_body(f"internal error: {type(e).__name__}", "server_error"), status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:  # unknown paths, methods
        return JSONResponse(error_body(str(e.detail), "invalid_request_error", None, f"http_{e.status_code}"),
                            status_code=e.status_code)

    def check_auth(request: Request) -> None:
        _check_key(request, settings.api_key)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "models": sorted(models)}

    @app.get("/metrics")
    async def prometheus(request: Request) -> PlainTextResponse:
        check_auth(request)
        gauges = {name: m.batcher.load() for name, m in models.items() if isinstance(m, LocalModel)}
        return PlainTextResponse(metrics.render(gauges), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict:
        check_auth(request)
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": m.created, "owned_by": "thinktune",
             "thinktune": {"kind": m.kind, "reasoning": m.reasoning}} for name, m in models.items()]}

    @app.post("/v1/traces/{trace_id}/feedback")
    async def feedback(trace_id: str, request: Request) -> dict:
        check_auth(request)
        if store is None:
            raise APIError(404, "traces are off on this server (--no-traces)", "trace_id", "traces_off")
        data = await read_json(request, settings.max_body_bytes)
        try:
            fb = FeedbackRequest.model_validate(data)
        except ValidationError as e:
            raise validation_error(e) from None
        if not store.feedback(trace_id, fb.score, fb.comment):
            raise APIError(404, f"no trace {trace_id!r}", "trace_id", "trace_not_found")
        return {"ok": True, "trace_id": trace_id}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        check_auth(request)
        return await answer(request, models, settings, store, metrics)

    return app


def _check_key(request: Request, key: str | None) -> None:
    """A Bearer token equal to `key` (compared in constant time), when the server has one."""
    if key is None:
        return
    given = request.headers.get("authorization", "")
    token = given[7:] if given.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(token.encode(), key.encode()):
        raise APIError(401, "missing or invalid API key (send Authorization: Bearer KEY)", None,
                       "invalid_api_key", "authentication_error")


async def answer(request: Request, models: dict[str, Any], settings: ServerSettings, store: TraceStore | None,
                 metrics: Metrics) -> Any:
    """`POST /v1/chat/completions`: validate, find the model, answer it the way that model is served."""
    data = await read_json(request, settings.max_body_bytes)
    try:
        req = ChatCompletionRequest.model_validate(data)
    except ValidationError as e:
        raise validation_error(e) from None
    request.state.model = req.model
    check_limits(req, settings)
    # a studio loads a trained model on first use: off the event loop, so other requests go on meanwhile
    model = await asyncio.to_thread(models.get, req.model)
    if model is None:
        raise APIError(404, f"model {req.model!r} is not served here; available: {', '.join(models)}", "model",
                       "model_not_found")
    job = Completion(req, model, settings, store, metrics, request)
    if req.strategy:
        return await job.with_strategy()
    if isinstance(model, RouterModel):
        return await job.routed()
    if isinstance(model, UpstreamModel):
        return await job.upstream()
    return await job.local(model)


# ----------------------------------------------------------------------------------------- validation
async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON; 413 past `limit` bytes (checked before and while reading), 400 if not JSON."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"request body is {int(declared):,} bytes; the limit is {limit:,}", None, "body_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, f"request body is over the limit of {limit:,} bytes", None, "body_too_large")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, f"request body is not valid JSON ({e})", None, "invalid_json") from None


def validation_error(e: ValidationError) -> APIError:
    first = e.errors()[0]
    param = ".".join(str(p) for p in first.get("loc", ()) if not str(p).startswith("function-after"))
    # pydantic names union members in the location ("content.str"): keep the field path only
    param = param.split(".str")[0].split(".list[")[0]
    return APIError(400, f"{param or 'body'}: {first.get('msg')}", param or None, "invalid_value")


def check_limits(req: ChatCompletionRequest, settings: ServerSettings) -> None:
    if len(req.messages) > settings.max_messages:
        raise APIError(400, f"messages: {len(req.messages)} messages, at most {settings.max_messages}", "messages")
    if req.n > settings.max_n:
        raise APIError(400, f"n: at most {settings.max_n}, got {req.n}", "n")
    cap = req.token_cap()
    if cap is not None and cap > settings.max_tokens:
        which = "max_completion_tokens" if req.max_completion_tokens else "max_tokens"
        raise APIError(400, f"{which}: at most {settings.max_tokens}, got {cap}", which)
    if req.strategy and req.n > 1:
        raise APIError(400, "n: a strategy returns one choice; drop n or the strategy (its samples: "
                            "strategy_options.n)", "n")
    if not any(m.role == "user" for m in req.messages):
        raise APIError(400, "messages: at least one user message is needed", "messages")


# ------------------------------------------------------------------------------------------ responses
class Completion:
    """One chat-completion request being answered (one method per kind of model)."""

    def __init__(self, req: ChatCompletionRequest, model: Any, settings: ServerSettings, store: TraceStore | None,
                 metrics: Metrics, request: Request | None = None) -> None:
        self.req, self.model, self.settings, self.store, self.metrics = req, model, settings, store, metrics
        self.request = request
        self.id = "chatcmpl-" + uuid.uuid4().hex[:24]
        self.created = int(time.time())
        self.t0 = time.perf_counter()
        self.trace_id = TraceStore.new_id() if store is not None else None
        self.messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                         for m in req.messages]
        self.max_tokens = req.token_cap() or settings.default_max_tokens
        self.temperature = req.temperature if req.temperature is not None else settings.default_temperature
        self.top_p = req.top_p if req.top_p is not None else 1.0
        self.budget = req.thinking_token_budget if req.thinking_token_budget is not None else \
            EFFORT_BUDGET.get(req.reasoning_effort or "")
        self.extra: dict[str, Any] = {}

    # ---- local models: streamed from the batcher
    async def local(self, model: LocalModel) -> Any:
        thinking = self.req.wants_thinking() and model.reasoning
        handle, opened, prompt_tokens = self._submit(model, thinking, self.req.n, self.temperature)
        if self.req.stream:
            return self._stream(handle, opened, prompt_tokens, model.name)
        rows = await self._results(handle)
        return self._respond(rows, opened, prompt_tokens, model.name, model.tokenizer)

    async def _results(self, handle: Any) -> list[RowResult]:
        """The rows' results; a client that hangs up first frees its rows (uvicorn does not cancel a
        non-streaming handler when its client goes away, so the disconnect is watched for here)."""
        results = asyncio.ensure_future(handle.aresults())
        gone = asyncio.ensure_future(_disconnected(self.request)) if self.request is not None else None
        try:
            done, _ = await asyncio.wait([results, *([gone] if gone else [])], return_when=asyncio.FIRST_COMPLETED)
            if results not in done:
                handle.cancel()
                raise APIError(499, "the client closed the request", None, "client_closed")
            return results.result()
        except asyncio.CancelledError:
            handle.cancel()
            raise
        finally:
            for task in (results, gone):
                if task is not None and not task.done():
                    task.cancel()

    def _submit(self, model: LocalModel, thinking: bool, n: int, temperature: float) -> tuple:
        try:
            return model.start(self.messages, thinking=thinking, max_tokens=self.max_tokens, n=n,
                               temperature=temperature, top_p=self.top_p, seed=self.req.seed, stop=self.req.stop,
                               thinking_budget=self.budget, loop=asyncio.get_running_loop(),
                               deltas=bool(self.req.stream))
        except QueueFull as e:
            raise APIError(429, f"the server is busy ({e}); retry shortly", None, "queue_full",
                           "rate_limit_error", {"Retry-After": "1"}) from None

    def _respond(self, rows: list[RowResult], opened: bool, prompt_tokens: int, served: str, tokenizer: Any = None,
                 extra_tokens: int = 0) -> JSONResponse:
        choices, reasoning_tokens = [], 0
        for i, row in enumerate(rows):
            reasoning, content = split_reasoning(row.text, opened)
            message: dict[str, Any] = {"role": "assistant", "content": content or None}
            if reasoning is not None:
                message["reasoning_content"] = message["reasoning"] = reasoning
            choice = {"index": i, "message": message, "finish_reason": _finish(row.finish_reason),
                      "logprobs": self._logprobs(row, tokenizer)}
            choices.append(choice)
            reasoning_tokens += row.thinking_tokens if reasoning is not None else 0
        completion_tokens = sum(r.tokens for r in rows) + extra_tokens
        body = self._body(choices, prompt_tokens, completion_tokens, reasoning_tokens, served)
        self._record(served, [c["message"] for c in choices], prompt_tokens, completion_tokens, reasoning_tokens)
        return JSONResponse(body, headers=self._headers())

    def _logprobs(self, row: RowResult, tokenizer: Any) -> dict | None:
        if not self.req.logprobs or tokenizer is None:
            return None
        content = []
        for tok, lp in zip(row.token_ids, row.token_logprobs, strict=False):
            text = tokenizer.decode([tok])
            content.append({"token": text, "logprob": lp, "bytes": list(text.encode()), "top_logprobs": []})
        return {"content": content}

    def _body(self, choices: list[dict], prompt_tokens: int, completion_tokens: int, reasoning_tokens: int,
              served: str) -> dict:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.req.model,
            "choices": choices,
            "usage": self._usage(prompt_tokens, completion_tokens, reasoning_tokens),
            "thinktune": {"trace_id": self.trace_id, "served_by": served, **self.extra},
        }

    @staticmethod
    def _usage(prompt: int, completion: int, reasoning: int) -> dict:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "completion_tokens_details": {"reasoning_tokens": reasoning}}

    def _headers(self) -> dict[str, str]:
        return {"x-thinktune-trace-id": self.trace_id} if self.trace_id else {}

    def _record(self, served: str, messages: list[dict], prompt_tokens: int, completion_tokens: int,
                reasoning_tokens: int) -> None:
        seconds = time.perf_counter() - self.t0
        self.metrics.request(self.req.model, 200)
        self.metrics.done(self.req.model, seconds, prompt_tokens, completion_tokens, reasoning_tokens)
        if self.store is None:
            return
        self.store.add({
            "id": self.trace_id, "request_id": self.id, "model": self.req.model, "served_by": served,
            "messages": self.messages, "thinking": [m.get("reasoning_content") for m in messages],
            "answer": [m.get("content") for m in messages],
            "route": self.extra.get("route"), "strategy": self.extra.get("strategy"),
            "params": {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                       "seed": self.req.seed, "n": self.req.n, "thinking_budget": self.budget,
                       "thinking": self.req.wants_thinking()},
            "usage": self._usage(prompt_tokens, completion_tokens, reasoning_tokens),
            "latency_s": round(seconds, 4),
        })

    # ---- streaming
    def _chunk(self, index: int | None, delta: dict | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if index is None else [{"index": index, "delta": delta or {}, "finish_reason": finish,
                                              "logprobs": None}]
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.req.model,
                "choices": choices, **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def _stream(self, handle: Any, opened: bool, prompt_tokens: int, served: str) -> StreamingResponse:
        n = self.req.n

        async def events():
            splitters = [ReasoningSplitter(opened) for _ in range(n)]
            parts = [{"reasoning": "", "content": ""} for _ in range(n)]
            rows: dict[int, RowResult] = {}
            finished = False
            try:
                for i in range(n):
                    yield self._chunk(i, {"role": "assistant", "content": ""})
                while len(rows) < n:
                    kind, *rest = await handle.aevents.get()
                    if kind == "error":
                        yield f"data: {json.dumps(error_body(rest[0], 'server_error'))}\n\n"
                        return
                    index = rest[0]
                    if kind == "delta":
                        pieces = [splitters[index].feed(rest[1])]
                    else:
                        pieces = [splitters[index].finish()]
                    for r, c in pieces:
                        if r:
                            parts[index]["reasoning"] += r
                            yield self._chunk(index, {"reasoning_content": r, "reasoning": r})
                        if c:
                            parts[index]["content"] += c
                            yield self._chunk(index, {"content": c})
                    if kind == "done":
                        rows[index] = rest[1]
                        yield self._chunk(index, {}, _finish(rest[1].finish_reason))
                finished = True
                completion = sum(r.tokens for r in rows.values())
                reasoning = sum(r.thinking_tokens for i, r in rows.items() if splitters[i].saw_thinking)
                messages = [{"reasoning_content": p["reasoning"] if splitters[i].saw_thinking else None,
                             "content": p["content"] or None} for i, p in enumerate(parts)]
                self._record(served, messages, prompt_tokens, completion, reasoning)  # before the client's [DONE]
                if self.req.stream_options and self.req.stream_options.include_usage:
                    yield self._chunk(None, None, usage=self._usage(prompt_tokens, completion, reasoning),
                                      thinktune={"trace_id": self.trace_id, "served_by": served, **self.extra})
                yield "data: [DONE]\n\n"
            finally:
                if not finished:
                    handle.cancel()  # the client went away: free its rows in the batch

        return StreamingResponse(events(), media_type="text/event-stream", headers=self._headers())

    def _replay(self, rows: list[RowResult], opened: bool, prompt_tokens: int, served: str,
                extra_tokens: int = 0) -> Any:
        """A finished result, as a stream when one was asked for (strategies, routes decided by samples)."""
        if not self.req.stream:
            return self._respond(rows, opened, prompt_tokens, served, extra_tokens=extra_tokens)
        from thinktune.serve.batcher import GenRequest, Handle

        handle = Handle(GenRequest([], n=len(rows)), asyncio.get_running_loop())
        for i, row in enumerate(rows):
            handle.aevents.put_nowait(("delta", i, row.text))
            handle.aevents.put_nowait(("done", i, row))
        return self._stream(handle, opened, prompt_tokens, served)

    # ---- strategies (maj@N, adaptive, best_of_n, ...) on the library's strategies
    async def with_strategy(self) -> Any:
        from thinktune.evaluation.harness import resolve_strategy
        from thinktune.inference.strategies import Problem

        model = self.model.slow if isinstance(self.model, RouterModel) else self.model
        if not isinstance(model, LocalModel):
            raise APIError(400, "strategy: strategies run on models served here, not through --upstream", "strategy")
        thinking = self.req.wants_thinking() and model.reasoning
        try:
            strategy, name = resolve_strategy(self.req.strategy, 1, self.max_tokens, dict(self.req.strategy_options or {}))
        except (ValueError, TypeError) as e:
            raise APIError(400, f"strategy: {e}", "strategy", "invalid_strategy") from None
        if self.req.temperature is not None and "temperature" in {f.name for f in dataclasses.fields(strategy)}:
            strategy = dataclasses.replace(strategy, temperature=self.req.temperature)
        _check_strategy(strategy, self.settings)
        user = next(m["content"] for m in reversed(self.messages) if m["role"] == "user")
        problem = Problem(messages=model.messages(self.messages, thinking), question=user, reasoning=thinking)
        seed = self.req.seed if self.req.seed is not None else 0
        try:
            outcome = (await asyncio.to_thread(strategy.run, model.engine(), [problem], seed=seed))[0]
        except (ValueError, TypeError) as e:  # an option the strategy rejects when it builds its sampling
            raise APIError(400, f"strategy_options: {e}", "strategy_options", "invalid_strategy") from None
        if not outcome.completions:
            raise APIError(500, "the strategy produced no completion", None, "no_completion", "server_error")
        chosen = outcome.chosen if outcome.chosen is not None else _first_with(outcome)
        pick = outcome.completions[chosen]
        self.extra["strategy"] = {"name": name, "answer": outcome.answer, "votes": outcome.votes,
                                  "samples": len(outcome.completions), "chosen": chosen, "scores": outcome.scores,
                                  "answers": [split_reasoning(c.text)[1] for c in outcome.completions]}
        ids, opened = model.prompt_ids(self.messages, thinking)
        row = RowResult(pick.text, pick.tokens, pick.finish_reason, pick.logprob or 0.0, [], 0, False, 0.0, None)
        row.thinking_tokens = model.engine().count_tokens(split_reasoning(pick.text, opened)[0] or "")
        others = sum(c.tokens for c in outcome.completions) - pick.tokens
        return self._replay([row], opened, len(ids), model.name, extra_tokens=others)

    # ---- the hybrid router
    async def routed(self) -> Any:
        from thinktune.compare.router import agreement, at_least
        from thinktune.inference.voting import read_answer

        router: RouterModel = self.model
        if self.req.n > 1:
            raise APIError(400, "n: the router answers with one choice", "n")
        handle, _, prompt_tokens = self._submit(router.fast, False, router.samples, 1.0)
        samples = await self._results(handle)
        answers = [read_answer(r.text, reasoning=False).lenient for r in samples]
        share, idx = agreement(answers)
        hard = at_least(1.0 - share, router.threshold)
        agree = round(share * len(answers))
        if hard:
            why = (f"{agree} of {len(answers)} direct samples agree; disagreement {1 - share:.2f} >= "
                   f"{router.threshold:.2f}: a hard question, sent to the reasoning model")
        else:
            why = (f"{agree} of {len(answers)} direct samples agree; disagreement {1 - share:.2f} < "
                   f"{router.threshold:.2f}: an easy question, answered with the majority direct sample")
        self.extra["route"] = {"model": router.slow.name if hard else router.fast.name, "why": why,
                               "agreement": share, "samples": answers}
        sample_tokens = sum(r.tokens for r in samples)
        if not hard:
            return self._replay([samples[idx]], False, prompt_tokens, router.fast.name, extra_tokens=sample_tokens
                                - samples[idx].tokens)
        thinking = self.req.wants_thinking()
        handle, opened, prompt_tokens = self._submit(router.slow, thinking, self.req.n, self.temperature)
        if self.req.stream:
            return self._stream(handle, opened, prompt_tokens, router.slow.name)
        rows = await self._results(handle)
        return self._respond(rows, opened, prompt_tokens, router.slow.name, router.slow.tokenizer,
                             extra_tokens=sample_tokens)

    # ---- an upstream OpenAI-compatible server does the decoding
    async def upstream(self) -> Any:
        from thinktune.inference.base import SamplingParams

        model: UpstreamModel = self.model
        params = SamplingParams(n=self.req.n, max_new_tokens=self.max_tokens, temperature=self.temperature,
                                top_p=self.top_p, stop=tuple(self.req.stop), seed=self.req.seed)
        try:
            [completions] = await asyncio.to_thread(model.engine.generate, [self.messages], params)
        except Exception as e:  # the upstream's failure, said as such
            raise APIError(502, f"upstream server failed: {type(e).__name__}: {e}", None, "upstream_error",
                           "server_error") from None
        rows = [RowResult(c.text, c.tokens, c.finish_reason, c.logprob or 0.0, [], 0, False, c.latency_s, None)
                for c in completions]
        for row in rows:
            row.thinking_tokens = model.engine.count_tokens(split_reasoning(row.text)[0] or "")
        return self._replay(rows, False, 0, model.name)


def _check_strategy(strategy: Any, settings: ServerSettings) -> None:
    """A strategy's own sample count and token budget stay within the server's limits (400 naming them)."""
    fields = {f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy)}
    for key, limit in (("n", settings.max_n), ("beam_width", settings.max_n), ("max_new_tokens", settings.max_tokens)):
        value = fields.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise APIError(400, f"strategy_options.{key}: an integer from 1 to {limit}, got {value!r}",
                           f"strategy_options.{key}", "invalid_strategy")
    for key in ("temperature", "top_p"):
        value = fields.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
                                  or key == "top_p" and not 0 < value <= 1):
            raise APIError(400, f"strategy_options.{key}: out of range ({value!r})", f"strategy_options.{key}",
                           "invalid_strategy")


def _finish(reason: str) -> str:
    return {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "stop"}.get(reason, reason)


async def _disconnected(request: Request) -> None:
    """Returns once the client has hung up (the body is read already, so the next message says so)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _first_with(outcome: Any) -> int:
    """The first completion carrying the strategy's answer (a vote picks an answer, not a completion)."""
    from thinktune.inference.voting import read_answer, vote_key

    want = vote_key(outcome.answer)
    for i, c in enumerate(outcome.completions):
        if want is not None and vote_key(read_answer(c.text).lenient) == want:
            return i
    return 0


class ServerThread:
    """A uvicorn server for `app` on a thread (tests, benchmarks, notebooks): `url`, then `stop()`.

    Port 0 picks a free port on the host (loopback by default).
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> None:
        import socket
        import threading

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + timeout
        while not self.server.started and time.time() < deadline and self.thread.is_alive():
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError(f"the server did not start on {self.url}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
