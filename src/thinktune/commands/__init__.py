"""CLI subcommands, one module each (see `thinktune.cli`)."""
