"""`distill plan`: dollars for API models, GPU-hours by the serving model for self-hosted ones, training GPU-hours,
and which counts are upper bounds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import TeacherConfig, load_recipe
from distill.stages.plan import GPUS, Shape, is_self_hosted, plan_recipe, serving_rate

ROOT = Path(__file__).resolve().parents[1]


def test_serving_rate_follows_memory_and_bandwidth() -> None:
    qwen32 = Shape(32, 64, 8, 128, "test")
    assert qwen32.kv_bytes_per_token == 2 * 64 * 8 * 128 * 2
    rate, gpus, concurrency = serving_rate(qwen32, 300, 5000, 64, GPUS["H100"])
    assert gpus == 2  # 64 GB of bf16 weights do not fit in 60% of one 80 GB GPU
    per_sequence = qwen32.kv_bytes_per_token * (300 + 2500)
    assert concurrency == 64  # the KV budget holds ~117: max_concurrency caps it
    step = (64e9 + 64 * per_sequence) / (2 * 3.35e12 * 0.7)
    assert rate == pytest.approx(64 / step)
    _, _, crowded = serving_rate(qwen32, 300, 30000, 512, GPUS["H100"])
    assert crowded == int(0.9 * (160e9 - 64e9) // (qwen32.kv_bytes_per_token * (300 + 15000)))  # long traces: fewer


@pytest.mark.parametrize(("url", "own"), [("http://127.0.0.1:8000/v1", True), ("http://localhost:8000/v1", True),
                                          ("http://10.0.3.7:8000/v1", True), ("https://api.openai.com/v1", False),
                                          ("https://8.8.8.8/v1", False)])
def test_self_hosted_by_address(url: str, own: bool) -> None:
    assert is_self_hosted(TeacherConfig(model="m", base_urls=[url])) is own
    assert is_self_hosted(TeacherConfig(backend="transformers", model="m"))


def test_a_recipe_plan_prices_api_stages_and_bounds_later_ones(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    api = {"model": "deepseek-reasoner", "base_urls": ["https://api.deepseek.com/v1"], "max_tokens": 1000,
           "price_input_per_mtok": 0.55, "price_output_per_mtok": 2.19, "price_date": "2025-01"}
    recipe = {"name": "planned", "store": str(tmp_path / "p.duckdb"),
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
              "teacher": api | {"n": 4},
              "rewrite": {"model": api | {"model": "gpt-4o-mini", "price_input_per_mtok": 0.15,
                                          "price_output_per_mtok": 0.6, "max_tokens": 2000}},
              "checks": [{"name": "math"}],
              "train": {"base_model": "Qwen/Qwen2.5-7B-Instruct", "preset": "sky-t1-lora"}}
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps(recipe))
    loaded = load_recipe(path)
    plans = {p.stage: p for p in plan_recipe(loaded, None)}
    generate, rewrite, train = plans["generate"], plans["rewrite"], plans["train"]
    assert generate.requests == 7 * 4 and not generate.bound  # 7 good sample rows, 4 samples each
    assert generate.completion_tokens == 28 * 1000  # nothing stored yet: max_tokens, an upper bound per request
    assert generate.usd == pytest.approx((generate.prompt_tokens * 0.55 + 28_000 * 2.19) / 1e6)
    assert "prices of 2025-01" in generate.notes[0]
    assert rewrite.bound and rewrite.requests == 28 and rewrite.usd is not None
    # LoRA on a 7B (from its name): 4 x 7e9 FLOPs a token at 40% of an H100's 989 TFLOPs
    tokens = 28 * (1000 + 300) * 3  # sky-t1-lora: 3 epochs
    assert train.gpu_hours == pytest.approx(tokens * 4 * 7e9 / (0.4 * 989e12) / 3600)
    result = CliRunner().invoke(app, ["plan", str(path), "--gpu", "A100"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("plan: r.yaml on A100 GPUs") and "  total          <= $" in result.output
    bad = CliRunner().invoke(app, ["plan", str(path), "--gpu", "TPU"])
    assert bad.exit_code == 2 and "expected one of H100, A100, H200, L40S" in bad.output
