"""Peak-memory estimate of a training run, and the check that refuses a run that cannot fit.

The model is built on the ``meta`` device from its config (no weights are read), so parameter counts and
the shapes of every linear layer (what LoRA adapts) are exact for any architecture. The rest is arithmetic:

- weights: every parameter in the weights' dtype (under autocast of fp32 full fine-tuning, plus autocast's
  cached low-precision copy of each); QLoRA stores the linear layers in NF4 with double
  quantisation (4.127 bits per parameter) and the rest (embeddings, norms) in the compute dtype;
- trainable parameters: all of them (full), or r x (in + out) per adapted linear layer (LoRA; fp32 adapters,
  bf16 under QLoRA as TRL casts them);
- gradients: one per trainable parameter, in its dtype;
- optimizer: AdamW keeps two moments per trainable parameter in the parameter's dtype (8-bit optimizers:
  one byte each), and a foreach (not fused) step materialises one more copy;
- activations at ``max_length`` x micro-batch, in the compute dtype (autocast's, else the weights'): with
  gradient checkpointing, each layer's input hidden state plus one layer recomputed in full; without, every
  layer in full. A Llama/Qwen-style layer keeps about
  (7 hidden + 2 kv + 4 intermediate) values per token for its backward, plus, under LoRA, each adapted
  layer's input; memory-efficient attention (flash, sdpa on CUDA) adds no sequence-squared term, the eager
  or math kernel (sdpa on CPU) adds scores and probabilities, heads x length^2, per layer kept;
- the LM head and loss (``logits`` in the breakdown): TRL's SFTTrainer (1.16) patches the model with a fused,
  chunked LM head (``trl.trainer.utils.add_fused_lm_head``, Triton on CUDA, torch ops elsewhere) that projects
  tiles of 4,096 tokens x 32,768 vocabulary entries, folds each into running log-sum-exp statistics, and in the
  backward recomputes each tile into its gradient: the (tokens x vocabulary) logits never exist. What it holds:
  one tile in the compute dtype (plus the fp32 temporaries of folding it), a dozen fp32 values per token, the
  hidden states' fp32 gradient, and under full fine-tuning the LM head's fp32 gradient. With the plain head
  (``lm_head="plain"``: a model's own forward, as other trainers run it) the logits are whole: the
  vocabulary-sized output per token in the compute dtype, its fp32 upcast, the loss gradient and a metrics
  pass, (activation bytes + 12) bytes per token per vocabulary entry, the largest term at 16K tokens and more.

Per process, for the launch it runs under (``Launch``: read from ``accelerate launch``'s environment):

- processes x DeepSpeed ZeRO stage: stage 1 shards the optimizer state over the processes, stage 2 also the
  gradients, stage 3 also the weights, and then each process holds, besides its shard, the layers gathered for
  the current step (the larger of the embedding and two decoder layers: one computing, one prefetched).
  Under DeepSpeed a full fine-tune in bf16/fp16 keeps fp32 master weights and fp32 moments in the optimizer
  (12 bytes a parameter, the ZeRO paper's K), not bf16 moments as a plain PyTorch AdamW over bf16 weights;
- CPU offload (ZeRO-Offload, as Sky-T1 trains): the optimizer state (with the fp32 gradient partitions it
  steps on) and, under stage 3, the weight shard live in host memory: counted in ``host``, not on the device,
  which keeps two gradient buckets instead;
- 8-bit optimizers keep a byte per moment; paged ones (bitsandbytes) keep their state in unified memory that
  is evicted to the host under pressure: counted in ``host`` too (it does not limit the device's peak).
FSDP (s1's launch) is not modelled; its FULL_SHARD is close to ZeRO-3.

It is an estimate of the allocator's peak; CUDA adds its context (about 1 GB) on top, which the fit check
counts. A test compares it with a measured peak on CPU, the GPU benchmark with ``max_memory_allocated``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from distill.errors import UsageError

GB = 1024**3
# TRL's fused LM head tiles (trl/kernels/chunked_logprob.py TOKEN_CHUNK_SIZE, trl/trainer/utils.py
# _CHUNKED_LOGPROB_CHUNK_SIZE, TRL 1.16).
HEAD_TOKEN_TILE = 4096
HEAD_VOCAB_TILE = 32768
CUDA_CONTEXT_BYTES = 1 * GB
_DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
NF4_BITS = 4.127  # 4-bit weights + double-quantised absmax per 64-block


@dataclass(frozen=True)
class ModelShape:
    params: int
    heads: int
    linear_params: int
    linear_shapes: tuple[tuple[str, int, int], ...]  # (module name, in, out) of every nn.Linear but lm_head
    hidden: int
    intermediate: int
    kv_dim: int
    layers: int
    vocab: int


def model_shape(config: Any) -> ModelShape:
    """Exact counts from a model built on the meta device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    linears = tuple((name, m.in_features, m.out_features) for name, m in model.named_modules()
                    if isinstance(m, torch.nn.Linear) and not name.endswith("lm_head"))
    params = sum(p.numel() for p in model.parameters())
    heads = getattr(text, "num_attention_heads", 1)
    hidden = text.hidden_size
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    return ModelShape(params=params, heads=heads, linear_params=sum(i * o for _, i, o in linears),
                      linear_shapes=linears, hidden=hidden, intermediate=getattr(text, "intermediate_size", 4 * hidden),
                      kv_dim=kv_heads * head_dim, layers=text.num_hidden_layers, vocab=text.vocab_size)


def _targeted(name: str, targets: Any) -> bool:
    if targets == "all-linear":
        return True
    names = [targets] if isinstance(targets, str) else list(targets)
    return any(name == t or name.endswith("." + t) for t in names)


def lora_params(shape: ModelShape, r: int, targets: Any) -> int:
    """Adapter parameters for ``targets`` ("all-linear" or module-name suffixes)."""
    return sum(r * (i + o) for name, i, o in shape.linear_shapes if _targeted(name, targets))


@dataclass(frozen=True)
class Launch:
    """How the run is launched: processes (GPUs), DeepSpeed ZeRO stage (0: none, plain DDP when processes > 1) and
    what is offloaded to the CPU."""

    processes: int = 1
    zero_stage: int = 0
    offload_optimizer: bool = False
    offload_params: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Launch:
        """The launch ``accelerate launch`` (or torchrun) describes in the environment of each process."""
        processes = int(environ.get("WORLD_SIZE", "1"))
        if environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() != "true":
            return cls(processes)
        stage = int(environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE", "2"))  # accelerate's default
        optimizer = environ.get("ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE", "none").lower()
        params = environ.get("ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE", "none").lower()
        config_file = environ.get("ACCELERATE_DEEPSPEED_CONFIG_FILE", "none")
        if config_file != "none" and os.path.exists(config_file):
            with open(config_file, encoding="utf-8") as f:
                zero = json.load(f).get("zero_optimization", {})
            stage = int(zero.get("stage", stage))
            optimizer = str(zero.get("offload_optimizer", {}).get("device", optimizer)).lower()
            params = str(zero.get("offload_param", {}).get("device", params)).lower()
        return cls(processes, stage, optimizer in ("cpu", "nvme"), params in ("cpu", "nvme") and stage == 3)

    def line(self) -> str:
        if self.processes == 1 and self.zero_stage == 0:
            return "1 process"
        offload = [name for name, on in (("optimizer", self.offload_optimizer), ("parameters", self.offload_params))
                   if on]
        zero = f", ZeRO-{self.zero_stage}" if self.zero_stage else ", DDP"
        return (f"{self.processes} processes{zero}" + (f", {' and '.join(offload)} offloaded to the CPU" if offload
                                                       else ""))


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per process on its device; ``host``: what the launch keeps in CPU memory per process instead."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    logits: int
    trainable_params: int
    total_params: int
    host: int = 0
    launch: Launch = Launch()

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.logits

    def as_dict(self) -> dict[str, float]:
        return {"weights_gb": self.weights / GB, "gradients_gb": self.gradients / GB,
                "optimizer_gb": self.optimizer / GB, "activations_gb": self.activations / GB,
                "logits_gb": self.logits / GB, "total_gb": self.total / GB, "host_gb": self.host / GB,
                "trainable_params": self.trainable_params, "total_params": self.total_params,
                "launch": asdict(self.launch)}

    def line(self) -> str:
        d = self.as_dict()
        host = f", host {d['host_gb']:.2f} GB" if self.host else ""
        return (f"{d['total_gb']:.2f} GB = weights {d['weights_gb']:.2f} + gradients {d['gradients_gb']:.2f} + "
                f"optimizer {d['optimizer_gb']:.2f} + activations {d['activations_gb']:.2f} + logits "
                f"{d['logits_gb']:.2f} per process ({self.launch.line()}{host}; {self.trainable_params:,} of "
                f"{self.total_params:,} parameters trained)")


def estimate_memory(shape: ModelShape, *, method: str, dtype: str, max_length: int, micro_batch: int,
                    gradient_checkpointing: bool, lora_r: int = 16, lora_targets: Any = "all-linear",
                    optim: str = "adamw_torch_fused", quadratic_attention: bool = False,
                    heads: int = 1, compute_dtype: str | None = None, lm_head: str = "fused",
                    launch: Launch = Launch()) -> MemoryEstimate:
    """``dtype``: the weights'; ``compute_dtype``: autocast's (activations and logits), default the weights';
    ``lm_head``: ``fused`` (TRL's chunked head, what ``distill train`` runs) or ``plain`` (whole logits)."""
    wbytes = _DTYPE_BYTES[dtype]
    abytes = _DTYPE_BYTES[compute_dtype or dtype]
    if method == "qlora":
        weights = int(shape.linear_params * NF4_BITS / 8) + (shape.params - shape.linear_params) * wbytes
    else:
        weights = shape.params * wbytes
    if method == "full":
        trainable, tbytes = shape.params, wbytes
    else:
        trainable = lora_params(shape, lora_r, lora_targets)
        tbytes = 2 if method == "qlora" else 4
        weights += trainable * tbytes
    moment_bytes = 1 if "8bit" in optim else tbytes
    tokens = max_length * micro_batch
    per_token = 7 * shape.hidden + 2 * shape.kv_dim + 4 * shape.intermediate
    if method != "full":  # each adapted linear keeps its (dropped-out) input and its rank-r product
        adapted = [(i, o) for name, i, o in shape.linear_shapes if _targeted(name, lora_targets)]
        per_token += sum(i + lora_r for i, _ in adapted) // max(1, shape.layers)
    per_layer_full = per_token * tokens * abytes
    if quadratic_attention:  # eager, or sdpa's math kernel (CPU, explicit masks): scores and probabilities
        per_layer_full += 2 * micro_batch * heads * max_length * max_length * abytes
    if gradient_checkpointing:
        activations = shape.layers * shape.hidden * tokens * abytes + per_layer_full
    else:
        activations = shape.layers * per_layer_full
    logits = lm_head_bytes(shape, tokens, abytes, head_trained=method == "full", fused=lm_head == "fused")
    if abytes < wbytes and method == "full":  # autocast keeps a low-precision copy of every trained weight
        weights += shape.params * abytes
    # Two moments, plus the step's temporaries (torch's foreach AdamW materialises one more copy; fused does not).
    optimizer = 2 * trainable * moment_bytes + (0 if "fused" in optim else trainable * tbytes)
    if launch.zero_stage and tbytes < 4:  # DeepSpeed's mixed precision: fp32 master weights and fp32 moments
        optimizer = trainable * 12
    return _under_launch(shape, launch, optim=optim, wbytes=wbytes, weights=weights, gradients=trainable * tbytes,
                         optimizer=optimizer, activations=activations, logits=logits, trainable=trainable)


def _under_launch(shape: ModelShape, launch: Launch, *, optim: str, wbytes: int, weights: int, gradients: int,
                  optimizer: int, activations: int, logits: int, trainable: int) -> MemoryEstimate:
    """One process's share of the states under ZeRO sharding and CPU offload (see the module docstring)."""
    shards = max(1, launch.processes)
    host = 0
    if launch.zero_stage >= 1:
        optimizer //= shards
    if launch.zero_stage >= 2:
        gradients //= shards
    if launch.zero_stage >= 1 and launch.offload_optimizer:
        host += optimizer + 4 * trainable // shards  # the state and the fp32 gradient partition it steps on
        optimizer = 0
        gradients = min(gradients, 2 * shape.hidden * shape.hidden * wbytes)  # two reduce buckets (DeepSpeed "auto")
    elif "paged" in optim:
        host, optimizer = optimizer, 0
    if launch.zero_stage >= 3:
        embedding = shape.vocab * shape.hidden
        layer = max(0, shape.params - 2 * embedding) // max(1, shape.layers)
        gathered = max(embedding, 2 * layer) * wbytes
        shard = weights // shards
        if launch.offload_params:
            host, shard = host + shard, 0
        weights = shard + gathered
    return MemoryEstimate(weights=weights, gradients=gradients, optimizer=optimizer, activations=activations,
                          logits=logits, trainable_params=trainable, total_params=shape.params, host=host,
                          launch=launch)


def lm_head_bytes(shape: ModelShape, tokens: int, abytes: int, *, head_trained: bool, fused: bool = True) -> int:
    """Peak memory of the LM head's projection and the loss over ``tokens`` positions (see the module docstring)."""
    if not fused:
        return tokens * shape.vocab * (abytes + 12)
    tile = min(tokens, HEAD_TOKEN_TILE) * min(shape.vocab, HEAD_VOCAB_TILE)
    per_token = 12 * 4 + shape.hidden * (4 + abytes)  # running statistics and outputs; the hidden states' gradient
    head_gradient = shape.vocab * shape.hidden * 4 if head_trained else 0  # accumulated in fp32, then cast
    return tile * (abytes + 8) + tokens * per_token + head_gradient


def device_memory_bytes(device: str) -> int:
    """What the device can hold: a GPU's total memory, or the memory available to this process on CPU."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
        return info.get("MemAvailable", info["MemTotal"])
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(estimate: MemoryEstimate, *, device: str, limit_bytes: int, method: str, max_length: int) -> None:
    """Refuse, with the numbers and what would fit, a run whose estimated peak exceeds the device."""
    need = estimate.total + (CUDA_CONTEXT_BYTES if device.startswith("cuda") else 0)
    if need <= limit_bytes:
        return
    advice = []
    if method == "full":
        advice.append("train.method: lora (or qlora)")
    elif method == "lora":
        advice.append("train.method: qlora")
    if estimate.logits + estimate.activations > 0.3 * need:
        advice.append(f"a shorter train.max_length (now {max_length})")
    launch = estimate.launch
    if launch.zero_stage == 3 and not launch.offload_optimizer:
        advice.append("CPU offload with `accelerate launch --config_file distill/stages/train/accelerate/"
                      "zero3_offload.yaml`")
    elif launch.zero_stage < 3:
        advice.append("a larger GPU, or several with `accelerate launch` and the ZeRO-3 config (zero3.yaml, or "
                      "zero3_offload.yaml with CPU offload)")
    raise UsageError(f"this run needs about {need / GB:.1f} GB on {device} but {limit_bytes / GB:.1f} GB is "
                     f"available: {estimate.line()}; try " + ", or ".join(advice)
                     + " (or train.memory_check: false to try anyway)")
