"""Training rows -> ids and labels: the loss mask token by token, think-stripping templates, lengths."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill.errors import UsageError
from distill.stages.train.data import IGNORE_INDEX, ChatFormat, Example, example_from_row, fit_lengths
from distill.testing.tiny_model import build_tiny_model

# Qwen2.5-Instruct's template (tools branch left out): no {% generation %} markers, a default system turn.
QWEN25_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if message.role == 'user' or (message.role == 'system' and not loop.first) "
    "or message.role == 'assistant' %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# DeepSeek-R1-Distill's template: drops everything before </think> from assistant turns and opens the think
# block in the generation prompt.
R1_DISTILL_TEMPLATE = (
    "{% set ns = namespace(system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{ ns.system_prompt }}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
    "{%- endif %}"
    "{%- if message['role'] == 'assistant' %}{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}{{ '<｜Assistant｜>' + content + "
    "'<｜end▁of▁sentence｜>' }}{%- endif %}{%- endfor %}{% if add_generation_prompt %}"
    "{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
)
REASONING = "Let me add three and four carefully. Three plus four is seven."
ANSWER = "The answer is \\boxed{7}."
ASSISTANT = f"<think>\n{REASONING}\n</think>\n\n{ANSWER}"
PROMPT = [{"role": "user", "content": "What is 3 + 4?"}]


def tokenizer_with(template: str, tmp_path_factory: pytest.TempPathFactory, name: str):
    from transformers import AutoTokenizer

    folder = build_tiny_model(tmp_path_factory.mktemp(name) / "model", chat_template=template)
    return AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def qwen_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return tokenizer_with(QWEN25_TEMPLATE, tmp_path_factory, "qwen")


@pytest.fixture(scope="module")
def r1_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return tokenizer_with(R1_DISTILL_TEMPLATE, tmp_path_factory, "r1")


def test_loss_mask_covers_the_assistant_turn_and_its_end_token_only(qwen_tokenizer) -> None:
    tok = qwen_tokenizer
    chat = ChatFormat(tok)
    assert chat.end_of_turn == "<|im_end|>"
    ids, labels = chat.encode(Example(PROMPT, ASSISTANT))
    prompt_ids = tok(tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True),
                     add_special_tokens=False)["input_ids"]
    n = len(prompt_ids)
    # Token by token: every prompt token (system turn, user turn, assistant header) is masked ...
    assert ids[:n] == prompt_ids and labels[:n] == [IGNORE_INDEX] * n
    # ... and every completion token is trained, ending with <|im_end|>.
    assert labels[n:] == ids[n:] and IGNORE_INDEX not in labels[n:]
    assert labels[-1] == tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.decode(labels[n:]) == ASSISTANT + "<|im_end|>"
    # The trained text follows the assistant header exactly as at inference.
    assert tok.decode(ids).endswith("<|im_start|>assistant\n" + ASSISTANT + "<|im_end|>")
    assert "You are Qwen" in tok.decode(ids[:n])


def test_reasoning_is_trained_under_a_template_that_strips_it(r1_tokenizer) -> None:
    tok = r1_tokenizer
    # The broken behaviour this guards against: rendering the whole conversation loses the reasoning.
    rendered = tok.apply_chat_template(PROMPT + [{"role": "assistant", "content": ASSISTANT}], tokenize=False)
    assert REASONING not in rendered
    chat = ChatFormat(tok)
    assert chat.end_of_turn == "<｜end▁of▁sentence｜>"
    ids, labels = chat.encode(Example(PROMPT, ASSISTANT))
    trained = tok.decode([t for t in labels if t != IGNORE_INDEX])
    assert REASONING in trained and trained.endswith(ANSWER + "<｜end▁of▁sentence｜>")
    # The generation prompt opens <think>; the completion does not open a second one.
    text = tok.decode(ids)
    assert text.count("<think>") == 1 and text.count("</think>") == 1
    assert text.startswith("<｜User｜>What is 3 + 4?<｜Assistant｜><think>\n" + REASONING)


def test_every_row_form_gives_the_same_example() -> None:
    user = {"role": "user", "content": "Q"}
    forms = [
        {"messages": [user, {"role": "assistant", "content": "A"}]},
        {"prompt": [user], "completion": [{"role": "assistant", "content": "A"}]},
        {"sharegpt": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
        {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
    ]
    assert {repr(example_from_row(row, 0)) for row in forms} == {repr(Example([user], "A"))}
    assert example_from_row({"prompt": "2+2=", "completion": "4"}, 0) == Example("2+2=", "4")
    # A separate reasoning field goes inside <think>.
    row = {"messages": [user, {"role": "assistant", "content": "A", "reasoning_content": "because"}]}
    assert example_from_row(row, 0).completion == "<think>\nbecause\n</think>\n\nA"


@pytest.mark.parametrize("row, message", [
    ({"text": "hello"}, "no 'messages', 'prompt'/'completion' or ShareGPT column (columns: text)"),
    ({"messages": [{"role": "user", "content": "Q"}]}, "the last turn of 'messages' is 'user'"),
    ({"sharegpt": [{"from": "robot", "value": "Q"}]}, "unknown ShareGPT role 'robot'"),
])
def test_unusable_rows_are_one_line_errors(row: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        example_from_row(row, 3)


def rows_of(lengths: list[int]) -> list[tuple[list[int], list[int]]]:
    return [([1] * n, [IGNORE_INDEX] * 4 + [1] * (n - 4)) for n in lengths]


def test_max_length_defaults_to_the_data_never_to_1024() -> None:
    kept, report = fit_lengths(rows_of([100, 900, 1500]), None, "drop")
    assert report.max_length == 1536 and len(kept) == 3 and not report.over
    assert report.lengths["max"] == 1500 and report.lengths["p50"] == 900
    assert report.completion_tokens == 2500 - 12 and report.total_tokens == 2500
    assert "max 1500 tokens; max_length 1536; no row over it" in report.line()


def test_rows_over_max_length_are_dropped_truncated_or_refused_and_counted() -> None:
    kept, report = fit_lengths(rows_of([100, 300, 600]), 256, "drop")
    assert [len(ids) for ids, _ in kept] == [100] and report.dropped == 2 and report.over == [1, 2]
    assert "2 row(s) over it: 2 dropped" in report.line()
    kept, report = fit_lengths(rows_of([100, 300, 600]), 256, "truncate")
    assert [len(ids) for ids, _ in kept] == [100, 256, 256] and report.truncated == 2
    assert "2 row(s) over it: 2 truncated" in report.line()
    with pytest.raises(UsageError, match="2 of 3 training rows are longer than max_length 256"):
        fit_lengths(rows_of([100, 300, 600]), 256, "fail")


def test_a_tokenizer_without_template_or_eos_is_refused(tmp_path: Path) -> None:
    class Bare:
        chat_template = None
        eos_token = None

    with pytest.raises(UsageError, match="could never learn to stop"):
        ChatFormat(Bare())


def row(prompt: int, completion: int) -> tuple[list[int], list[int]]:
    """Prompt tokens numbered 1000+, completion tokens 1..n, so what a cut keeps can be read off."""
    ids = [1000 + i for i in range(prompt)] + list(range(1, completion + 1))
    return ids, [IGNORE_INDEX] * prompt + list(range(1, completion + 1))


@pytest.mark.parametrize("prompt, completion, kept_prompt, kept_completion", [
    (50, 400, 50, 206),      # a short prompt stays whole; the completion gives way
    (400, 60, 196, 60),      # a short completion stays whole; the prompt gives way
    (300, 900, 64, 192),     # both long: shared in proportion (256 x 900 / 1200 = 192 for the completion)
])
def test_truncation_follows_llama_factory_cutoff_and_keeps_our_labels(prompt: int, completion: int,
                                                                     kept_prompt: int, kept_completion: int) -> None:
    from distill.stages.train.data import cutoff_lengths

    assert cutoff_lengths(prompt, completion, 256) == (kept_prompt, kept_completion)
    (ids, labels), = fit_lengths([row(prompt, completion)], 256, "truncate")[0]
    assert len(ids) == len(labels) == 256
    # Each part keeps its beginning; the prompt stays masked; the targets are exactly the kept completion tokens.
    assert ids[:kept_prompt] == [1000 + i for i in range(kept_prompt)]
    assert labels[:kept_prompt] == [IGNORE_INDEX] * kept_prompt
    assert labels[kept_prompt:] == ids[kept_prompt:] == list(range(1, kept_completion + 1))


def test_a_row_left_without_targets_by_truncation_is_dropped_and_counted() -> None:
    kept, report = fit_lengths([row(10, 20), row(5000, 300)], 256, "truncate")
    # 5000 + 300 over 256: both over half the limit, so they share it: int(256 x 300 / 5300) = 14 completion tokens
    assert [len(ids) for ids, _ in kept] == [30, 256] and report.truncated == 1 and report.dropped == 0
    kept, report = fit_lengths([row(10, 20), row(100_000, 200)], 256, "truncate")
    assert len(kept) == 1 and (report.truncated, report.dropped) == (0, 1)
    assert "1 row(s) over it: 1 dropped" in report.line()
