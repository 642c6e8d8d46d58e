"""Shared fixtures: the SmolLM2 tokenizer (session-wide) and a fresh tiny random Llama per test."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    from thinktune.models import load_tokenizer

    return load_tokenizer("tiny")


@pytest.fixture
def tiny(tokenizer):
    """(model, tokenizer): a 2-layer, hidden-64 random Llama with the SmolLM2 tokenizer, seed 0."""
    from thinktune.models import tiny_model

    return tiny_model(tokenizer, seed=0)


@pytest.fixture
def write_traces():
    """Write a server trace store by hand: `write(home, [(question, answer, thinking)...], model=...)` → ids."""
    import json
    import time
    from pathlib import Path

    def write(home, rows, model="reasoning"):
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        ids = []
        with (home / "traces.jsonl").open("a", encoding="utf-8") as f:
            for i, (question, answer, thinking) in enumerate(rows):
                trace_id = f"trace-{len(ids):04d}-{abs(hash((question, i))) % 10**8:08d}"
                ids.append(trace_id)
                f.write(json.dumps({"id": trace_id, "time": time.time(), "model": model,
                                    "messages": [{"role": "user", "content": question}],
                                    "thinking": [thinking], "answer": [answer]}) + "\n")
        return ids

    return write


@pytest.fixture
def kill_9_when():
    """`kill(argv, ready, timeout)`: start `argv`, `kill -9` it once `ready()` is true (fails the test if it
    ends first or `ready` never holds), and wait for it to be gone."""
    import os
    import signal
    import subprocess
    import time

    def kill(argv, ready, timeout: float = 300.0) -> None:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        try:
            while not ready():
                if proc.poll() is not None:
                    pytest.fail("the process ended before it could be killed")
                if time.time() > deadline:
                    pytest.fail(f"not ready to be killed after {timeout} s")
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    return kill
