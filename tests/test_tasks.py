"""Verifiable tasks: determinism, disjoint splits, gold solutions that verify, option errors, and the
one `check_answer` dispatch shared by evaluation and rewards."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thinktune.data.schema import Example
from thinktune.tasks import TASKS, check_answer, load_task
from thinktune.tasks.arithmetic import solve_steps
from thinktune.tasks.countdown import check_equation, evaluate_equation

FIXTURES = Path(__file__).parent / "fixtures" / "tasks"
STEP = re.compile(r"^-?\d+ [-+*/] -?\d+ = -?\d+$")


# ------------------------------------------------------------------------------------------ registry
def test_registry_names_every_task_with_a_description():
    assert set(TASKS) == {"arithmetic", "word_problems", "countdown", "gsm8k", "rg:<name>", "jsonl:<path>"}
    assert all(desc.strip() for desc in TASKS.values())


@pytest.mark.parametrize("name", ["nope", "rg", "jsonl"])
def test_unknown_task_is_a_clear_error(name):
    with pytest.raises(ValueError, match="unknown task"):
        load_task(name)


@pytest.mark.parametrize("name,option", [("arithmetic", "opps"), ("countdown", "digits"), ("gsm8k", "ops")])
def test_unknown_option_names_the_valid_ones(name, option):
    with pytest.raises(ValueError, match=f"unknown option.*{option}.*valid"):
        load_task(name, **{option: 1})


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="unknown split"):
        load_task("arithmetic", split="holdout", n=1)


# ---------------------------------------------------------------------------------------- generated
@pytest.mark.parametrize("name,opts", [("arithmetic", {}), ("arithmetic", {"ops": 1, "digits": 1}),
                                       ("countdown", {}), ("countdown", {"numbers": 4, "max_number": 20})])
def test_generated_tasks_are_deterministic_and_seeded(name, opts):
    a = load_task(name, split="train", n=20, seed=1, **opts)
    b = load_task(name, split="train", n=20, seed=1, **opts)
    c = load_task(name, split="train", n=20, seed=2, **opts)
    assert [e.question for e in a] == [e.question for e in b]
    assert [e.question for e in a] != [e.question for e in c]
    assert len({e.question for e in a}) == 20  # distinct within a split


@pytest.mark.parametrize("name,opts", [("arithmetic", {"ops": 1, "digits": 1, "operators": "+"}),
                                       ("arithmetic", {}), ("countdown", {"numbers": 3, "max_number": 12})])
def test_splits_never_share_a_question(name, opts):
    seen = {}
    for split in ("train", "validation", "test"):
        for seed in (0, 1):
            n = (40 if split == "train" else 3) if opts.get("digits") == 1 else 300  # 81 problems in all
            seen.setdefault(split, set()).update(e.question for e in load_task(name, split=split, n=n, seed=seed, **opts))
    assert not seen["train"] & seen["test"]
    assert not seen["train"] & seen["validation"]
    assert not seen["validation"] & seen["test"]


def test_countdown_splits_never_share_a_puzzle_with_the_numbers_reordered():
    def puzzles(split, n):
        return {(tuple(sorted(e.meta["numbers"])), e.meta["target"])
                for e in load_task("countdown", split=split, n=n, seed=0)}

    train, test = puzzles("train", 400), puzzles("test", 200)
    assert not train & test


def test_tiny_problem_space_runs_out_with_a_clear_error():
    # 1 op, 1 digit, '+' only: 81 problems in all, ~8 of them in the test bucket.
    with pytest.raises(ValueError, match="distinct test problems"):
        load_task("arithmetic", split="test", n=50, ops=1, digits=1, operators="+")


def test_arithmetic_steps_follow_precedence_one_per_line():
    steps, answer = solve_steps([17, 25, 3, 8], ["+", "*", "-"])
    assert steps == ["25 * 3 = 75", "17 + 75 = 92", "92 - 8 = 84"]
    assert answer == 17 + 25 * 3 - 8


@pytest.mark.parametrize("opts", [{}, {"ops": 5, "digits": 3}, {"operators": "-"}, {"ops": 1, "digits": 1}])
def test_arithmetic_gold_is_right_and_every_step_is_written(opts):
    for ex in load_task("arithmetic", split="train", n=30, **opts):
        expr = ex.question.removeprefix("Calculate ").rstrip(".")
        assert int(ex.answer) == eval(expr)  # our own generated text, digits and operators only
        lines = ex.reasoning.splitlines()
        assert len(lines) == opts.get("ops", 3)
        assert all(STEP.match(line) for line in lines)
        assert lines[-1].endswith(f"= {ex.answer}")
        assert ex.verifier == "numeric"
        assert check_answer(ex, ex.answer) == 1.0


@pytest.mark.parametrize("bad", [{"ops": 0}, {"digits": 0}, {"operators": "/"}, {"operators": ""}])
def test_arithmetic_bad_knobs(bad):
    with pytest.raises(ValueError, match="arithmetic"):
        load_task("arithmetic", n=1, **bad)


@pytest.mark.parametrize("opts", [{}, {"numbers": 4}, {"numbers": 2, "max_number": 9, "min_target": 1, "max_target": 50},
                                  {"min_number": 0, "max_number": 5, "min_target": 1, "max_target": 30}])
def test_countdown_gold_equation_solves_its_problem(opts):
    for ex in load_task("countdown", split="train", n=50, **opts):
        numbers, target = ex.meta["numbers"], ex.meta["target"]
        assert len(numbers) == opts.get("numbers", 3)
        assert opts.get("min_target", 10) <= target <= opts.get("max_target", 100)
        assert str(target) in ex.question and str(numbers) in ex.question
        assert check_equation(ex.answer, numbers, target)
        assert check_answer(ex, ex.answer) == 1.0
        assert ex.reasoning.splitlines()[-1].endswith(f"= {target}")


# -------------------------------------------------------------------------------------------- gsm8k
def test_gsm8k_from_a_path_strips_calculator_annotations():
    rows = load_task("gsm8k", split="test", path=str(FIXTURES / "gsm8k" / "test.jsonl"))
    assert len(rows) == 3
    first = rows[0]
    assert first.answer == "18"
    assert "<<" not in first.reasoning and "####" not in first.reasoning
    assert first.reasoning.splitlines()[0] == "Janet sells 16 - 3 - 4 = 9 duck eggs a day."
    assert check_answer(first, "18") == 1.0 and check_answer(first, "18.0") == 1.0
    assert check_answer(first, "$18") == 1.0 and check_answer(first, "17") == 0.0


def test_gsm8k_from_the_environment_directory(monkeypatch):
    monkeypatch.setenv("THINKTUNE_GSM8K_DIR", str(FIXTURES / "gsm8k"))
    assert len(load_task("gsm8k", split="train")) == 2
    assert len(load_task("gsm8k", split="test", n=1)) == 1


def test_gsm8k_missing_file_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("THINKTUNE_GSM8K_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"gsm8k: no test.jsonl found.*hub=True"):
        load_task("gsm8k", split="test", path=str(tmp_path / "nope.jsonl"))


def test_gsm8k_has_no_validation_split():
    with pytest.raises(ValueError, match="only 'train' and 'test'"):
        load_task("gsm8k", split="validation")


@pytest.mark.skipif(not Path(__file__).resolve().parents[2].joinpath("shared/data/gsm8k/test.jsonl").is_file(),
                    reason="the shared GSM8K copy (../shared/data/gsm8k) is not on this machine")
def test_gsm8k_default_location_next_to_the_repo(monkeypatch):
    monkeypatch.delenv("THINKTUNE_GSM8K_DIR", raising=False)
    rows = load_task("gsm8k", split="test")
    assert len(rows) == 1319
    assert all(r.answer.lstrip("-").replace(".", "").isdigit() for r in rows)


# ---------------------------------------------------------------------------------------- users' jsonl
def test_jsonl_task_keeps_verifiers_and_verifier_columns():
    rows = load_task(f"jsonl:{FIXTURES / 'user.jsonl'}")
    assert [r.verifier for r in rows] == ["casefold", "math", "countdown", "code"]
    assert rows[0].meta["id"] == "q1" and rows[0].meta["source"].endswith("user.jsonl:1")
    assert rows[1].reasoning == "6 * 7 = 42"
    assert rows[2].meta["numbers"] == [2, 5] and rows[3].meta["tests"][0].startswith("assert")
    assert check_answer(rows[0], "  paris ") == 1.0
    assert check_answer(rows[2], "5 * 2") == 1.0 and check_answer(rows[2], "5 + 2") == 0.0
    assert check_answer(rows[3], "```python\ndef add(a, b):\n    return a + b\n```") == 1.0
    assert check_answer(rows[3], "def add(a, b):\n    return a - b") == 0.5


def test_jsonl_task_option_sets_the_default_verifier():
    rows = load_task(f"jsonl:{FIXTURES / 'user.jsonl'}", verifier="exact", n=2)
    assert [r.verifier for r in rows] == ["casefold", "exact"]


@pytest.mark.parametrize("name,message", [
    ("missing_answer.jsonl", r"missing_answer.jsonl:2: missing 'answer'"),
    ("broken.jsonl", r"broken.jsonl:2: invalid JSON"),
])
def test_jsonl_task_errors_name_file_and_line(name, message):
    with pytest.raises(ValueError, match=message):
        load_task(f"jsonl:{FIXTURES / name}")


def test_task_files_with_a_byte_order_mark_and_non_object_lines(tmp_path):
    bom = "\ufeff"
    (tmp_path / "user.jsonl").write_text(bom + '{"question": "q1", "answer": "1"}\n', encoding="utf-8")
    assert [r.answer for r in load_task(f"jsonl:{tmp_path / 'user.jsonl'}")] == ["1"]
    gsm = (FIXTURES / "gsm8k" / "test.jsonl").read_text(encoding="utf-8")
    (tmp_path / "bom.jsonl").write_text(bom + gsm, encoding="utf-8")
    assert len(load_task("gsm8k", split="test", path=str(tmp_path / "bom.jsonl"))) == 3
    (tmp_path / "list.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"list.jsonl:1: not a GSM8K row"):
        load_task("gsm8k", split="test", path=str(tmp_path / "list.jsonl"))


def test_jsonl_task_missing_file_and_bad_verifier(tmp_path):
    with pytest.raises(FileNotFoundError, match="task file not found"):
        load_task(f"jsonl:{tmp_path / 'nope.jsonl'}")
    with pytest.raises(ValueError, match="unknown verifier"):
        load_task(f"jsonl:{FIXTURES / 'user.jsonl'}", verifier="vibes")


# ------------------------------------------------------------------------------------ reasoning-gym
@pytest.mark.parametrize("name", ["basic_arithmetic", "leg_counting", "chain_sum"])
def test_rg_task_scores_its_gold_and_not_a_wrong_answer(name):
    rows = load_task(f"rg:{name}", split="test", n=5, seed=0)
    assert len(rows) == 5 and len({r.question for r in rows}) == 5
    for r in rows:
        assert r.verifier == "rg" and r.meta["rg_entry"]["question"] == r.question
        assert check_answer(r, r.answer) == 1.0
        assert check_answer(r, "definitely not it") < 1.0
        assert check_answer(r, None) == 0.0


def test_rg_gold_still_scores_after_a_json_round_trip_and_missing_golds_stay_empty():
    import json

    from thinktune.data.schema import Example

    # rearc's scorer compares tuples; JSON (snapshots, datasets columns) turns them into lists
    [r] = load_task("rg:rearc", split="test", n=1, seed=0)
    stored = Example(question=r.question, answer=r.answer, verifier="rg", meta=json.loads(json.dumps(r.meta)))
    assert check_answer(stored, r.answer) == 1.0
    # graph_color entries have no gold answer: its scorer checks colourings by the rules
    [g] = load_task("rg:graph_color", split="test", n=1, seed=0)
    assert g.answer == "" and check_answer(g, "None") == 0.0


def test_rg_splits_are_disjoint_and_options_reach_the_dataset():
    train = {r.question for r in load_task("rg:basic_arithmetic", split="train", n=60)}
    test = {r.question for r in load_task("rg:basic_arithmetic", split="test", n=20)}
    assert not train & test
    with pytest.raises(ValueError, match="unknown reasoning-gym dataset"):
        load_task("rg:no_such_dataset", n=1)
    with pytest.raises(ValueError, match="bad option"):
        load_task("rg:basic_arithmetic", n=1, not_an_option=3)


# ------------------------------------------------------------------------------------- check_answer
@pytest.mark.parametrize("verifier,gold,answer,expected", [
    ("math", "0.5", "1/2", 1.0),
    ("math", "\\frac{1}{2}", "0.5", 1.0),
    ("math", "42", "43", 0.0),
    ("numeric", "1024", "1,024", 1.0),
    ("numeric", "7", "seven", 0.0),
    ("exact", "Paris", "paris", 0.0),
    ("casefold", "Paris", "PARIS", 1.0),
    ("math", "42", None, 0.0),
    ("math", "42", "", 0.0),
    ("math", "42", "4" * 5000, 0.0),
    ("casefold", "café", "CAFÉ", 1.0),
])
def test_check_answer_on_verify_modes(verifier, gold, answer, expected):
    assert check_answer(Example("q", gold, verifier=verifier), answer) == expected


def test_check_answer_unknown_verifier_or_missing_meta_is_a_data_error():
    with pytest.raises(ValueError, match="unknown verifier"):
        check_answer(Example("q", "1", verifier="vibes"), "1")
    with pytest.raises(ValueError, match="countdown example needs"):
        check_answer(Example("q", "1", verifier="countdown"), "1")
    with pytest.raises(ValueError, match="code example needs"):
        check_answer(Example("q", "1", verifier="code"), "1")


def test_check_answer_from_a_worker_thread():
    # math-verify's own timeout uses signal.alarm, which only works in the main thread; TRL and web
    # servers call verifiers from other threads.
    from concurrent.futures import ThreadPoolExecutor

    ex = Example("q", "\\frac{1}{2}", verifier="math")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda a: check_answer(ex, a), ["0.5", "1/2", "\\frac{2}{4}", "3"]))
    assert results == [1.0, 1.0, 1.0, 0.0]


def test_evaluate_equation_reports_the_numbers_it_used():
    value, used = evaluate_equation("(25 - 5) × 4 = 80")
    assert value == 80 and used == [25, 5, 4]


# ------------------------------------------------------------------------------------------ word problems
@pytest.mark.parametrize("steps", [2, 3, 4])
def test_word_problems_have_whole_results_checkable_steps_and_disjoint_splits(steps):
    import re

    from thinktune.tasks import check_answer, load_task

    train = load_task("word_problems", split="train", n=60, seed=0, steps=steps)
    test = load_task("word_problems", split="test", n=60, seed=0, steps=steps)
    assert not {e.question for e in train} & {e.question for e in test}
    assert load_task("word_problems", split="test", n=60, seed=0, steps=steps) == test  # deterministic
    for ex in test:
        lines = ex.reasoning.splitlines()
        assert len(lines) == steps + 1 and ex.question.endswith("have now?")
        for a, op, b, c in re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", ex.reasoning):
            a, b, c = int(a), int(b), int(c)
            assert {"+": a + b, "-": a - b, "*": a * b, "/": a // b if a % b == 0 else -1}[op] == c >= 0
        assert lines[-1].split(" = ")[-1].split()[0] == ex.answer  # the last step's result is the answer
        assert check_answer(ex, ex.answer) == 1.0 and check_answer(ex, str(int(ex.answer) + 1)) == 0.0
    with pytest.raises(ValueError, match="steps must be from 1 to 6"):
        load_task("word_problems", steps=9)


def test_word_problems_feed_grpo_and_eval():
    """The word-problem task as GRPO's training prompts (with the columns its accuracy reward reads) and as
    the eval job's questions."""
    from thinktune.evaluation.config import EvalJobConfig
    from thinktune.recipes.config import GRPOJobConfig
    from thinktune.recipes.grpo import build_dataset
    from thinktune.rewards.accuracy import accuracy

    ds = build_dataset(GRPOJobConfig(task="word_problems", task_options={"steps": 2}, train_size=6))
    assert len(ds) == 6 and ds[0]["prompt"][-1]["content"].endswith("?")
    rewards = accuracy([ds[0]["prompt"]], [[{"role": "assistant", "content": f"<think>x</think><answer>{ds[0]['answer']}</answer>"}]],
                       answer=[ds[0]["answer"]], verifier=[ds[0]["verifier"]], meta=[ds[0]["meta"]])
    assert rewards == [1.0]
    cfg = EvalJobConfig(task="word_problems", task_options={"steps": 4}, limit=3)
    assert len(load_task(cfg.task, split=cfg.split, n=cfg.limit, **cfg.task_options)) == 3
