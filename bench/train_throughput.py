"""Training throughput and memory: `distill train` beside plain TRL defaults, in the same run.

Shapes (random weights from a config; the tokenizer is the project's tiny trained one, so ids stay below
its vocabulary while the embedding has the real size):
- on a GPU: full SFT of a Qwen2.5-1.5B-shaped model and LoRA (r 64, all linear layers) of a Qwen2.5-7B-shaped
  model, at 4K and 16K tokens;
- on a CPU (no GPU here): a 4-layer, 256-wide Qwen2, full SFT at 512 tokens and LoRA at 2,048.
Rows are chat-formatted reasoning traces of the target length; every contender gets the same rows, model and
max length (TRL's `max_length` is set to the case's length: its default 1,024 would train other work).
Contenders, each in a fresh process, the order rotated over the rounds, min/median/max printed:
- `distill-fp32`, `distill-bf16`: the train stage with `train.dtype` fp32 / bf16 (on CPU, bf16 is autocast:
  fp32 weights for full SFT, a bf16 base for LoRA); `train.dtype: auto` is one of the two, named per case;
- `trl`: `SFTTrainer` on the same `messages` rows with TRL's defaults (bf16 on, gradient checkpointing on)
  except batch size, steps, max length and, on CPU, `use_cpu`; `trl-fp32`: the same with `bf16=False`.
Ratios, in the same run: distill's `auto` choice over TRL's defaults (what a user gets from either), and
apples to apples (on CPU): distill-bf16 over trl, distill-fp32 over trl-fp32, in tokens/s and peak memory.
Figures: tokens/s in the training loop (non-padding tokens through forward and backward, over TRL's
`train_runtime`), peak memory (CUDA `max_memory_allocated`; on CPU the peak RSS over the process once the
libraries are imported and the data read, before the model is loaded), the whole process's peak RSS, the
1-minute load average when each run started, MFU on a GPU (6 x parameters x tokens/s over the GPU's dense
bf16 peak; LoRA's counts the frozen weights' forward and backward-through-activations, 4 x parameters), and
the memory estimate's error against the measured peak. On a GPU distill's bf16 is bf16 weights and compute
(TRL's default: fp32 weights under autocast), so the bf16 pair there compares two choices, not one.

Usage: `.venv/bin/python bench/train_throughput.py [--steps 20] [--rounds 3] [--contenders a,b] [--methods full,lora]`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
GPU_CASES = [("qwen2.5-1.5b", "full", 4096), ("qwen2.5-1.5b", "full", 16384), ("qwen2.5-7b", "lora", 4096),
             ("qwen2.5-7b", "lora", 16384)]
CPU_CASES = [("tiny-256", "full", 512), ("tiny-256", "lora", 2048)]
SHAPES = {
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "tiny-256": dict(hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=1500, tie_word_embeddings=True),
}
WORDS = ["so", "the", "sum", "is", "then", "we", "check", "again", "because", "twelve", "times", "seven", "equals",
         "eighty", "four", "and", "dividing", "by", "three", "gives", "twenty", "eight", "wait", "let", "me", "verify",
         "previous", "step", "carefully"]


def build_model(folder: Path, shape: str) -> Path:
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from distill.testing.tiny_model import build_tiny_model

    tiny = build_tiny_model(folder / "tokenizer")
    tok = AutoTokenizer.from_pretrained(tiny)
    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    out = folder / shape
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def write_rows(path: Path, tokens: int, count: int) -> None:
    rng = random.Random(0)
    rows = []
    for i in range(count):
        # About 1.6 tokens per word in the tiny tokenizer; leave room for the prompt and the template.
        reasoning = " ".join(rng.choice(WORDS) for _ in range(int(tokens * 0.55)))
        answer = f"<think>\n{reasoning}\n</think>\n\n\\boxed{{28}}"
        rows.append({"messages": [{"role": "user", "content": f"Problem {i}: what is 12 * 7 / 3?"},
                                  {"role": "assistant", "content": answer}]})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def run_distill(model: Path, data: Path, method: str, length: int, steps: int, folder: Path, dtype: str) -> dict:
    from distill.recipe import load_recipe
    from distill.stages.train.trainer import train

    recipe = folder / "r.yaml"
    recipe.write_text(json.dumps({
        "name": "bench", "sources": [{"adapter": "gsm8k", "path": str(data)}],
        "train": {"base_model": str(model), "method": method, "dataset": str(data), "max_steps": steps,
                  "per_device_batch_size": 1, "effective_batch_size": 1, "max_length": length,
                  "over_length": "truncate", "save_steps": 10_000, "lora_r": 64, "lora_alpha": 128,
                  "lora_dropout": 0.0,  # TRL's LoraConfig below leaves PEFT's default, 0: the same arithmetic
                  "dtype": dtype, "memory_check": False, "output_dir": str(folder / "out")}}))
    summary = train(load_recipe(recipe), None)
    return {"tokens": summary.tokens_seen, "train_s": summary.metrics["train_runtime_s"],
            "peak_gb": summary.peak_memory_gb, "estimate_gb": summary.metrics["memory_estimate"]["total_gb"],
            "params": summary.metrics["memory_estimate"]["total_params"], "precision": summary.precision}


def run_trl(model: Path, data: Path, method: str, length: int, steps: int, folder: Path, bf16: bool) -> dict:
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from distill.stages.train.trainer import current_rss_bytes, peak_memory_bytes

    cuda = torch.cuda.is_available()
    rows = datasets.load_dataset("json", data_files=str(data), split="train")
    baseline = current_rss_bytes()  # as distill's: libraries imported, data read, no model yet
    args = SFTConfig(output_dir=str(folder / "trl"), max_steps=steps, per_device_train_batch_size=1, max_length=length,
                     report_to=[], save_strategy="no", use_cpu=not cuda, disable_tqdm=True, logging_steps=1,
                     **({} if bf16 else {"bf16": False}))  # TRL's default is bf16 on
    peft = LoraConfig(r=64, lora_alpha=128, target_modules="all-linear", task_type="CAUSAL_LM") \
        if method == "lora" else None
    trainer = SFTTrainer(model=str(model), args=args, train_dataset=rows,
                         processing_class=AutoTokenizer.from_pretrained(model), peft_config=peft)
    if cuda:
        trainer.model.to("cuda")
    result = trainer.train()
    tokens = int(max((e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e), default=0))
    device = "cuda" if cuda else "cpu"
    return {"tokens": tokens, "train_s": float(result.metrics["train_runtime"]),
            "peak_gb": peak_memory_bytes(device, baseline) / 1024**3, "estimate_gb": None,
            "params": sum(p.numel() for p in trainer.model.parameters()),
            "precision": "bf16 autocast, fp32 weights" if args.bf16 else "fp32"}


CONTENDERS = ("distill-fp32", "distill-bf16", "trl", "trl-fp32")


def one(args: argparse.Namespace) -> None:
    folder = Path(args.work)
    where = (Path(args.model), Path(args.data), args.method, args.length, args.steps)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        if args.contender.startswith("distill-"):
            result = run_distill(*where, Path(scratch), dtype=args.contender.removeprefix("distill-"))
        else:
            result = run_trl(*where, Path(scratch), bf16=args.contender == "trl")
    print("RESULT " + json.dumps(result | {"process_peak_gb": process_peak_gb()}))


def process_peak_gb() -> float:
    """The whole process's peak resident set (Linux reports KiB): the same yardstick for every contender."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def mfu(result: dict, method: str, gpu: str | None) -> str:
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if gpu and k in gpu), None)
    if peak is None or not result["train_s"]:
        return "n/a"
    flops_per_token = (6 if method == "full" else 4) * result["params"]
    return f"{100 * flops_per_token * result['tokens'] / result['train_s'] / (peak * 1e12):.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated: " + ", ".join(CONTENDERS))
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--methods", default="full,lora", help="comma-separated: the cases' methods to run")
    # One contender's run, in its own process (used by the driver).
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    for name in ("contender", "model", "data", "method", "work"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    known = parser.parse_args()
    if known.one:
        one(known)
        return
    contenders = [c for c in known.contenders.split(",") if c]
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contender(s) {', '.join(unknown)}; choose from {', '.join(CONTENDERS)}")
    gpu = gpu_name()
    cases = [c for c in (GPU_CASES if gpu else CPU_CASES) if c[1] in known.methods.split(",")]
    print(f"device: {gpu or 'CPU (no GPU here: GPU figures are NOT measured)'}; {cpu_line()}; {known.steps} steps "
          f"per run, {known.rounds} rounds, fresh process per contender, order rotated")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    record = []
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        models = {shape: build_model(work_path, shape) for shape in {c[0] for c in cases}}
        for shape, method, length in cases:
            data = work_path / f"rows-{length}.jsonl"
            write_rows(data, length, count=max(8, known.steps))
            where = {"model": models[shape], "data": data, "method": method, "length": length, "steps": known.steps,
                     "work": work_path}
            runs = run_rounds(contenders, known.rounds, where)
            report(shape, method, length, runs, gpu)
            record.append({"shape": shape, "method": method, "length": length, "runs": runs})
    if known.json:
        known.json.write_text(json.dumps({"device": gpu or "cpu", "cpu": cpu_line(), "cases": record}, indent=1))


def cpu_model() -> str:
    import platform

    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "?"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")


def cpu_line() -> str:
    from distill.stages.train.precision import cpu_flags, native_bf16_flags

    native = native_bf16_flags(cpu_flags())
    return (f"CPU {cpu_model()}, {os.cpu_count()} cores, native bf16 flags: {', '.join(native) or 'none'}; "
            f"load average at start {os.getloadavg()[0]:.2f}")


def rotation(contenders: list[str], round_index: int) -> list[str]:
    """Round r starts with the r-th contender, so each one runs early and late under the same load drift."""
    shift = round_index % len(contenders)
    return contenders[shift:] + contenders[:shift]


def run_rounds(contenders: list[str], rounds: int, where: dict) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {c: [] for c in contenders}
    for r in range(rounds):
        for contender in rotation(contenders, r):
            result = run_fresh(contender, where)
            if result is not None:
                runs[contender].append(result)
    return runs


def run_fresh(contender: str, where: dict) -> dict | None:
    """One contender's run in a fresh interpreter; its figures with the load average when it started."""
    cmd = [sys.executable, __file__, "--one", "--contender", contender]
    for key, value in where.items():
        cmd += [f"--{key}", str(value)]
    load = os.getloadavg()[0]
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        print(f"  {contender} failed ({time.monotonic() - started:.0f} s): "
              f"{out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'no output'}")
        return None
    return json.loads(line[7:]) | {"load": load, "wall_s": time.monotonic() - started}


def auto_contender(method: str, gpu: str | None) -> tuple[str, str]:
    """Which distill contender `train.dtype: auto` is on this machine, and why."""
    from distill.stages.train.precision import cpu_flags, pick_precision

    chosen = pick_precision("auto", device="cuda" if gpu else "cpu", method=method, flags=cpu_flags(),
                            cuda_bf16=bool(gpu))
    return ("distill-fp32" if chosen.compute is None else "distill-bf16"), chosen.line()


def tokens_per_s(results: list[dict]) -> list[float]:
    return sorted(r["tokens"] / r["train_s"] for r in results if r["train_s"])


def report(shape: str, method: str, length: int, runs: dict[str, list[dict]], gpu: str | None) -> None:
    auto, why = auto_contender(method, gpu)
    print(f"\n{shape} {method} @ {length} tokens (distill's auto precision here: {why} = {auto})")
    for contender, results in runs.items():
        if results:
            print(contender_line(contender, results, method, gpu))
    pairs = [(auto, "trl", "distill auto / TRL defaults"), ("distill-bf16", "trl", "bf16 vs bf16"),
             ("distill-fp32", "trl-fp32", "fp32 vs fp32")]
    for ours, theirs, label in pairs:
        if runs.get(ours) and runs.get(theirs):
            print(f"  {label:28s} ({ours} / {theirs}): {ratio_line(runs[ours], runs[theirs])}")


def contender_line(contender: str, results: list[dict], method: str, gpu: str | None) -> str:
    tps = tokens_per_s(results)
    peaks = sorted(r["peak_gb"] for r in results)
    loads = sorted(r["load"] for r in results)
    mid = results[len(results) // 2]
    process = statistics.median(r["process_peak_gb"] for r in results)
    line = (f"  {contender:13s} tokens/s {tps[0]:,.0f} / {statistics.median(tps):,.0f} / {tps[-1]:,.0f}; peak "
            f"{peaks[0]:.3f} / {statistics.median(peaks):.3f} / {peaks[-1]:.3f} GB (process {process:.2f} GB); "
            f"load {loads[0]:.1f}-{loads[-1]:.1f}; "
            f"{mid['precision']}; {mid['tokens']:,} tokens in {mid['train_s']:.1f} s; MFU {mfu(mid, method, gpu)}")
    if mid.get("estimate_gb"):
        errors = [r["estimate_gb"] / r["peak_gb"] - 1 for r in results if r["peak_gb"]]
        line += f"; estimate {mid['estimate_gb']:.2f} GB ({statistics.median(errors):+.0%} vs measured)"
    return line


def ratio_line(ours: list[dict], theirs: list[dict]) -> str:
    speed = statistics.median(tokens_per_s(ours)) / statistics.median(tokens_per_s(theirs))
    memory = median_of(ours, "peak_gb") / median_of(theirs, "peak_gb")
    process = median_of(ours, "process_peak_gb") / median_of(theirs, "process_peak_gb")
    return f"{speed:.2f}x tokens/s, {memory:.2f}x peak memory, {process:.2f}x process peak RSS (medians)"


def median_of(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


if __name__ == "__main__":
    main()
