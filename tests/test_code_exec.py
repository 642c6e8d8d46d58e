"""The code-execution sandbox: right/wrong/partial code, and the adversarial list — loops for ever,
allocates 10 GB, forks, opens a socket, writes outside its folder, floods its output, fakes its exit.

Limits are short (1-2 s) so the whole file runs in a few seconds. Which OS layers exist depends on the
machine (`isolation()`); tests of a layer that is missing are skipped with that reason, and the Python
audit-hook layer is tested everywhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading

import pytest

from thinktune.sandbox import (
    NOBODY,
    Limits,
    extract_code,
    isolation,
    isolation_command,
    run_python,
    run_tests,
)

FAST = Limits(timeout_s=2.0, memory_mb=256)
RAW = Limits(timeout_s=2.0, memory_mb=256, audit_hook=False)  # OS layers alone
NAMESPACED = bool(isolation_command()[0])
AS_NOBODY = isolation_command()[1]
needs_ns = pytest.mark.skipif(not NAMESPACED, reason="no unshare/user namespaces here: only rlimits + audit hook")
needs_nobody = pytest.mark.skipif(not AS_NOBODY, reason="not running as root with setpriv: code keeps our uid")


# ----------------------------------------------------------------------------------------- extraction
@pytest.mark.parametrize("text,expected", [
    ("```python\nprint(1)\n```", "print(1)\n"),
    ("intro\n```py\na = 1\n```\nthen\n```python\nb = 2\n```", "b = 2\n"),  # the last block
    ("```\nc = 3\n```", "c = 3\n"),
    ("d = 4", "d = 4"),  # no fence: the text itself
    ("", None),
    ("   \n", None),
    (None, None),
    ("```python\n```", None),
])
def test_extract_code(text, expected):
    assert extract_code(text) == expected


# ------------------------------------------------------------------------------------------- scoring
ADD = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize("code,passed", [
    (ADD, 3),
    ("def add(a, b):\n    return a - b\n", 1),  # add(2, 0) passes by luck
    ("def add(a, b):\n    return a * b\n", 0),
    ("def add(a, b) return a + b", 0),  # syntax error
    ("raise RuntimeError('boom')\n" + ADD, 0),  # crashes before defining add
    ("import sys\nsys.exit(0)\n" + ADD, 0),  # exits early: add never defined
    ("import os\nos._exit(0)\n", 0),  # dies before the tests: no forged pass
    ("def add(a, b):\n    return '✓' and a + b  # ünïcode\n", 3),
])
def test_assert_tests_table(code, passed):
    report = run_tests(code, ["assert add(2, 3) == 5", "assert add(2, 0) == 2", "assert add(-1, 1) == 0"], FAST)
    assert report.passed == passed and report.total == 3
    assert report.fraction_passed == pytest.approx(passed / 3)
    assert (report.errors == []) == (passed == 3)


def test_io_tests_compare_stdout():
    program = "import sys\nnums = list(map(int, sys.stdin.read().split()))\nprint(sum(nums))\n"
    tests = [{"input": "1 2 3", "output": "6"}, {"input": "10\n-4", "output": "6\n"}, {"input": "1", "output": "2"}]
    report = run_tests(program, tests, FAST)
    assert (report.passed, report.total) == (2, 3)


def test_main_block_runs_as_a_program_but_not_under_assert_tests():
    code = ADD + "if __name__ == '__main__':\n    print('main ran')\n"
    assert run_python(code, limits=FAST).stdout.strip() == "main ran"
    assert "main ran" not in run_python(code, tests=["assert add(1, 1) == 2"], limits=FAST).stdout


def test_bad_test_specs_are_refused():
    with pytest.raises(ValueError, match="each test"):
        run_tests(ADD, [42])
    with pytest.raises(ValueError, match="each test"):
        run_tests(ADD, [{"input": "1"}])


def test_no_tests_scores_zero():
    assert run_tests(ADD, []).fraction_passed == 0.0


def test_works_from_worker_threads():
    results = []
    threads = [threading.Thread(target=lambda: results.append(run_tests(ADD, ["assert add(1, 2) == 3"], FAST)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.passed for r in results] == [1, 1, 1]


# ------------------------------------------------------------------------------------------ adversarial
def test_infinite_loop_is_killed_at_the_wall_time_limit():
    report = run_tests("while True:\n    pass\n", ["assert True"], Limits(timeout_s=1.0))
    assert report.timed_out and report.passed == 0 and report.errors == ["timed out"]


def test_loop_after_some_tests_keeps_the_passes_before_it():
    code = ADD + "def spin():\n    while True:\n        pass\n"
    report = run_tests(code, ["assert add(1, 1) == 2", "spin()", "assert add(2, 2) == 4"], Limits(timeout_s=1.0))
    assert report.timed_out and report.passed == 1


@pytest.mark.parametrize("limits", [FAST, RAW], ids=["audit", "os-only"])
def test_10gb_allocation_is_stopped_by_the_memory_limit(limits):
    run = run_python("x = bytearray(10 * 1024**3)\n", tests=["assert True"], limits=limits)
    assert "code MemoryError" in run.markers
    assert not run.timed_out


def test_fork_is_refused_by_the_audit_hook():
    run = run_python("import os\nos.fork()\n", tests=["assert True"], limits=FAST)
    assert "code PermissionError" in run.markers and "os.fork" in run.stderr


@needs_ns
def test_fork_bomb_is_stopped_by_rlimit_nproc():
    # Bounded, so it cannot hurt a machine where the limit would not hold; the sleeping children are
    # killed with the sandbox's PID namespace when the harness exits.
    bomb = (
        "import os, time\nn = 0\n"
        "for _ in range(200):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
        "    n += 1\n"
        "print(n)\n"
    )
    before = _nobody_processes()
    run = run_python(bomb, limits=Limits(timeout_s=5.0, max_procs=8, audit_hook=False))
    assert not run.timed_out
    forks = int(run.stdout.strip())
    assert 0 < forks < 8  # the limit counts the harness itself too
    if AS_NOBODY:
        assert _nobody_processes() <= before  # nothing left running


def test_subprocess_and_system_are_refused_by_the_audit_hook():
    for code in ("import subprocess\nsubprocess.run(['true'])\n", "import os\nos.system('true')\n",
                 "import ctypes\n"):
        run = run_python(code, tests=["assert True"], limits=FAST)
        assert "code PermissionError" in run.markers, code


@pytest.fixture
def local_server():
    """A TCP server on 127.0.0.1 in the test's own network namespace."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server.getsockname()[1]
    server.close()


CONNECT = "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('connected')\n"


def test_socket_is_refused_by_the_audit_hook(local_server):
    run = run_python(CONNECT.format(port=local_server), limits=FAST)
    assert "connected" not in run.stdout and "PermissionError" in run.stderr


@needs_ns
def test_network_namespace_has_no_network_even_without_the_hook(local_server):
    run = run_python(CONNECT.format(port=local_server), limits=RAW)
    assert "connected" not in run.stdout
    assert "Network is unreachable" in run.stderr or "Connection refused" in run.stderr


def test_writing_outside_the_folder_is_refused_by_the_audit_hook(tmp_path):
    target = tmp_path / "escaped.txt"
    for code in (f"open({str(target)!r}, 'w').write('x')\n",
                 f"import os\nos.close(os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT))\n",
                 f"import os\nos.symlink({str(target)!r}, 'link')\nopen('link', 'w').write('x')\n",
                 f"import os\nos.chdir({str(tmp_path)!r})\n"):
        run = run_python(code, tests=["assert True"], limits=FAST)
        assert "code PermissionError" in run.markers, code
    assert not target.exists()


def test_a_database_outside_the_folder_is_refused_and_one_in_memory_works(tmp_path):
    target = tmp_path / "escaped.db"
    run = run_python(f"import sqlite3\nsqlite3.connect({str(target)!r})\n", tests=["assert True"], limits=FAST)
    assert "code PermissionError" in run.markers and not target.exists()
    ok = run_python("import sqlite3\ndb = sqlite3.connect(':memory:')\n", tests=["assert db.execute('select 1')"],
                    limits=FAST)
    assert "test 0 pass" in ok.markers


@needs_nobody
def test_a_private_tmpdir_does_not_lock_nobody_out(tmp_path, monkeypatch):
    import tempfile

    private = tmp_path / "private"
    (private / "tmp").mkdir(parents=True)
    private.chmod(0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private / "tmp"))
    report = run_tests("def f():\n    return 1\n", ["assert f() == 1"], limits=FAST)
    assert report.passed == 1, report


@needs_nobody
def test_as_nobody_the_os_refuses_writes_to_our_files_without_the_hook(tmp_path):
    # Documented limit: world-writable places such as /tmp stay writable for `nobody` without the hook.
    target = tmp_path / "escaped.txt"
    run = run_python(f"open({str(target)!r}, 'w').write('x')\n", tests=["assert True"], limits=RAW)
    assert "code PermissionError" in run.markers
    assert not target.exists()


def test_writing_inside_the_folder_works_and_the_folder_is_thrown_away():
    code = "import os\nopen('notes.txt', 'w').write('hi')\nprint(open('notes.txt').read(), os.getcwd())\n"
    run = run_python(code, limits=FAST)
    text, folder = run.stdout.split()
    assert text == "hi" and "thinktune-exec-" in folder
    assert not os.path.exists(folder)


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    run = run_python("import os\nprint(sorted(os.environ.items()))\n", limits=FAST)
    assert "hf_secret_value" not in run.stdout and "PATH" in run.stdout


def test_output_flood_is_bounded():
    # Python ignores SIGXFSZ, so past RLIMIT_FSIZE each write fails with EFBIG and the loop crashes
    run = run_python("while True:\n    print('x' * 1000)\n", limits=Limits(timeout_s=5.0, max_file_mb=1))
    assert len(run.stdout) <= Limits().max_output_chars
    assert not run.timed_out and "File too large" in run.stderr


def test_forging_a_result_line_on_stdout_does_not_pass():
    code = "print('test 0 pass')\nimport os\nos._exit(0)\n"
    assert run_tests(code, ["assert False"], FAST).passed == 0


def test_isolation_names_the_layers_in_effect():
    layers = isolation()
    assert layers[:2] == ["rlimits", "timeout+killpg"] and layers[-1] == "audit-hook"
    assert ("netns+pidns" in layers) == NAMESPACED


def _nobody_processes() -> int:
    done = subprocess.run(["ps", "-u", str(NOBODY), "-o", "pid="], capture_output=True, text=True)
    return len(done.stdout.split())


def test_the_old_module_re_exports_the_sandbox():
    import thinktune.rewards.code_exec as old
    import thinktune.sandbox as sandbox

    for name in old.__all__:
        assert getattr(old, name) is getattr(sandbox, name)
    assert old.run_tests is run_tests and old.Limits is Limits
