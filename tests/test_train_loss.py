"""The loss `distill train` computes: TRL's fused, chunked LM head, with our labels. On CPU: its loss and gradients
equal the plain loss (whole logits, cross-entropy over the completion tokens) within float tolerance, and no tensor
as large as the whole logits is ever created; the memory estimate counts what it holds, so a 7B LoRA at 32K fits
an 80 GB GPU."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from distill.recipe import TrainConfig
from distill.stages.train.data import IGNORE_INDEX
from distill.stages.train.memory import HEAD_VOCAB_TILE
from distill.stages.train.presets import resolve_settings
from distill.testing.tiny_model import build_tiny_model

VOCAB = 100_000  # over TRL's 32,768-entry vocabulary tile, so a tile is a third of the whole logits


class LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an operation returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("loss") / "model")


def wide_model(method: str) -> torch.nn.Module:
    """A one-layer Qwen2 with a 100K vocabulary (untied head) and, for LoRA, adapters on every linear layer."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False))
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0,
                                                 init_lora_weights=False))
    return model


def rows() -> list[dict[str, list[int]]]:
    generator = torch.Generator().manual_seed(1)
    out = []
    for length, prompt in ((160, 40), (120, 70)):
        ids = torch.randint(10, 1400, (length,), generator=generator).tolist()
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return out


@pytest.mark.parametrize("method", ["full", "lora"])
def test_the_fused_loss_and_gradients_equal_the_plain_loss(tokenizer_dir: Path, tmp_path: Path, method: str) -> None:
    import datasets
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from distill.stages.train.trainer import TrainSummary, _sft_config, uses_fused_head

    model = wide_model(method)
    plain = copy.deepcopy(model)
    settings = resolve_settings(TrainConfig(base_model="m", method=method, per_device_batch_size=2,
                                            effective_batch_size=2, gradient_checkpointing=False, max_steps=1))
    args = _sft_config(settings, TrainSummary("t", tmp_path), tmp_path, device="cpu", compute=None, packing=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows()),
                         processing_class=AutoTokenizer.from_pretrained(tokenizer_dir))
    assert uses_fused_head(trainer.model) and not uses_fused_head(plain)
    batch = next(iter(trainer.get_train_dataloader()))
    # Our labels reach the loss as given: the prompt masked, the padding masked, the completion the targets.
    assert (batch["labels"] != IGNORE_INDEX).sum().item() == (160 - 40) + (120 - 70)

    probe = LargestTensor()
    with probe:
        fused_loss = trainer.compute_loss(trainer.model, dict(batch))
        fused_loss.backward()
    tokens = batch["input_ids"].numel()
    assert probe.largest < tokens * VOCAB / 2  # never the (tokens x vocabulary) logits
    assert probe.largest <= tokens * HEAD_VOCAB_TILE

    probe = LargestTensor()
    with probe:  # the plain loss, as a model's own forward computes it: whole logits
        logits = plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        targets = batch["labels"][:, 1:]
        plain_loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), targets.reshape(-1),
                                                       ignore_index=IGNORE_INDEX)
        plain_loss.backward()
    assert probe.largest >= tokens * VOCAB  # the probe sees whole logits where they exist

    assert fused_loss.item() == pytest.approx(plain_loss.item(), rel=1e-5)
    fused_grads = {n: p.grad for n, p in trainer.model.named_parameters() if p.requires_grad}
    plain_grads = {n: p.grad for n, p in plain.named_parameters() if p.requires_grad}
    assert fused_grads.keys() == plain_grads.keys() and len(fused_grads) > 4
    for name, grad in plain_grads.items():
        assert grad is not None and fused_grads[name] is not None, name
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def qwen7b_shape():  # noqa: ANN201
    from transformers import Qwen2Config

    from distill.stages.train.memory import model_shape

    return model_shape(Qwen2Config(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                                   num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
                                   tie_word_embeddings=False))


def test_a_7b_lora_at_32k_fits_80gb_with_the_fused_head_and_not_with_whole_logits() -> None:
    from distill.errors import UsageError
    from distill.stages.train.memory import GB, check_fits, estimate_memory

    shape = qwen7b_shape()
    common = {"method": "lora", "dtype": "bf16", "max_length": 32768, "micro_batch": 1,
              "gradient_checkpointing": True, "lora_r": 64}
    fused = estimate_memory(shape, **common)
    plain = estimate_memory(shape, **common, lm_head="plain")
    check_fits(fused, device="cuda", limit_bytes=80 * GB, method="lora", max_length=32768)
    assert fused.logits < 2 * GB and plain.logits > 60 * GB  # 32,768 x 152,064 x 14 bytes = 65 GiB whole
    assert 30 * GB < fused.total < 45 * GB
    with pytest.raises(UsageError, match=r"needs about 9[0-9]\.[0-9] GB on cuda but 80.0 GB"):
        check_fits(plain, device="cuda", limit_bytes=80 * GB, method="lora", max_length=32768)


def qwen32b_shape():  # noqa: ANN201
    from transformers import Qwen2Config

    from distill.stages.train.memory import model_shape

    return model_shape(Qwen2Config(hidden_size=5120, intermediate_size=27648, num_hidden_layers=64,
                                   num_attention_heads=40, num_key_value_heads=8, vocab_size=152064,
                                   tie_word_embeddings=False))


def test_the_estimate_follows_the_launch_and_accepts_sky_t1s_8_gpu_32b_run() -> None:
    from distill.errors import UsageError
    from distill.stages.train.memory import GB, Launch, check_fits, estimate_memory

    shape = qwen32b_shape()
    assert 32.5e9 < shape.params < 33e9  # Qwen2.5-32B: 32.8B
    common = {"method": "full", "dtype": "bf16", "max_length": 16384, "micro_batch": 1,
              "gradient_checkpointing": True}
    one = estimate_memory(shape, **common)
    ddp = estimate_memory(shape, **common, launch=Launch(8))
    zero3 = estimate_memory(shape, **common, launch=Launch(8, 3))
    offload = estimate_memory(shape, **common, launch=Launch(8, 3, offload_optimizer=True, offload_params=True))
    # DDP replicates everything; ZeRO-3 shards weights, gradients and the (fp32 master + moments) optimizer state.
    assert ddp.total == one.total and one.total > 250 * GB
    assert zero3.optimizer == shape.params * 12 // 8 and zero3.gradients == shape.params * 2 // 8
    assert shape.params * 2 // 8 < zero3.weights < shape.params * 2 // 8 + 3 * GB  # shard + gathered layers
    # Sky-T1's launch (ZeRO-3, parameters and optimizer on the CPU) fits an 80 GB H100; the host holds the rest.
    check_fits(offload, device="cuda", limit_bytes=80 * GB, method="full", max_length=16384)
    assert offload.optimizer == 0 and offload.total < 30 * GB
    assert offload.host == pytest.approx(shape.params * (2 + 12 + 4) / 8, rel=0.01)
    assert "8 processes, ZeRO-3, optimizer and parameters offloaded to the CPU" in offload.line()
    with pytest.raises(UsageError, match="zero3_offload.yaml") as refused:
        check_fits(zero3, device="cuda", limit_bytes=80 * GB, method="full", max_length=16384)
    assert "per process (8 processes, ZeRO-3;" in str(refused.value)
    with pytest.raises(UsageError, match=r"needs about [2-5][0-9][0-9]\.[0-9] GB on cuda"):
        check_fits(one, device="cuda", limit_bytes=80 * GB, method="full", max_length=16384)


def test_8bit_and_paged_optimizers_shrink_or_move_the_state() -> None:
    from distill.stages.train.memory import estimate_memory

    shape = qwen7b_shape()
    common = {"method": "lora", "dtype": "bf16", "max_length": 4096, "micro_batch": 1,
              "gradient_checkpointing": True, "lora_r": 64}
    adamw = estimate_memory(shape, **common)
    eight = estimate_memory(shape, **common, optim="adamw_bnb_8bit")
    paged = estimate_memory(shape, **common, optim="paged_adamw_8bit")
    assert adamw.optimizer == 2 * 4 * adamw.trainable_params  # two fp32 moments (fused AdamW: no copy)
    assert eight.optimizer == 2 * 1 * adamw.trainable_params + 4 * adamw.trainable_params  # a byte each + step copy
    assert paged.optimizer == 0 and paged.host == eight.optimizer  # evictable to the host: not the device's peak


def test_the_launch_is_read_from_accelerates_environment(tmp_path: Path) -> None:
    import json

    from distill.stages.train.memory import Launch

    assert Launch.from_env({}) == Launch(1)
    assert Launch.from_env({"WORLD_SIZE": "4"}) == Launch(4)  # torchrun / accelerate --multi_gpu: DDP
    env = {"WORLD_SIZE": "8", "ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
           "ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE": "cpu", "ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE": "cpu"}
    assert Launch.from_env(env) == Launch(8, 3, True, True)
    config = tmp_path / "ds.json"  # a DeepSpeed JSON (LLaMA-Factory / Sky-T1 style) wins over the flags
    config.write_text(json.dumps({"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}}))
    assert Launch.from_env(env | {"ACCELERATE_DEEPSPEED_CONFIG_FILE": str(config)}) == Launch(8, 2, True, False)


def test_the_zero3_offload_config_is_sky_t1s_launch() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    root = Path(__file__).resolve().parents[1]
    config = load_config_from_file(str(root / "distill" / "stages" / "train" / "accelerate" / "zero3_offload.yaml"))
    ds = config.deepspeed_config
    assert config.distributed_type == "DEEPSPEED" and config.num_processes == 8 and config.mixed_precision == "bf16"
    assert (ds["zero_stage"], ds["offload_optimizer_device"], ds["offload_param_device"]) == (3, "cpu", "cpu")
