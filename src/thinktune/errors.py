"""The errors a user can cause and fix. The CLI prints them as one line and exits 2, the studio and the
server turn them into 4xx answers; no library module needs the CLI to raise them.

`ConfigError` (a bad config key or value, with file and line) lives in `thinktune.config` and is a kind of
`ValueError`; `UserError` is everything else a user can fix (a missing flag, a folder that is a file).
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix: printed as one line, exit code 2."""


class JobCancelled(Exception):
    """A job stopped at a step boundary because a cancel was requested; its run folder can be resumed."""
