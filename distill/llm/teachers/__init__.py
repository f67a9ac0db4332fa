"""Teacher backends behind one interface (``base.Teacher``); ``make_teacher`` picks one by name from
``TEACHERS``: a factory ``(config, resolve) -> Teacher`` per backend, where ``resolve`` turns a path in the
recipe into an absolute one. A plugin adds a backend through the ``distill.teachers`` entry-point group.

Backends are imported only when used: ``transformers`` pulls in torch, ``vllm`` is an optional extra.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distill.llm.teachers.base import Teacher, teacher_hash
from distill.recipe import TeacherConfig
from distill.registry import Registry

__all__ = ["TEACHERS", "Teacher", "make_teacher", "teacher_hash"]


TeacherFactory = Callable[[TeacherConfig, "Callable[[str], Path] | None"], Teacher]
TEACHERS: Registry[TeacherFactory] = Registry("teacher backend", entry_points="distill.teachers")


@TEACHERS.register("openai")
def _openai(cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None) -> Teacher:
    from distill.llm.teachers.openai_compat import OpenAITeacher

    return OpenAITeacher(cfg)


@TEACHERS.register("transformers")
def _transformers(cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None) -> Teacher:
    from distill.llm.teachers.transformers_backend import TransformersTeacher

    return TransformersTeacher(cfg, resolve)


@TEACHERS.register("vllm")
def _vllm(cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None) -> Teacher:
    from distill.llm.teachers.vllm_backend import VLLMTeacher

    return VLLMTeacher(cfg, resolve)


def make_teacher(cfg: TeacherConfig, resolve: Callable[[str], Path] | None = None) -> Teacher:
    return TEACHERS.get(cfg.backend)(cfg, resolve)
