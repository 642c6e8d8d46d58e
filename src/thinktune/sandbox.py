"""Run a completion's Python code against test cases in a throw-away, limited subprocess.

A leaf module (standard library only): both answer checking (`thinktune.tasks.check_answer`, the `code`
verifier) and the rewards build on it, and it imports neither. `thinktune.rewards.code_exec` re-exports
its public names for older imports.

`run_tests(code, tests)` returns how many tests passed. A test is either a Python statement run after the
code in the same namespace (`"assert add(2, 3) == 5"`, all such tests in one process, each reported on its
own) or `{"input": "...", "output": "..."}`: the code runs as a program with that stdin and passes when its
stdout matches (whitespace at line ends ignored), one process per test.

What each run gets, layer by layer (`isolation()` says which layers this machine supports):

1. **OS** — a fresh temporary working directory, deleted afterwards; a scrubbed environment (no tokens,
   proxies or `PYTHONPATH`, `HOME` = the folder); `python -I -B` (no user site, no env vars, no bytecode
   writes); a wall-time limit after which the whole process group is `SIGKILL`ed; `setrlimit`: address
   space (`RLIMIT_AS`, default 512 MB, so allocating 10 GB raises `MemoryError`), processes
   (`RLIMIT_NPROC`, so a fork bomb stops at a handful), CPU seconds, file size (`RLIMIT_FSIZE`: writes past
   it fail with "File too large", which also caps captured output), open files, no core dumps.
2. **Namespaces and a throw-away user**, when available — `unshare --net --pid --fork --kill-child`: an
   empty network namespace (no interfaces up, so every connection fails with "network unreachable") and
   a PID namespace (killing its init kills every descendant, even ones that called `setsid`). When
   thinktune runs as root the code then runs as `nobody` via `setpriv` (no capabilities, no new
   privileges), so it cannot write files that `nobody` cannot write; otherwise `--map-root-user` is used.
3. **A Python audit hook** (PEP 578), installed before the code runs: refuses sockets, DNS lookups,
   `fork`/`exec`/`subprocess`/`os.system`, signals to other processes, importing `ctypes` /
   `_posixsubprocess`, writes, renames and deletions outside the working directory, and `gc` object
   introspection (one way to read the harness's result nonce; frames are another, left open because
   `collections.namedtuple` and `enum` need `sys._getframe`).

What it does NOT protect against — do not run code from untrusted *people* with it:
- It is not a security sandbox: no seccomp, no mount namespace, no chroot. Code can **read** any file the
  running user (or `nobody`) can read, e.g. world-readable source files and `/etc/passwd`.
- Without the namespace layer (no `unshare`, or user namespaces disabled) the network is blocked only by
  the audit hook, and a process that escapes the process group survives the timeout.
- As `nobody`, world-writable places (`/tmp`, `/dev/shm`) are writable at the OS level; only the audit
  hook refuses Python-level writes there. Without the `nobody` layer the code can write wherever the
  running user can, except through Python calls the hook sees.
- Audit hooks see only Python-level calls, and only those CPython raises events for: `os.mkfifo` and
  `os.mknod` raise none (so as `nobody` they can create files in `/tmp`), C extensions already loaded
  (e.g. numpy) and anything that reaches raw syscalls bypass them. A completion that deliberately introspects the harness can forge a
  pass. Disk use inside the folder is bounded per file (`RLIMIT_FSIZE`), not in total.
- Resource exhaustion below the limits (e.g. 16 processes × the memory limit when the audit hook is
  bypassed) is possible; `RLIMIT_NPROC` counts every process of the user, so under the plain layer a
  user with many processes may see legitimate forks refused.

It is meant for RL rewards on one's own model's completions (the threat is reward hacking and accidents:
infinite loops, huge allocations, stray writes), the same stance as nanochat's `execution.py`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Per-process limits of a sandboxed run."""

    timeout_s: float = 5.0  # wall time per process
    memory_mb: int = 512  # RLIMIT_AS
    max_procs: int = 16  # RLIMIT_NPROC (counts every process of the user the code runs as)
    max_file_mb: int = 16  # RLIMIT_FSIZE: any file written, captured stdout/stderr included
    max_output_chars: int = 100_000  # stdout/stderr kept in the result
    audit_hook: bool = True  # the Python-level layer; tests turn it off to check the OS layers alone


@dataclass
class RunResult:
    """One process's outcome."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    markers: list[str] = field(default_factory=list)  # harness reports (`code ok`, `test 0 pass`, …)


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
    """
    statements = [t for t in tests if isinstance(t, str)]
    io_tests = [t for t in tests if isinstance(t, dict)]
    if len(statements) + len(io_tests) != len(tests) or any("output" not in t for t in io_tests):
        raise ValueError("each test must be a Python statement or a mapping with 'input' and 'output'")
    report = TestReport(passed=0, total=len(tests))
    if statements:
        run = run_python(code, tests=statements, limits=limits)
        report.timed_out |= run.timed_out
        passed = {m.split()[1] for m in run.markers if m.startswith("test ") and m.endswith(" pass")}
        report.passed += len(passed)
        if len(passed) < len(statements):
            report.errors.append(_why(run, [m for m in run.markers if m.startswith("test ") and "pass" not in m]))
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
        tests: statements to run after the code in its namespace; each is reported as a marker
            `test <i> pass` or `test <i> <ExceptionName>`. The code then runs as module `solution`
            (its `if __name__ == "__main__":` block is skipped); in program mode it runs as `__main__`.
        limits: the limits.
    """
    nonce = secrets.token_hex(16)
    prefix, drop_to_nobody = isolation_command()
    # `nobody` must be able to reach both folders: a $TMPDIR inside a private (0700) folder would make
    # every run fail with "Permission denied", so they go under /tmp then.
    root = "/tmp" if drop_to_nobody and os.path.isdir("/tmp") else None
    with tempfile.TemporaryDirectory(prefix="thinktune-exec-", dir=root) as tmp:
        work = Path(tmp)
        (work / "solution.py").write_text(code, encoding="utf-8")
        harness = Path(tempfile.mkdtemp(prefix="thinktune-harness-", dir=root))  # outside the working directory
        try:
            (harness / "harness.py").write_text(_HARNESS, encoding="utf-8")
            os.chmod(harness, 0o755)
            os.chmod(harness / "harness.py", 0o644)
            if drop_to_nobody:
                os.chown(work, NOBODY, NOBODY)
                os.chown(work / "solution.py", NOBODY, NOBODY)
            config = {
                "nonce": nonce, "workdir": str(work), "tests": tests, "audit": limits.audit_hook,
                "memory": limits.memory_mb * 2**20, "nproc": limits.max_procs,
                "fsize": limits.max_file_mb * 2**20, "cpu": int(limits.timeout_s) + 2,
            }
            cmd = [*prefix, sys.executable, "-I", "-B", str(harness / "harness.py")]
            return _spawn(cmd, json.dumps(config) + "\n" + stdin, work, nonce, limits)
        finally:
            shutil.rmtree(harness, ignore_errors=True)


def _spawn(cmd: list[str], stdin: str, work: Path, nonce: str, limits: Limits) -> RunResult:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8"}
    # Unnamed temporary files: the sandboxed code cannot open them by path to forge results, and
    # RLIMIT_FSIZE bounds how much it can write into them.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as res:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=work,
            env={**env, "THINKTUNE_RESULT_FD": str(res.fileno())},  # the harness's private result channel
            start_new_session=True, pass_fds=(res.fileno(),),
        )
        timed_out = False
        try:
            proc.communicate(stdin.encode("utf-8", "replace"), timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        except BrokenPipeError:  # the code exited without reading its stdin
            proc.wait()
        returncode = proc.returncode
        _kill_group(proc)  # children it left behind (sleeping forks) go with it
        markers = [
            line[len(nonce) + 1 :].strip()
            for line in _read(res, 1_000_000).splitlines()
            if line.startswith(nonce + " ")
        ]
        return RunResult(returncode, _read(out, limits.max_output_chars), _read(err, limits.max_output_chars),
                         timed_out, markers)


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
@functools.cache
def isolation_command() -> tuple[list[str], bool]:
    """The command prefix for the strongest isolation this machine allows, and whether it drops to nobody.

    Probed once per process by running a trivial program under each candidate (~0.1 s).
    """
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    candidates: list[tuple[list[str], bool]] = []
    if unshare and sys.platform.startswith("linux"):
        ns = [unshare, "--net", "--pid", "--fork", "--kill-child"]
        if os.geteuid() == 0 and setpriv:
            candidates.append(([*ns, "--", setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                "--clear-groups", "--no-new-privs", "--"], True))
        candidates.append(([*ns, "--map-root-user", "--"], False))
    for prefix, drop in candidates:
        try:
            done = subprocess.run([*prefix, sys.executable, "-I", "-c", "print('ok')"], capture_output=True,
                                  timeout=20, cwd="/")
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip() == b"ok":
            return prefix, drop
    return [], False


def isolation() -> list[str]:
    """The layers in effect on this machine, e.g. `['rlimits', 'netns+pidns', 'nobody', 'audit-hook']`."""
    prefix, drop = isolation_command()
    layers = ["rlimits", "timeout+killpg"]
    if prefix:
        layers.append("netns+pidns")
        layers.append("nobody" if drop else "userns")
    return [*layers, "audit-hook"]


# The program that runs inside the sandbox. It reads its config from the first stdin line, lowers its own
# limits (irreversible for a non-root process), installs the audit hook, then runs the code and the tests,
# reporting each on a private file descriptor, prefixed with a nonce the code never sees as input.
_HARNESS = r'''
import json, os, resource, sys, traceback

def _main():
    cfg = json.loads(sys.stdin.readline())
    for name, value in (("RLIMIT_AS", cfg["memory"]), ("RLIMIT_NPROC", cfg["nproc"]),
                        ("RLIMIT_FSIZE", cfg["fsize"]), ("RLIMIT_CPU", cfg["cpu"]),
                        ("RLIMIT_NOFILE", 256), ("RLIMIT_CORE", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):
            pass
    nonce, work, tests = cfg["nonce"], os.path.realpath(cfg["workdir"]), cfg["tests"]
    res = os.fdopen(int(os.environ.pop("THINKTUNE_RESULT_FD")), "w", buffering=1)
    code = open(os.path.join(work, "solution.py"), encoding="utf-8").read()
    if cfg["audit"]:
        sys.addaudithook(_make_hook(work))
    ns = {"__name__": "solution" if tests is not None else "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "solution.py", "exec"), ns)
        res.write(nonce + " code ok\n")
    except SystemExit:
        res.write(nonce + " code exit\n")
    except BaseException as e:
        res.write(nonce + " code " + type(e).__name__ + "\n")
        traceback.print_exc()
    for i, test in enumerate(tests or []):
        try:
            exec(compile(test, "test_%d" % i, "exec"), ns)
            res.write("%s test %d pass\n" % (nonce, i))
        except BaseException as e:
            res.write("%s test %d %s\n" % (nonce, i, type(e).__name__))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    res.flush()
    os._exit(0)

def _make_hook(work):
    blocked = {
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
        "socket.gethostbyaddr", "socket.sendto", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn",
        "os.spawn", "os.system", "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "os.startfile",
        "sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "ctypes.dlopen", "ctypes.dlsym",
    }
    modules = {"ctypes", "_ctypes", "_posixsubprocess", "cffi"}
    path_events = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1),
                   "os.chmod": (0,), "os.chown": (0,), "os.link": (1,), "os.symlink": (1,),
                   "os.truncate": (0,), "os.utime": (0,), "shutil.rmtree": (0,), "os.chdir": (0,)}
    fspath, realpath, sep = os.fspath, os.path.realpath, os.sep
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path):
        if isinstance(path, int):
            return True
        try:
            p = realpath(fspath(path) if not isinstance(path, bytes) else path.decode("utf-8", "replace"))
        except Exception:
            return False
        return p == work or p.startswith(work + sep) or p == "/dev/null"

    def hook(event, args):
        if event in blocked:
            raise PermissionError("sandbox: %s is not allowed" % event)
        if event == "import" and args and args[0] in modules:
            raise PermissionError("sandbox: importing %s is not allowed" % args[0])
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
