"""Language consistency on traces in several languages and scripts; every case asserts status and reason."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from distill.checks.language import LanguageCheck
from distill.checks.language_id import detect_language
from distill.errors import UsageError
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
    ("uk", "<think>Спочатку знайдемо суму всіх чисел, а потім перевіримо результат ще раз.</think>"
           "Отже, відповідь дорівнює \\boxed{7}, і це остаточний результат."),
    ("ar", "<think>لدينا المعادلة $2x + 3 = 7$. نطرح 3 من الطرفين ونقسم على 2، إذن $x$ يساوي 2.</think>"
           "الإجابة النهائية هي \\boxed{2} بعد التحقق من الحساب."),
    ("hi", "<think>हमारे पास समीकरण $2x + 3 = 7$ है। हम 3 घटाते हैं और 2 से भाग देते हैं, इसलिए x बराबर 2 है।</think>"
           "अतः अंतिम उत्तर \\boxed{2} है, जिसे हमने दोबारा जाँचा है।"),
    ("ko", "<think>방정식 $2x + 3 = 7$이 있습니다. 양변에서 3을 빼고 2로 나누면 x는 2입니다.</think>"
           "따라서 최종 답은 \\boxed{2}이고, 다시 확인했습니다."),
    ("es", "<think>Tenemos la ecuación $2x + 3 = 7$. Restamos 3 y dividimos entre 2, así que x es igual a 2.</think>"
           "La respuesta es \\boxed{2}, y lo hemos comprobado dos veces."),
    # Kanji-only Japanese lines are Japanese in a Japanese trace.
    ("ja", "<think>まず、問題を整理します。\n計算結果確認済、最終解答導出完了。\n次に答えを書きます。</think>"
           "答えは \\boxed{7} です。"),
    # Variables named like function words (Spanish "y", Polish "z"), names, units and math words.
    ("en", "<think>Let i be the index and let y and z be the unknowns, with w the weight. By de Moivre's theorem and "
           "the van der Waerden bound we get sin x = det A here. The man in the van drives ten miles per hour, "
           "and Dan does not care.</think>The answer is \\boxed{7}."),
    # Code (fenced and inline) and an English comment inside a Chinese trace.
    ("zh", "<think>我们先写一段代码来验证：\n```python\nfrom math import gcd\n"
           "print(gcd(12, 18))  # the result should be 6"
           "\n```\n运行后得到 `gcd(12, 18) = 6`，和我们手算的结果一致，所以最大公约数是 6。</think>答案是 $6$。"),
    # A language without a function-word list is judged by py3langid alone.
    ("is", "<think>Fyrst reiknum við summu talnanna og síðan athugum við niðurstöðuna vandlega.</think>"
           "Svarið er því sjö, og við höfum athugað það tvisvar."),
    # MATH-style Asymptote figures are code.
    ("en", "<think>[asy]\ndraw((0,0)--(1,1)--(2,0)--cycle);\n"
           "label(\"$A$\", (0,0), SW); label(\"$B$\", (1,1), NE);\n[/asy]\n"
           "The triangle in the figure has base 2 and height 1, so its area is 1.</think>The answer is \\boxed{1}."),
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


@pytest.mark.parametrize(("language", "content", "reason", "foreign"), [
    # A Japanese problem answered in Chinese: Han without kana, with characters only Chinese uses.
    ("ja", "<think>首先计算苹果的数量，然后我们把它们加起来得到总数。</think>答案是 7，我们已经检查过了。",
     "wrong_language", "zh"),
    # A Ukrainian problem answered in Russian: same script, told apart by letters and py3langid.
    ("uk", "<think>Сначала найдём сумму всех чисел, а затем проверим результат ещё раз.</think>"
           "Итак, ответ равен 7, и это окончательный результат.", "wrong_language", "ru"),
    # A Latin-script language without a word list, in an English trace.
    ("en", "<think>We first add the numbers and then check the total again carefully. Fyrst reiknum við summu "
           "talnanna og síðan athugum við niðurstöðuna vandlega.</think>The answer is 7, checked twice.",
     "language_mixed", "is"),
    ("en", "<think>We first add the numbers and then check the total again carefully. Ensin lasketaan lukujen summa "
           "ja sitten tarkistetaan tulos huolellisesti.</think>The answer is 7, checked twice.",
     "language_mixed", "fi"),
    ("en", "<think>Fyrst reiknum við summu talnanna og síðan athugum við niðurstöðuna vandlega.</think>"
           "Svarið er því sjö, og við höfum athugað það tvisvar.", "wrong_language", "is"),
])
def test_relatives_and_unlisted_languages_fail(language: str, content: str, reason: str, foreign: str) -> None:
    status, got, details = judge(language, content)
    assert (status, got) == ("fail", reason), details
    assert foreign in {o["language"] for p in details["parts"].values() for o in p["offending"]}


def test_min_segment_chars_decides_what_is_meaningful() -> None:
    content = f"<think>{EN_REASONING} Хорошо, проверим. So the total is 72 trees.</think>The answer is \\boxed{{72}}."
    assert judge("en", content)[:2] == ("pass", "language_consistent")
    status, reason, details = judge("en", content, min_segment_chars=10)
    assert (status, reason) == ("fail", "language_mixed")
    assert details["parts"]["reasoning"]["offending"] == [{"language": "ru", "text": "Хорошо проверим"}]


def test_offending_segments_are_capped_and_truncated() -> None:
    chinese = [f"第{n}步，我们再一次仔细检查这个结果是否正确，并且把所有的数都重新加一遍。" for n in "一二三四五六七八"]
    english = [f"Step {n}: we add the numbers again and check that the total is still right." for n in range(8)]
    # Alternating lines: each Chinese line is its own offending passage.
    lines = [line for pair in zip(english, chinese, strict=True) for line in pair]
    status, reason, details = judge("en", "<think>" + "\n".join(lines) + "</think>The answer is 7, as shown.")
    assert (status, reason) == ("fail", "language_mixed")
    offending = details["parts"]["reasoning"]["offending"]
    assert len(offending) == 5 and all(o["language"] == "zh" and len(o["text"]) <= 160 for o in offending)
    # 8 x 14 English words against 8 x 33 Chinese characters, about 22 words each at 1.5 characters a word.
    assert details["parts"]["reasoning"]["target_word_share"] == pytest.approx(112 / (112 + 8 * 22), abs=0.02)


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
    # Without a problem language, the trace is judged against its own (issue 21: never a source's majority).
    status, reason, details = judge("und", f"<think>{EN_REASONING}</think>\\boxed{{72}}")
    assert (status, reason, details["expected"], details["expected_from"]) == \
        ("pass", "language_consistent", "en", "trace")
    assert judge("und", "<think>$x^2 + 1 = 0$</think>\\boxed{i}")[:2] == ("abstain", "language_unknown")
    assert judge("und", f"<think>{EN_REASONING}</think>\\boxed{{72}}", language="en")[:2] == \
        ("pass", "language_consistent")
    assert judge("en", "<think>$x^2 + 1 = 0$</think>\\boxed{i}")[:2] == ("abstain", "language_unknown")
    assert judge("und", f"<think>{ZH_REASONING}</think>答案是 72。", language="en")[:2] == ("fail", "wrong_language")


@pytest.mark.parametrize(("params", "message"), [
    ({"max_foreign_share": 1.5}, "max_foreign_share"),
    ({"max_foreign_share": "0.1"}, "max_foreign_share"),
    ({"min_segment_chars": 0}, "min_segment_chars"),
    ({"min_segment_chars": 2.5}, "min_segment_chars"),
    ({"language": "english"}, "ISO 639"),
    ({"check_answer": "no"}, "check_answer"),
    ({"check_reasoning": False, "check_answer": False}, "cannot both be false"),
    ({"processes": 0}, "processes"),
    ({"threshhold": 0.1}, "unknown parameter"),
])
def test_bad_parameters_are_usage_errors(params: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        LanguageCheck(**params)


@pytest.mark.parametrize(("text", "language"), [
    ("Janet's ducks lay 16 eggs per day. How much does she make every day?", "en"),
    ("珍妮的鸭子每天下蛋16个。她每天赚多少钱？", "zh"),
    ("ジャネットのアヒルは一日に十六個の卵を産みます。", "ja"),
    ("재닛의 오리는 하루에 열여섯 개의 알을 낳습니다.", "ko"),
    ("Combien de pommes reste-t-il à Marie après le repas ?", "fr"),
    ("Wie viele Beine hat eine Spinne, wenn man genau zählt?", "de"),
    ("Compute $\\frac{1}{2}$.", "und"),
    ("Let $a = 1$ and $b = 2$. Compute $a + b$ in degrees.", "en"),  # py3langid alone: Dutch
    ("[asy] draw((0,0)--(1,1)); label(\"$A$\", (0,0), NE); [/asy] In the diagram, what is the area of the triangle?",
     "en"),
    ("Найдите сумму всех натуральных чисел от одного до ста.", "ru"),
    ("Знайдіть суму всіх натуральних чисел від одного до ста.", "uk"),
    ("أوجد مجموع الأعداد الطبيعية من واحد إلى مئة.", "ar"),
    ("एक से सौ तक की सभी प्राकृतिक संख्याओं का योग ज्ञात कीजिए।", "hi"),
    ("Encuentra la suma de todos los números naturales del uno al cien.", "es"),
])
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(("text", "language"), [
    # ASCII-only, several English function words, but one word English lacks: the careful path decides
    ("Het is een mooi huis en de tuin is groot, maar wij hebben geen tijd voor dat.", "nl"),
    ("Find the value of x so that the sum is ten, les deux nombres.", "en"),
    ("Die Summe ist gleich der Zahl, und wir haben das Ergebnis in der Tabelle.", "de"),
    ("Trouvez la valeur de x pour que la somme soit dix et que le produit soit neuf.", "fr"),
])
def test_the_english_fast_path_leaves_other_languages_to_the_careful_path(text: str, language: str) -> None:
    from distill.checks.language_id import _plainly_english

    assert not _plainly_english(text)
    assert detect_language(text) == language


def test_the_english_fast_path_agrees_with_the_careful_path_on_real_problems(monkeypatch) -> None:
    from pathlib import Path

    from distill.checks import language_id

    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not data.is_dir():
        pytest.skip("../shared/data (public problem sets) is absent")
    texts = [json.loads(line)[field] for name, field in [("gsm8k", "question"), ("math500", "problem"),
                                                         ("aime24", "problem"), ("amc23", "problem")]
             for line in (data / f"{name}.test.jsonl").read_text().splitlines()]
    fast = [t for t in texts if language_id._plainly_english(t)]
    monkeypatch.setattr(language_id, "_plainly_english", lambda text: False)
    careful = Counter(detect_language(t) for t in fast)
    assert len(fast) > 0.8 * len(texts)
    assert careful["en"] >= len(fast) - 2 and set(careful) <= {"en", "und"}  # two "$4 ... $" problems: und


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


def test_reference_solutions_are_english_and_not_anything_else(shared_data) -> None:
    """1,819 real reasoning texts (MATH-500 solutions with LaTeX and Asymptote, GSM8K answers with
    calculator annotations): none fails as English; as Chinese or German, nearly all fail."""
    solutions = [json.loads(line)["solution"] for line in (shared_data / "math500.test.jsonl").open()]
    solutions += [json.loads(line)["answer"] for line in (shared_data / "gsm8k.test.jsonl").open()]
    check = LanguageCheck(processes=1)

    def reasons(language: str) -> Counter[str]:
        problem = Problem("p", "s", "l", "math", "x", language=language)
        return Counter(check.check(problem, Generation("g", "p", "t", 0, f"<think>{text}</think>", None, None,
                                                       "stop", 1, 1)).reason for text in solutions)

    english = reasons("en")
    assert english["language_consistent"] > 1700 and set(english) == {"language_consistent", "language_unknown"}
    chinese = reasons("zh")
    assert chinese["wrong_language"] > 1700 and set(chinese) == {"wrong_language", "language_unknown"}
    german = reasons("de")
    assert german["wrong_language"] > 1600 and german["language_consistent"] < 20


# ---- issue 9: what R1-style distillation most needs removed -------------------------------------------
EN_LONG = ("First we subtract three from both sides of the equation, which leaves two times x equal to eight. "
           "Then we divide both sides by two, and we check the result by substituting it back. ")


@pytest.mark.parametrize(("sentence", "foreign"), [
    ("Entonces el resultado es correcto y podemos seguir con el siguiente paso.", "es"),
    ("Então o resultado está certo e podemos continuar com o próximo passo.", "pt"),
    ("Donc le résultat est correct et nous pouvons passer à l'étape suivante.", "fr"),
    ("Quindi il risultato è corretto e possiamo passare al passo successivo.", "it"),
])
def test_one_latin_script_sentence_inside_an_english_trace_fails(sentence: str, foreign: str) -> None:
    # py3langid alone is ~0.7 sure of one such sentence, under the 0.9 bar: the function words decide.
    status, reason, details = judge("en", f"<think>{EN_LONG}{sentence} {EN_LONG}</think>The answer is \\boxed{{4}}.")
    assert (status, reason) == ("fail", "language_mixed"), details
    assert [o["language"] for o in details["parts"]["reasoning"]["offending"]] == [foreign]


def test_r1_style_short_chinese_words_inside_english_sentences_fail() -> None:
    reasoning = ("First, 我们 compute the sum of the two numbers carefully. 然后 we divide the total by two. "
                 "所以 the answer is six, and we check it once more.")
    status, reason, details = judge("en", f"<think>{reasoning}</think>The answer is \\boxed{{6}}.")
    assert (status, reason) == ("fail", "language_mixed"), details
    offending = details["parts"]["reasoning"]["offending"]
    assert [(o["language"], o["text"]) for o in offending] == [("zh", "我们"), ("zh", "然后"), ("zh", "所以")]
    assert details["parts"]["reasoning"]["target_word_share"] < 1.0
    # One Chinese word is enough, however long the English around it.
    status, reason, _ = judge("en", f"<think>{EN_LONG * 5}所以 we are done.</think>The answer is \\boxed{{6}}.")
    assert (status, reason) == ("fail", "language_mixed")


def test_english_glued_to_chinese_punctuation_fails_in_a_chinese_trace() -> None:
    content = f"<think>{ZH_REASONING}所以答案是72。Then we check it again.</think>所以答案是 \\boxed{{72}}。"
    status, reason, details = judge("zh", content)
    assert (status, reason) == ("fail", "language_mixed"), details
    assert details["parts"]["reasoning"]["offending"] == [{"language": "en", "text": "Then we check it again"}]


def test_latin_names_variables_and_code_words_in_a_chinese_trace_still_pass() -> None:
    content = (f"<think>{ZH_REASONING}我们用 Python 和 Newton 方法验证，设 x 和 y 为两个变量。</think>"
               "所以答案是 \\boxed{72}。")
    assert judge("zh", content)[:2] == ("pass", "language_consistent")


@pytest.mark.parametrize("noise", [
    "\ufffd" * 3,                                   # replacement characters from a broken decode
    "\x01\x02 and \x03",                            # control characters
    "the rÃ©sultat is 5 and itâ€™s done, Ã©tÃ©",   # UTF-8 read as Latin-1
])
def test_garbled_text_fails_with_its_own_reason(noise: str) -> None:
    status, reason, details = judge("en", f"<think>{EN_LONG}{noise} {EN_LONG}</think>The answer is \\boxed{{4}}.")
    assert (status, reason) == ("fail", "garbled_text"), details
    assert details["part"] == "reasoning" and details["garbled_count"] >= 3


def test_a_stray_replacement_character_is_not_garbled_text() -> None:
    status, reason, _ = judge("en", f"<think>{EN_LONG}\ufffd {EN_LONG}</think>The answer is \\boxed{{4}}.")
    assert (status, reason) == ("pass", "language_consistent")


def test_math500_angle_prompt_is_english_and_short_prompts_are_und() -> None:
    # MATH-500's "Compute $\angle ABC,$ in degrees." was detected as Dutch, so correct English traces failed.
    prompt = ("Let $A = (1,-11,2),$ $B = (3,-4,1),$ and $C = (-2,1,-1).$  Compute $\\angle ABC,$ in degrees.")
    assert detect_language(prompt) == "en"
    status, reason, _ = judge(detect_language(prompt), f"<think>{EN_LONG}</think>The angle is \\boxed{{120}} degrees.")
    assert (status, reason) == ("pass", "language_consistent")
    # Too short to tell: "und" here, and the source's dominant language at ingest (tests/test_sources.py);
    # the check then abstains unless the recipe names the language.
    assert detect_language("What is 2+3?") == "und"
    assert judge("und", "The answer is \\boxed{5}.")[:2] == ("abstain", "language_unknown")
    assert judge("und", f"<think>{EN_LONG}</think>The answer is \\boxed{{5}}.", language="en")[:2] == \
        ("pass", "language_consistent")


def test_a_parenthesised_gloss_is_not_a_switch_but_a_longer_passage_is() -> None:
    gloss = f"<think>{EN_LONG}We use the Chinese remainder theorem (中国剩余定理) here.</think>So \\boxed{{4}}."
    assert judge("en", gloss)[:2] == ("pass", "language_consistent")
    switch = (f"<think>{EN_LONG}We use the remainder theorem (中国剩余定理是一个很重要的定理我们用它) here.</think>"
              "So \\boxed{4}.")
    assert judge("en", switch)[:2] == ("fail", "language_mixed")


# ---- issue 21: short CJK sentences, short foreign Latin sentences, short problems of mixed sources ------------
@pytest.mark.parametrize("sentence", ["好的。", "对，没错。", "我们再检查一下。", "等一下，再算一遍。",
                                      "嗯，让我想想。", "좋아요.", "そうですね。"])
def test_a_short_cjk_sentence_between_english_sentences_fails(sentence: str) -> None:
    status, reason, details = judge("en", f"<think>{EN_LONG}{sentence} {EN_LONG}</think>The answer is \\boxed{{4}}.")
    assert (status, reason) == ("fail", "language_mixed"), details
    assert [o["text"] for o in details["parts"]["reasoning"]["offending"]] == [sentence.rstrip(".")]


@pytest.mark.parametrize(("sentence", "foreign"), [
    ("Vamos a verificar la respuesta.", "es"),
    ("Perfecto, el cálculo está bien hecho.", "es"),
    ("Voyons si cela marche bien.", "fr"),
    ("Alors on trouve quatre ici.", "fr"),
    ("Gut, das Ergebnis stimmt jetzt.", "de"),
])
def test_a_short_foreign_latin_sentence_in_an_english_trace_fails(sentence: str, foreign: str) -> None:
    # One foreign function word in the whole trace: the fast path used to decide "English" without looking.
    status, reason, details = judge("en", f"<think>{EN_LONG}{sentence} {EN_LONG}</think>The answer is \\boxed{{4}}.")
    assert (status, reason) == ("fail", "language_mixed"), details
    assert [o["language"] for o in details["parts"]["reasoning"]["offending"]] == [foreign]


FR_LONG = ("Nous soustrayons d'abord trois des deux côtés de l'équation, ce qui laisse deux fois x égal à huit. "
           "Ensuite nous divisons les deux côtés par deux et nous vérifions le résultat en le remplaçant. ")
ES_LONG = ("Primero restamos tres de ambos lados de la ecuación, lo que deja dos veces x igual a ocho. "
           "Luego dividimos ambos lados entre dos y comprobamos el resultado sustituyéndolo. ")
DE_LONG = ("Zuerst ziehen wir auf beiden Seiten der Gleichung drei ab, sodass zweimal x gleich acht bleibt. "
           "Dann teilen wir beide Seiten durch zwei und prüfen das Ergebnis durch Einsetzen. ")


@pytest.mark.parametrize(("language", "trace"), [("fr", FR_LONG), ("es", ES_LONG), ("de", DE_LONG)])
@pytest.mark.parametrize("sentence", ["Okay, so that works out fine.", "Good, so far so good here.",
                                      "Right, now subtract once more.", "Okay, looks good to me.",
                                      "Wait, let me check this again."])
def test_a_short_english_sentence_in_a_latin_trace_fails(language: str, trace: str, sentence: str) -> None:
    status, reason, details = judge(language, f"<think>{trace}{sentence} {trace}</think>\\boxed{{4}}")
    assert (status, reason) == ("fail", "language_mixed"), details
    assert [o["language"] for o in details["parts"]["reasoning"]["offending"]] == ["en"]


@pytest.mark.parametrize("sentence", [
    "We apply l'Hôpital's rule once more and the limit is four.",
    "The café sells crêpes for three euros each, so Amélie pays twelve.",
    "By the theorem of de la Vallée Poussin the estimate holds here.",
    "Señor Gómez has four apples, and Pedro gives him none.",
    "The la Hire point and the Cauchy-Schwarz inequality give the bound.",
    "So the answer is four, and we are done with this part.",
])
def test_english_sentences_with_foreign_names_and_accents_still_pass(sentence: str) -> None:
    status, reason, details = judge("en", f"<think>{EN_LONG}{sentence} {EN_LONG}</think>The answer is \\boxed{{4}}.")
    assert (status, reason) == ("pass", "language_consistent"), details


def test_a_problem_without_a_language_is_judged_against_its_trace() -> None:
    # A short English problem of a mostly Chinese source has no language: its clean English trace passes, and
    # a switch inside the trace still fails.
    assert judge("und", f"<think>{EN_LONG}</think>The answer is \\boxed{{4}}.")[:2] == ("pass", "language_consistent")
    switched = f"<think>{EN_LONG}我们再检查一下。{EN_LONG}</think>The answer is \\boxed{{4}}."
    status, reason, details = judge("und", switched)
    assert (status, reason, details["expected"]) == ("fail", "language_mixed", "en")
    chinese = f"<think>{ZH_REASONING}</think>所以答案是 \\boxed{{72}}。"
    assert judge("und", chinese)[:2] == ("pass", "language_consistent")
