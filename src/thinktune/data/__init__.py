"""Datasets: reading users' JSONL forms, validation, snapshots and the reasoning / direct views."""

from thinktune.data.schema import Example

__all__ = ["Example"]
