"""The train stage: fine-tune a student on the recipe's latest export (or any dataset) with TRL and peft.

Reads top to bottom: resolve the settings, load and tokenize the rows (``data``), estimate memory and refuse
what cannot fit (``memory``), load the model (full, LoRA, or QLoRA in NF4), train with TRL's SFTTrainer on
pre-tokenized rows whose labels mask the prompt, save, record.

Guarantees:
- A run is keyed by its data, base model and resolved settings (``train_run_id``). Rerunning a finished run
  does nothing; rerunning an interrupted or crashed one resumes from its last checkpoint.
- ``train_runs`` holds the config, dataset id, token counts, wall time, peak memory, the memory estimate,
  the length report and the loss curve; its status says ``running``, ``ok``, ``failed`` or ``interrupted``.
- Under ``accelerate launch`` (several processes) only the main process opens the store; the others read
  the export from disk.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# This module is imported only by the train stage, so transformers is imported here, at the top.
from transformers import AutoConfig, AutoTokenizer, PrinterCallback, TrainerCallback

from distill.errors import UsageError
from distill.metrics import loss_summary
from distill.recipe import LoadedRecipe
from distill.stages.shape import StagePlan
from distill.stages.train.data import ChatFormat, LengthReport, example_from_row, fit_lengths
from distill.stages.train.memory import GB, Launch, check_fits, device_memory_bytes, estimate_memory, model_shape
from distill.stages.train.precision import Precision, cpu_flags, pick_precision
from distill.stages.train.presets import TrainSettings, resolve_settings
from distill.stages.train.training_data import TrainingData, load_training_data
from distill.store import Store
from distill.types import stable_hash
from distill.views.progress import stage_progress, stderr_console

FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3")

# Noise on every run that says nothing about this one: bitsandbytes' CPU backend logs (through Python's last-resort
# handler, so on stderr) that the optional `kernels` package is missing, on CPUs with avx512_bf16; transformers warns
# that TRL uses a deprecated alias.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


@dataclass
class TrainSummary:
    train_run_id: str
    model_dir: Path
    status: str = "ok"
    skipped: bool = False
    resumed_from: str | None = None
    steps: int = 0
    tokens_seen: int = 0
    train_loss: float | None = None
    wall_s: float = 0.0
    peak_memory_gb: float = 0.0
    precision: str = ""
    lengths: LengthReport | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        if self.skipped:
            return f"train: [{self.train_run_id}] already trained -> {self.model_dir}"
        resumed = f", resumed from {Path(self.resumed_from).name}" if self.resumed_from else ""
        loss = loss_summary(self.metrics.get("loss_curve"), self.train_loss)
        return (f"train: [{self.train_run_id}] {self.steps} steps, {self.tokens_seen:,} tokens, loss {loss}, "
                f"precision {self.precision}, {self.wall_s:.1f} s, peak {self.peak_memory_gb:.2f} GB{resumed} "
                f"-> {self.model_dir}")


def process_rank() -> tuple[int, int]:
    """(rank, world size) under torchrun / accelerate launch; (0, 1) otherwise."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def pick_device(requested: str | None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def precision_for(requested: str, device: str, method: str) -> Precision:
    """``pick_precision`` with this machine's CPU flags and GPU."""
    import torch

    cuda_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    return pick_precision(requested, device=device, method=method, flags=cpu_flags(), cuda_bf16=cuda_bf16)


def pick_attention(requested: str | None, device: str) -> str:
    if requested:
        return requested
    if device.startswith("cuda"):
        import importlib.util

        if importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
    return "sdpa"


def use_packing(mode: str, attention: str) -> bool:
    """Packing needs attention that keeps packed rows apart without padding: the varlen flash kernels.
    ``on`` forces it with any implementation (transformers then builds a block-diagonal mask from the
    position ids: correct, tested, but not padding-free)."""
    if mode == "auto":
        return attention in FLASH_ATTENTION
    return mode == "on"


def train_run_id(data: TrainingData, settings: TrainSettings, max_length: int) -> str:
    keys = settings.as_dict()
    for transient in ("logging_steps", "save_steps", "merge", "world_size", "gradient_accumulation_steps"):
        keys.pop(transient)
    return stable_hash("train-v1", data.fingerprint, keys, max_length)


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """Training decides what is left after reading the selection and the checkpoints (a finished run of the same
    data and settings is not trained again; an interrupted one resumes), so nothing is counted here."""
    return StagePlan("train", None, 0, "steps", detail="known once the selection and checkpoints are read")


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> TrainSummary:
    return train(recipe, store)


def train(recipe: LoadedRecipe, store: Store | None) -> TrainSummary:
    cfg = recipe.config.train
    if cfg is None:
        raise UsageError(f"{recipe.path}: train: the recipe has no train section; add one to train a student")
    rank, world = process_rank()
    settings = resolve_settings(cfg, world_size=world)
    device = pick_device(cfg.device)
    precision = precision_for(settings.dtype, device, settings.method)
    attention = pick_attention(settings.attn_implementation, device)
    data = load_training_data(recipe, store, cfg.dataset, cfg.dataset_split)
    model_ref = resolve_model_ref(recipe, settings.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_ref)
        model_config = AutoConfig.from_pretrained(model_ref)
    except OSError as exc:
        raise UsageError(f"train.base_model: cannot load '{model_ref}': {str(exc).splitlines()[0]}") from None
    chat = ChatFormat(tokenizer)
    encoded = [chat.encode(example_from_row(row, i)) for i, row in enumerate(data.rows)]
    rows, lengths = fit_lengths(encoded, settings.max_length, settings.over_length)
    if rank == 0:
        stderr_console.print(lengths.line(), highlight=False, soft_wrap=True)

    run_id = train_run_id(data, settings, lengths.max_length)
    out_dir = recipe.resolve(cfg.output_dir) / f"{recipe.config.name}-{run_id}"
    final_dir = out_dir / "final"
    if store is not None:
        done = store.get_train_run(run_id)
        if done and done["status"] == "ok" and final_dir.exists():
            return TrainSummary(run_id, final_dir, skipped=True)

    shape = model_shape(model_config)
    estimate = estimate_memory(shape, method=settings.method, dtype=precision.weights,
                               compute_dtype=precision.compute, max_length=lengths.max_length,
                               micro_batch=settings.per_device_batch_size,
                               gradient_checkpointing=settings.gradient_checkpointing, lora_r=settings.lora_r,
                               lora_targets=settings.lora_target_modules, optim=settings.optim,
                               quadratic_attention=attention == "eager" or not device.startswith("cuda"),
                               heads=shape.heads, launch=Launch.from_env(os.environ))
    limit = int(cfg.memory_limit_gb * GB) if cfg.memory_limit_gb else device_memory_bytes(device)
    if cfg.memory_check:
        check_fits(estimate, device=device, limit_bytes=limit, method=settings.method,
                   max_length=lengths.max_length)

    packing = use_packing(settings.packing, attention)
    config_record = settings.as_dict() | precision.as_dict() | {
        "device": device, "dtype": precision.weights, "attn_implementation": attention, "packing": packing,
        "max_length": lengths.max_length, "dataset": data.reference, "dataset_split": cfg.dataset_split}
    run = store.start_run("train", recipe.config.name, recipe.hash, str(recipe.path)) if store else None
    if store is not None:
        store.start_train_run(run_id, recipe_name=recipe.config.name, dataset_id=data.dataset_id,
                              base_model=settings.base_model, method=settings.method, config=config_record,
                              output_dir=str(out_dir), run=run)
    summary = TrainSummary(run_id, final_dir, lengths=lengths, precision=precision.line())
    if recipe.config.eval is not None and recipe.config.eval.choose_checkpoint_on:
        summary.metrics["keep_checkpoints"] = True  # eval chooses among them on the dev split: keep every one
    status = "failed"
    started = time.monotonic()
    import_training_libraries()  # before the baseline: the recorded peak is training's, not the imports'
    baseline = current_rss_bytes()
    try:
        _fit(summary, settings, model_ref, tokenizer, rows, out_dir, device=device, precision=precision,
             attention=attention, packing=packing, rank=rank)
        status = "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        summary.status = status
        summary.wall_s = time.monotonic() - started
        summary.peak_memory_gb = peak_memory_bytes(device, baseline) / GB
        summary.metrics.update({
            "steps": summary.steps, "tokens_seen": summary.tokens_seen, "train_loss": summary.train_loss,
            "wall_s": summary.wall_s, "peak_memory_gb": summary.peak_memory_gb,
            "peak_memory_kind": "max_memory_allocated" if device.startswith("cuda") else "peak RSS over the "
                                "process before the model was loaded",
            "memory_estimate": estimate.as_dict(), "rows": len(rows), "rows_in_dataset": len(data.rows),
            "dropped_over_length": lengths.dropped, "truncated_over_length": lengths.truncated,
            "lengths": lengths.lengths, "completion_tokens": lengths.completion_tokens,
            "resumed_from": summary.resumed_from})
        if store is not None and run is not None:
            store.finish_train_run(run_id, status, summary.metrics, str(final_dir) if status == "ok" else None)
            store.finish_run(run, status, {"train_run_id": run_id, **{k: v for k, v in summary.metrics.items()
                                                                         if k != "loss_curve"}})
    return summary


def resolve_model_ref(recipe: LoadedRecipe, name: str) -> str:
    """A local folder (relative to the recipe) when one exists, else the name as a hub id."""
    local = recipe.resolve(name)
    return str(local) if local.exists() else name


def import_training_libraries() -> None:
    """Import what ``_fit`` uses (TRL, peft, datasets: ~100 MB of modules with bitsandbytes)."""
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import trl  # noqa: F401


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def peak_memory_bytes(device: str, baseline: int = 0) -> int:
    """What training added at its peak: CUDA's allocator peak, or on CPU the peak resident set over the
    process's size before the model was loaded (what the estimate predicts)."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated())
    return max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline)  # Linux: KiB


def _load_model(settings: TrainSettings, model_ref: str, device: str, precision: Precision, attention: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    kwargs: dict[str, Any] = {"dtype": torch_dtypes[precision.weights], "attn_implementation": attention}
    if settings.method == "qlora":
        from transformers import BitsAndBytesConfig

        compute = torch_dtypes[precision.compute or "fp32"]
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute, bnb_4bit_quant_storage=compute)
        kwargs["device_map"] = {"": device if device != "cuda" else torch.cuda.current_device()}
    try:
        model = AutoModelForCausalLM.from_pretrained(model_ref, **kwargs)
    except (ImportError, RuntimeError, ValueError) as exc:
        if settings.method == "qlora":
            raise UsageError(f"QLoRA needs bitsandbytes 4-bit support on {device}, which failed here: "
                             f"{str(exc).splitlines()[0][:200]}; use train.method: lora") from None
        raise
    if settings.method == "qlora":
        _avoid_cpu_repack(model)
    elif device != "cpu" and settings.world_size == 1:
        model.to(device)
    return model


def _avoid_cpu_repack(model: Any) -> None:
    """bitsandbytes repacks 4-bit weights for inference on CPUs with avx512_bf16, after which QLoRA training
    breaks (Qwen2 errors in place on the bias, Llama gets no LoRA gradients): keep the training layout."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit) and hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def _fit(summary: TrainSummary, settings: TrainSettings, model_ref: str, tokenizer: Any,
         rows: list[tuple[list[int], list[int]]], out_dir: Path, *, device: str, precision: Precision,
         attention: str, packing: bool, rank: int) -> None:
    import datasets
    import transformers
    from peft import LoraConfig
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTTrainer

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    dataset = datasets.Dataset.from_dict({"input_ids": [ids for ids, _ in rows], "labels": [lb for _, lb in rows]})
    model = _load_model(settings, model_ref, device, precision, attention)
    peft_config = None
    if settings.method in ("lora", "qlora"):
        peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                 lora_dropout=settings.lora_dropout, target_modules=settings.lora_target_modules,
                                 task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # TRL's default sets the `gradient_checkpointing` alias transformers deprecates
        warnings.simplefilter("ignore", FutureWarning)
        args = _sft_config(settings, summary, out_dir, device=device, compute=precision.compute, packing=packing)
    progress = _ProgressCallback(summary)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=peft_config, callbacks=[progress])
    trainer.remove_callback(PrinterCallback)  # the bar and the summary line report progress, not log dicts
    summary.metrics["lm_head"] = "fused" if uses_fused_head(trainer.model) else "plain"
    last = get_last_checkpoint(str(out_dir)) if out_dir.exists() else None
    summary.resumed_from = last
    progress.restore(_state_at(last))
    with stage_progress("train", total=trainer.state.max_steps or None, unit="steps") as bar:
        progress.bar = bar
        result = trainer.train(resume_from_checkpoint=last)
    summary.steps = trainer.state.global_step
    summary.train_loss = float(result.training_loss) if result.training_loss is not None else None
    summary.metrics["train_runtime_s"] = float(result.metrics.get("train_runtime", 0.0))
    if rank == 0:
        final = out_dir / "final"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        if settings.merge and settings.method == "lora":
            merged = trainer.model.merge_and_unload()
            merged.save_pretrained(str(out_dir / "merged"))
            tokenizer.save_pretrained(str(out_dir / "merged"))
            summary.metrics["merged_dir"] = str(out_dir / "merged")


def uses_fused_head(model: Any) -> bool:
    """Whether TRL patched ``model`` with its fused, chunked LM head (``add_fused_lm_head``): the loss is then
    computed from tiles and the full logits never exist, which the memory estimate assumes (``lm_head="fused"``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    forward = getattr(base.forward, "__func__", None)
    return forward is not None and "fused_lm_head" in forward.__code__.co_varnames


def _sft_config(settings: TrainSettings, summary: TrainSummary, out_dir: Path, *, device: str,
                compute: str | None, packing: bool) -> Any:
    from trl import SFTConfig

    optim = settings.optim
    if device == "cpu" and ("paged" in optim or "8bit" in optim):
        optim = "adamw_torch_fused"  # bitsandbytes' paged and 8-bit optimizers need CUDA
    scheduler, scheduler_kwargs = settings.lr_scheduler, None
    if settings.min_lr_rate:  # cosine down to min_lr_rate x learning_rate instead of zero (open-r1's schedule)
        scheduler, scheduler_kwargs = "cosine_with_min_lr", {"min_lr_rate": settings.min_lr_rate}
    return SFTConfig(
        output_dir=str(out_dir), num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
        learning_rate=settings.learning_rate, lr_scheduler_type=scheduler, lr_scheduler_kwargs=scheduler_kwargs,
        # transformers 5 folded warmup_ratio into warmup_steps: a float in [0, 1) is a fraction of the total steps
        # (ceil(ratio x steps)), an integer >= 1 a count. The recipe's warmup_ratio is < 1 (validated): a ratio.
        warmup_steps=settings.warmup_ratio, weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm, adam_beta2=settings.adam_beta2,
        per_device_train_batch_size=settings.per_device_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        gradient_checkpointing=settings.gradient_checkpointing, bf16=compute == "bf16", fp16=compute == "fp16",
        max_length=summary.lengths.max_length if summary.lengths else None, packing=packing,
        padding_free=packing, optim=optim, logging_steps=settings.logging_steps, save_strategy="steps",
        save_steps=settings.save_steps, save_total_limit=None if summary.metrics.get("keep_checkpoints") else 2,
        report_to=[], seed=settings.seed,
        use_cpu=device == "cpu", disable_tqdm=True, dataset_num_proc=None, completion_only_loss=None,
        remove_unused_columns=True)


STATE_FILE = "distill_state.json"


def _state_at(checkpoint: str | None) -> dict[str, Any]:
    """Tokens seen and the loss curve up to a checkpoint (TRL's token counter restarts at zero on resume)."""
    if checkpoint is None or not (Path(checkpoint) / STATE_FILE).exists():
        return {"tokens_seen": 0, "loss_curve": []}
    return json.loads((Path(checkpoint) / STATE_FILE).read_text())


class _ProgressCallback(TrainerCallback):
    """Keeps the loss curve and tokens seen; drives the progress bar (loss, tokens/s, ETA)."""

    def __init__(self, summary: TrainSummary):
        self.summary = summary
        self.tokens_before = 0
        self.bar: Any = None
        self.started = time.monotonic()
        self.curve: list[dict[str, float]] = []
        summary.metrics["loss_curve"] = self.curve

    def restore(self, state: dict[str, Any]) -> None:
        self.tokens_before = self.summary.tokens_seen = int(state["tokens_seen"])
        self.curve.extend(state["loss_curve"])

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.monotonic()
        if self.bar is not None:
            self.bar.set_total(state.max_steps)
            self.bar.advance(state.global_step)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.exists():
            (folder / STATE_FILE).write_text(json.dumps({"tokens_seen": self.summary.tokens_seen,
                                                         "loss_curve": self.curve}))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.advance()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
               **kwargs: Any) -> None:
        logs = logs or {}
        if "num_tokens" in logs:
            self.summary.tokens_seen = self.tokens_before + int(logs["num_tokens"])
        if "loss" in logs:
            self.curve.append({"step": state.global_step, "loss": float(logs["loss"]),
                               "learning_rate": float(logs.get("learning_rate", 0.0)),
                               "tokens": self.summary.tokens_seen})
            if self.bar is not None:
                elapsed = max(time.monotonic() - self.started, 1e-9)
                self.bar.set_extras(loss=f"{logs['loss']:.4f}",
                                    **{"tok/s": f"{self.summary.tokens_seen / elapsed:,.0f}"})
