"""Selection policies with exact counts, dedup and decontamination, and an export that round-trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from distill.recipe import load_recipe
from distill.stages.export import export
from distill.stages.generate import generate
from distill.stages.ingest import ingest
from distill.stages.select import select
from distill.stages.verify import verify
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan
from distill.types import stable_hash

ROOT = Path(__file__).resolve().parents[1]
ANSWERS = {
    "baker": "The answer is \\boxed{15}.",            # 2 of 4 samples truncated: pass rate 0.5
    "Mia reads": "The answer is \\boxed{72}.",        # 1.0
    "bike costs": "The answer is \\boxed{\\$180}.",   # 1.0
    "rows of chairs": "The answer is \\boxed{74}.",   # 0.0 (wrong)
    "Tom saves": "So it takes 80 weeks, I think.",    # 0.0 (no final answer)
    "果园": "答案是 \\boxed{72}。",                    # 1.0
    "Una caja": "La respuesta es \\boxed{42}.",       # 0.0 (wrong)
}
NO_DEDUP = {"dedup": {"problems": False, "responses": False}, "decontaminate": {"enabled": False}}


def recipe_file(tmp_path: Path, base_url: str, select_cfg: dict, name: str = "sel", **extra) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    data = {"name": name, "store": str(tmp_path / "sel.duckdb"),
            "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
            "teacher": {"model": "t", "base_urls": [base_url], "n": 4, "use_n": "never", "max_concurrency": 1,
                        "seed": 1},
            "checks": [{"name": "format"}, {"name": "math"}],
            "select": select_cfg, **extra}
    path = tmp_path / f"{name}-{abs(hash(json.dumps(select_cfg, sort_keys=True))) % 10**8}.yaml"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("select")
    plan = ServerPlan(answers=ANSWERS, faults=[Fault("length", match="baker", times=2)])
    with FaultServer(plan) as server:
        path = recipe_file(tmp_path, server.base_url, NO_DEDUP)
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)
            generate(recipe, store)
            verify(recipe, store)
        yield tmp_path, server.base_url


def run_select(tmp_path: Path, base_url: str, select_cfg: dict, **extra):
    recipe = load_recipe(recipe_file(tmp_path, base_url, select_cfg, **extra))
    with Store.open(recipe.store_path) as store:
        return select(recipe, store)


@pytest.mark.parametrize(("policy", "kept", "excluded"), [
    ({"policy": "all"}, 14, {"failed:format:truncated": 2, "failed:format:no_final_answer": 4,
                             "failed:math:math_mismatch": 8}),
    ({"policy": "first"}, 4, {"policy:first": 10}),
    ({"policy": "shortest"}, 4, {"policy:shortest": 10}),
    ({"policy": "k_per_problem", "k": 3}, 2 + 3 + 3 + 3, {"policy:k_per_problem": 3}),
    ({"policy": "all", "min_pass_rate": 0.25, "max_pass_rate": 0.75}, 2, {"outside_difficulty_band": 12}),
    ({"policy": "all", "per_source_cap": {"sample_gsm8k": 5}}, 5, {"source_cap": 9}),
])
def test_policies_keep_exact_counts(verified, policy: dict, kept: int, excluded: dict) -> None:
    tmp_path, base_url = verified
    summary = run_select(tmp_path, base_url, NO_DEDUP | policy)
    assert summary.kept == kept
    for reason, count in excluded.items():
        assert summary.excluded[reason] == count, (reason, summary.excluded)
    assert sum(summary.excluded.values()) + summary.kept == 28
    with Store.open(tmp_path / "sel.duckdb") as store:
        counts = dict(store.con.execute("SELECT status, count(*) FROM dataset_rows WHERE dataset_id = ? GROUP BY 1",
                                        [summary.dataset_id]).fetchall())
    assert counts == {"kept": kept, "excluded": 28 - kept}


def test_same_selection_twice_records_nothing_new_and_seeds_matter(verified) -> None:
    tmp_path, base_url = verified
    cfg = NO_DEDUP | {"policy": "k_per_problem", "k": 1, "seed": 7}
    first, again = run_select(tmp_path, base_url, cfg), run_select(tmp_path, base_url, cfg)
    assert first.dataset_id == again.dataset_id and first.new and not again.new
    other = run_select(tmp_path, base_url, cfg | {"seed": 8})
    assert other.dataset_id != first.dataset_id and other.kept == first.kept == 4


def test_responses_dedup_collapses_identical_samples(verified) -> None:
    tmp_path, base_url = verified
    summary = run_select(tmp_path, base_url, {"decontaminate": {"enabled": False}})
    # The fault server gives every sample of a problem the same text: one copy each is kept.
    assert summary.kept == 4 and summary.excluded["duplicate_response"] == 10


def test_export_round_trips_with_card_and_lineage(verified, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    tmp_path, base_url = verified
    monkeypatch.chdir(tmp_path)
    path = recipe_file(tmp_path, base_url, NO_DEDUP | {"policy": "all"}, name="sel",
                       export={"name": "gsm8k-sample-r1", "out_dir": str(tmp_path / "exports"), "test_size": 0.25,
                               "system_prompt": "You are a careful reasoner."})
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        summary = select(recipe, store)
        exported = export(recipe, store)
        dataset = store.latest_dataset("gsm8k-sample-r1")
    assert exported.rows == {"test": 4, "train": 10} and summary.splits == {"train": 10, "test": 4}
    out = exported.location
    disk = datasets.load_from_disk(str(out / "disk"))
    parquet = datasets.load_dataset("parquet", data_files={s: str(out / "data" / f"{s}.parquet") for s in disk})
    jsonl = datasets.load_dataset("json", data_files={s: str(out / "jsonl" / f"{s}.jsonl") for s in disk})
    for split in ("train", "test"):
        assert disk[split].to_list() == parquet[split].to_list() == jsonl[split].to_list()
    row = next(r for r in disk["train"] if r["reference"] == "15")
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][0]["content"] == "You are a careful reasoner."
    assert row["messages"][1]["content"].startswith("A baker makes 12 loaves")
    assert row["messages"][2]["content"] == "<think>\nLet me work through this step by step.\n</think>\n\n" \
                                             "The answer is \\boxed{15}."
    assert [t["from"] for t in row["sharegpt"]] == ["system", "human", "gpt"]
    assert "conversations" not in row  # TRL would rename it over `messages`
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["gsm8k-sample-r1"]["file_name"] == "jsonl/train.jsonl"
    assert info["gsm8k-sample-r1"]["columns"] == {"messages": "sharegpt"}
    assert info["gsm8k-sample-r1_test"]["file_name"] == "jsonl/test.jsonl"
    assert row["verdicts"] == [{"check": "format", "status": "pass", "reason": "complete"},
                               {"check": "math", "status": "pass", "reason": "math_match"}]
    text = datasets.Value("string")
    assert disk["train"].features["verdicts"] == datasets.List({"check": text, "status": text, "reason": text})
    assert dataset["location"] == str(out) and json.loads(dataset["formats"]) == ["disk", "parquet", "jsonl"]

    card = (out / "README.md").read_text()
    assert card == exported.card.read_text() and exported.card == tmp_path / "data_cards" / "gsm8k-sample-r1.md"
    front = yaml.safe_load(card.split("---")[1])
    assert front["license"] == "unknown" and front["size_categories"] == ["n<1K"]
    assert set(front["language"]) == {"en", "zh"}
    with Store.open(recipe.store_path) as store:
        by_reason = store.con.execute("SELECT reason, count(*) FROM dataset_rows WHERE dataset_id = ? AND "
                                      "status = 'excluded' GROUP BY 1", [dataset["dataset_id"]]).fetchall()
        kept_tokens = store.con.execute(
            "SELECT max(g.completion_tokens) FROM dataset_rows d JOIN generations g USING (generation_id) "
            "WHERE d.dataset_id = ? AND d.status = 'kept'", [dataset["dataset_id"]]).fetchone()[0]
    assert by_reason and all(f"| {reason} | {n} |" in card for reason, n in by_reason)  # card counts = store
    assert "| completion tokens |" in card and f"| {kept_tokens} |" in card
    assert "| failed:math:math_mismatch | 8 |" in card
    assert "| math | fail | math_mismatch | 8 |" in card
    assert f"Dataset id `{dataset['dataset_id']}`" in card
    assert "```yaml" in card and "gsm8k-sample-r1" in card
    # Hub conventions: a pretty name, features in the Hub's YAML form, no local names as source_datasets, readable
    # column types, and only the prompt templates of the domains the rows hold
    assert front["pretty_name"] == "gsm8k-sample-r1" and "source_datasets" not in front
    features = {f["name"]: f for f in front["dataset_info"]["features"]}
    assert features["verdicts"] == {"name": "verdicts", "list": [{"name": "check", "dtype": "string"}, {
        "name": "status", "dtype": "string"}, {"name": "reason", "dtype": "string"}]}
    assert front["dataset_info"]["splits"] == [{"name": "test", "num_examples": 4}, {"name": "train",
                                                                                    "num_examples": 10}]
    assert "| problem_id | string |" in card and "| verdicts | list of {check: string, status: string, reason: " \
        "string} |" in card and "Value(" not in card
    assert "User template (math)" in card and "User template (code)" not in card


def test_export_without_a_selection_says_what_to_do(tmp_path: Path) -> None:
    from distill.errors import UsageError

    path = recipe_file(tmp_path, "http://127.0.0.1:9/v1", NO_DEDUP, name="empty")
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store, pytest.raises(UsageError, match="run `distill select .*` first"):
        export(recipe, store)


def test_push_needs_the_token_variable_and_fails_in_one_line(verified, monkeypatch: pytest.MonkeyPatch) -> None:
    from distill.errors import DistillError, UsageError

    tmp_path, base_url = verified
    monkeypatch.chdir(tmp_path)
    export_cfg = {"name": "pushed", "out_dir": str(tmp_path / "exports"), "hub_repo": "someone/distilled",
                  "token_env": "DISTILL_TEST_HF_TOKEN"}
    recipe = load_recipe(recipe_file(tmp_path, base_url, NO_DEDUP, name="sel", export=export_cfg))
    monkeypatch.delenv("DISTILL_TEST_HF_TOKEN", raising=False)
    with Store.open(recipe.store_path) as store:
        select(recipe, store)
        with pytest.raises(UsageError, match="DISTILL_TEST_HF_TOKEN is not set"):
            export(recipe, store)
        monkeypatch.setenv("DISTILL_TEST_HF_TOKEN", "hf_test_not_a_real_token")
        with pytest.raises(DistillError, match="push to someone/distilled failed") as info:
            export(recipe, store)  # no Hub here: the real push code fails, in one line
        assert "\n" not in str(info.value) and "hf_test_not_a_real_token" not in str(info.value)
        dataset = store.latest_dataset("pushed")
        assert dataset["location"] and dataset["hub_repo"] is None  # the local export is recorded, the push is not
        assert store.count("runs", "stage = 'export' AND status = 'failed'") == 1


def test_mixture_weights_scale_sources(tmp_path: Path) -> None:
    rows = {"a": [f"What is {i} plus {i}, written as a single whole number please?" for i in range(4)],
            "b": [f"What is {i} times three, written as a single whole number please?" for i in range(2)]}
    answers = {"a": lambda i: 2 * i, "b": lambda i: 3 * i}
    think = "<think>We compute it carefully, step by step.</think>"
    for name, prompts in rows.items():
        lines = [{"problem": p, "answer": str(answers[name](i)), "generation": f"{think}\\boxed{{{answers[name](i)}}}"}
                 for i, p in enumerate(prompts)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    path = tmp_path / "mix.yaml"
    path.write_text(json.dumps({
        "name": "mix", "store": str(tmp_path / "mix.duckdb"),
        "sources": [{"adapter": "traces", "path": "a.jsonl"}, {"adapter": "traces", "path": "b.jsonl"}],
        "checks": [{"name": "math"}],
        "select": {"weights": {"a": 1.0, "b": 1.0}, "decontaminate": {"enabled": False}}}))
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        ingest(recipe, store)
        verify(recipe, store)
        summary = select(recipe, store)
        kept = dict(store.con.execute(
            "SELECT p.source, count(*) FROM dataset_rows d JOIN problems p USING (problem_id) "
            "WHERE d.dataset_id = ? AND d.status = 'kept' GROUP BY 1", [summary.dataset_id]).fetchall())
    assert kept == {"a": 2, "b": 2} and summary.excluded == {"source_cap": 2}


# ---- issue 9: select refuses to guess ------------------------------------------------------------------
def test_with_no_check_for_a_domain_select_keeps_nothing_and_says_so(verified) -> None:
    tmp_path, base_url = verified
    summary = run_select(tmp_path, base_url, NO_DEDUP, checks=[])
    assert summary.kept == 0
    assert summary.excluded == {"unchecked:math": 28}
    assert summary.unchecked_domains == {"math": "drop"}
    first = summary.line().splitlines()[0]
    assert first == ("select: no check in the recipe covers domain 'math': none of its traces is kept; "
                     "add a check for it, or set select.unchecked_domains: keep")
    # Only when the recipe opts in are unverified traces kept, and the line still says so.
    opted = run_select(tmp_path, base_url, NO_DEDUP | {"unchecked_domains": "keep"}, checks=[])
    assert opted.kept == 28 and not opted.excluded
    assert "kept unverified" in opted.line().splitlines()[0]
    # A check that covers only another domain leaves math unchecked too.
    choice_only = run_select(tmp_path, base_url, NO_DEDUP, checks=[{"name": "choice"}])
    assert choice_only.excluded == {"unchecked:math": 28}


def test_abstain_is_reported_as_abstain_and_the_recipe_decides(verified) -> None:
    tmp_path, base_url = verified
    checks = [{"name": "format"}, {"name": "math"}, {"name": "language", "min_segment_chars": 200}]
    recipe = load_recipe(recipe_file(tmp_path, base_url, NO_DEDUP, checks=checks))
    with Store.open(recipe.store_path) as store:
        verify(recipe, store)  # only the language verdicts are missing
        # Segments of 200 letters or more: these short answers have none, so the language verdicts abstain,
        # except the Chinese and Spanish problems', whose reasoning is an English sentence ("Let me work through
        # this step by step": Latin prose in a Chinese trace, and a 5-word sentence py3langid calls English).
        counts = dict(((s, r), n) for s, r, n in store.con.execute(
            "SELECT status, reason, count(*) FROM verdicts WHERE check_name = 'language' GROUP BY ALL").fetchall())
    assert counts == {("abstain", "language_unknown"): 20, ("fail", "wrong_language"): 8}
    dropped = run_select(tmp_path, base_url, NO_DEDUP, checks=checks)
    assert dropped.kept == 0
    assert dropped.excluded["abstained:language:language_unknown"] == 10
    assert dropped.excluded["failed:language:wrong_language"] == 4
    kept = run_select(tmp_path, base_url, NO_DEDUP | {"abstain": {"language": "keep"}}, checks=checks)
    assert kept.kept == 10 and "abstained:language:language_unknown" not in kept.excluded
    assert kept.excluded["failed:language:wrong_language"] == 4
    assert run_select(tmp_path, base_url, NO_DEDUP | {"abstain": "keep"}, checks=checks).kept == 10
    assert run_select(tmp_path, base_url, NO_DEDUP | {"abstain": {"math": "keep"}}, checks=checks).kept == 0


@pytest.mark.parametrize("select_cfg", [{"abstain": "maybe"}, {"abstain": {"language": "sometimes"}},
                                        {"unchecked_domains": "guess"}])
def test_select_abstain_and_unchecked_options_are_validated(tmp_path: Path, select_cfg: dict) -> None:
    from distill.errors import RecipeError

    with pytest.raises(RecipeError, match="select"):
        load_recipe(recipe_file(tmp_path, "http://127.0.0.1:1/v1", select_cfg))


def test_select_memory_setting_bounds_duckdb_and_leaves_the_selection_alone(verified) -> None:
    """The candidates live in a DuckDB temporary table under select.memory_limit_mb / 2; the setting is not part
    of the selection's identity, and the id is the content hash of the kept (generation, split) pairs."""
    tmp_path, base_url = verified
    cfg = NO_DEDUP | {"policy": "k_per_problem", "k": 2, "seed": 3}
    recipe = load_recipe(recipe_file(tmp_path, base_url, cfg | {"memory_limit_mb": 256}))
    with Store.open(recipe.store_path) as store:
        small = select(recipe, store)
        limit = json.loads(store.con.execute("SELECT summary FROM runs WHERE stage = 'select' ORDER BY started_at "
                                             "DESC LIMIT 1").fetchone()[0])["duckdb_memory_limit"]
        after = store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        kept = store.con.execute("SELECT generation_id, split FROM dataset_rows WHERE dataset_id = ? AND "
                                 "status = 'kept' ORDER BY row_index", [small.dataset_id]).fetchall()
        temp = store.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_select_candidates'"
                                 ).fetchone()[0]
    assert limit.replace(" ", "") in ("128.0MiB", "128MiB", "122.0MiB") and temp == 0, limit
    assert after != limit  # the connection's own limit is back for the stages after select
    default = run_select(tmp_path, base_url, cfg)
    assert default.dataset_id == small.dataset_id and len(kept) == small.kept == 8
    from distill.stages.select import dataset_name

    assert small.dataset_id == stable_hash(dataset_name(recipe), {
        "select": recipe.config.select.model_dump(mode="json", exclude={"memory_limit_mb"}),
        "checks": [["format", "3"], ["math", "5"]], "test_size": 0.0}, [list(r) for r in kept])


def test_a_select_that_keeps_nothing_names_the_setting_that_removed_the_last_rows(verified) -> None:
    tmp_path, base_url = verified
    summary = run_select(tmp_path, base_url, NO_DEDUP | {"policy": "all", "min_pass_rate": 0.9, "max_pass_rate": 0.95})
    assert summary.kept == 0 and summary.excluded["outside_difficulty_band"] == 14
    assert summary.line().endswith("; nothing kept: the last 14 were removed as outside_difficulty_band, which "
                                   "select.min_pass_rate / select.max_pass_rate decide")
    kept = run_select(tmp_path, base_url, NO_DEDUP | {"policy": "all"})
    assert "nothing kept" not in kept.line()
