"""Language consistency on traces in several languages and scripts; every case asserts status and reason."""

from __future__ import annotations

import pytest

from distill.checks.language import LanguageCheck
from distill.errors import UsageError
from distill.language import detect_language
from distill.types import Generation, Problem


def judge(problem_language: str, content: str, reasoning: str | None = None, **params) -> tuple[str, str, dict]:
    check = LanguageCheck(**params)
    verdict = check.check(Problem("p", "s", "l", "math", "x", language=problem_language),
                          Generation("g", "p", "t", 0, content, reasoning, None, "stop", 10, 100))
    return verdict.status, verdict.reason, verdict.details


ZH_REASONING = ("首先，我们需要计算果园里苹果树和梨树的总数。苹果树有 $48$ 棵，梨树的数量是苹果树的一半，"
                "也就是 $48 / 2 = 24$ 棵。我们可以用 GCD 或者直接相加来验证这个结果是否正确。")
EN_REASONING = ("First, we need to count the apple trees and the pear trees in the orchard. There are 48 apple "
                "trees, and the number of pear trees is half of that, which is 24.")

PASSING = [
    ("zh", f"<think>{ZH_REASONING}</think>所以果园里一共有 $72$ 棵树，答案是 \\boxed{{72}}。"),
    ("en", f"<think>{EN_REASONING}</think>So the orchard has 72 trees in total, and the answer is \\boxed{{72}}."),
    # Loanwords, names, Greek letters, code and formulas do not count against the language.
    ("de", "<think>Wir berechnen zuerst die Summe mit Python und dem Newton-Verfahren, dann schicken wir die "
           "E-Mail. Für $\\alpha + \\beta = \\gamma$ gilt die Formel sofort.\n```python\nprint('the answer is', 7)\n```"
           "</think>Die Antwort ist also \\boxed{7}, und das Ergebnis ist damit klar."),
    ("en", "<think>Let α be the angle and β the other one, then α + β = 90°. Euler and Gauß would agree that "
           "the sum of the angles is what we need here.</think>Therefore the answer is \\boxed{90}."),
    ("fr", "<think>Nous calculons d'abord la somme des nombres, puis nous vérifions le résultat avec soin. "
           "C'est un problème classique de géométrie.</think>Donc la réponse est \\boxed{12} pour ce problème."),
    ("ja", "<think>まず、りんごの数を数えます。太郎さんは三つのりんごを持っていて、花子さんは四つ持っています。</think>"
           "答えは \\boxed{7} です。"),
    ("ru", "<think>Сначала найдём сумму всех чисел, а затем проверим результат ещё раз.</think>"
           "Итак, ответ равен \\boxed{7}, и это окончательный результат."),
]


@pytest.mark.parametrize(("language", "content"), PASSING, ids=[f"{p[0]}-{i}" for i, p in enumerate(PASSING)])
def test_consistent_traces_pass(language: str, content: str) -> None:
    status, reason, details = judge(language, content)
    assert (status, reason) == ("pass", "language_consistent"), details
    assert all(part["target_word_share"] == 1.0 for part in details["parts"].values())


def test_chinese_problem_answered_in_english_fails() -> None:
    status, reason, details = judge("zh", f"<think>{EN_REASONING}</think>So the answer is \\boxed{{72}} trees in all.")
    assert (status, reason) == ("fail", "wrong_language")
    assert details["parts"]["reasoning"]["target_word_share"] == 0.0
    assert details["parts"]["reasoning"]["offending"][0]["language"] == "en"


def test_switching_to_chinese_mid_trace_fails_with_the_segments_listed() -> None:
    content = (f"<think>{EN_REASONING}\n{ZH_REASONING}\nSo the total is 72 trees in the orchard, as we found above."
               f"</think>The answer is \\boxed{{72}}.")
    status, reason, details = judge("en", content)
    assert (status, reason) == ("fail", "language_mixed")
    part = details["parts"]["reasoning"]
    assert 0.2 < part["target_word_share"] < 0.9
    assert {o["language"] for o in part["offending"]} == {"zh"}
    assert details["failing_parts"] == ["reasoning"]


@pytest.mark.parametrize(("language", "content", "foreign"), [
    ("en", "<think>We add the two numbers together to get the total. Wir berechnen zuerst die Summe der Zahlen "
           "und dann ist das Ergebnis klar.</think>The answer is \\boxed{7}.", "de"),
    ("es", "<think>Primero sumamos los dos números y luego revisamos el resultado con cuidado. Then we check the "
           "result again and it is correct.</think>La respuesta es \\boxed{7} en este caso.", "en"),
    ("en", "<think>We add the numbers first and then check the total once more.</think>Итак, ответ равен "
           "\\boxed{7}, и это окончательный результат.", "ru"),
    ("ko", "<think>먼저 두 수를 더한 다음 결과를 다시 확인합니다. 이 문제는 간단한 덧셈 문제입니다.</think>"
           "So the final answer is \\boxed{7}, which we checked twice.", "en"),
])
def test_mixed_languages_across_scripts_fail(language: str, content: str, foreign: str) -> None:
    status, reason, details = judge(language, content)
    assert (status, reason) == ("fail", "language_mixed"), details
    offending = [o["language"] for p in details["parts"].values() for o in p["offending"]]
    assert foreign in offending


def test_reasoning_and_answer_are_judged_separately() -> None:
    content = f"<think>{EN_REASONING}</think>所以果园里一共有七十二棵树，答案是七十二。"
    status, reason, details = judge("en", content)
    assert (status, reason) == ("fail", "language_mixed") and details["failing_parts"] == ["answer"]
    assert judge("en", content, check_answer=False)[:2] == ("pass", "language_consistent")


def test_reasoning_field_and_threshold() -> None:
    mixed = EN_REASONING + " " + ZH_REASONING
    assert judge("en", "The answer is \\boxed{72}.", reasoning=mixed)[:2] == ("fail", "language_mixed")
    assert judge("en", "The answer is \\boxed{72}.", reasoning=mixed, max_foreign_share=0.8)[:2] == \
        ("pass", "language_consistent")


def test_unknown_language_abstains_and_fixed_language_overrides() -> None:
    assert judge("und", f"<think>{EN_REASONING}</think>\\boxed{{72}}")[:2] == ("abstain", "language_unknown")
    assert judge("und", f"<think>{EN_REASONING}</think>\\boxed{{72}}", language="en")[:2] == \
        ("pass", "language_consistent")
    assert judge("en", "<think>$x^2 + 1 = 0$</think>\\boxed{i}")[:2] == ("abstain", "language_unknown")
    with pytest.raises(UsageError, match="max_foreign_share"):
        LanguageCheck(max_foreign_share=1.5)
    with pytest.raises(UsageError, match="unknown parameter"):
        LanguageCheck(threshhold=0.1)


@pytest.mark.parametrize(("text", "language"), [
    ("Janet's ducks lay 16 eggs per day. How much does she make every day?", "en"),
    ("珍妮的鸭子每天下蛋16个。她每天赚多少钱？", "zh"),
    ("ジャネットのアヒルは一日に十六個の卵を産みます。", "ja"),
    ("재닛의 오리는 하루에 열여섯 개의 알을 낳습니다.", "ko"),
    ("Combien de pommes reste-t-il à Marie après le repas ?", "fr"),
    ("Wie viele Beine hat eine Spinne, wenn man genau zählt?", "de"),
    ("Compute $\\frac{1}{2}$.", "und"),
])
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_batches_run_in_worker_processes_with_the_same_verdicts() -> None:
    problem = Problem("p", "s", "l", "math", "x", language="en")
    items = [(problem, Generation(f"g{i}", "p", "t", 0,
                                  f"<think>{EN_REASONING}{' ' + ZH_REASONING if i % 4 == 0 else ''}</think>"
                                  f"The answer is \\boxed{{{i}}}.", None, None, "stop", 1, 1)) for i in range(100)]
    check = LanguageCheck(processes=2)
    try:
        pooled = check.check_batch(items)
    finally:
        check.close()
    single = [LanguageCheck(processes=1).check(p, g) for p, g in items]
    assert pooled == single
    assert [v.reason for v in pooled].count("language_mixed") == 25
