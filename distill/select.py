"""The select stage: verdicts -> a training set, recorded as ``datasets`` + ``dataset_rows``.

Every successful generation of the recipe's sources ends up in ``dataset_rows`` either ``kept`` (with
its split) or ``excluded`` with the first reason that applied, in this order:
1. ``unchecked:<domain>``: no recipe check covers its domain (select will not guess; a recipe keeps such
   traces only with ``select.unchecked_domains: keep``, and select's summary names the domains either way);
   ``unverified:<check>`` / ``failed:<check>:<reason>`` / ``abstained:<check>:<reason>``: it must pass every
   recipe check for its domain; an abstain drops it unless ``select.abstain`` keeps that check's abstains;
2. ``contaminated:<benchmark>``: its problem shares a word n-gram with a benchmark problem;
3. ``duplicate_problem`` / ``near_duplicate_problem``: another source's or row's copy of the problem is kept;
4. ``outside_difficulty_band``: the problem's pass rate (passing / all samples) is outside
   [``min_pass_rate``, ``max_pass_rate``] (s1 and LIMO keep problems the teacher solves only sometimes);
5. ``duplicate_response`` / ``near_duplicate_response``: among the samples of one problem;
6. ``policy:<policy>``: ``first`` keeps the lowest sample index, ``shortest`` the fewest completion
   tokens, ``k_per_problem`` k samples drawn with the seed;
7. ``source_cap``: ``per_source_cap`` and mixture ``weights`` (a seeded random subset of a source).
A selection is identified by its content: running select again on unchanged inputs records nothing new.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distill.dedup import Contamination, exact_key, near_duplicates
from distill.errors import SourceError
from distill.recipe import LoadedRecipe, SourceConfig
from distill.sources.readers import read_rows
from distill.store import Store
from distill.types import IngestError, stable_hash
from distill.verify import check_classes

TEXT_FIELDS = ("problem", "question", "prompt")


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

    def line(self) -> str:
        reasons = ", ".join(f"{r} {n}" for r, n in self.excluded.most_common())
        state = "" if self.new else " (unchanged: already recorded)"
        warning = ""
        for domain, action in sorted(self.unchecked_domains.items()):
            warning += (f"select: no check in the recipe covers domain '{domain}': "
                        + ("its traces are kept unverified (select.unchecked_domains: keep)\n" if action == "keep" else
                           "none of its traces is kept; add a check for it, or set select.unchecked_domains: keep\n"))
        return warning + (f"select: {self.kept} rows kept in dataset '{self.name}' [{self.dataset_id}]{state}; "
                          f"excluded {sum(self.excluded.values())}" + (f" ({reasons})" if reasons else ""))


def dataset_name(recipe: LoadedRecipe) -> str:
    return recipe.config.export.name or recipe.config.name


def benchmark_texts(name: str, reference: str, recipe: LoadedRecipe) -> Iterable[str]:
    """Problem texts of a benchmark given as a file (relative to the recipe) or a hub dataset id."""
    local = recipe.resolve(reference)
    cfg = SourceConfig(adapter="fields", name=name, path=str(local)) if local.exists() else \
        SourceConfig(adapter="fields", name=name, hub=reference, split="test")
    try:
        for item in read_rows(cfg, recipe.resolve):
            if isinstance(item, IngestError):
                continue
            _, row = item
            text = next((row[f] for f in TEXT_FIELDS if isinstance(row.get(f), str)), None)
            if text:
                yield text
    except SourceError as exc:
        raise SourceError(f"select.decontaminate.benchmarks.{name}: {exc}; give a local file path, or set "
                          f"select.decontaminate.enabled: false") from None


def select(recipe: LoadedRecipe, store: Store) -> SelectSummary:
    cfg = recipe.config.select
    rng = random.Random(cfg.seed)
    # The check classes say name, version and domains; no need to construct them (and start pools or probe
    # sandboxes) just to read their verdicts.
    checks = check_classes(recipe)
    sources = [s.display_name for s in recipe.config.sources]
    candidates = store.selection_candidates(sources)
    verdicts = store.verdict_map([(c.name, c.version) for c in checks])
    reason: dict[str, str] = {}
    summary = SelectSummary("", dataset_name(recipe))

    # 1. checks
    for row in candidates:
        covering = [c for c in checks if c.domains is None or row["domain"] in c.domains]
        if not covering:
            summary.unchecked_domains[row["domain"]] = cfg.unchecked_domains
            if cfg.unchecked_domains == "drop":
                reason[row["generation_id"]] = f"unchecked:{row['domain']}"
            continue
        for check in covering:
            verdict = verdicts.get(row["generation_id"], {}).get(check.name)
            if verdict is None:
                reason[row["generation_id"]] = f"unverified:{check.name}"
                break
            if verdict[0] == "abstain":
                if _abstain_action(cfg.abstain, check.name) == "keep":
                    continue
                reason[row["generation_id"]] = f"abstained:{check.name}:{verdict[1]}"
                break
            if verdict[0] != "pass":
                reason[row["generation_id"]] = f"failed:{check.name}:{verdict[1]}"
                break
    samples: Counter[str] = Counter(r["problem_id"] for r in candidates)
    passing: Counter[str] = Counter(r["problem_id"] for r in candidates if r["generation_id"] not in reason)

    problems: dict[str, dict[str, Any]] = {}
    for row in candidates:
        problems.setdefault(row["problem_id"], row)
    bad_problem: dict[str, str] = {}

    # 2. decontamination
    if cfg.decontaminate.enabled and cfg.decontaminate.benchmarks:
        index = Contamination({name: benchmark_texts(name, ref, recipe)
                               for name, ref in cfg.decontaminate.benchmarks.items()}, cfg.decontaminate.ngram)
        hits: Counter[str] = Counter()
        for pid, row in problems.items():
            bench = index.match(row["prompt"])
            if bench is not None:
                bad_problem[pid] = f"contaminated:{bench}"
                hits[bench] += 1
        summary.contamination = {name: hits.get(name, 0) for name in cfg.decontaminate.benchmarks}

    # 3. problem dedup: the first copy (recipe source order) is kept
    if cfg.dedup.problems:
        order = [pid for pid in problems if pid not in bad_problem]
        seen: dict[str, str] = {}
        for pid in order:
            key = exact_key(problems[pid]["prompt"])
            if key in seen:
                bad_problem[pid] = "duplicate_problem"
            else:
                seen[key] = pid
        rest = [pid for pid in order if pid not in bad_problem]
        for i in near_duplicates([problems[p]["prompt"] for p in rest], cfg.dedup.near_duplicate_threshold,
                                 cfg.dedup.num_perm):
            bad_problem[rest[i]] = "near_duplicate_problem"

    # 4. difficulty band
    for pid in problems:
        rate = passing[pid] / samples[pid]
        if pid not in bad_problem and not cfg.min_pass_rate <= rate <= cfg.max_pass_rate:
            bad_problem[pid] = "outside_difficulty_band"
    for row in candidates:
        if row["generation_id"] not in reason and row["problem_id"] in bad_problem:
            reason[row["generation_id"]] = bad_problem[row["problem_id"]]

    # 5. response dedup, among the samples of each problem (the same text twice teaches nothing new)
    alive = [r for r in candidates if r["generation_id"] not in reason]
    if cfg.dedup.responses:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in alive:
            grouped[row["problem_id"]].append(row)
        for rows in grouped.values():
            seen_responses: set[str] = set()
            unique = []
            for row in rows:
                key = exact_key(_response_text(row))
                if key in seen_responses:
                    reason[row["generation_id"]] = "duplicate_response"
                else:
                    seen_responses.add(key)
                    unique.append(row)
            if len(unique) > 1:
                for i in near_duplicates([_response_text(r) for r in unique], cfg.dedup.near_duplicate_threshold,
                                         cfg.dedup.num_perm):
                    reason[unique[i]["generation_id"]] = "near_duplicate_response"
        alive = [r for r in alive if r["generation_id"] not in reason]

    # 6. policy per problem
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in alive:
        by_problem[row["problem_id"]].append(row)
    for rows in by_problem.values():
        if cfg.policy == "first":
            keep = [min(rows, key=lambda r: (r["sample_index"], r["teacher_hash"]))]
        elif cfg.policy == "shortest":
            keep = [min(rows, key=lambda r: (r["completion_tokens"] or len(_response_text(r)), r["sample_index"]))]
        elif cfg.policy == "k_per_problem":
            keep = rng.sample(rows, min(cfg.k, len(rows)))
        else:
            keep = rows
        kept_ids = {r["generation_id"] for r in keep}
        for row in rows:
            if row["generation_id"] not in kept_ids:
                reason[row["generation_id"]] = f"policy:{cfg.policy}"
    alive = [r for r in alive if r["generation_id"] not in reason]

    # 7. per-source caps and mixture weights
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in alive:
        by_source[row["source"]].append(row)
    caps = dict(cfg.per_source_cap)
    if cfg.weights:
        present = {s: w for s, w in cfg.weights.items() if by_source.get(s)}
        if present:
            # The source that runs out first (relative to its weight) sets the scale for all.
            scale = min(len(by_source[s]) / w for s, w in present.items() if w > 0)
            for s, w in present.items():
                caps[s] = min(caps.get(s, len(by_source[s])), int(scale * w))
    for source, rows in by_source.items():
        cap = caps.get(source)
        if cap is not None and len(rows) > cap:
            keep_ids = {r["generation_id"] for r in rng.sample(rows, cap)}
            for row in rows:
                if row["generation_id"] not in keep_ids:
                    reason[row["generation_id"]] = "source_cap"
    kept = [r for r in alive if r["generation_id"] not in reason]

    # Splits, then the record.
    test_size = recipe.config.export.test_size
    order = list(range(len(kept)))
    rng.shuffle(order)
    n_test = round(len(kept) * test_size)
    split_of = {kept[i]["generation_id"]: ("test" if rank < n_test else "train") for rank, i in enumerate(order)}
    dataset_rows = [{"generation_id": r["generation_id"], "problem_id": r["problem_id"],
                     "split": split_of[r["generation_id"]], "row_index": i, "status": "kept", "reason": None}
                    for i, r in enumerate(kept)]
    dataset_rows += [{"generation_id": r["generation_id"], "problem_id": r["problem_id"], "split": "excluded",
                      "row_index": i, "status": "excluded", "reason": reason[r["generation_id"]]}
                     for i, r in enumerate(r for r in candidates if r["generation_id"] in reason)]
    summary.kept = len(kept)
    summary.splits = dict(Counter(split_of.values()))
    summary.excluded = Counter(reason.values())
    selection = {"select": cfg.model_dump(mode="json"), "checks": [[c.name, c.version] for c in checks],
                 "test_size": test_size}
    summary.dataset_id = stable_hash(summary.name, selection, [(r["generation_id"], r["split"]) for r in dataset_rows
                                                               if r["status"] == "kept"])
    for row in dataset_rows:
        row["dataset_id"] = summary.dataset_id
    run = store.start_run("select", recipe.config.name, recipe.hash, str(recipe.path))
    stats = {"kept": summary.kept, "splits": summary.splits, "excluded": dict(summary.excluded),
             "unchecked_domains": summary.unchecked_domains,
             "contamination": summary.contamination, "candidates": len(candidates)}
    summary.new = store.add_dataset({"dataset_id": summary.dataset_id, "name": summary.name, "selection": selection,
                                     "row_count": summary.kept, "stats": stats}, dataset_rows, run)
    store.finish_run(run, "ok", stats | {"dataset_id": summary.dataset_id, "new": summary.new})
    return summary


def _abstain_action(setting: str | dict[str, str], check: str) -> str:
    """``keep`` or ``drop`` for an abstain of ``check`` under ``select.abstain``."""
    return setting if isinstance(setting, str) else setting.get(check, "drop")


def _response_text(row: dict[str, Any]) -> str:
    return f"{row['reasoning'] or ''}\n{row['answer_text'] or row['content'] or ''}"
