"""The exported card: what a stranger needs to trust and load the data, with values from the store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from huggingface_hub import DatasetCard, DatasetCardData
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.scaffold import write_recipe
from distill.store import Store

runner = CliRunner()


def _export(tmp_path: Path, monkeypatch, edit=None) -> tuple[str, Path, Path]:
    """Export the refilter scaffold; (the card, the recipe, the store the run wrote)."""
    recipe = tmp_path / "proj" / "cards.yaml"
    write_recipe("refilter", recipe)
    if edit:
        data = yaml.safe_load(recipe.read_text())
        edit(data)
        recipe.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", str(recipe)])
    assert result.exit_code == 0, result.output
    store = Path(re.search(r"-> (\S+\.duckdb)", result.output).group(1))  # wherever the path rule puts it
    return (tmp_path / "proj" / "exports" / "cards" / "README.md").read_text(), recipe, store


def _section(card: str, title: str) -> str:
    return card.split(f"## {title}\n\n", 1)[1].split("\n## ", 1)[0]


def test_card_has_load_snippet_columns_sample_and_store_values(tmp_path: Path, monkeypatch) -> None:
    card, recipe, store = _export(tmp_path, monkeypatch)
    assert 'ds = load_dataset("parquet", data_files={\'train\': \'data/train.parquet\'})' in card
    columns = _section(card, "Columns")
    assert "| problem_id | string | key of the problem in the store's problems table |" in columns
    sample = json.loads(_section(card, "A sample row").split("```json\n", 1)[1].split("\n```", 1)[0])
    with Store.open(store) as db:
        prompt, answer = db.con.execute("SELECT prompt, answer FROM problems WHERE problem_id = ?",
                                        [sample["problem_id"]]).fetchone()
        per_problem = db.con.execute("SELECT count(DISTINCT problem_id) FROM dataset_rows").fetchone()[0]
        problems = db.con.execute("SELECT count(*) FROM problems").fetchone()[0]
    assert (sample["problem"], sample["reference"]) == (prompt, answer)
    # each problem has one right and one wrong trace: pass rate 0.5 for all three
    assert "| 3 | 3 | 3 | 3 |" in _section(card, "Per-problem funnel")
    assert per_problem == problems == 3
    assert "| (0.25, 0.5] | 3 |" in card and "| 1 | 0 |" in card
    # imported traces carry no token counts: unknown, not 0
    assert "| completion tokens | unknown | unknown | unknown | unknown |" in card
    assert _section(card, "Cost").startswith("unknown")
    # no absolute local paths
    assert str(tmp_path) not in card and "/tmp/" not in card
    # the sources' license is unknown and said so, not apache-2.0
    front = DatasetCard(card).data
    assert front.license == "unknown"
    assert "apache-2.0" not in card
    assert "**The sources' license is unknown**" in card
    assert "@misc{cards," in card and "Problems: my_traces (unknown). Teacher: my_traces." in card


def test_card_license_from_sources_and_conflicts(tmp_path: Path, monkeypatch) -> None:
    def mit(data: dict) -> None:
        data["sources"][0]["license"] = "mit"
        del data["export"]["license"]

    card, _, _ = _export(tmp_path, monkeypatch, mit)
    assert DatasetCard(card).data.license == "mit"
    assert "The sources are licensed mit." in card

    def conflicting(data: dict) -> None:
        second = dict(data["sources"][0], name="other", license="cc-by-nc-4.0")
        data["sources"][0]["license"] = "mit"
        data["sources"].append(second)
        del data["export"]["license"]

    card, _, _ = _export(tmp_path / "b", monkeypatch, conflicting)
    assert DatasetCard(card).data.license == "unknown"
    assert "**Conflicting source licenses** (cc-by-nc-4.0, mit)" in card


def test_card_front_matter_passes_the_hub_card_rules(tmp_path: Path, monkeypatch) -> None:
    card, _, _ = _export(tmp_path, monkeypatch)
    parsed = DatasetCard(card)
    data = parsed.data.to_dict()
    rebuilt = DatasetCardData(**data)  # the Hub's metadata model accepts every key as written
    assert rebuilt.to_dict()["size_categories"] == ["n<1K"]
    assert data["configs"][0]["data_files"][0]["path"] == "data/train.parquet"


def test_card_warns_when_problems_overlap_a_benchmark(tmp_path: Path, monkeypatch) -> None:
    def decontaminate(data: dict) -> None:
        bench = Path("proj/data/bench.jsonl")
        data["select"]["decontaminate"] = {"enabled": True, "benchmarks": {"gsm8k": "data/bench.jsonl"}}
        bench.write_text(json.dumps({"question": "A baker makes 12 loaves each morning and sells 9. How many "
                                     "loaves are left after 5 mornings?", "answer": "#### 15"}) + "\n")

    monkeypatch.chdir(tmp_path)
    card, recipe, store = _export(tmp_path, monkeypatch, decontaminate)
    with Store.open(store) as db:
        stats = json.loads(db.con.execute("SELECT stats FROM datasets").fetchone()[0])
    hits = stats["contamination"]["gsm8k"]
    assert hits >= 1
    assert "> **Warning: benchmark contamination.**" in card
    assert f"gsm8k: {hits}" in card
    assert load_recipe(recipe).config.select.decontaminate.enabled


def test_known_hub_licenses_and_a_declared_license_that_differs(tmp_path: Path) -> None:
    from distill.views.cards import license_verdict

    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nsources:\n  - {adapter: gsm8k, hub: openai/gsm8k, config: main}\n"
                      "  - {adapter: math, hub: HuggingFaceH4/MATH-500, split: test}\n")
    assert license_verdict(load_recipe(recipe)) == ("mit", "The sources are licensed mit.")
    recipe.write_text(recipe.read_text() + "export: {license: apache-2.0}\n")
    chosen, note = license_verdict(load_recipe(recipe))
    assert chosen == "apache-2.0"
    assert "**The recipe declares apache-2.0, which differs from the sources' license.**" in note


def test_card_for_a_hub_repo_loads_it_by_name(tmp_path: Path, monkeypatch) -> None:
    import datasets

    from distill.views.cards import render_card

    _, recipe, store = _export(tmp_path, monkeypatch)
    recipe.write_text(recipe.read_text().replace("  license: null             #",
                                                 "  hub_repo: someone/cards\n  license: null             #"))
    loaded = load_recipe(recipe)
    assert loaded.config.export.hub_repo == "someone/cards"
    dd = datasets.load_from_disk(str(tmp_path / "proj" / "exports" / "cards" / "disk"))
    with Store.open(store) as db:
        card = render_card(loaded, db, db.latest_dataset("cards"), dd)
    assert 'from datasets import load_dataset\n\nds = load_dataset("someone/cards")' in card


def test_card_follows_hub_conventions_for_a_local_copy_of_a_hub_dataset(tmp_path: Path, monkeypatch) -> None:
    def from_gsm8k(data: dict) -> None:
        data["sources"][0]["hub_id"] = "openai/gsm8k"  # a local copy: the card cites and licenses the Hub dataset
        data["sources"][0]["license"] = None
        del data["export"]["license"]

    card, _, _ = _export(tmp_path, monkeypatch, from_gsm8k)
    front = DatasetCard(card).data
    assert front.source_datasets == ["openai/gsm8k"] and front.pretty_name == "cards" and front.license == "mit"
    assert DatasetCardData(**front.to_dict()).to_dict() == front.to_dict()
    features = [f["name"] for f in front.dataset_info["features"]]
    assert features[:2] == ["messages", "problem"] and "verdicts" in features
    citation = _section(card, "Citation")
    assert "@misc{cards," in citation and "Problems: openai/gsm8k (mit)" in citation
    assert "@article{cobbe2021gsm8k," in citation and "arXiv:2110.14168" in citation


def test_known_teachers_are_cited_once() -> None:
    from distill.views.card_hub import citations

    found = citations([], ["deepseek-reasoner", "DeepSeek-R1-Distill-Qwen-7B", "Qwen/QwQ-32B", "my-model"])
    assert len(found) == 2 and "arXiv:2501.12948" in found[0] and "QwQ-32B" in found[1]
