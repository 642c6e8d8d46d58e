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
