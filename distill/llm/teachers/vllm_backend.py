"""The ``vllm`` backend: vLLM's offline engine in this process (an optional extra, GPU only).

Install with ``pip install 'distill[vllm]'`` on a CUDA machine; it is imported only when a recipe
says ``backend: vllm``. The whole request list is handed to ``LLM.generate`` in chunks of
``batch_size * 64`` (vLLM batches continuously inside), with one ``SamplingParams`` per request so each
sample gets its own seed. Same request and completion types as the other backends. It cannot run on a
CPU-only machine, so it is not exercised by the test suite; the ``openai`` backend against
``vllm serve`` is the tested way to use vLLM.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from distill.errors import UsageError
from distill.llm.teachers.base import adapter_base_model
from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Completion


class VLLMTeacher:
    name = "vllm"

    def __init__(self, cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None):
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise UsageError("teacher.backend vllm needs vLLM: pip install 'distill[vllm]' (CUDA machines only), "
                             "or serve the model with `vllm serve` and use backend: openai") from None
        self.cfg = cfg
        local = resolve(cfg.model) if resolve is not None else Path(cfg.model)
        self.model_ref = str(local) if local.exists() else cfg.model
        if adapter_base_model(self.model_ref, resolve or (lambda name: Path(name).expanduser())):
            raise UsageError(f"teacher.model: '{self.model_ref}' is a LoRA adapter, which the vllm backend does not "
                             f"load; use backend: transformers, or serve it with `vllm serve BASE --enable-lora "
                             f"--lora-modules NAME=FOLDER` and backend: openai, or train with merge: true")
        self._llm: Any = None

    async def aclose(self) -> None:
        self._llm = None

    async def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]:
        iterator = iter(requests)
        while chunk := list(islice(iterator, self.cfg.batch_size * 64)):
            for completion in await asyncio.to_thread(self._generate, chunk):
                yield completion

    def _generate(self, chunk: list[ChatRequest]) -> list[Completion]:
        from vllm import LLM, SamplingParams

        if self._llm is None:
            self._llm = LLM(model=self.model_ref)
        sampling = [SamplingParams(temperature=r.params.temperature, top_p=r.params.top_p,
                                   max_tokens=r.params.max_tokens, stop=list(r.params.stop) or None,
                                   seed=None if r.params.seed is None else r.params.seed + r.sample_index)
                    for r in chunk]
        started = time.monotonic()
        outputs = self._llm.chat([list(r.messages) for r in chunk], sampling, use_tqdm=False)
        latency = (time.monotonic() - started) / max(1, len(chunk))
        results = []
        for request, output in zip(chunk, outputs, strict=True):
            best = output.outputs[0]
            results.append(Completion(request, best.text, None, best.finish_reason, len(output.prompt_token_ids),
                                      len(best.token_ids), latency, model=self.cfg.model))
        return results
