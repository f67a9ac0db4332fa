"""What runs inside the Ray actors: plain classes (``ray.remote`` wraps them on the driver), so this module never
imports Ray and the workers import only what their work needs.

- ``TeacherWorker`` holds one in-process teacher (transformers, vLLM, a plugin's) for the actor's life: the model
  loads on the first batch and stays warm. ``complete(batch)`` returns the batch's completions, exactly as the
  teacher makes them locally for the same batch (same batching, same seeds).
- ``CheckWorker`` holds one check for the actor's life: a warm code sandbox, a math worker pool with its hard
  timeouts, the language models. ``check_batch(items)`` returns the verdicts, as ``check.check_batch`` does locally.

Both keep nothing between batches but warm resources: the driver alone plans, counts and stores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distill.recipe import TeacherConfig
from distill.runtime.ray_cluster import drill
from distill.types import ChatRequest, Completion, Generation, Problem, Verdict


class TeacherWorker:
    def __init__(self, cfg: TeacherConfig, resolve: Callable[[str], Path]):
        from distill.llm.teachers import make_teacher

        self.teacher = make_teacher(cfg, resolve)

    def complete(self, batch: list[ChatRequest]) -> list[Completion]:
        drill("teacher")

        async def collect() -> list[Completion]:
            return [completion async for completion in self.teacher.complete(batch)]

        return asyncio.run(collect())

    def close(self) -> None:
        asyncio.run(self.teacher.aclose())


class CheckWorker:
    def __init__(self, check_class: type, params: dict[str, Any]):
        self.check = check_class(**params)

    def check_batch(self, items: list[tuple[Problem, Generation]]) -> list[Verdict]:
        drill("check")
        return self.check.check_batch(items)

    def close(self) -> None:
        self.check.close()
