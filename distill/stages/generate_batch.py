"""Generate through a batch API (``teacher.mode: batch``): the requests go in JSONL files, the provider answers
within its window at its discount (``batch_price_factor``, 0.5 at OpenAI), and every answer is stored as a
generation row exactly like a streamed one (same ids, columns and error reasons).

Resumable: each batch is recorded in ``batch_jobs`` before it is created, as intended, with the SHA-256 digest of
its input file (also sent to the provider as the batch's metadata), and under the provider's id as soon as the
provider accepts it. A rerun (after Ctrl-C, a crash or SIGKILL at any point) first finds an intended batch at the
provider by its digest (adopting it, or dropping the intent when it was never created), polls the recorded
batches whose results are not stored and stores them; only then does it plan again, so a request is never in two
live batches and never paid twice. A batch that fails, expires or is cancelled is recorded with that status; the
requests it did not answer are simply still missing, and the next run submits them again. Budget: before a batch
is submitted, its worst case (every request at ``max_tokens``, prompts at their byte bound, at the batch price)
must fit under ``max_cost_usd`` with what is spent; else the stage stops and says so.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from distill.llm.requests import Budget
from distill.llm.spend import cost_of, note_reasons, prompt_bound
from distill.llm.teachers.openai_batch import TERMINAL, OpenAIBatchClient
from distill.recipe import LoadedRecipe, TeacherConfig
from distill.stages.generation_records import GenerateSummary, generation_row
from distill.store import RunContext, Store
from distill.types import ChatRequest
from distill.views.progress import stage_progress

INTENDED = "intended"  # a batch recorded before it was created: a rerun finds it at the provider by its digest
INTENT_PREFIX = "intent-"


def custom_id(request: ChatRequest) -> str:
    return f"{request.problem_id}:{request.sample_index}"


async def generate_batches(requests: list[ChatRequest], recipe: LoadedRecipe, cfg: TeacherConfig, t_hash: str,
                           store: Store, run: RunContext, summary: GenerateSummary, budget: Budget) -> None:
    client = OpenAIBatchClient(cfg)
    by_id = {custom_id(r): r for r in requests}
    error_ids = store.error_ids_of(t_hash)
    try:
        for job in store.open_batch_jobs(t_hash):  # batches a previous run submitted: poll, never resubmit
            if job["status"] == INTENDED:
                job = await _adopt(client, job, store, run)
                if job is None:
                    continue
            await _finish(client, job, by_id, cfg, t_hash, store, run, summary, budget, error_ids)
        done = store.samples_done(t_hash)
        todo = [r for r in requests if (r.problem_id, r.sample_index) not in done]
        for start in range(0, len(todo), cfg.batch_max_requests):
            chunk = todo[start:start + cfg.batch_max_requests]
            worst = sum(_worst_cost(cfg, r) for r in chunk)
            if cfg.max_cost_usd is not None and budget.spent_usd + worst > cfg.max_cost_usd:
                budget.stopped_by = "max_cost_usd"  # the next batch's worst case would pass the cap
                break
            lines = [client.line(custom_id(r), r) for r in chunk]
            data, digest = client.input_file(lines)
            intent = {"batch_id": f"{INTENT_PREFIX}{digest}", "teacher_hash": t_hash, "base_url": client.base_url,
                      "input_file_id": None, "status": INTENDED, "custom_ids": [line["custom_id"] for line in lines]}
            store.add_batch_job(intent, run)  # recorded before it can be paid for: a rerun looks for it by digest
            file_id = await client.upload(data)
            batch = await client.create(file_id, digest)
            job = intent | {"batch_id": batch["id"], "input_file_id": file_id,
                            "status": batch.get("status", "validating")}
            store.adopt_batch_job(intent["batch_id"], job, run)  # a crash from here on polls it again
            budget.sent += len(chunk)
            await _finish(client, job, by_id, cfg, t_hash, store, run, summary, budget, error_ids)
    finally:
        await client.aclose()


def _worst_cost(cfg: TeacherConfig, request: ChatRequest) -> float:
    return cost_of(cfg, prompt_bound(request.messages), cfg.max_tokens) * cfg.batch_price_factor


async def _adopt(client: OpenAIBatchClient, intent: dict[str, Any], store: Store,
                 run: RunContext) -> dict[str, Any] | None:
    """The provider's batch an earlier run intended (found by its input digest), now recorded under its id; or
    None when it was never created (the intent is dropped and its requests are planned again)."""
    digest = intent["batch_id"].removeprefix(INTENT_PREFIX)
    batch = await client.find(digest)
    if batch is None:
        store.drop_batch_job(intent["batch_id"])
        return None
    job = intent | {"batch_id": batch["id"], "input_file_id": batch.get("input_file_id"),
                    "status": batch.get("status", "validating")}
    store.adopt_batch_job(intent["batch_id"], job, run)
    return job


async def _finish(client: OpenAIBatchClient, job: dict[str, Any], by_id: dict[str, ChatRequest], cfg: TeacherConfig,
                  t_hash: str, store: Store, run: RunContext, summary: GenerateSummary, budget: Budget,
                  error_ids: set[str]) -> None:
    """Poll one batch to its end, then store every answer and error line; mark it stored."""
    started = time.monotonic()
    with stage_progress(f"batch {job['batch_id']} ({len(job['custom_ids'])} requests)", total=None,
                        unit="polls") as bar:
        while True:
            batch = await client.get(job["batch_id"])
            status = batch.get("status", "unknown")
            counts = batch.get("request_counts") or {}
            store.update_batch_job(job["batch_id"], status, batch.get("output_file_id"), batch.get("error_file_id"),
                                   {"request_counts": counts})
            bar.advance()
            bar.set_extras(status=status, done=f"{counts.get('completed', 0)}/{counts.get('total', '?')}")
            if status in TERMINAL:
                break
            await asyncio.sleep(cfg.batch_poll_s)
    entries = []
    for key in ("output_file_id", "error_file_id"):
        if batch.get(key):
            entries += await client.content(batch[key])
    rows = []
    for entry in entries:
        request = by_id.get(str(entry.get("custom_id")))
        if request is None:  # a problem no longer planned (its source left the recipe): nothing to store it as
            continue
        completion = client.completion(request, entry)
        row = generation_row(completion, cfg, t_hash, run)
        row["cost_usd"] *= cfg.batch_price_factor
        row["latency_s"] = time.monotonic() - started
        rows.append(row)
        summary.received += 1
        summary.cost_usd += row["cost_usd"]
        summary.prompt_tokens += row["prompt_tokens"] or 0
        summary.completion_tokens += row["completion_tokens"] or 0
        budget.add(row["cost_usd"], row["charged_completion_tokens"], note_reasons(completion))
        if completion.error:
            summary.errors += 1
            summary.errors_by_reason[completion.error] = summary.errors_by_reason.get(completion.error, 0) + 1
    if rows:
        store.add_generations(rows, error_ids)
    unanswered = len(job["custom_ids"]) - len(entries)
    store.update_batch_job(job["batch_id"], status, batch.get("output_file_id"), batch.get("error_file_id"),
                           {"request_counts": batch.get("request_counts") or {}, "stored_rows": len(rows),
                            "unanswered": unanswered}, stored=True)
