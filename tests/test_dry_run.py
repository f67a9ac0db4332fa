"""`distill generate --dry-run`: requests, tokens and cost before anything is sent or written."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.data.sources import read_source
from distill.llm.prompts import PromptBuilder
from distill.recipe import PromptConfig
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan
from distill.types import Problem

ROOT = Path(__file__).resolve().parents[1]


def recipe_at(tmp_path: Path, teacher: dict) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    fields = {"model": "remote-reasoner", "base_urls": ["http://127.0.0.1:9/v1"], "n": 2, "max_tokens": 1000,
              "timeout_s": 2, "max_retries": 0, "price_input_per_mtok": 1.0, "price_output_per_mtok": 4.0} | teacher
    recipe = {"name": "dry", "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}], "teacher": fields}
    path = tmp_path / "dry.yaml"
    path.write_text(json.dumps(recipe))
    return path


def problems_of(path: Path) -> list[Problem]:
    from distill.recipe import load_recipe

    recipe = load_recipe(path)
    return [p for p in read_source(recipe.config.sources[0], recipe.resolve) if isinstance(p, Problem)]


def dry(path: Path) -> dict:
    result = CliRunner().invoke(app, ["generate", str(path), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_from_the_sources_with_no_store_nothing_is_written(tmp_path: Path) -> None:
    path = recipe_at(tmp_path, {"max_cost_usd": 0.01})
    problems = problems_of(path)
    prompts = PromptBuilder.from_config(PromptConfig())
    per_problem = [math.ceil(sum(len(m["content"]) for m in prompts.messages(p)) / 4) for p in problems]
    got = dry(path)
    assert (got["problems"], got["requests"], got["already_done"], got["from_store"]) == \
        (len(problems), 2 * len(problems), 0, False)
    assert got["prompt_tokens"] == 2 * sum(per_problem) and got["prompt_counted_by"].startswith("characters / 4")
    assert got["completion_tokens"] == 2 * len(problems) * 1000 and "upper bound" in got["completion_basis"]
    assert got["cost_usd"] == pytest.approx((2 * sum(per_problem) * 1.0 + 2 * len(problems) * 1000 * 4.0) / 1e6)
    per_request = got["cost_usd"] / got["requests"]
    assert got["requests_within_cap"] == int(0.01 / per_request)
    assert not (tmp_path / "runs").exists()  # no store made
    text = CliRunner().invoke(app, ["generate", str(path), "--dry-run"]).output
    assert "nothing sent, nothing written" in text and "stops it after about" in text


def test_from_the_store_counts_only_missing_samples_at_the_stored_mean(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(default_answer="So the answer is \\boxed{4}.")) as server:
        path = recipe_at(tmp_path, {"base_urls": [server.base_url], "n": 1})
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        assert runner.invoke(app, ["generate", str(path)]).exit_code == 0
        sent = server.state.stats["requests"]
        data = json.loads(path.read_text())
        data["teacher"]["n"] = 3  # two more samples per problem: the dry run plans those only
        path.write_text(json.dumps(data))
        got = dry(path)
        assert server.state.stats["requests"] == sent  # the dry run sent nothing
    with Store.open(tmp_path / "runs" / "dry.duckdb", read_only=True) as store:
        count, mean = store.con.execute("SELECT count(*), avg(completion_tokens) FROM generations "
                                        "WHERE status = 'ok'").fetchone()
        problems = store.count("problems")
    assert (got["from_store"], got["problems"], got["already_done"], got["requests"]) == \
        (True, problems, count, 2 * problems)
    assert got["completion_tokens_per_request"] == pytest.approx(mean)
    assert got["completion_tokens"] == round(mean * 2 * problems)
    assert f"{count:,} completions" in got["completion_basis"]


def test_a_local_teacher_counts_prompts_with_its_own_tokenizer_and_chat_template(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    model = ROOT / "pipelines" / "models" / "quickstart-teacher"
    path = recipe_at(tmp_path, {"backend": "transformers", "model": str(model), "n": 1})
    tokenizer = AutoTokenizer.from_pretrained(model)
    prompts = PromptBuilder.from_config(PromptConfig())
    expected = sum(len(tokenizer.apply_chat_template(list(prompts.messages(p)), add_generation_prompt=True,
                                                     tokenize=True)) for p in problems_of(path))
    got = dry(path)
    assert got["prompt_counted_by"] == "tokenizer of quickstart-teacher" and got["prompt_tokens"] == expected


def test_batch_mode_estimates_at_the_batch_price(tmp_path: Path) -> None:
    stream = dry(recipe_at(tmp_path, {}))
    batch = dry(recipe_at(tmp_path, {"mode": "batch", "batch_price_factor": 0.5}))
    assert batch["requests"] == stream["requests"]
    assert batch["cost_usd"] == pytest.approx(stream["cost_usd"] * 0.5)


def test_a_recipe_without_a_teacher_dry_runs_at_zero(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    recipe = tmp_path / "pipelines" / "r1_refilter.yaml"
    result = CliRunner().invoke(app, ["generate", str(recipe), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("generate --dry-run: r1_refilter.yaml has no teacher section (its traces are "
                                     "imported, or it only evaluates): nothing to send, $0.0000")
    got = json.loads(CliRunner().invoke(app, ["generate", str(recipe), "--dry-run", "--json"]).output)
    assert (got["teacher"], got["requests"], got["cost_usd"]) == (None, 0, 0.0)


def test_the_dry_run_of_a_hub_source_without_the_hub_fails_at_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    recipe = tmp_path / "hub.yaml"
    recipe.write_text(json.dumps({"name": "hub", "sources": [{"adapter": "gsm8k", "hub": "openai/gsm8k",
                                                              "config": "main", "split": "test"}],
                                  "teacher": {"model": "m", "base_urls": ["http://127.0.0.1:9/v1"]}}))
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env |= {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}  # nothing listens on port 9
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "distill", "generate", str(recipe), "--dry-run"], env=env,
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert "the Hub (http://127.0.0.1:9) cannot be reached" in done.stderr + done.stdout
    # datasets alone retried for 28-37 s here; the probe answers at once (the rest is start-up on a loaded machine)
    assert "HF_HUB_OFFLINE=1" in done.stderr + done.stdout and took < 25
