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
        """Cost in USD and completion tokens charged to this labeller so far (a replaced failed row's charge lives on in
        the row that replaced it), and how many rows were charged anything."""
        cost, tokens, charged = self.con.execute(
            "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(coalesce(charged_completion_tokens, completion_tokens)), "
            "0), count(*) FILTER (WHERE cost_usd > 0 OR coalesce(charged_completion_tokens, completion_tokens) > 0) "
            "FROM problem_labels WHERE labeler_hash = ?", [labeler_hash]).fetchone()
        return float(cost), int(tokens), int(charged)

    def add_labels(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store label rows; a failed row is replaced by the next attempt, its charge carried into the new row (so
        the spend a cap counts never shrinks), an ``ok`` one never."""
        now = _now()
        batch = [dict(r, created_at=now) for r in rows]
        charged = {(r[0], r[1]): (r[2], r[3]) for r in self.con.execute(
            "SELECT problem_id, labeler_hash, coalesce(cost_usd, 0), coalesce(charged_completion_tokens, 0) FROM "
            "problem_labels WHERE status <> 'ok' AND (cost_usd > 0 OR charged_completion_tokens > 0) AND "
            "problem_id IN (SELECT unnest(?))", [[r["problem_id"] for r in batch]]).fetchall()}
        for row in batch:
            cost, tokens = charged.pop((row["problem_id"], row["labeler_hash"]), (0.0, 0))
            row["cost_usd"] = (row.get("cost_usd") or 0.0) + cost
            row["charged_completion_tokens"] = (row.get("charged_completion_tokens") or 0) + tokens
        before = ("DELETE FROM problem_labels p WHERE p.status <> 'ok' AND EXISTS (SELECT 1 FROM _distill_batch b "
                  "WHERE b.problem_id = p.problem_id AND b.labeler_hash = p.labeler_hash)")
        return self._insert_ignore("problem_labels", batch, before=before)  # type: ignore[attr-defined]

    def difficulty_labels(self, labeler_hash: str) -> dict[str, int]:
        """problem id -> its ``ok`` difficulty by this labeller."""
        return dict(self.con.execute("SELECT problem_id, difficulty FROM problem_labels WHERE labeler_hash = ? AND "
                                     "status = 'ok'", [labeler_hash]).fetchall())
