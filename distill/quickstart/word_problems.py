"""A verifiable problem family: shopping word problems (prices, quantities, change) with exact integer answers.

Each problem takes two to four operations on small numbers (quantities 2-9, prices 2-12, the smallest bill
of 20, 50, 100, 200 or 500 that pays), so that a model of half a million parameters can learn to solve it,
often but not always.
Problems are mostly English, with some French, Spanish and German (languages whose function words
``distill.checks.language_id`` knows). ``solution`` writes the step-by-step reasoning in the problem's language, or,
when asked, switches to another language part-way: the code-switching the ``language`` check must catch.

Guaranteed: the same seed gives the same problems in the same order; every answer is a non-negative
integer and the reasoning's last step computes it. Nothing here imports torch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

LANGUAGES = ("en", "fr", "es", "de")
KINDS = ("change", "total", "left", "boxes")
BILLS = (20, 50, 100, 200, 500)  # the dearest purchase, 9 x 12 + 9 x 12 = 216, needs the 500


@dataclass(frozen=True)
class Step:
    """One operation of a solution: ``a op b = result``, said with the phrase ``phrase``."""

    phrase: str
    a: int
    op: str
    b: int

    @property
    def result(self) -> int:
        return {"+": self.a + self.b, "-": self.a - self.b, "*": self.a * self.b}[self.op]


@dataclass(frozen=True)
class WordProblem:
    language: str
    kind: str
    text: str
    steps: tuple[Step, ...]
    names: dict[str, str]  # the slots the phrases fill: name, items, currency

    @property
    def answer(self) -> int:
        return self.steps[-1].result


# Per language: names, (plural item, plural item) pairs, currency, the problem sentences and the step
# phrases. Phrases are long enough (20 letters and three function words once numbers are stripped) for
# the language check to label every sentence.
_NAMES = {
    "en": ["Tom", "Anna", "Ben", "Lucy", "Sam", "Emma", "Jack", "Mia"],
    "fr": ["Paul", "Claire", "Louis", "Marie", "Hugo", "Julie"],
    "es": ["Pablo", "Lucia", "Diego", "Sofia", "Mateo", "Elena"],
    "de": ["Max", "Lena", "Felix", "Hanna", "Jonas", "Laura"],
}
_ITEMS = {
    "en": ["pens", "books", "apples", "cakes", "cups", "toys", "notebooks", "candles"],
    "fr": ["stylos", "livres", "pommes", "gâteaux", "tasses", "jouets", "cahiers", "bougies"],
    "es": ["lápices", "libros", "manzanas", "pasteles", "tazas", "juguetes", "cuadernos", "velas"],
    "de": ["Stifte", "Bücher", "Äpfel", "Kuchen", "Tassen", "Spielzeuge", "Hefte", "Kerzen"],
}
_CURRENCY = {"en": "dollars", "fr": "euros", "es": "euros", "de": "Euro"}
_TEXT = {
    "en": {
        "buy2": "{name} buys {q1} {item1} at {p1} dollars each and {q2} {item2} at {p2} dollars each.",
        "change": " {name} pays with a {bill} dollar bill. How much change does {name} get?",
        "total": " How much does {name} spend in total?",
        "left": "{name} has {bill} dollars and buys {q1} {item1} at {p1} dollars each. "
                "How much money does {name} have left?",
        "boxes": "{name} sells {q1} boxes of {q2} {item1}. Each one costs {p1} dollars. How much does {name} earn?",
    },
    "fr": {
        "buy2": "{name} achète {q1} {item1} à {p1} euros chacun et {q2} {item2} à {p2} euros chacun.",
        "change": " {name} paie avec un billet de {bill} euros. Combien la caisse rend-elle à {name} ?",
        "total": " Combien {name} dépense-t-il en tout ?",
        "left": "{name} a {bill} euros et achète {q1} {item1} à {p1} euros chacun. Combien reste-t-il à {name} ?",
        "boxes": "{name} vend {q1} boîtes de {q2} {item1}. Chacun coûte {p1} euros. Combien {name} gagne-t-il ?",
    },
    "es": {
        "buy2": "{name} compra {q1} {item1} a {p1} euros cada uno y {q2} {item2} a {p2} euros cada uno.",
        "change": " {name} paga con un billete de {bill} euros. ¿Cuánto cambio recibe {name}?",
        "total": " ¿Cuánto gasta {name} en total?",
        "left": "{name} tiene {bill} euros y compra {q1} {item1} a {p1} euros cada uno. ¿Cuánto dinero le queda a "
                "{name}?",
        "boxes": "{name} vende {q1} cajas de {q2} {item1}. Cada uno cuesta {p1} euros. ¿Cuánto gana {name}?",
    },
    "de": {
        "buy2": "{name} kauft {q1} {item1} zu je {p1} Euro und {q2} {item2} zu je {p2} Euro.",
        "change": " {name} bezahlt mit einem Schein von {bill} Euro. Wie viel Wechselgeld bekommt {name}?",
        "total": " Wie viel gibt {name} insgesamt aus?",
        "left": "{name} hat {bill} Euro und kauft {q1} {item1} zu je {p1} Euro. Wie viel Geld hat {name} noch?",
        "boxes": "{name} verkauft {q1} Kisten mit je {q2} {item1}. Jedes kostet {p1} Euro. Wie viel verdient "
                 "{name}?",
    },
}
_PHRASES = {
    "en": {
        "cost": "First we find the cost of the {item}: {a} * {b} = {r} dollars.",
        "cost2": "Then the cost of the {item} is {a} * {b} = {r} dollars.",
        "sum": "So the total for all of the items is {a} + {b} = {r} dollars.",
        "change": "The bill is {a} dollars, so the change is {a} - {b} = {r} dollars.",
        "left": "The money that is left for {name} is {a} - {b} = {r} dollars.",
        "count": "First we count all of the {item} in the boxes: {a} * {b} = {r}.",
        "earn": "Then the money for all of them is {a} * {b} = {r} dollars.",
        "answer": "The answer is \\boxed{{{r}}}.",
    },
    "fr": {
        "cost": "Nous calculons d'abord le prix des {item} : {a} * {b} = {r} euros.",
        "cost2": "Ensuite le prix des {item} est de {a} * {b} = {r} euros.",
        "sum": "Donc le total pour tous les articles est de {a} + {b} = {r} euros.",
        "change": "Le billet est de {a} euros, donc la monnaie est de {a} - {b} = {r} euros.",
        "left": "Il reste donc à {name} une somme de {a} - {b} = {r} euros.",
        "count": "Nous comptons d'abord tous les {item} dans les boîtes : {a} * {b} = {r}.",
        "earn": "Ensuite le prix de tous les {item} est de {a} * {b} = {r} euros.",
        "answer": "La réponse est \\boxed{{{r}}}.",
    },
    "es": {
        "cost": "Primero calculamos el precio de los {item}: {a} * {b} = {r} euros.",
        "cost2": "Luego el precio de los {item} es de {a} * {b} = {r} euros.",
        "sum": "Entonces el total de todos los artículos es de {a} + {b} = {r} euros.",
        "change": "El billete es de {a} euros, entonces el cambio es de {a} - {b} = {r} euros.",
        "left": "Entonces a {name} le quedan {a} - {b} = {r} euros para el resto del día.",
        "count": "Primero contamos todos los {item} de las cajas: {a} * {b} = {r}.",
        "earn": "Luego el dinero por todos los {item} es de {a} * {b} = {r} euros.",
        "answer": "La respuesta es \\boxed{{{r}}}.",
    },
    "de": {
        "cost": "Zuerst berechnen wir den Preis für die {item}: {a} * {b} = {r} Euro.",
        "cost2": "Dann ist der Preis für die {item} also {a} * {b} = {r} Euro.",
        "sum": "Also ist die Summe für die ganzen Sachen {a} + {b} = {r} Euro.",
        "change": "Der Schein ist {a} Euro, also ist das Wechselgeld {a} - {b} = {r} Euro.",
        "left": "Dann hat {name} noch {a} - {b} = {r} Euro, und das ist der Rest.",
        "count": "Zuerst zählen wir die {item} in den Kisten: {a} * {b} = {r}.",
        "earn": "Dann ist das Geld für die ganzen {item} also {a} * {b} = {r} Euro.",
        "answer": "Die Antwort ist \\boxed{{{r}}}.",
    },
}


def _bill(amount: int) -> int:
    """The smallest bill that pays ``amount``."""
    return next(bill for bill in BILLS if bill >= amount)


def make_problem(rng: random.Random, language: str) -> WordProblem:
    """One problem in ``language``, drawn from ``rng``."""
    kind = rng.choice(KINDS)
    name = rng.choice(_NAMES[language])
    item1, item2 = rng.sample(_ITEMS[language], 2)
    q1, q2 = rng.randint(2, 9), rng.randint(2, 9)
    p1, p2 = rng.randint(2, 12), rng.randint(2, 12)
    if kind in ("change", "total"):
        steps = [Step("cost", q1, "*", p1), Step("cost2", q2, "*", p2)]
        steps.append(Step("sum", steps[0].result, "+", steps[1].result))
        total = steps[-1].result
        bill = _bill(total)
        if kind == "change":
            steps.append(Step("change", bill, "-", total))
            text = _TEXT[language]["buy2"] + _TEXT[language]["change"]
        else:
            text = _TEXT[language]["buy2"] + _TEXT[language]["total"]
    elif kind == "left":
        steps = [Step("cost", q1, "*", p1)]
        bill = _bill(steps[0].result)
        steps.append(Step("left", bill, "-", steps[0].result))
        text = _TEXT[language]["left"]
    else:
        steps = [Step("count", q1, "*", q2)]
        steps.append(Step("earn", steps[0].result, "*", p1))
        bill = 0
        text = _TEXT[language]["boxes"]
    slots = {"name": name, "item1": item1, "item2": item2, "currency": _CURRENCY[language]}
    filled = text.format(q1=q1, q2=q2, p1=p1, p2=p2, bill=bill, **slots)
    return WordProblem(language, kind, filled, tuple(steps), slots)


def _step_items(problem: WordProblem) -> list[str]:
    # Which item each step talks about: the first purchase, the second, or none.
    return [problem.names["item2"] if step.phrase == "cost2" else problem.names["item1"] for step in problem.steps]


def solution(problem: WordProblem, switch_to: str | None = None, switch_at: int = 1) -> tuple[str, str]:
    """The reasoning and the final answer, in the problem's language; with ``switch_to``, the steps from
    ``switch_at`` on (and the answer) are written in that language instead (items keep their names)."""
    lines = []
    for i, (step, item) in enumerate(zip(problem.steps, _step_items(problem), strict=True)):
        language = switch_to if switch_to and i >= switch_at else problem.language
        lines.append(_PHRASES[language][step.phrase].format(item=item, a=step.a, b=step.b, r=step.result,
                                                            name=problem.names["name"]))
    answer_language = switch_to or problem.language
    return "\n".join(lines), _PHRASES[answer_language]["answer"].format(r=problem.answer)


def problems(seed: int, language_weights: dict[str, float] | None = None) -> Iterator[WordProblem]:
    """An endless stream of distinct problems (by text), drawn with ``seed``. Default mix: 70% English,
    10% each of French, Spanish and German."""
    weights = language_weights or {"en": 0.7, "fr": 0.1, "es": 0.1, "de": 0.1}
    rng = random.Random(seed)
    seen: set[str] = set()
    while True:
        language = rng.choices(list(weights), weights=list(weights.values()))[0]
        problem = make_problem(rng, language)
        if problem.text not in seen:
            seen.add(problem.text)
            yield problem
