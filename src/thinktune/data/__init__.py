"""Datasets: reading users' JSONL forms, validation, snapshots and the reasoning / direct views."""

from thinktune.data.readers import DataError, parse_column_map, read_examples, write_examples
from thinktune.data.schema import Example
from thinktune.data.snapshot import Snapshot, load_snapshot, make_snapshot, save_snapshot
from thinktune.data.validate import Issue, ValidationReport, validate_file

__all__ = [
    "DataError", "Example", "Issue", "Snapshot", "ValidationReport", "load_snapshot", "make_snapshot",
    "parse_column_map", "read_examples", "save_snapshot", "validate_file", "write_examples",
]
