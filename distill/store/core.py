"""The DuckDB store: schema, forward migrations, keyed idempotent writes, and the queries stages need.

Guarantees:
- This is the only module that writes SQL.
- Every write is keyed (problems by ``problem_id``; ingest errors by (source, locator); generations by
  (problem_id, teacher_hash, sample_index); verdicts by (generation_id, check_name, check_version)),
  so repeating a write is a no-op and a rerun never duplicates rows.
- Each ``add_*`` call commits before returning: what a caller handed over survives a crash.
- One process writes a store at a time. DuckDB's own file lock enforces it; a second writer gets
  ``StoreLockedError`` with a one-line message naming the file and the holder's PID.
- A store written by a newer schema is refused rather than misread.

Not guaranteed: concurrent readers while a writer runs (DuckDB locks the whole file), and
cross-process write queues; the stage process owns the connection and others hand results to it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from distill import __version__
from distill.errors import StoreError, StoreLockedError, StorePathError, StoreValueError, StoreWriteError
from distill.redaction import redact, redact_values
from distill.runtime.processes import pid_alive
from distill.store.batches import BatchQueries
from distill.store.insights import InsightQueries
from distill.store.labels import LabelQueries
from distill.store.references import ReferenceQueries
from distill.store.results import ResultsQueries
from distill.store.selection import SelectionQueries
from distill.store.tallies import GENERATION_HASH, TallyQueries
from distill.store.tallies import MIGRATION as TALLIES_MIGRATION
from distill.store.values import _dicts, _json, _now
from distill.types import EVAL_SOURCE_PREFIX, CodeTests, Generation, IngestError, Problem, Verdict

# Each migration moves the schema from version i-1 to i. Never edit a released one; append.
MIGRATIONS: list[list[Any]] = [
    # v1: the whole pipeline's tables.
    [
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY, stage VARCHAR NOT NULL, recipe_name VARCHAR,
            recipe_hash VARCHAR, recipe_path VARCHAR, distill_version VARCHAR, pid INTEGER,
            status VARCHAR NOT NULL, summary JSON,
            started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP)""",
        """CREATE TABLE problems (
            problem_id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, locator VARCHAR NOT NULL,
            domain VARCHAR NOT NULL, prompt VARCHAR NOT NULL, answer VARCHAR, tests JSON, choices JSON,
            language VARCHAR NOT NULL, metadata JSON,
            recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE ingest_errors (
            source VARCHAR NOT NULL, locator VARCHAR NOT NULL, reason VARCHAR NOT NULL,
            detail VARCHAR, raw VARCHAR, recipe_hash VARCHAR, run_id VARCHAR,
            created_at TIMESTAMP NOT NULL, PRIMARY KEY (source, locator))""",
        """CREATE TABLE ingested_sources (
            source VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, rows_read INTEGER,
            problems INTEGER, errors INTEGER, recipe_hash VARCHAR, run_id VARCHAR,
            finished_at TIMESTAMP NOT NULL, PRIMARY KEY (source, fingerprint))""",
        """CREATE TABLE teachers (
            teacher_hash VARCHAR PRIMARY KEY, backend VARCHAR NOT NULL, model VARCHAR NOT NULL,
            config JSON, created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE generations (
            generation_id VARCHAR PRIMARY KEY, problem_id VARCHAR NOT NULL,
            teacher_hash VARCHAR NOT NULL, sample_index INTEGER NOT NULL, origin VARCHAR NOT NULL,
            status VARCHAR NOT NULL, messages JSON, content VARCHAR, reasoning VARCHAR,
            answer_text VARCHAR, final_answer VARCHAR, finish_reason VARCHAR, prompt_tokens INTEGER,
            completion_tokens INTEGER, latency_s DOUBLE, cost_usd DOUBLE, attempts INTEGER,
            error VARCHAR, error_detail VARCHAR, model VARCHAR,
            recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL,
            UNIQUE (problem_id, teacher_hash, sample_index))""",
        """CREATE TABLE verdicts (
            generation_id VARCHAR NOT NULL, check_name VARCHAR NOT NULL, check_version VARCHAR NOT NULL,
            status VARCHAR NOT NULL, reason VARCHAR NOT NULL, score DOUBLE, details JSON,
            recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (generation_id, check_name, check_version))""",
        """CREATE TABLE datasets (
            dataset_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, selection JSON, row_count INTEGER,
            formats JSON, location VARCHAR, card_path VARCHAR, hub_repo VARCHAR,
            recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE dataset_rows (
            dataset_id VARCHAR NOT NULL, generation_id VARCHAR NOT NULL, problem_id VARCHAR NOT NULL,
            split VARCHAR NOT NULL, row_index INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, generation_id))""",
        """CREATE TABLE train_runs (
            train_run_id VARCHAR PRIMARY KEY, dataset_id VARCHAR, base_model VARCHAR NOT NULL,
            method VARCHAR NOT NULL, config JSON, output_dir VARCHAR, status VARCHAR NOT NULL,
            metrics JSON, recipe_hash VARCHAR, run_id VARCHAR,
            started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP)""",
        """CREATE TABLE evals (
            eval_id VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, benchmark VARCHAR NOT NULL,
            metric VARCHAR NOT NULL, value DOUBLE, n_problems INTEGER, n_samples INTEGER,
            details JSON, recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL)""",
    ],
]
# v2: selection keeps its exclusions, with reasons, beside the kept rows.
MIGRATIONS.append([
    "ALTER TABLE dataset_rows ADD COLUMN status VARCHAR DEFAULT 'kept'",
    "ALTER TABLE dataset_rows ADD COLUMN reason VARCHAR",
    "ALTER TABLE datasets ADD COLUMN stats JSON",
])
# v3: the student: training runs keep their model folder and recipe; evaluations keep the model under test and
# per-problem results.
MIGRATIONS.append([
    "ALTER TABLE train_runs ADD COLUMN recipe_name VARCHAR",
    "ALTER TABLE train_runs ADD COLUMN model_dir VARCHAR",
    "ALTER TABLE train_runs ADD COLUMN updated_at TIMESTAMP",
    "ALTER TABLE evals ADD COLUMN label VARCHAR",
    "ALTER TABLE evals ADD COLUMN teacher_hash VARCHAR",
    "ALTER TABLE evals ADD COLUMN k INTEGER",
    """CREATE TABLE eval_problems (
        teacher_hash VARCHAR NOT NULL, benchmark VARCHAR NOT NULL, problem_id VARCHAR NOT NULL,
        label VARCHAR, model VARCHAR, n_samples INTEGER NOT NULL, n_correct INTEGER NOT NULL,
        majority_answer VARCHAR, majority_correct BOOLEAN, mean_completion_tokens DOUBLE, details JSON,
        recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (teacher_hash, benchmark, problem_id))""",
])
# v4: generations keyed by generation_id alone. The id is a hash of (problem_id, teacher_hash, sample_index), so
# the primary key already enforces that triple's uniqueness; a second UNIQUE index on it made every keyed
# insert grow with the table (1K rows: 0.1 s empty, 5 s at 100K, 16 s at 600K; PK alone stays at tens of ms).
# DuckDB cannot drop a constraint, so the table is rebuilt in store order.
_GENERATION_COLUMNS = """generation_id VARCHAR PRIMARY KEY, problem_id VARCHAR NOT NULL,
            teacher_hash VARCHAR NOT NULL, sample_index INTEGER NOT NULL, origin VARCHAR NOT NULL,
            status VARCHAR NOT NULL, messages JSON, content VARCHAR, reasoning VARCHAR,
            answer_text VARCHAR, final_answer VARCHAR, finish_reason VARCHAR, prompt_tokens INTEGER,
            completion_tokens INTEGER, latency_s DOUBLE, cost_usd DOUBLE, attempts INTEGER,
            error VARCHAR, error_detail VARCHAR, model VARCHAR,
            recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL"""
MIGRATIONS.append([
    f"CREATE TABLE generations_v4 ({_GENERATION_COLUMNS})",
    "INSERT INTO generations_v4 BY NAME SELECT * FROM generations ORDER BY rowid",
    "DROP TABLE generations",
    "ALTER TABLE generations_v4 RENAME TO generations",
])
# v5: the LLM-in-the-loop stages: difficulty/topic labels per problem and labeller; pseudo-references (majority
# vote) beside the problems, never written into them; an imported trace keeps its source's own verdict; a rewrite
# is a generation linked to the one it rewrites.
MIGRATIONS.append([
    "ALTER TABLE generations ADD COLUMN imported_verdict VARCHAR",
    "ALTER TABLE generations ADD COLUMN parent_generation_id VARCHAR",
    """CREATE TABLE batch_jobs (
        batch_id VARCHAR PRIMARY KEY, teacher_hash VARCHAR NOT NULL, base_url VARCHAR NOT NULL,
        input_file_id VARCHAR, output_file_id VARCHAR, error_file_id VARCHAR, status VARCHAR NOT NULL,
        request_count INTEGER, custom_ids JSON, stored BOOLEAN NOT NULL DEFAULT false, details JSON,
        recipe_hash VARCHAR, run_id VARCHAR, submitted_at TIMESTAMP NOT NULL, updated_at TIMESTAMP)""",
    """CREATE TABLE problem_labels (
        problem_id VARCHAR NOT NULL, labeler_hash VARCHAR NOT NULL, status VARCHAR NOT NULL, reason VARCHAR,
        difficulty INTEGER, topic VARCHAR, messages JSON, raw_output VARCHAR, model VARCHAR,
        prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd DOUBLE, latency_s DOUBLE,
        recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (problem_id, labeler_hash))""",
    """CREATE TABLE pseudo_references (
        problem_id VARCHAR NOT NULL, teacher_hash VARCHAR NOT NULL, method VARCHAR NOT NULL,
        status VARCHAR NOT NULL, reason VARCHAR, answer VARCHAR, votes INTEGER, n_answers INTEGER,
        runner_up_votes INTEGER, details JSON, recipe_hash VARCHAR, run_id VARCHAR, created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (problem_id, teacher_hash, method))""",
])
# v6: spend is counted, never trusted (distill.llm.spend): what a row was charged when the server's usage was not usable
# (``charged_completion_tokens``, counted against ``max_completion_tokens``) and why (``usage_note``).
MIGRATIONS.append([
    "ALTER TABLE generations ADD COLUMN charged_completion_tokens INTEGER",
    "ALTER TABLE generations ADD COLUMN usage_note VARCHAR",
    "ALTER TABLE problem_labels ADD COLUMN charged_completion_tokens INTEGER",
    "ALTER TABLE problem_labels ADD COLUMN usage_note VARCHAR",
])
# v7: counters kept by the writers (distill.store.tallies), so `status` is flat in the store's size.
MIGRATIONS.append(TALLIES_MIGRATION)
# v8: dataset_rows without a primary key. Its index (every candidate of every selection: kept and excluded) lived in
# DuckDB's memory and did not spill: recording a selection of 1M candidates ran out of 122 MiB, so select at 10M
# could not stay under its memory limit. A selection is written once, in one transaction, from distinct candidates
# (add_selection), so the key guarded nothing; a dataset's rows are contiguous, so reads by dataset_id skip by zone
# maps. Rebuilt in store order (DuckDB cannot drop a constraint).
MIGRATIONS.append([
    """CREATE TABLE dataset_rows_v8 (
        dataset_id VARCHAR NOT NULL, generation_id VARCHAR NOT NULL, problem_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL, row_index INTEGER NOT NULL, status VARCHAR DEFAULT 'kept', reason VARCHAR)""",
    "INSERT INTO dataset_rows_v8 BY NAME SELECT * FROM dataset_rows ORDER BY rowid",
    "DROP TABLE dataset_rows",
    "ALTER TABLE dataset_rows_v8 RENAME TO dataset_rows",
])
SCHEMA_VERSION = len(MIGRATIONS)
TABLES = ("problems", "ingest_errors", "ingested_sources", "runs", "teachers", "generations", "verdicts", "datasets",
          "dataset_rows", "train_runs", "evals", "eval_problems", "problem_labels", "pseudo_references",
          "batch_jobs")

_LOCK_PID = re.compile(r"PID (\d+)")


def new_run_id(stage: str) -> str:
    return f"{stage}-{_now().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunContext:
    """Provenance stamped on every row a stage writes."""

    run_id: str
    recipe_hash: str | None


class Store(ResultsQueries, SelectionQueries, InsightQueries, ReferenceQueries, LabelQueries, BatchQueries,
            TallyQueries):
    """One DuckDB file. Open with ``Store.open(path)``; use as a context manager."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, owner: bool = True):
        self.con = con
        self.path = path
        self.read_only = read_only
        self.owner = owner  # the connection that opened the file (not a thread's cursor): it folds the tallies

    def for_thread(self) -> Store:
        """The same store on a connection of its own (a DuckDB cursor), for use from another thread
        while this one goes on; closing it leaves this one open."""
        return Store(self.con.cursor(), self.path, self.read_only, owner=False)

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> Store:
        p = Path(path)
        if read_only and not p.exists():
            raise StoreError(f"{p}: no store here yet; run `distill ingest` first")
        if not read_only:
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a regular file in the path, a read-only filesystem, no permission
                raise StorePathError(f"{p}: cannot create the store's folder {p.parent}: "
                                     f"{exc.strerror or type(exc).__name__}") from None
        try:
            # DuckDB's own progress bar (queries over 2 s) would write over the stage's progress and logs
            con = duckdb.connect(str(p), read_only=read_only)
            con.execute("SET enable_progress_bar = false")
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                pid = _LOCK_PID.search(msg)
                holder = f" (PID {pid.group(1)})" if pid else ""
                raise StoreLockedError(
                    f"{p}: the store is in use by another process{holder}; wait for it to finish "
                    f"or point this command at another store"
                ) from None
            raise StoreError(f"{p}: cannot open the store: {msg.splitlines()[0]}") from None
        except duckdb.Error as exc:
            raise StoreError(f"{p}: not a usable DuckDB store: {str(exc).splitlines()[0]}") from None
        store = cls(con, p, read_only)
        store._migrate()
        if not read_only:
            store._mark_died_runs()
        return store

    def close(self, fold: bool = True) -> None:
        """Close; a writing store first folds what it wrote into the tallies (``distill.store.tallies``) unless
        ``fold`` is False. A fold that fails or is interrupted (a full disk, a second Ctrl-C) leaves them behind,
        which readers notice and go around; the next writer folds."""
        try:
            if fold and self.owner and not self.read_only:
                try:
                    self.refresh_tallies()
                except duckdb.Error:
                    pass
        finally:
            self.con.close()

    @contextmanager
    def memory_limit(self, megabytes: int) -> Iterator[None]:
        """DuckDB's memory limit lowered for a stage that only appends (ingest): its buffer pool otherwise keeps
        every page written in memory (RSS grew ~0.35 KB per ingested row); the connection's own limit after."""
        previous = self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        self.con.execute(f"SET memory_limit = '{int(megabytes)}MB'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{previous}'")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # After Ctrl-C the user waits for the exit: the fold is left to the next writer.
        self.close(fold=not (exc_type is not None and issubclass(exc_type, KeyboardInterrupt)))

    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        if not exists:
            return 0
        return int(self.con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer distill (schema v{current}; this one knows "
                f"v{SCHEMA_VERSION}); upgrade distill"
            )
        if current == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StoreError(f"{self.path}: store needs a schema upgrade; run any writing command first")
        self.con.begin()
        try:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMP NOT NULL, distill_version VARCHAR)"
            )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    if callable(statement):  # a step written in Python (it gets this store)
                        statement(self)
                    else:
                        self.con.execute(statement)
                self.con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, _now(), __version__])
            self.con.commit()
        except Exception:
            self.con.rollback()
            raise

    def _mark_died_runs(self) -> None:
        """Runs left ``running`` by a process that is gone (SIGKILL, power loss) become ``died``. We hold the
        write lock, so no other process is writing: every running run but our own process's is stale."""
        now = _now()
        died = [r[0] for r in self.con.execute(
            "SELECT run_id FROM runs WHERE status = 'running' AND pid IS DISTINCT FROM ?", [os.getpid()]).fetchall()]
        if not died:
            return
        self.con.execute("UPDATE runs SET status = 'died', finished_at = ? WHERE run_id IN (SELECT unnest(?))",
                         [now, died])
        self.con.execute("UPDATE train_runs SET status = 'died', updated_at = ? WHERE status = 'running' AND "
                         "run_id IN (SELECT unnest(?))", [now, died])

    # ---- generic keyed insert ------------------------------------------------------------------
    def _insert_ignore(self, table: str, rows: Sequence[dict[str, Any]],
                       before: str | tuple[str, list[Any]] | Callable[[], object] | None = None) -> int:
        """Insert rows whose key is new, in the order given; return how many were inserted. One transaction, in
        which ``before`` (SQL, optionally with its parameters: a delete of the rows the batch replaces) runs first.

        DuckDB's ``INSERT OR IGNORE`` reorders a batch, and "store order" (rowid) is what later stages read as
        the problems' order, first copies and tie-breaks. So: repeated keys in the batch are dropped here (the
        first wins) and the batch goes in as a plain ordered insert, whose key check is an index probe per row
        (flat in the table's size); only a batch that meets stored keys pays an anti-join against the table.
        """
        if not rows:
            return 0
        keys = self._key_columns(table)
        seen: set[tuple[Any, ...]] = set()
        unique = []
        for row in rows:
            key = tuple(row.get(k) for k in keys)
            if key not in seen:
                seen.add(key)
                unique.append(row)
        columns = list(dict.fromkeys(c for row in unique for c in row))  # every key, in order of first use
        names = ", ".join(columns)
        source, params = self._batch_source(table, unique, columns)
        plain = f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} ORDER BY _distill_pos"
        matched = " AND ".join(f"t.{k} = b.{k}" for k in keys)
        anti = (f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} b WHERE NOT EXISTS "
                f"(SELECT 1 FROM {table} t WHERE {matched}) ORDER BY _distill_pos")
        for sql in (plain, anti):
            self.con.begin()
            try:
                if callable(before):
                    before()
                elif before:
                    before_sql, before_params = (before, []) if isinstance(before, str) else before
                    self.con.execute(before_sql, before_params)
                inserted = self._execute_batch(sql, params, table).fetchone()[0]
                self.con.commit()
                return int(inserted)
            except duckdb.ConstraintException:
                self._rollback_quietly()
                if sql is anti:
                    raise
            except StoreValueError:
                self._rollback_quietly()
                raise
            except Exception as exc:
                self._rollback_quietly()
                if _is_io_error(exc):  # disk full, file gone: say so, rather than the rollback's own complaint
                    raise write_failure(self.path, exc) from None
                raise
        raise AssertionError("unreachable")

    def _batch_source(self, table: str, rows: Sequence[dict[str, Any]],
                      columns: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL (and its parameters) that reads ``rows`` (their ``columns``, typed as ``table``'s) as a relation,
        with ``_distill_pos`` giving their order. Each column goes in as one list parameter, unnested side by
        side by DuckDB itself: no Python object is bound through pyarrow or pandas (either import costs 0.2-0.4 s
        and ~50 MB on every command), and a 1,000-row flush is as fast as through a registered Arrow table."""
        types = self._column_types(table)
        unknown = [c for c in columns if c not in types]
        if unknown:
            raise StoreError(f"{self.path}: table {table} has no column {unknown[0]!r}")
        values = [[_cell(row.get(c), types[c]) for row in rows] for c in columns]
        select = ", ".join(f"unnest(${i}::{types[c]}[]) AS {c}" for i, c in enumerate(columns, 1))
        return f"(SELECT {select}, unnest(range(${len(columns) + 1})) AS _distill_pos)", [*values, len(rows)]

    def _insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` to ``table`` in order, inside the caller's transaction."""
        columns = list(dict.fromkeys(c for row in rows for c in row))
        names = ", ".join(columns)
        source, params = self._batch_source(table, rows, columns)
        self._execute_batch(f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} ORDER BY _distill_pos",
                            params, table)

    def _execute_batch(self, sql: str, params: list[Any], table: str) -> Any:
        """``sql`` with a batch's parameters; a value its column cannot hold is a one-line ``StoreValueError``."""
        try:
            return self.con.execute(sql, params)
        except (duckdb.ConversionException, duckdb.InvalidInputException, UnicodeError) as exc:
            raise StoreValueError(f"{table}: a value cannot be stored: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0][:200]}") from None

    def _column_types(self, table: str) -> dict[str, str]:
        """Each column of ``table`` and its SQL type (cached per store)."""
        cache = self.__dict__.setdefault("_types", {})
        if table not in cache:
            cache[table] = dict(self.con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
                "AND database_name = current_database() ORDER BY column_index", [table]).fetchall())
        return cache[table]

    def _key_columns(self, table: str) -> list[str]:
        """The primary key's columns of ``table`` (cached per store)."""
        cache = self.__dict__.setdefault("_keys", {})
        if table not in cache:
            row = self.con.execute("SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
                                   "AND constraint_type = 'PRIMARY KEY'", [table]).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: table {table} has no primary key to insert by")
            cache[table] = list(row[0])
        return cache[table]

    def _rollback_quietly(self) -> None:
        try:
            self.con.rollback()
        except duckdb.Error:
            pass  # DuckDB may already have aborted the transaction (e.g. after an I/O error)

    # ---- runs ----------------------------------------------------------------------------------
    def _write(self, sql: str, params: Sequence[Any]) -> None:
        """One statement that writes, with a full or read-only disk named as such (``StoreWriteError``)."""
        try:
            self.con.execute(sql, params)
        except Exception as exc:
            if _is_io_error(exc):
                raise write_failure(self.path, exc) from None
            raise

    def start_run(self, stage: str, recipe_name: str | None, recipe_hash: str | None,
                  recipe_path: str | None) -> RunContext:
        run_id = new_run_id(stage)
        self._write(
            "INSERT INTO runs (run_id, stage, recipe_name, recipe_hash, recipe_path, distill_version, pid, "
            "status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            [run_id, stage, recipe_name, recipe_hash, recipe_path, __version__, os.getpid(), _now()],
        )
        return RunContext(run_id, recipe_hash)

    def finish_run(self, run: RunContext, status: str, summary: dict[str, Any]) -> None:
        self._write(
            "UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE run_id = ?",
            [status, _json(summary), _now(), run.run_id],
        )

    # ---- problems and ingest errors -------------------------------------------------------------
    def add_problems(self, problems: Iterable[Problem], run: RunContext) -> int:
        now = _now()
        rows = [
            {
                "problem_id": p.problem_id, "source": p.source, "locator": p.locator, "domain": p.domain,
                "prompt": p.prompt, "answer": p.answer,
                "tests": _json(p.tests.to_json()) if p.tests else None,
                "choices": _json(list(p.choices)) if p.choices else None,
                "language": p.language, "metadata": _json(p.metadata or None),
                "recipe_hash": run.recipe_hash, "run_id": run.run_id, "created_at": now,
            }
            for p in problems
        ]
        return self._insert_ignore("problems", rows)

    def problem_locators(self, problem_ids: Sequence[str]) -> dict[str, str]:
        """problem id -> the locator of the row it was stored from."""
        return dict(self.con.execute("SELECT problem_id, locator FROM problems WHERE problem_id IN (SELECT unnest(?))",
                                     [list(problem_ids)]).fetchall())

    def add_ingest_errors(self, errors: Iterable[IngestError], run: RunContext) -> int:
        now = _now()
        rows = [
            {"source": e.source, "locator": e.locator, "reason": e.reason, "detail": e.detail,
             "raw": e.raw, "recipe_hash": run.recipe_hash, "run_id": run.run_id, "created_at": now}
            for e in errors
        ]
        return self._insert_ignore("ingest_errors", rows)

    def source_ingested(self, source: str, fingerprint: str) -> tuple[Any, ...] | None:
        """The record of a completed ingest of this exact source content, if any."""
        return self.con.execute(
            "SELECT run_id, problems, errors, finished_at FROM ingested_sources "
            "WHERE source = ? AND fingerprint = ?", [source, fingerprint]).fetchone()

    def mark_source_ingested(self, source: str, fingerprint: str, rows_read: int, problems: int,
                             errors: int, run: RunContext) -> None:
        self._insert_ignore("ingested_sources", [{
            "source": source, "fingerprint": fingerprint, "rows_read": rows_read, "problems": problems,
            "errors": errors, "recipe_hash": run.recipe_hash, "run_id": run.run_id, "finished_at": _now()}])

    # ---- teachers and generations ---------------------------------------------------------------
    def register_teacher(self, teacher_hash: str, backend: str, model: str, config: dict[str, Any]) -> None:
        """Record a teacher configuration; URL credentials and key-shaped values in it are redacted."""
        self._insert_ignore("teachers", [{"teacher_hash": teacher_hash, "backend": backend, "model": redact(model),
                                          "config": _json(redact_values(config)), "created_at": _now()}])

    def samples_done(self, teacher_hash: str) -> set[tuple[str, int]]:
        """(problem_id, sample_index) pairs that already have a successful generation."""
        rows = self.con.execute(
            "SELECT problem_id, sample_index FROM generations WHERE teacher_hash = ? AND status = 'ok'",
            [teacher_hash]).fetchall()
        return {(p, i) for p, i in rows}

    def verdicts_of(self, generation_ids: Sequence[str], versions: dict[str, str]
                    ) -> dict[str, dict[str, tuple[str, str]]]:
        """generation id -> {check: (status, reason)} for these checks at these versions."""
        if not generation_ids or not versions:
            return {}
        rows = self.con.execute(
            "SELECT v.generation_id, v.check_name, v.status, v.reason FROM verdicts v "
            "JOIN (SELECT unnest(?) AS check_name, unnest(?) AS check_version) w USING (check_name, check_version) "
            "WHERE v.generation_id IN (SELECT unnest(?))",
            [list(versions), list(versions.values()), list(generation_ids)]).fetchall()
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for gid, name, status, reason in rows:
            out.setdefault(gid, {})[name] = (status, reason)
        return out

    def teacher_generations(self, sources: Sequence[str], teacher_hash: str) -> list[tuple[str, str, str]]:
        """(generation id, problem id, domain) of this teacher configuration's successful generations of these
        sources' problems, in store order."""
        return self.con.execute(
            "SELECT g.generation_id, g.problem_id, p.domain FROM generations g JOIN problems p USING (problem_id) "
            "WHERE g.teacher_hash = ? AND g.status = 'ok' AND p.source IN (SELECT unnest(?)) ORDER BY g.rowid",
            [teacher_hash, list(sources)]).fetchall()

    def rewrites_missing_verdict(self, rewriter_hash: str, check_name: str, check_version: str
                                 ) -> list[tuple[str, str | None, str | None]]:
        """(generation_id, content, reasoning) of this rewriter's successful rewrites without a verdict of this
        check version."""
        return self.con.execute(
            "SELECT g.generation_id, g.content, g.reasoning FROM generations g WHERE g.origin = 'rewrite' AND "
            "g.teacher_hash = ? AND g.status = 'ok' AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.generation_id = "
            "g.generation_id AND v.check_name = ? AND v.check_version = ?) ORDER BY g.rowid",
            [rewriter_hash, check_name, check_version]).fetchall()

    def rewrite_candidates(self, sources: Sequence[str], rewriter_hash: str) -> tuple[list[dict[str, Any]], int]:
        """Successful original (not rewritten) generations of these sources without a successful rewrite by this
        rewriter, with their problem's prompt and domain, in store order; and how many already have one."""
        base = ("FROM generations g JOIN problems p USING (problem_id) WHERE g.status = 'ok' AND g.origin <> "
                "'rewrite' AND p.source IN (SELECT unnest(?)) AND {} EXISTS (SELECT 1 FROM generations c WHERE "
                "c.parent_generation_id = g.generation_id AND c.teacher_hash = ? AND c.status = 'ok')")
        rows = _dicts(self.con.execute(
            "SELECT g.generation_id, g.problem_id, g.sample_index, p.domain, p.prompt, g.reasoning, "
            "coalesce(g.answer_text, g.content) AS answer_text " + base.format("NOT") + " ORDER BY g.rowid",
            [list(sources), rewriter_hash]))
        done = self.con.execute("SELECT count(*) " + base.format(""), [list(sources), rewriter_hash]).fetchone()[0]
        return rows, int(done)

    def completion_stats(self, teacher_hash: str) -> tuple[int, float]:
        """(successful completions with a token count, their mean completion tokens) of a teacher configuration."""
        n, mean = self.con.execute(
            "SELECT count(completion_tokens), avg(completion_tokens) FROM generations WHERE teacher_hash = ? AND "
            "status = 'ok'", [teacher_hash]).fetchone()
        return int(n), float(mean or 0.0)

    def teacher_spend(self, teacher_hash: str) -> tuple[float, int, int]:
        """Cost in USD and completion tokens charged so far to this teacher configuration (all rows; an error row's
        charge moves into the row that replaces it), and how many rows were charged anything."""
        cost, tokens, charged = self.con.execute(
            "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(coalesce(charged_completion_tokens, completion_tokens)), "
            "0), count(*) FILTER (WHERE cost_usd > 0 OR coalesce(charged_completion_tokens, completion_tokens) > 0) "
            "FROM generations WHERE teacher_hash = ?", [teacher_hash]).fetchone()
        return float(cost), int(tokens), int(charged)

    def add_generations(self, rows: Sequence[dict[str, Any]], error_ids: set[str] | None = None) -> int:
        """Store generation rows (dicts with the ``generations`` columns except ``created_at``).

        A successful row is never overwritten. An error row is replaced by whatever arrives next for
        the same (problem, teacher, sample): a retry's success, or a newer error with its reason.
        ``error_ids``: the ids of this store's error rows, when the caller knows them (``error_ids_of``);
        then only those in the batch are replaced, and a batch replacing none costs no table scan.
        What a replaced error row was charged (a timed-out attempt at its bound) moves into the row replacing it,
        so the spend a cap counts never shrinks.
        """
        now = _now()
        batch = [dict(r, created_at=now) for r in rows]
        if error_ids is None:
            replaced = [r["generation_id"] for r in batch]
            self._carry_error_charges(batch, replaced)
        else:
            replaced = sorted({r["generation_id"] for r in batch} & error_ids)
            if replaced:
                self._carry_error_charges(batch, replaced)
            error_ids.difference_update(replaced)
            error_ids.update(r["generation_id"] for r in batch if r["status"] == "error")

        def delete_replaced() -> None:  # in the insert's transaction, tallies and all
            self.untally_deleted(self.con.execute(
                "DELETE FROM generations WHERE status = 'error' AND generation_id IN (SELECT unnest(?)) RETURNING "
                "seq, tally_source, teacher_hash, status, error, tally_verdicts, prompt_tokens, completion_tokens, "
                f"cost_usd, {GENERATION_HASH}", [replaced]).fetchall())

        return self._insert_ignore("generations", batch, before=delete_replaced if replaced else None)

    def _carry_error_charges(self, batch: list[dict[str, Any]], ids: list[str]) -> None:
        charged = {r[0]: (r[1], r[2]) for r in self.con.execute(
            "SELECT generation_id, coalesce(cost_usd, 0), coalesce(charged_completion_tokens, 0) FROM generations "
            "WHERE status = 'error' AND (cost_usd > 0 OR charged_completion_tokens > 0) AND generation_id IN "
            "(SELECT unnest(?))", [ids]).fetchall()}
        for row in batch:
            if row["generation_id"] in charged:
                cost, tokens = charged.pop(row["generation_id"])
                own = row.get("charged_completion_tokens")
                row["cost_usd"] = (row.get("cost_usd") or 0.0) + cost
                row["charged_completion_tokens"] = tokens + (own if own is not None else
                                                             row.get("completion_tokens") or 0)

    def error_ids_of(self, teacher_hash: str) -> set[str]:
        """Ids of this teacher configuration's error rows (to be replaced by the next attempt)."""
        return {row[0] for row in self.con.execute(
            "SELECT generation_id FROM generations WHERE teacher_hash = ? AND status = 'error'",
            [teacher_hash]).fetchall()}

    def generation_summary(self) -> list[dict[str, Any]]:
        if self.tallies_current():
            rows = self.tallied_generation_summary(dict(self.con.execute(
                "SELECT teacher_hash, model FROM teachers").fetchall()))
        else:
            rows = self.con.execute(
                "SELECT t.model, g.teacher_hash, count(*) FILTER (WHERE g.status = 'ok'), "
                "count(*) FILTER (WHERE g.status = 'error'), count(DISTINCT g.problem_id), "
                "coalesce(sum(g.prompt_tokens), 0), coalesce(sum(g.completion_tokens), 0), "
                "coalesce(sum(g.cost_usd), 0) FROM generations g LEFT JOIN teachers t USING (teacher_hash) "
                "GROUP BY ALL ORDER BY 1, 2").fetchall()
        cols = ("model", "teacher_hash", "ok", "errors", "problems", "prompt_tokens", "completion_tokens",
                "cost_usd")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def generation_error_summary(self) -> list[tuple[str, str, int]]:
        if self.tallies_current():
            return self.tallied_generation_errors()
        return self.con.execute(
            "SELECT teacher_hash, error, count(*) FROM generations WHERE status = 'error' "
            "GROUP BY ALL ORDER BY ALL").fetchall()

    # ---- verdicts -------------------------------------------------------------------------------
    def count_generations(self, sources: Sequence[str]) -> int:
        """Successful generations of these sources' problems."""
        return sum(self.count_generations_by_domain(sources).values())

    def count_generations_by_domain(self, sources: Sequence[str]) -> dict[str, int]:
        """Successful generations of these sources' problems, per problem domain."""
        return dict(self.con.execute(
            "SELECT p.domain, count(*) FROM generations g JOIN problems p USING (problem_id) WHERE g.status = 'ok' "
            "AND p.source IN (SELECT unnest(?)) GROUP BY 1", [list(sources)]).fetchall())

    def generations_missing_verdict(self, check_name: str, check_version: str, sources: Sequence[str],
                                    domains: Sequence[str] | None) -> list[str]:
        """Ids of successful generations of these sources' problems with no verdict for this check version,
        in store order. Only ids: the texts are fetched batch by batch (``generations_by_id``)."""
        sql = ("SELECT g.generation_id FROM generations g JOIN problems p USING (problem_id) "
               "WHERE g.status = 'ok' AND p.source IN (SELECT unnest(?)) "
               "AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.generation_id = g.generation_id "
               "AND v.check_name = ? AND v.check_version = ?)")
        params: list[Any] = [list(sources), check_name, check_version]
        if domains is not None:
            sql += " AND p.domain IN (SELECT unnest(?))"
            params.append(list(domains))
        return [row[0] for row in self.con.execute(sql + " ORDER BY g.rowid", params).fetchall()]

    def generations_by_id(self, generation_ids: Sequence[str]) -> list[tuple[Problem, Generation]]:
        """(problem, generation) pairs for these ids, in the order given."""
        rows = self.con.execute(
            f"SELECT {_PROBLEM_COLS_P}, g.generation_id, g.teacher_hash, g.sample_index, g.content, "
            "g.reasoning, g.final_answer, g.finish_reason, g.prompt_tokens, g.completion_tokens, g.status, "
            "g.answer_text FROM generations g JOIN problems p USING (problem_id) "
            "WHERE g.generation_id IN (SELECT unnest(?))", [list(generation_ids)]).fetchall()
        by_id = {row[10]: (_problem_from_row(row[:10]), Generation(row[10], row[0], *row[11:])) for row in rows}
        return [by_id[gid] for gid in generation_ids]

    def add_verdicts(self, verdicts: Iterable[Verdict], run: RunContext) -> int:
        now = _now()
        rows = [
            {"generation_id": v.generation_id, "check_name": v.check, "check_version": v.check_version,
             "status": v.status, "reason": v.reason, "score": v.score, "details": _json(v.details),
             "recipe_hash": run.recipe_hash, "run_id": run.run_id, "created_at": now}
            for v in verdicts
        ]
        return self._insert_ignore("verdicts", rows)

    def verdict_funnel(self) -> list[tuple[str, str, str, int]]:
        """(check, status, reason, count) over the latest version of each check, for the traces of the recipe's
        sources (the eval stage's samples of benchmark problems are its own business: see ``evals``)."""
        if self.tallies_current():
            return self.tallied_verdict_funnel()
        return self.con.execute(
            "WITH latest AS (SELECT check_name, max(check_version) AS v FROM verdicts GROUP BY 1), "
            "eval_gens AS (SELECT g.generation_id FROM generations g JOIN problems p USING (problem_id) "
            "WHERE starts_with(p.source, ?)) "
            "SELECT check_name, status, reason, count(*) FROM verdicts JOIN latest USING (check_name) "
            "WHERE check_version = latest.v AND generation_id NOT IN (SELECT generation_id FROM eval_gens) "
            "GROUP BY ALL ORDER BY 1, 2, 4 DESC", [EVAL_SOURCE_PREFIX]).fetchall()

    # ---- selection and export -------------------------------------------------------------------
    def kept_generations(self, dataset_id: str) -> list[dict[str, Any]]:
        """The kept rows of a selection with their generation and problem (what export writes), and nothing
        of the excluded rows."""
        cursor = self.con.execute(
            "SELECT g.generation_id, g.problem_id, p.source, p.domain, p.prompt, p.answer, p.language, "
            "g.teacher_hash, g.sample_index, g.origin, g.model, g.messages, g.content, g.reasoning, g.answer_text, "
            "g.final_answer, g.prompt_tokens, g.completion_tokens, g.cost_usd, "
            "pg.messages AS parent_messages "  # a rewrite's own messages are the rewrite request, not the problem's
            "FROM dataset_rows d JOIN generations g USING (generation_id) JOIN problems p ON p.problem_id = "
            "g.problem_id LEFT JOIN generations pg ON pg.generation_id = g.parent_generation_id "
            "WHERE d.dataset_id = ? AND d.status = 'kept'", [dataset_id])
        return _dicts(cursor)

    def latest_dataset(self, name: str) -> dict[str, Any] | None:
        cursor = self.con.execute("SELECT * FROM datasets WHERE name = ? ORDER BY created_at DESC LIMIT 1", [name])
        rows = _dicts(cursor)
        return rows[0] if rows else None

    def kept_verdicts(self, dataset_id: str, checks: Sequence[str]) -> list[tuple[str, str, str, str]]:
        """(generation_id, check, status, reason) of a selection's kept rows, for its ``check<US>version`` keys,
        by generation and check name."""
        return self.con.execute(
            "SELECT v.generation_id, v.check_name, v.status, v.reason FROM verdicts v JOIN dataset_rows d "
            "USING (generation_id) WHERE d.dataset_id = ? AND d.status = 'kept' AND "
            "concat(v.check_name, chr(31), v.check_version) IN (SELECT unnest(?)) ORDER BY 1, 2",
            [dataset_id, list(checks)]).fetchall()

    def kept_prompts(self, dataset_id: str) -> list[str]:
        """The problem texts of a selection's kept rows, each once."""
        return [r[0] for r in self.con.execute(
            "SELECT p.prompt FROM problems p WHERE p.problem_id IN (SELECT problem_id FROM dataset_rows "
            "WHERE dataset_id = ? AND status = 'kept') ORDER BY p.rowid", [dataset_id]).fetchall()]

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        rows = _dicts(self.con.execute("SELECT * FROM datasets WHERE dataset_id = ?", [dataset_id]))
        return rows[0] if rows else None

    def dataset_rows(self, dataset_id: str, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM dataset_rows WHERE dataset_id = ?"
        params: list[Any] = [dataset_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        cursor = self.con.execute(sql + " ORDER BY status, row_index", params)
        return _dicts(cursor)

    def record_export(self, dataset_id: str, formats: Sequence[str], location: str, card_path: str,
                      hub_repo: str | None) -> None:
        self.con.execute("UPDATE datasets SET formats = ?, location = ?, card_path = ?, hub_repo = ? "
                         "WHERE dataset_id = ?", [_json(list(formats)), location, card_path, hub_repo, dataset_id])

    def dataset_summary(self) -> list[dict[str, Any]]:
        cursor = self.con.execute("SELECT name, dataset_id, row_count, location, hub_repo, created_at, stats "
                                  "FROM datasets ORDER BY created_at DESC LIMIT 10")
        rows = _dicts(cursor)
        for row in rows:
            stats = json.loads(row.pop("stats") or "{}")
            row["excluded"] = stats.get("excluded", {})
            row["contamination"] = stats.get("contamination", {})
        return rows

    def count(self, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self.con.execute(sql, list(params)).fetchone()[0])

    def iter_problems(self, sources: Sequence[str] | None = None, limit: int | None = None) -> Iterator[Problem]:
        sql = ("SELECT problem_id, source, locator, domain, prompt, answer, tests, choices, language, metadata "
               "FROM problems")
        params: list[Any] = []
        if sources is not None:
            sql += " WHERE source IN (SELECT unnest(?))"
            params.append(list(sources))
        sql += " ORDER BY rowid"  # insertion order: the order of the recipe's sources and their rows
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.con.execute(sql, params).fetchall():
            yield _problem_from_row(row)

    def get_problem(self, problem_id: str) -> Problem | None:
        row = self.con.execute(
            "SELECT problem_id, source, locator, domain, prompt, answer, tests, choices, language, metadata "
            "FROM problems WHERE problem_id = ?", [problem_id]).fetchone()
        return _problem_from_row(row) if row else None

    def ingest_errors(self, source: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT source, locator, reason, detail FROM ingest_errors"
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        sql += " ORDER BY source, locator"
        cols = ("source", "locator", "reason", "detail")
        return [dict(zip(cols, r, strict=True)) for r in self.con.execute(sql, params).fetchall()]

    # ---- summaries for `distill status` ---------------------------------------------------------
    def problem_summary(self) -> list[dict[str, Any]]:
        rows = self.tallied_problem_summary() if self.tallies_current() else self.con.execute(
            "SELECT source, domain, count(*) AS problems, "
            "string_agg(DISTINCT language, ',' ORDER BY language) AS languages "
            "FROM problems GROUP BY source, domain ORDER BY source, domain").fetchall()
        errs = dict(self.con.execute(
            "SELECT source, count(*) FROM ingest_errors GROUP BY source").fetchall())
        out = [{"source": s, "domain": d, "problems": n, "languages": langs,
                "ingest_errors": errs.pop(s, 0)} for s, d, n, langs in rows]
        out += [{"source": s, "domain": "-", "problems": 0, "languages": "", "ingest_errors": n}
                for s, n in sorted(errs.items())]
        return out

    def ingest_error_summary(self) -> list[tuple[str, str, int]]:
        return self.con.execute(
            "SELECT source, reason, count(*) FROM ingest_errors GROUP BY ALL ORDER BY ALL").fetchall()

    def table_counts(self) -> dict[str, int]:
        return {t: self.count(t) for t in TABLES}

    def recent_runs(self, limit: int = 5) -> list[tuple[Any, ...]]:
        """The latest runs; a ``running`` one whose process is gone reads ``died`` (a read-only store cannot
        mark it; the next writer does)."""
        rows = self.con.execute(
            "SELECT run_id, stage, status, started_at, finished_at, pid FROM runs "
            "ORDER BY started_at DESC LIMIT ?", [limit]).fetchall()
        return [(r[0], r[1], "died" if r[2] == "running" and not pid_alive(r[5]) else r[2], r[3], r[4]) for r in rows]


def _cell(value: Any, sql_type: str) -> Any:
    """A row's value as its list parameter carries it: a JSON column takes text (a dict or list is dumped)."""
    if sql_type == "JSON" and value is not None and not isinstance(value, str):
        return json.dumps(value)
    return value


def _is_io_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException | OSError) or any(
        marker in str(exc) for marker in ("No space left on device", "Read-only file system", "Could not write"))


def write_failure(path: Path, exc: BaseException) -> StoreWriteError:
    """A failed write as one line naming its cause (disk full, read-only, another I/O error) and the file."""
    text = str(exc)
    errno_ = getattr(exc, "errno", None)
    if errno_ == 28 or "No space left on device" in text:
        cause = "the disk is full"
    elif errno_ == 30 or "Read-only file system" in text:
        cause = "the filesystem is read-only"
    else:
        cause = "an I/O error"
    detail = text.splitlines()[0][:300] if text else type(exc).__name__
    return StoreWriteError(f"{path}: the write failed, {cause} ({detail}); free space or fix the disk, then rerun")

_PROBLEM_COLS_P = ("p.problem_id, p.source, p.locator, p.domain, p.prompt, p.answer, p.tests, p.choices, "
                   "p.language, p.metadata")

def _problem_from_row(row: Sequence[Any]) -> Problem:
    pid, source, locator, domain, prompt, answer, tests, choices, language, metadata = row
    return Problem(
        problem_id=pid, source=source, locator=locator, domain=domain, prompt=prompt, answer=answer,
        tests=CodeTests.from_json(json.loads(tests)) if tests else None,
        choices=tuple(json.loads(choices)) if choices else None,
        language=language, metadata=json.loads(metadata) if metadata else {},
    )
