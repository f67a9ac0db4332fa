"""Before a model is scored on a benchmark: how much of the benchmark its training data already holds.

Each benchmark is checked against the training selection (the kept problems of the recipe's current selection,
or, when the recipe has none, every problem of its training sources) three ways:
- ``same_source``: the benchmark is read from the same file, or the same hub dataset, config and split, as a
  training source;
- ``identical``: its problems whose normalised text is a training problem's (problem ids include the source
  name, so the ids are compared by content);
- ``ngram``: training problems sharing a word n-gram (select's decontamination n, 8 by default) with the
  benchmark, the same index select decontaminates with (``distill.data.dedup.Contamination``).
A benchmark that is a training source (the same source, or more than half its problems identical) makes eval
fail unless ``eval.allow_overlap: true``; any overlap is printed.

Not caught: paraphrases that share no n-gram, and translations.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.data.dedup import Contamination, exact_digest
from distill.errors import RecipeError
from distill.recipe import LoadedRecipe, SourceConfig
from distill.store import Store


@dataclass(frozen=True)
class Overlap:
    benchmark: str
    problems: int  # benchmark problems in the store
    identical: int  # of them, the same text as a training problem
    ngram: int  # training problems sharing an n-gram with the benchmark
    same_source: str | None  # the training source the benchmark is read from, if any

    @property
    def is_training_source(self) -> bool:
        return self.same_source is not None or (self.problems > 0 and 2 * self.identical > self.problems)

    def describe(self) -> str:
        source = f", read from training source '{self.same_source}'" if self.same_source else ""
        return (f"{self.benchmark} {self.identical}/{self.problems} identical, {self.ngram} training problems share "
                f"an n-gram with it{source}")


def _location(recipe: LoadedRecipe, source: SourceConfig) -> tuple[str, ...]:
    if source.path is not None:
        return ("path", str(recipe.resolve(source.path)))
    return ("hub", (source.hub or "").lower(), source.config or "", source.split)


def training_problems(recipe: LoadedRecipe, store: Store) -> tuple[str, list[str]]:
    """(what was compared against, the training problems' texts)."""
    from distill.store.current_selection import current_dataset_id

    dataset_id = current_dataset_id(recipe, store) if recipe.config.sources else None
    if dataset_id is not None:
        return f"the training selection [{dataset_id}]", store.kept_prompts(dataset_id)
    sources = [s.display_name for s in recipe.config.sources]
    return "the training sources", [p.prompt for p in store.iter_problems(sources=sources)]


def benchmark_overlap(recipe: LoadedRecipe, store: Store, benchmarks: dict[str, SourceConfig]
                      ) -> tuple[str, list[Overlap]]:
    """The overlap of each benchmark (its problems already ingested) with the training data."""
    against, prompts = training_problems(recipe, store)
    known = {exact_digest(p) for p in prompts}
    locations = {_location(recipe, s): s.display_name for s in recipe.config.sources}
    n = recipe.config.select.decontaminate.ngram
    found = []
    for name, source in benchmarks.items():
        texts = [p.prompt for p in store.iter_problems(sources=[source.display_name])]
        index = Contamination({name: texts}, n)
        found.append(Overlap(name, len(texts), sum(1 for t in texts if exact_digest(t) in known),
                             sum(1 for p in prompts if index.match(p) is not None),
                             locations.get(_location(recipe, source))))
    return against, found


def check_overlap(recipe: LoadedRecipe, store: Store, benchmarks: dict[str, SourceConfig]) -> str:
    """The overlap line eval prints; a one-line error when a benchmark is a training source and the recipe does
    not allow it."""
    against, found = benchmark_overlap(recipe, store, benchmarks)
    allowed = recipe.config.eval is not None and recipe.config.eval.allow_overlap
    leaked = [o for o in found if o.is_training_source]
    if leaked and not allowed:
        raise RecipeError(f"{recipe.path}: eval.benchmarks.{leaked[0].benchmark}: the benchmark is a training source "
                          f"({leaked[0].describe()} against {against}): scores on it say nothing about "
                          f"generalisation; evaluate on another benchmark, or set eval.allow_overlap: true")
    return f"benchmark overlap with {against}: " + "; ".join(o.describe() for o in found) + \
        (" (allowed by eval.allow_overlap)" if leaked else "")
