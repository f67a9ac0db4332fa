"""Queries of batch-API jobs (``batch_jobs``): a batch is recorded as intended (``intent-<input digest>``, status
``intended``) before it is created and under its provider id as soon as the provider accepts it, so a crash at any
point is followed by finding or polling it again, not by paying for it twice. A mixin of ``Store``."""

from __future__ import annotations

import json
from typing import Any

from distill.redaction import redact
from distill.store.values import _dicts, _json, _now


class BatchQueries:
    con: Any

    def add_batch_job(self, job: dict[str, Any], run: Any) -> None:
        now = _now()
        self.con.execute(
            "INSERT INTO batch_jobs (batch_id, teacher_hash, base_url, input_file_id, status, request_count, "
            "custom_ids, recipe_hash, run_id, submitted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [job["batch_id"], job["teacher_hash"], redact(job["base_url"]), job["input_file_id"], job["status"],
             len(job["custom_ids"]), _json(job["custom_ids"]), run.recipe_hash, run.run_id, now, now])

    def adopt_batch_job(self, intent_id: str, job: dict[str, Any], run: Any) -> None:
        """Replace an intended batch by the provider's batch it became, in one transaction."""
        self.con.begin()
        try:
            self.con.execute("DELETE FROM batch_jobs WHERE batch_id = ?", [intent_id])
            self.add_batch_job(job, run)
            self.con.commit()
        except Exception:
            self.con.rollback()
            raise

    def drop_batch_job(self, batch_id: str) -> None:
        """Forget an intended batch the provider never created (its requests are simply still missing)."""
        self.con.execute("DELETE FROM batch_jobs WHERE batch_id = ? AND status = 'intended'", [batch_id])

    def update_batch_job(self, batch_id: str, status: str, output_file_id: str | None, error_file_id: str | None,
                         details: dict[str, Any], stored: bool = False) -> None:
        self.con.execute("UPDATE batch_jobs SET status = ?, output_file_id = ?, error_file_id = ?, details = ?, "
                         "stored = ?, updated_at = ? WHERE batch_id = ?",
                         [status, output_file_id, error_file_id, _json(details), stored, _now(), batch_id])

    def open_batch_jobs(self, teacher_hash: str) -> list[dict[str, Any]]:
        """This teacher's batches whose results are not stored yet, oldest first."""
        rows = _dicts(self.con.execute("SELECT * FROM batch_jobs WHERE teacher_hash = ? AND NOT stored "
                                       "ORDER BY submitted_at", [teacher_hash]))
        for row in rows:
            row["custom_ids"] = json.loads(row["custom_ids"] or "[]")
        return rows

    def batch_jobs_of(self, teacher_hash: str) -> list[dict[str, Any]]:
        return _dicts(self.con.execute("SELECT batch_id, status, request_count, stored FROM batch_jobs WHERE "
                                       "teacher_hash = ? ORDER BY submitted_at", [teacher_hash]))
