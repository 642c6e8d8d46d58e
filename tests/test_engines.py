"""Engines: the transformers engine against plain `generate` on the tiny model, the HTTP engine against a
fake OpenAI-compatible server on 127.0.0.1, the scripted engine's cuts, and the optional engines' errors."""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from thinktune.format import build_messages
from thinktune.inference import SamplingParams, continue_prompt, make_engine
from thinktune.inference.base import Completion, cut_at_stop
from thinktune.inference.engines.hf import HFEngine
from thinktune.inference.engines.openai_http import OpenAIEngine
from thinktune.inference.engines.scripted import ScriptedEngine

CHATS = [build_messages("hi"), build_messages("what is two plus two, tell me please? think first")]


# ----------------------------------------------------------------------------------------- HF engine
@pytest.mark.parametrize("pack", [False, True])
def test_hf_fast_path_matches_plain_generate_greedy(tiny, pack):
    """Shared prefill, right-aligned rows of different prompt lengths, buffer cache (and prepacked weights):
    the same tokens as generate, and log-probabilities equal up to float32 summation order."""
    model, tok = tiny
    fast, plain = HFEngine(model, tok, pack_weights=pack), HFEngine(model, tok, fast=False)
    assert fast.fast and not plain.fast and (fast._packed is not None) == pack
    params = SamplingParams(n=2, max_new_tokens=10)
    a, b = fast.generate(CHATS, params), plain.generate(CHATS, params)
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            assert x.text == y.text and x.tokens == y.tokens == 10 and x.finish_reason == "length"
            assert x.logprob == pytest.approx(y.logprob, abs=1e-3 if not pack else 1e-2)
    assert a[0][0].logprob != pytest.approx(a[1][0].logprob, abs=1e-3)  # the two prompts really differ


@pytest.mark.parametrize("fast", [True, False])
def test_hf_generate_leaves_the_callers_random_state_alone(tiny, fast):
    import torch

    model, tok = tiny
    engine = HFEngine(model, tok, fast=fast)
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    first = torch.rand(1)
    for seed in (None, 3):
        engine.generate(CHATS[:1], SamplingParams(n=2, max_new_tokens=3, temperature=1.0, seed=seed))
    assert torch.equal(torch.cat([first, torch.rand(1)]), expected)


def test_hf_plain_path_ignores_empty_stops_and_stop_text_begun_in_the_prompt(tiny):
    from thinktune.inference.engines.hf import _NewTextStop

    model, tok = tiny
    fast, plain = HFEngine(model, tok), HFEngine(model, tok, fast=False)
    params = SamplingParams(max_new_tokens=6, stop=("", "zzzz"))
    assert [c.tokens for c in plain.generate(CHATS[:1], params)[0]] == [c.tokens for c in fast.generate(CHATS[:1], params)[0]]
    # a prompt ending in "\n" and a first generated "\n": the stop "\n\n" is not in the generated text
    import torch

    prompt, new = tok.encode("assistant\n", add_special_tokens=False), tok.encode("\n", add_special_tokens=False)
    ids = torch.tensor([prompt + new])
    assert not _NewTextStop(plain, len(prompt), ("\n\n",))(ids, None)[0]
    assert _NewTextStop(plain, len(prompt), ("\n",))(ids, None)[0]


def test_hf_stop_strings_longer_than_the_default_tail_are_found(tiny):
    model, tok = tiny
    engine = HFEngine(model, tok)
    stop = " ".join("abcdefghijklmnop")  # 16 one-letter words: more tokens than the default tail of 12
    tokens = tok.encode("some text then " + stop, add_special_tokens=False)
    assert len(tok.encode(stop, add_special_tokens=False)) > 12
    assert engine._hit_stop(tokens, (stop,))


def test_hf_sampler_never_draws_a_token_top_k_removed(monkeypatch):
    import torch

    from thinktune.inference.engines import hf

    logits = torch.tensor([[0.0, 5.0, 4.0, -1.0]])
    monkeypatch.setattr(torch, "rand", lambda *a, **k: torch.zeros(1, 1))  # the rare exact 0.0 draw
    tokens, _ = hf._sample(logits, SamplingParams(temperature=1.0, top_k=2), torch.Generator())
    assert tokens.tolist()[0] in (1, 2)  # the top-2; token 0 has no mass and must never be drawn


def test_packed_linears_match_plain_and_follow_weight_updates(tiny):
    import torch

    from thinktune.inference.engines.packed import PackedLinears, available

    model, _ = tiny
    assert available(model)
    ids = torch.randint(0, 1000, (2, 7))
    with torch.inference_mode():
        plain = model(input_ids=ids).logits
        packs = PackedLinears(model)
        with packs:
            packed = model(input_ids=ids).logits
        assert torch.allclose(plain, packed, atol=1e-4)
        assert packs.packed_calls == len(packs.modules) > 0  # every linear took the packed path
        with packs:
            model(input_ids=ids[:1, :2])  # 2 rows < min_rows: the plain path
        assert packs.packed_calls == len(packs.modules)
        assert all("forward" not in m.__dict__ for m in packs.modules)  # restored on exit
    with torch.no_grad():
        model.lm_head.weight.mul_(2.0)  # a "training step" in place: the packed copy must follow
    with torch.inference_mode():
        plain2 = model(input_ids=ids).logits
        with packs:
            packed2 = model(input_ids=ids).logits
    assert torch.allclose(plain2, packed2, atol=1e-3) and not torch.allclose(plain2, plain, atol=1e-3)


def test_hf_stop_strings_cut_and_finished_rows_leave_the_batch(tiny):
    model, tok = tiny
    engine = HFEngine(model, tok)
    params = SamplingParams(max_new_tokens=12, temperature=1.0, seed=5)
    free = engine.generate(CHATS[:1], params)[0][0]
    stop = tok.decode(tok.encode(free.text, add_special_tokens=False)[2:4])  # text of generated tokens 3-4
    assert stop.strip()
    cut = engine.generate(CHATS[:1], params.with_(stop=(stop,)))[0][0]  # same seed: same tokens until the stop
    assert cut.text == cut_at_stop(free.text, [stop])[0] and cut.text.endswith(stop)
    assert cut.finish_reason == "stop" and cut.stop == stop and cut.tokens < 12

    # Sampling 6 rows with a common stop: rows finish at different steps and stop costing compute.
    out = engine.generate(CHATS[:1], SamplingParams(n=6, max_new_tokens=24, temperature=1.5, stop=(" ",), seed=3))[0]
    lengths = sorted(c.tokens for c in out)
    assert all(c.text.endswith(" ") for c in out if c.finish_reason == "stop")
    assert lengths[0] < lengths[-1]
    assert engine.stats["row_steps"] < 6 * engine.stats["steps"]  # fewer row-steps than a fixed batch


def test_hf_sampling_is_seeded_and_rows_are_independent(tiny):
    model, tok = tiny
    engine = HFEngine(model, tok)
    params = SamplingParams(n=4, max_new_tokens=8, temperature=1.0, seed=7)
    a = [c.text for c in engine.generate(CHATS[:1], params)[0]]
    b = [c.text for c in engine.generate(CHATS[:1], params)[0]]
    c = [c.text for c in engine.generate(CHATS[:1], params.with_(seed=8))[0]]
    assert a == b and a != c and len(set(a)) > 1


def test_hf_top_k_one_is_greedy(tiny):
    model, tok = tiny
    engine = HFEngine(model, tok)
    greedy = engine.generate(CHATS[:1], SamplingParams(max_new_tokens=8))[0][0].text
    topk = engine.generate(CHATS[:1], SamplingParams(max_new_tokens=8, temperature=1.0, top_k=1, seed=1))[0][0].text
    nucleus = engine.generate(CHATS[:1], SamplingParams(max_new_tokens=8, temperature=1.0, top_p=1e-6, seed=1))[0][0].text
    assert greedy == topk == nucleus


def test_hf_continuation_reuses_the_prefix_and_matches_plain(tiny):
    import torch

    model, tok = tiny
    fast, plain = HFEngine(model, tok), HFEngine(model, tok, fast=False)
    first = fast.generate(CHATS[:1], SamplingParams(max_new_tokens=6))[0][0]
    cont = continue_prompt(CHATS[0], first.text)
    assert len(fast._prefixes) == 1
    a = fast.generate([cont], SamplingParams(max_new_tokens=6))[0][0]
    prompt_tokens = len(tok.encode(fast.render(CHATS[0]), add_special_tokens=False))
    # the prompt's tokens are reused (all but any the continuation's tokenisation merged across the boundary)
    assert prompt_tokens - 2 <= fast.stats["reused_prefix_tokens"] <= prompt_tokens
    assert fast.stats["prefill_tokens"] > 0
    b = plain.generate([cont], SamplingParams(max_new_tokens=6))[0][0]
    assert a.text.startswith(first.text) and a.text == b.text
    assert len(fast._prefixes) == 2
    with torch.no_grad():
        model.lm_head.weight.mul_(0.5)  # weights change in place: cached prefixes must be dropped
    fast.generate(CHATS[:1], SamplingParams(max_new_tokens=1))
    assert len(fast._prefixes) == 1


def test_hf_engine_counts_tokens_and_renders_raw_text(tiny):
    model, tok = tiny
    engine = make_engine((model, tok))
    assert isinstance(engine, HFEngine) and make_engine(engine) is engine
    assert engine.count_tokens("") == 0 and engine.count_tokens("hello world") == len(tok.encode("hello world"))
    assert engine.render("raw prompt") == "raw prompt"
    assert engine.render(CHATS[0]).endswith("assistant\n")
    out = engine.generate(["raw prompt"], SamplingParams(max_new_tokens=3))[0][0]
    assert out.tokens == 3


@pytest.mark.parametrize("fast", [True, False])
def test_hf_on_text_streams_one_completion_as_it_is_generated(tiny, fast):
    """The streaming hook (what `thinktune chat` prints): pieces arrive during the call and join to the
    generated text; a continuation's forced prefix is not streamed; several completions are refused."""
    model, tok = tiny
    engine = HFEngine(model, tok, fast=fast)
    params = SamplingParams(max_new_tokens=16, temperature=1.0, seed=0)  # sampled: a varied text
    pieces = []
    [[out]] = engine.generate(CHATS[:1], params, on_text=pieces.append)
    assert len(pieces) > 1 and all(pieces) and "".join(pieces) == out.text
    [[plain_out]] = engine.generate(CHATS[:1], params)
    assert plain_out.text == out.text  # streaming does not change what is generated
    cont = continue_prompt(CHATS[0], "<think>\n")
    pieces = []
    [[out]] = engine.generate([cont], params, on_text=pieces.append)
    assert out.text.startswith("<think>\n") and "".join(pieces) == out.text[len("<think>\n"):]
    for prompts, n in ((CHATS, 1), (CHATS[:1], 2)):
        with pytest.raises(ValueError, match="one prompt and n=1"):
            engine.generate(prompts, params.with_(n=n), on_text=pieces.append)


# --------------------------------------------------------------------------------- scripted engine
def test_scripted_engine_applies_token_cap_stops_and_eos():
    engine = ScriptedEngine(["one two three four <eos> five", "a b </answer> c"])
    [[x, y]] = engine.generate(["p"], SamplingParams(n=2, max_new_tokens=3, stop=("</answer>",)))
    assert (x.text, x.tokens, x.finish_reason) == ("one two three ", 3, "length")
    assert (y.text, y.tokens, y.finish_reason, y.stop) == ("a b </answer>", 3, "stop", "</answer>")
    [[z]] = engine.generate(["p"], SamplingParams(max_new_tokens=10))  # third sample: script cycles
    assert (z.text, z.finish_reason) == ("one two three four ", "eos")


# ------------------------------------------------------------------------------------- HTTP engine
class _FakeOpenAI(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible server: chat answers split reasoning out, like vLLM's reasoning parser."""

    requests: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, data: dict, code: int = 200) -> None:
        body = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send({"data": [{"id": "fake-model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        if body.get("model") == "broken":
            return self._send({"error": "nope"}, 500)
        n = body.get("n", 1)
        if self.path.endswith("/chat/completions"):
            choices = [{"index": i, "finish_reason": "stop",
                        "message": {"role": "assistant", "reasoning_content": f"step {i}",
                                    "content": f"<answer>{i + 4}"}} for i in range(n)]
            if body.get("logprobs"):
                for c in choices:
                    c["logprobs"] = {"content": [{"token": "x", "logprob": -0.25}] * 4}
        else:
            choices = [{"index": 0, "text": " continued", "finish_reason": "length"}]  # ignores n
            if body.get("logprobs") is not None:
                choices[0]["logprobs"] = {"tokens": ["a", "b"], "token_logprobs": [-1.0, -0.5]}
        return self._send({"choices": choices, "usage": {"completion_tokens": 10 * len(choices)}})


@pytest.fixture
def fake_server():
    _FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_http_engine_folds_reasoning_and_restores_the_stop(fake_server):
    engine = make_engine(fake_server)
    assert isinstance(engine, OpenAIEngine) and engine.model == "fake-model"
    [[a, b]] = engine.generate([build_messages("q")], SamplingParams(n=2, temperature=0.5, stop=("</answer>",), seed=3))
    assert a.text == "<think>\nstep 0\n</think>\n<answer>4</answer>" and b.text.endswith("<answer>5</answer>")
    assert a.reasoning == "step 0" and a.stop == "</answer>" and a.finish_reason == "stop"
    assert a.tokens + b.tokens == 20
    [req] = _FakeOpenAI.requests
    assert req["path"] == "/v1/chat/completions" and req["n"] == 2 and req["stop"] == ["</answer>"]
    assert req["seed"] == 3 and req["temperature"] == 0.5 and req["messages"][-1]["role"] == "user"


def test_http_engine_continuations_raw_prompts_and_servers_ignoring_n(fake_server):
    engine = OpenAIEngine(fake_server, "m", concurrency=2)
    engine.generate([continue_prompt(build_messages("q"), "<think>\n")], SamplingParams())
    req = _FakeOpenAI.requests[-1]
    assert req["continue_final_message"] is True and req["add_generation_prompt"] is False
    assert req["messages"][-1] == {"role": "assistant", "content": "<think>\n"}

    [[x, y, z]] = engine.generate(["raw"], SamplingParams(n=3, max_new_tokens=5))
    assert x.text == " continued" and x.finish_reason == "length" and x.tokens == 10
    completions_calls = [r for r in _FakeOpenAI.requests if r["path"] == "/v1/completions"]
    assert len(completions_calls) == 3 and completions_calls[0]["prompt"] == "raw"


def test_http_engine_seeds_each_sample_and_reads_logprobs(fake_server):
    # one request per sample (send_n=False) or top-ups after a server that ignores n: every sample its own seed
    for send_n in (False, True):
        _FakeOpenAI.requests = []
        comps = OpenAIEngine(fake_server, "m", send_n=send_n).generate(["raw"], SamplingParams(n=3, seed=5))[0]
        seeds = sorted(r["seed"] for r in _FakeOpenAI.requests)
        assert seeds == [5, 5 + 7919, 5 + 2 * 7919]
        assert [c.logprob for c in comps] == [-1.5] * 3  # the legacy completions form
    [[chat]] = OpenAIEngine(fake_server, "m").generate([build_messages("q")], SamplingParams())
    assert chat.logprob == pytest.approx(-1.0) and _FakeOpenAI.requests[-1]["logprobs"] is True
    OpenAIEngine(fake_server, "m", logprobs=False).generate([build_messages("q")], SamplingParams())
    assert "logprobs" not in _FakeOpenAI.requests[-1]


def test_http_engine_cuts_stops_in_the_new_text_only(fake_server):
    # a continuation whose prefix already holds the stop string (beam search's earlier steps) stays whole
    prefix = "step one\n\nstep two\n\n"
    [[c]] = OpenAIEngine(fake_server, "m").generate([continue_prompt(build_messages("q"), prefix)],
                                                     SamplingParams(stop=("\n\n",)))
    assert c.text.startswith(prefix) and c.text.endswith("<answer>4")


@pytest.mark.parametrize("total,texts,skip,expected", [
    (10, ["aaa", "aaa", "aaa"], 0, [4, 3, 3]),           # largest remainder: the shares add up to the total
    (31, ["P" * 40 + "a", "P" * 40 + "a" * 30], 40, [1, 30]),  # by the new text, not the continued prefix
    (7, ["abc"], 0, [7]),
])
def test_http_usage_is_shared_exactly_by_new_text(total, texts, skip, expected):
    from thinktune.inference.engines.openai_http import _share_usage

    comps = [Completion(t, tokens=0) for t in texts]
    _share_usage(comps, total, len, skip)
    assert [c.tokens for c in comps] == expected and sum(expected) == total


def test_http_engine_errors_are_one_line(fake_server):
    with pytest.raises(RuntimeError, match="HTTP 500"):
        OpenAIEngine(fake_server, "broken").generate(["x"], SamplingParams())
    with pytest.raises(RuntimeError, match="cannot reach"):
        OpenAIEngine("http://127.0.0.1:9/v1", "m", timeout=2).generate(["x"], SamplingParams())


# -------------------------------------------------------------------------------- optional engines
@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_engine_without_vllm_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install 'thinktune\[gpu\]'"):
        make_engine("some/model", engine="vllm")


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is not None, reason="llama-cpp-python is installed here")
def test_llamacpp_engine_without_the_package_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install 'thinktune\[llamacpp\]'"):
        make_engine("default", engine="llamacpp")


def test_make_engine_rejects_unknown_engines():
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine("default", engine="nope")
    with pytest.raises(TypeError):
        make_engine(42)


def test_replay_engine_serves_recorded_samples_in_order():
    from thinktune.inference.engines.scripted import ReplayEngine

    recorded = [Completion(f"<answer>{i}</answer>", tokens=i + 1, logprob=-1.0) for i in range(4)]
    engine = ReplayEngine({"q": recorded})
    [first] = engine.generate([build_messages("q")], SamplingParams(n=3))
    [rest] = engine.generate([build_messages("q")], SamplingParams(n=1))
    assert first == recorded[:3] and rest == recorded[3:]
    with pytest.raises(ValueError, match="only 4 were recorded"):
        engine.generate([build_messages("q")], SamplingParams(n=1))
    with pytest.raises(KeyError):
        engine.generate([build_messages("other")], SamplingParams(n=1))
