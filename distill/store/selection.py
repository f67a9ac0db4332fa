"""Queries of the select stage, over a temporary table of candidates so that select's memory does not grow
with the traces' length and stays small per candidate.

``open_selection`` writes the candidates (successful generations of the recipe's sources, in a stable order)
into the connection's temporary table ``_select_candidates`` with their position ``pos`` and the position
of their problem ``problem_pos``; later queries return positions and short columns, or stream texts in
chunks. DuckDB keeps the temporary table within its ``memory_limit`` and spills to disk beyond it.
A mixin of ``Store``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

from distill.store.tallies import GENERATION_HASH, LABEL_HASH, PROBLEM_HASH, VERDICT_HASH
from distill.store.values import _json, _now

CHUNK = 2_000
ROWS_CHUNK = 50_000  # decisions recorded per statement


class SelectionQueries:
    con: Any
    tally_selection: Any
    tallies_current: Any
    tallied_inputs_digest: Any

    def open_selection(self, sources: Sequence[str], memory_limit_mb: int | None = None) -> int:
        """Write the candidates of these sources into ``_select_candidates``; return how many there are."""
        self._restore_memory_limit = None
        if memory_limit_mb:  # for this selection only: close_selection puts the connection's own limit back
            self._restore_memory_limit = self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            self.con.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
        self.selection_memory_limit = self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _select_candidates AS "
            "SELECT (row_number() OVER (ORDER BY p.rowid, g.teacher_hash, g.sample_index) - 1)::BIGINT AS pos, "
            "(dense_rank() OVER (ORDER BY p.rowid) - 1)::BIGINT AS problem_pos, "
            "g.generation_id, g.problem_id, p.source, p.domain, g.teacher_hash, g.sample_index, g.completion_tokens, "
            "g.rowid AS g_rowid, p.rowid AS p_rowid, g.origin = 'rewrite' AS is_rewrite, "
            "EXISTS (SELECT 1 FROM generations c WHERE c.parent_generation_id = g.generation_id "
            "AND c.status = 'ok') AS has_rewrite "
            "FROM generations g JOIN problems p USING (problem_id) "
            "WHERE g.status = 'ok' AND p.source IN (SELECT unnest(?))", [list(sources)])
        return int(self.con.execute("SELECT count(*) FROM _select_candidates").fetchone()[0])

    def selection_columns(self) -> dict[str, np.ndarray]:
        """Per candidate, by position: problem_pos, sample_index, completion_tokens (-1 when unknown), and
        source and domain as codes into ``sources`` / ``domains`` (returned as lists in the dict's
        ``_names``)."""
        import numpy as np
        sources = [r[0] for r in self.con.execute("SELECT DISTINCT source FROM _select_candidates "
                                                  "ORDER BY 1").fetchall()]
        domains = [r[0] for r in self.con.execute("SELECT DISTINCT domain FROM _select_candidates "
                                                  "ORDER BY 1").fetchall()]
        cols = self.con.execute(
            "SELECT problem_pos, sample_index, coalesce(completion_tokens, -1) AS completion_tokens, "
            "(list_position(?, source) - 1)::INTEGER AS source, "
            "(list_position(?, domain) - 1)::INTEGER AS domain "
            "FROM _select_candidates ORDER BY pos", [sources, domains]).fetchnumpy()
        out = {k: np.asarray(v) for k, v in cols.items()}
        out["_names"] = {"source": sources, "domain": domains}  # type: ignore[assignment]
        return out

    def selection_rewrites(self) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate, by position: whether it is a rewrite, and whether it has a successful rewrite."""
        import numpy as np
        cols = self.con.execute("SELECT is_rewrite, has_rewrite FROM _select_candidates ORDER BY pos").fetchnumpy()
        return np.asarray(cols["is_rewrite"], dtype=bool), np.asarray(cols["has_rewrite"], dtype=bool)

    def selection_teacher_codes(self) -> np.ndarray:
        """Per candidate, the rank of its teacher hash (ties of the ``first`` policy break on it)."""
        import numpy as np
        cols = self.con.execute("SELECT (dense_rank() OVER (ORDER BY teacher_hash) - 1)::INTEGER AS t "
                                "FROM _select_candidates ORDER BY pos").fetchnumpy()
        return np.asarray(cols["t"])

    def selection_outcomes(self, check: str, version: str, domains: Sequence[str] | None,
                           rewrites_only: bool = False) -> Iterator[tuple[int, str | None, str | None]]:
        """(pos, status, reason) of the candidates this check covers (in these domains; only the rewrites, when
        ``rewrites_only``) whose verdict is missing (status None) or not a pass, by position."""
        sql = ("SELECT c.pos, v.status, v.reason FROM _select_candidates c LEFT JOIN verdicts v "
               "ON v.generation_id = c.generation_id AND v.check_name = ? AND v.check_version = ? "
               "WHERE (v.status IS NULL OR v.status <> 'pass')" + (" AND c.is_rewrite" if rewrites_only else ""))
        params: list[Any] = [check, version]
        if domains is not None:
            sql += " AND c.domain IN (SELECT unnest(?))"
            params.append(list(domains))
        yield from self._chunks(sql + " ORDER BY c.pos", params)

    def selection_passes(self, check: str, version: str) -> np.ndarray:
        """Positions of the candidates this check passed."""
        import numpy as np
        return np.asarray(self.con.execute(
            "SELECT c.pos FROM _select_candidates c JOIN verdicts v ON v.generation_id = c.generation_id "
            "AND v.check_name = ? AND v.check_version = ? WHERE v.status = 'pass' ORDER BY c.pos",
            [check, version]).fetchnumpy()["pos"], dtype=np.int64)

    def selection_difficulties(self, labeler_hash: str, n_problems: int) -> np.ndarray:
        """Per problem position, its ``ok`` difficulty label of this labeller, or 0 when it has none."""
        import numpy as np
        out = np.zeros(n_problems, dtype=np.int16)
        rows = self.con.execute(
            "SELECT c.problem_pos, l.difficulty FROM (SELECT DISTINCT problem_pos, problem_id FROM _select_candidates) "
            "c JOIN problem_labels l USING (problem_id) WHERE l.labeler_hash = ? AND l.status = 'ok'",
            [labeler_hash]).fetchnumpy()
        out[np.asarray(rows["problem_pos"], dtype=np.int64)] = np.asarray(rows["difficulty"], dtype=np.int16)
        return out

    def selection_problems(self) -> Iterator[tuple[int, str]]:
        """(problem_pos, prompt) of every candidate problem, in order, the prompts read a chunk at a time by row id
        (a join sorted with the prompts would hold them all: 250K problems ran out of 122 MiB)."""
        import numpy as np
        at = self.con.execute("SELECT DISTINCT problem_pos, p_rowid FROM _select_candidates ORDER BY 1").fetchnumpy()
        yield from self._texts_by_rowid("problems", "prompt", np.asarray(at["problem_pos"]), np.asarray(at["p_rowid"]))

    def selection_responses(self, positions: np.ndarray) -> Iterator[tuple[int, int, str]]:
        """(pos, problem_pos, response text) of these candidates, by position, read in chunks.

        The texts are fetched by the generations' row ids, a chunk at a time: a join of the candidates with the
        generations, sorted, would hold every text at once, and with a small ``memory_limit`` DuckDB runs out
        (1M generations under 128 MB) instead of spilling."""
        import numpy as np
        import pyarrow as pa  # select binds numpy positions as Arrow (other commands never import pyarrow)

        self.con.register("_select_alive", pa.table({"pos": pa.array(positions, pa.int64())}))
        try:
            at = self.con.execute("SELECT c.pos, c.problem_pos, c.g_rowid FROM _select_alive a JOIN _select_candidates "
                                  "c USING (pos) ORDER BY c.pos").fetchnumpy()
        finally:
            self.con.unregister("_select_alive")
        pos, problem_pos, rowids = (np.asarray(at[k]) for k in ("pos", "problem_pos", "g_rowid"))
        texts = self._texts_by_rowid(
            "generations", "concat(coalesce(reasoning, ''), chr(10), coalesce(answer_text, content, ''))", pos, rowids)
        for (p, text), pp in zip(texts, problem_pos.tolist(), strict=True):
            yield p, pp, text

    def _texts_by_rowid(self, table: str, expr: str, keys: np.ndarray, rowids: np.ndarray) -> Iterator[tuple[int, str]]:
        """(key, ``expr`` of the row) for each (key, row id), in the given order, a chunk of rows at a time."""
        for start in range(0, len(keys), CHUNK):
            chunk = rowids[start:start + CHUNK]
            texts = dict(self.con.execute(f"SELECT rowid, {expr} FROM {table} WHERE rowid = ANY(?)",
                                          [chunk.tolist()]).fetchall())
            for key, rowid in zip(keys[start:start + CHUNK].tolist(), chunk.tolist(), strict=True):
                yield key, texts[rowid]

    def selection_problem_ids(self, positions: np.ndarray) -> list[str]:
        """The distinct problem ids of these candidates."""
        return [r[0] for r in self.con.execute("SELECT DISTINCT problem_id FROM _select_candidates WHERE pos IN "
                                               "(SELECT unnest(?::BIGINT[])) ORDER BY 1",
                                               [positions.tolist()]).fetchall()]

    def selection_generation_ids(self, positions: np.ndarray) -> Iterator[str]:
        """The generation ids of these candidates, by position, read in chunks."""
        import pyarrow as pa

        self.con.register("_select_ids", pa.table({"pos": pa.array(positions, pa.int64())}))
        try:
            for (gid,) in self._chunks("SELECT c.generation_id FROM _select_ids JOIN _select_candidates c "
                                       "USING (pos) ORDER BY c.pos", []):
                yield gid
        finally:
            self.con.unregister("_select_ids")

    def add_selection(self, row: dict[str, Any], decisions: pa.Table, run: Any) -> bool:
        """Record a selection from per-position decisions (pos, split, row_index, status, reason), best given in
        position order; False when this exact selection exists already."""
        if self.con.execute("SELECT count(*) FROM datasets WHERE dataset_id = ?", [row["dataset_id"]]).fetchone()[0]:
            return False
        self.con.begin()
        try:
            self.con.execute(
                "INSERT INTO datasets BY NAME SELECT ? AS dataset_id, ? AS name, ?::JSON AS selection, "
                "? AS row_count, ?::JSON AS stats, ? AS recipe_hash, ? AS run_id, ? AS created_at",
                [row["dataset_id"], row["name"], _json(row["selection"]), row["row_count"], _json(row["stats"]),
                 run.recipe_hash, run.run_id, _now()])
            # A slice of decisions at a time, joined with the candidates in its range of positions: one join of
            # every decision with every candidate, kept in insertion order, could need more than DuckDB's share at
            # 400K candidates under 64 MB (one run in six). Select gives them in position order, so each range is
            # narrow.
            import pyarrow.compute as pc
            for start in range(0, decisions.num_rows, ROWS_CHUNK):
                part = decisions.slice(start, ROWS_CHUNK)
                low, high = pc.min_max(part["pos"]).values()
                self.con.register("_select_decisions", part)
                try:
                    self.con.execute(
                        "INSERT INTO dataset_rows BY NAME SELECT ? AS dataset_id, c.generation_id, c.problem_id, "
                        "d.split, d.row_index, d.status, d.reason FROM _select_decisions d JOIN "
                        "(SELECT * FROM _select_candidates WHERE pos BETWEEN ? AND ?) c USING (pos) ORDER BY d.pos",
                        [row["dataset_id"], low.as_py(), high.as_py()])
                finally:
                    self.con.unregister("_select_decisions")
            self.tally_selection(row["dataset_id"])
            self.con.commit()
        except Exception:
            self.con.rollback()
            raise
        return True

    def selection_inputs_digest(self, sources: Sequence[str], checks: Sequence[tuple[str, str]],
                                labeler_hash: str | None) -> list[list[int]]:
        """What select reads of the store, as (rows, xor of row hashes) per table: the problems of these sources,
        their generations (status, origin, parent, tokens), the verdicts of these (check, version) pairs and the
        labeller's labels. Order-free and a scan of narrow columns; a row added, removed or changed changes it.
        Rows of other sources (the eval stage's ``eval:*`` benchmarks) do not. The first three come from the
        writers' tallies when they are current (the same hashes, kept per source as rows are written), so a view
        that looks for the current selection does not scan a large store."""
        if self.tallies_current():
            (labels,) = self.con.execute(
                f"SELECT count(*), coalesce(bit_xor({LABEL_HASH}), 0) FROM problem_labels l "
                "JOIN problems p USING (problem_id) WHERE l.labeler_hash = ? AND p.source IN (SELECT unnest(?))",
                [labeler_hash or "", list(sources)]).fetchall()
            return [*self.tallied_inputs_digest(sources, checks), [int(labels[0]), int(labels[1])]]
        pairs = [f"{name}\x1f{version}" for name, version in checks]
        return [[int(n), int(x)] for _, n, x in self.con.execute(
            "WITH p AS (SELECT problem_id, source, domain FROM problems WHERE source IN (SELECT unnest(?))), "
            "g AS (SELECT g.generation_id, g.problem_id, g.status, g.origin, g.parent_generation_id, "
            "g.completion_tokens, g.sample_index, g.teacher_hash FROM generations g JOIN p USING (problem_id)) "
            f"SELECT 1 AS t, count(*), coalesce(bit_xor({PROBLEM_HASH}), 0) FROM p "
            f"UNION ALL SELECT 2, count(*), coalesce(bit_xor({GENERATION_HASH}), 0) FROM g "
            f"UNION ALL SELECT 3, count(*), coalesce(bit_xor({VERDICT_HASH}), 0) FROM verdicts v "
            "JOIN g USING (generation_id) WHERE concat(v.check_name, chr(31), v.check_version) IN (SELECT unnest(?)) "
            f"UNION ALL SELECT 4, count(*), coalesce(bit_xor({LABEL_HASH}), 0) "
            "FROM problem_labels l JOIN p USING (problem_id) WHERE l.labeler_hash = ? ORDER BY 1",
            [list(sources), pairs, labeler_hash or ""]).fetchall()]

    def select_run_dataset(self, inputs_key: str) -> str | None:
        """The dataset id of the newest finished select run that recorded these inputs (``inputs_key`` in its
        summary), or None."""
        row = self.con.execute(
            "SELECT summary->>'dataset_id' FROM runs WHERE stage = 'select' AND status = 'ok' "
            "AND summary->>'inputs_key' = ? ORDER BY started_at DESC LIMIT 1", [inputs_key]).fetchone()
        return row[0] if row else None

    def close_selection(self) -> None:
        self.con.execute("DROP TABLE IF EXISTS _select_candidates")
        previous = getattr(self, "_restore_memory_limit", None)
        if previous:
            self.con.execute(f"SET memory_limit = '{previous.replace(' ', '')}'")
            self._restore_memory_limit = None

    def _chunks(self, sql: str, params: list[Any]) -> Iterator[Any]:
        # The connection's own result (the temporary table is private to it): the caller does not query the
        # store until the iteration ends.
        result = self.con.execute(sql, params)
        while rows := result.fetchmany(CHUNK):
            yield from rows
