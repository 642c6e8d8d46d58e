"""Run a completion's Python code against test cases in a throw-away, fenced subprocess.

A leaf module (standard library only): both answer checking (`thinktune.tasks.check_answer`, the `code`
verifier) and the rewards build on it, and it imports neither. `thinktune.rewards.code_exec` re-exports
its public names for older imports.

`run_tests(code, tests)` returns how many tests passed. A test is either a Python statement
(`"assert add(2, 3) == 5"`; all such tests share one process, each reported on its own) or
`{"input": "...", "output": "..."}`: the code runs as a program with that stdin and passes when its stdout
matches (whitespace at line ends ignored), one process per test.

**Grading the code cannot see.** Whatever runs in the same process as the code can be rewritten by it
(builtins, the harness's frames, its result channel, memory through numpy), so nothing the sandboxed process
says about *passing* is believed. Statement tests are split with `ast` in the parent:

- the last statement of a test, when it is an `assert`, is taken apart: `and` / `or` / `not` and
  comparisons (`==`, `!=`, `<`, `in`, `is`, chained ones too) are evaluated in the parent; each operand that
  is a literal (`ast.literal_eval`: `5`, `[1, 2]`, `{"a": (1, 2.5)}`, `-3`, `None`) **stays in the parent
  and is never sent to the sandbox**; every other operand (`add(2, 3)`) is evaluated in the sandbox, and
  the statements before the `assert` run there first;
- the sandbox sends each value back as *plain data*: `None`, `bool`, `int`, `float`, `str`, `list`,
  `tuple`, `dict`, `set`, `frozenset`, `bytes`, `complex` (and those types themselves, for
  `type(x) == int`), by exact type (no subclasses; numpy scalars are converted with `.item()`; a numpy
  array is not plain data), anything else is `NotPlainData` and fails the test. The parent rebuilds the
  value from that JSON and compares it to the literal with Python's own operators on built-in types, so an
  object that only claims equality (`__eq__` returning True) never reaches a comparison. Objects of the
  code's own classes cannot be compared either: such tests must compare plain data (`assert p.x == 1`);
- the pass/fail decision exists only in the parent. A completion that forges the channel (frame walking,
  writing to the result descriptor) can only claim values, and to make `assert add(2, 3) == 5` pass it
  has to claim `5` without ever being shown it: that is solving the test.

What stays the sandbox's word (write tests as `assert EXPR == LITERAL` to avoid them): a test whose last
statement is not an `assert` passes when it runs without raising (`check(add)`, HumanEval-style `check`
functions: their asserts run inside); an operand that is not a literal (`assert f(2) == f(1) + 1`,
`assert isinstance(f(1), int)`) is computed inside, so a completion that tampers with the harness can
choose it. Two things still hold there against ordinary cheats: every single comparison in the test code
the sandbox runs is rewritten (`ast`) into a call of the harness's strict comparison, which raises
`NotPlainData` unless both sides are plain data (or numpy number arrays), so an always-equal object fails
`all(f(i) == i for i in …)` and `check(f)` too; and test code runs with a copy of the builtins taken before
the code ran, so a replaced builtin does not change it. Python's own semantics are kept: `and`/`or` short-circuit in the parent (the sandbox has
computed every operand, so a skipped one's side effects still happened) and `1 == 1.0 == True`. Program
(`input`/`output`) tests compare the captured stdout in the parent; the expected output never enters the
sandbox.

What each run gets, layer by layer (`isolation()` names the layers in effect; `backend()` the fence):

1. **bubblewrap** (`bwrap`, the preferred fence) — a private mount namespace whose root is an empty tmpfs
   holding only, read-only: `/usr` and the `/bin`, `/lib*`, `/sbin` links, the few `/etc` files the dynamic
   loader reads, the Python installation (base prefix: `bin`, `lib`), the virtual environment's `bin`,
   `lib` and `pyvenv.cfg` and every site-packages folder, plus `Limits.read_only`. Not the project folder,
   not `$HOME`, not the editable install's `src` (its `.pth` line points to a folder that is absent), not
   the host's `/tmp`, `/dev/shm` or `/run`. Writable: a size-limited tmpfs work folder (`/sandbox`, cwd and
   `$HOME`) and an empty size-limited tmpfs `/tmp`, both gone with the sandbox. A minimal `/dev`, a `/proc`
   of its own PID namespace, new network (no interfaces: "Network is unreachable"), IPC, UTS and cgroup
   namespaces, `--die-with-parent`, `--new-session`. When thinktune runs as root the code runs as the real
   `nobody` (`setpriv` inside, no capabilities, no new privileges), so `RLIMIT_NPROC` holds; otherwise as
   the calling user inside a user namespace that cannot create further ones.
2. **unshare** (fallback when bwrap is missing or fails) — `unshare --net --pid --fork --kill-child`, as
   `nobody` via `setpriv` when root, else `--map-root-user`; the work folder is a private folder on the host.
   No mount namespace: see the limits below.
3. **OS limits** — a scrubbed environment (no tokens, proxies, `PYTHONPATH`), `python -I -B`, a wall-time
   limit after which the sandbox is `SIGKILL`ed, `setrlimit`: address space (`RLIMIT_AS`), processes
   (`RLIMIT_NPROC`), CPU seconds, file size (`RLIMIT_FSIZE`, which also caps captured output and the result
   channel), open files, no core dumps. BLAS thread pools are set to one thread.
4. **A Python audit hook** (PEP 578), a second layer installed before the code runs, holding its own
   references to every builtin and function it calls: refuses sockets and DNS, `fork` / `exec` /
   `subprocess` / `os.system` / `posix_spawn`, signals, new sub-interpreters (the
   `cpython.PyInterpreterState_New` event, and importing `_xxsubinterpreters` & co.), importing `ctypes`,
   `_posixsubprocess`, `cffi` and the `_test*` C modules (as `ImportError`, so `try: import ctypes`
   fallbacks such as numpy's keep working), writes, renames and deletions outside the work folder
   (and `/tmp` under bwrap), and `gc` object walking.

Cost: setting up bwrap's namespaces and mounts adds a few milliseconds per sandboxed process over the
previous unshare-only sandbox (2-25 ms measured on a busy 2-core machine, where a completion takes
~100-300 ms either way; `benchmarks/code_reward.py`, results in `benchmarks/results/code_reward.md`).

Every process of a run ends with the call: the run's PID namespace dies with its first process (bwrap's
init, killed with the wrapper), so forks, `setsid` and double forks go with it.

Where neither bwrap nor unshare works, `run_python` / `run_tests` raise `SandboxUnavailable` saying why,
unless `Limits(unsafe=True)` or `THINKTUNE_SANDBOX_UNSAFE=1` is set (then only layers 3 and 4 apply).

What it does NOT stop:
- It is not a hardened jail against hostile *people*: no seccomp filter, so the whole kernel syscall
  surface is reachable (a kernel bug is an escape); under bwrap the code can read everything bound in
  (system libraries, the Python installation, every installed package) and `/proc`'s system-wide files
  (`/proc/cpuinfo`, `/proc/kallsyms` names, load); timing side channels are open.
- Under the unshare fallback there is no mount namespace: the code can read any file `nobody` (or the
  user) can read, e.g. the project's world-readable sources, and as `nobody` it can write world-writable
  host folders (`/tmp`, `/dev/shm`) with calls the audit hook does not see (`os.mkfifo`, `os.mknod`, C
  extensions, raw syscalls). Under `unsafe` there is no namespace at all: it runs as the calling user,
  a process that leaves the process group survives the timeout, and only the hook stands between the
  code and the network.
- The audit hook is a Python-level layer that Python code can weaken (by monkeypatching the stdlib
  modules it relies on, e.g. `os.path`), and C extensions (numpy) bypass it; bwrap is the fence.
- Resources are bounded per process, not by a cgroup: memory is `RLIMIT_AS` per process (up to
  `max_procs` processes) plus the two tmpfs sizes; when thinktune is not root, `RLIMIT_NPROC` counts every
  process of the calling user, so a user with many processes may see legitimate forks refused. Under the
  unshare fallback and `unsafe`, disk use in the work folder is bounded per file only.
- Tests whose pass is the sandbox's word (see above) can be forged by a deliberately cheating completion.

It is meant for RL rewards on one's own model's completions (the threat is reward hacking and accidents:
infinite loops, huge allocations, stray writes, leaked processes), not for code from untrusted people.
"""

from __future__ import annotations

import ast
import functools
import json
import operator
import os
import re
import secrets
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from thinktune.errors import UserError

NOBODY = 65534
UNSAFE_ENV = "THINKTUNE_SANDBOX_UNSAFE"
WORKDIR = "/sandbox"  # the work folder's path inside bubblewrap
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class SandboxUnavailable(UserError, RuntimeError):
    """No isolation works on this machine, and `unsafe` was not asked for (the CLI prints it as one line)."""


@dataclass(frozen=True)
class Limits:
    """Per-process limits of a sandboxed run."""

    timeout_s: float = 5.0  # wall time per process (sandbox start-up included)
    memory_mb: int = 512  # RLIMIT_AS
    max_procs: int = 16  # RLIMIT_NPROC (counts every process of the user the code runs as)
    max_file_mb: int = 16  # RLIMIT_FSIZE: any file written, captured stdout/stderr and results included
    max_output_chars: int = 100_000  # stdout/stderr kept in the result
    disk_mb: int = 64  # size of each tmpfs under bwrap (the work folder and /tmp)
    audit_hook: bool = True  # the Python-level layer; tests turn it off to check the OS layers alone
    read_only: tuple[str, ...] = ()  # extra host paths visible read-only under bwrap (a task's data, packages)
    unsafe: bool = False  # run even where no namespace isolation works (rlimits + audit hook only)


@dataclass
class RunResult:
    """One process's outcome."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    markers: list[str] = field(default_factory=list)  # `code ok` / `code <Error>`, `test <i> pass` / `test <i> <why>`


@dataclass
class TestReport:
    """How a piece of code did on its tests."""

    passed: int
    total: int
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)  # one line per failed test or crash

    @property
    def fraction_passed(self) -> float:
        return self.passed / self.total if self.total else 0.0


def extract_code(text: str | None) -> str | None:
    """The code in a completion: the last fenced block (```python … ```), else the text itself.

    >>> extract_code("Here:\\n```python\\nprint(1)\\n```")
    'print(1)\\n'
    """
    if not isinstance(text, str) or not text.strip():
        return None
    blocks = _FENCE.findall(text)
    code = blocks[-1] if blocks else text
    return code if code.strip() else None


def run_tests(code: str, tests: list, limits: Limits = Limits()) -> TestReport:
    """Run `code` against `tests` (statements or `{"input", "output"}` dicts); never raises on bad code.

    Raises:
        ValueError: a test that is neither a string nor an input/output mapping.
        SandboxUnavailable: no isolation on this machine and `limits.unsafe` not set.
    """
    statements = [t for t in tests if isinstance(t, str)]
    io_tests = [t for t in tests if isinstance(t, dict)]
    if len(statements) + len(io_tests) != len(tests) or any("output" not in t for t in io_tests):
        raise ValueError("each test must be a Python statement or a mapping with 'input' and 'output'")
    report = TestReport(passed=0, total=len(tests))
    if statements:
        run = run_python(code, tests=statements, limits=limits)
        report.timed_out |= run.timed_out
        results = [m for m in run.markers if m.startswith("test ")]
        report.passed += sum(m.endswith(" pass") for m in results)
        if report.passed < len(statements):
            report.errors.append(_why(run, [m for m in results if not m.endswith(" pass")]))
    for t in io_tests:
        run = run_python(code, stdin=str(t.get("input", "")), limits=limits)
        report.timed_out |= run.timed_out
        if not run.timed_out and _same_output(run.stdout, str(t["output"])):
            report.passed += 1
        else:
            report.errors.append(_why(run, []))
    return report


def run_python(code: str, *, stdin: str = "", tests: list[str] | None = None, limits: Limits = Limits()) -> RunResult:
    """Run `code` in a sandboxed subprocess (see the module docstring for exactly what that means).

    Args:
        code: Python source.
        stdin: the program's standard input (program mode, `tests` None).
        tests: statements to check after the code, in its namespace; each is reported as a marker
            `test <i> pass` or `test <i> <why>` (`AssertionError`, the exception the sandbox raised,
            `NotPlainData`, `NoResult`). The code then runs as module `solution` (its
            `if __name__ == "__main__":` block is skipped); in program mode it runs as `__main__`.
        limits: the limits.

    Raises:
        SandboxUnavailable: no isolation on this machine and `limits.unsafe` not set.
    """
    box = _backend()
    if box.kind == "none" and not (limits.unsafe or os.environ.get(UNSAFE_ENV, "") not in ("", "0")):
        raise SandboxUnavailable(
            f"thinktune.sandbox: refusing to run untrusted code without isolation ({box.why}). Install "
            f"bubblewrap (apt-get install bubblewrap), or accept rlimits + the audit hook only with "
            f"Limits(unsafe=True) or {UNSAFE_ENV}=1."
        )
    compare = f"__thinktune_compare_{secrets.token_hex(6)}"
    planned = [_plan(t, i, compare) for i, t in enumerate(tests or [])]
    config = {
        "code": code, "tests": None if tests is None else [plan for plan, _ in planned], "compare": compare,
        "audit": limits.audit_hook,
        "memory": limits.memory_mb * 2**20, "nproc": limits.max_procs, "fsize": limits.max_file_mb * 2**20,
        "cpu": int(limits.timeout_s) + 2,
    }
    if box.kind == "bwrap":
        run, reports = _spawn(_command(box, limits), config, stdin, None, limits, writable=[WORKDIR, "/tmp"])
    else:
        # `nobody` must reach its folder: under a private (0700) $TMPDIR every run would fail, so /tmp then
        root = "/tmp" if box.nobody and os.path.isdir("/tmp") else None
        with tempfile.TemporaryDirectory(prefix="thinktune-exec-", dir=root) as tmp:
            work = os.path.realpath(tmp)
            if box.nobody:
                os.chown(work, NOBODY, NOBODY)
            run, reports = _spawn(_command(box, limits), config, stdin, work, limits, writable=[work])
    run.markers += [_verdict(i, check, reports.get(i)) for i, (_, check) in enumerate(planned)]
    return run


# --------------------------------------------------------------------------------------- test planning
def _plan(test: str, i: int, compare: str = "") -> tuple[dict, tuple | None]:
    """(what the sandbox runs for test `i`, the check the parent applies to what it reports).

    Comparisons in what the sandbox runs become calls to the harness's strict `compare` (named `compare`).
    """
    strict = _StrictCompare(compare) if compare else None

    def source(node: ast.AST) -> str:
        return ast.unparse(strict.visit(node) if strict else node)

    try:
        body = ast.parse(test).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return {"i": i, "pre": test, "exprs": []}, None  # the sandbox reports the SyntaxError
    try:
        if not body or not isinstance(body[-1], ast.Assert):
            return {"i": i, "pre": source(ast.Module(body=body, type_ignores=[])), "exprs": []}, None
        exprs: list[str] = []
        check = _check(body[-1].test, exprs, source)
        pre = source(ast.Module(body=body[:-1], type_ignores=[])) if len(body) > 1 else None
    except (ValueError, RecursionError):
        return {"i": i, "pre": test, "exprs": []}, None
    return {"i": i, "pre": pre, "exprs": exprs}, check


class _StrictCompare(ast.NodeTransformer):
    """`a == b` → `compare(a, 'Eq', b)`: inside the sandbox a comparison refuses operands that are not plain
    data, so an always-equal object fails nested comparisons (`all(f(i) == i for i in …)`, `check(f)`)
    too. Identity (`is`) is left alone; so are chained comparisons (`a < b < c`)."""

    def __init__(self, name: str):
        self.name = name

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1 or isinstance(node.ops[0], (ast.Is, ast.IsNot)):
            return node
        call = ast.Call(func=ast.Name(self.name, ast.Load()),
                        args=[node.left, ast.Constant(type(node.ops[0]).__name__), node.comparators[0]],
                        keywords=[])
        return ast.copy_location(call, node)


def _check(node: ast.expr, exprs: list[str], source) -> tuple:
    if isinstance(node, ast.BoolOp):
        return ("and" if isinstance(node.op, ast.And) else "or", [_check(v, exprs, source) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ("not", _check(node.operand, exprs, source))
    if isinstance(node, ast.Compare):
        return ("cmp", [_operand(n, exprs, source) for n in (node.left, *node.comparators)],
                [type(op).__name__ for op in node.ops])
    return ("truth", _operand(node, exprs, source))


def _operand(node: ast.expr, exprs: list[str], source) -> tuple:
    try:
        return ("lit", ast.literal_eval(node))  # trusted test data: stays here
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        exprs.append(source(node))
        return ("expr", len(exprs) - 1)


_OPS = {
    "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt,
    "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
    "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b,
}


class _Failed(Exception):
    """A test failed for a named reason (the sandbox's exception, `NotPlainData`, …)."""


def _verdict(i: int, check: tuple | None, report: dict | None) -> str:
    """The marker for test `i` from the sandbox's reports on it (plain JSON, untrusted)."""
    if report is None:
        return f"test {i} NoResult"
    if report.get("err"):
        return f"test {i} {report['err']}"
    if not report.get("ran"):
        return f"test {i} NoResult"
    if check is None:
        return f"test {i} pass"
    try:
        return f"test {i} pass" if _holds(check, report.get("values", {})) else f"test {i} AssertionError"
    except _Failed as e:
        return f"test {i} {e}"
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError, MemoryError) as e:
        return f"test {i} {type(e).__name__}"  # what the comparison raises, as it would in Python


def _holds(check: tuple, values: dict) -> bool:
    kind = check[0]
    if kind == "and":
        return all(_holds(c, values) for c in check[1])
    if kind == "or":
        return any(_holds(c, values) for c in check[1])
    if kind == "not":
        return not _holds(check[1], values)
    if kind == "truth":
        return bool(_value(check[1], values))
    operands = [_value(o, values) for o in check[1]]
    return all(_OPS[op](a, b) for a, op, b in zip(operands, check[2], operands[1:], strict=False))


def _value(operand: tuple, values: dict):
    if operand[0] == "lit":
        return operand[1]
    got = values.get(operand[1])
    if got is None:
        raise _Failed("NoResult")
    if "err" in got:
        raise _Failed(str(got["err"])[:60] or "Error")
    try:
        return _decode(got["v"])
    except (KeyError, TypeError, ValueError, RecursionError, MemoryError, OverflowError):
        raise _Failed("NotPlainData") from None


_TYPES = {t.__name__: t for t in (int, float, str, bool, type(None), bytes, complex, type, range, list, tuple, set,
                                  frozenset, dict)}


def _decode(x, depth: int = 0):
    """Plain data from the sandbox's tagged JSON (see the harness's `enc`), built from built-in types only."""
    if depth > 200:
        raise ValueError("too deep")
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if t is list:
        return [_decode(v, depth + 1) for v in x]
    if t is not dict or len(x) != 1:
        raise ValueError("not plain data")
    ((tag, body),) = x.items()
    if tag == "int" and type(body) is str:
        return int(body, 16)
    if tag == "bytes" and type(body) is str:
        return bytes.fromhex(body)
    if tag == "type" and body in _TYPES:
        return _TYPES[body]
    if tag == "complex" and type(body) is list and len(body) == 2:
        return complex(float(body[0]), float(body[1]))
    if type(body) is not list:
        raise ValueError("not plain data")
    items = [_decode(v, depth + 1) for v in body]
    if tag == "tuple":
        return tuple(items)
    if tag == "set":
        return set(items)
    if tag == "frozenset":
        return frozenset(items)
    if tag == "dict" and all(type(p) is list and len(p) == 2 for p in items):
        return {k: v for k, v in items}
    raise ValueError("not plain data")


# ------------------------------------------------------------------------------------------- running
def _spawn(cmd: list[str], config: dict, stdin: str, work: str | None, limits: Limits,
           writable: list[str]) -> tuple[RunResult, dict[int, dict]]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work or WORKDIR, "TMPDIR": "/tmp" if work is None else work,
        "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }
    # Unnamed temporary files: RLIMIT_FSIZE bounds what the code can write into them, and nothing the
    # result channel carries is believed beyond "this expression has this plain value".
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as res:
        # "<length>\n<config JSON>" then the program's stdin, read by the harness straight from fd 0 so
        # nothing of the program's input sits in a buffer (`sys.stdin.buffer.read()` / `os.read(0)` see it all)
        head = json.dumps({**config, "fd": res.fileno(), "writable": writable}).encode("ascii")
        payload = b"%d\n" % len(head) + head + stdin.encode("utf-8", "replace")
        proc = subprocess.Popen(
            [*cmd, sys.executable, "-I", "-B", "-c", _HARNESS], stdin=subprocess.PIPE, stdout=out, stderr=err,
            cwd=work or "/", env=env, start_new_session=True, pass_fds=(res.fileno(),),
        )
        timed_out = False
        try:
            proc.communicate(payload, timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BrokenPipeError:  # the code exited without reading its stdin
            pass
        _kill_group(proc)  # the wrapper dies, and the sandbox's PID namespace with it
        returncode = proc.returncode
        markers, reports = _read_results(res, limits.max_file_mb * 2**20)
        run = RunResult(returncode, _read(out, limits.max_output_chars), _read(err, limits.max_output_chars),
                        timed_out, markers)
        return run, reports


def _read_results(f, limit: int) -> tuple[list[str], dict[int, dict]]:
    """The harness's reports: its line on the code, and per test whether it ran and each value."""
    f.seek(0)
    markers: list[str] = []
    reports: dict[int, dict] = {}
    bad: set[int] = set()
    for line in f.read(limit).splitlines():
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if type(msg) is not dict:
            continue
        if "code" in msg and not markers:
            markers.append(f"code {str(msg['code'])[:60]}")
            continue
        i = msg.get("i")
        if type(i) is not int:
            continue
        rep = reports.setdefault(i, {"values": {}})
        j = msg.get("j")
        if type(j) is int:  # one value, or the error computing it
            if j in rep["values"]:
                bad.add(i)  # reported twice: a forged line; the test fails
            rep["values"][j] = msg
        elif "err" in msg:
            rep["err"] = str(msg["err"])[:60] or "Error"
        elif msg.get("ran") is True:
            if rep.get("ran"):
                bad.add(i)
            rep["ran"] = True
    for i in bad:
        reports[i] = {"err": "DuplicateResult"}
    return markers, reports


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _read(f, limit: int) -> str:
    f.seek(0)
    return f.read(limit).decode("utf-8", "replace")


def _same_output(got: str, want: str) -> bool:
    def lines(s: str) -> list[str]:
        return [line.rstrip() for line in s.strip().splitlines()]

    return lines(got) == lines(want)


def _why(run: RunResult, failed: list[str]) -> str:
    if run.timed_out:
        return "timed out"
    if failed:
        return "; ".join(failed[:3])
    tail = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
    return tail[0][:200] if tail else f"exit code {run.returncode}"


# ------------------------------------------------------------------------------------------- isolation
@dataclass(frozen=True)
class _Backend:
    kind: str  # "bwrap", "unshare" or "none"
    prefix: tuple[str, ...] = ()  # unshare's command prefix
    nobody: bool = False  # the code runs as the real `nobody`
    flags: tuple[str, ...] = ()  # bwrap's user-namespace flags
    why: str = ""  # why nothing works ("none")


@functools.cache
def _backend() -> _Backend:
    """The strongest isolation this machine allows, probed once per process (~0.1 s)."""
    failures = []
    bwrap = shutil.which("bwrap")
    if bwrap and sys.platform.startswith("linux"):
        root = os.geteuid() == 0
        options = [_Backend("bwrap", (bwrap,), True)] if root and shutil.which("setpriv") else []
        if not root:
            options += [_Backend("bwrap", (bwrap,), False, ("--unshare-user", "--disable-userns")),
                        _Backend("bwrap", (bwrap,), False, ("--unshare-user",))]
        for box in options:
            why = _probe(box)
            if not why:
                return box
            failures.append(f"bwrap: {why}")
    else:
        failures.append("bwrap: not installed")
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if unshare and sys.platform.startswith("linux"):
        ns = (unshare, "--net", "--pid", "--fork", "--kill-child")
        options = []
        if os.geteuid() == 0 and setpriv:
            options.append(_Backend("unshare", (*ns, "--", setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                               "--clear-groups", "--no-new-privs", "--"), True))
        options.append(_Backend("unshare", (*ns, "--map-root-user", "--"), False))
        for box in options:
            why = _probe(box)
            if not why:
                return box
            failures.append(f"unshare: {why}")
    else:
        failures.append("unshare: not installed")
    return _Backend("none", why="; ".join(dict.fromkeys(failures)))


def _probe(box: _Backend) -> str:
    """'' when a trivial program runs under `box`, else what went wrong (one line)."""
    try:
        done = subprocess.run([*_command(box, Limits()), sys.executable, "-I", "-c", "print('ok')"],
                              capture_output=True, timeout=20, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)[:200]
    if done.returncode == 0 and done.stdout.strip() == b"ok":
        return ""
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return (lines[-1] if lines else f"exit code {done.returncode}")[:200]


def _command(box: _Backend, limits: Limits) -> list[str]:
    """The command prefix that runs an interpreter inside `box`."""
    if box.kind != "bwrap":
        return list(box.prefix)
    size = str(limits.disk_mb * 2**20)
    cmd = [box.prefix[0], *box.flags, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
           "--unshare-net", "--unshare-uts", "--hostname", "sandbox", "--unshare-cgroup-try"]
    if box.nobody:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
            "--perms", "0777", "--size", size, "--tmpfs", WORKDIR, "--chdir", WORKDIR]
    cmd += _mounts(tuple(limits.read_only))  # after /tmp: an interpreter installed under /tmp stays visible
    if box.nobody:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        cmd += ["--", setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all"]
    return [*cmd, "--"]


@functools.cache
def _mounts(extra: tuple[str, ...] = ()) -> list[str]:
    """bwrap arguments that show the system and the Python installation read-only, and nothing else."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime"):
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    paths = _python_paths() + [os.path.abspath(p) for p in extra if os.path.exists(p)]
    bound = ["/usr", *[t for t in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
                       if os.path.isdir(t) and not os.path.islink(t)]]
    made = {"/", "/etc", "/tmp", "/proc", "/dev", WORKDIR}
    for path in sorted(set(paths), key=len):
        if any(_under(path, b) or _under(os.path.realpath(path), b) for b in bound):
            continue
        for parent in reversed(Path(path).parents):
            if str(parent) not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        args += ["--ro-bind", path, path]
        bound.append(path)
        made.add(path)
    return args


def _python_paths() -> list[str]:
    """What the interpreter needs: its installation's bin and lib, the venv's, every site-packages."""
    found = []
    for prefix in {sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix}:
        found += [os.path.join(prefix, d) for d in ("bin", "lib", "lib64")]
        found.append(os.path.join(prefix, "pyvenv.cfg"))
    paths = sysconfig.get_paths()
    found += [paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    found += site.getsitepackages() + [os.path.dirname(os.path.realpath(sys.executable))]
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and sysconfig.get_config_var("LIBDIR"):
        found.append(str(sysconfig.get_config_var("LIBDIR")))
    home = os.path.expanduser("~")
    return [os.path.abspath(p) for p in found if p and os.path.exists(p) and os.path.abspath(p) not in ("/", home)]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def backend() -> str:
    """The fence in effect here: 'bwrap', 'unshare' or 'none' (then runs are refused unless unsafe)."""
    return _backend().kind


def isolation_command() -> tuple[list[str], bool]:
    """The command prefix the code runs under (default limits), and whether it runs as `nobody`."""
    box = _backend()
    return _command(box, Limits()), box.nobody


def isolation() -> list[str]:
    """The layers in effect on this machine, e.g. `['bwrap', 'mountns+netns+pidns', 'nobody', 'rlimits', …]`."""
    box = _backend()
    layers = {"bwrap": ["bwrap", "mountns+netns+pidns"], "unshare": ["unshare", "netns+pidns"]}.get(box.kind, [])
    if box.kind != "none":
        layers.append("nobody" if box.nobody else "userns")
    return [*layers, "rlimits", "timeout+kill", "audit-hook"]


# The program that runs inside the sandbox (`python -I -B -c`). It reads its config from the head of stdin,
# lowers its own limits (irreversible for a non-root process), captures every builtin it needs,
# installs the audit hook, runs the code, then the test statements and expressions, and writes one JSON
# line per result to the result descriptor. Nothing here is trusted by the parent beyond "values".
_HARNESS = r'''
import builtins, json, operator, os, resource, sys, traceback

def _config():
    read, head, data = os.read, b"", b""
    while not head.endswith(b"\n"):
        byte = read(0, 1)
        if not byte:
            os._exit(2)
        head += byte
    size = int(head)
    while len(data) < size:
        chunk = read(0, size - len(data))
        if not chunk:
            os._exit(2)
        data += chunk
    return json.loads(data)

def _main():
    cfg = _config()
    for name, value in (("RLIMIT_AS", cfg["memory"]), ("RLIMIT_NPROC", cfg["nproc"]),
                        ("RLIMIT_FSIZE", cfg["fsize"]), ("RLIMIT_CPU", cfg["cpu"]),
                        ("RLIMIT_NOFILE", 256), ("RLIMIT_CORE", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):
            pass
    fd, code, plans = cfg["fd"], cfg["code"], cfg["tests"]
    write, dumps, exit_ = os.write, json.dumps, os._exit
    compile_, exec_, eval_, type_, enumerate_ = compile, exec, eval, type, enumerate
    print_exc = traceback.print_exc
    BaseException_, SystemExit_ = BaseException, SystemExit

    def report(msg):
        try:
            data = (dumps(msg) + "\n").encode("ascii")
            while data:
                data = data[write(fd, data):]
        except BaseException_:
            pass

    try:
        with open("solution.py", "w", encoding="utf-8", errors="surrogatepass") as f:  # for tracebacks
            f.write(code)
    except (OSError, ValueError):
        pass
    pristine = dict(builtins.__dict__)  # the tests' builtins, before the code can replace any
    encode, compare = _encoder()
    pristine[cfg["compare"]] = compare
    pop = dict.pop
    if cfg["audit"]:
        sys.addaudithook(_hook([os.path.realpath(p) for p in cfg["writable"]]))
    sys.argv = ["solution.py"]
    ns = {"__name__": "solution" if plans is not None else "__main__", "__file__": "solution.py",
          "__builtins__": builtins}
    try:
        exec_(compile_(code, "solution.py", "exec"), ns)
        report({"code": "ok"})
    except SystemExit_:
        report({"code": "exit"})
    except BaseException_ as e:
        report({"code": type_(e).__name__})
        try:
            print_exc()
        except BaseException_:
            pass
    ns["__builtins__"] = pristine
    for plan in plans or []:
        i = plan["i"]
        pop(ns, cfg["compare"], None)  # the code cannot shadow the strict comparison with a global
        try:
            if plan["pre"] is not None:
                exec_(compile_(plan["pre"], "test_%d" % i, "exec"), ns)
        except BaseException_ as e:
            report({"i": i, "err": type_(e).__name__})
            continue
        report({"i": i, "ran": True})
        for j, src in enumerate_(plan["exprs"]):
            try:
                report({"i": i, "j": j, "v": encode(eval_(compile_(src, "test_%d" % i, "eval"), ns))})
            except BaseException_ as e:
                report({"i": i, "j": j, "err": type_(e).__name__})
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException_:
        pass
    exit_(0)

def _encoder():
    """(values to tagged plain JSON by exact type, else NotPlainData; a comparison that insists on it)."""
    class NotPlainData(Exception):
        pass
    type_, hex_, list_, isinstance_, getattr_ = type, hex, list, isinstance, getattr
    int_, float_, str_, bool_, none = int, float, str, bool, type(None)
    tuple_, set_, frozenset_, dict_, bytes_, complex_ = tuple, set, frozenset, dict, bytes, complex
    scalars = frozenset({int_, float_, str_, bool_, none, bytes_, complex_, type_, range, list_, tuple_, set_,
                         frozenset_, dict_})  # these types themselves (`type(x) == int`) compare by identity
    atoms = frozenset({int_, float_, str_, bool_, none, bytes_, complex_, range})
    ops = {"Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt,
           "GtE": operator.ge, "In": operator.contains, "NotIn": operator.contains}
    modules = sys.modules

    def numpy_scalar(v, t):
        np = modules.get("numpy")
        generic = getattr_(np, "generic", None) if np is not None else None
        return isinstance_(generic, type_) and isinstance_(v, generic) and t.__module__ == "numpy"

    def enc(v, depth=0):
        if depth > 100:
            raise NotPlainData("nested too deeply")
        t = type_(v)
        if t is bool_ or t is str_ or t is float_ or t is none:
            return v
        if t is int_:
            return v if -2**62 < v < 2**62 else {"int": hex_(v)}
        if t is list_:
            return [enc(x, depth + 1) for x in v]
        if t is tuple_ or t is set_ or t is frozenset_:
            return {t.__name__: [enc(x, depth + 1) for x in v]}
        if t is dict_:
            return {"dict": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if t is bytes_:
            return {"bytes": v.hex()}
        if t is complex_:
            return {"complex": [v.real, v.imag]}
        if t is type_ and v in scalars:
            return {"type": v.__name__}
        if numpy_scalar(v, t):
            return enc(v.item(), depth + 1)
        raise NotPlainData(t.__name__)

    def trusted(v, depth=0):
        """Whether `==` on v runs only built-in code: plain data, types, numpy arrays of numbers."""
        if depth > 100:
            return False
        t = type_(v)
        if t is list_ or t is tuple_ or t is set_ or t is frozenset_:
            for x in v:
                if not trusted(x, depth + 1):
                    return False
            return True
        if t is dict_:
            for k, x in v.items():
                if not (trusted(k, depth + 1) and trusted(x, depth + 1)):
                    return False
            return True
        if t in atoms or (t is type_ and v in scalars) or numpy_scalar(v, t):
            return True
        np = modules.get("numpy")
        return np is not None and t is getattr_(np, "ndarray", None) and v.dtype.kind not in "OV"

    def compare(a, op, b):
        if not (trusted(a) and trusted(b)):
            raise NotPlainData("comparing %s with %s" % (type_(a).__name__, type_(b).__name__))
        if op == "In":
            return ops[op](b, a)
        if op == "NotIn":
            return not ops[op](b, a)
        return ops[op](a, b)

    return enc, compare

def _hook(writable, isinstance=isinstance, str=str, bytes=bytes, int=int, any=any, len=len,
          PermissionError=PermissionError, ImportError=ImportError, Exception=Exception,
          realpath=os.path.realpath, fspath=os.fspath, sep=os.sep):
    blocked = frozenset({
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
        "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg", "os.fork", "os.forkpty", "os.exec",
        "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg",
        "signal.pthread_kill", "os.startfile", "sys._current_frames", "gc.get_objects", "gc.get_referrers",
        "gc.get_referents", "ctypes.dlopen", "ctypes.dlsym", "cpython.PyInterpreterState_New",
    })
    modules = frozenset({
        "ctypes", "_ctypes", "_posixsubprocess", "cffi", "_cffi_backend", "_xxsubinterpreters",
        "_interpreters", "_xxinterpchannels", "_interpchannels", "_interpqueues", "interpreters",
        "_testcapi", "_testinternalcapi", "_testmultiphase", "_testsinglephase", "_testimportmultiple",
        "_testbuffer", "_testclinic",
    })
    path_events = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1),
                   "os.chmod": (0,), "os.chown": (0,), "os.link": (1,), "os.symlink": (1,),
                   "os.truncate": (0,), "os.utime": (0,), "shutil.rmtree": (0,), "os.chdir": (0,)}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    roots = tuple(writable)

    def inside(path):
        if isinstance(path, int):
            return True
        try:
            p = realpath(fspath(path) if not isinstance(path, bytes) else path.decode("utf-8", "replace"))
        except Exception:
            return False
        return p == "/dev/null" or any(p == r or p.startswith(r + sep) for r in roots)

    def hook(event, args):
        if event in blocked:
            raise PermissionError("sandbox: %s is not allowed" % event)
        if event == "import" and args and args[0] in modules:
            raise ImportError("sandbox: importing %s is not allowed" % args[0])
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1] or "", args[2] or 0
            writing = any(c in str(mode) for c in "wax+") or flags & write_flags
            if writing and not inside(path):
                raise PermissionError("sandbox: writing outside the working directory is not allowed")
        elif event == "sqlite3.connect" and args and str(args[0]) not in ("", ":memory:") \
                and not str(args[0]).startswith("file::memory:") and not inside(args[0]):
            raise PermissionError("sandbox: a database outside the working directory is not allowed")
        elif event in path_events:
            for k in path_events[event]:
                if k < len(args) and not inside(args[k]):
                    raise PermissionError("sandbox: %s outside the working directory is not allowed" % event)

    return hook

_main()
'''
