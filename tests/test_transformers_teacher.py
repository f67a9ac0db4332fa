"""The in-process transformers backend, and a real `transformers serve` process, on a tiny local model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support import complete_all

from distill.llm.teachers import make_teacher
from distill.recipe import TeacherConfig
from distill.testing.tiny_model import build_tiny_model
from distill.types import ChatRequest, Completion, SamplingParams


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def collect(cfg: TeacherConfig, reqs: list[ChatRequest]) -> list[Completion]:
    return complete_all(make_teacher(cfg), reqs)


def reqs(n: int, max_tokens: int, seed: int | None = 0, temperature: float = 1.0) -> list[ChatRequest]:
    params = SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed)
    return [ChatRequest(f"p{i}", s, ({"role": "user", "content": f"What is {i} + {i}?"},), params)
            for i in range(3) for s in range(n)]


def test_tiny_model_is_reused_and_has_a_training_template(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    before = (tiny_model / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(tiny_model) == tiny_model
    assert (tiny_model / "model.safetensors").stat().st_mtime_ns == before
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert "{% generation %}" in tokenizer.chat_template
    assert tokenizer.convert_tokens_to_ids("<think>") != tokenizer.unk_token_id


def test_in_process_backend_batches_samples_and_reports_length(tiny_model: Path) -> None:
    cfg = TeacherConfig(backend="transformers", model=str(tiny_model), batch_size=4, max_tokens=12)
    out = collect(cfg, reqs(n=2, max_tokens=12))
    assert [(c.request.problem_id, c.request.sample_index) for c in out] == [(f"p{i}", s) for i in range(3)
                                                                            for s in range(2)]
    for completion in out:
        assert completion.error is None and isinstance(completion.content, str)
        assert completion.prompt_tokens > 5 and 1 <= completion.completion_tokens <= 12
        # A random model rarely emits EOS within 12 tokens; when it does not, the row says so.
        assert completion.finish_reason == ("length" if completion.completion_tokens == 12 else "stop")
        assert "<|im_end|>" not in completion.content and "<|endoftext|>" not in completion.content
    # Seeded sampling is reproducible; greedy decoding is deterministic.
    assert [c.content for c in collect(cfg, reqs(n=2, max_tokens=12))] == [c.content for c in out]
    greedy = [c.content for c in collect(cfg, reqs(n=1, max_tokens=8, seed=None, temperature=0))]
    assert greedy == [c.content for c in collect(cfg, reqs(n=1, max_tokens=8, seed=None, temperature=0))]


def test_hub_id_path_gives_a_one_line_error_offline(tmp_path: Path) -> None:
    from distill.errors import UsageError

    cfg = TeacherConfig(backend="transformers", model="no-such-org/no-such-model", max_tokens=4)
    with pytest.raises(UsageError, match="cannot load 'no-such-org/no-such-model'"):
        collect(cfg, reqs(n=1, max_tokens=4))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_openai_backend_against_a_real_transformers_serve(tiny_model: Path, tmp_path: Path) -> None:
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the transformers CLI is not installed")
    port = _free_port()
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    (tmp_path / "hub").mkdir()
    server = subprocess.Popen([exe, "serve", str(tiny_model), "--host", "127.0.0.1", "--port", str(port),
                               "--device", "cpu"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, "transformers serve exited"
                assert time.monotonic() < deadline, "transformers serve not ready in 90 s"
                time.sleep(0.3)
        cfg = TeacherConfig(model=str(tiny_model), base_urls=[f"http://127.0.0.1:{port}/v1"], max_tokens=8,
                            timeout_s=60, max_concurrency=2)
        out = collect(cfg, reqs(n=2, max_tokens=8, seed=5))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(out) == 6 and all(c.error is None for c in out), [c.error_detail for c in out]
    assert all(c.completion_tokens == 8 and c.finish_reason == "length" for c in out)
    assert all(c.prompt_tokens and c.prompt_tokens > 5 for c in out)
    # The server ignores n: the client learned it and sent the other samples separately with their seeds.
    assert len({c.content for c in out}) > 1


def test_the_dtype_setting_loads_the_weights_in_that_dtype(tiny_model: Path) -> None:
    import torch

    from distill.llm.teachers.transformers_backend import TransformersTeacher

    teacher = TransformersTeacher(TeacherConfig(backend="transformers", model=str(tiny_model), dtype="bfloat16"))
    teacher._load()
    assert teacher._model.dtype == torch.bfloat16  # on a CPU, where auto would be float32
    auto = TransformersTeacher(TeacherConfig(backend="transformers", model=str(tiny_model)))
    auto._load()
    assert auto._model.dtype == torch.float32
