"""The export stage: the recipe's current selection (see ``distill/store/current_selection.py``) as a Hugging Face
dataset with a data card.

Rows carry a ``messages`` column (optional system turn, the user turn exactly as the teacher saw it,
and the assistant turn with the reasoning inside ``<think>...</think>`` before the answer), a
ShareGPT-style ``sharegpt`` column for LLaMA-Factory (not ``conversations``: TRL renames a column of that
name to ``messages``, overwriting the real one with ``human``/``gpt`` roles), and the columns that trace each
row back:
problem, reasoning, answer, final_answer, reference, source, problem_id, generation_id, teacher,
teacher_hash, tokens and verdicts. Written as ``save_to_disk``, Parquet and JSONL under
``export.out_dir/<name>/``, with the card as ``README.md`` there and in ``export.cards_dir/<name>.md``, and a
LLaMA-Factory ``dataset_info.json`` beside the JSONL files and an ``export.json`` manifest (dataset id,
rows) that training reads for lineage;
``hub_repo`` pushes it with the token from ``token_env``. The store records where it went.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.checks.layout import layout_text
from distill.errors import DistillError, UsageError
from distill.recipe import LoadedRecipe
from distill.stages.shape import StagePlan
from distill.store import Store
from distill.store.current_selection import current_selection, dataset_name
from distill.views.cards import render_card, selection_checks


@dataclass
class ExportSummary:
    name: str
    dataset_id: str
    rows: dict[str, int]
    location: Path
    card: Path
    hub_repo: str | None

    def line(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in self.rows.items())
        hub = f", pushed to {self.hub_repo}" if self.hub_repo else ""
        return f"export: '{self.name}' [{self.dataset_id}] {splits} -> {self.location} (card {self.card}){hub}"


def verdicts_feature() -> Any:
    """The `verdicts` column type (datasets is imported by the stage only, not at import time)."""
    import datasets

    return datasets.List({"check": datasets.Value("string"), "status": datasets.Value("string"),
                          "reason": datasets.Value("string")})


def assistant_turn(reasoning: str | None, answer: str | None) -> str:
    answer = (answer or "").strip()
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{answer}" if reasoning and reasoning.strip() else answer


def build_records(recipe: LoadedRecipe, store: Store, dataset_id: str) -> dict[str, list[dict[str, Any]]]:
    by_id = {r["generation_id"]: r for r in store.kept_generations(dataset_id)}
    per_generation: dict[str, list[dict[str, str]]] = {}
    for gid, check, status, reason in store.kept_verdicts(dataset_id, selection_checks(store.dataset(dataset_id)
                                                                                       or {})):
        per_generation.setdefault(gid, []).append({"check": check, "status": status, "reason": reason})
    system = recipe.config.export.system_prompt
    splits: dict[str, list[dict[str, Any]]] = {}
    for row in store.dataset_rows(dataset_id, status="kept"):
        g = by_id.get(row["generation_id"])
        if g is None:
            raise DistillError(f"dataset {dataset_id}: generation {row['generation_id']} is no longer in the store")
        rewrite = g["origin"] == "rewrite"
        asked = g["parent_messages"] if rewrite else g["messages"]
        sent = json.loads(asked) if asked else [{"role": "user", "content": g["prompt"]}]
        user = next((m["content"] for m in reversed(sent) if m.get("role") == "user"), g["prompt"])
        system_text = system or next((m["content"] for m in sent if m.get("role") == "system"), None)
        answer = g["answer_text"] if g["answer_text"] is not None else g["content"]
        # a rewrite is already in its target layout (Sky-T1's markers, or <think>), which select made sure of
        assistant = layout_text(g["content"], g["reasoning"]) if rewrite else assistant_turn(g["reasoning"], answer)
        messages = ([{"role": "system", "content": system_text}] if system_text else []) + [
            {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        sharegpt = ([{"from": "system", "value": system_text}] if system_text else []) + [
            {"from": "human", "value": user}, {"from": "gpt", "value": assistant}]
        record = {
            "messages": messages, "problem": g["prompt"], "reasoning": g["reasoning"] or "", "answer": answer or "",
            "final_answer": g["final_answer"] or "", "reference": g["answer"] or "", "source": g["source"],
            "domain": g["domain"], "language": g["language"], "problem_id": g["problem_id"],
            "generation_id": g["generation_id"], "teacher": g["model"] or "", "teacher_hash": g["teacher_hash"],
            "prompt_tokens": g["prompt_tokens"] or 0, "completion_tokens": g["completion_tokens"] or 0,
            "verdicts": per_generation.get(g["generation_id"], []),
        }
        if recipe.config.export.sharegpt:
            record["sharegpt"] = sharegpt
        splits.setdefault(row["split"], []).append(record)
    return splits


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """The rows the recipe's current selection keeps, to be written (every export writes them all again; ``work``:
    the selection, None when there is none yet: ``do`` then says to run select)."""
    from distill.store.current_selection import current_dataset_id

    dataset_id = current_dataset_id(recipe, store)
    row = store.dataset(dataset_id) if dataset_id else None
    return StagePlan("export", row["row_count"] if row else 0, 0, "rows", work=row)


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> ExportSummary:
    return export(recipe, store, plan.work)


def export(recipe: LoadedRecipe, store: Store, dataset: dict[str, Any] | None = None) -> ExportSummary:
    """Write the current selection (``dataset``, its ``datasets`` row, when the caller looked it up)."""
    import datasets

    datasets.disable_progress_bars()  # the stage prints its own one-line summary
    cfg = recipe.config.export
    name = dataset_name(recipe)
    recipe.check_secrets(teacher=False)  # fail before any work
    token = hub_token(cfg.token_env, cfg.hub_repo) if cfg.hub_repo else None
    dataset = dataset or current_selection(recipe, store)
    splits = build_records(recipe, store, dataset["dataset_id"])
    if not splits:
        raise UsageError(f"selection '{name}' kept no rows; see `distill status` for why, then loosen select")
    # verdicts keep one struct type even in a split where no row has any (inference would say list of null)
    dd = datasets.DatasetDict({split: datasets.Dataset.from_list(rows).cast_column("verdicts", verdicts_feature())
                               for split, rows in sorted(splits.items())})
    out = recipe.resolve(cfg.out_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    if "disk" in cfg.formats:
        dd.save_to_disk(str(out / "disk"))
    for split, ds in dd.items():
        if "parquet" in cfg.formats:
            ds.to_parquet(str(out / "data" / f"{split}.parquet"))
        if "jsonl" in cfg.formats:
            ds.to_json(str(out / "jsonl" / f"{split}.jsonl"), lines=True, force_ascii=False)
    if "jsonl" in cfg.formats and cfg.sharegpt:
        (out / "dataset_info.json").write_text(json.dumps(llamafactory_info(name, list(dd)), indent=2) + "\n",
                                               encoding="utf-8")
    (out / "export.json").write_text(json.dumps({
        "name": name, "dataset_id": dataset["dataset_id"], "recipe_hash": recipe.hash,
        "rows": {split: len(ds) for split, ds in dd.items()}}, indent=2) + "\n", encoding="utf-8")
    card_text = render_card(recipe, store, dataset, dd)
    (out / "README.md").write_text(card_text, encoding="utf-8")
    card_path = recipe.resolve(cfg.cards_dir) / f"{name}.md"
    card_path.parent.mkdir(parents=True, exist_ok=True)
    card_path.write_text(card_text, encoding="utf-8")
    run = store.start_run("export", recipe.config.name, recipe.hash, str(recipe.path))
    rows = {split: len(ds) for split, ds in dd.items()}
    store.record_export(dataset["dataset_id"], cfg.formats, str(out), str(card_path), None)
    if cfg.hub_repo:
        try:
            push_to_hub(dd, card_text, cfg.hub_repo, token, cfg.private)
        except DistillError as exc:
            store.finish_run(run, "failed", {"dataset_id": dataset["dataset_id"], "rows": rows,
                                             "location": str(out), "error": str(exc)})
            raise
        store.record_export(dataset["dataset_id"], cfg.formats, str(out), str(card_path), cfg.hub_repo)
    store.finish_run(run, "ok", {"dataset_id": dataset["dataset_id"], "rows": rows, "location": str(out)})
    return ExportSummary(name, dataset["dataset_id"], rows, out, card_path, cfg.hub_repo)


def llamafactory_info(name: str, splits: list[str]) -> dict[str, Any]:
    """LLaMA-Factory's ``dataset_info.json`` entries for the JSONL splits (``dataset_dir`` = the export folder):
    the sharegpt formatting, read from our ``sharegpt`` column with its tags spelled out."""
    entry = {"formatting": "sharegpt", "columns": {"messages": "sharegpt"},
             "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                      "system_tag": "system"}}
    return {(name if split == "train" else f"{name}_{split}"): dict(entry, file_name=f"jsonl/{split}.jsonl")
            for split in splits}


def hub_token(token_env: str, repo: str) -> str:
    token = os.environ.get(token_env)
    if not token:
        raise UsageError(f"export.token_env: the environment variable {token_env} is not set; it must hold a Hugging "
                         f"Face token with write access to {repo}")
    return token


def push_to_hub(dd: Any, card_text: str, repo: str, token: str | None, private: bool) -> None:
    """Push the splits and the card with the token from the environment (never stored or printed)."""
    try:
        from huggingface_hub import HfApi

        dd.push_to_hub(repo, private=private, token=token)
        HfApi(token=token).upload_file(path_or_fileobj=card_text.encode("utf-8"), path_in_repo="README.md",
                                       repo_id=repo, repo_type="dataset")
    except Exception as exc:  # network, auth, permissions: one line the user can act on
        raise DistillError(f"push to {repo} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
