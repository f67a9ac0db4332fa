"""Recipe validation: errors name the file and key, secrets are refused, the hash is stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill.errors import RecipeError
from distill.recipe import load_recipe

GOOD = """\
name: demo
sources:
  - adapter: gsm8k
    path: data/gsm8k.jsonl
  - adapter: math
    hub: HuggingFaceH4/MATH-500
    split: test
teacher:
  model: deepseek-reasoner
  api_key_env: DEEPSEEK_API_KEY
  n: 4
checks:
  - name: math
  - name: language
    max_foreign_share: 0.05
"""


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_recipe_loads_with_typed_sections(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, GOOD))
    cfg = recipe.config
    assert cfg.name == "demo"
    assert [s.adapter for s in cfg.sources] == ["gsm8k", "math"]
    assert cfg.sources[0].display_name == "gsm8k"
    assert cfg.sources[1].display_name == "HuggingFaceH4/MATH-500:default:test"
    assert cfg.teacher is not None and cfg.teacher.n == 4 and cfg.teacher.api_key_env == "DEEPSEEK_API_KEY"
    assert cfg.checks[1].name == "language" and cfg.checks[1].params == {"max_foreign_share": 0.05}
    assert recipe.resolve("data/gsm8k.jsonl") == (tmp_path / "data" / "gsm8k.jsonl").resolve()
    assert recipe.store_path == (tmp_path / "runs" / "demo.duckdb").resolve()  # beside the recipe, not the cwd


def test_hash_is_stable_across_formatting_and_changes_with_content(tmp_path: Path) -> None:
    a = load_recipe(write(tmp_path, GOOD, "a.yaml")).hash
    reformatted = "# a comment\n" + GOOD.replace("  n: 4", "  n:    4   # four samples")
    b = load_recipe(write(tmp_path, reformatted, "b.yaml")).hash
    c = load_recipe(write(tmp_path, GOOD.replace("n: 4", "n: 8"), "c.yaml")).hash
    assert a == b
    assert a != c
    assert len(a) == 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nsources:\n  - {adapter: gsm8k, path: a.jsonl}\n  - {adapter: math, hub: a/b, split: 3}\n",
         "x.yaml: sources[1].split: expected a string, got 3"),
        ("name: x\nsources:\n  - {adapter: gsm8k, path: a.jsonl, splt: test}\n",
         "x.yaml: sources[0].splt: unknown key"),
        ("name: x\nsources:\n  - {adapter: gsm8k}\n",
         "x.yaml: sources[0]: give exactly one of 'path' or 'hub'"),
        ("sources:\n  - {adapter: gsm8k, path: a}\n", "x.yaml: name: required key is missing"),
        ("name: x\nsources:\n  - {adapter: gsm8k, path: a}\nteacher: {model: m, n: '4'}\n",
         "x.yaml: teacher.n: expected an integer, got \"4\""),
        ("name: x\nsources:\n  - {adapter: gsm8k, path: a}\nteacher: {model: m, backend: grpc}\n",
         "x.yaml: teacher.backend: unknown teacher backend 'grpc'; the backends are: openai, transformers, vllm"),
        ("name: x\nsources:\n  - {adapter: gsm8k, path: a}\nbogus: 1\n", "x.yaml: bogus: unknown key"),
        ("name: x\nsources:\n  - {adapter: gsm8k, path: a}\nteacher: {model: m, api_key: sk-123}\n",
         "x.yaml: teacher.api_key: secrets do not belong in a recipe"),
        ("name: x\nsources: [\n", "x.yaml: line"),
        ("- just\n- a list\n", "x.yaml: expected a mapping at the top level, got a list"),
    ],
)
def test_errors_point_at_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_shipped_recipes_validate() -> None:
    for path in sorted((Path(__file__).parents[1] / "pipelines").glob("*.yaml")):
        assert load_recipe(path).config.name


def test_a_key_pasted_where_a_variable_name_goes_is_refused_without_echoing_it(tmp_path: Path) -> None:
    from distill.errors import RecipeError
    from distill.recipe import parse_recipe

    base = {"name": "x", "sources": [{"adapter": "gsm8k", "path": "a.jsonl"}]}
    secret = "sk-live0123456789abcdefSECRET"
    for data, where in [(base | {"teacher": {"model": "m", "api_key_env": secret}}, "teacher.api_key_env"),
                        (base | {"export": {"token_env": "hf_abcdefghijklmnopSECRET"}}, "export.token_env"),
                        (base | {"teacher": {"model": "m", "n": secret}}, "teacher.n"),
                        (base | {"teacher": {"model": "m", "base_urls": "https://me:pw-SECRET@host/v1"}},
                         "teacher.base_urls")]:
        with pytest.raises(RecipeError) as err:
            parse_recipe(data, tmp_path / "r.yaml")
        assert where in str(err.value) and "SECRET" not in str(err.value), str(err.value)
