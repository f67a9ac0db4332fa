"""Short templated word problems (GSM-style synthetic sets): the hard case for near-duplicate search."""

from __future__ import annotations

import random


def templated_problems(count: int, seed: int = 0) -> list[str]:
    """GSM-style synthetic problems: ~30 words from a handful of sentence templates, names and numbers."""
    rng = random.Random(seed)
    openers = ["{n} has {a} {i}.", "{n} bought {a} {i} at the store.", "There are {a} {i} in {n}'s bag."]
    steps = ["{p} buys {b} more {i} for ${c} each.", "{p} gives {b} {i} to a friend.",
             "{p} sells {b} {i} at ${c} each.", "Then {p} receives {b} {i} as a gift.",
             "{p} loses {b} of the {i} on the way home."]
    questions = ["How many {i} does {n} have now?", "How much money did {n} spend in total?", "How many {i} are left?"]
    out = []
    for _ in range(count):
        slots = {"n": rng.choice(["Janet", "Tom", "Maria", "Ahmed", "Li", "Sofia"]), "p": rng.choice(["She", "He"]),
                 "i": rng.choice(["apples", "pencils", "books", "cookies", "marbles"]), "a": rng.randint(2, 99),
                 "b": rng.randint(2, 50), "c": rng.randint(1, 20)}
        parts = [rng.choice(openers), *rng.sample(steps, rng.randint(1, 3)), rng.choice(questions)]
        out.append(" ".join(part.format(**slots) for part in parts))
    return out
