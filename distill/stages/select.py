"""The select stage: verdicts -> a training set, recorded as ``datasets`` + ``dataset_rows``.

Every successful generation of the recipe's sources ends up in ``dataset_rows`` either ``kept`` (with
its split) or ``excluded`` with the first reason that applied, in this order:
1. ``unchecked:<domain>``: no recipe check covers its domain (select will not guess; a recipe keeps such
   traces only with ``select.unchecked_domains: keep``, and select's summary names the domains either way);
   ``unverified:<check>`` / ``failed:<check>:<reason>`` / ``abstained:<check>:<reason>``: it must pass every
   recipe check for its domain; an abstain drops it unless ``select.abstain`` keeps that check's abstains;
   ``rewritten`` / ``not_rewritten``: with a ``rewrite`` section, an original that passed is replaced by its
   rewrite (verified on its own), or has none yet; a rewrite must pass the layout check first
   (``failed:layout:<reason>``, see ``distill/checks/layout.py``);
2. ``contaminated:<benchmark>``: its problem shares a word n-gram with a benchmark problem;
3. ``duplicate_problem`` / ``near_duplicate_problem``: another source's or row's copy of the problem is kept;
4. ``outside_difficulty_band``: the problem's pass rate (passing / all samples) is outside
   [``min_pass_rate``, ``max_pass_rate``] (s1 and LIMO keep problems the teacher solves only sometimes);
   ``outside_difficulty_label`` / ``unlabeled_difficulty``: with ``select.difficulty``, the ``distill label``
   difficulty is outside [min, max], or the problem has no label (unless ``unlabeled: keep``);
5. ``duplicate_response`` / ``near_duplicate_response``: among the samples of one problem;
6. ``policy:<policy>``: ``first`` keeps the lowest sample index, ``shortest`` the fewest completion
   tokens, ``k_per_problem`` k samples drawn with the seed;
7. ``source_cap``: ``per_source_cap`` and mixture ``weights`` (a seeded random subset of a source).
A selection is identified by its content: running select again on unchanged inputs records nothing new.
"""

from __future__ import annotations

import hashlib
import json
import random
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from distill.checks.layout import NAME as LAYOUT
from distill.checks.layout import VERSION as LAYOUT_VERSION
from distill.checks.specs import check_classes
from distill.data.benchmark_index import BUILTIN, benchmark_texts, load_index
from distill.data.dedup import CHUNK as NEAR_CHUNK
from distill.data.dedup import Contamination, NearDuplicateIndex, exact_digest, exact_key, near_duplicates
from distill.errors import NothingToDoError, RecipeError, UsageError
from distill.recipe import LoadedRecipe
from distill.stages.shape import StagePlan
from distill.store import Store
from distill.store.current_selection import dataset_name, inputs_key, recipe_labeler, selection_settings


@dataclass
class SelectSummary:
    dataset_id: str
    name: str
    kept: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)
    contamination: dict[str, int] = field(default_factory=dict)
    new: bool = True
    unchecked_domains: dict[str, str] = field(default_factory=dict)  # domain -> "drop" | "keep"
    judge_accepted: int = 0  # candidates the rules could not decide and the LLM judge passed (select.judge: accept)

    def line(self) -> str:
        reasons = ", ".join(f"{r} {n}" for r, n in self.excluded.most_common())
        state = "" if self.new else " (unchanged: already recorded)"
        warning = ""
        for domain, action in sorted(self.unchecked_domains.items()):
            warning += (f"select: no check in the recipe covers domain '{domain}': "
                        + ("its traces are kept unverified (select.unchecked_domains: keep)\n" if action == "keep" else
                           "none of its traces is kept; add a check for it, or set select.unchecked_domains: keep\n"))
        hits = ", ".join(f"{name} {n}" for name, n in sorted(self.contamination.items()) if n)
        contaminated = f"; problems overlapping a benchmark: {hits}" if hits else ""
        judged = f"; {self.judge_accepted} passed by the LLM judge where rules could not decide" \
            if self.judge_accepted else ""
        return warning + (f"select: {self.kept} rows kept in dataset '{self.name}' [{self.dataset_id}]{state}; "
                          f"excluded {sum(self.excluded.values())}" + (f" ({reasons})" if reasons else "")
                          + contaminated + judged + self._why_nothing())

    def _why_nothing(self) -> str:
        """With nothing kept: the last reason that removed rows (what removed the survivors of every earlier step)
        and the setting behind it."""
        if self.kept or not self.excluded:
            return ""
        last = max(self.excluded, key=lambda r: (_setting_of(r)[0], self.excluded[r]))
        return (f"; nothing kept: the last {self.excluded[last]} were removed as {last}, which "
                f"{_setting_of(last)[1]}")


# Exclusion reasons: the select step (see the module docstring) and the setting that decides them, for the message
# when nothing is kept.
_SETTINGS = (
    ("unchecked:", 1, "select.unchecked_domains decides (or add a check for that domain)"),
    ("unverified:", 1, "means a check has not judged them: run `distill verify`"),
    ("failed:layout:", 1, "is rewrite.layout's check (the rewriter ignored the layout or dropped the thinking)"),
    ("failed:", 1, "is a check in `checks` (see `distill show --status fail`)"),
    ("abstained:", 1, "select.abstain decides (keep a check's abstains)"),
    ("rewritten", 1, "rewrite decides (originals give way to their rewrites)"),
    ("not_rewritten", 1, "rewrite decides: run `distill rewrite`"),
    ("contaminated:", 2, "select.decontaminate decides"),
    ("duplicate_problem", 3, "select.dedup.problems decides"),
    ("near_duplicate_problem", 3, "select.dedup.near_duplicate_threshold decides"),
    ("outside_difficulty_band", 4, "select.min_pass_rate / select.max_pass_rate decide"),
    ("outside_difficulty_label", 4, "select.difficulty (min, max) decides"),
    ("unlabeled_difficulty", 4, "select.difficulty.unlabeled decides (or run `distill label`)"),
    ("duplicate_response", 5, "select.dedup.responses decides"),
    ("near_duplicate_response", 5, "select.dedup.near_duplicate_threshold decides"),
    ("policy:", 6, "select.policy decides"),
    ("source_cap", 7, "select.per_source_cap / select.weights decide"),
)


def _setting_of(reason: str) -> tuple[int, str]:
    """(select step, the setting behind it) of an exclusion reason."""
    return next(((step, why) for prefix, step, why in _SETTINGS if reason.startswith(prefix)), (0, "select decides"))


def contamination_index(recipe: LoadedRecipe) -> Contamination:
    """The recipe's benchmarks: ``index`` ones from the decontamination index (shipped, or
    ``select.decontaminate.index``), files and hub ids read and hashed now."""
    cfg = recipe.config.select.decontaminate
    index_path = BUILTIN if cfg.index == "builtin" else recipe.resolve(cfg.index)
    header, indexed = ({"n": cfg.ngram}, {}) if "index" not in cfg.benchmarks.values() else load_index(index_path)
    if header["n"] != cfg.ngram:
        raise RecipeError(f"{recipe.path}: select.decontaminate.ngram: the index {index_path.name} holds "
                          f"{header['n']}-grams; set ngram: {header['n']}, or give the benchmarks as files")
    benchmarks: dict[str, Any] = {}
    for name, ref in cfg.benchmarks.items():
        if ref == "index":
            if name not in indexed:
                raise RecipeError(f"{recipe.path}: select.decontaminate.benchmarks.{name}: not in the index "
                                  f"{index_path.name} (it holds {', '.join(sorted(indexed))}); give a file or a "
                                  f"hub id, or extend the index with scripts/build_benchmark_index.py")
            benchmarks[name] = indexed[name]
        else:
            benchmarks[name] = benchmark_texts(name, ref, recipe.resolve,
                                               f"select.decontaminate.benchmarks.{name}")
    return Contamination(benchmarks, cfg.ngram)


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """Whether a select run has recorded the selection of the recipe's current settings and the store's current
    rows (``work``: the key it is looked up by). Recorded or not, ``do`` decides every candidate again: the same
    inputs give the same dataset id and record nothing new."""
    key = inputs_key(recipe, store, check_classes(recipe))
    recorded = store.select_run_dataset(key)
    return StagePlan("select", 0 if recorded else 1, 1 if recorded else 0, "selections",
                     detail=f"recorded as {recorded}" if recorded else "", work=key)


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> SelectSummary:
    return select(recipe, store, lookup_key=plan.work)


def select(recipe: LoadedRecipe, store: Store, lookup_key: str | None = None) -> SelectSummary:
    """Decide every candidate; the store holds the candidates (a temporary table), Python holds a few bytes
    per candidate (positions, codes, reasons) and streams the texts: problems once, responses once."""
    cfg = recipe.config.select
    rng = random.Random(cfg.seed)
    # The check classes say name, version and domains; no need to construct them (and start pools or probe
    # sandboxes) just to read their verdicts.
    checks = check_classes(recipe)
    summary = SelectSummary("", dataset_name(recipe))
    if lookup_key is None:  # what export, train and eval look the selection up by
        lookup_key = inputs_key(recipe, store, checks)
    count = store.open_selection([s.display_name for s in recipe.config.sources], cfg.memory_limit_mb // 2)
    if count == 0:
        store.close_selection()
        raise NothingToDoError(f"select: {store.path} holds no successful generations of this recipe's sources; run "
                               f"`distill generate {recipe.path}` (or import traces) first")
    run = None
    try:
        cols = store.selection_columns()
        names: dict[str, list[str]] = cols.pop("_names")  # type: ignore[assignment]
        reason = Reasons(count)  # per position, the first reason that excluded it

        # 1. checks, in recipe order: the first one a candidate fails (or lacks) is its reason
        covered: set[str] = set()
        covers_all = any(c.domains is None for c in checks)
        # A fallback check (the LLM judge) excludes nothing itself: with `select.judge: accept` its passes stand in
        # for the abstains and errors of the rule-based checks it backs up.
        rescued: dict[str, set[int]] = {}
        for fallback in (c for c in checks if c.after and cfg.judge == "accept"):
            passes = set(store.selection_passes(fallback.name, fallback.version).tolist())
            for name in fallback.after:
                rescued.setdefault(name, set()).update(passes)
        if recipe.config.rewrite is not None:  # a rewrite out of its layout is never kept (distill/checks/layout.py)
            for pos, status, why in store.selection_outcomes(LAYOUT, LAYOUT_VERSION, None, rewrites_only=True):
                reason.set(pos, f"unverified:{LAYOUT}" if status is None else f"failed:{LAYOUT}:{why}")
        for check in checks:
            if check.after:
                continue
            covered.update(check.domains or ())
            for pos, status, why in store.selection_outcomes(check.name, check.version, check.domains):
                if reason.excluded(pos):
                    continue
                if status is None:
                    reason.set(pos, f"unverified:{check.name}")
                elif pos in rescued.get(check.name, ()):  # the judge is only asked (and passes) where rules are unsure
                    summary.judge_accepted += 1
                elif status == "abstain":
                    if _abstain_action(cfg.abstain, check.name) != "keep":
                        reason.set(pos, f"abstained:{check.name}:{why}")
                else:
                    reason.set(pos, f"failed:{check.name}:{why}")
        if recipe.config.rewrite is not None:  # rewrites stand in for their originals (stages/rewrite.py)
            is_rewrite, has_rewrite = store.selection_rewrites()
            as_they_are = np.zeros(len(is_rewrite), dtype=bool)  # sources with `rewrite: false` keep their traces
            for code, name in enumerate(names["source"]):
                if not next((s.rewrite for s in recipe.config.sources if s.display_name == name), True):
                    as_they_are |= cols["source"] == code
            reason.set_default(np.flatnonzero(~is_rewrite & has_rewrite), "rewritten")
            reason.set_default(np.flatnonzero(~is_rewrite & ~has_rewrite & ~as_they_are), "not_rewritten")
        if not covers_all:
            for code, domain in enumerate(names["domain"]):
                if domain in covered:
                    continue
                at = np.flatnonzero(cols["domain"] == code)
                if len(at):
                    summary.unchecked_domains[domain] = cfg.unchecked_domains
                    if cfg.unchecked_domains == "drop":
                        reason.set_default(at, f"unchecked:{domain}")
        problem_of = cols["problem_pos"]
        n_problems = int(problem_of.max()) + 1 if count else 0
        failed = ~reason.alive_mask()
        samples = np.bincount(problem_of, minlength=n_problems)
        passing = np.bincount(problem_of[~failed], minlength=n_problems)

        # 2-3. decontamination and problem dedup, streaming the problems once (first copy in source order kept)
        bad_problem = Reasons(n_problems)
        index = None
        if cfg.decontaminate.enabled and cfg.decontaminate.benchmarks:
            index = contamination_index(recipe)
        hits: Counter[str] = Counter()
        seen: set[bytes] = set()
        # The index of kept problems keeps ~200 bytes each in memory; their sketches and shingles go to a temporary
        # file beside the store.
        near = NearDuplicateIndex(cfg.dedup.near_duplicate_threshold, cfg.dedup.num_perm, spill_dir=store.path.parent)
        pending: list[tuple[int, str]] = []

        def look_up_near_copies(near: NearDuplicateIndex) -> None:
            for (ppos, _), earlier in zip(pending, near.add_many(pending), strict=True):
                if earlier is not None:
                    bad_problem.set(ppos, "near_duplicate_problem")
            pending.clear()

        try:
            for ppos, prompt in store.selection_problems():
                bench = index.match(prompt) if index is not None else None
                if bench is not None:
                    bad_problem.set(ppos, f"contaminated:{bench}")
                    hits[bench] += 1
                elif cfg.dedup.problems:
                    key = exact_digest(prompt)
                    if key in seen:
                        bad_problem.set(ppos, "duplicate_problem")
                    else:
                        seen.add(key)
                        pending.append((ppos, prompt))
                        if len(pending) == NEAR_CHUNK:
                            look_up_near_copies(near)
            look_up_near_copies(near)
        finally:
            near.close()
        del seen, near  # its band table: ~180 bytes a kept problem, not needed past this pass
        if index is not None:
            summary.contamination = {name: hits.get(name, 0) for name in cfg.decontaminate.benchmarks}

        # 4. difficulty band
        rate = passing / np.maximum(samples, 1)
        bad_problem.set_default(np.flatnonzero((rate < cfg.min_pass_rate) | (rate > cfg.max_pass_rate)),
                                "outside_difficulty_band")
        if cfg.difficulty is not None and recipe.config.label is not None:  # the label stage's difficulty bands
            from distill.llm.prompts import labeler_hash

            level = store.selection_difficulties(labeler_hash(recipe.config.label), n_problems)
            band = cfg.difficulty
            low, high = np.full(n_problems, band.min), np.full(n_problems, band.max)
            if band.per_source:  # a source's own band (select.difficulty.per_source)
                source_of = np.zeros(n_problems, dtype=np.int64)
                source_of[problem_of] = cols["source"]
                for code, name in enumerate(names["source"]):
                    low[source_of == code], high[source_of == code] = band.bounds(name)
            bad_problem.set_default(np.flatnonzero((level > 0) & ((level < low) | (level > high))),
                                    "outside_difficulty_label")
            if band.unlabeled == "drop":
                bad_problem.set_default(np.flatnonzero(level == 0), "unlabeled_difficulty")
        reason.inherit(bad_problem, problem_of)

        # 5. response dedup among the samples of each problem (the same text twice teaches nothing new), and
        # response lengths for the `shortest` policy where token counts are unknown
        tokens = cols["completion_tokens"]
        alive = reason.alive()
        need_length = cfg.policy == "shortest" and bool(np.any(tokens[alive] <= 0))
        length: dict[int, int] = {}
        if cfg.dedup.responses or need_length:
            group: list[tuple[int, str]] = []
            for pos, ppos, text in store.selection_responses(alive):
                if group and problem_of[group[0][0]] != ppos:
                    _dedup_responses(group, cfg, reason)
                    group = []
                if need_length and tokens[pos] <= 0:
                    length[pos] = len(text)
                if cfg.dedup.responses:
                    group.append((pos, text))
            _dedup_responses(group, cfg, reason)
            alive = reason.alive()

        # 6. policy per problem
        sample_index = cols["sample_index"]
        # Candidates are in problem order, so the alive ones of a problem are one run of ``alive``.
        group_of = problem_of[alive]
        starts = np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]]) if len(alive) else alive
        keep_mask = np.ones(len(alive), dtype=bool)
        if cfg.policy in ("first", "shortest"):
            if cfg.policy == "first":  # the lowest sample index, ties (several teachers) by teacher hash
                order = np.lexsort((store.selection_teacher_codes()[alive], sample_index[alive], group_of))
            else:  # the fewest completion tokens (characters where unknown), ties by sample index, then position
                size = tokens[alive].astype(np.int64)
                unknown = np.flatnonzero(size <= 0)
                size[unknown] = [length[int(alive[i])] for i in unknown.tolist()]
                order = np.lexsort((sample_index[alive], size, group_of))
            keep_mask[:] = False
            keep_mask[order[starts]] = True  # sorted by problem first: each run's first row is its choice
        elif cfg.policy == "k_per_problem":
            ends = np.r_[starts[1:], len(alive)]
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                rows = alive[start:end].tolist()
                if len(rows) > cfg.k:
                    kept_here = set(rng.sample(rows, cfg.k))
                    keep_mask[start:end] = [r in kept_here for r in rows]
        reason.set_default(alive[~keep_mask], f"policy:{cfg.policy}")
        alive = reason.alive()

        # 7. per-source caps and mixture weights
        alive_source = cols["source"][alive]
        by_source = {name: alive[alive_source == code] for code, name in enumerate(names["source"])
                     if np.any(alive_source == code)}
        caps = dict(cfg.per_source_cap)
        if cfg.weights:
            present = {s: w for s, w in cfg.weights.items() if s in by_source}
            if present:
                # The source that runs out first (relative to its weight) sets the scale for all.
                scale = min(len(by_source[s]) / w for s, w in present.items() if w > 0)
                for s, w in present.items():
                    caps[s] = min(caps.get(s, len(by_source[s])), int(scale * w))
        for source, rows in by_source.items():
            cap = caps.get(source)
            if cap is not None and len(rows) > cap:
                keep_ids = set(rng.sample(rows.tolist(), cap))
                reason.set_default(np.array([p for p in rows.tolist() if p not in keep_ids], dtype=np.int64),
                                   "source_cap")
        del by_source
        kept = reason.alive()

        # Splits, then the record.
        is_test = _test_rows(len(kept), recipe.config.export.test_size, rng)
        decisions = _decisions(reason, kept, is_test)
        summary.kept = len(kept)
        n_test = int(is_test.sum())
        summary.splits = {name: n for name, n in (("test", n_test), ("train", len(kept) - n_test)) if n}
        if len(kept) and not is_test[0]:  # in the order the rows first show them, as before
            summary.splits = dict(reversed(list(summary.splits.items())))
        summary.excluded = reason.counts()
        selection = selection_settings(recipe, checks)
        summary.dataset_id = _selection_id(summary.name, selection, store.selection_generation_ids(kept), is_test)
        run = store.start_run("select", recipe.config.name, recipe.hash, str(recipe.path))
        stats = {"kept": summary.kept, "splits": summary.splits, "excluded": dict(summary.excluded),
                 "unchecked_domains": summary.unchecked_domains,
                 "contamination": summary.contamination, "candidates": count,
                 "source_problems": store.count("problems", "source IN (SELECT unnest(?))",
                                                [[s.display_name for s in recipe.config.sources]]),
                 "judge_accepted": summary.judge_accepted}
        if recipe.config.label is not None:  # the card shows the kept problems' labels as they were at select time
            stats["labels"] = store.label_histograms(recipe_labeler(recipe), store.selection_problem_ids(kept))
        summary.new = store.add_selection({"dataset_id": summary.dataset_id, "name": summary.name,
                                           "selection": selection, "row_count": summary.kept, "stats": stats},
                                          decisions, run)
        store.finish_run(run, "ok", stats | {"dataset_id": summary.dataset_id, "new": summary.new,
                                             "inputs_key": lookup_key,
                                             "duckdb_memory_limit": store.selection_memory_limit})
    except duckdb.OutOfMemoryException:
        if run is not None:
            store.finish_run(run, "failed", {"error": "duckdb out of memory", "candidates": count})
        raise UsageError(f"{recipe.path}: select.memory_limit_mb: DuckDB needed more than its share "
                         f"({store.selection_memory_limit}, half of {cfg.memory_limit_mb} MB) for {count:,} "
                         f"candidates; raise select.memory_limit_mb (measured on synthetic stores: 128 was enough "
                         f"for 1M candidates, the default 1536 for 10M)") from None
    finally:
        store.close_selection()
    return summary


def _test_rows(count: int, test_size: float, rng: random.Random) -> np.ndarray:
    """Which of the ``count`` kept rows (in position order) go to the test split: the first round(count x
    test_size) of the rows shuffled by ``rng``. The shuffle is ``random.shuffle`` on an array of 8-byte ints (a
    list of 7M Python ints held ~250 MB); with no test split it is skipped, as nothing reads ``rng`` after it."""
    is_test = np.zeros(count, dtype=bool)
    n_test = round(count * test_size)
    if n_test:
        order = array("q", range(count))
        rng.shuffle(order)
        is_test[np.frombuffer(order, dtype=np.int64)[:n_test]] = True
    return is_test


SPLITS = ["train", "test", "excluded"]
STATUSES = ["kept", "excluded"]


def _decisions(reason: Reasons, kept: np.ndarray, is_test: np.ndarray) -> pa.Table:
    """(pos, split, row_index, status, reason) for every candidate, in position order, the text columns as
    dictionaries (a byte or four a row: 10M candidates as Python strings held gigabytes). Kept rows are numbered in
    position order, and so are the excluded."""
    alive = reason.alive_mask()
    count = len(alive)
    split = np.full(count, 2, dtype=np.int8)
    split[kept] = is_test.astype(np.int8)
    row_index = np.empty(count, dtype=np.int32)
    row_index[alive] = np.arange(len(kept), dtype=np.int32)
    row_index[~alive] = np.arange(count - len(kept), dtype=np.int32)
    return pa.table({
        "pos": pa.array(np.arange(count, dtype=np.int64)),
        "split": pa.DictionaryArray.from_arrays(pa.array(split), pa.array(SPLITS)),
        "row_index": pa.array(row_index),
        "status": pa.DictionaryArray.from_arrays(pa.array((~alive).astype(np.int8)), pa.array(STATUSES)),
        "reason": reason.dictionary(),
    })


def _selection_id(name: str, selection: dict[str, Any], kept_ids: Iterable[str], is_test: np.ndarray) -> str:
    """``stable_hash(name, selection, [[generation_id, split], ...])`` of the kept rows, hashed as the ids
    stream by, so a million kept rows never sit in one JSON string."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        digest.update(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                 default=str).encode("utf-8"))

    digest.update(b"[")
    feed(name)
    digest.update(b",")
    feed(selection)
    digest.update(b",[")
    test = is_test.tobytes()  # a byte a row: indexing bytes is cheaper than a numpy array per row
    for i, gid in enumerate(kept_ids):
        if i:
            digest.update(b",")
        feed([gid, "test" if test[i] else "train"])
    digest.update(b"]]")
    return digest.hexdigest()[:16]


class Reasons:
    """Per position, the first reason that excluded it, as a code into a short list of names (4 bytes a
    candidate; a dict of strings cost ~150)."""

    def __init__(self, count: int):
        self.codes = np.zeros(count, dtype=np.int32)  # 0: not excluded
        self.names: list[str] = []
        self._code: dict[str, int] = {}

    def code(self, name: str) -> int:
        if name not in self._code:
            self.names.append(name)
            self._code[name] = len(self.names)
        return self._code[name]

    def excluded(self, pos: int) -> bool:
        return bool(self.codes[pos])

    def set(self, pos: int, name: str) -> None:
        self.codes[pos] = self.code(name)

    def set_default(self, positions: np.ndarray, name: str) -> None:
        """Exclude these positions for ``name`` unless an earlier reason did."""
        if len(positions):
            at = positions[self.codes[positions] == 0]
            self.codes[at] = self.code(name)

    def inherit(self, parents: Reasons, parent_of: np.ndarray) -> None:
        """Each position not yet excluded takes its parent's reason (a candidate its problem's)."""
        theirs = parents.codes[parent_of]
        at = np.flatnonzero((self.codes == 0) & (theirs != 0))
        mapping = np.array([0] + [self.code(n) for n in parents.names], dtype=np.int32)
        self.codes[at] = mapping[theirs[at]]

    def alive_mask(self) -> np.ndarray:
        return self.codes == 0

    def alive(self) -> np.ndarray:
        """Positions not yet excluded, in order."""
        return np.flatnonzero(self.codes == 0)

    def dictionary(self) -> pa.DictionaryArray:
        """Per position, its reason's name (null when not excluded), dictionary-encoded."""
        indices = pa.array(self.codes - 1, pa.int32(), mask=self.codes == 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(self.names, pa.string()))

    def counts(self) -> Counter[str]:
        counts = np.bincount(self.codes, minlength=len(self.names) + 1)
        return Counter({name: int(counts[i + 1]) for i, name in enumerate(self.names) if counts[i + 1]})


def _dedup_responses(group: list[tuple[int, str]], cfg: Any, reason: Reasons) -> None:
    """Exact then near duplicates among one problem's alive samples (in order; the first copy is kept)."""
    seen: set[str] = set()
    unique: list[tuple[int, str]] = []
    for pos, text in group:
        key = exact_key(text)
        if key in seen:
            reason.set(pos, "duplicate_response")
        else:
            seen.add(key)
            unique.append((pos, text))
    if len(unique) > 1:
        for i in near_duplicates([t for _, t in unique], cfg.dedup.near_duplicate_threshold, cfg.dedup.num_perm):
            reason.set(unique[i][0], "near_duplicate_response")


def _abstain_action(setting: str | dict[str, str], check: str) -> str:
    """``keep`` or ``drop`` for an abstain of ``check`` under ``select.abstain``."""
    return setting if isinstance(setting, str) else setting.get(check, "drop")



