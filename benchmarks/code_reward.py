"""Cost per completion of the code-execution reward: the hardened sandbox against the previous one.

    python benchmarks/code_reward.py                # 20 repetitions of each workload
    python benchmarks/code_reward.py --reps 50 --ref HEAD~3

"Previous" is `src/thinktune/sandbox.py` at a git revision (`--ref`, default HEAD), copied into a temporary
module for the run only; "hardened" is the working tree's `thinktune.sandbox`. Each workload is one
completion scored with `run_tests` (one sandboxed process for all its assert tests, one per input/output
test), the way the `code` reward calls it. The two sides alternate call by call so a shared machine's load
falls on both. Reports the median, mean and 90th percentile wall time per completion (ms) and the score
each side gave (they differ where the previous sandbox was wrong: numpy code scored 0, a cheat scored 1).
Writes benchmarks/results/code_reward.json and .md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
ASSERTS = ["assert add(2, 3) == 5", "assert add(10, -4) == 6", "assert add(0, 0) == 0"]
ADD = "def add(a, b):\n    return a + b\n"
WORKLOADS = {  # name: (code, tests)
    "correct": (ADD, ASSERTS),
    "wrong": ("def add(a, b):\n    return a - b\n", ASSERTS),
    "crash": ("raise RuntimeError('boom')\n", ASSERTS),
    "syntax error": ("def add(a, b) return a + b\n", ASSERTS),
    "numpy, correct": ("import numpy as np\ndef add(a, b):\n    return int(np.add(a, b))\n", ASSERTS),
    "always-equal cheat": ("class A:\n    def __eq__(self, o):\n        return True\n"
                           "def add(a, b):\n    return A()\n", ASSERTS),
    "stdin/stdout, 2 tests": ("print(sum(map(int, input().split())))\n",
                              [{"input": "2 3", "output": "5"}, {"input": "10 -4", "output": "6"}]),
}


def load_previous(ref: str, folder: str):
    """The sandbox module as it was at `ref`, imported from a temporary file (not kept in the package)."""
    source = subprocess.run(["git", "show", f"{ref}:src/thinktune/sandbox.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = Path(folder) / "sandbox_previous.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("sandbox_previous", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["sandbox_previous"] = module
    spec.loader.exec_module(module)
    return module


def measure(sides: dict, reps: int) -> dict:
    out: dict = {}
    for name, (code, tests) in WORKLOADS.items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        scores: dict[str, float] = {}
        for _ in range(reps):
            for side, module in sides.items():
                start = time.perf_counter()
                report = module.run_tests(code, tests, module.Limits(timeout_s=10.0))
                times[side].append((time.perf_counter() - start) * 1000)
                scores[side] = report.fraction_passed
        out[name] = {
            side: {"median_ms": statistics.median(t), "mean_ms": statistics.fmean(t),
                   "p90_ms": sorted(t)[max(0, int(round(0.9 * len(t))) - 1)], "score": scores[side]}
            for side, t in times.items()
        }
        row = out[name]
        print(f"{name:24s} previous {row['previous']['median_ms']:7.1f} ms (score {row['previous']['score']:.2f})"
              f"   hardened {row['hardened']['median_ms']:7.1f} ms (score {row['hardened']['score']:.2f})",
              flush=True)
    return out


def markdown(result: dict) -> str:
    lines = [
        "# Code-execution reward: cost per completion", "",
        f"    python benchmarks/code_reward.py --reps {result['reps']}", "",
        f"{result['date']}, {result['machine']}. Previous: `src/thinktune/sandbox.py` at `{result['ref']}` "
        f"({', '.join(result['layers']['previous'])}); hardened: the working tree "
        f"({', '.join(result['layers']['hardened'])}). One completion = one `run_tests` call "
        "(3 assert tests in one process, or 2 stdin/stdout tests in two); wall time, "
        f"{result['reps']} repetitions, the sides alternating.", "",
        "| workload | previous median ms | hardened median ms | previous p90 | hardened p90 | previous score | hardened score |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["workloads"].items():
        p, h = row["previous"], row["hardened"]
        lines.append(f"| {name} | {p['median_ms']:.1f} | {h['median_ms']:.1f} | {p['p90_ms']:.1f} | {h['p90_ms']:.1f} "
                     f"| {p['score']:.2f} | {h['score']:.2f} |")
    lines += ["", "Scores differ where the previous sandbox was wrong: numpy imports `ctypes`, which its audit hook "
              "refused (score 0), and an object whose `__eq__` always holds passed every test (score 1)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--ref", default="HEAD", help="git revision of the previous sandbox")
    parser.add_argument("--out", default=str(RESULTS / "code_reward.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import thinktune.sandbox as hardened

    with tempfile.TemporaryDirectory(prefix="thinktune-bench-") as folder:
        previous = load_previous(args.ref, folder)
        sides = {"previous": previous, "hardened": hardened}
        for module in sides.values():  # probe the isolation once, outside the timings
            module.run_tests(ADD, ASSERTS[:1])
        result = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"), "ref": args.ref, "reps": args.reps,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "layers": {side: module.isolation() for side, module in sides.items()},
            "workloads": measure(sides, args.reps),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
