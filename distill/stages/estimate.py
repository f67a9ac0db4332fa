"""`distill generate --dry-run`: what the generate stage would send and what it would cost, before any of it.

Nothing is sent and nothing is written. The requests are the ones generate would plan: from the store when it
holds the recipe's problems (samples already stored are left out, as a rerun would), else from the sources
read in memory (the same adapters as ingest, nothing stored).

- Prompt tokens: counted with the teacher's own tokenizer and chat template when one can be loaded without the
  network (a local model folder, or a hub id already in the local cache), else estimated as characters / 4,
  and the output says which. Each request is billed its prompt (with ``use_n``, providers that honour ``n``
  bill one prompt for n samples: then this is an upper bound).
- Completion tokens: the mean of this teacher configuration's completions already in the store when there
  are some, else ``max_tokens`` per request (an upper bound: reasoning models often stop well before it).
- Cost: the recipe's ``price_input_per_mtok`` and ``price_output_per_mtok`` (times ``batch_price_factor`` in batch
  mode); ``max_cost_usd`` says where the cap would stop the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from distill.errors import NothingToDoError, RecipeError, SourceError
from distill.llm.prompts import PromptBuilder
from distill.llm.spend import cost_of
from distill.llm.teachers import teacher_hash
from distill.recipe import LoadedRecipe, TeacherConfig
from distill.types import Problem

CHARS_PER_TOKEN = 4


@dataclass
class GenerateEstimate:
    teacher_hash: str
    model: str
    problems: int
    requests: int
    already_done: int
    from_store: bool
    prompt_tokens: int
    prompt_counted_by: str        # "tokenizer <ref>" or "characters / 4"
    completion_tokens_per_request: float
    completion_basis: str         # where the completion figure comes from
    completion_tokens: int
    cost_input_usd: float
    cost_output_usd: float
    max_cost_usd: float | None
    requests_within_cap: int | None

    @property
    def cost_usd(self) -> float:
        return self.cost_input_usd + self.cost_output_usd

    def lines(self) -> list[str]:
        where = "the store" if self.from_store else "the sources, read in memory (nothing ingested yet)"
        out = [
            f"generate --dry-run: teacher {self.model} [{self.teacher_hash}]; nothing sent, nothing written",
            f"  requests    {self.requests:,} ({self.problems:,} problems from {where}; "
            f"{self.already_done:,} samples already stored)",
            f"  prompt      {self.prompt_tokens:,} tokens ({self.prompt_counted_by})",
            f"  completion  {self.completion_tokens:,} tokens ({self.completion_tokens_per_request:,.0f} per request: "
            f"{self.completion_basis})",
            f"  cost        ${self.cost_usd:,.4f} (input ${self.cost_input_usd:,.4f} + output "
            f"${self.cost_output_usd:,.4f})",
        ]
        if self.max_cost_usd is not None:
            if self.requests_within_cap is not None and self.requests_within_cap < self.requests:
                out.append(f"  cap         max_cost_usd {self.max_cost_usd} stops it after about "
                           f"{self.requests_within_cap:,} of {self.requests:,} requests")
            else:
                out.append(f"  cap         max_cost_usd {self.max_cost_usd}: not reached")
        return out

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__, cost_usd=self.cost_usd)


def no_teacher_estimate(recipe: LoadedRecipe) -> dict[str, Any]:
    """The dry run of a recipe without a teacher (its traces are imported): nothing to send, $0."""
    return {"teacher": None, "requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0,
            "note": f"generate --dry-run: {recipe.path.name} has no teacher section (its traces are imported, or it "
                    f"only evaluates): nothing to send, $0.0000"}


def estimate_generation(recipe: LoadedRecipe, store: Any | None) -> GenerateEstimate:
    """The estimate for this recipe's teacher; ``store`` is an open store (read-only is enough) or None."""
    cfg = recipe.config.teacher
    if cfg is None:
        raise RecipeError(f"{recipe.path}: teacher: the recipe has no teacher section; add one to estimate")
    prompts = PromptBuilder.from_config(recipe.config.prompt)
    t_hash = teacher_hash(cfg, prompts.fingerprint)
    sources = [s.display_name for s in recipe.config.sources if s.generate]
    from_store = store is not None and store.count("problems", "source IN (SELECT unnest(?))", [sources]) > 0
    count = _TokenCounter(recipe, cfg)
    n_problems = requests = already = prompt_tokens = 0
    for messages, missing, have in _wanted(recipe, store) if from_store else (
            (prompts.messages(problem), cfg.n, 0) for problem in _read_sources(recipe)):
        n_problems += 1
        already += have
        if missing:
            requests += missing
            prompt_tokens += missing * count(messages)
    if n_problems == 0:
        raise NothingToDoError(f"generate --dry-run: no problems in this recipe's sources ({', '.join(sources)})")
    stored = store.completion_stats(t_hash) if from_store else (0, 0.0)
    if stored[0]:
        per_request = stored[1]
        basis = f"the mean of the {stored[0]:,} completions stored for this teacher"
    else:
        per_request = float(cfg.max_tokens)
        basis = "max_tokens, an upper bound: no completion of this teacher is stored yet"
    completion_tokens = round(per_request * requests)
    price = cfg.batch_price_factor if cfg.mode == "batch" else 1.0  # the batch API's discount
    within = None
    if cfg.max_cost_usd is not None and requests:
        per_cost = cost_of(cfg, prompt_tokens / requests, per_request) * price
        spent = store.teacher_spend(t_hash)[0] if from_store else 0.0
        within = requests if per_cost <= 0 else max(0, min(requests, int((cfg.max_cost_usd - spent) / per_cost)))
    return GenerateEstimate(
        teacher_hash=t_hash, model=cfg.model, problems=n_problems, requests=requests, already_done=already,
        from_store=from_store, prompt_tokens=prompt_tokens, prompt_counted_by=count.method,
        completion_tokens_per_request=per_request, completion_basis=basis, completion_tokens=completion_tokens,
        cost_input_usd=cost_of(cfg, prompt_tokens, 0) * price,
        cost_output_usd=cost_of(cfg, 0, completion_tokens) * price,
        max_cost_usd=cfg.max_cost_usd, requests_within_cap=within)


def _wanted(recipe: LoadedRecipe, store: Any) -> Iterator[tuple[Any, int, int]]:
    """Per problem generate would consider, from its own plan (the difficulty band applied): the messages, how many
    samples are missing and how many are stored."""
    from distill.stages.generate import plan

    planned = plan(recipe, store)
    n = planned.work.cfg.n
    missing: dict[str, list[Any]] = {}  # problem id -> [messages, missing samples], in the plan's order
    for request in planned.work.requests:
        missing.setdefault(request.problem_id, [request.messages, 0])[1] += 1
    for messages, k in missing.values():
        yield messages, k, n - k
    yield from repeat((None, 0, n), (planned.todo + planned.done) // n - len(missing))  # every sample stored


def _read_sources(recipe: LoadedRecipe) -> Iterator[Problem]:
    """The recipe's problems as ingest would read them (bad rows skipped: ingest records them), honouring the
    teacher's ``limit`` across sources as generate does."""
    from distill.data.sources import read_source

    limit = recipe.config.teacher.limit if recipe.config.teacher else None
    hub = next((cfg.hub for cfg in recipe.config.sources if cfg.hub), None)
    if hub is not None:
        _fail_fast_without_the_hub(hub)
    yielded = 0
    for cfg in recipe.config.sources:
        if not cfg.generate:
            continue
        for item in read_source(cfg, recipe.resolve):
            if isinstance(item, Problem):
                yield item
                yielded += 1
                if limit is not None and yielded >= limit:
                    return


def _fail_fast_without_the_hub(hub_id: str) -> None:
    """Where the Hub cannot be reached, say so at once: ``datasets`` would retry for about half a minute before the
    same conclusion. With ``HF_HUB_OFFLINE`` set, the cache is read as usual."""
    import os
    import socket
    from urllib.parse import urlsplit

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return
    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=3).close()
    except OSError as exc:
        why = exc.strerror or exc
        raise SourceError(f"generate --dry-run: the Hub ({constants.ENDPOINT}) cannot be reached ({why}) "
                          f"to read source '{hub_id}'; run `distill ingest` where it can (the dry run then reads the "
                          f"store), or set HF_HUB_OFFLINE=1 if the dataset is in the local cache") from None


class _TokenCounter:
    """Prompt tokens of a request: the teacher's tokenizer and chat template when one loads offline, else
    characters / 4."""

    def __init__(self, recipe: LoadedRecipe, cfg: TeacherConfig):
        self.tokenizer = None
        self.method = f"characters / {CHARS_PER_TOKEN}: no tokenizer for {cfg.model} here"
        local = recipe.resolve(cfg.model)
        ref = str(local) if local.exists() else cfg.model
        try:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=True)
            self.method = f"tokenizer of {Path(ref).name if local.exists() else ref}"
        except Exception:  # not a local folder nor in the cache: offline, no way to load it
            self.tokenizer = None

    def __call__(self, messages: tuple[dict[str, str], ...]) -> int:
        if self.tokenizer is None:
            return -(-sum(len(m.get("content") or "") for m in messages) // CHARS_PER_TOKEN)
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            return len(ids["input_ids"] if isinstance(ids, dict) else ids)
        return len(self.tokenizer(json.dumps(list(messages), ensure_ascii=False))["input_ids"])
