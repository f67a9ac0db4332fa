"""Plugins and the Python API: a check from an installed package's entry points, listed by `distill checks`
and used by a recipe; the stages run from Python with typed summaries. The plugin is installed the way pip
would (a dist-info folder with entry_points.txt on the path), and everything runs in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCE = ROOT / "tests" / "plugins"
ROWS = [{"problem": "What is 1 + 1?", "answer": "2",
         "response": ["One and one make \\boxed{2}!", "So \\boxed{3}", "Twice one is \\boxed{2}!!"]},
        {"problem": "What is 2 + 3?", "answer": "5", "response": ["That is \\boxed{6}."]}]


def _install_plugin(site: Path, entry_points: str) -> None:
    """What pip leaves behind for a package declaring these entry points."""
    info = site / "distill_shout-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: distill-shout\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def _recipe(tmp_path: Path, checks: str) -> Path:
    (tmp_path / "traces.jsonl").write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    recipe = tmp_path / "shout.yaml"
    recipe.write_text(f"name: shout\nstore: shout.duckdb\nsources:\n  - adapter: traces\n    path: traces.jsonl\n"
                      f"checks:\n{checks}")
    return recipe


def _python(code: str, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(PLUGIN_SOURCE), str(ROOT)])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)


def test_a_plugin_check_is_listed_and_used_by_a_recipe(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site, "[distill.checks]\nshout = distill_shout:ShoutCheck\n")
    recipe = _recipe(tmp_path, "  - name: shout\n    marks: 1\n")
    code = ("import sys\nfrom distill.cli import app\nfrom typer.testing import CliRunner\n"
            "r = CliRunner().invoke(app, ['checks'])\nprint(r.output)\n"
            f"r = CliRunner().invoke(app, ['run', {str(recipe)!r}])\nprint(r.output)\nsys.exit(r.exit_code)")
    result = _python(code, site, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "shout (version 1; domains: all; plugin from distill-shout: distill_shout:ShoutCheck)" in result.stdout
    assert "verify: 4 new verdicts: shout 4 (fail 2, pass 2)" in result.stdout
    counts = _python("import duckdb\nprint(duckdb.connect('shout.duckdb', read_only=True).execute("
                     "\"SELECT reason, check_version, count(*) FROM verdicts GROUP BY ALL ORDER BY 1\").fetchall())",
                     site, tmp_path)
    assert counts.stdout.strip() == "[('no_shout', '1', 2), ('shouted', '1', 2)]"


def test_a_plugin_may_not_take_a_builtin_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site, "[distill.checks]\nmath = distill_shout:ShoutCheck\n")
    result = _python("from distill.checks import CHECKS\ntry:\n    CHECKS.get('math')\nexcept Exception as exc:\n"
                     "    print(type(exc).__name__, exc)", site, tmp_path)
    assert result.stdout.startswith("UsageError plugin check 'math' (distill-shout: distill_shout:ShoutCheck) takes "
                                    "the name of one already registered"), result.stderr[-1000:]


def test_a_plugin_that_does_not_import_is_one_line_naming_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site, "[distill.checks]\nshout = distill_missing:ShoutCheck\n")
    result = _python("from distill.checks import CHECKS\ntry:\n    CHECKS.get('shout')\nexcept Exception as exc:\n"
                     "    print(type(exc).__name__, exc)", site, tmp_path)
    assert result.stdout.strip() == ("UsageError plugin check 'shout' (distill-shout: distill_missing:ShoutCheck) "
                                     "could not be loaded: ModuleNotFoundError: No module named 'distill_missing'")


def test_an_unknown_teacher_backend_names_the_known_ones(tmp_path: Path) -> None:
    from distill.errors import RecipeError
    from distill.recipe import load_recipe

    recipe = _recipe(tmp_path, "  - name: math\n")
    recipe.write_text(recipe.read_text() + "teacher:\n  backend: vlm\n  model: m\n")
    with pytest.raises(RecipeError, match="unknown teacher backend 'vlm'.*did you mean 'vllm'"):
        load_recipe(recipe)


def test_the_python_api_runs_stages_and_returns_typed_summaries(tmp_path: Path) -> None:
    _recipe(tmp_path, "  - name: format\n  - name: math\n")
    code = ("import distill\nfrom distill.stages.verify import VerifySummary\n"
            "recipe = distill.load_recipe('shout.yaml')\n"
            "first = distill.run(recipe, stages=['ingest', 'verify'])\n"
            "print([r.stage for r in first], type(first[1].summary) is VerifySummary)\n"
            "print(first[0].line.split(' -> ')[0])\n"
            "again = distill.run('shout.yaml', stages=['ingest'])\n"
            "print(again[0].line.split(' -> ')[0])\n"
            "with distill.open_store(recipe, read_only=True) as store:\n"
            "    print(store.con.execute(\"SELECT check_name, status, count(*) FROM verdicts \"\n"
            "                            \"GROUP BY ALL ORDER BY ALL\").fetchall())\n"
            "with distill.open_store(recipe) as store:\n"
            "    print(distill.run_stage('verify', recipe, store).line)\n"
            "try:\n    distill.run(recipe, stages=['verfy'])\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)")
    result = _python(code, tmp_path / "none", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "['ingest', 'verify'] True"
    assert lines[1].startswith("ingest: 2 new problems") and lines[2].startswith("ingest: 0 new problems, 2 already")
    assert "('math', 'pass', 2)" in lines[3] and "('math', 'fail', 2)" in lines[3]
    assert lines[4].startswith("verify: 0 ")  # one stage by name, as its CLI command runs it: nothing left to do
    assert lines[5].startswith("UsageError unknown stage 'verfy'; the stages are: ingest, label, generate, verify")
