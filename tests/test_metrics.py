"""Metrics against brute force: pass@k by enumerating subsets, the Beta stopping rule by integration,
percentiles against NumPy; the record → metrics summary; the report files."""

from __future__ import annotations

import base64
import itertools
import math
import re

import pytest

from thinktune.evaluation.metrics import (
    compute_metrics,
    k_values,
    majority_correct,
    pass_at_k,
    percentile,
)
from thinktune.evaluation.report import table_rows, write_report
from thinktune.inference.stopping import beta_confidence, beta_stop, esc_stop, replay, should_stop


# ---------------------------------------------------------------------------------------------- pass@k
@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_equals_brute_force_over_all_subsets(n):
    for c in range(n + 1):
        samples = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12), (n, c, k)


def test_pass_at_k_large_n_is_stable_and_rejects_bad_input():
    assert pass_at_k(200, 1, 1) == pytest.approx(1 / 200)
    assert pass_at_k(200, 100, 100) == pytest.approx(1 - math.comb(100, 100) / math.comb(200, 100))
    for bad in [(3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_percentile_matches_numpy():
    np = pytest.importorskip("numpy")
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    for q in (0, 5, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert math.isnan(percentile([], 50))


def test_k_values_and_majority_correct():
    assert k_values(8) == [1, 2, 4, 8] and k_values(12) == [1, 2, 4, 8, 12]
    assert majority_correct(["1/2", "0.5", "3"], [1.0, 1.0, 0.0]) == 1.0
    assert majority_correct(["3", "3", "0.5"], [0.0, 0.0, 1.0]) == 0.0
    assert majority_correct([None, None], [0.0, 0.0]) == 0.0


# -------------------------------------------------------------------------------------- stopping rules
@pytest.mark.parametrize(("a", "b"), [(1, 0), (2, 0), (3, 1), (4, 0), (5, 2), (6, 6), (10, 3)])
def test_beta_confidence_matches_numerical_integration(a, b):
    # P(X > 1/2) for X ~ Beta(a+1, b+1), by the midpoint rule on the density
    steps = 20000
    norm = math.gamma(a + b + 2) / (math.gamma(a + 1) * math.gamma(b + 1))
    xs = [(i + 0.5) / steps for i in range(steps)]
    upper = sum(norm * x**a * (1 - x) ** b for x in xs if x > 0.5) / steps
    assert beta_confidence(a, b) == pytest.approx(upper, abs=1e-6)


def test_stopping_rules_table():
    assert not beta_stop(["4", "4", "4"])  # 0.9375 < 0.95
    assert beta_stop(["4", "4", "4", "4"])  # 0.969
    assert not beta_stop(["4", "4", "4", "4", "5", "5"])
    assert not beta_stop([None, None, None, None, None])
    assert beta_stop(["1/2", "0.5", "\\frac{1}{2}", "0.50"])  # equivalent forms count together
    assert esc_stop(["2"] * 4) and not esc_stop(["2", "2", "2", "3"]) and not esc_stop(["2"] * 3)
    assert not esc_stop([None] * 4)
    with pytest.raises(ValueError, match="unknown stopping rule"):
        should_stop(["1"], "nope")


def test_replay_counts_samples_a_rule_would_use():
    stream = ["7", "3", "7", "7", "7", "7", "7", "7"]
    assert replay(stream, "beta", batch=1) == 7  # needs 6 sevens against 1 three: P(Bin(8,.5) <= 6) = 0.965
    assert replay(stream, "beta", batch=2) == 8
    assert replay(stream, "esc", batch=4, window=4) == 8
    assert replay(["1", "2"] * 5, "beta", batch=2) == 10
    assert replay(["5"] * 20, "beta", batch=2, max_samples=16) == 4


# ------------------------------------------------------------------------------------ compute_metrics
def _record(correct: list[float], answers: list[str], strict: float, lenient: float, fixed: bool = True, **kw) -> dict:
    row = {
        "verdicts": correct, "answers": answers, "correct_strict": strict, "correct_lenient": lenient,
        "well_formed": [True] * len(correct), "thinking_tokens": 10.0, "answer_tokens": 5.0,
        "output_tokens": 15 * len(correct), "latency_s": 2.0, "wall_share_s": 1.0, "samples_used": len(correct),
        "fixed_samples": fixed, "mode": "math",
    }
    row.update(kw)
    return row


def test_compute_metrics_summarises_records():
    records = [
        _record([1.0, 0.0, 0.0, 1.0], ["4", "5", "6", "4"], 1.0, 1.0),
        _record([0.0, 0.0, 0.0, 0.0], ["1", "1", "2", "3"], 0.0, 0.0, well_formed=[True, False, False, False]),
    ]
    m = compute_metrics(records)
    assert m["n_questions"] == 2 and m["strict_accuracy"] == 0.5 and m["lenient_accuracy"] == 0.5
    assert m["format_rate"] == pytest.approx((1.0 + 0.25) / 2)
    assert m["pass@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["pass@4"] == pytest.approx(0.5) and m["maj@4"] == pytest.approx(0.5)
    assert m["maj@2"] == pytest.approx(0.5)  # ["4", "5"]: the tie goes to the first sample, which is right
    assert m["output_tokens_mean"] == 60 and m["tokens_per_s"] == pytest.approx(120 / 2.0)
    assert m["wall_s"] == 2.0 and m["s_per_question"] == 1.0 and m["latency_p50"] == 2.0
    assert m["samples_per_question_mean"] == 4


def test_pass_at_k_only_for_fixed_sample_runs():
    varied = [_record([1.0, 0.0], ["1", "2"], 1.0, 1.0, fixed=False), _record([1.0], ["1"], 1.0, 1.0, fixed=False)]
    assert not any(k.startswith(("pass@", "maj@")) for k in compute_metrics(varied))
    assert compute_metrics([]) == {"n_questions": 0}


# ---------------------------------------------------------------------------------------------- report
def test_write_report_makes_markdown_and_standalone_html(tmp_path):
    runs = [
        {"label": "greedy", "metrics": compute_metrics([_record([1.0], ["4"], 1.0, 1.0, fixed=False)]),
         "records": [_record([1.0], ["4"], 1.0, 1.0)]},
        {"label": "maj@4", "metrics": compute_metrics([_record([1.0, 0.0, 1.0, 1.0], ["4", "3", "4", "4"], 1.0, 1.0)])},
    ]
    md, html = write_report(runs, tmp_path / "rep", "strategies", extra_sections={"Notes": "shared machine"})
    text, page = md.read_text(), html.read_text()
    assert "# strategies" in text and "| greedy |" in text and "pass@4" in text and "## Notes" in text
    assert (tmp_path / "rep" / "accuracy_vs_tokens.png").is_file() and (tmp_path / "rep" / "token_lengths.png").is_file()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "<td>maj@4</td>" in page and "shared machine" in page and "http" not in page.split("<body>")[1]
    header, rows = table_rows(runs)
    assert header[0] == "run" and rows[1][header.index("pass@4")] == "1.000" and rows[0][header.index("pass@4")] == "–"
