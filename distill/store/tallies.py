"""Counters kept by the writers, so `distill status` reads a few hundred rows whatever the store's size.

Every row of ``problems``, ``generations`` and ``verdicts`` gets a number from one sequence (``seq``) as it is
written. Before a writing store closes, ``refresh_tallies`` folds the rows numbered after the last fold into the
``tallies`` table (counts by key) in one transaction, with the fold's mark beside them. What a fold needs to
know about rows it folded before is kept on those rows (``tally_*`` columns): a generation's source and the
verdicts it has had (``tally_verdicts``: ``check<US>version<US>status`` entries, sorted), a problem's count of
successful generations and the teachers that answered it. A generation an error row replaces is taken out of
the tallies in the transaction that deletes it; a selection's kept rows are counted in the transaction that
records it.

The tallies are a cache, never the truth: ``tallies_current`` says whether the mark has caught up with the
sequence, and each reader (``verdict_funnel``, ``funnel_by_source``, ...) answers from the tallies only then,
else from the tables themselves as before (a writer killed before its fold; the next writer's close folds it).
Both answers are the same; ``tests/test_tallies.py`` compares them after real runs.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import duckdb

from distill.types import EVAL_SOURCE_PREFIX

SEQUENCE = "write_seq"
FOLD_MEMORY_LIMIT_MB = 1024
US, RS = "\x1f", "\x1e"  # between a verdict entry's fields; between entries

# The v7 migration: the sequence, the tally table and the bookkeeping columns. Rows written before it get seq 0
# and are folded by the first refresh (the mark starts at -1).
MIGRATION: list[Any] = [
    f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} START 1",
    *(stmt for table in ("problems", "generations", "verdicts") for stmt in (
        f"ALTER TABLE {table} ADD COLUMN seq BIGINT DEFAULT 0",
        f"ALTER TABLE {table} ALTER COLUMN seq SET DEFAULT nextval('{SEQUENCE}')")),
    "ALTER TABLE problems ADD COLUMN tally_ok_generations BIGINT DEFAULT 0",
    # text, not a list: DuckDB updates a list column as a delete and an insert, which would move the row and so
    # change the store's order (rowid), which later stages read as the problems' order
    "ALTER TABLE problems ADD COLUMN tally_teachers VARCHAR DEFAULT ''",
    "ALTER TABLE generations ADD COLUMN tally_source VARCHAR",
    "ALTER TABLE generations ADD COLUMN tally_verdicts VARCHAR DEFAULT ''",
    """CREATE TABLE tallies (
        kind VARCHAR NOT NULL, key VARCHAR NOT NULL, n BIGINT NOT NULL DEFAULT 0, prompt_tokens BIGINT DEFAULT 0,
        completion_tokens BIGINT DEFAULT 0, cost_usd DOUBLE DEFAULT 0, xor UBIGINT DEFAULT 0,
        PRIMARY KEY (kind, key))""",
    # the mark, and each table's row count when it was set (less the rows the writers deleted since): a row removed
    # by hand (a DELETE in SQL) makes the count disagree, and the tallies are rebuilt rather than trusted
    "CREATE TABLE tally_mark (mark BIGINT NOT NULL, problems BIGINT NOT NULL, generations BIGINT NOT NULL, "
    "verdicts BIGINT NOT NULL)",
    "INSERT INTO tally_mark VALUES (-1, 0, 0, 0)",
    lambda store: store.tally_all_selections(),  # selections recorded before the tallies existed
]

# Kinds of tally, each keyed by a JSON list:
#   problem        [source, domain, language]                 problems
#   order          [table, name]                              n: first-seen ordinal (sources, checks), not a count
#   generation     [source, teacher, status, error, verdicts] generations, with token and cost sums
#   generated      [source]                                   problems with a successful generation
#   answered       [teacher]                                  problems with any row of that teacher
#   verdict        [check, version, status, reason, eval]     verdicts
#   kept           [dataset_id, source]                       rows kept in a selection
#   digest         [table, source] or [verdicts, source, check, version]: rows, and the XOR of the row hashes
#                  that ``selection_inputs_digest`` computes (so a recipe's current selection is found without a scan)

# The columns ``selection_inputs_digest`` hashes, per table (the same expressions, so both paths agree bit for bit).
PROBLEM_HASH = "hash(problem_id, source, domain)"
GENERATION_HASH = ("hash(generation_id, problem_id, status, origin, parent_generation_id, completion_tokens, "
                   "sample_index, teacher_hash)")
VERDICT_HASH = "hash(v.generation_id, v.check_name, v.check_version, v.status, v.reason)"
LABEL_HASH = "hash(l.problem_id, l.status, l.difficulty)"  # labels are not tallied: both paths read them


def _key(*parts: Any) -> str:
    return json.dumps(list(parts), ensure_ascii=False)


class TallyQueries:
    con: Any
    read_only: bool
    memory_limit: Any

    # ---- is the cache good? ---------------------------------------------------------------------------------
    def tallies_current(self) -> bool:
        """True when every row written so far is folded into the tallies (readers may use them)."""
        if getattr(self, "use_tallies", True) is False:
            return False
        try:
            mark, *counted = self.con.execute("SELECT mark, problems, generations, verdicts FROM tally_mark").fetchone()
        except Exception:  # a store from before v7, opened read-only
            return False
        return mark >= self._sequence_last() and counted == self._row_counts()

    def _row_counts(self, above: int | None = None) -> list[int]:
        """Rows in problems, generations and verdicts (only those numbered above ``above``, when given)."""
        where = "" if above is None else f" WHERE seq > {int(above)}"
        return list(self.con.execute("SELECT " + ", ".join(
            f"(SELECT count(*) FROM {t}{where})" for t in ("problems", "generations", "verdicts"))).fetchone())

    def _sequence_last(self) -> int:
        row = self.con.execute("SELECT last_value FROM duckdb_sequences() WHERE sequence_name = ? AND "
                               "database_name = current_database()", [SEQUENCE]).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # ---- writing ---------------------------------------------------------------------------------------------
    def _bump(self, kind: str, deltas: dict[str, Sequence[float]]) -> None:
        """Add (n, prompt_tokens, completion_tokens, cost_usd) deltas to tallies of ``kind``."""
        rows = [(k, *(list(v) + [0, 0, 0])[:4]) for k, v in deltas.items() if any(v)]
        if not rows:
            return
        keys, n, pt, ct, cost = (list(col) for col in zip(*rows, strict=True))
        self.con.execute(
            "INSERT INTO tallies (kind, key, n, prompt_tokens, completion_tokens, cost_usd) SELECT ?, "
            "unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), "
            "unnest(?::DOUBLE[]) ON CONFLICT (kind, key) DO UPDATE "
            "SET n = tallies.n + excluded.n, "
            "prompt_tokens = tallies.prompt_tokens + excluded.prompt_tokens, "
            "completion_tokens = tallies.completion_tokens + excluded.completion_tokens, "
            "cost_usd = tallies.cost_usd + excluded.cost_usd", [kind, keys, n, pt, ct, cost])

    def _bump_digest(self, deltas: dict[str, tuple[int, int]]) -> None:
        """Add row counts and XOR row hashes into ``digest`` tallies."""
        rows = [(k, n, x) for k, (n, x) in deltas.items() if n or x]
        if not rows:
            return
        keys, n, xor = (list(col) for col in zip(*rows, strict=True))
        self.con.execute(
            "INSERT INTO tallies (kind, key, n, xor) SELECT 'digest', unnest(?::VARCHAR[]), unnest(?::BIGINT[]), "
            "unnest(?::UBIGINT[]) ON CONFLICT (kind, key) DO UPDATE SET n = tallies.n + excluded.n, "
            "xor = xor(tallies.xor, excluded.xor)", [keys, n, xor])

    def _order(self, table: str, names: list[str]) -> None:
        """Give names not seen before the next ordinals, in the order given."""
        known = {json.loads(k)[1] for (k,) in self.con.execute(
            "SELECT key FROM tallies WHERE kind = 'order' AND key->>0 = ?", [table]).fetchall()}
        start = self.con.execute("SELECT coalesce(max(n), 0) FROM tallies WHERE kind = 'order' AND key->>0 = ?",
                                 [table]).fetchone()[0]
        fresh = [name for name in names if name not in known]
        self._bump("order", {_key(table, name): (start + i,) for i, name in enumerate(fresh, 1)})

    def untally_deleted(self, rows: list[tuple[Any, ...]]) -> None:
        """Inside the transaction that deleted them: take generations already folded out of the tallies. Each row:
        (seq, source, teacher, status, error, verdicts, prompt_tokens, completion_tokens, cost_usd, row hash)."""
        mark = self.con.execute("SELECT mark FROM tally_mark").fetchone()[0]
        deltas: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        digest: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        folded = sum(1 for row in rows if row[0] is not None and row[0] <= mark)
        if folded:
            self.con.execute("UPDATE tally_mark SET generations = generations - ?", [folded])
        for seq, source, teacher, status, error, verdicts, pt, ct, cost, row_hash in rows:
            if seq is not None and seq <= mark:
                entry = digest[_key("generations", source)]
                entry[0] -= 1
                entry[1] ^= row_hash
                d = deltas[_key(source, teacher, status, error, verdicts or "")]
                d[0] -= 1
                d[1] -= pt or 0
                d[2] -= ct or 0
                d[3] -= cost or 0.0
        self._bump("generation", deltas)
        self._bump_digest({k: (n, x) for k, (n, x) in digest.items()})

    def tally_selection(self, dataset_id: str) -> None:
        """Inside the transaction that recorded it: a selection's kept rows per source."""
        rows = self.con.execute(
            "SELECT p.source, count(*) FROM dataset_rows d JOIN problems p USING (problem_id) WHERE d.dataset_id = ? "
            "AND d.status = 'kept' GROUP BY 1", [dataset_id]).fetchall()
        self._bump("kept", {_key(dataset_id, source): (n,) for source, n in rows})

    def tally_all_selections(self) -> None:
        for (dataset_id,) in self.con.execute("SELECT dataset_id FROM datasets").fetchall():
            self.tally_selection(dataset_id)

    def refresh_tallies(self) -> bool:
        """Fold the rows written since the last fold into the tallies, in one transaction; False when there was
        nothing to fold. Costs a few scans of narrow columns when there is (each skips the row groups written
        before the mark)."""
        last = self._sequence_last()
        mark, *counted = self.con.execute("SELECT mark, problems, generations, verdicts FROM tally_mark").fetchone()
        if mark >= last and counted == self._row_counts():
            return False
        # DuckDB's memory held down while folding (a first fold of 1M rows peaked at 497 MB unbounded, 348 MB at 256
        # MB); a fold that needs more than that gets the connection's own limit
        try:
            with self.memory_limit(FOLD_MEMORY_LIMIT_MB):
                self._fold(last, mark, counted)
        except duckdb.OutOfMemoryException:
            self._fold(last, mark, counted)
        return True

    def _fold(self, last: int, mark: int, counted: list[int]) -> None:
        self.con.begin()
        try:
            if [a + b for a, b in zip(counted, self._row_counts(above=mark), strict=True)] != self._row_counts():
                mark = self._reset_tallies()  # rows were removed by hand: start again from the tables
            self._fold_problems(mark)
            self._fold_generations(mark)
            self._fold_verdicts(mark)
            self.con.execute("UPDATE tally_mark SET mark = ?, problems = ?, generations = ?, verdicts = ?",
                             [max(last, mark), *self._row_counts()])
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def rebuild_tallies(self) -> None:
        """Recount everything from the tables (after the store was edited by hand in SQL: a changed row is not
        noticed by itself, a removed one is); `distill status --recount` calls it."""
        self.con.begin()
        try:
            self._reset_tallies()
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        self.refresh_tallies()

    def _reset_tallies(self) -> int:
        """Inside a transaction: empty the tallies and their bookkeeping, selections recounted; the mark to fold
        from (every row)."""
        self.con.execute("DELETE FROM tallies")
        self.con.execute("UPDATE problems SET tally_ok_generations = 0, tally_teachers = '' "
                         "WHERE tally_ok_generations <> 0 OR tally_teachers <> ''")
        self.con.execute("UPDATE generations SET tally_source = NULL, tally_verdicts = '' "
                         "WHERE tally_source IS NOT NULL OR tally_verdicts <> ''")
        self.con.execute("UPDATE tally_mark SET mark = -1, problems = 0, generations = 0, verdicts = 0")
        self.tally_all_selections()
        return -1

    def _fold_problems(self, mark: int) -> None:
        rows = self.con.execute("SELECT source, domain, language, count(*) FROM problems WHERE seq > ? GROUP BY ALL",
                                [mark]).fetchall()
        self._bump("problem", {_key(s, d, lang): (n,) for s, d, lang, n in rows})
        self._bump_digest({_key("problems", s): (n, x) for s, n, x in self.con.execute(
            f"SELECT source, count(*), bit_xor({PROBLEM_HASH}) FROM problems WHERE seq > ? GROUP BY 1",
            [mark]).fetchall()})
        self._order("source", [r[0] for r in self.con.execute(
            "SELECT source FROM problems WHERE seq > ? GROUP BY 1 ORDER BY min(seq), min(rowid)", [mark]).fetchall()])

    def _fold_generations(self, mark: int) -> None:
        self.con.execute("UPDATE generations SET tally_source = p.source FROM problems p "
                         "WHERE generations.seq > ? AND p.problem_id = generations.problem_id", [mark])
        rows = self.con.execute(
            "SELECT tally_source, teacher_hash, status, error, count(*), coalesce(sum(prompt_tokens), 0), "
            "coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0) FROM generations WHERE seq > ? "
            "GROUP BY ALL", [mark]).fetchall()
        self._bump("generation", {_key(s, t, st, e, ""): v for s, t, st, e, *v in rows})
        self._bump_digest({_key("generations", s): (n, x) for s, n, x in self.con.execute(
            f"SELECT tally_source, count(*), bit_xor({GENERATION_HASH}) FROM generations WHERE seq > ? GROUP BY 1",
            [mark]).fetchall()})
        # Per problem: did it get its first successful generation, and which teachers answered it for the first time.
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _tally_new AS SELECT problem_id, "
            "count(*) FILTER (WHERE status = 'ok') AS ok, list(DISTINCT teacher_hash) AS teachers "
            "FROM generations WHERE seq > ? GROUP BY 1", [mark])
        generated: Counter[str] = Counter()
        answered: Counter[str] = Counter()
        for source, old_ok, old_teachers, ok, teachers in self.con.execute(
                "SELECT p.source, p.tally_ok_generations, p.tally_teachers, n.ok, n.teachers FROM problems p "
                "JOIN _tally_new n USING (problem_id)").fetchall():
            if not old_ok and ok:
                generated[source] += 1
            for teacher in set(teachers) - set(old_teachers.split(RS) if old_teachers else ()):
                answered[teacher] += 1
        self.con.execute("UPDATE problems SET tally_ok_generations = tally_ok_generations + n.ok, "
                         "tally_teachers = array_to_string(list_sort(list_distinct(list_concat(CASE WHEN "
                         "tally_teachers = '' THEN [] ELSE string_split(tally_teachers, chr(30)) END, n.teachers))), "
                         "chr(30)) FROM _tally_new n "
                         "WHERE problems.problem_id = n.problem_id")
        self.con.execute("DROP TABLE _tally_new")
        self._bump("generated", {_key(s): (n,) for s, n in generated.items()})
        self._bump("answered", {_key(t): (n,) for t, n in answered.items()})

    def _fold_verdicts(self, mark: int) -> None:
        self._order("check", [r[0] for r in self.con.execute(
            "SELECT check_name FROM verdicts WHERE seq > ? GROUP BY 1 ORDER BY min(seq), min(rowid)",
            [mark]).fetchall()])
        rows = self.con.execute(
            "SELECT v.check_name, v.check_version, v.status, v.reason, starts_with(g.tally_source, ?), count(*) "
            "FROM verdicts v JOIN generations g USING (generation_id) WHERE v.seq > ? GROUP BY ALL",
            [EVAL_SOURCE_PREFIX, mark]).fetchall()
        self._bump("verdict", {_key(c, v, st, r, bool(e)): (n,) for c, v, st, r, e, n in rows})
        self._bump_digest({_key("verdicts", s, c, v): (n, x) for s, c, v, n, x in self.con.execute(
            f"SELECT g.tally_source, v.check_name, v.check_version, count(*), bit_xor({VERDICT_HASH}) FROM verdicts v "
            "JOIN generations g USING (generation_id) WHERE v.seq > ? GROUP BY ALL", [mark]).fetchall()})
        # Each judged generation moves from the tally of its old verdict entries to that of its new ones.
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _tally_sig AS WITH n AS (SELECT generation_id, list(concat_ws(chr(31), "
            "check_name, check_version, status)) AS entries FROM verdicts WHERE seq > ? GROUP BY 1) "
            "SELECT g.generation_id, g.tally_source, g.teacher_hash, g.status, g.error, g.prompt_tokens, "
            "g.completion_tokens, g.cost_usd, g.tally_verdicts AS old, array_to_string(list_sort(list_distinct("
            "list_concat(CASE WHEN g.tally_verdicts = '' THEN [] ELSE string_split(g.tally_verdicts, chr(30)) END, "
            "n.entries))), chr(30)) AS new FROM generations g JOIN n USING (generation_id)", [mark])
        deltas: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for s, t, st, e, old, new, n, pt, ct, cost in self.con.execute(
                "SELECT tally_source, teacher_hash, status, error, old, new, count(*), "
                "coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0) "
                "FROM _tally_sig WHERE old <> new GROUP BY ALL").fetchall():
            for key, sign in ((_key(s, t, st, e, old), -1), (_key(s, t, st, e, new), 1)):
                d = deltas[key]
                d[0] += sign * n
                d[1] += sign * pt
                d[2] += sign * ct
                d[3] += sign * cost
        self.con.execute("UPDATE generations SET tally_verdicts = s.new FROM _tally_sig s "
                         "WHERE generations.generation_id = s.generation_id AND s.old <> s.new")
        self.con.execute("DROP TABLE _tally_sig")
        self._bump("generation", deltas)

    # ---- reading ---------------------------------------------------------------------------------------------
    def _tallies(self, kind: str) -> list[tuple[list[Any], int, int, int, float]]:
        return [(json.loads(k), n, pt, ct, cost) for k, n, pt, ct, cost in self.con.execute(
            "SELECT key, n, prompt_tokens, completion_tokens, cost_usd FROM tallies WHERE kind = ? AND "
            "(n <> 0 OR kind = 'order')", [kind]).fetchall()]

    def _tallied_order(self, table: str) -> list[str]:
        return [k[1] for k, n, *_ in sorted(self._tallies("order"), key=lambda r: r[1]) if k[0] == table]

    def _latest_versions(self) -> dict[str, str]:
        latest: dict[str, str] = {}
        for (check, version, *_), *_ in self._tallies("verdict"):
            latest[check] = max(latest.get(check, version), version)
        return latest

    def tallied_inputs_digest(self, sources: Sequence[str], checks: Sequence[tuple[str, str]]) -> list[list[int]]:
        """The first three rows of ``selection_inputs_digest`` (problems, generations, verdicts), from the tallies."""
        wanted = set(sources)
        pairs = set(checks)
        out = {"problems": [0, 0], "generations": [0, 0], "verdicts": [0, 0]}
        for key, n, xor in self.con.execute("SELECT key, n, xor FROM tallies WHERE kind = 'digest'").fetchall():
            table, source, *check = json.loads(key)
            if source in wanted and (table != "verdicts" or tuple(check) in pairs):
                out[table][0] += n
                out[table][1] ^= xor
        return [out["problems"], out["generations"], out["verdicts"]]

    def tallied_check_order(self) -> list[str]:
        return self._tallied_order("check")

    def tallied_verdict_funnel(self) -> list[tuple[str, str, str, int]]:
        latest = self._latest_versions()
        counts: Counter[tuple[str, str, str]] = Counter()
        for (check, version, status, reason, is_eval), n, *_ in self._tallies("verdict"):
            if version == latest[check] and not is_eval:
                counts[(check, status, reason)] += n
        return sorted(((c, s, r, n) for (c, s, r), n in counts.items() if n),
                      key=lambda row: (row[0], row[1], -row[3], row[2]))

    def tallied_problem_summary(self) -> list[tuple[str, str, int, str]]:
        by: dict[tuple[str, str], list[Any]] = {}
        for (source, domain, language), n, *_ in self._tallies("problem"):
            entry = by.setdefault((source, domain), [0, set()])
            entry[0] += n
            entry[1].add(language)
        return [(s, d, n, ",".join(sorted(langs))) for (s, d), (n, langs) in sorted(by.items())]

    def tallied_generation_summary(self, models: dict[str, str]) -> list[tuple[Any, ...]]:
        by: dict[str, list[Any]] = {}
        for (_source, teacher, status, _error, _verdicts), n, pt, ct, cost in self._tallies("generation"):
            entry = by.setdefault(teacher, [0, 0, 0, 0, 0.0])
            entry[0 if status == "ok" else 1] += n if status in ("ok", "error") else 0
            entry[2] += pt
            entry[3] += ct
            entry[4] += cost
        answered = {k[0]: n for k, n, *_ in self._tallies("answered")}
        rows = [(models.get(t), t, ok, err, answered.get(t, 0), pt, ct, cost)
                for t, (ok, err, pt, ct, cost) in by.items()]
        return sorted(rows, key=lambda r: (r[0] is None, r[0] or "", r[1]))

    def tallied_generation_errors(self) -> list[tuple[str, str, int]]:
        counts: Counter[tuple[str, str]] = Counter()
        for (_source, teacher, status, error, _verdicts), n, *_ in self._tallies("generation"):
            if status == "error":
                counts[(teacher, error)] += n
        return sorted((t, e, n) for (t, e), n in counts.items() if n)

    def tallied_funnel_by_source(self, checks: Sequence[str], dataset_id: str | None) -> list[dict[str, Any]]:
        """What ``funnel_by_source`` computes, from the tallies: a generation's verdict entries are read at each
        check's latest version, as the query does."""
        latest = self._latest_versions()
        position = {c: i for i, c in enumerate(checks, 1)}
        problems: Counter[str] = Counter()
        for (source, _domain, _language), n, *_ in self._tallies("problem"):
            problems[source] += n
        generated = {k[0]: n for k, n, *_ in self._tallies("generated")}
        kept = {k[1]: n for k, n, *_ in self._tallies("kept") if k[0] == dataset_id} if dataset_id else {}
        gens: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        every: Counter[str] = Counter()
        passed: dict[str, Counter[str]] = defaultdict(Counter)
        for (source, _teacher, status, _error, verdicts), n, *_ in self._tallies("generation"):
            if status == "error":
                errors[source] += n
                continue
            if status != "ok":
                continue
            gens[source] += n
            judged = [e.split(US) for e in verdicts.split(RS)] if verdicts else []
            judged = [(c, st) for c, v, st in judged if latest.get(c) == v]
            if not judged:
                continue
            fails = [position[c] for c, st in judged if st != "pass" and c in position]
            first_fail = min(fails) if fails else None
            if all(st == "pass" for _, st in judged):
                every[source] += n
            for i, check in enumerate(checks):
                if (first_fail if first_fail is not None else i + 2) > i + 1:
                    passed[source][check] += n
        return [{"source": s, "problems": problems[s], "problems_generated": generated.get(s, 0),
                 "generations": gens[s], "generation_errors": errors[s], "passed_every_check": every[s],
                 "passed": {c: passed[s][c] for c in checks}, "kept": kept.get(s, 0)}
                for s in self._tallied_order("source") if problems[s]]
