"""The code-execution sandbox, under its older name: everything here is re-exported from `thinktune.sandbox`.

The sandbox moved to `thinktune.sandbox` (a leaf module that answer checking and the rewards both use); the
reward that runs a completion's code against a row's `tests` is `thinktune.rewards.accuracy.code`
(`get_reward("code")`). Import from `thinktune.sandbox` in new code.
"""

from __future__ import annotations

from thinktune.sandbox import (
    NOBODY,
    UNSAFE_ENV,
    Limits,
    RunResult,
    SandboxUnavailable,
    TestReport,
    backend,
    extract_code,
    isolation,
    isolation_command,
    run_python,
    run_tests,
)

__all__ = [
    "NOBODY",
    "UNSAFE_ENV",
    "Limits",
    "RunResult",
    "SandboxUnavailable",
    "TestReport",
    "backend",
    "extract_code",
    "isolation",
    "isolation_command",
    "run_python",
    "run_tests",
]
