"""Read-only queries for looking at the data: the cumulative funnel, distributions for the HTML report, and the
traces that ``distill show`` pages through.

A mixin of ``Store`` (it uses the store's connection), kept apart from the write paths. Nothing here writes.
Verdicts are read at the latest version of each check, as ``verdict_funnel`` does. "Passing every check" means
rejected by none: a check that did not judge a trace (it covers another domain) does not remove it, and a trace
no check has judged yet is not counted as passing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from distill.store.values import _dicts
from distill.types import EVAL_SOURCE_PREFIX

# The latest version of each check, and per generation the names of the checks that judged it and of those that
# passed it.
_LATEST_VERDICTS = (
    "WITH lv AS (SELECT check_name, max(check_version) AS v FROM verdicts GROUP BY 1), "
    "latest AS (SELECT vd.* FROM verdicts vd JOIN lv ON vd.check_name = lv.check_name AND vd.check_version = lv.v), "
    "judged AS (SELECT generation_id, list(check_name) AS checks, "
    "list(check_name) FILTER (WHERE status = 'pass') AS passed FROM latest GROUP BY 1)")

VERDICT_STATUSES = ("pass", "fail", "abstain", "error")
TRACE_STATUSES = (*VERDICT_STATUSES, "kept", "excluded")


class InsightQueries:
    con: Any
    tallies_current: Any
    tallied_check_order: Any
    tallied_funnel_by_source: Any

    def recipe_name(self) -> str | None:
        """The recipe named by the latest run that wrote this store."""
        row = self.con.execute("SELECT recipe_name FROM runs WHERE recipe_name IS NOT NULL "
                               "ORDER BY started_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def check_order(self) -> list[str]:
        """Check names in the order they were first verified (verify runs a recipe's checks in its order)."""
        if self.tallies_current():
            return self.tallied_check_order()
        return [r[0] for r in self.con.execute(
            "SELECT check_name FROM verdicts GROUP BY 1 ORDER BY min(rowid)").fetchall()]

    def latest_dataset_id(self, name: str | None = None) -> str | None:
        sql = "SELECT dataset_id FROM datasets" + (" WHERE name = ?" if name else "") + " ORDER BY created_at DESC"
        row = self.con.execute(sql + " LIMIT 1", [name] if name else []).fetchone()
        return row[0] if row else None

    def funnel_by_source(self, checks: Sequence[str], dataset_id: str | None) -> list[dict[str, Any]]:
        """Per source: problems, problems with a successful generation, successful generations, generation errors,
        generations rejected by none of the first i checks (``passed``: one count per prefix of ``checks``),
        generations passing every check, and rows kept in the dataset."""
        if self.tallies_current():
            return self.tallied_funnel_by_source(checks, dataset_id)
        # Per generation: how many latest-version verdicts, how many passes, and the position (in ``checks``) of the
        # first check that did not pass it. Plain aggregates: no per-generation lists (4 s -> well under 1 s at
        # 1M generations).
        prefix_counts = ", ".join(f"count(*) FILTER (WHERE j.judged IS NOT NULL AND coalesce(j.first_fail, {i + 2}) "
                                  f"> {i + 1})" for i in range(len(checks)))
        gen_sql = ("WITH lv AS (SELECT check_name, max(check_version) AS v FROM verdicts GROUP BY 1), "
                   "pos AS (SELECT unnest(?::VARCHAR[]) AS check_name, generate_subscripts(?::VARCHAR[], 1) AS i), "
                   "j AS (SELECT vd.generation_id, count(*) AS judged, count(*) FILTER (WHERE vd.status = 'pass') "
                   "AS passed, min(pos.i) FILTER (WHERE vd.status <> 'pass') AS first_fail FROM verdicts vd "
                   "JOIN lv ON vd.check_name = lv.check_name AND vd.check_version = lv.v "
                   "LEFT JOIN pos ON pos.check_name = vd.check_name GROUP BY 1) "
                   "SELECT p.source, count(DISTINCT g.problem_id), count(*), "
                   "count(*) FILTER (WHERE j.judged IS NOT NULL AND j.judged = j.passed)"
                   f"{', ' + prefix_counts if checks else ''} "
                   "FROM generations g JOIN problems p USING (problem_id) LEFT JOIN j USING (generation_id) "
                   "WHERE g.status = 'ok' GROUP BY 1")
        prefixes = [list(checks), list(checks)]
        gens = {r[0]: r[1:] for r in self.con.execute(gen_sql, prefixes).fetchall()}
        errors = dict(self.con.execute("SELECT p.source, count(*) FROM generations g JOIN problems p "
                                       "USING (problem_id) WHERE g.status = 'error' GROUP BY 1").fetchall())
        kept: dict[str, int] = {}
        if dataset_id:
            kept = dict(self.con.execute(
                "SELECT p.source, count(*) FROM dataset_rows d JOIN problems p USING (problem_id) "
                "WHERE d.dataset_id = ? AND d.status = 'kept' GROUP BY 1", [dataset_id]).fetchall())
        out = []
        for source, problems in self.con.execute("SELECT source, count(*) FROM problems GROUP BY 1 ORDER BY "
                                                 "min(rowid)").fetchall():
            row = gens.get(source, (0, 0, 0) + (0,) * len(checks))
            out.append({"source": source, "problems": problems, "problems_generated": row[0], "generations": row[1],
                        "generation_errors": errors.get(source, 0), "passed_every_check": row[2],
                        "passed": dict(zip(checks, row[3:], strict=True)), "kept": kept.get(source, 0)})
        return out

    def generation_facts(self) -> list[dict[str, Any]]:
        """One row per successful generation: source, problem, problem language, completion tokens, response
        characters, cost, and whether it passed every check (None when no check judged it)."""
        return _dicts(self.con.execute(
            f"{_LATEST_VERDICTS} SELECT g.generation_id, p.source, g.problem_id, p.language, g.completion_tokens, "
            "length(coalesce(g.reasoning, '')) + length(coalesce(g.answer_text, g.content, '')) AS chars, "
            "g.cost_usd, CASE WHEN j.checks IS NULL THEN NULL "
            "ELSE len(j.checks) = len(coalesce(j.passed, [])) END AS passed "
            "FROM generations g JOIN problems p USING (problem_id) LEFT JOIN judged j USING (generation_id) "
            "WHERE g.status = 'ok' ORDER BY g.rowid"))

    def language_mix(self) -> list[tuple[str, str, int]]:
        """(source, problem language, problems) of the training sources (benchmarks of the eval stage left out)."""
        return self.con.execute("SELECT source, language, count(*) FROM problems WHERE NOT starts_with(source, ?) "
                                "GROUP BY ALL ORDER BY 1, 3 DESC, 2", [EVAL_SOURCE_PREFIX]).fetchall()

    def language_check_by_language(self) -> list[tuple[str, str, int]]:
        """(problem language, language-check reason, generations) at the check's latest version, training sources
        only."""
        return self.con.execute(
            f"{_LATEST_VERDICTS} SELECT p.language, v.reason, count(*) FROM latest v JOIN generations g "
            "USING (generation_id) JOIN problems p USING (problem_id) WHERE v.check_name = 'language' "
            "AND NOT starts_with(p.source, ?) GROUP BY ALL ORDER BY 1, 3 DESC", [EVAL_SOURCE_PREFIX]).fetchall()

    def dataset_stats(self, dataset_id: str) -> dict[str, Any] | None:
        """The statistics select recorded with a dataset (kept, exclusions, contamination hits per benchmark)."""
        row = self.con.execute("SELECT stats FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def original_against_ours(self, dataset_id: str) -> dict[str, Any] | None:
        """For imported traces with their source's own verdict: how many the source marked correct, how many of those
        this selection kept, and those it rejected by its reason; None when no row carries a source verdict."""
        rows = self.con.execute(
            "SELECT g.imported_verdict, d.status, d.reason, count(*) FROM dataset_rows d JOIN generations g "
            "USING (generation_id) WHERE d.dataset_id = ? AND g.imported_verdict IS NOT NULL GROUP BY ALL "
            "ORDER BY 4 DESC, 3", [dataset_id]).fetchall()
        if not rows:
            return None
        correct = [(status, reason, n) for verdict, status, reason, n in rows if verdict == "correct"]
        return {"original_correct": sum(n for *_, n in correct),
                "original_incorrect": sum(n for verdict, *_, n in rows if verdict == "incorrect"),
                "kept": sum(n for status, _, n in correct if status == "kept"),
                "rejected": {reason: n for status, reason, n in correct if status == "excluded"}}

    def dataset_reasons(self, dataset_id: str) -> list[tuple[str, int]]:
        """(exclusion reason, rows) of one dataset."""
        return self.con.execute("SELECT reason, count(*) FROM dataset_rows WHERE dataset_id = ? AND status = "
                                "'excluded' GROUP BY 1 ORDER BY 2 DESC, 1", [dataset_id]).fetchall()

    def kept_facts(self, dataset_id: str) -> dict[str, Any]:
        """Rows kept in a dataset with their completion tokens and cost, and the spend on all generations of
        the problems' sources (what the kept rows cost, the rejected ones included)."""
        kept = self.con.execute(
            "SELECT count(*), sum(g.completion_tokens), sum(g.prompt_tokens), sum(g.cost_usd) FROM dataset_rows d "
            "JOIN generations g USING (generation_id) WHERE d.dataset_id = ? AND d.status = 'kept'",
            [dataset_id]).fetchone()
        spent = self.con.execute(
            "SELECT count(*), sum(g.completion_tokens), sum(g.prompt_tokens), sum(g.cost_usd) FROM generations g "
            "WHERE g.problem_id IN (SELECT problem_id FROM dataset_rows WHERE dataset_id = ?)",
            [dataset_id]).fetchone()
        return {"kept": kept[0], "kept_completion_tokens": kept[1], "kept_prompt_tokens": kept[2],
                "kept_cost_usd": kept[3], "generations": spent[0], "completion_tokens": spent[1],
                "prompt_tokens": spent[2], "cost_usd": spent[3]}

    # ---- traces, for `distill show` and the report's samples ------------------------------------------------
    def find_traces(self, *, source: str | None = None, check: str | None = None, status: str | None = None,
                    reason: str | None = None, problem: str | None = None, row: int | None = None,
                    dataset_id: str | None = None, limit: int = 10, offset: int = 0) -> tuple[int, list[str]]:
        """(how many successful generations match, the ids of ``limit`` of them from ``offset``), in store order.

        ``status`` is a verdict status (pass, fail, abstain, error; of ``check`` when given, else of any check)
        or a dataset row status (kept, excluded); ``reason`` matches a verdict reason (of ``check`` when given)
        or a dataset exclusion reason; ``problem`` is a problem-id prefix; ``row`` a row index of the dataset's
        kept rows."""
        where, params = ["g.status = 'ok'"], []
        if source:
            where.append("p.source = ?")
            params.append(source)
        if problem:
            where.append("starts_with(g.problem_id, ?)")
            params.append(problem)
        verdict_status = status in VERDICT_STATUSES
        conditions = [(c, v) for c, v in (("v.check_name = ?", check), ("v.status = ?", status if verdict_status
                                                                         else None)) if v]
        if reason and conditions:  # the reason of that check's (or that status's) verdict
            conditions.append(("v.reason = ?", reason))
        if conditions:
            where.append("EXISTS (SELECT 1 FROM latest v WHERE v.generation_id = g.generation_id AND "
                         + " AND ".join(c for c, _ in conditions) + ")")
            params += [v for _, v in conditions]
        elif reason:  # a reason alone: any verdict's reason, or the dataset's exclusion reason
            where.append("(EXISTS (SELECT 1 FROM latest v WHERE v.generation_id = g.generation_id AND v.reason = ?)"
                         " OR d.reason = ?)")
            params += [reason, reason]
        if status in ("kept", "excluded"):
            where.append("d.status = ?")
            params.append(status)
        if row is not None:
            where.append("d.status = 'kept' AND d.row_index = ?")
            params.append(row)
        sql = (f"{_LATEST_VERDICTS} SELECT g.generation_id, count(*) OVER () FROM generations g "
               "JOIN problems p USING (problem_id) "
               "LEFT JOIN dataset_rows d ON d.generation_id = g.generation_id AND d.dataset_id = ? "
               f"WHERE {' AND '.join(where)} ORDER BY g.rowid LIMIT ? OFFSET ?")
        rows = self.con.execute(sql, [dataset_id, *params, limit, offset]).fetchall()
        if rows or offset == 0:
            return (rows[0][1] if rows else 0), [r[0] for r in rows]
        # Past the last page: the count alone.
        total = self.con.execute(sql.replace("LIMIT ? OFFSET ?", "LIMIT 1"), [dataset_id, *params]).fetchall()
        return (total[0][1] if total else 0), []

    def traces(self, generation_ids: Sequence[str], dataset_id: str | None = None) -> list[dict[str, Any]]:
        """Everything about these generations, in the order given: problem, reference, response parts, tokens,
        cost, every verdict (all versions, latest first) and the dataset row."""
        rows = _dicts(self.con.execute(
            "SELECT g.generation_id, g.problem_id, p.source, p.domain, p.language, p.prompt, p.answer, "
            "g.teacher_hash, g.sample_index, g.origin, g.model, g.content, g.reasoning, g.answer_text, "
            "g.final_answer, g.finish_reason, g.prompt_tokens, g.completion_tokens, g.cost_usd, g.latency_s, "
            "d.status AS dataset_status, d.reason AS dataset_reason, d.split AS dataset_split, "
            "d.row_index AS dataset_row FROM generations g JOIN problems p USING (problem_id) "
            "LEFT JOIN dataset_rows d ON d.generation_id = g.generation_id AND d.dataset_id = ? "
            "WHERE g.generation_id IN (SELECT unnest(?))", [dataset_id, list(generation_ids)]))
        verdicts: dict[str, list[dict[str, Any]]] = {}
        for v in _dicts(self.con.execute(
                "SELECT generation_id, check_name, check_version, status, reason, score, details FROM verdicts "
                "WHERE generation_id IN (SELECT unnest(?)) ORDER BY check_name, check_version DESC",
                [list(generation_ids)])):
            verdicts.setdefault(v["generation_id"], []).append(v)
        by_id = {r["generation_id"]: dict(r, verdicts=verdicts.get(r["generation_id"], [])) for r in rows}
        return [by_id[g] for g in generation_ids if g in by_id]

    def failure_samples(self, per_reason: int, eval_only: bool = False) -> dict[tuple[str, str], list[str]]:
        """Up to ``per_reason`` generation ids for each (check, reason) of a non-passing latest verdict: of the
        training sources, or (``eval_only``) of the eval stage's benchmark samples."""
        rows = self.con.execute(
            f"{_LATEST_VERDICTS}, ranked AS (SELECT v.check_name, v.reason, v.generation_id, row_number() OVER "
            "(PARTITION BY v.check_name, v.reason ORDER BY g.rowid) AS n FROM latest v JOIN generations g "
            "USING (generation_id) JOIN problems p USING (problem_id) WHERE v.status <> 'pass' "
            "AND starts_with(p.source, ?) = ?) "
            "SELECT check_name, reason, generation_id FROM ranked WHERE n <= ? ORDER BY 1, 2, n",
            [EVAL_SOURCE_PREFIX, eval_only, per_reason]).fetchall()
        out: dict[tuple[str, str], list[str]] = {}
        for check, reason, gid in rows:
            out.setdefault((check, reason), []).append(gid)
        return out

    def kept_samples(self, dataset_id: str, limit: int) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT generation_id FROM dataset_rows WHERE dataset_id = ? AND status = 'kept' ORDER BY row_index "
            "LIMIT ?", [dataset_id, limit]).fetchall()]
