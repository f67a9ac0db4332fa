"""The teacher contract shared by every backend, and the teacher-configuration hash.

A teacher turns chat requests into completions asynchronously. ``complete`` consumes its request
iterable lazily, pulling the next request only when it has capacity, so the caller can stop feeding
(budgets, Ctrl-C) without cancelling requests already paid for. It yields one ``Completion`` per
request as soon as each is done and never raises for a per-request failure: the completion carries an
``error`` reason code and a one-line ``error_detail`` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Completion, stable_hash


class Teacher(Protocol):
    name: str

    def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]: ...

    async def aclose(self) -> None: ...


def teacher_hash(cfg: TeacherConfig, prompt_fingerprint: str) -> str:
    """What decides the text of a generation: backend, model, sampling and the prompt.

    Not included: ``n`` (raising it adds samples to the same set), base URLs, concurrency, timeouts,
    retries, prices and budgets.
    """
    return stable_hash("teacher-v1", cfg.backend, cfg.model, cfg.temperature, cfg.top_p, cfg.max_tokens, cfg.seed,
                       list(cfg.stop), cfg.extra_body, prompt_fingerprint)
