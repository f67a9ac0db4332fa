"""The memory estimate's predictions for the anchors' published training setups (no GPU needed: the model is built
on the meta device from its published config). Prints a Markdown table for bench/RESULTS.md.

    .venv/bin/python bench/train_memory_predictions.py

Each row: the setup as its source describes it (model, method, launch, length, micro-batch), what distill's
estimate predicts per GPU (device) and per process in host memory (offload), and whether it fits the GPU the
anchor used. Predictions, not measurements: nothing here ran on a GPU.
"""

from __future__ import annotations

from distill.stages.train.memory import CUDA_CONTEXT_BYTES, GB, Launch, estimate_memory, model_shape


def qwen(size: str):  # noqa: ANN201
    from transformers import Qwen2Config

    shapes = {  # Qwen2.5 config.json values
        "7B": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
               "num_key_value_heads": 4},
        "32B": {"hidden_size": 5120, "intermediate_size": 27648, "num_hidden_layers": 64, "num_attention_heads": 40,
                "num_key_value_heads": 8},
    }
    return model_shape(Qwen2Config(vocab_size=152064, tie_word_embeddings=False, **shapes[size]))


# (setup, source, model, method, launch, max_length, micro-batch, GPU GB)
SETUPS = [
    ("Sky-T1-32B-Preview: full, 8 x H100, ZeRO-3 + CPU offload", "SkyThought qwen2_full_sft.yaml, "
     "ds_z3_offload_config.json", "32B", "full", Launch(8, 3, True, True), 16384, 1, 80),
    ("the same without offload (our zero3.yaml)", "-", "32B", "full", Launch(8, 3), 16384, 1, 80),
    ("Sky-T1-Lora: 32B LoRA r 64, 8 GPUs, ZeRO-3 + CPU offload", "SkyThought qwen2_lora_config.yaml", "32B", "lora",
     Launch(8, 3, True, True), 16384, 1, 80),
    ("OpenR1-Distill-7B: full, 8 x H100, ZeRO-3, 32K", "open-r1 config_distill.yaml (zero3 accelerate config)",
     "7B", "full", Launch(8, 3), 32768, 2, 80),
    ("s1-32B: full, 16 x H100, FSDP full shard (as ZeRO-3), 32K", "s1 train/sft.sh, sft_multinode.sh", "32B",
     "full", Launch(16, 3), 32768, 1, 80),
    ("our lora-1gpu: 7B LoRA r 64, 1 GPU, 16K", "distill presets.py", "7B", "lora", Launch(), 16384, 1, 80),
    ("7B LoRA r 64, 1 GPU, 32K", "distill", "7B", "lora", Launch(), 32768, 1, 80),
]


def main() -> None:
    shapes = {"7B": qwen("7B"), "32B": qwen("32B")}
    print("| setup | source | per GPU (estimate) | host per process | fits the GPU? |")
    print("|---|---|---|---|---|")
    for name, source, size, method, launch, length, micro, gpu_gb in SETUPS:
        e = estimate_memory(shapes[size], method=method, dtype="bf16", max_length=length, micro_batch=micro,
                            gradient_checkpointing=True, lora_r=64, launch=launch)
        need = (e.total + CUDA_CONTEXT_BYTES) / GB
        d = e.as_dict()
        parts = (f"weights {d['weights_gb']:.1f} + grads {d['gradients_gb']:.1f} + optimizer "
                 f"{d['optimizer_gb']:.1f} + activations {d['activations_gb']:.1f} + LM head {d['logits_gb']:.1f}")
        verdict = "yes" if need <= gpu_gb else "no"
        print(f"| {name} | {source} | {need:.1f} GB ({parts}, + 1 CUDA context) | {d['host_gb']:.1f} GB | "
              f"{verdict} ({gpu_gb} GB) |")


if __name__ == "__main__":
    main()
