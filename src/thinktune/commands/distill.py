"""`thinktune distill [CONFIG] [--set key=value] [--show-config]`: a teacher's traces, rejection-sampled.

    thinktune distill configs/recipes/sky_t1.yaml
    thinktune distill --set teacher=http://127.0.0.1:8000/v1 --set questions=50 --set output_dir=runs/d1
    OPENAI_API_KEY=... thinktune distill --set teacher=https://api.example.com/v1#big-model

The run folder holds `data.jsonl` (train on it with `thinktune train sft --set data=RUN/data.jsonl`),
`samples.jsonl` (every sample and its verdict) and `report.md`. Rerunning resumes question by question.
"""

from __future__ import annotations

from thinktune.commands._job import add_config_arguments, job_config, run_from_cli


def register(sub) -> None:
    p = sub.add_parser("distill", help="collect a teacher's reasoning traces and keep the verified ones")
    add_config_arguments(p, "YAML config mirroring DistillConfig (--set overrides it)")
    p.set_defaults(func=main)


def main(args) -> int:
    cfg = job_config("distill", args)
    if cfg is None:
        return 0
    code, run = run_from_cli("distill", cfg)
    if run.status == "succeeded":
        m = run.metrics
        print(f"{m.get('rows')} rows -> {run.folder / 'data.jsonl'} (acceptance {m.get('acceptance_rate', 0):.1%}; "
              f"report: {run.folder / 'report.md'})")
    return code
