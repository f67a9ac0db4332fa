"""The training precision: which dtype the weights are loaded in, and which dtype (if any) autocast computes in.

``train.dtype: auto`` (the default) picks, per device:

- CUDA: bf16 where the GPU supports it, else fp16 (weights and compute);
- CPU with native bf16 (``amx_bf16`` or ``avx512_bf16`` on x86, ``bf16`` on Arm): bf16 autocast. Full
  fine-tuning keeps fp32 master weights (a bf16 weight swallows AdamW updates smaller than its last bit);
  LoRA loads the frozen base in bf16 (nothing updates it; autocast would otherwise recast every frozen weight
  on every forward, twice with gradient checkpointing) while peft keeps the adapters in fp32;
- CPU without it: fp32. There bf16 is emulated and several times slower than fp32;
- QLoRA on CPU: fp32 compute (bitsandbytes' CPU bf16 path breaks training, see ``trainer._avoid_cpu_repack``).

``bf16``/``fp16``/``fp32`` set in the recipe win over the choice (on CPU, ``bf16`` means the autocast above).
What this module does not do: measure. The CPU flags decide; ``bench/train_throughput.py`` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass

NATIVE_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})  # x86 (AMX, AVX-512), aarch64 (FEAT_BF16)


@dataclass(frozen=True)
class Precision:
    """``weights``: the dtype the model is loaded in; ``compute``: TRL's mixed precision (bf16/fp16) or None."""

    weights: str
    compute: str | None
    reason: str

    def label(self) -> str:
        if self.compute is None:
            return self.weights
        if self.compute == self.weights:
            return self.compute
        return f"{self.compute} autocast, {self.weights} weights"

    def line(self) -> str:
        return f"{self.label()} ({self.reason})"

    def as_dict(self) -> dict[str, str | None]:
        return {"precision": self.label(), "weights_dtype": self.weights, "compute_dtype": self.compute,
                "precision_reason": self.reason}


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The first CPU's feature flags (x86 ``flags``, Arm ``Features``); empty where the file is missing."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def native_bf16_flags(flags: frozenset[str]) -> list[str]:
    """The flags that make bf16 native on this CPU, sorted; empty when bf16 would be emulated."""
    return sorted(flags & NATIVE_BF16_CPU_FLAGS)


def pick_precision(requested: str, *, device: str, method: str, flags: frozenset[str] = frozenset(),
                   cuda_bf16: bool = False) -> Precision:
    """The precision for ``train.dtype`` = ``requested`` on ``device``. ``flags`` are the CPU's (see
    ``cpu_flags``); ``cuda_bf16`` whether the GPU supports bf16. Pure: tests pass explicit flag sets."""
    cuda = device.startswith("cuda")
    if requested != "auto":
        if cuda or requested != "bf16":
            return Precision(requested, None if requested == "fp32" else requested, "set in the recipe")
        return _cpu_bf16(method, "set in the recipe")
    if cuda:
        dtype = "bf16" if cuda_bf16 else "fp16"
        return Precision(dtype, dtype, "GPU supports bf16" if cuda_bf16 else "GPU lacks bf16")
    native = native_bf16_flags(flags)
    if not native:
        return Precision("fp32", None, "CPU without native bf16")
    if method == "qlora":
        return Precision("fp32", None, "QLoRA on CPU")
    return _cpu_bf16(method, "CPU has " + ", ".join(native))


def _cpu_bf16(method: str, reason: str) -> Precision:
    return Precision("fp32" if method == "full" else "bf16", "bf16", reason)
