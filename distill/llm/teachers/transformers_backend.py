"""The ``transformers`` backend: the teacher model in this process, on CPU or GPU.

Requests are taken ``batch_size`` at a time from the (lazy) request iterable, rendered with the
model's chat template, left-padded, and generated in one ``generate`` call on a worker thread so the
event loop (and the store's flushes) keep running. Sampling follows the recipe (``temperature`` 0 means
greedy); with a ``seed`` each batch is seeded with ``seed + first sample index`` for reproducibility.
A row whose generation ends without the EOS token is ``finish_reason: length``. Special tokens such
as ``<think>`` are kept in the text; padding and EOS are not. ``model`` is a local folder (relative to
the recipe) or a Hugging Face hub id (``from_pretrained``'s own download code). A folder holding a PEFT
adapter (``adapter_config.json``, as ``distill train`` saves a LoRA student) is loaded on its base model
(``base_model_name_or_path``: an absolute path, a path relative to the recipe or to the adapter folder, or a
hub id) and merged for generation; the tokenizer comes from the adapter folder when it has one, else from
the base.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from distill.errors import UsageError
from distill.llm.teachers.base import adapter_base_model
from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Completion


class TransformersTeacher:
    name = "transformers"

    def __init__(self, cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None):
        self.cfg = cfg
        self._resolve = resolve or (lambda name: Path(name).expanduser())
        local = self._resolve(cfg.model)
        self.model_ref = str(local) if local.exists() else cfg.model
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not sys.stderr.isatty():  # a log or a pipe: no "Loading weights" bars (the stage prints its own line)
            transformers.utils.logging.disable_progress_bar()

        adapter_base = adapter_base_model(self.model_ref, self._resolve)
        base_ref = adapter_base or self.model_ref
        tokenizer_ref = base_ref if adapter_base and not _has_tokenizer(Path(self.model_ref)) else self.model_ref
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(tokenizer_ref)
            device = self.cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}.get(
                self.cfg.dtype, torch.bfloat16 if device.startswith("cuda") else torch.float32)
            model = AutoModelForCausalLM.from_pretrained(base_ref, dtype=dtype)
            if adapter_base:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.model_ref).merge_and_unload()
            self._model = model.to(device).eval()
        except OSError as exc:
            raise UsageError(f"teacher.model: cannot load '{self.model_ref}': {str(exc).splitlines()[0]}") from None
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

    async def aclose(self) -> None:
        self._model = None

    async def complete(self, requests: Iterable[ChatRequest]) -> AsyncIterator[Completion]:
        iterator = iter(requests)
        await asyncio.to_thread(self._load)
        while batch := list(islice(iterator, self.cfg.batch_size)):
            for completion in await asyncio.to_thread(self._generate, batch):
                yield completion

    def _generate(self, batch: list[ChatRequest]) -> list[Completion]:
        tok = self._tokenizer
        params = batch[0].params
        texts = [tok.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True) for r in batch]
        prompt_tokens = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
        started = time.monotonic()
        if self.cfg.max_thinking_tokens is None:
            outputs = [(text, used, "stop" if why != "length" else "length")
                       for text, used, why in self._continue(texts, params.max_tokens, [], batch)]
        else:
            from distill.llm.budget_forcing import force_budget

            forced = force_budget(texts, lambda rows, t, m, stop: self._continue(t, m, stop, [batch[i] for i in rows]),
                                  self.cfg.max_thinking_tokens, params.max_tokens, self.cfg.extend_times,
                                  self.cfg.extend_with)
            outputs = [(f.text, f.tokens, f.finish) for f in forced]
        latency = time.monotonic() - started
        return [Completion(request, text, None, finish, prompt_tokens[i], used, latency, model=self.cfg.model)
                for i, (request, (text, used, finish)) in enumerate(zip(batch, outputs, strict=True))]

    def _continue(self, texts: list[str], max_new_tokens: int, stop: list[str],
                  batch: list[ChatRequest]) -> list[tuple[str, int, str]]:
        """Generate after each text (left-padded, one ``generate`` call): per text the new text, the tokens it took,
        and why it ended: ``stop`` (it produced a string of ``stop``, kept at its end), ``eos`` or ``length``."""
        import torch

        tok, model = self._tokenizer, self._model
        params = batch[0].params
        inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        if params.seed is not None:
            torch.manual_seed(params.seed + batch[0].sample_index)
        sampling = params.temperature > 0
        extra = {"stop_strings": stop, "tokenizer": tok} if stop else {}
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=sampling,
                temperature=params.temperature if sampling else None, top_p=params.top_p if sampling else None,
                pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **extra)
        prompt_len = inputs["input_ids"].shape[1]
        drop = {tok.pad_token_id, tok.eos_token_id}
        results = []
        for i in range(len(texts)):
            new = output[i, prompt_len:].tolist()
            ended = tok.eos_token_id in new
            if ended:
                new = new[: new.index(tok.eos_token_id) + 1]
            else:
                while new and new[-1] == tok.pad_token_id:  # a row that stopped on a stop string, padded after
                    new.pop()
            text = tok.decode([t for t in new if t not in drop], skip_special_tokens=False)
            hit = min((text.find(s) + len(s) for s in stop if s in text), default=None)
            if hit is not None:
                results.append((text[:hit], len(new), "stop"))
            else:
                results.append((text, len(new), "eos" if ended else "length"))
        return results


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"))
