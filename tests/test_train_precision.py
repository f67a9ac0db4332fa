"""The training precision choice, decided from explicit CPU flag sets (no trainer, no model): bf16 autocast
where the CPU has native bf16, fp32 where bf16 would be emulated, the recipe's value over both."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill.stages.train.memory import estimate_memory, model_shape
from distill.stages.train.precision import Precision, cpu_flags, pick_precision

# Abridged /proc/cpuinfo flags of real CPUs.
AMD_ZEN3 = frozenset({"fpu", "sse2", "ssse3", "sse4_1", "sse4_2", "fma", "avx", "f16c", "avx2", "vaes", "sha_ni"})
INTEL_ICELAKE = AMD_ZEN3 | {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_vbmi"}
AMD_ZEN4 = AMD_ZEN3 | {"avx512f", "avx512bw", "avx512_vnni", "avx512_bf16"}
INTEL_SAPPHIRE_RAPIDS = AMD_ZEN3 | {"avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"}
ARM_NEOVERSE_V1 = frozenset({"fp", "asimd", "sve", "i8mm", "bf16", "sha3"})


@pytest.mark.parametrize("flags", [frozenset(), AMD_ZEN3, INTEL_ICELAKE])
@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
def test_a_cpu_without_native_bf16_trains_in_fp32(flags: frozenset[str], method: str) -> None:
    chosen = pick_precision("auto", device="cpu", method=method, flags=flags)
    assert chosen == Precision("fp32", None, "CPU without native bf16")
    assert chosen.label() == "fp32"


@pytest.mark.parametrize("flags, named", [(AMD_ZEN4, "avx512_bf16"),
                                          (INTEL_SAPPHIRE_RAPIDS, "amx_bf16, avx512_bf16"), (ARM_NEOVERSE_V1, "bf16")])
def test_a_cpu_with_native_bf16_trains_under_bf16_autocast(flags: frozenset[str], named: str) -> None:
    full = pick_precision("auto", device="cpu", method="full", flags=flags)
    lora = pick_precision("auto", device="cpu", method="lora", flags=flags)
    # Full fine-tuning keeps fp32 master weights; LoRA's frozen base is loaded in bf16 (adapters stay fp32).
    assert (full.weights, full.compute, full.label()) == ("fp32", "bf16", "bf16 autocast, fp32 weights")
    assert (lora.weights, lora.compute, lora.label()) == ("bf16", "bf16", "bf16")
    assert full.reason == lora.reason == f"CPU has {named}"
    assert full.line() == f"bf16 autocast, fp32 weights (CPU has {named})"
    # bitsandbytes' CPU bf16 path breaks QLoRA training: fp32 compute there.
    assert pick_precision("auto", device="cpu", method="qlora", flags=flags).label() == "fp32"


def test_the_recipe_wins_over_the_cpu_flags() -> None:
    forced_fp32 = pick_precision("fp32", device="cpu", method="full", flags=INTEL_SAPPHIRE_RAPIDS)
    forced_bf16 = pick_precision("bf16", device="cpu", method="full", flags=AMD_ZEN3)
    assert forced_fp32 == Precision("fp32", None, "set in the recipe")
    assert forced_bf16 == Precision("fp32", "bf16", "set in the recipe")
    assert pick_precision("bf16", device="cpu", method="lora", flags=AMD_ZEN3).label() == "bf16"


def test_gpus_keep_bf16_weights_and_compute_or_fp16_without_bf16() -> None:
    assert pick_precision("auto", device="cuda", method="full", cuda_bf16=True) == Precision(
        "bf16", "bf16", "GPU supports bf16")
    assert pick_precision("auto", device="cuda:1", method="lora", cuda_bf16=False) == Precision(
        "fp16", "fp16", "GPU lacks bf16")
    assert pick_precision("bf16", device="cuda", method="full").label() == "bf16"  # the Sky-T1 preset's pure bf16


def test_cpu_flags_reads_x86_and_arm_cpuinfo(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx512_bf16 amx_bf16\n\n"
                   "processor\t: 1\nflags\t\t: fpu\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\nCPU implementer\t: 0x41\n")
    assert cpu_flags(str(x86)) == {"fpu", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(str(arm)) == {"fp", "asimd", "bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_autocast_halves_activations_and_adds_a_bf16_copy_of_trained_weights() -> None:
    from transformers import Qwen2Config

    shape = model_shape(Qwen2Config(hidden_size=256, intermediate_size=704, num_hidden_layers=4,
                                    num_attention_heads=4, num_key_value_heads=2, vocab_size=1500))
    common = {"max_length": 2048, "micro_batch": 1, "gradient_checkpointing": True, "lm_head": "plain"}
    fp32 = estimate_memory(shape, method="full", dtype="fp32", **common)
    mixed = estimate_memory(shape, method="full", dtype="fp32", compute_dtype="bf16", **common)
    assert mixed.activations * 2 == fp32.activations
    assert mixed.weights == fp32.weights + 2 * shape.params
    assert mixed.logits == 2048 * 1500 * (2 + 12) and fp32.logits == 2048 * 1500 * (4 + 12)
    lora = estimate_memory(shape, method="lora", dtype="bf16", compute_dtype="bf16", **common)
    assert lora.weights == 2 * shape.params + 4 * lora.trainable_params  # no cached copy of a frozen base
