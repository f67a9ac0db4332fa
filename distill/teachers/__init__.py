"""Teacher backends behind one interface (``base.Teacher``); ``make_teacher`` picks one by name.

Backends are imported only when used: ``transformers`` pulls in torch, ``vllm`` is an optional extra.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distill.recipe import TeacherConfig
from distill.teachers.base import Teacher, teacher_hash

__all__ = ["Teacher", "make_teacher", "teacher_hash"]


def make_teacher(cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None) -> Teacher:
    if cfg.backend == "openai":
        from distill.teachers.openai_compat import OpenAITeacher

        return OpenAITeacher(cfg)
    if cfg.backend == "transformers":
        from distill.teachers.transformers_backend import TransformersTeacher

        return TransformersTeacher(cfg, resolve)
    from distill.teachers.vllm_backend import VLLMTeacher

    return VLLMTeacher(cfg, resolve)
