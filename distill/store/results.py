"""Queries of the student's tables: ``train_runs``, ``evals`` and ``eval_problems``.

A mixin of ``Store`` (it uses the store's connection and keyed insert); kept apart so the core stays
readable. Evaluation rows are aggregates recomputed from generations and verdicts, so writing the results
of (model, benchmark) replaces the previous ones in one transaction; everything else is keyed as in core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from distill.runtime.processes import pid_alive
from distill.store.values import _dicts, _json, _now


class ResultsQueries:
    con: Any

    # ---- train_runs ----------------------------------------------------------------------------
    def start_train_run(self, train_run_id: str, *, recipe_name: str, dataset_id: str | None, base_model: str,
                        method: str, config: dict[str, Any], output_dir: str, run: Any) -> bool:
        """Record a training run as running; False when it existed already (a resumed run)."""
        now = _now()
        existed = self.con.execute("SELECT count(*) FROM train_runs WHERE train_run_id = ?",
                                   [train_run_id]).fetchone()[0]
        if existed:
            self.con.execute("UPDATE train_runs SET status = 'running', run_id = ?, updated_at = ? "
                             "WHERE train_run_id = ?", [run.run_id, now, train_run_id])
            return False
        self.con.execute(
            "INSERT INTO train_runs (train_run_id, dataset_id, base_model, method, config, output_dir, status, "
            "metrics, recipe_hash, run_id, started_at, recipe_name, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running', NULL, ?, ?, ?, ?, ?)",
            [train_run_id, dataset_id, base_model, method, _json(config), output_dir, run.recipe_hash, run.run_id,
             now, recipe_name, now])
        return True

    def finish_train_run(self, train_run_id: str, status: str, metrics: dict[str, Any],
                         model_dir: str | None) -> None:
        now = _now()
        self.con.execute(
            "UPDATE train_runs SET status = ?, metrics = ?, model_dir = ?, updated_at = ?, "
            "finished_at = CASE WHEN ? = 'ok' THEN ? ELSE finished_at END WHERE train_run_id = ?",
            [status, _json(metrics), model_dir, now, status, now, train_run_id])

    def get_train_run(self, train_run_id: str) -> dict[str, Any] | None:
        rows = _dicts(self.con.execute("SELECT * FROM train_runs WHERE train_run_id = ?", [train_run_id]))
        return _decoded(rows[0]) if rows else None

    def latest_train_run(self, recipe_name: str, status: str = "ok",
                         dataset_id: str | None = None) -> dict[str, Any] | None:
        """The newest training run of this recipe with this status (and trained on this selection, if given)."""
        rows = _dicts(self.con.execute(
            "SELECT * FROM train_runs WHERE recipe_name = ? AND status = ? AND (? IS NULL OR dataset_id = ?) "
            "ORDER BY updated_at DESC LIMIT 1", [recipe_name, status, dataset_id, dataset_id]))
        return _decoded(rows[0]) if rows else None

    def train_run_summary(self, limit: int = 5) -> list[dict[str, Any]]:
        """The latest training runs; one still ``running`` whose process is gone (SIGKILL, power loss) reads
        ``died``, as in the runs table, before a writer marks it so."""
        rows = _dicts(self.con.execute(
            "SELECT t.train_run_id, t.base_model, t.method, t.dataset_id, t.status, t.metrics, t.model_dir, "
            "t.started_at, t.finished_at, r.pid FROM train_runs t LEFT JOIN runs r USING (run_id) "
            "ORDER BY t.updated_at DESC LIMIT ?", [limit]))
        for row in rows:
            pid = row.pop("pid")
            if row["status"] == "running" and not pid_alive(pid):
                row["status"] = "died"
        return [_decoded(r) for r in rows]

    # ---- evals ---------------------------------------------------------------------------------
    def eval_samples(self, teacher_hash: str, source: str,
                     checks: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every sample of this model on this benchmark source: problem, index, final answer, tokens, and
        ``verdicts`` {check: status} and ``reasons`` {check: reason} for the given (check, version) pairs (absent when
        not computed)."""
        rows = _dicts(self.con.execute(
            "SELECT g.problem_id, p.domain, g.sample_index, g.generation_id, g.final_answer, g.completion_tokens, "
            "g.finish_reason FROM generations g JOIN problems p USING (problem_id) "
            "WHERE g.teacher_hash = ? AND p.source = ? AND g.status = 'ok' ORDER BY p.rowid, g.sample_index",
            [teacher_hash, source]))
        verdicts: dict[str, dict[str, str]] = {}
        reasons: dict[str, dict[str, str]] = {}
        for name, version in checks:
            for gid, status, reason in self.con.execute(
                    "SELECT v.generation_id, v.status, v.reason FROM verdicts v JOIN generations g "
                    "USING (generation_id) WHERE g.teacher_hash = ? AND v.check_name = ? AND v.check_version = ?",
                    [teacher_hash, name, version]).fetchall():
                verdicts.setdefault(gid, {})[name] = status
                reasons.setdefault(gid, {})[name] = reason
        for row in rows:
            row["verdicts"] = verdicts.get(row["generation_id"], {})
            row["reasons"] = reasons.get(row["generation_id"], {})
        return rows

    def replace_eval(self, teacher_hash: str, benchmark: str, metrics: Sequence[dict[str, Any]],
                     problems: Sequence[dict[str, Any]], run: Any) -> None:
        """Store the metrics and per-problem results of one model on one benchmark, replacing earlier ones."""
        now = _now()
        stamp = {"recipe_hash": run.recipe_hash, "run_id": run.run_id, "created_at": now}
        metric_rows = [dict(m, details=_json(m.get("details")), **stamp) for m in metrics]
        problem_rows = [dict(p, details=_json(p.get("details")), **stamp) for p in problems]
        self.con.begin()
        try:
            self.con.execute("DELETE FROM evals WHERE teacher_hash = ? AND benchmark = ?", [teacher_hash, benchmark])
            self.con.execute("DELETE FROM eval_problems WHERE teacher_hash = ? AND benchmark = ?",
                             [teacher_hash, benchmark])
            for table, rows in (("evals", metric_rows), ("eval_problems", problem_rows)):
                if rows:
                    self._insert_rows(table, rows)  # type: ignore[attr-defined]
            self.con.commit()
        except Exception:
            self.con.rollback()
            raise

    def eval_summary(self) -> list[dict[str, Any]]:
        """Every stored metric, newest model first: label, model, benchmark, metric, k, value, counts."""
        return _dicts(self.con.execute(
            "SELECT label, model, teacher_hash, benchmark, metric, k, value, n_problems, n_samples, details, "
            "created_at FROM evals ORDER BY benchmark, metric, k, label"))

    def eval_problem_rows(self, teacher_hash: str, benchmark: str) -> list[dict[str, Any]]:
        rows = _dicts(self.con.execute(
            "SELECT * FROM eval_problems WHERE teacher_hash = ? AND benchmark = ? ORDER BY problem_id",
            [teacher_hash, benchmark]))
        return [_decoded(r) for r in rows]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("config", "metrics", "details"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row
