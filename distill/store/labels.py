"""Queries of the label stage (``problem_labels``): keyed by (problem, labeller); a failed label is replaced by
the next attempt, an ``ok`` one never. A mixin of ``Store``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distill.store.values import _now
from distill.types import EVAL_SOURCE_PREFIX


class LabelQueries:
    con: Any

    def labelled_problems(self, labeler_hash: str) -> set[str]:
        """Problems with an ``ok`` label of this labeller."""
        return {r[0] for r in self.con.execute("SELECT problem_id FROM problem_labels WHERE labeler_hash = ? AND "
                                               "status = 'ok'", [labeler_hash]).fetchall()}

    def label_spend(self, labeler_hash: str) -> tuple[float, int]:
        """Cost in USD and completion tokens spent on this labeller so far (failed attempts that were replaced are
        gone from the table, so a rerun's budget counts what is stored)."""
        cost, tokens = self.con.execute(
            "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(completion_tokens), 0) FROM problem_labels "
            "WHERE labeler_hash = ?", [labeler_hash]).fetchone()
        return float(cost), int(tokens)

    def add_labels(self, rows: Sequence[dict[str, Any]]) -> int:
        now = _now()
        batch = [dict(r, created_at=now) for r in rows]
        before = ("DELETE FROM problem_labels p WHERE p.status <> 'ok' AND EXISTS (SELECT 1 FROM _distill_batch b "
                  "WHERE b.problem_id = p.problem_id AND b.labeler_hash = p.labeler_hash)")
        return self._insert_ignore("problem_labels", batch, before=before)  # type: ignore[attr-defined]

    def difficulty_labels(self, labeler_hash: str) -> dict[str, int]:
        """problem id -> its ``ok`` difficulty by this labeller."""
        return dict(self.con.execute("SELECT problem_id, difficulty FROM problem_labels WHERE labeler_hash = ? AND "
                                     "status = 'ok'", [labeler_hash]).fetchall())

    def label_histograms(self, labeler_hash: str | None = None,
                         problem_ids: Sequence[str] | None = None) -> dict[str, Any] | None:
        """Problems per difficulty and per topic among the ``ok`` labels of one labeller (default: the one that
        labelled the most problems), over the training sources' problems (benchmarks of the eval stage left out), or
        over ``problem_ids``; None when there are no such labels."""
        if labeler_hash is None:
            row = self.con.execute("SELECT labeler_hash FROM problem_labels WHERE status = 'ok' GROUP BY 1 "
                                   "ORDER BY count(*) DESC, max(created_at) DESC LIMIT 1").fetchone()
            if row is None:
                return None
            labeler_hash = row[0]
        scope = ("problem_id IN (SELECT unnest(?))" if problem_ids is not None else
                 "problem_id IN (SELECT problem_id FROM problems WHERE NOT starts_with(source, ?))")
        base = f"FROM problem_labels WHERE labeler_hash = ? AND status = 'ok' AND {scope}"
        params = [labeler_hash, list(problem_ids) if problem_ids is not None else EVAL_SOURCE_PREFIX]
        difficulty = self.con.execute(f"SELECT difficulty, count(*) {base} AND difficulty IS NOT NULL GROUP BY 1 "
                                      "ORDER BY 1", params).fetchall()
        if not difficulty:
            return None
        topics = self.con.execute(f"SELECT topic, count(*) {base} AND topic IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
                                  params).fetchall()
        return {"labeler_hash": labeler_hash, "problems": sum(n for _, n in difficulty),
                "difficulty": [[int(level), int(n)] for level, n in difficulty],
                "topic": [[str(topic), int(n)] for topic, n in topics]}
