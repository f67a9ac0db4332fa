"""distill init / checks / adapters, and the README's reference recipe, which must run as pasted."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _readme_recipe() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Recipes"):]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_readme_reference_recipe_loads_and_ingests_as_pasted(tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    recipe = tmp_path / "reference.yaml"
    recipe.write_text(_readme_recipe(), encoding="utf-8")
    loaded = load_recipe(recipe)
    assert [s.path for s in loaded.config.sources if s.hub] == []  # no hub sources: runs offline as pasted
    assert loaded.config.teacher.api_key_env == "DEEPSEEK_API_KEY"
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["ingest", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "from 4 source(s)" in result.output
    assert "25 new problems" in result.output and "10 imported responses" in result.output
    for stage in ("verify", "select"):  # the offline stages; generate needs the teacher's server and key
        result = runner.invoke(app, [stage, str(recipe)])
        assert result.exit_code == 0, result.output
    assert "rows kept in dataset 'math-distill'" in result.output


def test_readme_documents_the_teacher_keys() -> None:
    teacher = yaml.safe_load(_readme_recipe())["teacher"]
    for key in ("extra_body", "seed", "stop", "device"):
        assert key in teacher


@pytest.mark.parametrize("template", ["quickstart", "refilter"])
def test_init_writes_a_recipe_that_runs_offline(tmp_path: Path, monkeypatch, template: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "--from", template, "mine.yaml"])
    assert result.exit_code == 0, result.output
    assert "wrote mine.yaml" in result.output
    text = (tmp_path / "mine.yaml").read_text()
    assert text.startswith("# A distill recipe, written by `distill init --from " + template)
    assert load_recipe(tmp_path / "mine.yaml").config.sources[0].adapter == "traces"
    result = runner.invoke(app, ["run", "mine.yaml"])
    assert result.exit_code == 0, result.output
    assert "3 new problems" in result.output
    assert "math 6 (fail 3, pass 3)" in result.output
    assert "select: 3 rows kept" in result.output


def test_init_teacher_names_the_key_variable_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "t.yaml"
    result = runner.invoke(app, ["init", "--from", "teacher", str(target)])
    assert result.exit_code == 0, result.output
    teacher = load_recipe(target).config.teacher
    assert (teacher.backend, teacher.api_key_env, teacher.n) == ("openai", "TEACHER_API_KEY", 4)
    assert (tmp_path / "data" / "sample_problems.jsonl").read_text().count("\n") == 3
    before = target.read_text()
    result = runner.invoke(app, ["init", "--from", "quickstart", str(target)])
    assert result.exit_code == 2
    assert "already exists; not overwriting it" in result.output
    assert target.read_text() == before
    result = runner.invoke(app, ["init", "--from", "nope", str(tmp_path / "u.yaml")])
    assert result.exit_code == 2
    assert "quickstart, teacher, refilter" in result.output
    result = runner.invoke(app, ["init", "--from", "teachr", str(tmp_path / "u.yaml")])
    assert result.exit_code == 2 and "unknown template 'teachr' (did you mean 'teacher'?)" in result.output


def test_checks_lists_every_check_with_parameters_and_defaults() -> None:
    from distill.checks.base import CHECKS

    result = runner.invoke(app, ["checks"])
    assert result.exit_code == 0, result.output
    for name in CHECKS.names():
        assert re.search(rf"^{name} \(version", result.output, re.M)
    assert "  timeout_s: 10.0" in result.output       # math
    assert "  max_foreign_share: 0.0" in result.output  # language
    assert "  min_repeats: 8" in result.output        # format
    from distill.checks.choice import ChoiceCheck

    assert f"choice (version {ChoiceCheck.version}; domains: choice)\n  no parameters" in result.output


def test_adapters_lists_every_adapter_with_its_columns() -> None:
    from distill.data.sources.adapters import ADAPTERS

    result = runner.invoke(app, ["adapters"])
    assert result.exit_code == 0, result.output
    for name in ADAPTERS.names():
        assert re.search(rf"^{name}\b", result.output, re.M)
    assert "gsm8k\n  prompt: question\n  answer: answer\n" in result.output
    assert "  response: response | generation | generations | completion | messages" in result.output
    assert "  choices: choices | options (optional)" in result.output


@pytest.mark.parametrize("template", ["quickstart", "teacher", "refilter"])
def test_init_keeps_decontamination_on_with_the_shipped_index(tmp_path: Path, template: str) -> None:
    result = runner.invoke(app, ["init", "--from", template, str(tmp_path / "r.yaml")])
    assert result.exit_code == 0, result.output
    decontaminate = load_recipe(tmp_path / "r.yaml").config.select.decontaminate
    assert decontaminate.enabled and decontaminate.index == "builtin"
    assert decontaminate.benchmarks == {"math500": "index", "aime24": "index", "amc23": "index", "gsm8k": "index"}
    assert "enabled: false" not in (tmp_path / "r.yaml").read_text()


def test_an_init_recipe_excludes_a_benchmark_problem_offline(tmp_path: Path, monkeypatch) -> None:
    """A GSM8K test problem planted among the quickstart traces is excluded as contaminated, without the Hub."""
    import json

    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "--from", "quickstart", "q.yaml"]).exit_code == 0
    data = next((tmp_path / "data").glob("*.jsonl"))
    gsm8k_test = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
                  "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
                  "per fresh duck egg. How much in dollars does she make every day at the farmers' market?")
    with data.open("a") as fh:
        fh.write(json.dumps({"problem": gsm8k_test, "answer": "18",
                             "response": ["<think>16 - 3 - 4 = 9 eggs, at $2 each.</think>She makes \\boxed{18}."]})
                 + "\n")
    result = runner.invoke(app, ["run", "q.yaml"])
    assert result.exit_code == 0, result.output
    assert "problems overlapping a benchmark: gsm8k 1" in result.output
