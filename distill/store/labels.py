"""Queries of the label stage (``problem_labels``): keyed by (problem, labeller); a failed label is replaced by
the next attempt, an ``ok`` one never. A mixin of ``Store``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distill.store.values import _now


class LabelQueries:
    con: Any

    def labelled_problems(self, labeler_hash: str) -> set[str]:
        """Problems with an ``ok`` label of this labeller."""
        return {r[0] for r in self.con.execute("SELECT problem_id FROM problem_labels WHERE labeler_hash = ? AND "
                                               "status = 'ok'", [labeler_hash]).fetchall()}

    def label_spend(self, labeler_hash: str) -> tuple[float, int, int]:
        """Cost in USD and completion tokens spent on this labeller so far, and how many rows were charged anything
        (failed attempts that were replaced are gone from the table, so a rerun's budget counts what is stored)."""
        cost, tokens, charged = self.con.execute(
            "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(coalesce(charged_completion_tokens, completion_tokens)), "
            "0), count(*) FILTER (WHERE cost_usd > 0 OR coalesce(charged_completion_tokens, completion_tokens) > 0) "
            "FROM problem_labels WHERE labeler_hash = ?", [labeler_hash]).fetchone()
        return float(cost), int(tokens), int(charged)

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
