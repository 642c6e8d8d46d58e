"""The distill job: judging and keeping samples (pure, table-tested), a scripted HTTP teacher that answers
right, wrong, malformed, slowly and with errors, resume question by question, the s1 filters, a local
teacher and a live `thinktune serve` on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from thinktune.data.schema import Example
from thinktune.distill.config import DistillConfig
from thinktune.distill.distill import build_rows, judge_samples, select


def _words(text: str) -> int:
    return len(text.split())


def _cfg(**kw) -> DistillConfig:
    base = {"task": None, "data": "unused.jsonl"}
    return DistillConfig(**{**base, **kw})


EX = Example("What is 2 + 2?", "4", verifier="numeric", meta={"id": "q1", "level": 1})
RIGHT = "<think>\n2 + 2 = 4\n</think>\n<answer>\n4\n</answer>"


@pytest.mark.parametrize("text, kw, reject, correct", [
    (RIGHT, {}, None, True),
    ("<think>\n2 + 2 = 5\n</think>\n<answer>\n5\n</answer>", {}, "wrong", False),
    ("<think>\n2 + 2 = 5\n</think>\n<answer>\n5\n</answer>", {"verify": False}, None, False),
    ("2 + 2 = 4, so <answer>4</answer>", {}, "format", True),
    ("<think>2 + 2 = 4</think> the answer is <answer>4</answer>", {}, "format", True),  # text between tags
    ("<think>2 + 2 = 4</think> the answer is <answer>4</answer>", {"strict_format": False}, None, True),
    ("<think>\n\n</think>\n<answer>\n4\n</answer>", {}, "format", True),  # empty thinking
    (RIGHT, {"min_thinking_tokens": 6}, "length", True),
    (RIGHT, {"max_thinking_tokens": 5}, None, True),  # bounds are inclusive (5 words)
    ("<think>\n" + "2 + 2 = 4 " * 20 + "\n</think>\n<answer>\n4\n</answer>", {"max_thinking_tokens": 30}, "length", True),
    ("", {}, "format", False),
])
def test_judge_table(text, kw, reject, correct):
    [s] = judge_samples(EX, [{"text": text, "tokens": 9, "finish": "stop"}], _cfg(**kw), _words)
    assert (s["reject"], s["correct"]) == (reject, correct)
    assert s["tokens"] == 9


def test_duplicates_keep_the_first_and_dedupe_can_be_off():
    comps = [{"text": RIGHT, "tokens": 1}, {"text": RIGHT.replace("2 + 2", "2  +  2"), "tokens": 1}]
    assert [s["reject"] for s in judge_samples(EX, comps, _cfg(), _words)] == [None, "duplicate"]
    assert [s["reject"] for s in judge_samples(EX, comps, _cfg(dedupe=False), _words)] == [None, None]


def _sample(i, thinking, reject=None):
    return {"i": i, "thinking": thinking, "thinking_tokens": _words(thinking), "reject": reject, "answer": "4",
            "correct": reject is None, "tokens": _words(thinking) + 3}


@pytest.mark.parametrize("prefer, keep, expected", [
    ("shortest", 1, [1]),
    ("shortest", 2, [1, 2]),
    ("first", 2, [0, 1]),
    ("diverse", 2, [1, 3]),  # after the shortest, the least similar one, not the next shortest
    ("shortest", 9, [1, 2, 3, 0]),  # 4, 5, 8, 9 words; the rejected one never
])
def test_select_table(prefer, keep, expected):
    samples = [_sample(0, "add two and two to get four now ok"), _sample(1, "two plus two is four"),
               _sample(2, "two plus two is four yes"), _sample(3, "count fingers: one hand then another hand sum"),
               _sample(4, "wrong", reject="wrong")]
    assert [s["i"] for s in select(samples, keep, prefer)] == expected


def test_rows_carry_provenance_and_the_category_cap():
    qs = [Example(f"q{i}", "4", verifier="numeric", meta={"id": f"q{i}", "level": i % 2}) for i in range(4)]
    records = {f"q{i}": {"id": f"q{i}", "category": str(i % 2), "samples": [_sample(0, "two plus two is four")]}
               for i in range(4)}
    rows, capped = build_rows(qs, records, _cfg(max_per_category=1, category_key="level"), "teacher-x")
    assert [r.question for r in rows] == ["q0", "q1"] and capped == Counter({"0": 1, "1": 1})
    meta = rows[0].meta
    assert (meta["teacher"], meta["sample"], meta["verified"], meta["source_id"], meta["category"]) == \
        ("teacher-x", 0, True, "q0", "0")
    assert meta["tokens"] == 8 and meta["thinking_tokens"] == 5 and rows[0].reasoning == "two plus two is four"


def test_config_is_checked():
    with pytest.raises(ValueError, match="exactly one of task and data"):
        DistillConfig(task="arithmetic", data="x.jsonl")
    with pytest.raises(ValueError, match="keep"):
        DistillConfig(samples=2, keep=3)
    with pytest.raises(ValueError, match="category_key"):
        DistillConfig(max_per_category=3)


# ------------------------------------------------------------------------- a scripted HTTP teacher
class Teacher:
    """An OpenAI-compatible server whose answer depends on the question: `right`, `wrong`, `junk` (not the
    format), `badjson` (a body that is not JSON, every time), `slow` (the first request outlives the
    client's timeout), `flaky` (two 500s, then right), `refused` (400, every time). The model `student`
    answers `right` and `flaky` questions correctly, the others wrongly."""

    def __init__(self):
        self.requests: Counter = Counter()
        self.healthy = False  # once set, every question is answered right
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send(200, {"data": [{"id": "teacher"}, {"id": "student"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                question = body["messages"][-1]["content"]
                kind = question.split(":")[0]
                teacher.requests[question] += 1
                k = teacher.requests[question]
                if body["model"] == "student":
                    good = kind in ("right", "flaky")
                    return self._send(200, _reply([_content("4" if good else "5", kind)]))
                if teacher.healthy:
                    kind = "right"
                if kind == "badjson":
                    return self._raw(200, b"<html>gateway</html>")
                if kind == "refused":
                    return self._send(400, {"error": {"message": "no", "param": "messages"}})
                if kind == "flaky" and k <= 2:
                    return self._send(500, {"error": {"message": "busy"}})
                if kind == "slow" and k == 1:
                    time.sleep(1.5)
                n = body.get("n", 1)
                if kind == "wrong":
                    choices = [_content("5", kind)] * n
                elif kind == "junk":
                    choices = [{"content": "I think it is 4"}] * n
                else:  # one wrong, then right ones: the thinking in reasoning_content, then in tags (a duplicate)
                    choices = [_content("5", kind), {"content": "<answer>4</answer>", "reasoning_content": "2 + 2 = 4"},
                               _content("4", kind, "2 + 2 = 4"), _content("4", kind, "two and two make 4 in all")][:n]
                self._send(200, _reply(choices))

            def _send(self, code, data):
                self._raw(code, json.dumps(data).encode())

            def _raw(self, code, raw):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def _content(answer, kind, thinking=None):
    return {"content": f"<think>\n{thinking or f'{kind}: 2 + 2 = {answer}'}\n</think>\n<answer>\n{answer}\n</answer>"}


def _reply(messages):
    return {"choices": [{"index": i, "message": {"role": "assistant", **m}, "finish_reason": "stop"}
                        for i, m in enumerate(messages)], "usage": {"completion_tokens": 10 * len(messages)}}


@pytest.fixture
def teacher():
    t = Teacher()
    yield t
    t.stop()


KINDS = ("right", "wrong", "junk", "badjson", "slow", "flaky", "refused")


def _questions(tmp_path, kinds=KINDS):
    path = tmp_path / "questions.jsonl"
    with path.open("w") as f:
        for i, kind in enumerate(kinds):
            f.write(json.dumps({"question": f"{kind}: what is 2 + 2?", "answer": "4", "level": i % 2}) + "\n")
    return str(path)


def _run(cfg, reporter=None):
    from thinktune.jobs import run_job

    return run_job("distill", cfg, reporter)


def test_a_scripted_teacher_right_wrong_malformed_slow_and_erroring(tmp_path, teacher):
    from thinktune.data.readers import read_examples
    from thinktune.io import read_jsonl

    out = tmp_path / "run"
    cfg = DistillConfig(teacher=teacher.url + "#teacher", task=None, data=_questions(tmp_path), samples=4, keep=2,
                        timeout=1.0, retries=2, backoff=0.05, concurrency=3, output_dir=str(out), progress=False)
    run = _run(cfg)
    assert run.status == "succeeded"
    records = {r["id"]: r for r in read_jsonl(out / "samples.jsonl")}
    rejects = {r["question"].split(":")[0]: [s["reject"] for s in r["samples"]] for r in records.values()}
    assert set(rejects) == {"right", "wrong", "slow", "flaky", "junk"}
    assert rejects["right"] == ["wrong", None, "duplicate", None]  # reasoning_content and tags read the same
    assert rejects["wrong"] == ["wrong"] * 4 and rejects["junk"] == ["format"] * 4
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["error"].split(":")[0] for e in errors) == ["RuntimeError", "RuntimeError"]
    assert any("not JSON" in e["error"] for e in errors) and any("HTTP 400" in e["error"] for e in errors)
    assert teacher.requests["refused: what is 2 + 2?"] == 1  # a 4xx is not retried
    assert teacher.requests["badjson: what is 2 + 2?"] == 3  # 1 + 2 retries
    assert teacher.requests["flaky: what is 2 + 2?"] == 3 and teacher.requests["slow: what is 2 + 2?"] == 2

    rows = read_examples(out / "data.jsonl")
    assert sorted((r.question.split(":")[0], r.reasoning) for r in rows) == [
        ("flaky", "2 + 2 = 4"), ("flaky", "two and two make 4 in all"),
        ("right", "2 + 2 = 4"), ("right", "two and two make 4 in all"),
        ("slow", "2 + 2 = 4"), ("slow", "two and two make 4 in all")]
    assert all(r.meta["verified"] and r.meta["teacher"] == teacher.url + "#teacher" and r.meta["tokens"] > 0 for r in rows)
    report = json.loads((out / "report.json").read_text())
    assert report["failed_questions"] == 2 and report["samples"] == 20 and report["rows"] == 6
    assert report["acceptance_rate"] == pytest.approx(6 / 20)
    assert report["rejects"] == {"format": 4, "length": 0, "wrong": 7, "duplicate": 3}
    assert run.metrics["rows"] == 6 and "failed" in (out / "report.md").read_text()

    # The rerun asks only the failed questions; fixed, they now give rows.
    teacher.healthy = True
    before = Counter(teacher.requests)
    run = _run(cfg)
    asked = teacher.requests - before
    assert set(asked) == {"badjson: what is 2 + 2?", "refused: what is 2 + 2?"}
    assert json.loads((out / "report.json").read_text())["rows"] == 10

    # Changing how samples are drawn into the same folder is refused; changing what is kept is not.
    import dataclasses

    from thinktune.config import ConfigError

    with pytest.raises(ConfigError, match="temperature"):
        _run(dataclasses.replace(cfg, temperature=0.3))
    _run(dataclasses.replace(cfg, keep=1))
    assert json.loads((out / "report.json").read_text())["rows"] == 5
    before = sum(teacher.requests.values())
    _run(dataclasses.replace(cfg, keep=1, verify=False, prefer="first"))  # the saved samples, judged again
    assert sum(teacher.requests.values()) == before
    unfiltered = read_examples(out / "data.jsonl")
    assert len(unfiltered) == 6 and all(not r.meta["verified"] and r.answer == "5" for r in unfiltered)


def test_cancel_then_resume_asks_every_question_once(tmp_path, teacher):
    from thinktune.reporter import Reporter

    class CancelAfter(Reporter):
        def progress(self, done, total=None, **metrics):
            if done >= 2:
                self.cancel()

    kinds = [f"right{i}" for i in range(6)]
    cfg = DistillConfig(teacher=teacher.url, task=None, data=_questions(tmp_path, kinds), samples=2,
                        concurrency=1, output_dir=str(tmp_path / "run"), progress=False)
    run = _run(cfg, CancelAfter())
    assert run.status == "cancelled"
    assert 2 <= sum(1 for _ in open(tmp_path / "run" / "samples.jsonl")) < 6
    run = _run(cfg)
    assert run.status == "succeeded" and set(teacher.requests.values()) == {1} and len(teacher.requests) == 6
    assert run.metrics["rows"] == 6


def test_the_student_filter_and_the_category_cap(tmp_path, teacher):
    from thinktune.data.readers import read_examples

    out = tmp_path / "run"
    kinds = ("right", "flaky", "slow", "wrong", "slow2", "slow3")
    cfg = DistillConfig(teacher=teacher.url + "#teacher", student=teacher.url + "#student", task=None,
                        data=_questions(tmp_path, kinds), samples=4, category_key="level", max_per_category=1,
                        backoff=0.05, timeout=5.0, output_dir=str(out), progress=False)
    run = _run(cfg)
    report = json.loads((out / "report.json").read_text())
    assert report["skipped_easy"] == 2 and report["student_accuracy"] == pytest.approx(2 / 6)
    assert "right: what is 2 + 2?" not in {q for q, n in teacher.requests.items() if n > 1}
    rows = read_examples(out / "data.jsonl")
    assert [r.question.split(":")[0] for r in rows] == ["slow", "slow3"]  # one per level
    assert report["capped"] == {"0": 1} and run.metrics["rows"] == 2


def test_a_local_teacher_and_the_cli(tmp_path, capsys):
    from thinktune.cli import main

    out = tmp_path / "run"
    code = main(["distill", "--set", "teacher=tiny", "--set", "task=arithmetic", "--set", "questions=3",
                 "--set", "samples=2", "--set", "max_new_tokens=6", "--set", f"output_dir={out}",
                 "--set", "progress=false"])
    assert code == 0
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(len(r["samples"]) == 2 for r in records)
    assert all(0 < s["tokens"] <= 6 for r in records for s in r["samples"])
    assert "rows ->" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["kind"] == "distill"


def test_distill_from_a_live_thinktune_serve(tmp_path, tokenizer):
    """The whole HTTP path against the real server (the tiny random model fails the format: the samples,
    tokens and verdicts are what is checked)."""
    from thinktune.inference.engines.hf import HFEngine
    from thinktune.models import tiny_model
    from thinktune.serve import ServerSettings, ServerThread, create_app
    from thinktune.serve.batcher import Batcher
    from thinktune.serve.models import LocalModel

    model, tok = tiny_model(tokenizer, seed=0)
    lm = LocalModel("tiny", "tiny", True, Batcher(HFEngine(model, tok), max_batch_rows=16))
    server = ServerThread(create_app({"tiny": lm}, ServerSettings(home=tmp_path / "serve")))
    try:
        out = tmp_path / "run"
        cfg = DistillConfig(teacher=server.url + "/v1", task="word_problems", questions=4, samples=3,
                            max_new_tokens=8, concurrency=4, output_dir=str(out), progress=False)
        run = _run(cfg)
    finally:
        server.stop()
        lm.batcher.close()
    assert run.status == "succeeded"
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(len(r["samples"]) == 3 for r in records)
    assert sum(s["tokens"] for r in records for s in r["samples"]) == run.metrics["teacher_tokens"] > 0
    assert all(s["reject"] == "format" for r in records for s in r["samples"])
    traces = (tmp_path / "serve" / "traces.jsonl").read_text().splitlines()
    assert len(traces) == 4  # one request per question, n=3 choices each


def test_mixed_difficulties_are_split_evenly_with_unique_ids():
    from thinktune.distill.distill import category_key, load_questions

    cfg = DistillConfig(task="word_problems", questions=7, mix_key="steps", mix_values=[2, 3, 4])
    qs = load_questions(cfg)
    assert [q.meta["steps"] for q in qs] == [2, 2, 2, 3, 3, 4, 4] and len({q.meta["id"] for q in qs}) == 7
    assert category_key(cfg) == "steps"
    with pytest.raises(ValueError, match="mix_key and mix_values"):
        DistillConfig(task="word_problems", mix_key="steps")
