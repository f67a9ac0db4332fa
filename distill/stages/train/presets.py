"""Training presets and the resolution of a recipe's ``train`` section into concrete settings.

Precedence: a value set in the recipe, then the preset's, then ``DEFAULTS``. Each published preset cites, value by
value, the file it comes from (read at the commits named below; batch sizes are per device x accumulation x GPUs):

- ``sky-t1``: Sky-T1-32B-Preview's full SFT. NovaSky-AI/SkyThought@0d190f1,
  ``skythought/train/LLaMA-Factory/examples/train_full/qwen2_full_sft.yaml`` (the file its training README
  names), run by LLaMA-Factory on 8 H100 with ``examples/deepspeed/ds_z3_offload_config.json``.
- ``sky-t1-lora``: the same repository's ``examples/train_lora/qwen2_lora_config.yaml`` (Sky-T1-Lora).
- ``openr1-distill``: OpenR1-Distill-7B. huggingface/open-r1@1416fa0,
  ``recipes/OpenR1-Distill-7B/sft/config_distill.yaml`` ("1 node of 8 x H100s"), run by TRL with Liger.
- ``s1``: s1-32B. simplescaling/s1@77272c6, ``train/sft.sh`` and ``train/sft_multinode.sh`` (16 H100, FSDP),
  run by TRL's SFTTrainer (``train/sft.py``).
- ``lora-1gpu`` (ours): LoRA r 64 / alpha 128 on every linear layer of a bf16 base, learning rate 1e-4, effective
  batch 32, 16,384 tokens: a 7B student on one 80 GB GPU.
- ``qlora-24gb`` (ours): QLoRA (NF4, double quantisation, bf16 compute) r 64 / alpha 16 (the QLoRA paper's),
  learning rate 2e-4, paged 8-bit AdamW, effective batch 16, 8,192 tokens: a 7-8B student on one 24 GB GPU.

Values a source leaves to its framework's defaults are written out with the default named (HF Trainer's
``max_grad_norm`` 1.0, LLaMA-Factory's ``lora_alpha`` = 2 x rank and ``lora_dropout`` 0, gradient checkpointing on
unless ``disable_gradient_checkpointing``, no packing for SFT). All four anchors cut rows at the length limit
rather than dropping them (LLaMA-Factory's ``cutoff_len``, TRL's ``max_length``), so their presets truncate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from distill.errors import UsageError
from distill.recipe import TrainConfig

DEFAULTS: dict[str, Any] = {
    "method": "lora", "learning_rate": 1e-4, "epochs": 3.0, "lr_scheduler": "cosine", "warmup_ratio": 0.03,
    "min_lr_rate": 0.0, "weight_decay": 0.0, "max_grad_norm": 1.0, "adam_beta2": 0.999, "per_device_batch_size": 1,
    "effective_batch_size": 16, "over_length": "drop", "packing": "off", "gradient_checkpointing": True,
    # lora_dropout 0: PEFT's (so TRL's), LLaMA-Factory's and Sky-T1's LoRA default. Dropout copies every adapted
    # layer's input for the backward pass: 0.05 trained LoRA r 64 @ 2,048 tokens at 0.76x the tokens/s of TRL's
    # same run without it, with 1.06x the peak memory (bench/train_throughput.py, fp32 on CPU).
    "dtype": "auto", "optim": "adamw_torch_fused", "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0,
    "lora_target_modules": "all-linear", "save_steps": 200,
}

# The file each published preset's values come from; each value's comment quotes the setting it copies from there.
SOURCES: dict[str, str] = {
    "sky-t1": "NovaSky-AI/SkyThought@0d190f1 skythought/train/LLaMA-Factory/examples/train_full/qwen2_full_sft.yaml",
    "sky-t1-lora": "NovaSky-AI/SkyThought@0d190f1 skythought/train/LLaMA-Factory/examples/train_lora/"
                   "qwen2_lora_config.yaml",
    "openr1-distill": "huggingface/open-r1@1416fa0 recipes/OpenR1-Distill-7B/sft/config_distill.yaml",
    "s1": "simplescaling/s1@77272c6 train/sft.sh (gradient checkpointing: train/sft_multinode.sh)",
}

PRESETS: dict[str, dict[str, Any]] = {
    "sky-t1": {
        "method": "full",                   # finetuning_type: full
        "learning_rate": 1e-5,              # learning_rate: 1.0e-5
        "epochs": 3.0,                      # num_train_epochs: 3.0
        "lr_scheduler": "cosine",           # lr_scheduler_type: cosine
        "warmup_ratio": 0.1,                # warmup_ratio: 0.1
        "min_lr_rate": 0.0,                 # plain cosine to zero
        "weight_decay": 0.0,                # unset: HF Trainer's 0.0
        "max_grad_norm": 1.0,               # unset: HF Trainer's 1.0 (DeepSpeed gradient_clipping: auto)
        "per_device_batch_size": 1,         # per_device_train_batch_size: 1
        "effective_batch_size": 96,         # 1 x gradient_accumulation_steps 12 x 8 H100
        "max_length": 16384,                # cutoff_len: 16384
        "over_length": "truncate",          # LLaMA-Factory cuts at cutoff_len, drops nothing
        "packing": "off",                   # unset: LLaMA-Factory packs only for pre-training
        "dtype": "bf16",                    # bf16: true
        "gradient_checkpointing": True,     # LLaMA-Factory's default (disable_gradient_checkpointing: false)
    },
    "sky-t1-lora": {
        "method": "lora",                   # finetuning_type: lora
        "lora_r": 64,                       # lora_rank: 64
        "lora_alpha": 128,                  # unset: LLaMA-Factory's lora_rank x 2
        "lora_dropout": 0.0,                # unset: LLaMA-Factory's 0.0
        "lora_target_modules": "all-linear",  # lora_target: all
        "learning_rate": 1e-4,              # learning_rate: 1.0e-4
        "epochs": 3.0,                      # num_train_epochs: 3.0
        "lr_scheduler": "cosine",           # lr_scheduler_type: cosine
        "warmup_ratio": 0.1,                # warmup_ratio: 0.1
        "min_lr_rate": 0.0,                 # plain cosine to zero
        "weight_decay": 0.0,                # unset: HF Trainer's 0.0
        "max_grad_norm": 1.0,               # unset: HF Trainer's 1.0
        "per_device_batch_size": 1,         # per_device_train_batch_size: 1
        "effective_batch_size": 96,         # 1 x gradient_accumulation_steps 12 x 8 GPUs
        "max_length": 16384,                # cutoff_len: 16384
        "over_length": "truncate",          # LLaMA-Factory cuts at cutoff_len, drops nothing
        "packing": "off",                   # unset: LLaMA-Factory packs only for pre-training
        "dtype": "bf16",                    # bf16: true
        "gradient_checkpointing": True,     # LLaMA-Factory's default (disable_gradient_checkpointing: false)
    },
    "openr1-distill": {
        "method": "full",                   # no peft section: full fine-tune
        "learning_rate": 4e-5,              # learning_rate: 4.0e-05
        "epochs": 5.0,                      # num_train_epochs: 5
        "lr_scheduler": "cosine",           # lr_scheduler_type: cosine_with_min_lr
        "min_lr_rate": 0.1,                 # lr_scheduler_kwargs: {min_lr_rate: 0.1}
        "warmup_ratio": 0.03,               # warmup_ratio: 0.03
        "weight_decay": 0.0,                # unset: TRL's 0.0
        "max_grad_norm": 0.2,               # max_grad_norm: 0.2
        "per_device_batch_size": 2,         # per_device_train_batch_size: 2
        "effective_batch_size": 128,        # 2 x gradient_accumulation_steps 8 x 8 H100
        "max_length": 32768,                # max_length: 32768
        "over_length": "truncate",          # TRL truncates at max_length
        "packing": "off",                   # packing: false
        "dtype": "bf16",                    # bf16: true, torch_dtype: bfloat16
        "gradient_checkpointing": True,     # gradient_checkpointing: true
    },
    "s1": {
        "method": "full",                   # full fine-tune under FSDP full_shard
        "learning_rate": 1e-5,              # lr=1e-5
        "epochs": 5.0,                      # epochs=5
        "lr_scheduler": "cosine",           # --lr_scheduler_type="cosine"
        "min_lr_rate": 0.0,                 # min_lr=0
        "warmup_ratio": 0.05,               # --warmup_ratio=0.05
        "weight_decay": 1e-4,               # weight_decay=1e-4
        "adam_beta2": 0.95,                 # --adam_beta2=0.95 (beta1 0.9, the default)
        "max_grad_norm": 1.0,               # unset: HF Trainer's 1.0
        "per_device_batch_size": 1,         # micro_batch_size=1
        "effective_batch_size": 16,         # 1 x gradient_accumulation_steps 1 x 16 H100 (2 nodes)
        "max_length": 32768,                # --block_size=32768
        "over_length": "truncate",          # TRL truncates at max_seq_length (train/sft.py)
        "packing": "off",                   # unset: TRL's default then, no packing
        "dtype": "bf16",                    # --bf16=True
        "gradient_checkpointing": True,     # --gradient_checkpointing=True (train/sft_multinode.sh)
    },
    "lora-1gpu": {"method": "lora", "learning_rate": 1e-4, "epochs": 3.0, "lr_scheduler": "cosine",
                  "warmup_ratio": 0.03, "effective_batch_size": 32, "max_length": 16384, "dtype": "bf16",
                  "lora_r": 64, "lora_alpha": 128, "lora_dropout": 0.0, "lora_target_modules": "all-linear"},
    "qlora-24gb": {"method": "qlora", "learning_rate": 2e-4, "epochs": 3.0, "lr_scheduler": "cosine",
                   "warmup_ratio": 0.03, "effective_batch_size": 16, "max_length": 8192, "dtype": "bf16",
                   "lora_r": 64, "lora_alpha": 16, "lora_dropout": 0.05, "lora_target_modules": "all-linear",
                   "optim": "paged_adamw_8bit"},
}

_RESOLVED = ("method", "learning_rate", "epochs", "lr_scheduler", "warmup_ratio", "min_lr_rate", "weight_decay",
             "max_grad_norm", "adam_beta2", "per_device_batch_size", "effective_batch_size", "max_length",
             "over_length", "packing", "gradient_checkpointing", "dtype", "optim", "lora_r", "lora_alpha",
             "lora_dropout", "lora_target_modules", "save_steps")


@dataclass(frozen=True)
class TrainSettings:
    """Every training value, resolved. ``max_length`` None means: from the data (see ``lengths``)."""

    base_model: str
    method: str
    learning_rate: float
    epochs: float
    max_steps: int | None
    lr_scheduler: str
    warmup_ratio: float
    min_lr_rate: float
    weight_decay: float
    max_grad_norm: float
    adam_beta2: float
    per_device_batch_size: int
    effective_batch_size: int
    gradient_accumulation_steps: int
    world_size: int
    max_length: int | None
    over_length: str
    packing: str
    gradient_checkpointing: bool
    dtype: str
    attn_implementation: str | None
    optim: str
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    lora_target_modules: Any
    merge: bool
    save_steps: int
    logging_steps: int
    seed: int
    preset: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_settings(cfg: TrainConfig, world_size: int = 1) -> TrainSettings:
    preset = PRESETS[cfg.preset] if cfg.preset else {}
    values = {key: getattr(cfg, key) if getattr(cfg, key) is not None else preset.get(key, DEFAULTS.get(key))
              for key in _RESOLVED}
    if values["min_lr_rate"] and values["lr_scheduler"] != "cosine":
        raise UsageError(f"train.min_lr_rate {values['min_lr_rate']} is a floor under the cosine schedule, but "
                         f"lr_scheduler is '{values['lr_scheduler']}'; set lr_scheduler: cosine or drop min_lr_rate")
    per_step = values["per_device_batch_size"] * world_size
    accumulation = max(1, math.ceil(values["effective_batch_size"] / per_step))
    return TrainSettings(
        base_model=cfg.base_model, max_steps=cfg.max_steps, attn_implementation=cfg.attn_implementation,
        merge=cfg.merge, logging_steps=cfg.logging_steps, seed=cfg.seed, preset=cfg.preset, world_size=world_size,
        gradient_accumulation_steps=accumulation, **values)
