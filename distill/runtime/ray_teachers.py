"""An in-process teacher (transformers, vLLM, a plugin's) run as Ray actors, behind the same ``Teacher`` interface.

The driver's request loop (``llm.requests.send_and_store``) is unchanged: it feeds requests lazily, checks the
budgets before each one, and stores each completion on its writer thread. ``RayTeacher`` pulls requests in the
batches the backend would form locally (``batch_size`` for transformers, ``batch_size * 64`` for vLLM, whose
engine batches inside), sends one batch per actor at a time, and yields completions as each batch comes back.
Because each batch holds the same requests as locally and the backend seeds per batch, the stored rows are the
ones a local run stores (on the same hardware and library versions).

Each actor asks Ray for ``executor.num_cpus`` CPUs and ``executor.num_gpus`` GPUs and loads the model once. When a
recipe sets ``max_cost_usd`` or ``max_completion_tokens``, at most ``max_concurrency`` requests are out at once
(the budget's clipped figure), so a cap overshoots by no more than it does locally. A batch whose actor died goes
to a fresh actor (``executor.max_retries`` times; ``retried`` counts the requests sent again); past that, its
requests come back as ``worker_lost`` error rows, which a rerun sends again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import islice
from pathlib import Path

from distill.recipe import ExecutorConfig, TeacherConfig
from distill.runtime.ray_cluster import LOST, ActorBatches, actor_count, connect
from distill.types import ChatRequest, Completion

VLLM_CHUNK = 64  # the vllm backend hands batch_size * 64 requests to its engine at once


def dispatch_size(cfg: TeacherConfig) -> int:
    """How many requests one actor call carries: the batch the backend forms locally."""
    return cfg.batch_size * (VLLM_CHUNK if cfg.backend == "vllm" else 1)


class RayTeacher:
    name = "ray"

    def __init__(self, cfg: TeacherConfig, resolve: Callable[[str], Path], executor: ExecutorConfig):
        self.cfg = cfg
        self.resolve = resolve
        self.executor = executor
        self.retried = 0
        self.actors = 0

    async def aclose(self) -> None:
        """Actors end with ``complete``; nothing is held between calls."""

    async def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]:
        from distill.runtime.ray_workers import TeacherWorker

        ray = connect(self.executor)
        ex, cfg = self.executor, self.cfg
        self.actors = actor_count(ray, ex, ex.num_gpus)
        size = dispatch_size(cfg)
        if cfg.max_cost_usd is not None or cfg.max_completion_tokens is not None:
            self.actors = min(self.actors, max(1, cfg.max_concurrency // size))
        remote = ray.remote(TeacherWorker).options(num_cpus=ex.num_cpus, num_gpus=ex.num_gpus, max_restarts=0)
        pool = ActorBatches(ray, lambda: remote.remote(cfg, self.resolve), lambda actor, batch:
                            actor.complete.remote(batch), self.actors, ex.max_retries)
        iterator = iter(requests)
        waiting: dict[asyncio.Future, object] = {}  # one asyncio future per ObjectRef in flight
        try:
            while True:
                while pool.has_room() and (batch := list(islice(iterator, size))):
                    pool.submit(batch)
                known = set(waiting.values())
                waiting.update({asyncio.wrap_future(ref.future()): ref for ref in pool.in_flight() if ref not in known})
                if not waiting:
                    return
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    settled = pool.settle(waiting.pop(future))
                    self.retried = pool.retried
                    if settled is None:  # its actor died; the batch went again to a fresh one
                        continue
                    batch, result = settled
                    for completion in (_lost(batch, ex.max_retries) if result is LOST else result):
                        yield completion
        finally:
            pool.close()


def _lost(batch: list[ChatRequest], retries: int) -> list[Completion]:
    detail = f"the Ray actor generating it died {retries + 1} times (killed, out of memory or its node lost)"
    return [Completion(request, None, None, None, None, None, 0.0, attempts=retries + 1, error="worker_lost",
                       error_detail=detail) for request in batch]
