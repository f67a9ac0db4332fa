"""Queries of majority-vote references (``pseudo_references``): the answers that vote, the chosen references, and
how many kept rows rest on one. A mixin of ``Store``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distill.store.values import _json, _now


class ReferenceQueries:
    con: Any

    def answers_to_vote(self, sources: Sequence[str], domains: Sequence[str], voters: str, method: str
                        ) -> dict[str, list[str | None]]:
        """problem id -> the final answers of its successful generations (None where a sample gave none), for the
        problems of these sources and domains with no reference and no pseudo-reference yet; in store order."""
        rows = self.con.execute(
            "SELECT p.problem_id, list(g.final_answer ORDER BY g.teacher_hash, g.sample_index) FROM problems p "
            "JOIN generations g USING (problem_id) WHERE g.status = 'ok' AND p.source IN (SELECT unnest(?)) "
            "AND p.domain IN (SELECT unnest(?)) AND coalesce(trim(p.answer), '') = '' AND NOT EXISTS "
            "(SELECT 1 FROM pseudo_references r WHERE r.problem_id = p.problem_id AND r.teacher_hash = ? "
            "AND r.method = ?) GROUP BY p.problem_id ORDER BY min(p.rowid)",
            [list(sources), list(domains), voters, method]).fetchall()
        return {pid: list(answers) for pid, answers in rows}

    def add_pseudo_references(self, rows: Sequence[dict[str, Any]], voters: str, method: str, run: Any) -> int:
        now = _now()
        return self._insert_ignore("pseudo_references", [  # type: ignore[attr-defined]
            dict(r, teacher_hash=voters, method=method, details=_json(r.get("details")), recipe_hash=run.recipe_hash,
                 run_id=run.run_id, created_at=now) for r in rows])

    def pseudo_references_of(self, problem_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """problem id -> {answer, votes, n_answers, method} of its chosen pseudo-reference."""
        rows = self.con.execute(
            "SELECT problem_id, answer, votes, n_answers, method FROM pseudo_references WHERE status = 'ok' AND "
            "problem_id IN (SELECT unnest(?))", [list(problem_ids)]).fetchall()
        return {pid: {"answer": a, "votes": v, "n_answers": n, "method": m} for pid, a, v, n, m in rows}

    def pseudo_reference_counts(self, dataset_id: str | None = None) -> dict[str, int]:
        """Problems with a chosen pseudo-reference, problems left without one, and (for a dataset) kept rows whose
        problem's reference is a pseudo-reference."""
        chosen, undecided = self.con.execute(
            "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status <> 'ok') "
            "FROM pseudo_references").fetchone()
        out = {"problems_with_pseudo_reference": int(chosen), "problems_without_majority": int(undecided)}
        if dataset_id:
            out["kept_rows_on_pseudo_reference"] = int(self.con.execute(
                "SELECT count(*) FROM dataset_rows d WHERE d.dataset_id = ? AND d.status = 'kept' AND EXISTS "
                "(SELECT 1 FROM pseudo_references r WHERE r.problem_id = d.problem_id AND r.status = 'ok')",
                [dataset_id]).fetchone()[0])
        return out
