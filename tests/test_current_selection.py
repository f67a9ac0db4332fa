"""Export, train, eval, status and report act on the selection the recipe's current settings identify, not the
newest record: select A (5 rows), change a setting and select B (6 rows), change it back and select (A,
unchanged); export writes A and `distill run` trains on A."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from distill.errors import UsageError
from distill.recipe import load_recipe
from distill.stages.export import export
from distill.stages.ingest import ingest
from distill.stages.pipeline import run_pipeline
from distill.stages.select import select
from distill.stages.verify import verify
from distill.store import Store
from distill.store.current_selection import current_dataset_id
from distill.testing.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "pipelines" / "data" / "sample_traces.jsonl"


def write_recipe(folder: Path, cap: int, train: bool = False) -> Path:
    recipe = {"name": "current", "store": "store.duckdb",
              "sources": [{"adapter": "traces", "path": str(TRACES), "name": "sample_traces"}],
              "checks": [{"name": "format"}, {"name": "math"}],
              "select": {"policy": "all", "per_source_cap": {"sample_traces": cap},
                         "decontaminate": {"enabled": False}},
              "export": {"out_dir": "exports"}}
    if train:
        recipe["train"] = {"base_model": str(folder / "model"), "max_steps": 2, "per_device_batch_size": 2,
                           "effective_batch_size": 2, "save_steps": 1000}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def select_with(folder: Path, cap: int):
    recipe = load_recipe(write_recipe(folder, cap))
    with Store.open(recipe.store_path) as store:
        return select(recipe, store)


@pytest.fixture()
def verified(tmp_path: Path) -> Path:
    recipe = load_recipe(write_recipe(tmp_path, 5))
    with Store.open(recipe.store_path) as store:
        ingest(recipe, store)
        verify(recipe, store)
    return tmp_path


def test_export_writes_the_current_selection_not_the_newest(verified: Path) -> None:
    a = select_with(verified, 5)
    b = select_with(verified, 6)
    again = select_with(verified, 5)
    assert (a.kept, b.kept) == (5, 6) and a.dataset_id != b.dataset_id
    assert again.dataset_id == a.dataset_id and not again.new and "(unchanged: already recorded)" in again.line()
    recipe = load_recipe(write_recipe(verified, 5))
    with Store.open(recipe.store_path) as store:
        assert store.latest_dataset("current")["dataset_id"] == b.dataset_id  # the newest record is B
        summary = export(recipe, store)
    assert summary.dataset_id == a.dataset_id and summary.rows == {"train": 5}
    manifest = json.loads((verified / "exports" / "current" / "export.json").read_text())
    assert manifest["dataset_id"] == a.dataset_id and manifest["rows"] == {"train": 5}
    assert f"Dataset id `{a.dataset_id}`" in (verified / "exports" / "current" / "README.md").read_text()


def test_a_changed_setting_without_select_fails_with_the_command(verified: Path) -> None:
    select_with(verified, 5)
    recipe = load_recipe(write_recipe(verified, 4))  # a setting changed, select not run since
    with Store.open(recipe.store_path) as store, pytest.raises(UsageError) as caught:
        export(recipe, store)
    message = str(caught.value)
    assert "\n" not in message and f"run `distill select {recipe.path}` first" in message
    assert "settings" in message


def test_new_verdicts_since_select_make_the_selection_stale(verified: Path) -> None:
    select_with(verified, 5)
    recipe = load_recipe(write_recipe(verified, 5))
    with Store.open(recipe.store_path) as store:
        key_before = current_dataset_id(recipe, store)
        # A verdict changes (here: one removed as if never computed, then recomputed on the next verify).
        store.con.execute("DELETE FROM verdicts WHERE generation_id = (SELECT min(generation_id) FROM verdicts)")
        assert key_before is not None and current_dataset_id(recipe, store) is None
        verify(recipe, store)
        assert current_dataset_id(recipe, store) == key_before  # the same inputs again: the same selection


def test_train_refuses_an_export_of_another_selection(verified: Path) -> None:
    from distill.stages.train.training_data import load_training_data

    select_with(verified, 5)
    recipe = load_recipe(write_recipe(verified, 5))
    with Store.open(recipe.store_path) as store:
        export(recipe, store)
    b = select_with(verified, 6)  # the recipe now names B, whose rows were never exported
    recipe = load_recipe(write_recipe(verified, 6))
    with Store.open(recipe.store_path) as store, pytest.raises(UsageError) as caught:
        load_training_data(recipe, store, None, "train")
    assert f"not the recipe's current selection {b.dataset_id}" in str(caught.value)
    assert f"run `distill export {recipe.path}` first" in str(caught.value)


def test_run_trains_on_the_current_selection_and_status_marks_it(verified: Path) -> None:
    from rich.console import Console

    from distill.views.report import render_status, status_report

    build_tiny_model(verified / "model")
    a = select_with(verified, 5)
    select_with(verified, 6)
    recipe6 = load_recipe(write_recipe(verified, 6))
    with Store.open(recipe6.store_path) as store:
        assert export(recipe6, store).rows == {"train": 6}  # the folder holds B
    recipe = load_recipe(write_recipe(verified, 5, train=True))
    cwd = os.getcwd()
    os.chdir(verified)
    try:
        with Store.open(recipe.store_path) as store:
            lines = [result.line for result in run_pipeline(recipe, store)]
            run = store.latest_train_run("current")
            report = status_report(store, recipe)
    finally:
        os.chdir(cwd)
    assert any(line.startswith(f"export: 'current' [{a.dataset_id}] train 5") for line in lines), lines
    assert run["dataset_id"] == a.dataset_id and run["metrics"]["rows"] == 5
    assert [d["dataset_id"] for d in report["datasets"] if d["current"]] == [a.dataset_id]
    assert report["cumulative_funnel"]["total"]["kept"] == 5
    console = Console(width=100, record=True)
    render_status(report, "current", console)
    text = console.export_text()
    assert f"* current [{a.dataset_id[:8]}]" in text and "current selection" in text
    # eval's `trained` student is the one trained on the current selection; after a select of B it is refused.
    from distill.stages.evaluate import trained_model_dir

    b = select_with(verified, 6)
    with Store.open(recipe.store_path) as store:
        assert trained_model_dir(recipe, store, "student") == run["model_dir"]
        with pytest.raises(UsageError, match=f"current selection {b.dataset_id}; run `distill train"):
            trained_model_dir(load_recipe(write_recipe(verified, 6, train=True)), store, "student")


def test_card_is_a_function_of_the_selection_and_counts_training_sources_only(verified: Path) -> None:
    from distill.recipe import LoadedRecipe, SourceConfig

    select_with(verified, 5)
    recipe = load_recipe(write_recipe(verified, 5))
    card = verified / "exports" / "current" / "README.md"
    with Store.open(recipe.store_path) as store:
        export(recipe, store)
        first = card.read_text()
        # What the eval stage adds: a benchmark source (eval:*) with its problems, samples and verdicts.
        bench = SourceConfig(adapter="traces", path=str(TRACES), name="eval:bench")
        evaluated = LoadedRecipe(recipe.config.model_copy(update={"sources": [bench]}), recipe.path, recipe.raw)
        ingest(evaluated, store)
        verify(evaluated, store)
        assert store.count("problems", "starts_with(source, 'eval:')") == 5
        again = export(recipe, store)  # the eval rows change neither the selection nor its card
    assert again.dataset_id == json.loads((verified / "exports" / "current" / "export.json").read_text())["dataset_id"]
    assert card.read_text() == first
    header, numbers = [line for line in first.splitlines() if "problems of the sources" in line or
                       line.startswith("| 5 |")][:2]
    assert header.startswith("| problems of the sources |") and numbers.split("|")[1].strip() == "5"


def test_status_shows_paths_short_enough_for_80_columns(verified: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from distill.views.report import render_status, status_report

    select_with(verified, 5)
    recipe = load_recipe(write_recipe(verified, 5))
    with Store.open(recipe.store_path) as store:
        export(recipe, store)
        report = status_report(store, recipe)
    assert report["store"] == str(verified / "store.duckdb")  # the JSON keeps the full path
    monkeypatch.chdir(verified)
    console = Console(width=80, record=True)
    render_status(report, "current", console)
    lines = console.export_text().splitlines()
    assert lines[0] == f"current  store store.duckdb (schema v{report['schema_version']})"
    assert str(verified) not in "\n".join(lines) and any(line.endswith(" exports/current") for line in lines)


def test_show_pages_through_the_current_selection(verified: Path) -> None:
    from typer.testing import CliRunner

    from distill.cli import app

    select_with(verified, 5)
    select_with(verified, 6)  # the newest record
    path = write_recipe(verified, 5)  # the recipe names A again
    shown = CliRunner().invoke(app, ["show", str(path), "--status", "kept", "--per-page", "1"])
    assert shown.exit_code == 0, shown.output
    assert "page 1 of 5: 5 traces match (status kept)" in " ".join(shown.output.split())
    newest = CliRunner().invoke(app, ["show", "--store", str(verified / "store.duckdb"), "--status", "kept"])
    assert "6 traces match" in " ".join(newest.output.split())  # without a recipe: the newest, as before
