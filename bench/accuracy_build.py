"""Build ``tests/data/verify_accuracy.jsonl``: the project's own labelled set for the math, choice and
language checks.

Everything here is written for this project (no dataset rows are copied): MATH- and GSM8K-style problems
with their reference answers, each answered by R1-style traces (a think block, then a short answer) in
equivalent forms (fractions, radicals, intervals, matrices, units, percentages, words, bases) and wrong
ones, hedged answers, the classes of issue 21 (placeholder boxes, restatements after the box, plain-CoT
self-correction, e-notation, unit and value words, equations, set-builder notation, the empty set, words,
Chinese answer phrases, short CJK and Latin sentences), and reasoning in twelve languages and five scripts,
consistent and mixed: one foreign sentence, R1's code-switching (Chinese words inside English sentences),
English glued to Chinese punctuation, whole traces in the wrong language, garbled text; plus the controls
that must pass (names, loanwords, Greek letters, code and formulas).

Each row: ``id``, ``check`` (math | choice | language), ``domain``, ``prompt``, ``answer``, ``choices``,
``language`` (the problem's), ``response`` (the full text as a teacher returns it), ``label`` (``pass``
or ``fail``: what a careful human grader says), ``kind`` (the case family, for per-kind errors).

Usage: ``python bench/accuracy_build.py`` (deterministic; rewrites the file).
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "verify_accuracy.jsonl"

# ---- math: (prompt, reference, equivalent answers, wrong answers) -------------------------------------------
MATH = [
    ("If $3x - 5 = 9$, what is $x$? Express your answer as a common fraction.", r"\frac{14}{3}",
     [r"\frac{14}{3}", "14/3", r"\dfrac{14}{3}", r"4\frac{2}{3}"], ["4.67", r"\frac{3}{14}"]),
    ("Simplify $\\sqrt{117}$.", r"3\sqrt{13}", [r"3\sqrt{13}", r"\sqrt{117}"], [r"\sqrt{13}", "3"]),
    ("Solve $2x - 4 > 0$. Express your answer in interval notation.", r"(2,\infty)",
     [r"(2, \infty)", r"\left(2,\infty\right)", "x > 2"], [r"[2,\infty)", r"x \ge 2", "(2, 3)"]),
    ("Find the vector $\\mathbf{v}$ such that $\\mathbf{v} + \\begin{pmatrix} 1 \\\\ 1 \\end{pmatrix} = "
     "\\begin{pmatrix} 2 \\\\ 3 \\end{pmatrix}$.", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
     [r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"],
     [r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}"]),
    ("A shirt costs $\\$20$ and is sold for $\\$15$. By what percent was the price reduced?", r"25\%",
     [r"25\%", "25", "0.25", "25 percent"], ["2.5", r"20\%"]),
    ("Which direction is the sun in at sunrise? Answer with a compass direction.", r"\text{east}",
     [r"\text{east}", "East", r"\textbf{east}"], [r"\text{west}", r"\text{stea}"]),
    ("In an isosceles right triangle, what is the measure of the right angle, in degrees?", r"90^\circ",
     [r"90^\circ", "90", r"90^{\circ}", "90 degrees"], ["45", r"45^\circ"]),
    ("Find all solutions of $x^2 - 2x - 18 = 0$.", r"1 \pm \sqrt{19}",
     [r"1 \pm \sqrt{19}", r"1 + \sqrt{19}, 1 - \sqrt{19}"], [r"1 + \sqrt{19}", r"2 \pm \sqrt{19}"]),
    ("Compute $\\sin 60^\\circ$.", r"\frac{\sqrt{3}}{2}",
     [r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}", r"\sqrt{3}/2"], [r"\frac{\sqrt{2}}{2}", r"\frac{1}{2}"]),
    ("A rectangle is 2 cm by 3 cm. What is its area, in square centimetres?", "6",
     [r"6\text{ cm}^2", "6", r"6 \, \text{cm}^2", "6 cm^2"], [r"7\text{ cm}^2", "5"]),
    ("Mia buys 3 notebooks at $\\$6$ each. How much does she pay in dollars?", "18",
     [r"\$18", "18 dollars", "18.00", "18"], ["17", "24"]),
    ("How many millimetres are in one metre?", "1000", ["1,000", "1000", r"1{,}000"], ["100", "10000"]),
    ("What is $\\frac{1}{20!}$ written as a fraction?", r"\frac{1}{20!}", [r"\frac{1}{20!}"], [r"\frac{1}{21!}"]),
    ("Is 17 a prime number? Answer yes or no.", r"\text{yes}", [r"\text{yes}", "Yes"], [r"\text{sey}", r"\text{no}"]),
    ("Solve $|2x - 1| \\le 5$. Express your answer in interval notation.", "[-2, 3]",
     ["[-2,3]", r"-2 \le x \le 3", r"\left[-2, 3\right]"], ["(-2,3)", "[-3, 2]"]),
    ("What is the circumference of a circle of radius 1?", r"2\pi", [r"2\pi", r"2 \pi", r"\pi \cdot 2"],
     [r"\pi", r"4\pi"]),
    ("Compute $\\frac{9}{4}$ as a decimal.", "2.25", ["2.25", r"\frac{9}{4}", "9/4"], ["2.5", "2.2"]),
    ("Write $42_{10}$ in base 8.", "52_8", ["52_8", "52_{8}", "52"], ["42", "52_9"]),
    ("Expand $(x+1)^2$.", "x^2+2x+1", ["x^2 + 2x + 1", "(x+1)^2", "1 + 2x + x^2"], ["x^2+1", "x^2+2x"]),
    ("Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.", r"\left( 3, \frac{\pi}{2} \right)",
     [r"(3, \frac{\pi}{2})", r"\left(3,\frac{\pi}{2}\right)", r"(3, \pi/2)"], [r"(3, \pi)", r"(\frac{\pi}{2}, 3)"]),
    ("A stone falls with acceleration $g$. What is $g$ in m/s$^2$ (one decimal)?", "9.8",
     [r"9.8\text{ m/s}^2", "9.8", r"9.8\,\mathrm{m\,s^{-2}}"], [r"9.81\text{ m/s}^2", "10"]),
    ("Janet has 16 eggs, eats 3 and bakes with 4. She sells the rest at $\\$2$ each. How many dollars does "
     "she make?", "18", ["18", r"\$18.00"], ["16", "9"]),
    ("Find the sum of the roots of $x^2 - 8x + 15 = 0$, listing the roots.", "3, 5", ["3, 5", "5, 3", r"\{3, 5\}"],
     ["3, 6", "8"]),
    ("Solve $x^2 > 4$.", r"(-\infty,-2)\cup(2,\infty)",
     [r"(-\infty,-2)\cup(2,\infty)", r"x<-2 \text{ or } x>2"], [r"(-2,2)", r"x<-2 \text{ or } x>3"]),
    ("Evaluate $\\log_2 64$.", "6", ["6", "6.0"], ["5", "8"]),
    ("What is $3\\frac{1}{2}$ as an improper fraction?", r"\frac{7}{2}", [r"\frac{7}{2}", "3 1/2", "3.5"],
     [r"\frac{5}{2}", "3.25"]),
]

THINK = ["Let me set up the problem carefully. I will write down what is given and what is asked, then work "
         "through the algebra one step at a time and check the result at the end.",
         "Okay, so we need to find the requested quantity. First I restate the conditions, then I compute. "
         "Wait, let me double-check the arithmetic before committing. Yes, that holds.",
         "Hmm, this looks like a standard exercise. I recall the relevant formula and apply it directly, "
         "simplifying as I go. Plugging the value back in confirms it."]
FINALS = ["The answer is $\\boxed{{{a}}}$.", "Therefore, the final answer is $\\boxed{{{a}}}$.",
          "**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]", "So we get $\\boxed{{{a}}}$ as required."]


def math_rows() -> list[dict]:
    rows = []
    for p, (prompt, gold, good, bad) in enumerate(MATH):
        for k, (answer, label) in enumerate([(a, "pass") for a in good] + [(a, "fail") for a in bad]):
            think = THINK[(p + k) % len(THINK)]
            final = FINALS[(p + k) % len(FINALS)].format(a=answer)
            rows.append(dict(check="math", domain="math", prompt=prompt, answer=gold, language="en",
                             response=f"<think>\n{think}\n</think>\n\n{final}", label=label,
                             kind="equivalent" if label == "pass" else "wrong"))
    hedges = [
        ("3", r"So $x = \boxed{3}$ or $x = \boxed{5}$.", "fail", "hedge"),
        ("5", r"Either $\boxed{3}$ or $\boxed{5}$, depending on the sign.", "fail", "hedge"),
        ("3", "We get $\\boxed{3}$.\n\nHowever, rechecking once more, the final answer is 5.", "fail", "hedge"),
        ("3", r"The answer is $3 \text{ or } 5$.", "fail", "hedge"),
        ("12", "Adding the two parts gives the total.\nAnswer: 12", "pass", "stated"),
        ("12", "Adding the two parts gives the total.\nAnswer: 13", "fail", "stated"),
        (r"\frac{1}{2}", r"That is $\boxed{\frac{1}{2}}$, i.e. $\boxed{0.5}$.", "pass", "same_answer_twice"),
        ("3", "$\\boxed{3}$\n\nThe final answer is $3$.", "pass", "same_answer_twice"),
        ("4", "At first the answer is 5, but correcting the sign, $\\boxed{4}$.", "pass", "stated"),
        ("3, 5", r"The roots are $\boxed{3}$ and $\boxed{5}$.", "pass", "list_in_boxes"),
    ]
    for gold, final, label, kind in hedges:
        rows.append(dict(check="math", domain="math", prompt="Solve the equation.", answer=gold, language="en",
                         response=f"<think>\n{THINK[0]}\n</think>\n\n{final}", label=label, kind=kind))
    return rows


# ---- choice ------------------------------------------------------------------------------------------------
COLOURS = ["red", "blue", "green", "yellow"]


def choice_rows() -> list[dict]:
    cases = [
        ("B", "The answer is \\boxed{B}.", "pass", "letter"), ("B", "**Answer: (B) blue**", "pass", "letter"),
        ("B", "The sky is blue, so the answer is blue.", "pass", "option_text"),
        ("B", "The answer is \\boxed{C}.", "fail", "wrong"), ("B", "Answer: A", "fail", "wrong"),
        ("B", "The answer is B or C.", "fail", "hedge"), ("B", "\\boxed{B} or \\boxed{C}", "fail", "hedge"),
        ("B", "\\boxed{B}\n\nOn reflection, the final answer is C.", "fail", "hedge"),
        ("A", "The answer is a number near 14, so I cannot decide.", "fail", "article"),
        ("A", "I considered every colour carefully and could not decide.", "fail", "substring"),
        ("AD", "The answer is AD.", "pass", "multi"), ("AD", "\\boxed{A, D}", "pass", "multi"),
        ("AD", "\\boxed{A}", "fail", "multi"), ("AD", "The answer is A or D.", "fail", "multi"),
    ]
    return [dict(check="choice", domain="choice", prompt="Which colour is the clear daytime sky?", answer=gold,
                 choices=COLOURS, language="en", response=f"<think>\n{THINK[1]}\n</think>\n\n{text}", label=label,
                 kind=kind) for gold, text, label, kind in cases]


# ---- language ----------------------------------------------------------------------------------------------
# A reasoning paragraph and an answer line per language, all saying the same thing (a small word problem).
TRACES = {
    "en": ("First, we count the apples in both baskets. The first basket has $12$ apples and the second has "
           "$15$, so together there are $12 + 15 = 27$ apples. Then we check the sum once more by adding the "
           "tens and the ones separately, and it is still the same.", "So the total is $\\boxed{27}$ apples."),
    "zh": ("首先，我们数一数两个篮子里的苹果。第一个篮子里有 $12$ 个苹果，第二个篮子里有 $15$ 个，所以一共有 "
           "$12 + 15 = 27$ 个苹果。然后我们把十位和个位分开相加，再检查一遍，结果还是一样的。",
           "所以苹果的总数是 $\\boxed{27}$ 个。"),
    "ja": ("まず、二つのかごの中のりんごを数えます。一つ目のかごには $12$ 個、二つ目のかごには $15$ 個あるので、"
           "合計は $12 + 15 = 27$ 個です。次に、十の位と一の位を別々に足してもう一度確かめると、同じ結果になります。",
           "したがって、りんごは全部で $\\boxed{27}$ 個です。"),
    "ko": ("먼저 두 바구니에 있는 사과를 셉니다. 첫 번째 바구니에는 사과가 $12$개, 두 번째 바구니에는 $15$개 "
           "있으므로 모두 $12 + 15 = 27$개입니다. 그다음 십의 자리와 일의 자리를 따로 더해서 다시 확인하면 같은 "
           "결과가 나옵니다.", "따라서 사과는 모두 $\\boxed{27}$개입니다."),
    "ru": ("Сначала посчитаем яблоки в обеих корзинах. В первой корзине $12$ яблок, а во второй $15$, поэтому "
           "всего $12 + 15 = 27$ яблок. Затем проверим сумму ещё раз, складывая десятки и единицы отдельно, и "
           "получим то же самое.", "Итак, всего $\\boxed{27}$ яблок."),
    "de": ("Zuerst zählen wir die Äpfel in beiden Körben. Im ersten Korb sind $12$ Äpfel und im zweiten $15$, "
           "also sind es zusammen $12 + 15 = 27$ Äpfel. Dann prüfen wir die Summe noch einmal, indem wir die "
           "Zehner und die Einer getrennt addieren, und das Ergebnis bleibt gleich.",
           "Also sind es insgesamt $\\boxed{27}$ Äpfel."),
    "fr": ("D'abord, nous comptons les pommes dans les deux paniers. Le premier panier contient $12$ pommes et "
           "le second $15$, donc il y a en tout $12 + 15 = 27$ pommes. Ensuite, nous vérifions la somme en "
           "ajoutant les dizaines et les unités séparément, et le résultat est le même.",
           "Donc il y a $\\boxed{27}$ pommes au total."),
    "es": ("Primero contamos las manzanas de las dos cestas. La primera cesta tiene $12$ manzanas y la segunda "
           "tiene $15$, así que en total hay $12 + 15 = 27$ manzanas. Luego comprobamos la suma otra vez sumando "
           "las decenas y las unidades por separado, y el resultado es el mismo.",
           "Por lo tanto, hay $\\boxed{27}$ manzanas en total."),
    "pt": ("Primeiro, contamos as maçãs das duas cestas. A primeira cesta tem $12$ maçãs e a segunda tem $15$, "
           "então no total há $12 + 15 = 27$ maçãs. Depois conferimos a soma mais uma vez, somando as dezenas e "
           "as unidades separadamente, e o resultado é o mesmo.", "Portanto, há $\\boxed{27}$ maçãs no total."),
    "it": ("Per prima cosa contiamo le mele nei due cesti. Il primo cesto contiene $12$ mele e il secondo $15$, "
           "quindi in tutto ci sono $12 + 15 = 27$ mele. Poi controlliamo di nuovo la somma sommando le decine e "
           "le unità separatamente, e il risultato è lo stesso.", "Quindi ci sono $\\boxed{27}$ mele in tutto."),
    "ar": ("أولاً، نعدّ التفاح في السلتين. في السلة الأولى $12$ تفاحة وفي الثانية $15$، إذن المجموع هو "
           "$12 + 15 = 27$ تفاحة. ثم نتحقق من المجموع مرة أخرى بجمع العشرات والآحاد كلٍّ على حدة، "
           "فنحصل على النتيجة نفسها.",
           "إذن عدد التفاح الكلي هو $\\boxed{27}$."),
    "hi": ("पहले हम दोनों टोकरियों के सेब गिनते हैं। पहली टोकरी में $12$ सेब हैं और दूसरी में $15$, इसलिए कुल "
           "$12 + 15 = 27$ सेब हैं। फिर हम दहाई और इकाई को अलग-अलग जोड़कर योग को एक बार और जाँचते हैं, और परिणाम "
           "वही रहता है।", "अतः कुल $\\boxed{27}$ सेब हैं।"),
}
# One sentence in each language, to drop into another language's trace.
SENTENCES = {
    "en": "Then we check it again to be sure that nothing was missed.",
    "zh": "然后我们再检查一遍，确保没有遗漏任何东西。",
    "ja": "それから、何も見落としていないことを確かめるためにもう一度確認します。",
    "ko": "그런 다음 빠진 것이 없는지 확인하기 위해 다시 한 번 검토합니다.",
    "ru": "Затем мы проверяем это ещё раз, чтобы ничего не упустить.",
    "de": "Dann prüfen wir es noch einmal, damit wir nichts übersehen haben.",
    "fr": "Ensuite, nous le vérifions encore une fois pour être sûrs de ne rien oublier.",
    "es": "Entonces lo comprobamos otra vez para estar seguros de que no falta nada.",
    "pt": "Então verificamos isso mais uma vez para ter certeza de que nada foi esquecido.",
    "it": "Quindi lo controlliamo ancora una volta per essere sicuri di non aver dimenticato nulla.",
    "ar": "ثم نتحقق من ذلك مرة أخرى للتأكد من أننا لم نغفل أي شيء.",
    "hi": "फिर हम यह सुनिश्चित करने के लिए इसे एक बार और जाँचते हैं कि कुछ भी छूटा नहीं है।",
}
PROMPTS = {"en": "A farmer has two baskets of apples with 12 and 15 apples. How many apples are there in all?",
           "zh": "一个农民有两篮苹果，分别有12个和15个。一共有多少个苹果？"}


def trace(reasoning: str, answer: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def insert_sentence(language: str, sentence: str) -> str:
    """``sentence`` between the first and second sentences of ``language``'s reasoning."""
    reasoning, _ = TRACES[language]
    cut = reasoning.index("。" if language in ("zh", "ja") else ". " if language != "hi" else "। ") + 1
    return reasoning[:cut] + ("" if language in ("zh", "ja") else " ") + sentence + " " + reasoning[cut:].lstrip()


def language_rows() -> list[dict]:
    rows = []

    def add(language: str, response: str, label: str, kind: str) -> None:
        rows.append(dict(check="language", domain="math", prompt=PROMPTS.get(language, PROMPTS["en"]), answer="27",
                         language=language, response=response, label=label, kind=kind))

    for language, (reasoning, answer) in TRACES.items():
        add(language, trace(reasoning, answer), "pass", "consistent")
    # One foreign sentence inside a trace: every language into English, English into every other language,
    # and a few pairs between other languages.
    for foreign, sentence in SENTENCES.items():
        if foreign != "en":
            add("en", trace(insert_sentence("en", sentence), TRACES["en"][1]), "fail", f"one_sentence_{foreign}")
    for language in TRACES:
        if language != "en":
            add(language, trace(insert_sentence(language, SENTENCES["en"]), TRACES[language][1]), "fail",
                "one_sentence_en")
    for language, foreign in [("de", "fr"), ("es", "pt"), ("fr", "it"), ("it", "es"), ("pt", "es"), ("zh", "ja"),
                              ("ru", "de"), ("ja", "zh")]:
        add(language, trace(insert_sentence(language, SENTENCES[foreign]), TRACES[language][1]), "fail",
            f"one_sentence_{foreign}")
    # R1's code-switching: Chinese words inside English sentences.
    en = TRACES["en"][0]
    for k, (a, b) in enumerate([("First,", "首先,"), ("so together", "所以 together"), ("Then we", "然后 we"),
                                ("once more", "再 once more"), ("the same", "一样 the same")]):
        add("en", trace(en.replace(a, b, 1), TRACES["en"][1]), "fail", "code_switch_zh_words")
        if k == 0:
            add("en", trace(en.replace("First,", "首先，我们").replace("Then we", "然后我们"), TRACES["en"][1]),
                "fail", "code_switch_zh_words")
    add("en", trace(en.replace("so together", "так что together"), TRACES["en"][1]), "fail", "code_switch_ru_words")
    # English glued to Chinese punctuation, no space.
    zh, zh_answer = TRACES["zh"]
    add("zh", trace(zh + "Then we check it again.", zh_answer), "fail", "glued_en")
    add("zh", trace(zh.replace("。然后", "。So we add them up again.然后", 1), zh_answer), "fail", "glued_en")
    # Whole traces in the wrong language.
    for language, answered in [("zh", "en"), ("en", "zh"), ("es", "en"), ("en", "fr"), ("ru", "en"), ("ja", "zh"),
                               ("en", "de"), ("ko", "en")]:
        add(language, trace(*TRACES[answered]), "fail", "wrong_language")
    # Garbled text.
    add("en", trace(en.replace("apples", "app\ufffd\ufffdles", 2) + " \ufffd", TRACES["en"][1]), "fail", "garbled")
    add("en", trace(en.replace(" the ", " the\x01\x02 ", 1) + "\x03", TRACES["en"][1]), "fail", "garbled")
    add("fr", trace(TRACES["fr"][0].replace("é", "Ã©"), TRACES["fr"][1]), "fail", "garbled")
    # Controls that must pass: names, loanwords, Greek letters, code, formulas, variables.
    add("en", trace(en + " Let $\\alpha$ and β be the two angles; Gauß and Poincaré would agree. In Python, "
                    "`sum([12, 15])` gives the same value.", TRACES["en"][1]), "pass", "control")
    add("en", trace(en + "\n```python\nprint(12 + 15)  # 27\n```\nThe code prints the same total.", TRACES["en"][1]),
        "pass", "control")
    add("en", trace(en + " The café sells them à la carte, and the naïve count agrees.", TRACES["en"][1]),
        "pass", "control")
    add("zh", trace(zh + "我们也可以用 Python 验证，设 x 和 y 为两个篮子的苹果数。", zh_answer), "pass", "control")
    add("de", trace(TRACES["de"][0] + " Wir schicken das Ergebnis per E-Mail und nutzen das Newton-Verfahren nicht.",
                    TRACES["de"][1]), "pass", "control")
    add("en", trace("$$12 + 15 = 27$$\n$$27 - 15 = 12$$", "$\\boxed{27}$"), "pass", "control_formula_only")
    return rows


# ---- held out: written after the checks above were tuned, and measured once before any change ---------------
HOLDOUT_MATH = [
    (r"\frac{\sqrt{2}}{2}", [r"\sqrt{2}/2", r"\frac{1}{\sqrt{2}}", r"\dfrac{\sqrt2}{2}"],
     [r"\sqrt{2}", r"\frac{1}{2}"]),
    (r"-\frac{1}{2}", ["-0.5", r"-\dfrac12", "-1/2"], ["0.5", r"\frac{1}{2}"]),
    ("1024", ["2^{10}", "1,024", "1024.0"], ["1023", "2^{9}"]),
    ("x = 2", ["2", "x=2"], ["x = 3", "-2"]),
    ("(1, 2)", ["(1,2)", r"\left(1, 2\right)"], ["(2, 1)", "(1, 3)"]),
    (r"\infty", [r"\infty", r"+\infty"], [r"-\infty", "0"]),
    (r"\$1.50", ["1.50", "1.5", r"\$1.5"], ["1.05", "150"]),
    (r"\text{(B)}", ["B", r"\textbf{(B)}", "(B)"], ["C", r"\text{(D)}"]),
    (r"12\%", ["12", "0.12", r"12 \%"], ["1.2", "120"]),
    (r"\sqrt{5}", [r"5^{1/2}", r"\sqrt 5"], [r"\sqrt{6}", "5"]),
]


def holdout_rows() -> list[dict]:
    rows = []
    for p, (gold, good, bad) in enumerate(HOLDOUT_MATH):
        for k, (answer, label) in enumerate([(a, "pass") for a in good] + [(a, "fail") for a in bad]):
            final = FINALS[(p + k + 1) % len(FINALS)].format(a=answer)
            rows.append(dict(check="math", domain="math", prompt="Find the value.", answer=gold, language="en",
                             response=f"<think>\n{THINK[(p + k) % 3]}\n</think>\n\n{final}", label=label,
                             kind="holdout_equivalent" if label == "pass" else "holdout_wrong"))
    en, en_answer = TRACES["en"]
    foreign = {
        "vi": "Sau đó chúng ta kiểm tra lại một lần nữa để chắc chắn không bỏ sót điều gì.",
        "tr": "Sonra hiçbir şeyi atlamadığımızdan emin olmak için bunu bir kez daha kontrol ediyoruz.",
        "pl": "Następnie sprawdzamy to jeszcze raz, aby upewnić się, że niczego nie pominęliśmy.",
        "id": "Kemudian kita periksa lagi untuk memastikan tidak ada yang terlewat.",
        "nl": "Daarna controleren we het nog een keer om zeker te zijn dat we niets hebben gemist.",
        "sv": "Sedan kontrollerar vi det en gång till för att vara säkra på att inget har missats.",
    }
    for language, sentence in foreign.items():
        rows.append(dict(check="language", domain="math", prompt=PROMPTS["en"], answer="27", language="en",
                         response=trace(insert_sentence("en", sentence), en_answer), label="fail",
                         kind=f"holdout_one_sentence_{language}"))
    mixed = [
        ("en", en.replace("Then we check", "그다음 we check"), "fail", "holdout_code_switch_ko_word"),
        ("en", en.replace("together there", "つまり together there"), "fail", "holdout_code_switch_ja_word"),
        ("ja", TRACES["ja"][0].replace("。次に", "。Next, we verify it once more.次に"), "fail", "holdout_glued_en"),
        ("es", TRACES["es"][0] + " Então verificamos tudo mais uma vez com muito cuidado.", "fail",
         "holdout_one_sentence_pt"),
        ("en", en + " We drove from Los Angeles to San José and bought them at the Café de Flore.", "pass",
         "holdout_control_names"),
        ("en", en + " Denote by $S_n$ the partial sum; by Cauchy–Schwarz and l'Hôpital's rule it converges.", "pass",
         "holdout_control_names"),
        ("zh", TRACES["zh"][0] + "注意 GCD(12, 15) = 3，LCM 是 60。", "pass", "holdout_control_latin_terms"),
        ("ru", TRACES["ru"][0] + " Здесь $f(x) = x^2$, а функция sin x непрерывна.", "pass",
         "holdout_control_latin_terms"),
        ("en", en + " Ok, so yes: the sum is right.", "pass", "holdout_control_short"),
    ]
    for language, reasoning, label, kind in mixed:
        answer = TRACES[language][1]
        rows.append(dict(check="language", domain="math", prompt=PROMPTS.get(language, PROMPTS["en"]), answer="27",
                         language=language, response=trace(reasoning, answer), label=label, kind=kind))
    return rows


# ---- issue 21 (verdicts round 3): the classes it names, with their near misses -----------------------------
ROUND3_MATH = [  # (reference, answer part, label, kind); "<plain>" marks a plain chain-of-thought response
    ("2", "The digit is $\\boxed{\\phantom{0}}$ in $3\\phantom{0}5$; the digit sum must be a multiple of 5, so "
          "the digit is $\\boxed{2}$.", "pass", "r3_placeholder"),
    ("2", "Write the blank as $\\boxed{\\quad}$. Checking each digit, it is $\\boxed{2}$.", "pass", "r3_placeholder"),
    ("2", "Fill in $\\boxed{\\underline{\\quad}}$: the answer is $\\boxed{2}$.", "pass", "r3_placeholder"),
    ("2", "Write the blank as $\\boxed{\\ }$. Checking each digit, it is $\\boxed{3}$.", "fail", "r3_placeholder"),
    ("2", "The missing digit is $\\boxed{\\square}$.", "fail", "r3_placeholder"),
    ("12", "Mia keeps $\\boxed{12}$ stickers.\n\nThe answer is that Mia keeps 12 stickers.", "pass",
     "r3_restatement"),
    ("12", "Mia keeps $\\boxed{12}$ stickers.\n\nThe final answer is twelve.", "pass", "r3_restatement"),
    ("12", "Mia keeps $\\boxed{12}$ stickers.\n\nThe final answer is (B).", "pass", "r3_restatement"),
    ("12", "Mia keeps $\\boxed{12}$ stickers.\n\nThe final answer is thirteen.", "fail", "r3_restatement"),
    ("12", "Mia keeps $\\boxed{12}$ stickers.\n\nThe answer is that Mia keeps 21 stickers.", "fail",
     "r3_restatement"),
    ("4", "<plain>Adding gives $\\boxed{5}$. Wait, I made a mistake in the second term, so the sum is "
          "$\\boxed{4}$.", "pass", "r3_self_correction"),
    ("4", "<plain>Adding gives $\\boxed{5}$. Actually, rechecking the carry, it is $\\boxed{4}$.", "pass",
     "r3_self_correction"),
    ("4", "<plain>Adding gives $\\boxed{5}$. Wait, it might also be $\\boxed{4}$.", "fail", "r3_self_correction"),
    ("5", "<plain>Adding gives $\\boxed{5}$. Wait, I made a mistake, so the sum is $\\boxed{4}$.", "fail",
     "r3_self_correction"),
    ("4.5e33", "The energy is $\\boxed{4.5 \\times 10^{33}\\text{ J}}$.", "pass", "r3_e_notation"),
    ("4.5e33", "The energy is $\\boxed{45 \\times 10^{32}}$ J.", "pass", "r3_e_notation"),
    ("4.5e33", "The energy is $\\boxed{4.5 \\times 10^{32}}$ J.", "fail", "r3_e_notation"),
    ("6.72 \\times 10^{-5}", "So $\\boxed{6.72e-5}$.", "pass", "r3_e_notation"),
    ("6.72 \\times 10^{-5}", "So $\\boxed{6.72e-6}$.", "fail", "r3_e_notation"),
    ("3e8", "The speed is $\\boxed{3 \\times 10^{8}\\text{ m/s}}$.", "pass", "r3_e_notation"),
    ("12", "The total is $\\boxed{12\\text{ thousand}}$.", "fail", "r3_unit_word"),
    ("12", "The total is $\\boxed{12 \\text{ dozen}}$.", "fail", "r3_unit_word"),
    ("12", "The total is $\\boxed{12 \\text{ halves}}$.", "fail", "r3_unit_word"),
    ("12", "The total is $\\boxed{12 \\text{ ab}}$.", "fail", "r3_unit_word"),
    ("12000", "The total is $\\boxed{12\\text{ thousand}}$.", "pass", "r3_unit_word"),
    ("36", "The total is $\\boxed{3 \\text{ dozen}}$.", "pass", "r3_unit_word"),
    ("12", "The mass is $\\boxed{12 \\text{ kg}}$.", "pass", "r3_unit_word"),
    ("2\\pi", "The length is $\\boxed{2\\pi \\text{ cm}}$.", "pass", "r3_unit_word"),
    ("y = 2x + 3", "The line is $\\boxed{2x - y + 3 = 0}$.", "pass", "r3_equation"),
    ("y = 2x + 3", "The line is $\\boxed{4x - 2y + 6 = 0}$.", "pass", "r3_equation"),
    ("y = 2x + 3", "The line is $\\boxed{2x - y + 4 = 0}$.", "fail", "r3_equation"),
    ("(2, \\infty)", "The solution set is $\\boxed{\\{x \\mid x > 2\\}}$.", "pass", "r3_set_builder"),
    ("(2, \\infty)", "The solution set is $\\boxed{\\{x \\mid x \\ge 2\\}}$.", "fail", "r3_set_builder"),
    ("\\{x \\mid x > 2\\}", "The solution set is $\\boxed{\\{x \\mid x \\geq 2\\}}$.", "fail",
     "r3_set_builder"),
    ("\\emptyset", "There is no such number: $\\boxed{\\varnothing}$.", "pass", "r3_empty_set"),
    ("\\emptyset", "The set is $\\boxed{\\{0\\}}$.", "fail", "r3_empty_set"),
    ("yes", "So the statement holds: $\\boxed{\\text{Yes}}$.", "pass", "r3_word"),
    ("yes", "So the statement holds: $\\boxed{\\text{sey}}$.", "fail", "r3_word"),
    ("12", "所以答案为 $12$。", "pass", "r3_zh_phrase"),
    ("12", "因此答案是 12。", "pass", "r3_zh_phrase"),
    ("12", "所以答案为 $13$。", "fail", "r3_zh_phrase"),
]
ROUND3_CHOICE = [
    ("B", "解：天空是蓝色的。故选B。", "pass", "r3_zh_phrase"), ("B", "所以答案为 $B$。", "pass", "r3_zh_phrase"),
    ("B", "故选：C", "fail", "r3_zh_phrase"), ("B", "故选 B 或 C。", "fail", "r3_zh_phrase"),
    ("B", "Mark the blank $\\boxed{\\quad}$ first; the sky is blue, so $\\boxed{B}$.", "pass", "r3_placeholder"),
    ("B", "So $\\boxed{B}$.\n\nThe final answer is (C).", "fail", "r3_restatement"),
]
ROUND3_LANGUAGE = [  # (language, sentence put into that language's trace, label, kind)
    ("en", "对，没错。", "fail", "r3_short_cjk"), ("en", "我们再检查一下。", "fail", "r3_short_cjk"),
    ("en", "嗯，让我想想。", "fail", "r3_short_cjk"), ("en", "そうですね。", "fail", "r3_short_cjk"),
    ("en", "Vamos a verificar la respuesta.", "fail", "r3_short_latin"),
    ("en", "Voyons si cela marche bien.", "fail", "r3_short_latin"),
    ("en", "Gut, das Ergebnis stimmt jetzt.", "fail", "r3_short_latin"),
    ("fr", "Okay, looks good to me.", "fail", "r3_short_latin"),
    ("de", "Good, so far so good here.", "fail", "r3_short_latin"),
    ("es", "Right, now subtract once more.", "fail", "r3_short_latin"),
    ("en", "Señor Gómez has four apples, and Pedro gives him none.", "pass", "r3_control"),
    ("en", "We apply l'Hôpital's rule once more and the limit is four.", "pass", "r3_control"),
    ("en", "By the theorem of de la Vallée Poussin the estimate holds here.", "pass", "r3_control"),
]


def round3_rows() -> list[dict]:
    rows = []
    for k, (gold, text, label, kind) in enumerate(ROUND3_MATH):
        plain = text.startswith("<plain>")
        response = text.removeprefix("<plain>") if plain else f"<think>\n{THINK[k % len(THINK)]}\n</think>\n\n{text}"
        rows.append(dict(check="math", domain="math", prompt="Find the value asked for.", answer=gold, language="en",
                         response=response, label=label, kind=kind))
    for gold, text, label, kind in ROUND3_CHOICE:
        rows.append(dict(check="choice", domain="choice", prompt="Which colour is the clear daytime sky?",
                         answer=gold, choices=COLOURS, language="en",
                         response=f"<think>\n{THINK[2]}\n</think>\n\n{text}", label=label, kind=kind))
    for language, sentence, label, kind in ROUND3_LANGUAGE:
        rows.append(dict(check="language", domain="math", prompt=PROMPTS.get(language, PROMPTS["en"]), answer="27",
                         language=language, response=trace(insert_sentence(language, sentence), TRACES[language][1]),
                         label=label, kind=kind))
    return rows


def main() -> None:
    rows = math_rows() + choice_rows() + language_rows() + holdout_rows() + round3_rows()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as handle:
        for i, row in enumerate(rows):
            row = {"id": f"{row['check']}-{i:03d}", "choices": None, **row}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {OUT}")


if __name__ == "__main__":
    main()
