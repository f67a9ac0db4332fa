"""Training throughput and memory: `distill train` beside plain TRL defaults, in the same run.

Shapes (random weights from a config; the tokenizer is the project's tiny trained one, so ids stay below
its vocabulary while the embedding has the real size):
- on a GPU: full SFT of a Qwen2.5-1.5B-shaped model and LoRA (r 64, all linear layers) of a Qwen2.5-7B-shaped
  model, at 4K and 16K tokens;
- on a CPU (no GPU here): a 4-layer, 256-wide Qwen2, full SFT at 512 tokens and LoRA at 2,048.
Rows are chat-formatted reasoning traces of the target length. Each contender runs in a fresh process, the
order rotates over three rounds, and min/median/max are printed:
- `distill`: the train stage (pre-tokenized rows, prompt-masked labels, gradient checkpointing, packing only
  with flash attention, max length from the data);
- `trl`: `SFTTrainer` on the same `messages` rows with TRL's defaults (max_length 1024 truncates, bf16 on,
  gradient checkpointing on) except batch size, steps and, on CPU, `use_cpu`.
Figures: tokens/s in the training loop (non-padding tokens through forward and backward), peak memory (CUDA
`max_memory_allocated`; on CPU the peak RSS over the process before the model was loaded), MFU on a GPU
(6 x parameters x tokens/s over the GPU's dense bf16 peak; LoRA's counts the frozen weights' forward and
backward-through-activations, 4 x parameters), and the memory estimate's error against the measured peak.

Usage: `.venv/bin/python bench/train_throughput.py [--steps 20] [--rounds 3]`
"""

from __future__ import annotations

import argparse
import json
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


def run_distill(model: Path, data: Path, method: str, length: int, steps: int, folder: Path) -> dict:
    from distill.recipe import load_recipe
    from distill.stages.train.trainer import train

    recipe = folder / "r.yaml"
    recipe.write_text(json.dumps({
        "name": "bench", "sources": [{"adapter": "gsm8k", "path": str(data)}],
        "train": {"base_model": str(model), "method": method, "dataset": str(data), "max_steps": steps,
                  "per_device_batch_size": 1, "effective_batch_size": 1, "max_length": length,
                  "over_length": "truncate", "save_steps": 10_000, "lora_r": 64, "lora_alpha": 128,
                  "memory_check": False, "output_dir": str(folder / "out")}}))
    summary = train(load_recipe(recipe), None)
    return {"tokens": summary.tokens_seen, "train_s": summary.metrics["train_runtime_s"],
            "peak_gb": summary.peak_memory_gb, "estimate_gb": summary.metrics["memory_estimate"]["total_gb"],
            "params": summary.metrics["memory_estimate"]["total_params"]}


def run_trl(model: Path, data: Path, method: str, length: int, steps: int, folder: Path) -> dict:
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from distill.stages.train.trainer import current_rss_bytes, peak_memory_bytes

    cuda = torch.cuda.is_available()
    baseline = current_rss_bytes()
    rows = datasets.load_dataset("json", data_files=str(data), split="train")
    args = SFTConfig(output_dir=str(folder / "trl"), max_steps=steps, per_device_train_batch_size=1,
                     report_to=[], save_strategy="no", use_cpu=not cuda, disable_tqdm=True, logging_steps=1)
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
            "params": sum(p.numel() for p in trainer.model.parameters())}


def one(args: argparse.Namespace) -> None:
    folder = Path(args.work)
    runner = run_distill if args.contender == "distill" else run_trl
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        result = runner(Path(args.model), Path(args.data), args.method, args.length, args.steps, Path(scratch))
    print("RESULT " + json.dumps(result))


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
    # One contender's run, in its own process (used by the driver).
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    for name in ("contender", "model", "data", "method", "work"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    known = parser.parse_args()
    if known.one:
        one(known)
        return
    gpu = gpu_name()
    cases = GPU_CASES if gpu else CPU_CASES
    print(f"device: {gpu or 'CPU (no GPU here: GPU figures are NOT measured)'}; {known.steps} steps per run, "
          f"{known.rounds} rounds, fresh process per contender, order rotated")
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        models = {shape: build_model(work_path, shape) for shape in {c[0] for c in cases}}
        for shape, method, length in cases:
            data = work_path / f"rows-{length}.jsonl"
            write_rows(data, length, count=max(8, known.steps))
            runs: dict[str, list[dict]] = {"distill": [], "trl": []}
            for r in range(known.rounds):
                order = ["distill", "trl"] if r % 2 == 0 else ["trl", "distill"]
                for contender in order:
                    cmd = [sys.executable, __file__, "--one", "--contender", contender, "--model", str(models[shape]),
                           "--data", str(data), "--method", method, "--length", str(length), "--steps",
                           str(known.steps), "--work", work]
                    started = time.monotonic()
                    out = subprocess.run(cmd, capture_output=True, text=True)
                    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
                    if line is None:
                        print(f"  {contender} failed ({time.monotonic() - started:.0f} s): "
                              f"{out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'no output'}")
                        continue
                    runs[contender].append(json.loads(line[7:]))
            report(shape, method, length, runs, gpu)


def report(shape: str, method: str, length: int, runs: dict[str, list[dict]], gpu: str | None) -> None:
    print(f"\n{shape} {method} @ {length} tokens")
    rates = {}
    for contender, results in runs.items():
        if not results:
            continue
        tps = sorted(r["tokens"] / r["train_s"] for r in results if r["train_s"])
        peaks = sorted(r["peak_gb"] for r in results)
        rates[contender] = statistics.median(tps)
        line = (f"  {contender:8s} tokens/s min {tps[0]:,.0f} median {statistics.median(tps):,.0f} max {tps[-1]:,.0f}"
                f"; peak {statistics.median(peaks):.2f} GB; MFU {mfu(results[len(results) // 2], method, gpu)}; "
                f"{results[0]['tokens']:,} tokens in {results[0]['train_s']:.1f} s")
        if results[0]["estimate_gb"]:
            errors = [r["estimate_gb"] / r["peak_gb"] - 1 for r in results if r["peak_gb"]]
            line += f"; estimate {results[0]['estimate_gb']:.2f} GB ({statistics.median(errors):+.0%} vs measured)"
        print(line)
    if len(rates) == 2 and rates["trl"]:
        print(f"  ratio distill / trl tokens/s: {rates['distill'] / rates['trl']:.2f}x")


if __name__ == "__main__":
    main()
