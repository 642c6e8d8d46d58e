"""The code-execution sandbox: right/wrong/partial code, grading the code cannot reach, and a table of hostile
completions (each must score 0 and leave the host clean), plus the refusal when no isolation exists.

Limits are short (1-2 s) so the file runs in well under a minute. Rows that only bubblewrap stops (the
unshare fallback has no mount namespace) skip, saying so, where `bwrap` is missing; the refusal path is
forced with monkeypatch and runs everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

import thinktune.sandbox as sandbox
from thinktune.sandbox import (
    NOBODY,
    Limits,
    SandboxUnavailable,
    extract_code,
    isolation,
    isolation_command,
    run_python,
    run_tests,
)

FAST = Limits(timeout_s=2.0, memory_mb=256)
RAW = Limits(timeout_s=2.0, memory_mb=256, audit_hook=False)  # the OS layers alone
BACKEND = sandbox.backend()
AS_NOBODY = isolation_command()[1]
PROJECT = Path(__file__).resolve().parents[1]
needs_box = pytest.mark.skipif(BACKEND == "none", reason="neither bwrap nor unshare works here: runs are refused "
                                                          "(that refusal is tested below)")
needs_bwrap = pytest.mark.skipif(BACKEND != "bwrap", reason=f"bubblewrap (bwrap) is not available here (fence: "
                                                            f"{BACKEND}); only it gives a private mount namespace")
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


# ------------------------------------------------------------------------------- grading in the parent
def test_comparisons_the_sandbox_runs_go_through_the_strict_compare():
    plan, _ = sandbox._plan("def check(c):\n    assert c(1) == 2\ncheck(f)\nassert all(f(i) != i for i in x)", 0, "cmp")
    assert plan["pre"] == "def check(c):\n    assert cmp(c(1), 'Eq', 2)\ncheck(f)"
    assert plan["exprs"] == ["all((cmp(f(i), 'NotEq', i) for i in x))"]
    assert sandbox._plan("assert f() is None or 0 < f() < 2", 0, "cmp")[0]["exprs"] == ["f()", "f()"]


def test_a_test_is_split_and_its_literals_never_reach_the_sandbox():
    plan, check = sandbox._plan("x = add(1, 1)\nassert add(2, 3) == 5 and x in [2, 7]", 0)
    assert plan["pre"] == "x = add(1, 1)" and plan["exprs"] == ["add(2, 3)", "x"]
    assert "5" not in json.dumps(plan) and "7" not in json.dumps(plan)
    assert check == ("and", [("cmp", [("expr", 0), ("lit", 5)], ["Eq"]),
                             ("cmp", [("expr", 1), ("lit", [2, 7])], ["In"])])
    assert sandbox._plan("check(add)", 1) == ({"i": 1, "pre": "check(add)", "exprs": []}, None)
    assert sandbox._plan("assert (", 2)[1] is None  # a broken test: the sandbox reports its SyntaxError


@pytest.mark.parametrize("wire,value", [
    (None, None), (True, True), (3, 3), (2.5, 2.5), ("é", "é"), ([1, [2]], [1, [2]]),
    ({"tuple": [1, 2]}, (1, 2)), ({"set": [1]}, {1}), ({"frozenset": []}, frozenset()),
    ({"dict": [[{"tuple": [1]}, "a"]]}, {(1,): "a"}), ({"bytes": "6869"}, b"hi"),
    ({"complex": [1.0, -2.0]}, 1 - 2j), ({"int": hex(10**40)}, 10**40),
])
def test_plain_data_is_rebuilt_from_built_in_types(wire, value):
    got = sandbox._decode(wire)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("wire", [
    {"Anything": []}, {"tuple": [1], "set": [2]}, {"dict": [[1, 2, 3]]}, {"set": [[1]]}, {"int": 5},
    {"bytes": "zz"}, json.loads("[" * 300 + "]" * 300),
])
def test_anything_else_on_the_wire_is_refused(wire):
    with pytest.raises((ValueError, TypeError, RecursionError)):
        sandbox._decode(wire)


def test_forged_and_garbage_result_lines_do_not_pass():
    lines = [b"not json", b"[1]", b'{"i": "0"}', b'{"i": 0, "ran": true}', b'{"i": 0, "ran": true}',
             b'{"i": 1, "ran": true}', b'{"i": 1, "j": 0, "v": 5}', b'{"i": 1, "j": 0, "v": 5}',
             b'{"i": 2, "ran": true}', b'{"i": 2, "j": 0, "v": {"Anything": []}}']
    with tempfile.TemporaryFile() as f:
        f.write(b"\n".join(lines))
        _, reports = sandbox._read_results(f, 10**6)
    check = ("cmp", [("expr", 0), ("lit", 5)], ["Eq"])
    assert sandbox._verdict(0, None, reports.get(0)) == "test 0 DuplicateResult"
    assert sandbox._verdict(1, check, reports.get(1)) == "test 1 DuplicateResult"
    assert sandbox._verdict(2, check, reports.get(2)) == "test 2 NotPlainData"
    assert sandbox._verdict(3, check, reports.get(3)) == "test 3 NoResult"


# ------------------------------------------------------------------------------------------- scoring
ADD = "def add(a, b):\n    return a + b\n"


@needs_box
@pytest.mark.parametrize("code,passed", [
    (ADD, 3),
    ("def add(a, b):\n    return a - b\n", 1),  # add(2, 0) passes by luck
    ("def add(a, b):\n    return a * b\n", 0),
    ("def add(a, b) return a + b", 0),  # syntax error
    ("raise RuntimeError('boom')\n" + ADD, 0),  # crashes before defining add
    ("import sys\nsys.exit(0)\n" + ADD, 0),  # exits early: add never defined
    ("import os\nos._exit(0)\n", 0),  # dies before the tests: no forged pass
    ("def add(a, b):\n    return '✓' and a + b  # ünïcode\n", 3),
    ("def add(a, b):\n    return float(a + b)\n", 3),  # 5.0 == 5, as in Python
])
def test_assert_tests_table(code, passed):
    report = run_tests(code, ["assert add(2, 3) == 5", "assert add(2, 0) == 2", "assert add(-1, 1) == 0"], FAST)
    assert report.passed == passed and report.total == 3
    assert report.fraction_passed == pytest.approx(passed / 3)
    assert (report.errors == []) == (passed == 3)


PLAIN = """
def pair(n):
    return divmod(n, 3)
def table(n):
    return {i: [i * i, str(i)] for i in range(n)}
def uniq(xs):
    return set(xs)
def nothing():
    return None
def half(x):
    return x / 2
def raw(s):
    return s.encode()
"""


@needs_box
@pytest.mark.parametrize("test", [
    "assert pair(7) == (2, 1)",
    "assert table(2) == {0: [0, '0'], 1: [1, '1']}",
    "assert uniq([3, 1, 3]) == {1, 3}",
    "assert nothing() is None",
    "assert not nothing()",
    "assert 0 < half(3) < 2",
    "assert half(4) in [1, 2, 3] and half(1) != 2",
    "assert raw('hi') == b'hi'",
    "assert pair(7)[0] == 2, 'with a message'",
    "x = pair(7)\nassert x == (2, 1)",
    "assert pair(7) == pair(10 - 3)",  # both sides computed inside, compared here
    "assert half(2) == 1 or undefined_name()",  # `or` short-circuits as in Python
    "pair(1)",  # no assert: passes when it runs
    "assert type(pair(1)) == tuple and type(half(2)) is float",
    "assert all(half(2 * i) == i for i in range(3))",
    "def check(candidate):\n    assert candidate(9) == (3, 0)\ncheck(pair)",  # HumanEval style
    "import numpy as np\nassert (np.array(pair(7)) == np.array([2, 1])).all()",
])
def test_plain_values_compare_like_python(test):
    if "numpy" in test:
        pytest.importorskip("numpy")
    assert run_tests(PLAIN, [test], FAST).passed == 1, test


@needs_box
@pytest.mark.parametrize("test", [
    "assert pair(7) == [2, 1]",  # a tuple is not a list, as in Python
    "assert half(3) > 2",
    "assert nothing() is not None",
    "assert nothing() < 1",  # TypeError in the comparison, as in Python
    "assert undefined_name() or half(2) == 1",
    "assert missing(1) == 1",
    "pair()",
])
def test_plain_values_fail_like_python(test):
    assert run_tests(PLAIN, [test], FAST).passed == 0, test


ALWAYS_EQUAL = ("class Anything:\n    def __eq__(self, o):\n        return True\n"
                "    def __ne__(self, o):\n        return False\n    __hash__ = object.__hash__\n"
                "def add(a, b):\n    return Anything()\n")


@needs_box
@pytest.mark.parametrize("test", [
    "assert add(1, 2) == 3",
    "assert add(1, 2) == add(2, 1)",
    "assert not add(1, 2) != 3",
    "assert all(add(i, 1) == i + 1 for i in range(3))",
    "assert [add(1, 1)] == [2]",
    "def check(candidate):\n    assert candidate(1, 1) == 2\ncheck(add)",
    "x = add(1, 1)\nif x != 2:\n    raise AssertionError",
    "assert type(add(1, 1)) == int",
    "assert add(1, 1) in [2, 3]",
])
def test_an_always_equal_object_fails_every_comparison_form(test):
    assert run_tests(ALWAYS_EQUAL, [test], FAST).passed == 0
    assert run_tests(ADD, [test], FAST).passed == 1


@needs_box
def test_tests_share_one_namespace_and_see_the_code():
    report = run_tests(ADD, ["x = add(1, 2)", "assert x == 3", "y = [add(i, i) for i in range(3)]", "assert y == [0, 2, 4]"],
                       FAST)
    assert report.passed == 4, report


@needs_box
@pytest.mark.parametrize("read", ["sys.stdin.read()", "sys.stdin.buffer.read()", "os.read(0, 1000)"])
def test_io_tests_compare_stdout(read):
    # the harness's own config never sits in a stdin buffer: every way of reading sees the whole input
    program = f"import os, sys\nnums = list(map(int, {read}.split()))\nprint(sum(nums))\n"
    tests = [{"input": "1 2 3", "output": "6"}, {"input": "10\n-4", "output": "6\n"}, {"input": "1", "output": "2"}]
    report = run_tests(program, tests, FAST)
    assert (report.passed, report.total) == (2, 3)


@needs_box
def test_main_block_runs_as_a_program_but_not_under_assert_tests():
    code = ADD + "if __name__ == '__main__':\n    print('main ran')\n"
    assert run_python(code, limits=FAST).stdout.strip() == "main ran"
    assert "main ran" not in run_python(code, tests=["assert add(1, 1) == 2"], limits=FAST).stdout


def test_bad_test_specs_are_refused():
    with pytest.raises(ValueError, match="each test"):
        run_tests(ADD, [42])
    with pytest.raises(ValueError, match="each test"):
        run_tests(ADD, [{"input": "1"}])


@needs_box
def test_no_tests_scores_zero():
    assert run_tests(ADD, []).fraction_passed == 0.0


@needs_box
def test_works_from_worker_threads():
    results = []
    threads = [threading.Thread(target=lambda: results.append(run_tests(ADD, ["assert add(1, 2) == 3"], FAST)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.passed for r in results] == [1, 1, 1]


# ------------------------------------------------------------------------------------ correct solutions
TESTS = ["assert add(2, 3) == 5", "assert add(10, -4) == 6"]


@needs_box
@pytest.mark.parametrize("code", [
    ADD,
    "import numpy as np\ndef add(a, b):\n    return np.add(a, b)\n",  # a numpy scalar: converted with .item()
    "import numpy as np\ndef add(a, b):\n    return int(np.array([a, b]).sum())\n",
    "import tempfile, os\np = os.path.join(tempfile.gettempdir(), 'scratch')\nopen(p, 'w').write('7')\n"
    "open('notes.txt', 'w').write(open(p).read())\n" + ADD,  # its own folder and /tmp are writable
    "import json, math, collections, dataclasses, enum, re\n" + ADD,
], ids=["plain", "numpy-scalar", "numpy-int", "files", "stdlib"])
def test_correct_solutions_score_one(code):
    if "numpy" in code:
        pytest.importorskip("numpy")
    report = run_tests(code, TESTS, FAST)
    assert report.fraction_passed == 1.0, report


@needs_box
def test_a_numpy_array_is_not_plain_data():
    pytest.importorskip("numpy")
    run = run_python("import numpy as np\ndef add(a, b):\n    return np.array([a + b])\n", tests=TESTS[:1], limits=FAST)
    assert run.markers == ["code ok", "test 0 NotPlainData"]


# -------------------------------------------------------------------------------- hostile completions
WIN = "\ndef add(a, b):\n    return a + b\n"  # reached only when the escape above it worked: the score is the detector
LOSE = "\ndef add(a, b):\n    return 0\n"
FORGE = ("import os\nline = '{\"i\": %d, \"ran\": true}' + chr(10) + '{\"i\": %d, \"j\": 0, \"v\": true}' + chr(10)\n"
         "forged = '{\"code\": \"ok\"}' + chr(10) + ''.join(line % (i, i) for i in range(4))\n"
         "for fd in range(3, 64):\n    try:\n        os.write(fd, forged.encode())\n    except OSError:\n        pass\n")
SUBINTERP = "open('/tmp/{mark}-subinterp', 'w').write('x')\n" + FORGE

# (id, code, which fence stops it: "any" = bwrap or unshare; "bwrap-raw" = without the hook only bwrap;
#  "bwrap" = only bwrap, hook or not). Placeholders: {mark} (unique per run), {sock}, {secret},
# {hostdir}, {port}, {victim}, {project}.
HOSTILE = [
    ("always-equal", ALWAYS_EQUAL, "any"),
    ("equal-int-subclass", "class I(int):\n    def __eq__(self, o):\n        return True\n"
                           "def add(a, b):\n    return I(0)\n", "any"),
    ("replaced-builtins", "import builtins, json, os\n_compile = builtins.compile\n"
                          "builtins.compile = lambda s, n, m, *a, **k: _compile('True' if m == 'eval' else 'pass', n, m)\n"
                          "builtins.eval = lambda *a, **k: True\nbuiltins.exec = lambda *a, **k: None\n"
                          "builtins.isinstance = lambda *a: True\nbuiltins.type = lambda *a: int\n"
                          "json.dumps = lambda *a, **k: '{\"i\": 0, \"ran\": true}'\n"
                          "os.write = lambda fd, data: len(data)\n" + LOSE, "any"),
    ("frame-walk-forge-and-exit", "import sys, os\nf = sys._getframe()\nwhile f is not None:\n"
                                  "    loc = f.f_locals\n"
                                  "    if 'nonce' in loc and 'res' in loc:  # the previous harness's channel\n"
                                  "        for i in range(4):\n"
                                  "            loc['res'].write('%s test %d pass' % (loc['nonce'], i) + chr(10))\n"
                                  "        loc['res'].flush()\n"
                                  "    if callable(loc.get('report')):  # this harness's\n"
                                  "        for i in range(4):\n"
                                  "            loc['report']({'i': i, 'ran': True})\n"
                                  "            loc['report']({'i': i, 'j': 0, 'v': True})\n"
                                  "    f = f.f_back\nos._exit(0)\n", "any"),
    ("frame-walk-rewrite-tests", "import sys\nf = sys._getframe()\nwhile f is not None:\n"
                                 "    for p in f.f_locals.get('plans') or []:\n"
                                 "        p['pre'], p['exprs'] = None, ['True']\n"
                                 "    f = f.f_back\n" + LOSE, "any"),
    ("forge-channel-and-exit", FORGE + "print('test 0 pass')\nos._exit(0)\n", "any"),
    ("sub-interpreter", f"import _xxsubinterpreters as si\nsi.run_string(si.create(), {SUBINTERP!r})\n" + LOSE,
     "bwrap-raw"),
    ("world-writable-host-folders", "import os\nfor d in ('/tmp', '/dev/shm', '/var/tmp'):\n"
                                    "    for make in (lambda p: open(p, 'w').write('x'), os.mkfifo):\n"
                                    "        try:\n            make(d + '/{mark}-' + str(id(make)))\n"
                                    "        except OSError:\n            pass\n" + LOSE, "bwrap"),
    ("host-unix-socket", "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({sock!r})\n"
                         "s.sendall(b'{mark}')\n" + WIN, "bwrap-raw"),
    ("read-project-files", "import os\nopen({project!r} + '/pyproject.toml').read()\n"
                           "os.listdir({project!r} + '/src')\n" + WIN, "bwrap"),
    ("read-outside-the-folder", "open({secret!r}).read()\n" + WIN, "bwrap"),
    ("write-outside-the-folder", "open({hostdir!r} + '/{mark}-written', 'w').write('x')\n" + WIN, "bwrap-raw"),
    ("network", "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n" + WIN, "any"),
    ("signal-another-process", "import os, signal\nos.kill({victim}, signal.SIGKILL)\n" + WIN, "any"),
    ("setsid-double-fork", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                           "        os.execv('/bin/sleep', ['sleep', '60', '{mark}'])\n    os._exit(0)\n"
                           "time.sleep(0.2)\n" + LOSE, "any"),
    ("background-processes", "import os, subprocess\n"
                             "try:\n    subprocess.Popen(['sleep', '60', '{mark}'], start_new_session=True)\n"
                             "except Exception:\n    pass\n"
                             "if os.fork() == 0:\n    os.execv('/bin/sleep', ['sleep', '60', '{mark}'])\n" + LOSE, "any"),
    ("fork-bomb", "import os\nfor _ in range(200):\n    try:\n        pid = os.fork()\n    except OSError:\n"
                  "        break\n    if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '60', '{mark}'])\n" + LOSE,
     "any"),
    ("infinite-loop", "while True:\n    pass\n" + WIN, "any"),
    ("loop-in-the-tested-function", "def add(a, b):\n    while True:\n        pass\n", "any"),
    ("memory-bomb", "x = bytearray(10 * 1024**3)\n" + WIN, "any"),
    ("list-memory-bomb", "x = [0] * (10**10)\n" + WIN, "any"),
    ("fill-tmp", "import os\nfor i in range(300):\n    with open('/tmp/f%d' % i, 'wb') as f:\n"
                 "        f.write(b'x' * 2**20)\n" + WIN, "bwrap"),
    ("huge-output", "while True:\n    print('x' * 10000)\n" + WIN, "any"),
]


@pytest.fixture
def host(tmp_path):
    """Things on the host a completion must not reach: a world-accessible Unix socket, folder and secret
    file under /tmp, a TCP server on 127.0.0.1, a `sleep` it could signal; yields their details."""
    shared = Path(tempfile.mkdtemp(prefix="thinktune-host-", dir="/tmp"))
    shared.chmod(0o777)
    secret = shared / "secret.txt"
    secret.write_text("secret")
    secret.chmod(0o644)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(shared / "host.sock"))
    os.chmod(shared / "host.sock", 0o777)
    unix.listen(4)
    unix.settimeout(0)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    tcp.settimeout(0)
    victim = subprocess.Popen(["sleep", "120"], **({"user": NOBODY, "group": NOBODY} if os.geteuid() == 0 else {}))
    details = {"mark": f"tt{uuid.uuid4().hex}", "sock": str(shared / "host.sock"), "secret": str(secret),
               "hostdir": str(shared), "port": tcp.getsockname()[1], "victim": victim.pid, "project": str(PROJECT),
               "servers": (unix, tcp), "victim_proc": victim}
    yield details
    victim.kill()
    victim.wait()
    unix.close()
    tcp.close()
    shutil.rmtree(shared, ignore_errors=True)


def _accepted(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
        return True
    except (BlockingIOError, OSError):
        return False


def _processes_with(mark: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _files_with(mark: str, folders) -> list[str]:
    return [str(p) for d in folders if os.path.isdir(d) for p in Path(d).iterdir() if mark in p.name]


def _assert_host_clean(host: dict) -> None:
    mark = host["mark"]
    deadline = time.monotonic() + 2  # the kernel reaps a dead namespace's processes asynchronously
    while _processes_with(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(mark) == [], "a process outlived the sandbox"
    assert _files_with(mark, ["/tmp", "/dev/shm", "/var/tmp", host["hostdir"]]) == [], "a file was written"
    assert not any(_accepted(s) for s in host["servers"]), "a host socket was reached"
    assert host["victim_proc"].poll() is None, "another process was signalled"


@needs_box
@pytest.mark.parametrize("limits", [FAST, RAW], ids=["hook", "no-hook"])
@pytest.mark.parametrize("name,code,fence", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_completions_score_zero_and_leave_the_host_clean(name, code, fence, limits, host):
    if fence == "bwrap" or (fence == "bwrap-raw" and not limits.audit_hook):
        if BACKEND != "bwrap":
            pytest.skip(f"bubblewrap (bwrap) is not available here (fence: {BACKEND}); only its private mount "
                        f"namespace stops {name!r}")
    filled = code
    for key in ("mark", "sock", "secret", "hostdir", "port", "victim", "project"):
        filled = filled.replace(f"{{{key}!r}}", repr(host[key])).replace(f"{{{key}}}", str(host[key]))
    report = run_tests(filled, TESTS, limits)
    assert report.passed == 0, (name, report)
    _assert_host_clean(host)


@needs_box
def test_the_hostile_table_would_notice_a_pass():
    """The detector rows score when their escape works: here the 'escape' is allowed by design."""
    assert run_tests("open('notes.txt', 'w').write('x')\n" + WIN, TESTS, RAW).passed == 2


# ---------------------------------------------------------------------------------- individual layers
@needs_box
def test_infinite_loop_is_killed_at_the_wall_time_limit():
    report = run_tests("while True:\n    pass\n", ["assert True"], Limits(timeout_s=1.0))
    assert report.timed_out and report.passed == 0 and report.errors == ["timed out"]


@needs_box
def test_loop_after_some_tests_keeps_the_passes_before_it():
    code = ADD + "def spin():\n    while True:\n        pass\n"
    report = run_tests(code, ["assert add(1, 1) == 2", "spin()", "assert add(2, 2) == 4"], Limits(timeout_s=1.5))
    assert report.timed_out and report.passed == 1


@needs_box
@pytest.mark.parametrize("limits", [FAST, RAW], ids=["audit", "os-only"])
def test_10gb_allocation_is_stopped_by_the_memory_limit(limits):
    run = run_python("x = bytearray(10 * 1024**3)\n", tests=["assert True"], limits=limits)
    assert "code MemoryError" in run.markers
    assert not run.timed_out


@needs_box
def test_fork_is_refused_by_the_audit_hook():
    run = run_python("import os\nos.fork()\n", tests=["assert True"], limits=FAST)
    assert "code PermissionError" in run.markers and "os.fork" in run.stderr


@needs_box
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
    run = run_python(bomb, limits=Limits(timeout_s=5.0, max_procs=8, audit_hook=False))
    assert not run.timed_out
    assert 0 < int(run.stdout.strip()) < 8  # the limit counts the harness itself too


@needs_box
def test_subprocess_system_ctypes_and_subinterpreters_are_refused_by_the_audit_hook():
    for code, error in (("import subprocess\nsubprocess.run(['true'])\n", "ImportError"),  # _posixsubprocess
                        ("import os\nos.system('true')\n", "PermissionError"),
                        ("import os\nos.posix_spawn('/bin/true', ['true'], {})\n", "PermissionError"),
                        ("import ctypes\n", "ImportError"),
                        ("import _xxsubinterpreters\n", "ImportError"),
                        ("import os\nos.kill(os.getpid(), 0)\n", "PermissionError")):
        run = run_python(code, tests=["assert True"], limits=FAST)
        assert f"code {error}" in run.markers, (code, run.markers)


@needs_box
def test_numpy_imports_under_the_hook_but_ctypes_stays_refused():
    pytest.importorskip("numpy")
    run = run_python("import numpy as np\nprint(np.arange(4).sum())\nimport ctypes\n", limits=FAST)
    assert run.stdout.strip() == "6" and "code ImportError" in run.markers


@needs_box
def test_the_hook_keeps_its_own_builtins():
    """Replacing the builtins the hook calls (`isinstance`, `any`) does not open writes outside."""
    code = ("import builtins\nsaved = builtins.isinstance, builtins.any\n"
            "builtins.isinstance, builtins.any = (lambda *a: True), (lambda *a: False)\n"
            "try:\n    open('/etc/escaped', 'w')\n    why = 'opened'\nexcept OSError as e:\n    why = e\n"
            "builtins.isinstance, builtins.any = saved\nprint(why)\n")
    run = run_python(code, limits=FAST)
    assert "sandbox: writing outside" in run.stdout, run.stdout + run.stderr


@pytest.fixture
def local_server():
    """A TCP server on 127.0.0.1 in the test's own network namespace."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server.getsockname()[1]
    server.close()


CONNECT = "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('connected')\n"


@needs_box
def test_socket_is_refused_by_the_audit_hook(local_server):
    run = run_python(CONNECT.format(port=local_server), limits=FAST)
    assert "connected" not in run.stdout and "PermissionError" in run.stderr


@needs_box
def test_network_namespace_has_no_network_even_without_the_hook(local_server):
    run = run_python(CONNECT.format(port=local_server), limits=RAW)
    assert "connected" not in run.stdout
    assert "Network is unreachable" in run.stderr or "Connection refused" in run.stderr


@needs_box
def test_writing_outside_the_folder_is_refused_by_the_audit_hook():
    # /etc exists inside every fence; the hook refuses before the OS is asked
    target = Path(f"/etc/thinktune-escaped-{uuid.uuid4().hex}.txt")
    for code in (f"open({str(target)!r}, 'w').write('x')\n",
                 f"import os\nos.close(os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT))\n",
                 f"import os\nos.symlink({str(target)!r}, 'link')\nopen('link', 'w').write('x')\n",
                 "import os\nos.chdir('/etc')\n"):
        run = run_python(code, tests=["assert True"], limits=FAST)
        assert "code PermissionError" in run.markers and "sandbox: " in run.stderr, code
    assert not target.exists()


@needs_box
def test_a_database_outside_the_folder_is_refused_and_one_in_memory_works():
    target = Path(f"/etc/thinktune-escaped-{uuid.uuid4().hex}.db")
    run = run_python(f"import sqlite3\nsqlite3.connect({str(target)!r})\n", tests=["assert True"], limits=FAST)
    assert "code PermissionError" in run.markers and not target.exists()
    ok = run_python("import sqlite3\ndb = sqlite3.connect(':memory:')\n",
                    tests=["assert db.execute('select 1').fetchone() == (1,)"], limits=FAST)
    assert "test 0 pass" in ok.markers


@needs_bwrap
def test_under_bwrap_the_code_sees_only_the_system_python_and_its_own_folders():
    code = ("import os, sys\nprint(os.getcwd(), os.getuid() == " + str(NOBODY if AS_NOBODY else os.getuid()) + ")\n"
            "print(sorted(os.listdir('/')))\nprint(os.listdir('/tmp'), os.path.exists(" + repr(str(PROJECT / "src")) + "))\n"
            "import importlib.util\nprint(importlib.util.find_spec('thinktune'))\n")
    run = run_python(code, limits=RAW)
    where, root, tmp, spec = run.stdout.splitlines()
    assert where.split() == [sandbox.WORKDIR, "True"]
    assert not {"'home'", "'var'", "'run'", "'mnt'", "'opt'"} & set(root.strip("[]").split(", "))
    # an empty /tmp (but for the way to an interpreter installed under it, as in a clone under /tmp);
    # the project's sources are absent
    lead = sorted({Path(p).relative_to("/tmp").parts[0] for p in (sys.prefix, sys.base_prefix, sys.executable)
                   if Path(os.path.realpath(p)).is_relative_to("/tmp") or Path(p).is_relative_to("/tmp")})
    assert tmp == f"{lead} False"
    assert spec == "None"  # the editable install points at a folder that is not there


@needs_box
def test_writing_inside_the_folder_works_and_the_folder_is_thrown_away(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a host-side work folder would go
    code = "import os\nopen('notes.txt', 'w').write('hi')\nprint(open('notes.txt').read(), os.getcwd())\n"
    run = run_python(code, limits=FAST)
    text, folder = run.stdout.split()
    assert text == "hi" and (folder == sandbox.WORKDIR or "thinktune-exec-" in folder)
    assert list(tmp_path.iterdir()) == []


@needs_box
def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    run = run_python("import os\nprint(sorted(os.environ.items()))\n", limits=FAST)
    assert "hf_secret_value" not in run.stdout and "PATH" in run.stdout


@needs_box
def test_output_flood_is_bounded():
    # Python ignores SIGXFSZ, so past RLIMIT_FSIZE each write fails with EFBIG and the loop crashes
    run = run_python("while True:\n    print('x' * 1000)\n", limits=Limits(timeout_s=5.0, max_file_mb=1))
    assert len(run.stdout) <= Limits().max_output_chars
    assert not run.timed_out and "File too large" in run.stderr


@needs_box
def test_forging_a_result_line_on_stdout_does_not_pass():
    code = "print('test 0 pass')\nimport os\nos._exit(0)\n"
    assert run_tests(code, ["assert False"], FAST).passed == 0


def test_isolation_names_the_layers_in_effect():
    layers = isolation()
    assert layers[-3:] == ["rlimits", "timeout+kill", "audit-hook"]
    assert (layers[0] == "bwrap") == (BACKEND == "bwrap")


# ----------------------------------------------------------------------------- no isolation: refusal
def _no_isolation(monkeypatch):
    none = sandbox._Backend("none", why="bwrap: not installed; unshare: not installed")
    monkeypatch.setattr(sandbox, "_backend", lambda: none)
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)


def test_without_bwrap_and_unshare_the_probe_finds_nothing_and_says_why(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    box = sandbox._backend.__wrapped__()
    assert box.kind == "none" and "bwrap: not installed" in box.why and "unshare: not installed" in box.why


def test_without_isolation_the_code_reward_refuses_and_says_why(monkeypatch):
    from thinktune.rewards.accuracy import code as code_reward
    from thinktune.tasks import Example, check_answer

    _no_isolation(monkeypatch)
    with pytest.raises(SandboxUnavailable, match=r"bwrap: not installed.*bubblewrap.*unsafe=True"):
        run_tests(ADD, TESTS)
    with pytest.raises(SandboxUnavailable):
        check_answer(Example("q", "", verifier="code", meta={"tests": TESTS}), f"```python\n{ADD}```")
    with pytest.raises(SandboxUnavailable):
        code_reward(None, [f"<think>x</think><answer>\n```python\n{ADD}```\n</answer>"], tests=[TESTS])
    assert isolation()[:1] == ["rlimits"]


def test_unsafe_runs_without_isolation_when_asked(monkeypatch):
    _no_isolation(monkeypatch)
    assert run_tests(ADD, TESTS, Limits(timeout_s=5.0, unsafe=True)).passed == 2
    monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
    assert run_tests(ADD, TESTS, Limits(timeout_s=5.0)).passed == 2
    assert run_tests("class A:\n    __eq__ = lambda s, o: True\ndef add(a, b):\n    return A()\n", TESTS,
                     Limits(timeout_s=5.0)).passed == 0  # grading stays in the parent


# ------------------------------------------------------------------------------- the unshare fallback
@pytest.fixture
def unshare_only(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "bwrap" else real(name))
    box = sandbox._backend.__wrapped__()
    monkeypatch.setattr(shutil, "which", real)
    if box.kind != "unshare":
        pytest.skip(f"unshare does not work here: {box.why}")
    monkeypatch.setattr(sandbox, "_backend", lambda: box)
    return box


def test_the_unshare_fallback_still_grades_in_the_parent(unshare_only, tmp_path, monkeypatch):
    assert run_tests(ADD, TESTS, FAST).passed == 2
    assert run_tests(HOSTILE[0][1], TESTS, RAW).passed == 0
    assert "unshare" in isolation()
    # `nobody` must reach its work folder even when $TMPDIR is private
    private = tmp_path / "private"
    (private / "tmp").mkdir(parents=True)
    private.chmod(0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private / "tmp"))
    assert run_tests(ADD, TESTS, FAST).passed == 2


def test_the_old_module_re_exports_the_sandbox():
    import thinktune.rewards.code_exec as old

    for name in old.__all__:
        assert getattr(old, name) is getattr(sandbox, name)
    assert old.run_tests is run_tests and old.Limits is Limits
