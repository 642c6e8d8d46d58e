"""Datasets: reading users' JSONL forms, validation, snapshots and the reasoning / direct views."""

from thinktune.data.readers import DataError, read_examples, write_examples
from thinktune.data.schema import Example

__all__ = ["DataError", "Example", "read_examples", "write_examples"]
