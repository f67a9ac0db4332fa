"""The README's quickstart end to end: the committed tiny teacher generates, the real checks reject some
traces for real reasons, the export loads with `datasets` and its card agrees with the store, and the
committed student gets better on held-out problems after training on the export."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SOURCE = "shopping"


def _card_funnel(card: str) -> dict[tuple[str, str, str], int]:
    section = card.split("## Verification funnel")[1].split("\n## ")[0]
    rows = re.findall(r"^\| (\w+) \| (\w+) \| (\w+) \| (\d+) \|$", section, re.M)
    return {(check, status, reason): int(n) for check, status, reason, n in rows}


@pytest.mark.slow
def test_quickstart_generates_filters_exports_and_trains_a_better_student(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "pipelines/quickstart.yaml"])
    assert result.exit_code == 0, result.output
    # Each stage's summary line; transformers' "Loading weights" bar (stderr) may end just before one.
    stages = re.findall(r"(?:^|[\r\n\]])(ingest|generate|verify|select|export|train|eval): ", result.stdout)
    assert stages == ["ingest", "generate", "verify", "select", "export", "train", "eval"]
    assert "student - base" in result.output

    recipe = load_recipe(tmp_path / "pipelines" / "quickstart.yaml")
    with Store.open(recipe.store_path, read_only=True) as store:
        verdicts = store.con.execute(
            "SELECT v.check_name, v.status, v.reason, count(*) FROM verdicts v JOIN generations g USING "
            "(generation_id) JOIN problems p USING (problem_id) WHERE p.source = ? GROUP BY ALL",
            [TRAIN_SOURCE]).fetchall()
        generations = store.count("generations", "problem_id IN (SELECT problem_id FROM problems WHERE source = ?)",
                                  [TRAIN_SOURCE])
        dataset = store.latest_dataset("quickstart")
        kept = store.dataset_rows(dataset["dataset_id"], status="kept")
        metrics = {(r["label"], r["metric"]): r["value"] for r in store.eval_summary()}

    # The teacher's 160 x 4 samples: some pass every check, others fail for real reasons.
    assert generations == 160 * 4
    funnel = {(check, status, reason): n for check, status, reason, n in verdicts}
    fail_reasons = {reason for (_, status, reason) in funnel if status == "fail"}
    assert {"math_mismatch", "language_mixed"} <= fail_reasons
    assert funnel[("math", "pass", "math_match")] > 0 and funnel[("language", "pass", "language_consistent")] > 0
    assert 0 < len(kept) < generations

    # The export loads with datasets, one row per kept trace, and its card's counts are the store's.
    from datasets import load_from_disk

    exported = load_from_disk(str(tmp_path / "exports" / "quickstart" / "disk"))["train"]
    assert len(exported) == len(kept) == dataset["row_count"]
    assert set(exported["generation_id"]) == {r["generation_id"] for r in kept}
    assert all(m[-1]["content"].startswith("<think>\n") for m in exported["messages"])
    card = (tmp_path / "exports" / "quickstart" / "README.md").read_text()
    assert f"Of {generations} candidate generations, {len(kept)} were kept." in card
    assert _card_funnel(card) == funnel

    # The student, before (base) and after (student) training on the export, on 40 held-out problems.
    assert metrics[("student", "pass@1")] > metrics[("base", "pass@1")]
