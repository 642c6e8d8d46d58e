"""Jobs: every registered kind runs on the tiny model through the one entry point and leaves the run folder
`thinktune.runs` describes; a cancel stops SFT and GRPO at a step boundary with a checkpoint, and a rerun
resumes with no metric row written twice or missing; lineage, locks, broken checkpoints; `thinktune runs`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinktune import cli
from thinktune.errors import UserError
from thinktune.io import append_jsonl, read_jsonl
from thinktune.jobs import JOBS, get_job, load_job_config, run_job
from thinktune.reporter import RecordingReporter, Reporter
from thinktune.runs import LOCK, MANIFEST, Run, lineage, list_runs, request_cancel

FIXTURES = Path(__file__).parent / "fixtures"
QUESTIONS = FIXTURES / "eval" / "tiny_task.jsonl"

SFT = ["model=tiny", "data=builtin:arith_sample", "limit=8", "val_fraction=0.0", "batch_size=2",
       "learning_rate=0.01", "warmup_ratio=0.0", "lr_scheduler=constant", "max_length=128", "lora.r=4", "lora.alpha=8"]
GRPO = ["max_completion_length=8", "prompts_per_step=2", "num_generations=2", "train_size=8", "learning_rate=0.01",
        "task_options={ops: 1, digits: 1}", "sample_completions=1",
        "rewards=[{name: accuracy}, {name: tag_count, weight: 0.5}]"]
COMPARE = ["model=tiny", "train_rows=8", "eval_questions=4", "base_eval_questions=0", "steps=1", "batch_size=4",
           "max_length=128", "max_new_tokens=8", "direct_max_new_tokens=4", "router_samples=2",
           "routers=[agreement]", "progress=false"]
COMMON_MANIFEST = ("kind", "status", "config", "started", "ended", "versions", "fingerprints", "parent", "pid",
                   "metrics")


def steps_logged(folder: Path, name: str = "metrics.jsonl", key: str = "loss") -> list[int]:
    return [r["step"] for r in read_jsonl(folder / name) if key in r]


def events(folder: Path) -> list[dict]:
    return list(read_jsonl(folder / "events.jsonl"))


# --------------------------------------------------------------------------- every kind, one entry point
@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Every registered kind run once through `run_job`: sft → grpo from the sft run → eval of the grpo run →
    compare. Returns the root folder and the runs by kind."""
    root = tmp_path_factory.mktemp("runs")
    done: dict[str, Run] = {}
    sft = load_job_config("sft", None, [*SFT, "max_steps=2", "save_steps=0", f"output_dir={root / 'sft'}"])
    done["sft"] = run_job("sft", sft, RecordingReporter())
    grpo = load_job_config("grpo", None, [*GRPO, "max_steps=2", f"model={root / 'sft'}", f"output_dir={root / 'grpo'}"])
    done["grpo"] = run_job("grpo", grpo)
    ev = load_job_config("eval", None, [f"model={root / 'grpo'}", f"task=jsonl:{QUESTIONS}", "limit=2",
                                        "max_new_tokens=4", "progress=false", f"output_dir={root / 'eval'}"])
    done["eval"] = run_job("eval", ev)
    done["compare"] = run_job("compare", load_job_config("compare", None, [*COMPARE, f"output_dir={root / 'compare'}"]))
    # a flywheel round over traces the server would have written: the grpo model answered 4 questions
    from thinktune.serve.traces import TraceStore
    from thinktune.tasks import load_task

    store = TraceStore(root / "serve")
    for i, ex in enumerate(load_task("arithmetic", split="train", n=4, seed=0, ops=1, digits=1)):
        store.add({"id": f"trace-{i}", "model": "reasoning", "messages": [{"role": "user", "content": ex.question}],
                   "thinking": ["steps"], "answer": [ex.answer if i % 2 else "0"]})
    done["score"] = run_job("score", load_job_config("score", None, [
        f"home={root / 'fw'}", f"traces={root / 'serve'}", "reference_options={ops: 1, digits: 1}",
        "reference_size=100", f"output_dir={root / 'score'}"]))
    done["flywheel"] = run_job("flywheel", load_job_config("flywheel", None, [
        f"home={root / 'fw'}", f"model={root / 'grpo'}", f"traces={root / 'serve'}", "teacher=gold",
        "reference_options={ops: 1, digits: 1}", "reference_size=100", "held_out_options={ops: 1, digits: 1}",
        "held_out_size=2", "max_new_tokens=4", "progress=false", f"output_dir={root / 'flywheel'}",
        "sft={max_steps: 1, batch_size: 2, max_length: 128}"]))
    done["distill"] = run_job("distill", load_job_config("distill", None, [
        f"teacher={root / 'grpo'}", "task=arithmetic", "questions=2", "samples=2", "max_new_tokens=4",
        "progress=false", f"output_dir={root / 'distill'}"]))
    done["pipeline"] = run_job("pipeline", load_job_config("pipeline", None, [
        "model=tiny", f"output_dir={root / 'pipeline'}", "progress=false", "held_out={limit: 2, max_new_tokens: 4}",
        "stages=[{name: s, kind: sft, config: {data: builtin:arith_sample, limit: 4, val_fraction: 0.0, "
        "batch_size: 2, max_steps: 1, max_length: 128, save_steps: 0}}]"]))
    return root, done


def test_the_registry_lists_every_kind_and_its_configs_load_without_torch():
    assert set(JOBS) == {"sft", "grpo", "eval", "compare", "flywheel", "score", "distill", "pipeline"}
    with pytest.raises(UserError, match="unknown job kind 'nope'; known: sft, grpo, eval, compare, flywheel, score, "
                                        "distill, pipeline"):
        get_job("nope")
    code = ("import sys, thinktune.jobs as j\n[k.config_class() for k in j.JOBS.values()]\n"
            "heavy = [m for m in ('torch', 'transformers', 'trl') if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    with pytest.raises(TypeError, match="a sft job takes a SFTJobConfig"):
        run_job("sft", load_job_config("eval", None, ["task=arithmetic"]))


@pytest.mark.parametrize("kind", list(JOBS))
def test_every_kind_leaves_its_run_folder(runs_root, kind):
    root, done = runs_root
    run = done[kind]
    assert run.kind == kind and run.status == "succeeded" and run.folder == root / kind
    manifest = json.loads((run.folder / MANIFEST).read_text())
    assert all(k in manifest for k in COMMON_MANIFEST), [k for k in COMMON_MANIFEST if k not in manifest]
    assert manifest["versions"]["thinktune"] and manifest["versions"]["torch"]
    assert manifest["config"]["output_dir"] == str(run.folder)
    assert manifest["started"] <= manifest["ended"]
    kinds = [e["event"] for e in events(run.folder)]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    assert not (run.folder / LOCK).exists()  # released
    if kind in ("sft", "grpo"):
        assert steps_logged(run.folder, key="step") == [1, 2]
        # sft saves its LoRA adapter; grpo, started from that adapter, saves the merged model
        weights = "adapter_config.json" if kind == "sft" else "config.json"
        assert (run.final / weights).is_file() and (run.final / "config.yaml").is_file()
        assert manifest["fingerprints"]["model"]["spec"]
    if kind == "sft":
        assert run.metrics["final_loss"] > 0 and run.metrics["train_runtime"] > 0
        assert manifest["fingerprints"]["data"]["spec"] == "builtin:arith_sample"
    if kind == "grpo":
        assert {"reward", "accuracy", "format_rate", "alarms_fired"} <= set(run.metrics)
    if kind == "eval":
        assert len(list(read_jsonl(run.folder / "samples.jsonl"))) == 2
        assert json.loads((run.folder / "eval.json").read_text())["max_new_tokens"] == 4
        assert run.metrics["n_questions"] == 2 and "strict_accuracy" in run.metrics
    if kind == "distill":
        assert run.parent == str(root / "grpo") and len(list(read_jsonl(run.folder / "samples.jsonl"))) == 2
    if kind == "pipeline":
        assert json.loads((run.folder / "lineage.json").read_text())["stages"][0]["status"] == "succeeded"
        assert Run.load(run.folder / "stages" / "01-s").parent is None and "held_out" in run.metrics
    if kind == "score":
        assert run.metrics["verifier"] == 4 and len(list(read_jsonl(root / "serve" / "scores.jsonl"))) == 4
    if kind == "flywheel":
        assert run.metrics["decision"] in ("promoted", "kept") and run.metrics["new_rows"] == 4
        assert (run.folder / "train" / "final" / "config.json").is_file() and run.parent == str(root / "grpo")
    if kind == "compare":
        results = json.loads((run.folder / "results.json").read_text())
        assert run.metrics["verdict"] == results["recommendation"]["verdict"]
        assert (run.folder / "report.html").is_file()


def test_lineage_links_each_run_to_the_one_it_started_from(runs_root, capsys):
    root, done = runs_root
    assert done["sft"].parent is None
    assert done["grpo"].parent == str(root / "sft")  # its model was the sft run folder
    assert done["eval"].parent == str(root / "grpo")
    assert [r.folder for r in lineage(root / "eval")] == [root / "eval", root / "grpo", root / "sft"]
    variants = {r.folder.name: r for r in list_runs(root / "compare") if r.kind == "sft"}
    assert set(variants) == {"reasoning", "non_reasoning"}
    assert all(v.parent == str(root / "compare") and v.status == "succeeded" for v in variants.values())

    assert cli.main(["runs", "show", str(root / "eval")]) == 0
    shown = capsys.readouterr().out
    assert shown.index(str(root / "grpo")) < shown.index(str(root / "sft")) and "base model: tiny" in shown
    assert cli.main(["runs", "list", str(root)]) == 0
    listed = capsys.readouterr().out.splitlines()
    # header + sft, grpo, eval, compare, its two variants, score, flywheel, its training, distill, pipeline, its
    # stage and its two held-out evals
    assert len(listed) == 1 + 14
    row = next(line for line in listed if line.startswith(str(root / "grpo") + " "))
    assert " grpo " in row and " succeeded " in row and str(root / "sft") in row and "reward=" in row
    assert cli.main(["runs", "show", str(root / "nothing")]) == 2
    assert "not a thinktune run folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ cancel and resume
class CancelAt(Reporter):
    """Asks for a cancel once `step` steps are done: in memory, or through the run folder's cancel file
    (`thinktune runs cancel`, from any process)."""

    def __init__(self, step: int, folder: Path | None = None) -> None:
        super().__init__()
        self.step, self.folder, self.seen = step, folder, []

    def progress(self, done, total=None, **metrics):
        self.seen.append(done)
        if done >= self.step:
            request_cancel(self.folder) if self.folder else self.cancel()


@pytest.mark.parametrize("kind", ["sft", "grpo"])
def test_cancel_stops_at_a_step_with_a_checkpoint_and_a_rerun_resumes(tmp_path, kind):
    out = tmp_path / kind
    overrides = [*(SFT if kind == "sft" else [*GRPO, "model=tiny"]), "max_steps=4", f"output_dir={out}"]
    cfg = load_job_config(kind, None, overrides)
    reporter = CancelAt(2, folder=out if kind == "grpo" else None)  # both ways of asking
    first = run_job(kind, cfg, reporter)
    assert first.status == "cancelled" and Run.load(out).status == "cancelled"
    assert (out / "checkpoint-2" / "trainer_state.json").is_file() and not first.final.exists()
    assert steps_logged(out, key="step") == [1, 2]
    assert any(e["event"] == "cancel" and e.get("step") == 2 for e in events(out))

    second = run_job(kind, cfg, RecordingReporter())
    assert second.status == "succeeded" and second.final.is_dir()
    assert steps_logged(out, key="step") == [1, 2, 3, 4]  # none twice, none missing
    resumed = [e for e in events(out) if e["event"] in ("data", "task")][-1]
    assert resumed["resumed_from"] == "checkpoint-2" and resumed["start_step"] == 2
    if kind == "grpo":
        assert [r["step"] for r in read_jsonl(out / "completions.jsonl")] == [1, 2, 3, 4]
    assert json.loads((out / MANIFEST).read_text())["attempts"] == 2


def test_a_killed_run_resumes_exactly_and_skips_a_broken_checkpoint(tmp_path):
    out = tmp_path / "sft"
    cfg = load_job_config("sft", None, [*SFT, "max_steps=3", "save_steps=1", f"output_dir={out}"])
    assert run_job("sft", cfg, CancelAt(2)).status == "cancelled"
    # What a kill -9 leaves: a row logged after the last checkpoint, a torn line, a checkpoint that was being
    # written, and a manifest still saying running with a lock whose process is gone.
    append_jsonl(out / "metrics.jsonl", {"step": 3, "loss": 9.9})
    with (out / "metrics.jsonl").open("a") as f:
        f.write('{"step": 3, "lo')
    broken = out / "checkpoint-3"
    broken.mkdir()
    (broken / "trainer_state.json").write_text("{}")
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "status": "running"}))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK).write_text(str(dead.pid))
    assert Run.load(out).status == "interrupted"

    final = run_job("sft", cfg)
    assert final.status == "succeeded"
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["loss"] != 9.9
    skipped = [e for e in events(out) if e["event"] == "checkpoint_skipped"]
    assert skipped and skipped[0]["checkpoint"] == "checkpoint-3"
    assert [e for e in events(out) if e["event"] == "data"][-1]["resumed_from"] == "checkpoint-2"


def test_a_run_folder_is_locked_while_a_live_process_writes_to_it(tmp_path):
    out = tmp_path / "sft"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK).write_text(str(holder.pid))
        cfg = load_job_config("sft", None, [*SFT, "max_steps=1", f"output_dir={out}"])
        with pytest.raises(UserError, match=rf"a run is already writing here \(process {holder.pid}\)"):
            run_job("sft", cfg)
        assert (out / LOCK).read_text() == str(holder.pid)  # the holder's lock is left alone
    finally:
        holder.kill()
        holder.wait()


def test_a_failed_job_records_its_one_line_cause(tmp_path):
    out = tmp_path / "eval"
    cfg = load_job_config("eval", None, ["model=tiny", f"task=jsonl:{QUESTIONS}", "strategy=nope",
                                         "progress=false", f"output_dir={out}"])
    with pytest.raises(ValueError, match="unknown strategy"):
        run_job("eval", cfg)
    run = Run.load(out)
    assert run.status == "failed" and "unknown strategy 'nope'" in run.error and "\n" not in run.error
    assert events(out)[-1]["event"] == "failed"


def test_cancel_command_reaches_a_running_job_and_refuses_a_finished_one(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"kind": "sft", "status": "running", "config": {}}))
    (out / LOCK).write_text(str(os.getpid()))  # this process stands in for the job
    assert cli.main(["runs", "cancel", str(out)]) == 0
    watcher = Reporter()
    watcher.watch(out)
    assert watcher.cancel_requested()
    (out / MANIFEST).write_text(json.dumps({"kind": "sft", "status": "succeeded", "config": {}}))
    assert cli.main(["runs", "cancel", str(out)]) == 2
    assert "nothing to cancel (status succeeded)" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- the commands agree
@pytest.mark.parametrize("argv", [["train", "sft"], ["train", "grpo"], ["compare"], ["eval"]])
def test_every_job_command_takes_a_config_set_and_show_config(tmp_path, capsys, argv):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 7\n")
    assert cli.main([*argv, str(cfg), "--set", "output_dir=elsewhere", "--show-config"]) == 0
    shown = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert shown["seed"] == "7" and shown["output_dir"] == "'elsewhere'"  # the file and --set both applied
    assert cli.main([*argv, str(cfg), "--set", "sedd=1", "--show-config"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'sedd'" in err and "did you mean 'seed'?" in err


def test_kill_9_mid_run_then_rerun_resumes_with_every_step_logged_once(tmp_path, kill_9_when):
    """A real `kill -9` of `thinktune train sft` between checkpoints: the rerun resumes from the last one,
    cuts the rows logged after it, and ends with each step's row exactly once."""
    out = tmp_path / "sft"
    argv = [sys.executable, "-m", "thinktune", "train", "sft",
            *sum((["--set", s] for s in [*SFT, "max_steps=8", "save_steps=3", f"output_dir={out}"]), [])]

    def past_the_first_checkpoint() -> bool:  # a row past the first checkpoint is logged
        done = steps_logged(out) if (out / "metrics.jsonl").is_file() else []
        return (out / "checkpoint-3").is_dir() and any(s > 3 for s in done)

    kill_9_when(argv, past_the_first_checkpoint, timeout=240)
    assert Run.load(out).status == "interrupted"  # a 'running' manifest whose process is gone
    before = steps_logged(out)
    assert max(before) > 3 and max(before) < 8
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert steps_logged(out) == list(range(1, 9))
    resumed = [e for e in events(out) if e["event"] == "data"][-1]["resumed_from"]
    assert resumed in ("checkpoint-3", "checkpoint-6") and Run.load(out).status == "succeeded"
