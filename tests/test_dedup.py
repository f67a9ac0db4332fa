"""Near-duplicate detection and n-gram decontamination, alone and inside the select stage."""

from __future__ import annotations

import json
import random
from pathlib import Path

from distill.dedup import Contamination, exact_jaccard, exact_key, lsh_bands, near_duplicates
from distill.ingest import ingest
from distill.recipe import load_recipe
from distill.select import select
from distill.store import Store
from distill.testing.templated import templated_problems
from distill.verify import verify


def doc(rng: random.Random, words: int = 200) -> list[str]:
    return rng.choices([f"w{i}" for i in range(3000)], k=words)


def test_near_duplicates_found_and_unrelated_left_alone() -> None:
    rng = random.Random(0)
    base = [doc(rng) for _ in range(300)]
    texts = [" ".join(d) for d in base]
    for i in range(0, 30):  # one word changed: Jaccard of 5-gram shingles ~0.95
        copy = list(base[i])
        copy[rng.randrange(len(copy))] = "changed"
        texts.append(" ".join(copy).upper())  # and the case
    for i in range(30, 40):  # a third of the words changed: well below the threshold
        copy = list(base[i])
        for j in rng.sample(range(len(copy)), 70):
            copy[j] = "other"
        texts.append(" ".join(copy))
    found = near_duplicates(texts, threshold=0.85)
    assert {k: v for k, v in found.items() if k >= 300} == {300 + i: i for i in range(30)}
    # a small group (one problem's samples) is compared pair by pair, exactly
    assert near_duplicates([texts[0], texts[330], texts[1], texts[300], "", texts[301]], threshold=0.85) == \
        {3: 0, 5: 2}
    assert exact_key("Hello   World\n") == exact_key("hello world")
    bands, rows = lsh_bands(0.85, 128)
    assert bands * rows == 128 and 1 - (1 - 0.85 ** rows) ** bands >= 0.99


def test_contamination_by_word_ngrams(shared_data: Path) -> None:
    problems = [json.loads(line)["problem"] for line in (shared_data / "math500.test.jsonl").open()]
    index = Contamination({"math500": problems, "tiny": ["Compute 2+2."]}, n=8)
    planted = "  " + problems[10].upper().replace(" ", "   \n ") + " Please answer quickly."
    assert index.match(planted) == "math500"
    assert index.match("A farmer has seven cows and buys three more cows at the market today.") is None
    assert index.match("compute   2+2.") == "tiny"
    assert index.match("First, COMPUTE 2+2. Then double it.") == "tiny"  # a short item inside a longer text
    assert index.sizes == {"math500": 500, "tiny": 1}


def test_select_excludes_contaminated_and_duplicate_problems(tmp_path: Path, shared_data: Path) -> None:
    math500 = [json.loads(line) for line in (shared_data / "math500.test.jsonl").open()]
    long_problem = ("A rectangular garden is twice as long as it is wide, and a path one metre wide runs all the way "
                    "around the outside of the garden. The area of the path alone is 64 square metres. What is "
                    "the width of the garden, in metres, before the path was added around it?")
    rows = [
        {"problem": math500[3]["problem"].upper().replace(" ", "  "), "answer": math500[3]["answer"]},
        {"problem": long_problem, "answer": "5"},
        {"problem": long_problem.replace("garden is", "garden  is"), "answer": "5"},  # exact after normalising
        {"problem": long_problem.replace("before the path", "before that path"), "answer": "5"},  # near
        {"problem": "What is the sum of the first ten positive integers, added up one by one?", "answer": "55"},
    ]
    for i, row in enumerate(rows):
        row["generation"] = (f"<think>We reason carefully about problem {i} step by step and check the result."
                             f"</think>The answer is \\boxed{{{row['answer']}}}.")
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[3:]))
    recipe_path = tmp_path / "dd.yaml"
    recipe_path.write_text(json.dumps({
        "name": "dd", "store": str(tmp_path / "dd.duckdb"),
        "sources": [{"adapter": "traces", "path": "a.jsonl"}, {"adapter": "traces", "path": "b.jsonl"}],
        "checks": [{"name": "math"}],
        # One word changed in ~60 is a word-5-gram Jaccard of about 0.84.
        "select": {"dedup": {"near_duplicate_threshold": 0.8},
                   "decontaminate": {"benchmarks": {"math500": str(shared_data / "math500.test.jsonl")}}}}))
    recipe = load_recipe(recipe_path)
    with Store.open(recipe.store_path) as store:
        ingest(recipe, store)
        verify(recipe, store)
        summary = select(recipe, store)
        reasons = dict(store.con.execute(
            "SELECT p.locator, d.reason FROM dataset_rows d JOIN problems p USING (problem_id) "
            "WHERE d.dataset_id = ? AND d.status = 'excluded'", [summary.dataset_id]).fetchall())
    assert summary.kept == 2
    assert reasons == {"a.jsonl:line 1": "contaminated:math500", "a.jsonl:line 3": "duplicate_problem",
                       "b.jsonl:line 1": "near_duplicate_problem"}
    assert summary.contamination == {"math500": 1}


def test_short_templated_texts_do_not_flood_the_bands() -> None:
    """~30-word problems from a few templates share many words but few 5-gram shingles (Jaccard mostly
    under 0.2). With 128 bins on ~25 shingles most bins are borrowed; when neighbouring bins borrowed the
    same value, bands collided for most pairs and every problem was compared with every kept one."""
    from distill.dedup import NearDuplicateIndex

    texts = templated_problems(2000)
    index = NearDuplicateIndex(0.85)
    found = {i: j for i, t in enumerate(texts) if (j := index.add(i, t)) is not None}
    assert all(exact_jaccard(texts[i], texts[j]) >= 0.85 for i, j in found.items())
    assert index.candidates_seen < 200  # 7 here; the rotation densification (neighbours copied) looked at 30,627
    # and a real near copy among them is still found
    copy = texts[5].replace("each.", "each!")
    assert index.add(len(texts), copy) == 5
