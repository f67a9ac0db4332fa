"""Near-duplicate detection and n-gram decontamination, alone and inside the select stage."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from distill.data.dedup import Contamination, exact_jaccard, exact_key, lsh_bands, near_duplicates
from distill.recipe import load_recipe
from distill.stages.ingest import ingest
from distill.stages.select import select
from distill.stages.verify import verify
from distill.store import Store
from distill.testing.templated import templated_problems


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
    from distill.data.dedup import NearDuplicateIndex

    texts = templated_problems(2000)
    index = NearDuplicateIndex(0.85)
    found = {i: j for i, t in enumerate(texts) if (j := index.add(i, t)) is not None}
    assert all(exact_jaccard(texts[i], texts[j]) >= 0.85 for i, j in found.items())
    assert index.candidates_seen < 200  # 7 here; the rotation densification (neighbours copied) looked at 30,627
    # and a real near copy among them is still found
    copy = texts[5].replace("each.", "each!")
    assert index.add(len(texts), copy) == 5


def test_the_shipped_index_is_what_the_script_builds_from_the_public_files(shared_data: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from distill.data.benchmark_index import BUILTIN, load_index

    out = tmp_path / "rebuilt.npz"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "scripts" / "build_benchmark_index.py"), "--shared", str(shared_data),
                    "--out", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == BUILTIN.read_bytes()
    header, benchmarks = load_index()
    assert header["n"] == 8 and {k: v.items for k, v in benchmarks.items()} == \
        {"math500": 500, "aime24": 30, "amc23": 40, "gsm8k": 1319}
    gsm = json.loads((shared_data / "gsm8k.test.jsonl").open().readline())["question"]
    index = Contamination(benchmarks)
    assert index.match("Here is a question. " + gsm.upper() + " Think step by step.") == "gsm8k"
    assert index.match("A farmer has seven cows and buys three more cows at the market today.") is None


def test_select_decontaminates_offline_by_default_and_counts_hits_behind_other_reasons(tmp_path: Path) -> None:
    """No network and no ../shared: the shipped index. A GSM8K test problem is caught even though its trace
    fails the math check first; the hit is in the select line, the dataset stats and `status`."""
    from typer.testing import CliRunner

    from distill.cli import app

    janet = ("Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
             "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
             "per fresh duck egg. How much in dollars does she make every day at the farmers' market?")
    traces = tmp_path / "traces.jsonl"
    traces.write_text("".join(json.dumps(r) + "\n" for r in [
        {"problem": janet, "answer": "18", "response": "<think>16-3-4=9, 9*2=18</think> \\boxed{17}"},
        {"problem": "What is 2 + 3 times 4, computed in the usual order of operations?", "answer": "14",
         "response": "<think>3*4=12, 12+2=14</think> \\boxed{14}"}]))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({"name": "r", "store": str(tmp_path / "r.duckdb"),
                                  "sources": [{"adapter": "traces", "path": "traces.jsonl"}],
                                  "checks": [{"name": "math"}], "select": {"policy": "all"}}))
    runner = CliRunner()
    for stage in ("ingest", "verify"):
        assert runner.invoke(app, [stage, str(recipe)]).exit_code == 0
    result = runner.invoke(app, ["select", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "excluded 1 (failed:math:math_mismatch 1)" in result.stdout
    assert "problems overlapping a benchmark: gsm8k 1" in result.stdout
    status = runner.invoke(app, ["status", str(recipe), "--json"])
    assert json.loads(status.stdout)["datasets"][0]["contamination"] == {"math500": 0, "aime24": 0, "amc23": 0,
                                                                         "gsm8k": 1}


def test_a_spilled_sealed_index_finds_what_the_in_memory_one_finds(tmp_path: Path) -> None:
    """Sketches and shingles in a temporary file, band keys sealed into sorted levels every few texts: the same
    answers as one in-memory table, for copies of texts sealed long ago and of texts in the same chunk."""
    from distill.data.dedup import NearDuplicateIndex

    texts = templated_problems(600)
    texts += [t + " Explain." for t in texts[:600:37]]  # near copies of early (sealed) texts
    texts += [texts[-1] + " Now.", texts[3].upper()]  # a copy of a text in this very chunk, an exact one
    plain = NearDuplicateIndex(0.85)
    plain.SEAL_EVERY = 10**9  # never sealed: every key in the dict
    spilled = NearDuplicateIndex(0.85, spill_dir=tmp_path)
    spilled.SEAL_EVERY = 16
    capped = NearDuplicateIndex(0.85)  # levels stop merging at a size: many levels, the same answers
    capped.SEAL_EVERY = 16
    capped.table.MAX_LEVEL = 1_000
    expected = plain.add_many(list(enumerate(texts)))
    got, got_capped = [], []
    for start in range(0, len(texts), 50):
        got += spilled.add_many(list(enumerate(texts[start:start + 50], start)))
        got_capped += capped.add_many(list(enumerate(texts[start:start + 50], start)))
    assert got == expected == got_capped
    assert len(spilled.table.levels) > 1 and not plain.table.levels
    sizes = [len(keys) for keys, _ in capped.table.levels]
    assert len(sizes) > 4 and max(sizes) <= 1_000 and sum(sizes) > 5_000, sizes
    assert all(bool(np.all(keys[1:] >= keys[:-1])) for keys, _ in capped.table.levels + spilled.table.levels)
    assert [got[600 + i] for i in range(len(range(0, 600, 37)))] == list(range(0, 600, 37))
    assert got[-1] == 3 and got[-2] == got[-3] == 592  # a copy of a (dropped) copy names the kept original
    spilled.close()


def test_decontamination_names_the_first_benchmark_in_order() -> None:
    shared = "the quick brown fox jumps over the lazy dog near the river bank today"
    a = Contamination({"a": ["unrelated words here and there for sure in this one", "solve x^2 = 4"],
                       "b": [shared]}, n=8)
    b = Contamination({"b": [shared], "a": [shared]}, n=8)
    assert a.match("Story: " + shared) == "b"
    assert b.match("Story: " + shared) == "b"
    assert a.match("please SOLVE x^2 = 4 now") == "a"  # a short item, whole inside the text
    # n-grams are looked at before short items, as the recipe order says for n-grams alone
    assert a.match(shared + " and solve x^2 = 4") == "b"


def test_short_items_are_looked_for_only_where_their_first_word_stands_and_find_the_same() -> None:
    """The first-word filter (``short_first``) changes how much is hashed, never what matches: texts with short
    benchmark items anywhere (start, middle, end, case and spacing changed) and texts without, matched with the
    filter and without it (an index built before it), give the same answers."""
    from dataclasses import replace

    from distill.data.dedup import BenchmarkGrams

    bench = ["Compute $\\dbinom{8}{4}$.", "Evaluate $\\lceil 3.7 \\rceil$.", "What is 7 times 8?",
             "A long item of more than eight words about triangles and their many angles inside."]
    rng = random.Random(3)
    filler = [f"w{i}" for i in range(300)] + ["compute", "evaluate", "what", "is"]  # first words, alone
    texts = []
    for i in range(400):
        words = [rng.choice(filler) for _ in range(rng.randint(0, 60))]
        if i % 3 == 0:
            item = rng.choice(bench[:3])
            at = rng.randint(0, len(words))
            words[at:at] = (item.upper() if i % 2 else item).split()
        texts.append("  ".join(words))
    grams = BenchmarkGrams.from_texts(bench, 8)
    assert len(grams.short_first) == 3
    filtered = Contamination({"b": grams})
    everywhere = Contamination({"b": replace(grams, short_first=None)})
    found = [filtered.match(t) for t in texts]
    assert found == [everywhere.match(t) for t in texts]
    assert found.count("b") == sum(1 for i in range(400) if i % 3 == 0)
