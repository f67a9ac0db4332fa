"""The ingest stage: read every source of a recipe into the store's ``problems`` table.

Guarantees: bad rows become ``ingest_errors`` rows with a reason and locator instead of stopping the
stage; writes are keyed, so re-ingesting adds nothing; a source whose content fingerprint was already
ingested completely is skipped without being read (``force=True`` reads it again, still adding
nothing that exists). A missing file or an unknown adapter stops the stage with a ``SourceError``
before anything of that source is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from distill.data.sources import LEFT_OUT, check_adapters, read_source
from distill.errors import StoreValueError
from distill.llm.response import extract_final_answer, split_response
from distill.recipe import LoadedRecipe, SourceConfig
from distill.stages.shape import StagePlan
from distill.store import RunContext, Store
from distill.types import Generation, ImportedResponse, IngestError, Problem, stable_hash
from distill.views.progress import stage_progress

BATCH = 2000
INGEST_MEMORY_LIMIT_MB = 128  # DuckDB's share while ingesting: 1M rows in bounded memory (README "ingest")


@dataclass
class SourceSummary:
    source: str
    rows_read: int = 0
    new_problems: int = 0
    existing_problems: int = 0
    errors: int = 0
    imported: int = 0
    skipped: bool = False
    left_out: int = 0  # rows the source's `where` does not keep


@dataclass
class IngestSummary:
    run_id: str
    sources: list[SourceSummary] = field(default_factory=list)
    store_path: Path | None = None

    @property
    def new_problems(self) -> int:
        return sum(s.new_problems for s in self.sources)

    @property
    def existing_problems(self) -> int:
        return sum(s.existing_problems for s in self.sources)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sources)

    @property
    def imported(self) -> int:
        return sum(s.imported for s in self.sources)

    def line(self) -> str:
        skipped = sum(s.skipped for s in self.sources)
        skipped_note = f", {skipped} unchanged source(s) skipped" if skipped else ""
        skipped_note += f", {self.imported} imported responses" if self.imported else ""
        left_out = sum(s.left_out for s in self.sources)
        skipped_note += f", {left_out} rows left out by `where`" if left_out else ""
        return (f"ingest: {self.new_problems} new problems, {self.existing_problems} already stored, "
                f"{self.errors} bad rows recorded in ingest_errors, from {len(self.sources)} source(s)"
                f"{skipped_note} -> {self.store_path}")


def source_fingerprint(cfg: SourceConfig, recipe: LoadedRecipe) -> str:
    """What identifies this source's content: its config, plus size and mtime for local files."""
    dump = cfg.model_dump(mode="json", exclude={"generate", "rewrite"})  # not what ingest reads
    if dump.get("window") is None:  # so fingerprints from before the key stay the same
        dump.pop("window", None)
    parts: list[object] = [dump]
    if cfg.path is not None:
        path = recipe.resolve(cfg.path)
        if path.exists():
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            parts += [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return stable_hash(*parts)


def imported_row(response: ImportedResponse, run: RunContext) -> dict[str, object]:
    """A generation row for an imported response: split and answer-extracted like a teacher's."""
    split = split_response(response.content, response.reasoning)
    return {
        "generation_id": Generation.make_id(response.problem_id, response.teacher_hash, response.sample_index),
        "problem_id": response.problem_id, "teacher_hash": response.teacher_hash,
        "sample_index": response.sample_index, "origin": "imported", "status": "ok", "messages": None,
        "content": response.content, "reasoning": split.reasoning, "answer_text": split.answer_text,
        "final_answer": extract_final_answer(split.answer_text), "finish_reason": None, "prompt_tokens": None,
        "completion_tokens": None, "latency_s": None, "cost_usd": 0.0, "attempts": 0, "error": None,
        "error_detail": None, "model": response.model, "recipe_hash": run.recipe_hash,
        "imported_verdict": None if response.original_correct is None else
        ("correct" if response.original_correct else "incorrect"),
        "run_id": run.run_id,
    }


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """The sources to read: those whose content fingerprint was not ingested completely yet (``work``: each source
    with its fingerprint and whether it was)."""
    work = []
    for cfg in recipe.config.sources:
        fingerprint = source_fingerprint(cfg, recipe)
        work.append((cfg, fingerprint, store.source_ingested(cfg.display_name, fingerprint) is not None))
    done = sum(already for *_, already in work)
    return StagePlan("ingest", len(work) - done, done, "sources", work=work)


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> IngestSummary:
    """Read the planned sources (with ``force``, the unchanged ones again too: still adding nothing that exists)."""
    check_adapters(recipe)
    run = store.start_run("ingest", recipe.config.name, recipe.hash, str(recipe.path))
    summary = IngestSummary(run.run_id, store_path=store.path)
    try:
        with store.memory_limit(INGEST_MEMORY_LIMIT_MB):
            for cfg, fingerprint, already in plan.work:
                summary.sources.append(_ingest_source(cfg, fingerprint, already and not force, recipe, store, run))
    except BaseException as exc:
        store.finish_run(run, "failed", {"error": str(exc) or type(exc).__name__})
        raise
    store.finish_run(run, "ok", {
        "new_problems": summary.new_problems, "existing_problems": summary.existing_problems,
        "errors": summary.errors, "imported": summary.imported, "sources": [s.__dict__ for s in summary.sources]})
    return summary


def ingest(recipe: LoadedRecipe, store: Store, *, force: bool = False) -> IngestSummary:
    return do(recipe, store, plan(recipe, store), force)


def _add_problems_isolating_bad_rows(store: Store, problems: list[Problem], errors: list[IngestError],
                                     run: RunContext) -> int:
    """Write the batch; if a value in it cannot be stored after all, write row by row and record the rows
    that fail as ``invalid_value``, so one row never costs the others."""
    try:
        return store.add_problems(problems, run)
    except StoreValueError:
        inserted = 0
        for problem in problems:
            try:
                inserted += store.add_problems([problem], run)
            except StoreValueError as exc:
                errors.append(IngestError(problem.source, problem.locator, "invalid_value", str(exc)[:200], None))
        return inserted


def _naming_first_rows(store: Store, errors: list[IngestError]) -> list[IngestError]:
    """Duplicate rows name the row they repeat (its locator, from the store: the reader keeps only 64-bit ids)."""
    ids = [e.problem_id for e in errors if e.reason == "duplicate_problem" and e.problem_id]
    if not ids:
        return errors
    first = store.problem_locators(ids)
    return [replace(e, detail=f"same problem as {first[e.problem_id]}") if e.problem_id in first else e
            for e in errors]


def _ingest_source(cfg: SourceConfig, fingerprint: str, skip: bool, recipe: LoadedRecipe, store: Store,
                   run: RunContext) -> SourceSummary:
    name = cfg.display_name
    result = SourceSummary(name)
    if skip:
        result.skipped = True
        result.existing_problems = store.count("problems", "source = ?", [name])
        return result
    problems: list[Problem] = []
    errors: list[IngestError] = []
    responses: list[ImportedResponse] = []
    teachers: set[tuple[str, str]] = set()

    def flush() -> None:
        inserted = _add_problems_isolating_bad_rows(store, problems, errors, run)
        result.new_problems += inserted
        result.existing_problems += len(problems) - inserted
        store.add_ingest_errors(_naming_first_rows(store, errors), run)
        result.errors += len(errors)
        for response in responses:
            if (response.teacher_hash, response.model) not in teachers:
                store.register_teacher(response.teacher_hash, "imported", response.model,
                                       {"source": response.source})
                teachers.add((response.teacher_hash, response.model))
        result.imported += store.add_generations([imported_row(r, run) for r in responses])
        problems.clear()
        errors.clear()
        responses.clear()

    with stage_progress(f"ingest {name}", total=cfg.limit, unit="rows") as bar:
        for item in read_source(cfg, recipe.resolve):
            result.rows_read += 1
            if item is LEFT_OUT:
                result.left_out += 1
                continue
            if isinstance(item, ImportedResponse):
                responses.append(item)
                continue
            (problems if isinstance(item, Problem) else errors).append(item)
            if len(problems) + len(errors) + len(responses) >= BATCH:
                flush()
            bar.advance()
        flush()
    store.mark_source_ingested(name, fingerprint, result.rows_read, result.new_problems
                               + result.existing_problems, result.errors, run)
    return result
