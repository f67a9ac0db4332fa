"""The vLLM engine's set-up (what can be checked without a GPU) and the eval's choice of engine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from distill.errors import UsageError
from distill.llm.teachers.base import teacher_hash
from distill.llm.teachers.vllm_backend import engine_args, shard
from distill.recipe import TeacherConfig
from distill.stages.evaluate import default_engine
from distill.types import stable_hash

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_engine_arguments_for_a_model_and_for_a_lora_student(tmp_path: Path) -> None:
    cfg = TeacherConfig(backend="transformers", model="m", dtype="float32", tensor_parallel=2, seed=3)
    assert engine_args(cfg, "/models/base", None) == {"model": "/models/base", "dtype": "float32",
                                                       "tensor_parallel_size": 2, "seed": 3}
    adapter = tmp_path / "final"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/models/base", "r": 64}))
    args = engine_args(cfg, str(adapter), "/models/base")
    assert args["model"] == "/models/base"  # the base is loaded; the adapter goes with each call as a LoRARequest
    assert (args["enable_lora"], args["max_lora_rank"], args["max_loras"]) == (True, 64, 1)


def test_requests_are_shared_round_robin_between_engines() -> None:
    assert shard(list("abcdefg"), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert shard(list("ab"), 1) == [[0, 1]]


def test_dtype_joins_the_teacher_hash_only_when_set() -> None:
    auto = TeacherConfig(model="m")
    assert teacher_hash(auto, "p") == stable_hash("teacher-v1", "openai", "m", 0.7, 1.0, 4096, None, [], {}, "p")
    assert teacher_hash(auto.model_copy(update={"dtype": "float32"}), "p") != teacher_hash(auto, "p")


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_without_vllm_the_backend_says_how_to_get_it_and_eval_uses_transformers() -> None:
    from distill.llm.teachers.vllm_backend import VLLMTeacher

    with pytest.raises(UsageError, match="pip install 'distill\\[vllm\\]'"):
        VLLMTeacher(TeacherConfig(backend="vllm", model="m"))
    assert default_engine() == "transformers"


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (it needs a CUDA machine); the engine's set-up is "
                                         "tested above, a real run only where a GPU is lent")
def test_a_real_vllm_engine_on_a_tiny_model(tmp_path: Path) -> None:  # pragma: no cover - GPU machines only
    import asyncio

    from distill.llm.teachers.vllm_backend import VLLMTeacher, visible_gpus
    from distill.testing.tiny_model import build_tiny_model
    from distill.types import ChatRequest, SamplingParams

    if visible_gpus() == 0:
        pytest.skip("no GPU visible")
    model = build_tiny_model(tmp_path / "tiny")
    teacher = VLLMTeacher(TeacherConfig(backend="vllm", model=str(model), dtype="float32"))
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=8, seed=0)
    requests = [ChatRequest(f"p{i}", 0, ({"role": "user", "content": f"{i} + 1"},), params) for i in range(4)]

    async def run() -> list:
        return [c async for c in teacher.complete(requests)]

    out = asyncio.run(run())
    assert [c.request.problem_id for c in out] == ["p0", "p1", "p2", "p3"]
