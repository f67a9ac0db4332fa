"""Splitting responses into reasoning and answer, and extracting the final answer from the answer part."""

from __future__ import annotations

import pytest

from distill.llm.response import (
    all_boxed,
    committed_answers,
    extract_final_answer,
    is_placeholder,
    last_boxed,
    restated_value,
    split_response,
)


@pytest.mark.parametrize(("content", "field", "expected"), [
    # (reasoning, answer_text, think_closed, format)
    ("<think>a \\boxed{1}</think> The answer is \\boxed{2}.", None,
     ("a \\boxed{1}", "The answer is \\boxed{2}.", True, "think")),
    ("pre <think>a</think> answer", None, ("pre\na", "answer", True, "think")),
    ("<think></think>\n\nThe answer is 3", None, ("", "The answer is 3", True, "think")),
    # A template that opens <think> in the prompt: only the closing tag comes back.
    ("thinking</think>answer", None, ("thinking", "answer", True, "think")),
    # Two think blocks: a box inside the second one is still reasoning.
    ("<think>a</think>x<think>b \\boxed{9}</think>ans \\boxed{1}", None,
     ("a\nx\nb \\boxed{9}", "ans \\boxed{1}", True, "think")),
    ("<think>never closes \\boxed{3}", None, ("never closes \\boxed{3}", "", False, "think")),
    # Closed once, then a new block opened and never closed.
    ("<think>a</think>so \\boxed{1}<think>more", None, ("a\nmore", "so \\boxed{1}", False, "think")),
    ("only the answer", "separate reasoning", ("separate reasoning", "only the answer", True, "field")),
    ("<think></think>the answer", "separate reasoning", ("separate reasoning", "the answer", True, "think")),
    # A stored generation: the content as the teacher sent it, with its reasoning already split out.
    ("pre <think>r \\boxed{1}</think>ans", "r \\boxed{1}", ("r \\boxed{1}", "ans", True, "think")),
    ("<think>cut off", "cut off", ("cut off", "", False, "think")),
    ("the answer", "   ", (None, "the answer", True, "none")),  # a blank field is no field
    ("<|begin_of_thought|>t<|end_of_thought|>\n<|begin_of_solution|>sol \\boxed{2}<|end_of_solution|>", None,
     ("t", "sol \\boxed{2}", True, "sky_t1")),
    ("<|begin_of_thought|>t<|end_of_thought|>\n<|begin_of_solution|>sol \\boxed{2}", None,
     ("t", "sol \\boxed{2}", False, "sky_t1")),
    ("<|begin_of_thought|>t \\boxed{3}<|end_of_thought|> after \\boxed{4}", None,
     ("t \\boxed{3}", "after \\boxed{4}", True, "sky_t1")),
    ("<|begin_of_thought|>thinking forever \\boxed{3}", None,
     ("thinking forever \\boxed{3}", "", False, "sky_t1")),
    (None, None, (None, "", True, "none")),
    ("  plain \\boxed{5}  ", None, (None, "plain \\boxed{5}", True, "none")),
])
def test_split_response(content: str | None, field: str | None, expected: tuple) -> None:
    split = split_response(content, field)
    assert (split.reasoning, split.answer_text, split.think_closed, split.format) == expected


@pytest.mark.parametrize(("text", "answer"), [
    ("so \\boxed{1} then \\fbox{2}", "2"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ("The answer is \\boxed{3} and the final answer is 4.", "3"),  # a box wins over a stated answer
    ("Final Answer: The final answer is $42$. I hope it is correct.", "42"),
    ("The final answer is: 42.", "42"),
    ("So the answer is 3.5.", "3.5"),
    ("The answer is 1,000.", "1,000"),
    ("the answer is 7. Wait, actually the answer is 8.", "8"),
    ("The answer is $3$ meters.", "3"),
    ("Therefore, the answer is \\(\\frac{1}{2}\\).", "\\frac{1}{2}"),
    ("The final answer is\n\n$$x = 4$$", "x = 4"),
    ("The answer is 5, because 2 + 3 = 5.", "5"),
    ("The answer is **42**.", "42"),
    ("The answer is \\$18.", "\\$18"),
    ("Answer: 12", "12"),
    ("**Answer:** 12", "12"),
    ("## Answer: (C)", "(C)"),
    ("work\n#### 1,000", "1,000"),
    ("The answer is \\boxed{}.", None),  # an empty box is no answer
    ("it is 7 apples", None),
    ("", None),
])
def test_extract_final_answer(text: str, answer: str | None) -> None:
    assert extract_final_answer(text) == answer


def test_fallback_last_number() -> None:
    assert extract_final_answer("it is 7 apples") is None
    assert extract_final_answer("it is 7 apples", fallback="last_number") == "7"
    assert extract_final_answer("from 3 to 1,250 people", fallback="last_number") == "1250"
    assert extract_final_answer("no digits here", fallback="last_number") is None


def test_last_boxed_is_one_implementation() -> None:
    from distill.data.sources import boxed

    assert last_boxed is boxed.last_boxed
    assert last_boxed("\\boxed{a{b}c} and \\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"
    assert last_boxed("\\boxed{unclosed") is None


@pytest.mark.parametrize(("answer_text", "committed"), [
    (r"So \boxed{3} or \boxed{5}.", ["3", "5"]),
    ("\\boxed{3}.\n\nSo the final answer is 5.", ["3", "5"]),
    ("\\boxed{3}.\n\nThe final answer is $3$.", ["3"]),                 # the same answer restated
    (r"\boxed{\frac{1}{2}} and \boxed{ \frac{1}{2} }", [r"\frac{1}{2}"]),  # whitespace does not count
    ("The answer is 5. Correcting that, \\boxed{4}.", ["4"]),            # before the last box: an earlier try
    ("\\boxed{44}\n\nWe may check our answer: 17 * 44 = 748.", ["44"]),  # a check, not a second answer
    ("Adding them.\nAnswer: 12", ["12"]),
    ("No answer here.", []),
    ("", []),
])
def test_committed_answers(answer_text: str, committed: list[str]) -> None:
    assert committed_answers(answer_text) == committed


def test_all_boxed_keeps_nested_braces_and_skips_unclosed() -> None:
    text = r"\boxed{\frac{1}{2}} then \fbox{x^{2}} and \boxed{open"
    assert [content for content, _ in all_boxed(text)] == [r"\frac{1}{2}", "x^{2}"]


# ---- issue 21: placeholders, restatements, self-correction ---------------------------------------------------
@pytest.mark.parametrize(("content", "blank"), [
    (r"\phantom{0}", True), (r"\quad", True), ("\\ ", True), (r"\square", True), (r"\underline{\quad}", True),
    ("", True), (r"\phantom{\frac{1}{2}}", True), ("?", True), (r"\ldots", True), (r"\text{ }", True),
    ("0", False), (r"0\quad", False), (r"\phantom{0}1", False), (r"\square 2", False), ("x", False),
])
def test_is_placeholder(content: str, blank: bool) -> None:
    assert is_placeholder(content) is blank


@pytest.mark.parametrize(("stated", "value"), [
    ("12", "12"), (r"\frac{1}{2}", r"\frac{1}{2}"), ("3 or 5", "3 or 5"), ("12 thousand", "12 thousand"),
    ("twelve", "12"), ("twenty-five", "25"), ("two thirds", "2/3"), ("one hundred and five", "105"),
    ("that she has 12 apples", "12"), ("twelve apples", "12"), ("she has 12 thousand apples", "12 thousand"),
    ("25 percent of them", "25%"), ("(B)", "(B)"), ("(B) blue", "(B) blue"), ("B", "B"),
    ("clear from the table", None), ("each one is counted once", None),
    ("not 12 but 13", "not 12 but 13"),  # several numbers: kept whole
    ("I think it is 12", "12"),  # "I" is no option letter
    ("A dozen eggs", "12"),
])
def test_restated_value(stated: str, value: str | None) -> None:
    assert restated_value(stated) == value


@pytest.mark.parametrize(("answer_text", "plain_cot", "committed"), [
    (r"\boxed{\phantom{0}} then \boxed{7}", False, ["7"]),
    ("\\boxed{12}\n\nThe answer is twelve.", False, ["12"]),
    ("\\boxed{12}\n\nThe answer is thirteen.", False, ["12", "13"]),
    ("\\boxed{5}. Wait, I made a mistake: \\boxed{4}", True, ["4"]),
    ("\\boxed{5}. Wait, I made a mistake: \\boxed{4}", False, ["5", "4"]),
    ("\\boxed{5}. Wait, maybe \\boxed{4}", True, ["5", "4"]),
    ("\\boxed{5}.\n\nActually, the final answer is 4.", True, ["4"]),
])
def test_committed_answers_round3(answer_text: str, plain_cot: bool, committed: list[str]) -> None:
    assert committed_answers(answer_text, plain_cot) == committed


def test_a_placeholder_last_box_is_skipped_and_chinese_phrases_state_answers() -> None:
    assert extract_final_answer(r"So \boxed{7}, and the blank \boxed{\quad} is filled.") == "7"
    assert extract_final_answer(r"Only a blank \boxed{\quad} here.") is None
    assert extract_final_answer("所以答案为 $12$。") == "12"
    assert extract_final_answer("故选：B。") == "B"
    assert extract_final_answer("答案是 3，因为 1+2=3。") == "3"
