"""`thinktune pipeline CONFIG [--set key=value] [--show-config]`: stages that are jobs, chained by name.

    thinktune pipeline configs/pipelines/r1.yaml
    thinktune runs show runs/pipeline_r1/stages/05-rl2      # the lineage, down to the base model

Rerunning resumes at the stage it was in; `RUN/report.md` compares every stage on one held-out set.
"""

from __future__ import annotations

from thinktune.commands._job import add_config_arguments, job_config, run_from_cli


def register(sub) -> None:
    p = sub.add_parser("pipeline", help="run a multi-stage recipe (SFT -> RL -> rejection sampling -> ...), resumable")
    add_config_arguments(p, "YAML config mirroring PipelineConfig (stages, held_out)")
    p.set_defaults(func=main)


def main(args) -> int:
    cfg = job_config("pipeline", args)
    if cfg is None:
        return 0
    code, run = run_from_cli("pipeline", cfg)
    report = run.folder / "report.md"
    if run.status == "succeeded" and report.exists():
        print(report.read_text(encoding="utf-8"))
    return code
