"""Any OpenAI-compatible HTTP endpoint: vLLM, SGLang, llama.cpp's server, Ollama, hosted APIs.

Chats go to `/chat/completions`, raw text to `/completions`. A chat that ends with an assistant message
(a continuation, see `inference.base`) is sent with vLLM's `continue_final_message=True,
add_generation_prompt=False`, which vLLM and SGLang honour; servers without that extension start a new
turn instead.

Reasoning: servers that split the reasoning out of the text (vLLM/SGLang `--reasoning-parser`, DeepSeek's
API) return it in `reasoning_content` (or `reasoning`); it is folded back into the completion as a
`<think>` block so every completion parses the same way (`thinktune.format`), and kept in
`Completion.reasoning`. Servers drop the stop string from the text; it is put back (from vLLM's
`stop_reason` when given, else when the text has an unclosed `<answer>` and `</answer>` was a stop).

Token counts come from `usage.completion_tokens` (split across the choices of one request in proportion
to the length of their new text when `n > 1`, summing to the total exactly); `count_tokens` uses a tokenizer when one is given, else ~4 characters per
token. Requests run concurrently (`concurrency` at a time) so the server can batch them. The standard
library's `urllib` does the HTTP, so this engine needs no extra package.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from thinktune.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from thinktune.inference.base import Completion, Prompt, SamplingParams, cut_at_stop, split_continuation


class OpenAIEngine:
    """Generate through an OpenAI-compatible server.

    Args:
        base_url: e.g. `http://127.0.0.1:8000/v1`.
        model: the served model's name (None: the first one `/models` lists).
        api_key: sent as a bearer token (`EMPTY` for local servers).
        concurrency: requests in flight at once.
        timeout: seconds per request.
        tokenizer: optional tokenizer for exact `count_tokens`.
        send_n: ask for `n` choices in one request (False: one request per sample, for servers that ignore `n`).
        logprobs: ask for the sampled tokens' log-probabilities (the `logprob` scorer of best-of-N, weighted
            majority and beam search needs them); False for servers that reject the field.
        retries: tries after the first for a request that fails in a way that may pass (no connection, a
            timeout, HTTP 408/409/429/5xx, a body that is not the JSON asked for); 4xx errors are not retried.
        backoff: seconds before the first retry, doubled each time (with jitter; a `Retry-After` header
            of up to 60 s is honoured instead).
    """

    name = "openai"

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str = "EMPTY", concurrency: int = 8,
                 timeout: float = 600.0, tokenizer: Any = None, send_n: bool = True, logprobs: bool = True,
                 retries: int = 0, backoff: float = 1.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries, self.backoff = max(0, retries), max(0.0, backoff)
        self.retried = 0  # requests sent again, over the engine's life (reports count them)
        self.api_key, self.concurrency, self.timeout = api_key, concurrency, timeout
        self.tokenizer, self.send_n, self.logprobs = tokenizer, send_n, logprobs
        self.model = model or self._first_model()

    # ------------------------------------------------------------------------------------ interface
    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        if self.tokenizer is not None:
            return len(self.tokenizer.encode(text, add_special_tokens=False))
        return max(1, round(len(text) / 4))

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        t0 = time.perf_counter()
        jobs: list[tuple[int, int, int]] = []  # (prompt index, samples asked, index of the first sample)
        for i in range(len(prompts)):
            if self.send_n:
                jobs.append((i, params.n, 0))
            else:
                jobs.extend((i, 1, j) for j in range(params.n))
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            results = list(pool.map(lambda job: self._request(prompts[job[0]], params, job[1], t0, job), jobs))
        out: list[list[Completion]] = [[] for _ in prompts]
        for (i, _, _), comps in zip(jobs, results, strict=True):
            out[i].extend(comps)
        # Servers that ignore `n` return fewer choices: top up one request at a time.
        for i, comps in enumerate(out):
            while len(comps) < params.n:
                more = self._request(prompts[i], params, 1, t0, (i, 1, len(comps)))
                if not more:
                    raise RuntimeError(f"{self.base_url}: the server returned no choices")
                comps.extend(more)
            del comps[params.n :]
        return out

    # ------------------------------------------------------------------------------------- requests
    def _request(self, prompt: Prompt, params: SamplingParams, n: int, t0: float, job: tuple) -> list[Completion]:
        head, prefix = split_continuation(prompt)
        body: dict[str, Any] = {
            "model": self.model, "n": n, "max_tokens": params.max_new_tokens,
            "temperature": params.temperature, "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:  # each sample its own seed: a seeded server would repeat one otherwise
            body["seed"] = params.seed + 7919 * job[2]
        if params.top_k:
            body["top_k"] = params.top_k
        if isinstance(head, str):
            body["prompt"] = head + prefix
            if self.logprobs:
                body["logprobs"] = 1  # the legacy API's form: the sampled tokens' logprobs (+ the top 1)
            data = self._post("/completions", body)
        else:
            if self.logprobs:
                body["logprobs"] = True
            messages = list(head)
            if prefix:
                messages.append({"role": "assistant", "content": prefix})
                body.update(continue_final_message=True, add_generation_prompt=False)
            body["messages"] = messages
            data = self._post("/chat/completions", body)
        elapsed = time.perf_counter() - t0
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        usage = (data.get("usage") or {}).get("completion_tokens")
        comps = [self._completion(c, params, prefix, elapsed) for c in choices]
        _share_usage(comps, usage, self.count_tokens, len(prefix))
        return comps

    def _completion(self, choice: dict, params: SamplingParams, prefix: str, elapsed: float) -> Completion:
        message = choice.get("message") or {}
        content = message.get("content") if message else choice.get("text")
        content = content or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning") if message else None
        finish = choice.get("finish_reason") or "length"
        stop = None
        if finish == "stop":
            stop = _restore_stop(content, params.stop, choice.get("stop_reason"))
            content = content + stop if stop and not content.endswith(stop) else content
        text = content
        if reasoning:
            text = f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n{content.lstrip()}"
        text, cut = cut_at_stop(text, params.stop)  # the new text only: the prefix may hold a stop string
        text = prefix + text
        stop = stop or cut
        reason = "stop" if stop else ("length" if finish == "length" else "eos")
        logprob = None
        lp = choice.get("logprobs")
        if isinstance(lp, dict) and isinstance(lp.get("content"), list):  # chat
            logprob = sum(t.get("logprob", 0.0) for t in lp["content"])
        elif isinstance(lp, dict) and isinstance(lp.get("token_logprobs"), list):  # legacy completions
            logprob = sum(x for x in lp["token_logprobs"] if isinstance(x, (int, float)))
        return Completion(text=text, tokens=0, finish_reason=reason, latency_s=elapsed, logprob=logprob,
                          reasoning=reasoning, stop=stop)

    def _post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        return self._send(req)

    def _send(self, req: urllib.request.Request) -> dict:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return self._send_once(req)
            except _Transient as e:
                if attempt == self.retries:
                    raise RuntimeError(str(e)) from None
                self.retried += 1
                wait = e.retry_after if e.retry_after is not None else delay * (0.5 + random.random())
                time.sleep(min(wait, 60.0))
                delay *= 2
        raise AssertionError("unreachable")

    def _send_once(self, req: urllib.request.Request) -> dict:
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            message = f"{req.full_url}: HTTP {e.code}: {detail}"
            if e.code in (408, 409, 429) or e.code >= 500:
                raise _Transient(message, _retry_after(e.headers.get("Retry-After"))) from None
            raise RuntimeError(message) from None
        except urllib.error.URLError as e:
            raise _Transient(f"{req.full_url}: cannot reach the server ({e.reason})") from None
        except (TimeoutError, ConnectionError, http.client.HTTPException) as e:
            raise _Transient(f"{req.full_url}: {type(e).__name__}: {e or 'no reply in time'}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise _Transient(f"{req.full_url}: the reply is not JSON: {body[:120]!r}") from None
        if not isinstance(data, dict):
            raise _Transient(f"{req.full_url}: the reply is not a JSON object: {body[:120]!r}")
        return data

    def _first_model(self) -> str:
        req = urllib.request.Request(self.base_url + "/models", headers={"Authorization": f"Bearer {self.api_key}"})
        models = self._send(req).get("data") or []
        if not models:
            raise RuntimeError(f"{self.base_url}/models lists no model; pass model=")
        return models[0]["id"]


class _Transient(Exception):
    """A failure worth a retry; `retry_after` is the server's hint in seconds, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _restore_stop(content: str, stops: Sequence[str], stop_reason: Any) -> str | None:
    """Which stop string the server cut (it drops it from the text); None when it was end-of-sequence."""
    if isinstance(stop_reason, str) and stop_reason in stops:
        return stop_reason
    if ANSWER_CLOSE in stops and content.rfind(ANSWER_OPEN) > content.rfind(ANSWER_CLOSE):
        return ANSWER_CLOSE
    return None


def _share_usage(comps: list[Completion], total: int | None, count: Any, skip: int = 0) -> None:
    """Give each completion a token count: the server's total split by the length of the new text (after the
    first `skip` characters, the continued prefix) with largest remainders, so the shares add up to `total`;
    our own count when the server gave none."""
    if not comps:
        return
    if not isinstance(total, int) or total <= 0:
        for c in comps:
            c.tokens = count(c.text[skip:])
        return
    lengths = [max(1, len(c.text) - skip) for c in comps]
    exact = [total * n / sum(lengths) for n in lengths]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(comps)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    for c, n in zip(comps, shares, strict=True):
        c.tokens = n
