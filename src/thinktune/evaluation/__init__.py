"""The evaluation harness: accuracy together with what it cost, for any model and strategy.

    from thinktune.evaluation import evaluate, EvalResult
    result = evaluate(model, examples, strategy="greedy", *, reasoning=True, max_new_tokens=256, n=1,
                      out_dir=None, engine=None, seed=0, batch_size=8, progress=True, label=None,
                      **strategy_options)
    result.metrics   # strict/lenient accuracy, format rate, pass@k and maj@k (fixed-n sampling), thinking /
                     # answer / output tokens (mean, p50, p95), latency p50/p95, tokens/s, samples/question
    result.records   # one audit row per question (also out_dir/samples.jsonl)

    from thinktune.evaluation.report import write_report
    write_report([r.to_run() for r in results], "runs/report", title="strategies")  # -> (md, html)

Layout: harness.py (evaluate, records, resume), metrics.py (pure metrics incl. unbiased pass@k),
report.py (Markdown + standalone HTML with plots).
"""

from thinktune.evaluation.harness import EvalResult, evaluate, example_id, make_problem
from thinktune.evaluation.metrics import compute_metrics, pass_at_k

__all__ = ["EvalResult", "compute_metrics", "evaluate", "example_id", "make_problem", "pass_at_k"]
