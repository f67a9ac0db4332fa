"""Training presets and the resolution of a recipe's ``train`` section into concrete settings.

Precedence: a value set in the recipe, then the preset's, then ``DEFAULTS``. Presets:

- ``sky-t1``: Sky-T1-32B-Preview's published full SFT (NovaSky, Jan 2025): learning rate 1e-5, 3 epochs,
  cosine schedule, warmup ratio 0.1, batch size 96, cut-off length 16,384, bf16 (8 H100 with DeepSpeed
  ZeRO-3 there; see ``distill/stages/train/accelerate/zero3.yaml`` to run the same command on several GPUs).
- ``lora-1gpu``: LoRA r 64 / alpha 128 on every linear layer of a bf16 base, learning rate 1e-4, effective
  batch 32, 16,384 tokens: a 7B student on one 80 GB GPU.
- ``qlora-24gb``: QLoRA (NF4, double quantisation, bf16 compute) r 64 / alpha 16 (the QLoRA paper's), learning
  rate 2e-4, paged 8-bit AdamW, effective batch 16, 8,192 tokens: a 7-8B student on one 24 GB GPU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from distill.recipe import TrainConfig

DEFAULTS: dict[str, Any] = {
    "method": "lora", "learning_rate": 1e-4, "epochs": 3.0, "lr_scheduler": "cosine", "warmup_ratio": 0.03,
    "weight_decay": 0.0, "per_device_batch_size": 1, "effective_batch_size": 16, "gradient_checkpointing": True,
    "dtype": "auto", "optim": "adamw_torch_fused", "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
    "lora_target_modules": "all-linear", "save_steps": 200,
}

PRESETS: dict[str, dict[str, Any]] = {
    "sky-t1": {"method": "full", "learning_rate": 1e-5, "epochs": 3.0, "lr_scheduler": "cosine",
               "warmup_ratio": 0.1, "weight_decay": 0.0, "effective_batch_size": 96, "max_length": 16384,
               "dtype": "bf16", "gradient_checkpointing": True},
    "lora-1gpu": {"method": "lora", "learning_rate": 1e-4, "epochs": 3.0, "lr_scheduler": "cosine",
                  "warmup_ratio": 0.03, "effective_batch_size": 32, "max_length": 16384, "dtype": "bf16",
                  "lora_r": 64, "lora_alpha": 128, "lora_dropout": 0.05, "lora_target_modules": "all-linear"},
    "qlora-24gb": {"method": "qlora", "learning_rate": 2e-4, "epochs": 3.0, "lr_scheduler": "cosine",
                   "warmup_ratio": 0.03, "effective_batch_size": 16, "max_length": 8192, "dtype": "bf16",
                   "lora_r": 64, "lora_alpha": 16, "lora_dropout": 0.05, "lora_target_modules": "all-linear",
                   "optim": "paged_adamw_8bit"},
}

_RESOLVED = ("method", "learning_rate", "epochs", "lr_scheduler", "warmup_ratio", "weight_decay",
             "per_device_batch_size", "effective_batch_size", "max_length", "gradient_checkpointing", "dtype",
             "optim", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "save_steps")


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
    weight_decay: float
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
    per_step = values["per_device_batch_size"] * world_size
    accumulation = max(1, math.ceil(values["effective_batch_size"] / per_step))
    return TrainSettings(
        base_model=cfg.base_model, max_steps=cfg.max_steps, over_length=cfg.over_length, packing=cfg.packing,
        attn_implementation=cfg.attn_implementation, merge=cfg.merge, logging_steps=cfg.logging_steps,
        seed=cfg.seed, preset=cfg.preset, world_size=world_size, gradient_accumulation_steps=accumulation,
        **values)
