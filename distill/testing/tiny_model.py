"""A tiny chat model built locally: a trained BPE tokenizer and a random-weight Qwen2 (173k params).

For tests, benchmarks and the offline quickstart: no Hub, about 3 s to build, 0.8 MB on disk. Its
chat template is Qwen2-style with ``{% generation %}`` markers around assistant turns, so TRL's
``assistant_only_loss`` works on it. Its generation config samples (``do_sample: true``) so that
``transformers serve`` honours temperature.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_CORPUS = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "<think> Let me think about this problem carefully. First we add the numbers. </think>",
    "The answer is \\boxed{42}. So the final answer is 18.",
    "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day.",
    "def solve():\n    n = int(input())\n    print(n * 2)\n",
    "Compute the value of x if 2x + 3 = 7. We get x = 2.",
    "Quelle est la réponse ? La réponse est 7. 答案是 7。",
    "0 1 2 3 4 5 6 7 8 9 + - * / = ( ) { } [ ] \\frac \\sqrt \\pi",
]


def _complete(out_dir: Path) -> bool:
    return all((out_dir / name).exists() for name in ("config.json", "tokenizer.json", "generation_config.json",
                                                      "model.safetensors", "tokenizer_config.json"))


def build_tiny_model(out_dir: Path, *, seed: int = 0, vocab_size: int = 1500, hidden_size: int = 64,
                     num_layers: int = 2, intermediate_size: int = 128, chat_template: str = CHAT_TEMPLATE) -> Path:
    """Build (or reuse, when ``out_dir`` already holds one) the tiny model; returns ``out_dir``. The shape
    arguments make larger models of the same family (memory and throughput benchmarks); ``chat_template``
    swaps the template (training tests use Qwen2.5- and R1-Distill-style ones without generation markers)."""
    out_dir = Path(out_dir)
    if _complete(out_dir):
        return out_dir
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    raw.train_from_iterator(_CORPUS * 20, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        bos_token=None, unk_token=None)
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(out_dir)

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size,
                         num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=32768,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(do_sample=True, temperature=1.0, top_p=1.0, max_new_tokens=64,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(out_dir)
    (out_dir / "distill_tiny_model.json").write_text(json.dumps({
        "seed": seed, "vocab_size": vocab_size, "hidden_size": hidden_size, "num_layers": num_layers,
        "intermediate_size": intermediate_size}))
    return out_dir
