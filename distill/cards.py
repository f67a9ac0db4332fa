"""Data cards: the README.md of an exported dataset, so a stranger can trust and reuse it.

YAML front matter for the Hub (license, task_categories, language, size_categories, source_datasets,
tags, configs), then the teacher and sampling, prompts, checks with their parameters, the verification
funnel, the selection policy and what it excluded, decontamination hits, length and token statistics,
cost, the full recipe, intended uses and limitations, and lineage. Every count comes from the store.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import yaml

from distill import __version__
from distill.prompts import DEFAULT_USER_TEMPLATES
from distill.recipe import LoadedRecipe
from distill.store import Store


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


def _prompts_section(recipe: LoadedRecipe, imported_only: bool) -> str:
    if imported_only:
        return ("The traces were imported from existing data; the prompts that produced them are whatever their "
                "authors used. The `messages` column holds each problem as the user turn.")
    prompt = recipe.config.prompt
    templates = {"all domains": prompt.user_template} if prompt.user_template else DEFAULT_USER_TEMPLATES
    blocks = [f"System prompt: {'none' if prompt.system is None else ''}"]
    if prompt.system is not None:
        blocks.append(f"```text\n{prompt.system}\n```")
    for domain, template in templates.items():
        # Shown as sent: str.format's doubled braces are single ones in the text the teacher sees.
        blocks.append(f"User template ({domain}):\n\n```text\n{template.replace('{{', '{').replace('}}', '}')}\n```")
    return "\n\n".join(blocks)


def render_card(recipe: LoadedRecipe, store: Store, dataset: dict[str, Any], dd: Any) -> str:
    cfg = recipe.config
    rows = [r for split in dd.values() for r in split]
    total = len(rows)
    stats = json.loads(dataset["stats"]) if dataset.get("stats") else {}
    languages = sorted({r["language"] for r in rows if r["language"] and r["language"] != "und"})
    source_datasets = sorted({s.hub or s.display_name for s in cfg.sources})
    front = {
        "license": cfg.export.license,
        "task_categories": ["text-generation", "question-answering"],
        "language": languages,
        "size_categories": [size_category(total)],
        "source_datasets": source_datasets,
        "tags": ["reasoning", "chain-of-thought", "distillation", "synthetic", "distill"],
    }
    if "parquet" in cfg.export.formats:  # lets the Hub viewer and load_dataset(repo) find the splits
        front["configs"] = [{"config_name": "default",
                             "data_files": [{"split": split, "path": f"data/{split}.parquet"} for split in dd]}]
    dataset_id = dataset["dataset_id"]
    teachers = store.con.execute(
        "SELECT t.model, t.backend, t.config, count(*) FROM dataset_rows d JOIN generations g USING (generation_id) "
        "JOIN teachers t USING (teacher_hash) WHERE d.dataset_id = ? AND d.status = 'kept' "
        "GROUP BY ALL ORDER BY 4 DESC",
        [dataset_id]).fetchall()
    funnel = store.con.execute(
        "SELECT v.check_name, v.status, v.reason, count(*) FROM dataset_rows d JOIN verdicts v USING (generation_id) "
        "WHERE d.dataset_id = ? GROUP BY ALL ORDER BY 1, 2, 4 DESC", [dataset_id]).fetchall()
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
    tokens = length_stats([r["completion_tokens"] for r in rows if r["completion_tokens"]])
    reasoning_chars = length_stats([len(r["reasoning"]) for r in rows])
    answer_chars = length_stats([len(r["answer"]) for r in rows])
    sel = cfg.select
    parts = [
        "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---",
        f"# {dataset['name']}",
        f"{total} reasoning traces ({', '.join(f'{k}: {len(v)}' for k, v in dd.items())}) distilled by "
        f"distill {__version__} from {', '.join(source_datasets)}. Every row passed the "
        f"checks below; each keeps the ids that trace it back to its problem, its teacher call and its verdicts.",
        "## Teacher and sampling",
        _table(["teacher", "backend", "temperature", "top_p", "max_tokens", "n", "seed", "rows"], teacher_rows)
        if teacher_rows else "No teacher rows.",
        "## Prompts",
        _prompts_section(recipe, imported_only=bool(teachers) and all(t[1] == "imported" for t in teachers)),
        "## Checks",
        _table(["check", "parameters"], check_rows) if check_rows else "No checks were configured.",
        "## Verification funnel (all candidate generations)",
        _table(["check", "status", "reason", "generations"], [list(r) for r in funnel]) if funnel else "No verdicts.",
        "## Selection",
        f"Policy `{sel.policy}`" + (f" (k={sel.k})" if sel.policy == "k_per_problem" else "")
        + f", pass-rate band [{sel.min_pass_rate}, {sel.max_pass_rate}], seed {sel.seed}, per-source caps "
        f"{dict(sel.per_source_cap) or 'none'}, weights {dict(sel.weights) or 'none'}; dedup of problems "
        f"{sel.dedup.problems} and responses {sel.dedup.responses} (exact, and MinHash near-duplicates at Jaccard "
        f"{sel.dedup.near_duplicate_threshold}). Of {stats.get('candidates', '?')} candidate generations, "
        f"{total} were kept.",
        _table(["excluded because", "generations"], [[r, n] for r, n in excluded.most_common()])
        if excluded else "Nothing was excluded.",
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
        f"${cost:.4f} for {spent_tokens:,} completion tokens over all candidate generations (kept or not), at the "
        f"prices in the recipe.",
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
    return "\n\n".join(parts) + "\n"
