"""Data cards: the README.md of an exported dataset, so a stranger can trust and reuse it.

YAML front matter for the Hub (license, task_categories, language, size_categories, source_datasets,
tags, configs), then the teacher and sampling, prompts, checks with their parameters, the verification
funnel, the selection policy and what it excluded, decontamination hits, length and token statistics,
cost, the full recipe, intended uses and limitations, and lineage. Every count comes from the store.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import yaml

from distill import __version__
from distill.llm.prompts import DEFAULT_USER_TEMPLATES
from distill.recipe import LoadedRecipe
from distill.store import Store
from distill.views.card_hub import citations, dataset_info, source_datasets, source_hub_id, type_name


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def length_stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0, "median": 0, "p90": 0, "max": 0}
    ordered = sorted(values)

    def pick(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"mean": round(sum(ordered) / len(ordered), 1), "median": pick(0.5), "p90": pick(0.9), "max": ordered[-1]}


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _prompts_section(recipe: LoadedRecipe, imported_only: bool, domains: set[str]) -> str:
    """The system prompt and the user templates of the domains the rows hold (not those of unused domains)."""
    if imported_only:
        return ("The traces were imported from existing data; the prompts that produced them are whatever their "
                "authors used. The `messages` column holds each problem as the user turn.")
    prompt = recipe.config.prompt
    templates = {"all domains": prompt.user_template} if prompt.user_template else \
        {d: t for d, t in DEFAULT_USER_TEMPLATES.items() if d in domains}
    blocks = [f"System prompt: {'none' if prompt.system is None else ''}"]
    if prompt.system is not None:
        blocks.append(f"```text\n{prompt.system}\n```")
    for domain, template in templates.items():
        # Shown as sent: str.format's doubled braces are single ones in the text the teacher sees.
        blocks.append(f"User template ({domain}):\n\n```text\n{template.replace('{{', '{').replace('}}', '}')}\n```")
    return "\n\n".join(blocks)


# Licenses of standard Hub datasets, as their own cards state them (lowercase ids).
KNOWN_LICENSES = {
    "openai/gsm8k": "mit", "gsm8k": "mit",
    "huggingfaceh4/math-500": "mit", "hendrycks/competition_math": "mit", "eleutherai/hendrycks_math": "mit",
    "digitallearninggmbh/math-lighteval": "mit", "ai-mo/numinamath-cot": "apache-2.0",
    "open-r1/openr1-math-220k": "apache-2.0", "codeparrot/apps": "mit", "baai/taco": "apache-2.0",
}

COLUMN_DESCRIPTIONS = {
    "messages": "the chat: (system,) user problem, assistant turn with the reasoning inside <think>",
    "problem": "the problem as given to the teacher",
    "reasoning": "the teacher's reasoning (empty when it gave none)",
    "answer": "the teacher's response after the reasoning",
    "final_answer": "the final answer extracted from the response",
    "reference": "the source's reference answer (empty for code)",
    "source": "the recipe source the problem came from",
    "domain": "math, code, choice or text",
    "language": "ISO 639-1 code of the problem (und: unknown)",
    "problem_id": "key of the problem in the store's problems table",
    "generation_id": "key of the trace in the store's generations table",
    "teacher": "the model that wrote the trace",
    "teacher_hash": "hash of the teacher settings",
    "prompt_tokens": "prompt tokens reported by the teacher; a request for n samples has them split evenly over "
                     "its samples (0: not reported)",
    "completion_tokens": "completion tokens reported by the teacher (0: not reported)",
    "verdicts": "the selection's checks on this trace: a list of {check, status, reason}",
    "sharegpt": "the same chat in ShareGPT form (from/value) for LLaMA-Factory",
}


def source_license(source: Any) -> str:
    if source.license:
        return source.license
    return KNOWN_LICENSES.get((source_hub_id(source) or "").lower(), "unknown")


def license_verdict(recipe: LoadedRecipe) -> tuple[str, str]:
    """(the card's license id, a note): the recipe's export.license, else the sources' when they agree."""
    found = {source_license(s) for s in recipe.config.sources}
    chosen = recipe.config.export.license
    if len(found) > 1:
        note = f"**Conflicting source licenses** ({', '.join(sorted(found))}): check each before any use."
    elif found == {"unknown"}:
        note = "**The sources' license is unknown**: check it before any use."
    else:
        note = f"The sources are licensed {next(iter(found))}."
    if chosen is None:
        chosen = next(iter(found)) if len(found) == 1 else "unknown"
    elif len(found) == 1 and "unknown" not in found and chosen != next(iter(found)):
        note += f" **The recipe declares {chosen}, which differs from the sources' license.**"
    return chosen, note


def _relative(text: str, recipe: LoadedRecipe, out: Any = None) -> str:
    """No absolute local paths in a card: the recipe's folder becomes `.`, other absolute paths their name."""
    import os
    import re
    from pathlib import Path

    for base, repl in ((str(Path(recipe.path).resolve().parent), "."), (os.getcwd(), ".")):
        text = text.replace(base + "/", "").replace(base, repl)
    return re.sub(r"(?<![\w.:/])/(?:tmp|home|root|Users|var|work|mnt|srv|opt)(?:/[^\s`'\")|,]+)+",
                  lambda m: Path(m.group(0)).name, text)


def _truncate(value: Any, limit: int = 240) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"... [{len(value) - limit} more characters]"
    if isinstance(value, list):
        return [_truncate(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _truncate(v, limit) for k, v in value.items()}
    return value


def _against_original(store: Store, dataset_id: str) -> list[str]:
    """Imported traces with their source's own verdict: what the source kept and these checks reject, by reason."""
    found = store.original_against_ours(dataset_id)
    if found is None:
        return []
    rejected = found["rejected"]
    return ["## Against the source's own verdicts",
            f"{found['original_correct']} imported trace(s) were marked correct (or kept) by their source; "
            f"{found['kept']} of them are kept here and {sum(rejected.values())} rejected by these checks"
            + (f" ({found['original_incorrect']} more were marked incorrect by the source)."
               if found["original_incorrect"] else "."),
            _table(["rejected here because", "traces the source kept"], [[r, n] for r, n in rejected.items()])
            if rejected else "None of them was rejected here."]


def _pseudo_reference_note(store: Store, dataset_id: str) -> str:
    counts = store.pseudo_reference_counts(dataset_id)
    if not counts["problems_with_pseudo_reference"] and not counts["problems_without_majority"]:
        return ""
    return (f" {counts['kept_rows_on_pseudo_reference']} kept row(s) were verified against a majority-vote "
            f"pseudo-reference, not a published answer: {counts['problems_with_pseudo_reference']} problem(s) without "
            f"a reference got one from their samples' most common answer; {counts['problems_without_majority']} had "
            f"no clear majority. Those rows are self-consistent, not checked against ground truth.")


def selection_checks(dataset: dict[str, Any]) -> list[str]:
    """The (check, version) pairs a selection was made with, as ``name<US>version`` keys for SQL: verdicts of
    other versions (a check re-run later, the eval's own checks) are not this dataset's."""
    selection = dataset.get("selection")
    selection = json.loads(selection) if isinstance(selection, str) else selection or {}
    return [f"{name}\x1f{version}" for name, version in selection.get("checks", [])]


_OF_SELECTION = "concat(v.check_name, chr(31), v.check_version) IN (SELECT unnest(?))"


def _per_problem(store: Store, dataset_id: str, checks: list[str]) -> list[tuple[str, int, int, int]]:
    """(problem_id, candidate generations, passing every check, kept) for each problem of the selection."""
    return store.con.execute(
        "WITH g AS (SELECT d.problem_id, d.generation_id, d.status, "
        "bool_and(v.status = 'pass') AS passed FROM dataset_rows d LEFT JOIN verdicts v ON "
        f"v.generation_id = d.generation_id AND {_OF_SELECTION} WHERE d.dataset_id = ? GROUP BY ALL) "
        "SELECT problem_id, count(*), count(*) FILTER (WHERE coalesce(passed, false)), "
        "count(*) FILTER (WHERE status = 'kept') FROM g GROUP BY 1 ORDER BY 1", [checks, dataset_id]).fetchall()


def _source_problems(recipe: LoadedRecipe, store: Store, stats: dict[str, Any]) -> int:
    """Problems of the training sources when the selection was made (selections recorded before select kept
    the figure: counted now, training sources only)."""
    if "source_problems" in stats:
        return int(stats["source_problems"])
    return store.count("problems", "source IN (SELECT unnest(?))", [[s.display_name for s in recipe.config.sources]])


def pass_rate_buckets(per_problem: list[tuple[str, int, int, int]]) -> list[tuple[str, int]]:
    labels = ["0", "(0, 0.25]", "(0.25, 0.5]", "(0.5, 0.75]", "(0.75, 1)", "1"]
    counts = dict.fromkeys(labels, 0)
    for _, n, passed, _ in per_problem:
        rate = passed / n if n else 0.0
        label = ("0" if rate == 0 else "1" if rate == 1 else "(0, 0.25]" if rate <= 0.25 else
                 "(0.25, 0.5]" if rate <= 0.5 else "(0.5, 0.75]" if rate <= 0.75 else "(0.75, 1)")
        counts[label] += 1
    return list(counts.items())


def _labels_section(labels: dict[str, Any] | None) -> list[str]:
    """The `distill label` results of the kept problems, as select recorded them."""
    if not labels:
        return []
    parts = ["## Problem labels",
             f"Difficulty (1-10) of the kept problems, rated by `distill label` (labeller `{labels['labeler_hash']}`, "
             f"{labels['problems']} labelled kept problems):\n\n"
             + _table(["difficulty", "problems"], [list(r) for r in labels["difficulty"]])]
    if labels["topic"]:
        parts.append("Topics:\n\n" + _table(["topic", "problems"], [list(r) for r in labels["topic"]]))
    return parts


def render_card(recipe: LoadedRecipe, store: Store, dataset: dict[str, Any], dd: Any) -> str:
    cfg = recipe.config
    rows = [r for split in dd.values() for r in split]
    total = len(rows)
    stats = json.loads(dataset["stats"]) if dataset.get("stats") else {}
    languages = sorted({r["language"] for r in rows if r["language"] and r["language"] != "und"})
    source_names = sorted({source_hub_id(s) or s.display_name for s in cfg.sources})
    license_id, license_note = license_verdict(recipe)
    front: dict[str, Any] = {
        "license": license_id,
        "pretty_name": dataset["name"],
        "task_categories": ["text-generation", "question-answering"],
        "language": languages,
        "size_categories": [size_category(total)],
    }
    if source_datasets(cfg.sources):  # Hub ids only; local files are named in the text
        front["source_datasets"] = source_datasets(cfg.sources)
    front["tags"] = ["reasoning", "chain-of-thought", "distillation", "synthetic", "distill"]
    front["dataset_info"] = dataset_info(dd)
    if "parquet" in cfg.export.formats:  # lets the Hub viewer and load_dataset(repo) find the splits
        front["configs"] = [{"config_name": "default",
                             "data_files": [{"split": split, "path": f"data/{split}.parquet"} for split in dd]}]
    dataset_id = dataset["dataset_id"]
    teachers = store.con.execute(
        "SELECT t.model, t.backend, t.config, count(*) FROM dataset_rows d JOIN generations g USING (generation_id) "
        "JOIN teachers t USING (teacher_hash) WHERE d.dataset_id = ? AND d.status = 'kept' "
        "GROUP BY ALL ORDER BY 4 DESC",
        [dataset_id]).fetchall()
    checks_used = selection_checks(dataset)
    funnel = store.con.execute(
        "SELECT v.check_name, v.status, v.reason, count(*) FROM dataset_rows d JOIN verdicts v USING (generation_id) "
        f"WHERE d.dataset_id = ? AND {_OF_SELECTION} GROUP BY ALL ORDER BY 1, 2, 4 DESC",
        [dataset_id, checks_used]).fetchall()
    cost, spent_tokens = store.con.execute(
        "SELECT coalesce(sum(g.cost_usd), 0), coalesce(sum(g.completion_tokens), 0) FROM dataset_rows d "
        "JOIN generations g USING (generation_id) WHERE d.dataset_id = ?", [dataset_id]).fetchone()
    excluded = Counter(stats.get("excluded", {}))

    teacher_rows = []
    for model, backend, config, n in teachers:
        c = json.loads(config) if config else {}
        teacher_rows.append([model, backend, c.get("temperature", "-"), c.get("top_p", "-"), c.get("max_tokens", "-"),
                             c.get("n", "-"), c.get("seed", "-"), n])
    check_rows = [[c.name, json.dumps(c.params) if c.params else "defaults"] for c in cfg.checks]
    counted = [r["completion_tokens"] for r in rows if r["completion_tokens"]]
    tokens = length_stats(counted) if counted else dict.fromkeys(("mean", "median", "p90", "max"), "unknown")
    per_problem = _per_problem(store, dataset_id, checks_used)
    contamination = stats.get("contamination") or {}
    contaminated = {b: n for b, n in contamination.items() if isinstance(n, int | float) and n} \
        if isinstance(contamination, dict) else {}
    name = dataset["name"]
    if cfg.export.hub_repo:
        load = f'from datasets import load_dataset\n\nds = load_dataset("{cfg.export.hub_repo}")'
    elif "parquet" in cfg.export.formats:
        load = ("from datasets import load_dataset\n\n# from the folder that holds this card\n"
                f"ds = load_dataset(\"parquet\", data_files={ {s: f'data/{s}.parquet' for s in dd} })")
    else:
        load = ('from datasets import load_from_disk\n\n# from the folder that holds this card\n'
                'ds = load_from_disk("disk")')
    first_split = next(iter(dd))
    sample = _truncate(dict(dd[first_split][0])) if len(dd[first_split]) else {}
    teacher_names = sorted({t[0] for t in teachers})
    cite_sources = "; ".join(f"{source_hub_id(s) or s.display_name} ({source_license(s)})" for s in cfg.sources)
    citation = "\n\n".join([
        f"@misc{{{re.sub(r'[^A-Za-z0-9]+', '_', name)},\n  title = {{{name}: reasoning traces}},\n"
        f"  note = {{Problems: {cite_sources}. Teacher: {', '.join(teacher_names) or 'unknown'}. "
        f"Built with distill {__version__} (verification and selection as described in this card).}}\n}}",
        *citations(cfg.sources, teacher_names)])
    reasoning_chars = length_stats([len(r["reasoning"]) for r in rows])
    answer_chars = length_stats([len(r["answer"]) for r in rows])
    sel = cfg.select
    parts = [
        "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---",
        f"# {dataset['name']}",
        f"{total} reasoning traces ({', '.join(f'{k}: {len(v)}' for k, v in dd.items())}) distilled by "
        f"distill {__version__} from {', '.join(source_names)}. Every row passed the "
        f"checks below; each keeps the ids that trace it back to its problem, its teacher call and its verdicts.",
        *([f"> **Warning: benchmark contamination.** {sum(contaminated.values())} problem(s) overlap a "
           f"benchmark's test split ({', '.join(f'{b}: {n}' for b, n in sorted(contaminated.items()))}); "
           f"they were excluded here, but the sources share problems with these benchmarks."]
          if contaminated else []),
        "## How to load",
        f"```python\n{load}\n```",
        "## Columns",
        _table(["column", "type", "description"],
               [[c, type_name(t).replace("|", "/"), COLUMN_DESCRIPTIONS.get(c, "")]
                for c, t in dd[first_split].features.items()]),
        "## A sample row",
        f"From the `{first_split}` split; long values truncated.\n\n```json\n"
        + json.dumps(sample, indent=2, ensure_ascii=False, default=str) + "\n```",
        "## License",
        license_note + " The teacher's terms: " + (", ".join(teacher_names) or "unknown")
        + " (check the provider's terms for using its outputs to train models).\n\n"
        + _table(["source", "license"], [[source_hub_id(s) or s.display_name, source_license(s)]
                                         for s in cfg.sources]),
        "## Teacher and sampling",
        _table(["teacher", "backend", "temperature", "top_p", "max_tokens", "n", "seed", "rows"], teacher_rows)
        if teacher_rows else "No teacher rows.",
        "## Prompts",
        _prompts_section(recipe, imported_only=bool(teachers) and all(t[1] == "imported" for t in teachers),
                         domains={r["domain"] for r in rows}),
        "## Checks",
        _table(["check", "parameters"], check_rows) if check_rows else "No checks were configured.",
        "## Verification funnel (all candidate generations)",
        _table(["check", "status", "reason", "generations"], [list(r) for r in funnel]) if funnel else "No verdicts.",
        "## Per-problem funnel",
        _table(["problems of the sources", "with candidate traces", "with a passing trace", "with a kept trace"],
               [[_source_problems(recipe, store, stats), len(per_problem),
                 sum(1 for p in per_problem if p[2]), sum(1 for p in per_problem if p[3])]]),
        "Teacher pass rate per problem (traces passing every check / candidate traces):\n\n"
        + _table(["pass rate", "problems"], [list(b) for b in pass_rate_buckets(per_problem)]),
        *_labels_section(stats.get("labels")),
        "## Selection",
        f"Policy `{sel.policy}`" + (f" (k={sel.k})" if sel.policy == "k_per_problem" else "")
        + f", pass-rate band [{sel.min_pass_rate}, {sel.max_pass_rate}], seed {sel.seed}, per-source caps "
        f"{dict(sel.per_source_cap) or 'none'}, weights {dict(sel.weights) or 'none'}; dedup of problems "
        f"{sel.dedup.problems} and responses {sel.dedup.responses} (exact, and MinHash near-duplicates at Jaccard "
        f"{sel.dedup.near_duplicate_threshold}). Of {stats.get('candidates', '?')} candidate generations, "
        f"{total} were kept."
        + (f" {stats['judge_accepted']} candidate(s) passed only by the LLM judge, where the rule-based check could "
           f"not decide (`select.judge: {sel.judge}`)." if stats.get("judge_accepted") else "")
        + _pseudo_reference_note(store, dataset_id),
        _table(["excluded because", "generations"], [[r, n] for r, n in excluded.most_common()])
        if excluded else "Nothing was excluded.",
        *_against_original(store, dataset_id),
        "## Decontamination",
        (f"Word {sel.decontaminate.ngram}-gram overlap after lowercasing and whitespace normalisation; a problem "
         f"sharing any n-gram with a benchmark problem is excluded.\n\n"
         + _table(["benchmark", "source", "problems excluded"],
                  [[b, ref, stats.get("contamination", {}).get(b, 0)]
                   for b, ref in sel.decontaminate.benchmarks.items()]))
        if sel.decontaminate.enabled else "Decontamination was switched off for this dataset.",
        "## Lengths and tokens",
        _table(["measure", "mean", "median", "p90", "max"], [
            ["completion tokens", *tokens.values()], ["reasoning characters", *reasoning_chars.values()],
            ["answer characters", *answer_chars.values()]]),
        "## Cost",
        (f"${cost:.4f} for {spent_tokens:,} completion tokens over all candidate generations (kept or not), at the "
         f"prices in the recipe." if spent_tokens else "unknown (no token counts were recorded for these traces)."),
        "## Citation",
        f"```bibtex\n{citation}\n```",
        "## Intended uses and limitations",
        "For supervised fine-tuning of small reasoning models (the `messages` column, with the reasoning inside "
        "`<think>`; `sharegpt` and `dataset_info.json` for LLaMA-Factory). The traces are model-written: checks "
        "verify final answers, "
        "language and completeness, not every step of the reasoning, so a correct answer can sit on flawed steps. "
        "Problems come from the listed sources with their licences; verify that they allow your use.",
        "## Recipe",
        "```yaml\n" + recipe.yaml_text.rstrip() + "\n```",
        "## Lineage",
        f"Dataset id `{dataset_id}`, recipe hash `{recipe.hash}`, selection run `{dataset['run_id']}`, created "
        f"{dataset['created_at']} UTC. Every row's `generation_id` and `problem_id` are keys of the `generations` and "
        f"`problems` tables of the store.",
    ]
    text = _relative("\n\n".join(parts) + "\n", recipe)
    from huggingface_hub import DatasetCard, DatasetCardData

    # The Hub's own card tools (offline): the front matter parses as its metadata model and round-trips.
    data = DatasetCard(text).data.to_dict()
    if DatasetCardData(**data).to_dict() != data or data.get("license") != license_id:
        raise ValueError("the card's front matter does not round-trip through huggingface_hub's DatasetCardData")
    return text
