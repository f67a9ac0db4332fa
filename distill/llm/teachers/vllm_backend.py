"""The ``vllm`` backend: vLLM's offline engine in this process (an optional extra, GPU only).

Install with ``pip install 'distill[vllm]'`` on a CUDA machine; it is imported only when a recipe
says ``backend: vllm`` (or an eval picks it: ``eval_engine``). The whole request list is handed to
``LLM.chat`` in chunks of ``batch_size * 64`` (vLLM batches continuously inside), with one ``SamplingParams``
per request so each sample gets its own seed. Same request and completion types as the other backends.

- ``dtype`` (``auto``, ``bfloat16``, ``float16``, ``float32``) is passed to the engine; Sky-T1's evaluation fix
  was float32 inference.
- A LoRA student (a folder with ``adapter_config.json``, as ``distill train`` saves it) is served on its base
  model with ``enable_lora`` and a ``LoRARequest`` per call (``max_lora_rank`` from the adapter's ``r``), never
  merged into a copy of the weights.
- Budget forcing (``max_thinking_tokens``, ``extend_times``, ``extend_with``) runs the same rounds as the transformers
  backend (``distill/llm/budget_forcing.py``) through ``LLM.generate`` on the rendered chat template.
- ``tensor_parallel`` GPUs per engine; ``data_parallel`` engines (default: the visible GPUs over
  ``tensor_parallel``), each in its own process pinned to its GPUs with ``CUDA_VISIBLE_DEVICES``, fed every
  ``data_parallel``-th request of a chunk; the completions come back in request order.

It cannot run on a CPU-only machine, so only its set-up (``engine_args``, ``shard``) is exercised by the test
suite; the ``openai`` backend against ``vllm serve`` is the other tested way to use vLLM.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from distill.errors import UsageError
from distill.llm.teachers.base import adapter_base_model
from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Completion


def engine_args(cfg: TeacherConfig, model_ref: str, adapter_base: str | None) -> dict[str, Any]:
    """The keyword arguments of ``vllm.LLM`` for this teacher: its model (an adapter's base), dtype, tensor
    parallelism, and LoRA support sized from the adapter."""
    args: dict[str, Any] = {"model": adapter_base or model_ref, "dtype": cfg.dtype,
                            "tensor_parallel_size": cfg.tensor_parallel, "seed": cfg.seed or 0}
    if adapter_base is not None:
        rank = json.loads((Path(model_ref) / "adapter_config.json").read_text(encoding="utf-8")).get("r", 16)
        args |= {"enable_lora": True, "max_lora_rank": max(8, int(rank)), "max_loras": 1}
    return args


def shard(items: list[Any], parts: int) -> list[list[int]]:
    """Indices of ``items`` for each of ``parts`` engines, round robin (lengths differ by at most one)."""
    return [list(range(i, len(items), parts)) for i in range(parts)]


def visible_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip()])
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:
        return 0


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
        self.adapter_base = adapter_base_model(self.model_ref, resolve or (lambda name: Path(name).expanduser()))
        gpus = visible_gpus()
        self.data_parallel = cfg.data_parallel or max(1, gpus // cfg.tensor_parallel)
        if gpus and self.data_parallel * cfg.tensor_parallel > gpus:
            raise UsageError(f"teacher: data_parallel {self.data_parallel} x tensor_parallel {cfg.tensor_parallel} "
                             f"needs more GPUs than the {gpus} visible")
        self._llm: Any = None
        self._pool: Any = None

    async def aclose(self) -> None:
        self._llm = None
        for pool in self._pool or []:
            pool.shutdown(cancel_futures=True)
        self._pool = None

    async def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]:
        iterator = iter(requests)
        while chunk := list(islice(iterator, self.cfg.batch_size * 64)):
            run = self._generate if self.data_parallel == 1 else self._generate_parallel
            for completion in await asyncio.to_thread(run, chunk):
                yield completion

    def _generate(self, chunk: list[ChatRequest]) -> list[Completion]:
        if self._llm is None:
            from vllm import LLM

            self._llm = LLM(**engine_args(self.cfg, self.model_ref, self.adapter_base))
        return generate_on(self._llm, chunk, self.cfg.model, self.model_ref if self.adapter_base else None, self.cfg)

    def _generate_parallel(self, chunk: list[ChatRequest]) -> list[Completion]:
        """One engine process per data-parallel rank (vLLM's offline data parallelism: separate engines), each
        given its share of the chunk; the engines stay up between chunks."""
        from concurrent.futures import ProcessPoolExecutor

        if self._pool is None:
            import multiprocessing

            self._pool = [ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_pin_gpus, initargs=(rank, self.cfg.tensor_parallel))
                          for rank in range(self.data_parallel)]
        parts = shard(chunk, self.data_parallel)
        futures = [pool.submit(_engine_generate, self.cfg, self.model_ref, self.adapter_base,
                               [chunk[i] for i in indices])
                   for pool, indices in zip(self._pool, parts, strict=True)]
        out: list[Completion | None] = [None] * len(chunk)
        for indices, future in zip(parts, futures, strict=True):
            for i, completion in zip(indices, future.result(), strict=True):
                out[i] = completion
        return [c for c in out if c is not None]


def generate_on(llm: Any, chunk: list[ChatRequest], model_name: str, adapter: str | None,
                cfg: TeacherConfig | None = None) -> list[Completion]:
    from vllm import SamplingParams

    if cfg is not None and cfg.max_thinking_tokens is not None:
        return _forced_on(llm, chunk, model_name, adapter, cfg)

    sampling = [SamplingParams(temperature=r.params.temperature, top_p=r.params.top_p,
                               max_tokens=r.params.max_tokens, stop=list(r.params.stop) or None,
                               seed=None if r.params.seed is None else r.params.seed + r.sample_index)
                for r in chunk]
    lora = None
    if adapter is not None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("student", 1, adapter)
    started = time.monotonic()
    outputs = llm.chat([list(r.messages) for r in chunk], sampling, use_tqdm=False, lora_request=lora)
    latency = (time.monotonic() - started) / max(1, len(chunk))
    results = []
    for request, output in zip(chunk, outputs, strict=True):
        best = output.outputs[0]
        results.append(Completion(request, best.text, None, best.finish_reason, len(output.prompt_token_ids),
                                  len(best.token_ids), latency, model=model_name))
    return results


_ENGINE: Any = None


def _pin_gpus(rank: int, per_engine: int) -> None:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = [d.strip() for d in visible.split(",")] if visible else [str(i) for i in range(visible_gpus())]
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices[rank * per_engine:(rank + 1) * per_engine])


def _engine_generate(cfg: TeacherConfig, model_ref: str, adapter_base: str | None,
                     chunk: list[ChatRequest]) -> list[Completion]:
    global _ENGINE
    if _ENGINE is None:
        from vllm import LLM

        _ENGINE = LLM(**engine_args(cfg, model_ref, adapter_base))
    return generate_on(_ENGINE, chunk, cfg.model, model_ref if adapter_base else None, cfg)


def _forced_on(llm: Any, chunk: list[ChatRequest], model_name: str, adapter: str | None,
               cfg: TeacherConfig) -> list[Completion]:
    """Budget forcing (``distill/llm/budget_forcing.py``) on vLLM: the chat template rendered once, then rounds of
    ``LLM.generate`` on the growing texts."""
    from vllm import SamplingParams

    from distill.llm.budget_forcing import force_budget

    lora = None
    if adapter is not None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("student", 1, adapter)
    tok = llm.get_tokenizer()
    prompts = [tok.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True) for r in chunk]

    def continue_texts(rows: list[int], texts: list[str], max_new: int, stop: list[str]) -> list[tuple[str, int, str]]:
        params = []
        for r in (chunk[i] for i in rows):
            params.append(SamplingParams(temperature=r.params.temperature, top_p=r.params.top_p, max_tokens=max_new,
                                         stop=stop or None, include_stop_str_in_output=True,
                                         seed=None if r.params.seed is None else r.params.seed + r.sample_index))
        outputs = llm.generate(texts, params, use_tqdm=False, lora_request=lora)
        done = []
        for output in outputs:
            best = output.outputs[0]
            why = "length" if best.finish_reason == "length" else "stop" if best.stop_reason in stop else "eos"
            done.append((best.text, len(best.token_ids), why))
        return done

    started = time.monotonic()
    forced = force_budget(prompts, continue_texts, cfg.max_thinking_tokens or 1, chunk[0].params.max_tokens,
                          cfg.extend_times, cfg.extend_with)
    latency = (time.monotonic() - started) / max(1, len(chunk))
    return [Completion(r, f.text, None, f.finish, len(tok(p)["input_ids"]), f.tokens, latency, model=model_name)
            for r, p, f in zip(chunk, prompts, forced, strict=True)]
