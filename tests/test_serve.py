"""`thinktune serve` driven by the official `openai` client over loopback, on the tiny model.

The tiny model writes random tokens, so the thinking is made checkable the way real clients do it: a
continuation whose assistant turn opens `<think>` starts the reply inside the thinking, and a thinking budget
closes it after exactly that many tokens (budget forcing). A per-request budget also tells each of 50
concurrent answers apart: its reasoning-token count is its own budget.
"""

from __future__ import annotations

import concurrent.futures as cf
import time

import httpx
import openai
import pytest

from thinktune import cli
from thinktune.io import read_jsonl

THINK = [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "<think>\n"}]
ASK = [{"role": "user", "content": "What is 2 + 3?"}]
KEY = "s3cret-key"


def _start(app) -> tuple[str, object, object]:
    from thinktune.serve import ServerThread

    server = ServerThread(app)
    return server.url, server, None


@pytest.fixture(scope="module")
def served(tmp_path_factory, tokenizer):
    """A server with `tiny` (reasoning), `direct` (the same weights, trained-as-direct) and `auto` (the router)."""
    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import tiny_model
    from thinktune.serve import ServerSettings, create_app
    from thinktune.serve.batcher import Batcher
    from thinktune.serve.models import LocalModel, RouterModel

    model, tok = tiny_model(tokenizer, seed=0)
    tiny = LocalModel("tiny", "tiny", True, Batcher(HFEngine(model, tok), max_batch_rows=64, max_waiting=128))
    direct = LocalModel("direct", "tiny", False, Batcher(HFEngine(model, tok), max_batch_rows=16))
    home = tmp_path_factory.mktemp("serve")
    models = {"tiny": tiny, "direct": direct, "auto": RouterModel("auto", direct, tiny, samples=4, threshold=0.25)}
    base, server, thread = _start(create_app(models, ServerSettings(home=home, max_body_bytes=1_000_000,
                                                                   max_tokens=64)))
    yield base, home, models
    server.stop()
    for m in (tiny, direct):
        m.batcher.close()


@pytest.fixture
def client(served):
    return openai.OpenAI(base_url=served[0] + "/v1", api_key="unused", max_retries=0, timeout=60)


def test_models_health_and_a_plain_completion(served, client):
    base, home, _ = served
    assert {m.id for m in client.models.list().data} == {"tiny", "direct", "auto"}
    assert httpx.get(base + "/health").json()["status"] == "ok"
    raw = client.chat.completions.with_raw_response.create(model="tiny", messages=ASK, max_tokens=6, temperature=0)
    r = raw.parse()
    [choice] = r.choices
    assert choice.finish_reason in ("stop", "length") and r.usage.completion_tokens <= 6
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    trace_id = raw.headers["x-thinktune-trace-id"]
    assert r.model_extra["thinktune"]["trace_id"] == trace_id
    traces = {t["id"]: t for t in read_jsonl(home / "traces.jsonl")}
    assert traces[trace_id]["model"] == "tiny" and traces[trace_id]["messages"][-1] == ASK[-1]


def test_stream_equals_the_whole_response(client):
    whole = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=8, temperature=0)
    chunks = list(client.chat.completions.create(model="tiny", messages=ASK, max_tokens=8, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == (whole.choices[0].message.content or "")
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == \
        [whole.choices[0].finish_reason]


def test_thinking_comes_apart_from_the_answer_and_the_budget_closes_it(client):
    r = client.chat.completions.create(model="tiny", messages=THINK, max_tokens=16, temperature=1.0, seed=3,
                                       extra_body={"thinking_token_budget": 3})
    message = r.choices[0].message
    extra = message.model_extra
    assert extra["reasoning_content"] and extra["reasoning_content"] == extra["reasoning"]
    assert "<think>" not in extra["reasoning_content"] and "</think>" not in (message.content or "")
    assert r.usage.completion_tokens_details.reasoning_tokens == 3
    # streamed: every thinking delta comes before the first content delta, and they add up to the same parts
    chunks = list(client.chat.completions.create(model="tiny", messages=THINK, max_tokens=16, temperature=1.0, seed=3,
                                                 stream=True, extra_body={"thinking_token_budget": 3}))
    kinds = []
    thinking = content = ""
    for c in chunks:
        d = c.choices[0].delta if c.choices else None
        if d is not None and d.model_extra.get("reasoning_content"):
            assert d.model_extra["reasoning"] == d.model_extra["reasoning_content"]
            kinds.append("r")
            thinking += d.model_extra["reasoning_content"]
        if d is not None and d.content:
            kinds.append("c")
            content += d.content
    assert "r" in kinds and kinds == sorted(kinds, key=lambda k: k != "r")
    assert thinking == extra["reasoning_content"] and content == (message.content or "")


def test_reasoning_effort_budgets_and_thinking_cut_by_the_token_limit(client):
    low = client.chat.completions.create(model="tiny", messages=THINK, max_tokens=64, temperature=1.0, seed=3,
                                         reasoning_effort="minimal")
    assert low.usage.completion_tokens_details.reasoning_tokens == 32  # EFFORT_BUDGET["minimal"]
    cut = client.chat.completions.create(model="tiny", messages=THINK, max_tokens=4, temperature=1.0, seed=3)
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.model_extra["reasoning_content"] and cut.choices[0].message.content is None
    assert cut.usage.completion_tokens_details.reasoning_tokens == 4


def test_enable_thinking_false_asks_for_a_direct_answer(served, client):
    _, home, _ = served
    on = client.chat.completions.with_raw_response.create(model="tiny", messages=ASK, max_tokens=2)
    off = client.chat.completions.with_raw_response.create(model="tiny", messages=ASK, max_tokens=2,
                                                           extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    none = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=2, reasoning_effort="none")
    traces = {t["id"]: t for t in read_jsonl(home / "traces.jsonl")}
    assert traces[on.headers["x-thinktune-trace-id"]]["params"]["thinking"] is True
    assert traces[off.headers["x-thinktune-trace-id"]]["params"]["thinking"] is False
    # the direct system prompt replaces the reasoning one: another prompt, the same for both ways of asking
    assert off.parse().usage.prompt_tokens == none.usage.prompt_tokens != on.parse().usage.prompt_tokens
    direct = client.chat.completions.create(model="direct", messages=ASK, max_tokens=2)
    assert direct.usage.prompt_tokens == none.usage.prompt_tokens  # a non_reasoning model is asked directly


def test_n_samples_and_seeds(client):
    r = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=6, n=4, seed=7)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    again = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=6, n=4, seed=7)
    assert [c.message.content for c in again.choices] == [c.message.content for c in r.choices]
    assert len({c.message.content for c in r.choices}) > 1  # four samples, not one repeated


def test_a_strategy_and_the_router_say_what_they_did(client):
    r = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=6, extra_body={"strategy": "maj@4"})
    strategy = r.model_extra["thinktune"]["strategy"]
    assert strategy["name"] == "maj@4" and strategy["samples"] == 4 and len(strategy["answers"]) == 4
    routed = client.chat.completions.create(model="auto", messages=ASK, max_tokens=6)
    route = routed.model_extra["thinktune"]["route"]
    assert route["model"] in ("tiny", "direct") and "direct samples agree" in route["why"]
    assert len(route["samples"]) == 4 and 0.0 <= route["agreement"] <= 1.0


def test_logprobs(client):
    r = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=3, temperature=0, logprobs=True)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens and all(t.logprob <= 0 for t in content)


def _error(response: httpx.Response, status: int, param: str | None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"] and error["type"]
    return error


def test_every_bad_request_is_a_4xx_json_naming_the_field(served, client):
    base = served[0] + "/v1/chat/completions"
    good = {"model": "tiny", "messages": ASK, "max_tokens": 2}
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=ASK)
    _error(httpx.post(base, json={**good, "model": "nope"}), 404, "model")
    _error(httpx.post(base, json={**good, "messages": [{"role": "robot", "content": "hi"}]}), 400, "messages.0.role")
    _error(httpx.post(base, json={**good, "messages": [{"content": "hi"}]}), 400, "messages.0.role")
    _error(httpx.post(base, json={**good, "messages": []}), 400, "messages")
    _error(httpx.post(base, json={**good, "messages": "hi"}), 400, "messages")
    _error(httpx.post(base, json={**good, "n": 100}), 400, "n")
    _error(httpx.post(base, json={**good, "max_tokens": 10**6}), 400, "max_tokens")
    _error(httpx.post(base, json={**good, "temperature": 5}), 400, "temperature")
    _error(httpx.post(base, json={**good, "strategy": "nope"}), 400, "strategy")
    _error(httpx.post(base, json={k: v for k, v in good.items() if k != "model"}), 400, "model")
    _error(httpx.post(base, content=b"{not json", headers={"content-type": "application/json"}), 400, None)
    _error(httpx.post(base, content=b"x" * 10_000_000, headers={"content-type": "application/json"}), 413, None)
    feedback = served[0] + "/v1/traces/trace-nope/feedback"
    _error(httpx.post(feedback, json={"score": 0.5}), 404, "trace_id")
    _error(httpx.post(feedback, json={"score": 2}), 400, "score")
    assert httpx.post(base, json=good).status_code == 200  # and the server is fine


def test_feedback_is_appended_to_the_trace_store(served, client):
    base, home, _ = served
    raw = client.chat.completions.with_raw_response.create(model="tiny", messages=ASK, max_tokens=2)
    trace_id = raw.headers["x-thinktune-trace-id"]
    for score in (1.0, 0.25):
        ok = httpx.post(f"{base}/v1/traces/{trace_id}/feedback", json={"score": score, "comment": "checked"})
        assert ok.status_code == 200
    rows = [f for f in read_jsonl(home / "feedback.jsonl") if f["trace_id"] == trace_id]
    assert [f["score"] for f in rows] == [1.0, 0.25]  # both kept, none overwritten


def test_fifty_concurrent_requests_each_get_their_own_answer(served, client):
    def ask(i: int):
        return i, client.chat.completions.create(model="tiny", messages=THINK, max_tokens=24, temperature=0.7,
                                                 seed=i, extra_body={"thinking_token_budget": 1 + i % 12})

    with cf.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(ask, range(50)))
    assert len(results) == 50
    for i, r in results:
        assert r.usage.completion_tokens_details.reasoning_tokens == 1 + i % 12
    metrics = httpx.get(served[0] + "/metrics").text
    assert 'thinktune_requests_total{model="tiny",status="200"}' in metrics
    assert 'thinktune_queue_depth{model="tiny",state="waiting"}' in metrics


def test_a_client_that_disconnects_mid_stream_frees_its_rows(served):
    base, _, models = served
    body = {"model": "tiny", "messages": ASK, "max_tokens": 64, "stream": True}
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and "content" in line:
                break  # one chunk read, then hang up
    deadline = time.time() + 20
    while any(models["tiny"].batcher.load().values()) and time.time() < deadline:
        time.sleep(0.1)
    assert models["tiny"].batcher.load() == {"running_rows": 0, "waiting_requests": 0}
    assert httpx.get(base + "/health").status_code == 200


def test_the_key_is_required_when_set(tmp_path, tokenizer):
    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import tiny_model
    from thinktune.serve import ServerSettings, create_app
    from thinktune.serve.batcher import Batcher
    from thinktune.serve.models import LocalModel

    model, tok = tiny_model(tokenizer, seed=0)
    served = {"tiny": LocalModel("tiny", "tiny", True, Batcher(HFEngine(model, tok)))}
    base, server, thread = _start(create_app(served, ServerSettings(api_key=KEY, home=tmp_path)))
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
        _error(httpx.post(base + "/v1/chat/completions", json={"model": "tiny", "messages": ASK}), 401, None)
        ok = openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0)
        assert ok.chat.completions.create(model="tiny", messages=ASK, max_tokens=2).choices
    finally:
        server.stop()
        served["tiny"].batcher.close()


def test_serve_refuses_to_bind_beyond_loopback_without_a_key(capsys, monkeypatch):
    monkeypatch.delenv("THINKTUNE_API_KEY", raising=False)
    assert cli.main(["serve", "tiny", "--host", "0.0.0.0"]) == 2
    assert "needs an API key" in capsys.readouterr().err


def test_the_openai_engine_reads_thinktunes_own_responses(served):
    from thinktune.inference import SamplingParams
    from thinktune.inference.engines.openai_http import OpenAIEngine

    engine = OpenAIEngine(served[0] + "/v1", "tiny")
    [[c]] = engine.generate([THINK], SamplingParams(max_new_tokens=12, temperature=1.0, seed=3))
    # the continuation's "<think>" prefix plus the split-out reasoning, folded back into one <think> block
    assert c.reasoning and c.text.count("<think>") >= 1 and "</think>" in c.text


def test_chat_and_an_upstream_thinktune_read_a_running_server(served, tmp_path, capsys):
    """`thinktune chat http://...` talks to the server; a second server with `upstream` in front of the first
    adds the reasoning split and traces to what the upstream decodes."""
    from thinktune.inference.engines.openai_http import OpenAIEngine
    from thinktune.serve import ServerSettings, create_app
    from thinktune.serve.models import UpstreamModel

    base = served[0]
    assert cli.main(["chat", f"{base}/v1#tiny", "-m", "What is 2 + 3?", "--max-new-tokens", "4"]) == 0
    assert "answer" in capsys.readouterr().out

    front = {"tiny": UpstreamModel("tiny", OpenAIEngine(base + "/v1", "tiny"))}
    front_base, server, thread = _start(create_app(front, ServerSettings(home=tmp_path)))
    try:
        c = openai.OpenAI(base_url=front_base + "/v1", api_key="x", max_retries=0)
        r = c.chat.completions.create(model="tiny", messages=THINK, max_tokens=12, temperature=1.0, seed=3)
        assert r.choices[0].message.model_extra.get("reasoning_content")
        assert r.model_extra["thinktune"]["served_by"] == "tiny"
        streamed = list(c.chat.completions.create(model="tiny", messages=ASK, max_tokens=4, stream=True))
        assert streamed[-1].choices[0].finish_reason in ("stop", "length")
        assert len(list(read_jsonl(tmp_path / "traces.jsonl"))) == 2
    finally:
        server.stop()


def test_a_full_queue_answers_429_with_retry_after(tmp_path, tokenizer):
    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import tiny_model
    from thinktune.serve import ServerSettings, ServerThread, create_app
    from thinktune.serve.batcher import Batcher
    from thinktune.serve.models import LocalModel

    model, tok = tiny_model(tokenizer, seed=0)
    full = LocalModel("tiny", "tiny", True, Batcher(HFEngine(model, tok), max_waiting=0))  # nothing may wait
    server = ServerThread(create_app({"tiny": full}, ServerSettings(home=tmp_path)))
    try:
        r = httpx.post(server.url + "/v1/chat/completions", json={"model": "tiny", "messages": ASK, "max_tokens": 2})
        _error(r, 429, None)
        assert r.headers["retry-after"] == "1" and r.json()["error"]["type"] == "rate_limit_error"
    finally:
        server.stop()
        full.batcher.close()


def test_a_template_that_opens_think_starts_the_reply_in_the_thinking(tokenizer):
    import copy

    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import tiny_model
    from thinktune.serve.batcher import Batcher
    from thinktune.serve.models import LocalModel

    model, _ = tiny_model(tokenizer, seed=0)
    tok = copy.deepcopy(tokenizer)  # the session's tokenizer stays as it is
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}")
    lm = LocalModel("qwen3-like", "tiny", True, Batcher(HFEngine(model, tok)))
    try:
        ids, opened = lm.prompt_ids(ASK, thinking=True)
        assert opened and tok.decode(ids).rstrip().endswith("<think>")
        handle, opened, _ = lm.start(ASK, thinking=True, max_tokens=16, temperature=1.0, seed=3, thinking_budget=2)
        [row] = handle.results(timeout=60)
        assert opened and row.thinking_tokens == 2 and row.forced  # counted as thinking from the first token
    finally:
        lm.batcher.close()


def test_one_bad_request_fails_alone_and_strategies_stay_within_the_limits(served, client):
    base, _, models = served
    url = base + "/v1/chat/completions"
    with cf.ThreadPoolExecutor(2) as pool:  # a long request decodes while a bad one arrives
        long = pool.submit(client.chat.completions.create, model="tiny", messages=ASK, max_tokens=48, temperature=0)
        time.sleep(0.3)
        bad = httpx.post(url, json={"model": "tiny", "messages": ASK, "max_tokens": 2, "seed": 2**64})
        assert long.result().usage.completion_tokens > 0  # the innocent request finished
    _error(bad, 400, "seed")
    big = {"model": "tiny", "messages": ASK, "max_tokens": 2, "strategy": "self_consistency"}
    _error(httpx.post(url, json={**big, "strategy_options": {"n": 40}}), 400, "strategy_options.n")
    _error(httpx.post(url, json={**big, "strategy_options": {"max_new_tokens": 100}}), 400,
           "strategy_options.max_new_tokens")
    _error(httpx.post(url, json={**big, "strategy_options": {"n": "x"}}), 400, "strategy_options.n")
    _error(httpx.post(url, json={**big, "n": 2}), 400, "n")
    _error(httpx.post(url, json={"model": "auto", "messages": ASK, "n": 2}), 400, "n")


def test_a_non_streaming_client_that_hangs_up_frees_its_rows(tmp_path, tokenizer):
    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import tiny_model
    from thinktune.serve import ServerSettings, ServerThread, create_app
    from thinktune.serve.batcher import Batcher
    from thinktune.serve.models import LocalModel

    model, tok = tiny_model(tokenizer, seed=0)
    lm = LocalModel("tiny", "tiny", True, Batcher(HFEngine(model, tok)))
    server = ServerThread(create_app({"tiny": lm}, ServerSettings(home=tmp_path, max_tokens=5000)))
    try:
        body = {"model": "tiny", "messages": ASK, "max_tokens": 4000, "n": 4}
        with pytest.raises(httpx.TimeoutException):
            httpx.post(server.url + "/v1/chat/completions", json=body, timeout=1.0)
        deadline = time.time() + 20
        while any(lm.batcher.load().values()) and time.time() < deadline:
            time.sleep(0.1)
        assert lm.batcher.load() == {"running_rows": 0, "waiting_requests": 0}
    finally:
        server.stop()
        lm.batcher.close()


def test_a_budget_whose_close_does_not_fit_ends_by_length_without_a_partial_tag(client):
    r = client.chat.completions.create(model="tiny", messages=THINK, max_tokens=4, temperature=1.0, seed=3,
                                       extra_body={"thinking_token_budget": 2})
    message = r.choices[0].message
    assert r.choices[0].finish_reason == "length" and message.content is None
    assert "</" not in message.model_extra["reasoning_content"]
    zero = client.chat.completions.create(model="tiny", messages=THINK, max_tokens=16, temperature=1.0, seed=3,
                                          extra_body={"thinking_token_budget": 0})
    assert zero.usage.completion_tokens_details.reasoning_tokens == 0  # closed before any thinking token
