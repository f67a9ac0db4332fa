"""The teacher contract shared by every backend, and the teacher-configuration hash.

A teacher turns chat requests into completions asynchronously. ``complete`` consumes its request
iterable lazily, pulling the next request only when it has capacity, so the caller can stop feeding
(budgets, Ctrl-C) without cancelling requests already paid for. It yields one ``Completion`` per
request as soon as each is done and never raises for a per-request failure: the completion carries an
``error`` reason code and a one-line ``error_detail`` instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Protocol

from distill.errors import UsageError
from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Completion, stable_hash


class Teacher(Protocol):
    name: str

    def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]: ...

    async def aclose(self) -> None: ...


def teacher_hash(cfg: TeacherConfig, prompt_fingerprint: str) -> str:
    """What decides the text of a generation: backend, model, sampling and the prompt.

    Not included: ``n`` (raising it adds samples to the same set), base URLs, concurrency, timeouts,
    retries, prices, budgets and parallelism. ``dtype`` (when not ``auto``) and budget forcing (when set) are.
    """
    # only when set, so hashes from before these fields stay the same
    extra = [] if cfg.dtype == "auto" else [cfg.dtype]
    if cfg.max_thinking_tokens is not None:
        extra += [["budget", cfg.max_thinking_tokens, cfg.extend_times, cfg.extend_with]]
    return stable_hash("teacher-v1", cfg.backend, cfg.model, cfg.temperature, cfg.top_p, cfg.max_tokens, cfg.seed,
                       list(cfg.stop), cfg.extra_body, prompt_fingerprint, *extra)


def adapter_base_model(model_ref: str, resolve: Callable[[str], Path]) -> str | None:
    """The base model of a PEFT adapter folder (one with ``adapter_config.json``), or None for anything else.

    ``base_model_name_or_path`` may be absolute, relative to the recipe (``resolve``) or to the adapter
    folder, or a hub id (returned as is).
    """
    config = Path(model_ref) / "adapter_config.json"
    if not config.is_file():
        return None
    base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise UsageError(f"teacher.model: the adapter in '{model_ref}' names no base model "
                         f"(base_model_name_or_path in adapter_config.json)")
    for candidate in (resolve(base), config.parent / base):
        if candidate.exists():
            return str(candidate.resolve())
    return base
