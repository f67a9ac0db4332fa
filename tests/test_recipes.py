"""The shipped recipes for real runs, run end to end offline: their sources swapped for small stand-ins in the real
column layouts, their teacher and labeller played by the fault server over real HTTP. Everything else (checks,
label, select bands, caps, export) is the recipe as shipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]

NUMINA = [  # AI-MO/NuminaMath-CoT: source, problem, solution (boxed answer), messages
    {"source": "amc_aime", "problem": "Find the number of ordered pairs $(m,n)$ with $m^2 n = 20^{20}$.",
     "solution": "Counting exponents gives $\\boxed{231}$.", "messages": []},
    {"source": "olympiads", "problem": "Prove that the sum of two odd numbers is even, then give 2+2.",
     "solution": "So the value is $\\boxed{4}$.", "messages": []},
    {"source": "math", "problem": "Compute $\\frac{1}{2} + \\frac{1}{3}$.",
     "solution": "We get $\\boxed{\\frac{5}{6}}$.", "messages": []},
    {"source": "math", "problem": "What is 1 + 1?", "solution": "$\\boxed{2}$", "messages": []},
]
TACO = [  # BAAI/TACO: question, solutions (JSON string), input_output (JSON string), difficulty
    {"question": "Read n and print twice n.", "solutions": json.dumps(["print(int(input())*2)"]),
     "input_output": json.dumps({"inputs": ["3\n", "10\n"], "outputs": ["6\n", "20\n"]}), "difficulty": "EASY"},
    {"question": "Read n and print n squared.", "solutions": json.dumps(["print(int(input())**2)"]),
     "input_output": json.dumps({"inputs": ["4\n"], "outputs": ["16\n"]}), "difficulty": "MEDIUM"},
]
APPS = [  # codeparrot/apps: problem_id, question, solutions, input_output (JSON strings), difficulty
    {"problem_id": 0, "question": "Read n and print n plus one.", "solutions": json.dumps(["print(int(input())+1)"]),
     "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}), "difficulty": "introductory"},
]
STILL2 = [  # RUC-AIBOX/long_form_thought_data_5k: question, combined_text, domain
    {"question": "A ball is dropped from rest. How far does it fall in the first second, taking g as 10 m/s^2?",
     "combined_text": "<|begin_of_thought|>\n\nWith constant acceleration from rest the distance is one half g t "
                      "squared, so half of ten times one squared is five.\n\n<|end_of_thought|>\n\n"
                      "<|begin_of_solution|>\n\nIt falls 5 metres.\n\n<|end_of_solution|>", "domain": "physics"},
    {"question": "What is 2 + 2?", "combined_text": "Four.", "domain": "math"},  # not a domain Sky-T1 took
]
NUMINA_LEFT_OUT = {"source": "synthetic_math", "problem": "What is 5 + 5?", "solution": "$\\boxed{10}$",
                   "messages": []}  # not a subset Sky-T1 used: the recipe's `where` leaves it out
TEACHER = {"ordered pairs": "Careful counting.\n\nThe answer is $\\boxed{231}$.",
           "sum of two odd": "Clearly $\\boxed{5}$.",  # wrong
           "frac{1}{2} + ": "Common denominator: $\\boxed{\\frac{5}{6}}$.",
           "1 + 1?": "$\\boxed{2}$",
           "twice n": "```python\nprint(int(input())*2)\n```",
           "n squared": "```python\nprint(int(input())*3)\n```",  # wrong
           "n plus one": "```python\nprint(int(input())+1)\n```"}
SKY = "<|begin_of_thought|>\n\n{}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n{}\n\n<|end_of_solution|>"
PAIRS_STEPS = ("Write twenty to the twentieth power as a product of powers of two and five, then count the ways to "
               "split the exponents between m squared and n.")
FRACTION_STEPS = ("Put both fractions over the common denominator six, which gives three sixths plus two sixths, and "
                  "add the numerators.")
DOUBLE_STEPS = "Read the number from standard input, multiply it by two and print the result on its own line."
# Sky-T1's rewrite keeps the teacher's thinking (the fault server's reasoning) word for word, which the layout check
# holds it to, and adds a solution.
THINKING = "Let me work through this step by step.\n\n"
REWRITES = {"Careful counting": SKY.format(THINKING + PAIRS_STEPS, "The answer is $\\boxed{231}$."),
            "Common denominator": SKY.format(THINKING + FRACTION_STEPS, "So $\\boxed{\\frac{5}{6}}$."),
            "print(int(input())*2)": SKY.format(THINKING + DOUBLE_STEPS, "```python\nprint(int(input())*2)\n```"),
            "print(int(input())+1)": SKY.format(THINKING + DOUBLE_STEPS.replace("multiply it by two", "add one"),
                                                "```python\nprint(int(input())+1)\n```")}
LABELS = REWRITES | {
    "ordered pairs": "DIFFICULTY: 7\nTOPIC: number theory", "sum of two odd": "DIFFICULTY: 3\nTOPIC: algebra",
    "frac{1}{2}": "DIFFICULTY: 4\nTOPIC: algebra", "1 + 1?": "DIFFICULTY: 1\nTOPIC: algebra",
    "twice n": "DIFFICULTY: 2\nTOPIC: programming", "n squared": "DIFFICULTY: 3\nTOPIC: programming",
    "n plus one": "DIFFICULTY: 5\nTOPIC: programming"}


def offline(recipe: str, tmp_path: Path, teacher: FaultServer, labeller: FaultServer) -> Path:
    data = yaml.safe_load((ROOT / "pipelines" / recipe).read_text())
    stand_ins = {"numina": NUMINA + [NUMINA_LEFT_OUT], "taco": TACO, "apps": APPS, "still2": STILL2}
    for source in data["sources"]:
        rows = stand_ins[source["name"].split("_")[0]]
        (tmp_path / f"{source['name']}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for key in ("hub", "config", "split", "revision"):
            source.pop(key, None)
        source["path"] = f"{source['name']}.jsonl"
    data["teacher"]["base_urls"] = [teacher.base_url]
    data["label"]["model"]["base_urls"] = [labeller.base_url]
    data["rewrite"]["model"]["base_urls"] = [labeller.base_url]  # one server plays both gpt-4o-mini roles
    for section in ("train", "eval"):  # a GPU's work; their sections are validated with the recipe above
        data.pop(section, None)
    data["store"] = str(tmp_path / "run.duckdb")
    path = tmp_path / recipe
    path.write_text(yaml.safe_dump(data))
    return path


def test_sky_t1_runs_offline_on_stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    with FaultServer(ServerPlan(answers=TEACHER)) as teacher, \
            FaultServer(ServerPlan(answers=LABELS, reasoning_mode="none")) as labeller:
        path = offline("sky_t1.yaml", tmp_path, teacher, labeller)
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        # each Numina source keeps its own subset (3 x 5 rows read, 4 kept), TACO's train keeps MEDIUM, STILL-2 its
        # science and puzzle rows: 13 rows left out in all
        assert "13 rows left out by `where`" in result.output
        # 9 labels asked (STILL-2's has no usable reply: unlabelled, kept); the teacher gets the 6 problems inside
        # their source's band (1 + 1 is below math's 4, the olympiads problem is not a 9), never STILL-2's; the 4
        # accepted teacher traces are rewritten, STILL-2's imported trace is not (`rewrite: false`)
        assert labeller.state.stats["requests"] == 9 + 4 and teacher.state.stats["requests"] == 6
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        assert dict(store.con.execute("SELECT source, count(*) FROM problems GROUP BY 1").fetchall()) == {
            "numina_amc_aime": 1, "numina_math": 2, "numina_olympiads": 1, "apps": 1, "taco_medium": 1,
            "taco_test": 2, "still2": 1}
        excluded = dict(store.con.execute("SELECT reason, count(*) FROM dataset_rows WHERE status = 'excluded' "
                                          "GROUP BY 1").fetchall())
        kept = dict(store.con.execute("SELECT p.prompt, g.origin FROM dataset_rows d JOIN problems p "
                                      "USING (problem_id) JOIN generations g USING (generation_id) "
                                      "WHERE d.status = 'kept'").fetchall())
    # wrong answers fail their checks; the traces that passed were rewritten and their rewrites kept
    assert excluded == {"failed:code:code_wrong_answer": 2, "rewritten": 4}
    assert kept == {NUMINA[0]["problem"]: "rewrite", NUMINA[2]["problem"]: "rewrite", APPS[0]["question"]: "rewrite",
                    TACO[0]["question"]: "rewrite", STILL2[0]["question"]: "imported"}
    card = next((tmp_path / "exports").rglob("README.md")).read_text()
    assert "| rewritten | 4 |" in card


Q1 = ("A farmer has two cows and buys three more cows at the market. How many cows does the farmer have "
    "now?")
Q2 = ("Ten litres of juice are shared equally between four children. How many litres does each child get?")
THINK1 = ("We are asked to add two and three. Counting up from two by three steps gives three, four and then "
    "five, so the sum we want is five. Let me double check by counting objects: two apples and three "
    "apples make five apples in total.")
THINK2 = ("We are asked to add two and three. Counting up from two, I will be careful with each step here, and "
    "the count seems to land on six when I list the numbers out one by one in my head.")
THINK3 = ("We divide ten by four. Four goes into ten two times with a remainder of two, and two out of four is "
    "one half, so the quotient is two and a half, which is the same as five halves.")
OPENR1 = [  # open-r1/OpenR1-Math-220k (default): problem, solution, answer, generations, correctness_math_verify, ...
    {"problem": Q1, "solution": "5", "answer": "5", "problem_type": "Algebra",
     "question_type": "math-word-problem", "source": "olympiads", "uuid": "a1",
     "is_reasoning_complete": [True, True], "correctness_math_verify": [True, True], "correctness_llama": None,
     "finish_reasons": None, "correctness_count": 2, "messages": [],
     "generations": [f"<think>\n{THINK1}\n</think>\n\nThe answer is $\\boxed{{5}}$.",
                     f"<think>\n{THINK2}\n</think>\n\nSo $\\boxed{{6}}$."]},
    {"problem": Q2, "solution": "", "answer": "\\frac{5}{2}", "problem_type": "Algebra",
     "question_type": "math-word-problem", "source": "cn_contest", "uuid": "a2",
     "is_reasoning_complete": [True, False], "correctness_math_verify": [True, False], "correctness_llama": None,
     "finish_reasons": None, "correctness_count": 1, "messages": [],
     "generations": [f"<think>\n{THINK3}\n</think>\n\n$\\boxed{{2.5}}$",
                     "<think>\nLet me think about ten over four and"]},
]
OPENTHOUGHTS = [  # open-thoughts/OpenThoughts-114k (default): system, conversations (from/value), Sky-T1 layout
    {"system": "Your role as an assistant involves thoroughly exploring questions ...",
     "conversations": [{"from": "user", "value": "Return your final response within \\boxed{}. What is 7 * 6?"},
                       {"from": "assistant", "value": "<|begin_of_thought|>\n\nSeven sixes are forty-two.\n\n"
                        "<|end_of_thought|>\n\n<|begin_of_solution|>\n\n$\\boxed{42}$\n\n<|end_of_solution|>"}]},
]


def test_r1_refilter_counts_what_the_source_kept_and_our_checks_reject(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "pipelines" / "r1_refilter.yaml").read_text())
    (tmp_path / "openr1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in OPENR1))
    source = data["sources"][0]
    for key in ("hub", "config", "split"):
        source.pop(key)
    source["path"] = "openr1.jsonl"
    data["store"] = str(tmp_path / "r1.duckdb")
    path = tmp_path / "r1_refilter.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        verdicts = dict(store.con.execute("SELECT content, imported_verdict FROM generations").fetchall())
        found = store.original_against_ours(store.latest_dataset_id())
    assert sorted(verdicts.values()) == ["correct", "correct", "correct", "incorrect"]
    # the source kept three traces: one is kept here, the second answer of problem 1 (6, not 5) fails math, and
    # the 2.5 of problem 2 passes math but loses to nothing (it is kept: one per problem under `shortest`)
    assert found == {"original_correct": 3, "original_incorrect": 1, "kept": 2,
                     "rejected": {"failed:math:math_mismatch": 1}}
    card = next((tmp_path / "exports").rglob("README.md")).read_text()
    assert "## Against the source's own verdicts" in card and "| failed:math:math_mismatch | 1 |" in card


def test_the_openthoughts_layout_ingests_with_its_conversations(tmp_path: Path) -> None:
    (tmp_path / "ot.jsonl").write_text("".join(json.dumps(r) + "\n" for r in OPENTHOUGHTS))
    recipe = {"name": "ot", "store": str(tmp_path / "ot.duckdb"),
              "sources": [{"adapter": "traces", "path": "ot.jsonl", "name": "ot", "reference": "optional",
                           "original_verdict": "kept",
                           "fields": {"prompt": "conversations", "response": "conversations"}}]}
    path = tmp_path / "ot.yaml"
    path.write_text(json.dumps(recipe))
    result = CliRunner().invoke(app, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    with Store.open(tmp_path / "ot.duckdb", read_only=True) as store:
        prompt, answer = store.con.execute("SELECT prompt, answer FROM problems").fetchone()
        reasoning, final, verdict = store.con.execute(
            "SELECT reasoning, final_answer, imported_verdict FROM generations").fetchone()
    assert prompt.endswith("What is 7 * 6?") and answer is None
    assert reasoning == "Seven sixes are forty-two." and final == "42" and verdict == "correct"


GSM8K = [{"question": f"Tom has {i} apples and buys {i + 2} more. How many apples does Tom have now?",
          "answer": f"Add them.\n#### {2 * i + 2}"} for i in range(1, 4)]


def test_api_teacher_runs_offline_and_records_what_it_spent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-not-a-real-key-000")
    data = yaml.safe_load((ROOT / "pipelines" / "api_teacher.yaml").read_text())
    stand_ins = {"numina": NUMINA[:3], "gsm8k-train": GSM8K}
    answers = {"ordered pairs": "$\\boxed{231}$", "sum of two odd": "$\\boxed{4}$", "frac{1}{2}": "\\boxed{5/6}"}
    answers |= {f"Tom has {i} apples": f"So \\boxed{{{2 * i + 2}}}" for i in range(1, 4)}
    with FaultServer(ServerPlan(answers=answers)) as teacher:
        for source in data["sources"]:
            (tmp_path / f"{source['name']}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in stand_ins[source["name"]]))
            for key in ("hub", "config", "split"):
                source.pop(key, None)
            source["path"] = f"{source['name']}.jsonl"
        data["teacher"]["base_urls"] = [teacher.base_url]
        data["store"] = str(tmp_path / "api.duckdb")
        data["export"] |= {"out_dir": "exports", "cards_dir": "cards"}  # inside tmp_path, not beside it
        path = tmp_path / "api_teacher.yaml"
        path.write_text(yaml.safe_dump(data))
        dry = json.loads(CliRunner().invoke(app, ["generate", str(path), "--dry-run", "--json"]).output)
        assert (dry["problems"], dry["requests"]) == (6, 12)
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert teacher.state.stats["requests"] <= 12
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        tokens_in, tokens_out, cost, n = store.con.execute(
            "SELECT sum(prompt_tokens), sum(completion_tokens), sum(cost_usd), count(*) FROM generations").fetchone()
        kept = store.con.execute("SELECT count(*) FROM dataset_rows WHERE status = 'kept'").fetchone()[0]
    assert n == 12 and cost == pytest.approx((tokens_in * 0.55 + tokens_out * 2.19) / 1e6)
    # one per problem (shortest): "sum of two odd" is answered 4 where the stand-in says 4; all six are right
    assert kept == 6


S1K = [  # simplescaling/s1K-1.1: question, solution, deepseek_thinking_trajectory, deepseek_attempt, deepseek_grade
    {"question": "Find the remainder when 2^10 is divided by 7.", "solution": "2^3 = 8 = 1 mod 7, so 2^10 = 2.",
     "cot_type": "math", "source_type": "qq8933/AIME_1983_2024", "metadata": "{}",
     "deepseek_thinking_trajectory": "Powers of two modulo seven repeat every three steps: two, four, one. Ten is "
                                     "one more than nine, so the remainder is two.",
     "deepseek_attempt": "The remainder is $\\boxed{2}$.", "deepseek_grade": "Yes"},
    {"question": "How many positive divisors does 12 have?", "solution": "1, 2, 3, 4, 6, 12: six.",
     "cot_type": "math", "source_type": "qfq/openaimath", "metadata": "{}",
     "deepseek_thinking_trajectory": "List them: one, two, three, four, six, twelve. " * 20,
     "deepseek_attempt": "There are $\\boxed{6}$ divisors.", "deepseek_grade": "No"},
]


@pytest.mark.parametrize(("recipe", "rows", "kept"), [("openr1_distill.yaml", OPENR1, 2), ("s1k.yaml", S1K, 1)])
def test_the_published_distillation_recipes_run_offline_on_stand_ins(tmp_path: Path, recipe: str,
                                                                        rows: list[dict], kept: int) -> None:
    data = yaml.safe_load((ROOT / "pipelines" / recipe).read_text())
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for key in ("hub", "config", "split"):
        data["sources"][0].pop(key, None)
    data["sources"][0]["path"] = "rows.jsonl"
    data["export"].pop("test_size", None)  # two rows: no dev split to hold out
    for section in ("train", "eval"):  # a GPU's work; validated with the recipe as shipped
        data.pop(section)
    data["store"] = str(tmp_path / "run.duckdb")
    path = tmp_path / recipe
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        assert store.count("dataset_rows", "status = 'kept'") == kept
    load_recipe(ROOT / "pipelines" / recipe)  # the shipped file, train and eval sections included, is valid
