"""The pipeline job: stages chained by name with their lineage, a final held-out comparison, and a pipeline
cancelled inside a stage, between stages, or killed with SIGKILL resumes at the stage it was in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from thinktune.config import ConfigError
from thinktune.jobs import load_job_config, run_job
from thinktune.reporter import Reporter
from thinktune.runs import Run

TINY_SFT = {"data": "builtin:arith_sample", "limit": 8, "val_fraction": 0.0, "batch_size": 2, "learning_rate": 0.01,
            "warmup_ratio": 0.0, "lr_scheduler": "constant", "max_length": 128, "lora": {"r": 4, "alpha": 8},
            "max_steps": 2, "save_steps": 1}
TINY_GRPO = {"max_completion_length": 8, "prompts_per_step": 2, "num_generations": 2, "train_size": 8,
             "learning_rate": 0.01, "task_options": {"ops": 1, "digits": 1}, "sample_completions": 1,
             "max_steps": 2, "save_steps": 1}


def _config(out: Path) -> dict:
    return {
        "model": "tiny", "output_dir": str(out), "progress": False,
        "stages": [
            {"name": "cold", "kind": "sft", "config": TINY_SFT},
            {"name": "rl", "kind": "grpo", "config": TINY_GRPO},
            {"name": "rs", "kind": "sample", "config": {"task": "arithmetic", "questions": 3, "samples": 2,
                                                         "max_new_tokens": 6, "mix_data": "builtin:arith_sample",
                                                         "mix_rows": 8}},
            {"name": "sft2", "kind": "sft", "config": {**TINY_SFT, "data": "${rs}"}},
        ],
        "held_out": {"task": "arithmetic", "limit": 3, "max_new_tokens": 6},
    }


def _write(tmp_path: Path, data: dict) -> Path:
    import yaml

    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _events(folder: Path) -> list[str]:
    return [json.loads(line)["event"] for line in (folder / "events.jsonl").read_text().splitlines()]


def test_stages_chain_by_name_with_lineage_and_a_held_out_report(tmp_path, capsys):
    from thinktune.cli import main

    out = tmp_path / "run"
    assert main(["pipeline", str(_write(tmp_path, _config(out)))]) == 0
    run = Run.load(out)
    assert run.status == "succeeded" and run.kind == "pipeline"
    lineage = json.loads((out / "lineage.json").read_text())
    names = [s["name"] for s in lineage["stages"]]
    assert names == ["cold", "rl", "rs", "sft2"] and all(s["status"] == "succeeded" for s in lineage["stages"])
    stages = {s["name"]: s for s in lineage["stages"]}
    assert stages["rl"]["inputs"]["model"] == str(out / "stages" / "01-cold")
    assert stages["rs"]["inputs"]["teacher"] == str(out / "stages" / "02-rl")
    assert stages["sft2"]["inputs"]["data"] == str(out / "stages" / "03-rs" / "data.jsonl")
    assert stages["sft2"]["inputs"]["model"] == str(out / "stages" / "02-rl")  # the last model made
    assert all(s["fingerprints"] and s["wall_s"] is not None for s in lineage["stages"])
    # sampled rows from the tiny model fail the format; the 8 mixed-in rows are what sft2 trained on
    rs_rows = (out / "stages" / "03-rs" / "data.jsonl").read_text().splitlines()
    assert len(rs_rows) == 8 + stages["rs"]["metrics"]["rows"]
    # the lineage down to the base model, as `runs show` prints it
    assert "| sft2 | sft |" in capsys.readouterr().out  # the CLI printed the report
    assert main(["runs", "show", str(out / "stages" / "04-sft2")]) == 0
    shown = capsys.readouterr().out
    assert shown.index("04-sft2") < shown.index("02-rl") < shown.index("01-cold")
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["rows"]] == ["base", "cold", "rl", "sft2"]
    assert all(r["n"] == 3 and 0 <= r["strict_accuracy"] <= 1 for r in report["rows"])
    assert report["rows"][1]["vs_previous"]["n"] == 3 and "| sft2 | sft |" in (out / "report.md").read_text()


class CancelIn(Reporter):
    """Cancels once stage `stage` has made progress (inside it) or, with `after_finish`, once it has finished
    (between it and the next)."""

    def __init__(self, stage: str, after_finish: bool = False) -> None:
        super().__init__()
        self.stage, self.after_finish, self.current = stage, after_finish, None

    def event(self, kind, message="", **data):
        if kind == "stage":
            self.current = data.get("stage")
        elif kind == "finish" and self.after_finish and self.current == self.stage:
            self.cancel()

    def progress(self, done, total=None, **metrics):
        if not self.after_finish and self.current == self.stage and done >= 1:
            self.cancel()


@pytest.mark.parametrize("stage, after_finish", [("rl", False), ("cold", True)])
def test_a_cancelled_pipeline_resumes_at_the_stage_it_was_in(tmp_path, stage, after_finish):
    out = tmp_path / "run"
    cfg = load_job_config("pipeline", _write(tmp_path, {**_config(out), "held_out": {"enabled": False}}))
    run = run_job("pipeline", cfg, CancelIn(stage, after_finish))
    assert run.status == "cancelled"
    cold = out / "stages" / "01-cold"
    assert Run.load(cold).status == "succeeded"
    rl = out / "stages" / "02-rl"
    if after_finish:
        assert not rl.exists()
    else:
        assert Run.load(rl).status == "cancelled" and any(rl.glob("checkpoint-*"))
    cold_events = _events(cold)
    run = run_job("pipeline", cfg)
    assert run.status == "succeeded"
    assert _events(cold) == cold_events  # the finished stage was not run again
    assert "stage_skipped" in _events(out)
    if not after_finish:
        assert "resume" in _events(rl)  # the interrupted stage resumed in its folder
    assert Run.load(out / "stages" / "04-sft2").status == "succeeded"


def test_a_pipeline_killed_with_sigkill_inside_a_stage_resumes(tmp_path, kill_9_when):
    out = tmp_path / "run"
    path = _write(tmp_path, {**_config(out), "held_out": {"enabled": False}})
    # killed once the GRPO stage has left its first checkpoint
    kill_9_when([sys.executable, "-m", "thinktune", "pipeline", str(path)],
                lambda: any((out / "stages" / "02-rl").glob("checkpoint-*")))
    assert Run.load(out).status == "interrupted"
    run = run_job("pipeline", load_job_config("pipeline", path))
    assert run.status == "succeeded"
    assert "resume" in _events(out / "stages" / "02-rl") and "resume" not in _events(out / "stages" / "01-cold")


@pytest.mark.parametrize("stages, message", [
    ([{"name": "a", "kind": "sft", "config": {"data": "${b}"}}, {"name": "b", "kind": "sample"}], "names a later stage"),
    ([{"name": "a", "kind": "sft", "config": {"data": "${zz}"}}], "names no stage"),
    ([{"name": "a", "kind": "sft"}, {"name": "b", "kind": "sft", "config": {"data": "${a}"}}], "makes no dataset"),
    ([{"name": "a", "kind": "sample", "config": {"teacher": "tiny"}},
      {"name": "b", "kind": "grpo", "config": {"model": "${a}"}}], "makes no model"),
    ([{"name": "a", "kind": "sft", "config": {"max_stepz": 3}}], "max_stepz"),
    ([{"name": "a", "kind": "sft"}, {"name": "a", "kind": "grpo"}], "unique"),
    ([{"name": "a", "kind": "sft", "config": {"output_dir": "x"}}], "output_dir is set by the pipeline"),
])
def test_bad_pipelines_are_refused_before_anything_runs(tmp_path, stages, message):
    out = tmp_path / "run"
    with pytest.raises((ConfigError, ValueError), match=message):
        cfg = load_job_config("pipeline", _write(tmp_path, {"model": "tiny", "stages": stages, "output_dir": str(out)}))
        run_job("pipeline", cfg)
    assert not out.exists()


def test_a_rerun_skips_what_is_done_and_a_changed_stage_reruns_with_everything_after_it(tmp_path):
    out = tmp_path / "run"
    small = {**TINY_SFT, "max_steps": 1, "save_steps": 0}
    data = {"model": "tiny", "output_dir": str(out), "progress": False,
            "stages": [{"name": "a", "kind": "sft", "config": small}, {"name": "b", "kind": "sft", "config": small}],
            "held_out": {"task": "arithmetic", "limit": 2, "max_new_tokens": 4, "base": False}}
    assert run_job("pipeline", load_job_config("pipeline", _write(tmp_path, data))).ok
    starts = {n: _events(out / "stages" / f"0{i}-{n}").count("start") for i, n in ((1, "a"), (2, "b"))}
    evals_b = _events(out / "evals" / "b")
    # progress is how a run reports, not what it computes: nothing reruns
    assert run_job("pipeline", load_job_config("pipeline", _write(tmp_path, {**data, "progress": True}))).ok
    assert _events(out).count("stage_skipped") == 2 and _events(out / "evals" / "b") == evals_b + ["resume", "finish"]
    # a changed first stage: it and the stage after it train again, and the held-out rows are measured afresh
    changed = {**data, "stages": [{"name": "a", "kind": "sft", "config": {**small, "learning_rate": 0.02}},
                                  data["stages"][1]]}
    assert run_job("pipeline", load_job_config("pipeline", _write(tmp_path, changed))).ok
    assert _events(out / "stages" / "01-a").count("start") == starts["a"] == 1
    assert _events(out / "stages" / "02-b").count("start") == starts["b"] == 1  # cleared, then run anew
    assert Run.load(out / "stages" / "02-b").started > Run.load(out / "stages" / "01-a").started
    assert _events(out / "evals" / "b").count("resume") == 0  # evaluated afresh
    # b trained LoRA on top of a's LoRA run: a's adapter was merged in, and b is saved whole
    assert (out / "stages" / "02-b" / "final" / "config.json").is_file()
