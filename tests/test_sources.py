"""Source adapters and readers: good rows become problems, each bad row a recorded reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from distill.data.sources import read_source
from distill.data.sources.boxed import last_boxed
from distill.errors import SourceError
from distill.recipe import SourceConfig
from distill.types import IngestError, Problem


def read(tmp_path: Path, **cfg) -> tuple[list[Problem], list[IngestError]]:
    items = list(read_source(SourceConfig(**cfg), lambda p: (tmp_path / p).resolve()))
    # Problems too short to identify their language come last (they take the source's language), so
    # compare in file order.
    problems = sorted((i for i in items if isinstance(i, Problem)), key=lambda p: _position(p.locator))
    return problems, [i for i in items if isinstance(i, IngestError)]


def _position(locator: str) -> int:
    return int(locator.rsplit(" ", 1)[-1].rsplit("#", 1)[-1])


def jsonl(tmp_path: Path, name: str, rows: list[object]) -> str:
    lines = [r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r)).encode() for r in rows]
    (tmp_path / name).write_bytes(b"\n".join(lines) + b"\n")
    return name


def test_gsm8k_bad_rows_are_recorded_with_reasons(tmp_path: Path) -> None:
    name = jsonl(tmp_path, "mixed.jsonl", [
        {"question": "Ann has 3 apples and buys 4 more. How many now?", "answer": "3+4=7\n#### 7"},
        '{"question": "broken json", "answer": ',
        {"question": "A price of $1,200 rises by $300. What is the new price in dollars?",
         "answer": "1200+300\n#### 1,500"},
        b'{"question": "caf\xe9 au lait costs 3 dollars. How much do two cost?", "answer": "#### 6"}',
        {"question": "   ", "answer": "#### 1"},
        {"answer": "#### 2"},
        {"question": "No marker here at all, what is two plus two?", "answer": "It is 4."},
        [1, 2, 3],
        {"question": "Ann has 3 apples and buys 4 more. How many now?", "answer": "3+4=7\n#### 7"},
        {"question": "Bo runs 5 km a day for 6 days. How far does he run?", "answer": "#### 30"},
    ])
    problems, errors = read(tmp_path, adapter="gsm8k", path=name)
    assert [p.answer for p in problems] == ["7", "1500", "30"]
    assert [(e.locator, e.reason) for e in errors] == [
        ("mixed.jsonl:line 2", "invalid_json"),
        ("mixed.jsonl:line 4", "undecodable_text"),
        ("mixed.jsonl:line 5", "empty_prompt"),
        ("mixed.jsonl:line 6", "missing_field"),
        ("mixed.jsonl:line 7", "unparsable_reference"),
        ("mixed.jsonl:line 8", "invalid_json"),
        ("mixed.jsonl:line 9", "duplicate_problem"),
    ]
    # The reader keeps only 64-bit ids of the problems it met (bounded memory); ingest names the first row.
    assert errors[-1].problem_id == problems[0].problem_id and problems[0].problem_id in errors[-1].detail
    assert errors[3].detail == "no 'question' field (the prompt)"
    assert all(p.domain == "math" and p.language == "en" and p.source == "mixed" for p in problems)


def test_ids_are_stable_and_depend_on_source_and_content(tmp_path: Path) -> None:
    name = jsonl(tmp_path, "a.jsonl", [{"question": "What is one plus one, in total?", "answer": "#### 2"}])
    first, _ = read(tmp_path, adapter="gsm8k", path=name)
    again, _ = read(tmp_path, adapter="gsm8k", path=name)
    renamed, _ = read(tmp_path, adapter="gsm8k", path=name, name="other")
    assert first[0].problem_id == again[0].problem_id
    assert first[0].problem_id != renamed[0].problem_id


def test_math_answer_field_or_last_boxed(tmp_path: Path) -> None:
    name = jsonl(tmp_path, "m.jsonl", [
        {"problem": "Find x if x + 1 = 3.", "answer": "2"},
        {"problem": "Write half as a fraction.", "solution": r"First \boxed{wrong}, then $\boxed{\frac{1}{2}}$."},
        {"problem": "Nested braces please.", "solution": r"So $\boxed{\left\{ 1, \frac{2}{3} \right\}}$"},
        {"problem": "Unclosed box.", "solution": r"\boxed{\frac{1}{2}"},
        {"problem": "No answer anywhere."},
    ])
    problems, errors = read(tmp_path, adapter="math", path=name)
    assert [p.answer for p in problems] == ["2", r"\frac{1}{2}", r"\left\{ 1, \frac{2}{3} \right\}"]
    assert [(e.locator, e.reason) for e in errors] == [
        ("m.jsonl:line 4", "unparsable_reference"), ("m.jsonl:line 5", "missing_field")]


def test_last_boxed_variants() -> None:
    assert last_boxed(r"\boxed{1} and \fbox{2}") == "2"
    assert last_boxed(r"\boxed 5 is it") == "5"
    assert last_boxed(r"\boxed{a\}b}") == r"a\}b"
    assert last_boxed("none") is None


def test_aime_and_amc_numeric_answers(tmp_path: Path) -> None:
    aime = jsonl(tmp_path, "aime.jsonl", [
        {"problem": "AIME one, find the remainder please.", "answer": "025"},
        {"problem": "AIME two, find the number of ways.", "answer": 113},
        {"problem": "AIME three, a non-integer answer here.", "answer": "2.5"},
        {"problem": "AIME four, with text for an answer.", "answer": "seven"},
    ])
    problems, errors = read(tmp_path, adapter="aime", path=aime)
    assert [p.answer for p in problems] == ["25", "113"]
    assert [e.reason for e in errors] == ["unparsable_reference", "unparsable_reference"]
    amc = jsonl(tmp_path, "amc.jsonl", [
        {"question": "AMC one, how many miles from A?", "answer": 27.0},
        {"question": "AMC two, what is the ratio here?", "answer": 1.5},
        {"question": "AMC three, answer is null here.", "answer": None},
    ])
    problems, errors = read(tmp_path, adapter="amc", path=amc)
    assert [p.answer for p in problems] == ["27", "1.5"]
    assert [e.reason for e in errors] == ["missing_field"]


def test_numina_boxed_answer(tmp_path: Path) -> None:
    name = jsonl(tmp_path, "n.jsonl", [
        {"problem": "Compute the sum of the first three primes.", "solution": r"2+3+5 = \boxed{10}",
         "source": "olympiads"},
        {"problem": "A proof question with no final answer.", "solution": "We show it holds."},
    ])
    problems, errors = read(tmp_path, adapter="numina", path=name)
    assert problems[0].answer == "10" and problems[0].metadata == {"source": "olympiads"}
    assert errors[0].reason == "unparsable_reference"


def test_apps_tests_and_malformed_tests(tmp_path: Path) -> None:
    good_io = json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]})
    call_io = json.dumps({"inputs": [[1, 2]], "outputs": [[3]], "fn_name": "add"})
    name = jsonl(tmp_path, "apps.jsonl", [
        {"question": "Read two integers and print their sum.", "input_output": good_io},
        {"question": "Write add(a, b).", "input_output": call_io, "starter_code": "def add(a, b):\n    pass"},
        {"question": "Broken tests JSON.", "input_output": '{"inputs": [1'},
        {"question": "Mismatched tests.", "input_output": json.dumps({"inputs": ["1"], "outputs": []})},
        {"question": "Bad function name.", "input_output": json.dumps({"inputs": [[1]], "outputs": [1],
                                                                       "fn_name": "not valid"})},
        {"question": "No tests field."},
    ])
    problems, errors = read(tmp_path, adapter="apps", path=name)
    assert problems[0].domain == "code" and problems[0].tests.inputs == ("1 2\n",)
    assert problems[0].tests.fn_name is None
    assert problems[1].tests.fn_name == "add" and "def add(a, b)" in problems[1].prompt
    assert [e.reason for e in errors] == ["malformed_tests"] * 3 + ["missing_field"]


def test_multiple_choice_answers_in_every_form(tmp_path: Path) -> None:
    name = jsonl(tmp_path, "mcq.jsonl", [
        {"question": "Which is a prime?", "choices": ["4", "6", "7", "9"], "answer": "C"},
        {"question": "Which is even?", "choices": ["3", "8"], "answer": 1},
        {"question": "Capital of France?", "A": "Rome", "B": "Paris", "C": "Oslo", "D": "Bern", "answer": "(B)"},
        {"question": "Largest?", "options": {"A": "1", "B": "9"}, "answer": "9"},
        {"question": "Only one option?", "choices": ["yes"], "answer": "A"},
        {"question": "Answer not among choices?", "choices": ["x", "y"], "answer": "E"},
    ])
    problems, errors = read(tmp_path, adapter="mcq", path=name)
    assert [p.answer for p in problems] == ["C", "B", "B", "B"]
    assert problems[0].choices == ("4", "6", "7", "9")
    assert problems[0].prompt.endswith("A. 4\nB. 6\nC. 7\nD. 9") and problems[0].domain == "choice"
    assert [e.reason for e in errors] == ["invalid_choices", "invalid_choices"]


def test_generic_fields_over_parquet_csv_json_and_disk(tmp_path: Path) -> None:
    import datasets

    rows = [{"q": "Quelle est la capitale de la France ?", "target": "Paris"},
            {"q": "Wie viele Beine hat eine Spinne?", "target": "8"}]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "d.parquet"))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "d.json").write_text(json.dumps({"data": rows}))
    (tmp_path / "d.csv").write_text("q,target\n" + "\n".join(f'"{r["q"]}",{r["target"]}' for r in rows) + "\n")
    for path in ("d.parquet", "saved", "d.json", "d.csv"):
        problems, errors = read(tmp_path, adapter="fields", path=path, domain="text",
                                fields={"prompt": "q", "answer": "target"})
        assert errors == [], path
        assert [(p.answer, p.language) for p in problems] == [("Paris", "fr"), ("8", "de")], path
    problems, _ = read(tmp_path, adapter="fields", path="d.parquet", domain="text", language="en",
                       fields={"prompt": "q", "answer": "target"}, limit=1)
    assert [(p.answer, p.language) for p in problems] == [("Paris", "en")]
    assert problems[0].locator == "d.parquet:row 0"


def test_hub_code_path_loads_a_local_dataset_builder(tmp_path: Path) -> None:
    # load_dataset is the real Hub code path; given a local folder it runs the same builder logic offline.
    folder = tmp_path / "hubby"
    folder.mkdir()
    jsonl(folder, "test.jsonl", [{"question": "Ann has two cats and one dog. How many pets?", "answer": "#### 3"}])
    problems, errors = read(tmp_path, adapter="gsm8k", hub=str(folder), split="test")
    assert errors == [] and problems[0].answer == "3"
    assert problems[0].locator == f"hub:{folder}[default/test]#0"
    with pytest.raises(SourceError, match="could not be loaded"):
        read(tmp_path, adapter="gsm8k", hub="no-such-org/no-such-dataset-xyz", split="test")


def test_missing_file_and_unknown_adapter(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="source file not found") as info:
        read(tmp_path, adapter="gsm8k", path="missing.jsonl")
    assert info.value.exit_code == 2
    assert "'missing.jsonl' is relative to the recipe's folder, not the current directory" in str(info.value)
    with pytest.raises(SourceError, match=r"Unknown adapter 'gsm9k' \(did you mean 'gsm8k'\?\). Available: aime"):
        read(tmp_path, adapter="gsm9k", path="missing.jsonl")


def test_short_prompts_take_the_sources_dominant_language(tmp_path: Path) -> None:
    name = jsonl(tmp_path, "fr.jsonl", [
        {"problem": "Calculer $2+2$.", "answer": "4"},
        {"problem": "Combien de pommes reste-t-il à Marie après le repas ?", "answer": "3"},
        {"problem": "Quelle est la somme des angles d'un triangle en degrés ?", "answer": "180"},
    ])
    problems, _ = read(tmp_path, adapter="math", path=name)
    assert [p.language for p in problems] == ["fr", "fr", "fr"]


def test_list_valued_answers(tmp_path: Path) -> None:
    # OlympiadBench's layout: final_answer is a list of LaTeX strings, solution a list of solutions.
    name = jsonl(tmp_path, "olympiad.jsonl", [
        {"question": "Find the smallest positive value of the expression.", "final_answer": ["$\\frac{1}{2}$"],
         "solution": ["We find $\\frac{1}{2}$."]},
        {"question": "Find all real solutions of the equation.", "final_answer": ["$3$", "$-5$"]},
        {"question": "Find the integer that the sequence tends to.", "final_answer": [7]},
        {"question": "A row whose answer list is empty here.", "final_answer": [], "solution": ["No box."]},
        {"question": "A row whose answer list holds an object.", "final_answer": [{"a": 1}]},
    ])
    problems, errors = read(tmp_path, adapter="math", path=name, fields={"prompt": "question",
                                                                         "answer": "final_answer"})
    assert [p.answer for p in problems] == [r"\frac{1}{2}", "3, -5", "7"]
    assert [(e.locator, e.reason) for e in errors] == [
        ("olympiad.jsonl:line 4", "unparsable_reference"), ("olympiad.jsonl:line 5", "unparsable_reference")]
    aime = jsonl(tmp_path, "aime.jsonl", [{"problem": "AIME, a one-element answer list.", "answer": ["025"]},
                                          {"problem": "AIME, two answers in the list.", "answer": ["1", "2"]}])
    problems, errors = read(tmp_path, adapter="aime", path=aime)
    assert [p.answer for p in problems] == ["25"] and [e.reason for e in errors] == ["unparsable_reference"]


def test_short_prompts_of_a_mixed_source_do_not_take_its_majority(tmp_path: Path) -> None:
    rows = [{"problem": f"小明有{i}个苹果，又买了三个，现在一共有多少个苹果？", "answer": str(i + 3)} for i in range(8)]
    rows += [{"problem": f"Tom has {i} apples and buys three more. How many apples does he have now?",
              "answer": str(i + 3)} for i in range(2)]
    rows.append({"problem": "Compute $2+2$.", "answer": "4"})
    problems, _ = read(tmp_path, adapter="math", path=jsonl(tmp_path, "mixed.jsonl", rows))
    assert Counter(p.language for p in problems) == {"zh": 8, "en": 2, "und": 1}
    assert problems[-1].prompt == "Compute $2+2$." and problems[-1].language == "und"
