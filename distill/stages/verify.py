"""The verify stage: run the recipe's checks on every generation that lacks a verdict.

Guarantees: only missing (generation, check, check version) triples are computed, so a rerun does no
work, a new check computes just that check, and a changed check version re-verifies just that check.
Verdicts are committed in batches as they are computed; an interrupted run keeps them. Each check
decides its own parallelism in ``check_batch`` (worker processes with hard timeouts where work can
hang). Error generations (transport failures) get no verdicts: the funnel counts them separately.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from distill.checks import CHECKS, Check
from distill.checks.specs import check_classes
from distill.errors import NothingToDoError, RecipeError, UsageError
from distill.recipe import LoadedRecipe
from distill.stages.shape import StagePlan
from distill.store import Store
from distill.store.writer import BackgroundWrites
from distill.types import Verdict
from distill.views.progress import stage_progress

BATCH = 512
MAX_QUEUED_WRITES = 2  # verdict batches waiting for the writer before checking pauses


@dataclass
class VerifySummary:
    run_id: str
    computed: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, dict[str, int]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    references: str | None = None  # the majority vote's line, when the recipe asks for one
    ray_actors: int = 0  # executor: ray: the most check actors one check used (0: checks ran in this process)
    retried: int = 0  # executor: ray: generations checked again after the actor holding them died
    unverified: int = 0  # executor: ray: generations left without a verdict (their actors kept dying); a rerun

    def line(self) -> str:
        if not self.computed:
            return "verify: no checks configured"
        parts = []
        for name, n in self.computed.items():
            statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.get(name, {}).items()))
            parts.append(f"{name} {n}" + (f" ({statuses})" if statuses else ""))
        line = f"verify: {sum(self.computed.values())} new verdicts: " + "; ".join(parts)
        if self.ray_actors:
            line += (f"; on Ray ({self.ray_actors} actors per check, {self.retried} generations retried after a lost "
                     f"worker)")
        if self.unverified:
            line += (f"; {self.unverified} checks of generations left undone (their Ray actors kept dying): rerun "
                     f"verify for them")
        return f"{self.references}\n{line}" if self.references else line


def build_checks(recipe: LoadedRecipe) -> list[Check]:
    """The recipe's checks, constructed; a bad name or parameter names the recipe key."""
    checks: list[Check] = []
    for i, entry in enumerate(recipe.config.checks):
        try:
            checks.append(CHECKS.get(entry.name)(**entry.params))
        except UsageError as exc:
            raise RecipeError(f"{recipe.path}: checks[{i}]: {exc}") from None
    return checks


def acceptance(recipe: LoadedRecipe, store: Store, generations: list[tuple[str, str]]) -> dict[str, bool | None]:
    """For (generation id, domain) pairs: True when the generation passes every recipe check covering its domain
    (a fallback check's pass, such as the judge's, standing in for the check it backs up), False when one of them
    did not pass it, None when one of them has not judged it yet."""
    specs = check_classes(recipe)
    rules = [c for c in specs if not c.after]
    backed_by: dict[str, list[str]] = {}
    for fallback in (c for c in specs if c.after):
        for name in fallback.after:
            backed_by.setdefault(name, []).append(fallback.name)
    versions = {c.name: c.version for c in specs}
    out: dict[str, bool | None] = {}
    for start in range(0, len(generations), 2000):
        chunk = generations[start:start + 2000]
        verdicts = store.verdicts_of([gid for gid, _ in chunk], versions)
        for gid, domain in chunk:
            got = verdicts.get(gid, {})
            applicable = [c.name for c in rules if c.domains is None or domain in c.domains]
            if any(name not in got for name in applicable):
                out[gid] = None
            else:
                out[gid] = all(got[name][0] == "pass" or any(got.get(f, ("", ""))[0] == "pass"
                                                              for f in backed_by.get(name, [])) for name in applicable)
    return out


def run_order(checks: list[Check]) -> list[Check]:
    """Recipe order, except that a check runs after the checks it reads (``after``)."""
    plain = [c for c in checks if not c.after]
    return plain + [c for c in checks if c.after]


def _with_pseudo_references(store: Store, items: list, check: Check) -> dict[str, dict]:
    """The pseudo-references of this batch's problems without a reference, for a check that reads the reference
    (one bound to domains; format and language never look at it)."""
    if check.domains is None:
        return {}
    missing = [p.problem_id for p, _ in items if not (p.answer or "").strip()]
    return store.pseudo_references_of(missing) if missing else {}


def _marked(verdict: Verdict, pseudo: dict | None) -> Verdict:
    if pseudo is None:
        return verdict
    return replace(verdict, details=dict(verdict.details, reference=pseudo["method"], votes=pseudo["votes"],
                                         n_answers=pseudo["n_answers"]))


@dataclass
class _Batch:
    """Generations for one check, read from the store on the driver: (problem, generation) pairs, with a
    pseudo-reference substituted for problems without a reference, and the earlier verdicts an ``after`` check
    reads."""

    items: list
    pseudo: dict[str, dict]
    earlier: list[dict[str, tuple[str, str]]] | None = None


def _batches(store: Store, check: Check, pending: list[str], versions: dict[str, str], voting: bool,
             size: int = BATCH) -> Iterator[_Batch]:
    """Ids first, texts one batch at a time: a store of long traces need not fit in memory."""
    for start in range(0, len(pending), size):
        items = store.generations_by_id(pending[start:start + size])
        pseudo = _with_pseudo_references(store, items, check) if voting else {}
        if pseudo:
            items = [(replace(p, answer=pseudo[p.problem_id]["answer"]) if p.problem_id in pseudo else p, g)
                     for p, g in items]
        earlier = None
        if check.after:
            found = store.verdicts_of([g.generation_id for _, g in items],
                                      {n: versions[n] for n in check.after if n in versions})
            earlier = [found.get(g.generation_id, {}) for _, g in items]
        yield _Batch(items, pseudo, earlier)


class LocalChecks:
    """Checks run in this process, one batch after another (each check's own worker processes inside)."""

    actors = retried = lost = 0
    batch_size = BATCH

    def map(self, check: Check, batches: Iterable[_Batch]) -> Iterator[tuple[_Batch, list[Verdict]]]:
        for batch in batches:
            if batch.earlier is not None:
                yield batch, check.check_batch_after(batch.items, batch.earlier)
            else:
                yield batch, check.check_batch(batch.items)

    def close(self) -> None:
        pass


def check_runner(recipe: LoadedRecipe, check: Check) -> LocalChecks:
    """Where ``check`` runs: here, or on Ray actors with ``executor: {kind: ray}`` (a check that reads earlier
    verdicts, such as the judge, runs here: it asks a model over HTTP and has little to compute)."""
    if recipe.config.executor.kind != "ray" or check.after:
        return LocalChecks()
    from distill.runtime.ray_checks import RayChecks

    params = next((entry.params for entry in recipe.config.checks if entry.name == check.name), {})
    return RayChecks(recipe.config.executor, type(check), params)


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """Per check (at its version for the recipe's parameters): the successful generations of the recipe's sources
    in its domains without a verdict from it (``work``: their ids by check name, in store order). Checks missing
    the same generations (every check, on a first run) share one list, so the plan holds about what one check's
    ids take, as when each check read its own before it ran (~100 MB a million generations)."""
    sources = [s.display_name for s in recipe.config.sources]
    specs = check_classes(recipe)
    pending: dict[str, list[str]] = {}
    for spec in specs:
        ids = store.generations_missing_verdict(spec.name, spec.version, sources, spec.domains)
        pending[spec.name] = next((held for held in pending.values() if held == ids), ids)
    todo = sum(len(ids) for ids in pending.values())
    by_domain = store.count_generations_by_domain(sources)
    covered = sum(n for spec in specs for domain, n in by_domain.items()
                  if spec.domains is None or domain in spec.domains)
    return StagePlan("verify", todo, covered - todo, "verdicts", work=pending)


def verify(recipe: LoadedRecipe, store: Store) -> VerifySummary:
    return do(recipe, store, plan(recipe, store))


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> VerifySummary:
    """Run each check on its planned generations, batch by batch, committing verdicts on the writer thread."""
    sources = [s.display_name for s in recipe.config.sources]
    if not store.count_generations(sources):
        raise NothingToDoError(f"verify: {store.path} holds no successful generations of this recipe's sources; "
                               f"run `distill generate {recipe.path}` (or import traces) first")
    checks = build_checks(recipe)
    run = store.start_run("verify", recipe.config.name, recipe.hash, str(recipe.path))
    summary = VerifySummary(run.run_id)
    started = time.monotonic()
    status = "failed"
    # Verdicts commit on a writer thread with a connection of its own, while the next batch is read and checked.
    writer_store = store.for_thread()
    writes = BackgroundWrites(MAX_QUEUED_WRITES)
    versions = {c.name: c.version for c in checks}
    try:
        from distill.stages.references import vote_references

        votes = vote_references(recipe, store, run)
        if votes is not None:
            summary.references = votes.line()
        for check in run_order(checks):
            runner = check_runner(recipe, check)
            try:
                if check.after:  # it reads the verdicts of earlier checks: let every queued one commit first
                    writes.close()
                    writes = BackgroundWrites(MAX_QUEUED_WRITES)
                pending = plan.work[check.name]
                summary.computed[check.name] = 0
                counts = summary.by_status.setdefault(check.name, {})
                with stage_progress(f"verify {check.name}", total=len(pending), unit="verdicts") as bar:
                    batches = _batches(store, check, pending, versions, votes is not None,
                                       runner.batch_size)
                    for batch, verdicts in runner.map(check, batches):
                        if batch.pseudo:
                            problem_of = {g.generation_id: p.problem_id for p, g in batch.items}
                            verdicts = [_marked(v, batch.pseudo.get(problem_of[v.generation_id])) for v in verdicts]
                        writes.submit(writer_store.add_verdicts, verdicts, run)
                        writes.wait_room()
                        for v in verdicts:
                            counts[v.status] = counts.get(v.status, 0) + 1
                        summary.computed[check.name] += len(verdicts)
                        bar.advance(len(verdicts))
            finally:
                summary.ray_actors = max(summary.ray_actors, runner.actors)
                check.close()
                summary.retried += runner.retried
                summary.unverified += runner.lost
                runner.close()
        writes.close()  # the last verdicts are committed, or their failure raised here
        status = "ok" if not summary.unverified else "failed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        writes.close(raise_failure=False)
        writer_store.close()
        summary.elapsed_s = time.monotonic() - started
        store.finish_run(run, status, {"computed": summary.computed, "by_status": summary.by_status,
                                       "ray_actors": summary.ray_actors, "retried": summary.retried,
                                       "unverified": summary.unverified})
    return summary
