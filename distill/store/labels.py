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
        before = ("DELETE FROM problem_labels p WHERE p.status <> 'ok' AND EXISTS (SELECT 1 FROM (SELECT "
                  "unnest(?::VARCHAR[]) AS problem_id, unnest(?::VARCHAR[]) AS labeler_hash) b "
                  "WHERE b.problem_id = p.problem_id AND b.labeler_hash = p.labeler_hash)",
                  [[r["problem_id"] for r in batch], [r["labeler_hash"] for r in batch]])
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
