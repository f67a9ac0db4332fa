"""Checkpoint choice without peeking: the student's saved checkpoints are compared on a dev split held out of its
own training selection, never on a benchmark.

With ``eval.choose_checkpoint_on: dev``, every ``checkpoint-N`` folder beside the student's final model (and the final
model itself) answers the dev problems: the math problems of the selection's held-out split (``export.test_size``),
written beside the store as a source named ``eval:dev`` so their samples never mix with training data. The
checkpoint with the best pass@1 there (the later one on a tie) becomes the student that the benchmarks evaluate.
Choosing on a benchmark is refused when the recipe is loaded: the best of N checkpoints on the test set is not a
score of one model. Training keeps every checkpoint when this is on (``save_steps`` decides how many there are).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.errors import UsageError
from distill.recipe import SourceConfig, TeacherConfig
from distill.store import Store
from distill.types import EVAL_SOURCE_PREFIX

DEV = "dev"


@dataclass
class CheckpointChoice:
    label: str
    dev_problems: int
    scores: list[tuple[str, float | None]] = field(default_factory=list)  # (folder name, dev pass@1)
    chosen: str = ""

    def line(self) -> str:
        shown = ", ".join(f"{name} {'-' if v is None else f'{v:.3f}'}" for name, v in self.scores)
        return (f"checkpoint choice for {self.label} on the dev split ({self.dev_problems} held-out problems, never a "
                f"benchmark): {shown} -> {self.chosen}")


def checkpoints(model_dir: Path) -> list[Path]:
    """The saved ``checkpoint-N`` folders beside ``model_dir``, by step, then ``model_dir`` itself."""
    def step(path: Path) -> int:
        return int(path.name.rsplit("-", 1)[1])

    found = [p for p in model_dir.parent.glob("checkpoint-*") if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    return sorted(found, key=step) + [model_dir]


def dev_source(store: Store, dataset_id: str | None) -> SourceConfig:
    """The held-out math problems of a training selection, written to a file beside the store, as a source."""
    if dataset_id is None:
        raise UsageError("eval.choose_checkpoint_on: the student was not trained on one of this store's selections, "
                         "so it has no dev split; train on the recipe's export")
    rows = store.con.execute(
        "SELECT p.prompt, p.answer FROM dataset_rows d JOIN problems p USING (problem_id) WHERE d.dataset_id = ? "
        "AND d.status = 'kept' AND d.split = 'test' AND p.domain = 'math' AND p.answer IS NOT NULL "
        "GROUP BY ALL ORDER BY min(d.row_index)", [dataset_id]).fetchall()
    if not rows:
        raise UsageError("eval.choose_checkpoint_on: the student's selection holds no held-out math problems; set "
                         "export.test_size (e.g. 0.02), run `distill select` and `distill train` again")
    path = Path(str(store.path)).with_name(f"{Path(str(store.path)).stem}.dev-{dataset_id}.jsonl")
    path.write_text("".join(json.dumps({"problem": p, "answer": a}) + "\n" for p, a in rows), encoding="utf-8")
    return SourceConfig(adapter="fields", name=EVAL_SOURCE_PREFIX + DEV, path=str(path), domain="math",
                        fields={"prompt": "problem", "answer": "answer"})


def choose(label: str, teacher: TeacherConfig, source: SourceConfig,
           evaluate_on: Any) -> tuple[TeacherConfig, CheckpointChoice]:
    """The checkpoint of ``teacher`` (the student) with the best pass@1 on the dev ``source`` (``dev_source``);
    ``evaluate_on(source, teacher)`` generates, verifies and returns that pass@1 (the eval stage's own machinery)."""
    candidates = checkpoints(Path(teacher.model))
    choice = CheckpointChoice(label, len(Path(source.path or "").read_text(encoding="utf-8").splitlines()))
    best: tuple[float, int] | None = None
    chosen = teacher
    for rank, folder in enumerate(candidates):
        candidate = teacher.model_copy(update={"model": str(folder)})
        score = evaluate_on(source, candidate)
        choice.scores.append((folder.name, score))
        key = (score if score is not None else -1.0, rank)
        if best is None or key >= best:
            best, chosen, choice.chosen = key, candidate, folder.name
    return chosen, choice
