"""The whole compare flow on the tiny model: data → two variants with one budget → every row evaluated by
the harness → router rows → report with a recommendation computed from the report's own numbers; then a
resumed run that skips what is done, and a changed setting that re-runs only what it affects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from thinktune.compare.compare import CompareConfig, run_compare
from thinktune.compare.recommend import Measured, recommend
from thinktune.compare.report import COLUMNS, fmt_cell

SMALL = dict(model="tiny", train_rows=16, eval_questions=8, base_eval_questions=4, steps=2, batch_size=4,
             max_length=128, max_new_tokens=24, direct_max_new_tokens=8, router_samples=2, eval_batch_size=8,
             progress=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    lines: list[str] = []
    cfg = CompareConfig(**SMALL, output_dir=str(out))
    result = run_compare(cfg, echo=lines.append)
    return cfg, result, lines


def test_every_row_is_measured(run):
    _, result, lines = run
    names = [r["name"] for r in result.rows]
    assert names == ["base_direct", "base_cot", "non_reasoning", "reasoning", "router_agreement",
                     "router_classifier"]
    by = {r["name"]: r for r in result.rows}
    assert by["base_direct"]["n_questions"] == 4 and by["reasoning"]["n_questions"] == 8
    for name in ("non_reasoning", "reasoning"):
        assert by[name]["train_tokens"] > 0 and by[name]["train_runtime_s"] > 0
        assert by[name]["tokens_per_query"] > 0 and by[name]["seconds_per_query"] > 0
    assert 0 <= by["router_agreement"]["routed_to_reasoning"] <= 1
    assert [ln.split("]")[0] for ln in lines if ln.startswith("[")] == [f"[{i}/9" for i in range(1, 10)]


def test_variants_share_one_budget_and_stay_loadable(run):
    cfg, result, _ = run
    from thinktune.models import load_model

    configs = {}
    for job in ("reasoning", "non_reasoning"):
        final = result.variants[job]
        model, tok = load_model(str(final))
        assert model.num_parameters() > 0
        configs[job] = yaml.safe_load((final / "config.yaml").read_text())
    assert configs["reasoning"]["job"] == "reasoning" and configs["non_reasoning"]["job"] == "non_reasoning"
    same = ("data", "max_steps", "batch_size", "learning_rate", "lora", "seed", "max_length", "model")
    assert all(configs["reasoning"][k] == configs["non_reasoning"][k] for k in same)
    assert configs["reasoning"]["max_steps"] == cfg.steps


def _report_table(md: str) -> dict[str, dict[str, str]]:
    """The comparison table of report.md as {label: {header: cell}}."""
    section = md.split("## The comparison", 1)[1].lstrip("\n")
    lines = section.split("\n\n", 1)[0].splitlines()  # the table runs to the first blank line
    headers = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = dict(zip(headers, cells, strict=True))
    return rows


def test_report_numbers_and_recommendation_come_from_the_measurements(run):
    _, result, _ = run
    md = result.report_md.read_text()
    html = result.report_html.read_text()
    saved = json.loads((result.out_dir / "results.json").read_text())
    table = _report_table(md)
    # Every number in the report's table is the measured one, formatted.
    for row in saved["rows"]:
        shown = table[row["label"]]
        for key, header, how in COLUMNS:
            assert shown[header] == fmt_cell(row.get(key), how), (row["name"], key)
        assert f'data-row="{row["name"]}"' in html
    # The recommendation in the report is recommend() over those rows ...
    rec = recommend(saved["rows"], routers=["router_agreement", "router_classifier"])
    for line in rec.lines:
        assert line in md
    assert saved["recommendation"]["verdict"] == rec.verdict
    # ... and the numbers read back from the report's own table give the same verdict.
    parsed = []
    for label, cells in table.items():
        name = next(r["name"] for r in saved["rows"] if r["label"] == label)
        parsed.append(Measured(name, float(cells["strict acc"].rstrip("%")) / 100, float(cells["tokens/q"]),
                               float(cells["s/q"]), int(cells["n"])))
    assert recommend(parsed, routers=["router_agreement", "router_classifier"]).verdict == rec.verdict
    verdict = re.search(r"\*\*Verdict: ([a-z-]+)\*\*", md).group(1)
    assert verdict == rec.verdict.replace("_", "-")
    assert "data:image/png;base64," in html and (result.out_dir / "tradeoff.png").is_file()


def test_a_second_run_resumes_and_a_changed_setting_reruns_only_its_phases(run):
    cfg, result, _ = run
    final = result.variants["reasoning"] / "model.safetensors"
    stamp = final.stat().st_mtime_ns
    lines: list[str] = []
    run_compare(cfg, echo=lines.append)
    phases = [ln for ln in lines if ln.startswith("[")]
    assert all("skipped" in ln for ln in phases[:-1]), phases
    assert final.stat().st_mtime_ns == stamp

    lines.clear()
    changed = CompareConfig(**{**SMALL, "direct_max_new_tokens": 6}, output_dir=cfg.output_dir)
    again = run_compare(changed, echo=lines.append)
    skipped = {ln.split("] ", 1)[1].split(" — ")[0].split(" (")[0].split(" on ")[0] for ln in lines if "skipped" in ln}
    assert skipped == {"data: the training rows and the held-out questions", "train the non-reasoning variant",
                       "train the reasoning variant", "evaluate the base model, CoT prompt",
                       "evaluate the reasoning variant"}
    assert final.stat().st_mtime_ns == stamp
    assert {r["name"]: r for r in again.rows}["non_reasoning"]["output_tokens_mean"] <= 6


def test_phase_keys_follow_what_each_phase_depends_on(tmp_path):
    from thinktune.compare.compare import Phase, data_key, sft_config, train_key
    from thinktune.recipes.config import LoraSettings

    def fingerprints(**changes):
        cfg = CompareConfig(**{**SMALL, **changes}, output_dir=str(tmp_path))
        data = Phase("data", tmp_path / "data", data_key(cfg))
        base = sft_config(cfg, tmp_path / "data" / "train.jsonl", tmp_path)
        return data.fingerprint(), Phase("t", tmp_path, train_key(base, data.fingerprint(), "reasoning")).fingerprint()

    d0, t0 = fingerprints()
    for changed in ({"train_rows": 8}, {"task_options": {"digits": 3, "operators": "+"}}, {"mix_values": [1, 2]}):
        d, t = fingerprints(**changed)
        assert d != d0 and t != t0, changed  # other training data: the variants are trained again
    assert fingerprints(steps=3)[0] == d0 and fingerprints(steps=3)[1] != t0
    assert fingerprints(lora=LoraSettings(enabled=False, r=4)) == (d0, t0)  # rank is moot for a full fine-tune
    # a user's file: its content counts, the generator's settings do not
    path = tmp_path / "mine.jsonl"
    path.write_text('{"question": "q", "answer": "1", "reasoning": "r"}\n')
    u0 = fingerprints(data=str(path))
    assert fingerprints(data=str(path), mix_values=[1, 2]) == u0
    path.write_text('{"question": "q", "answer": "2", "reasoning": "r"}\n')
    assert fingerprints(data=str(path))[0] != u0[0]


def test_config_errors_are_one_line(tmp_path, capsys):
    from thinktune.cli import main

    assert main(["compare", "--set", "stepz=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'stepz'" in err and "did you mean 'steps'" in err and len(err.strip().splitlines()) == 1
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("model: tiny\nlora:\n  r: 8\n")
    from thinktune.config import load_config

    loaded = load_config(CompareConfig, cfg_file)
    assert loaded.lora.r == 8 and loaded.lora.enabled is False  # a partial section keeps compare's full FT


def test_data_without_reasoning_is_refused(tmp_path):
    from thinktune.config import ConfigError
    from thinktune.data.readers import write_examples
    from thinktune.data.schema import Example

    path = write_examples([Example(f"q{i}", str(i)) for i in range(20)], tmp_path / "d.jsonl")
    with pytest.raises(ConfigError, match="20/20 rows have no step-by-step reasoning"):
        run_compare(CompareConfig(**{**SMALL, "data": str(path)}, output_dir=str(tmp_path / "out")))


def test_user_data_flows_through(tmp_path, capsys):
    """A user's JSONL with reasoning: split by snapshot, no difficulty mix; the advise CLI measures on it."""
    from thinktune.cli import main
    from thinktune.data.readers import write_examples
    from thinktune.data.schema import Example

    rows = [Example(f"What is {i} + {i + 1} + 2?", str(2 * i + 3), reasoning=f"{i} + {i + 1} = {2 * i + 1}\n"
                    f"{2 * i + 1} + 2 = {2 * i + 3}") for i in range(24)]
    path = write_examples(rows, tmp_path / "d.jsonl")
    out = tmp_path / "measure"
    code = main(["advise", "--data", str(path), "--measure", "--json",
                 "--set", "model=tiny", "--set", "steps=1", "--set", "batch_size=4", "--set", "eval_questions=4",
                 "--set", "base_eval_questions=0", "--set", "routers=[classifier]", "--set", "max_new_tokens=8",
                 "--set", "direct_max_new_tokens=4", "--set", f"output_dir={out}", "--set", "progress=false"])
    assert code == 0
    saved = json.loads((out / "results.json").read_text())
    printed = json.loads(capsys.readouterr().out)
    assert printed["recommendation"] == saved["recommendation"]["verdict"]
    assert printed["signals"]["rule_of_thumb"] == "reasoning"  # what the dataset signals alone said
    assert [r["name"] for r in saved["rows"]] == ["non_reasoning", "reasoning", "router_classifier"]
    assert saved["config"]["mix_key"] == ""
    assert len(Path(out / "data" / "test.jsonl").read_text().splitlines()) == 4


def test_router_serves_the_run_behind_one_call(run):
    from thinktune.compare.router import HybridRouter

    _, result, _ = run
    router = HybridRouter.from_compare(result.out_dir, "classifier", max_new_tokens=8)
    questions = ["Calculate 12 + 30.", "Calculate 55 + 17 + 40 + 81 + 9."]
    expected = [s >= 0.5 for s in router.difficulty(questions).scores]
    routed = router(questions)
    assert [r.hard for r in routed] == expected
    assert all(r.tokens > 0 for r in routed)
    agreement = HybridRouter.from_compare(result.out_dir, "agreement", k=2, max_new_tokens=8)
    assert len(agreement(questions[:1])) == 1


def test_results_keep_the_phase_times_of_the_run_that_did_the_work(run):
    _, result, _ = run
    saved = json.loads((result.out_dir / "results.json").read_text())
    seconds = saved["phase_seconds"]
    assert set(seconds) >= {"data", "train_non_reasoning", "train_reasoning", "eval_reasoning", "report"}
    assert seconds["train_reasoning"] > 0
    assert saved["phases_total_s"] >= seconds["train_reasoning"]


def test_html_page_holds_compare_sections_then_the_harness_view_and_ends_with_the_recommendation(run):
    _, result, _ = run
    page = result.report_html.read_text()
    order = [page.index(f"<h2>{title}</h2>") for title in (
        "The comparison", "Trade-off: accuracy against latency and tokens", "Strict accuracy by difficulty",
        "Every evaluated run (the harness's view)", "Recommendation")]
    assert order == sorted(order)
    assert page.count('src="data:image/png;base64,') == 3  # trade-off, harness accuracy-vs-tokens, lengths
    assert page.rstrip().endswith("</ul></body></html>")
