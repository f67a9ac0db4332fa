"""`distill report` and `distill show` on a store built by the real stages (the offline quickstart plus one trace
with hostile text): the report's figures equal what SQL on the store says, the page is self-contained and escapes
trace text, Chromium renders it, and `distill show` finds traces by reason and dataset row."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from distill.cli import app
from distill.errors import UsageError
from distill.store import Store
from distill.views.show import TraceFilter, find_page, show

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
HOSTILE = {"problem": "What is 2 + 3? </pre><script>alert('problem')</script>", "answer": "5",
           "response": ["<think>2 + 3 = 5, so five.</think>The answer is \\boxed{5}.",
                        "<think>I guess <img src=x onerror=alert(1)> six.</think>The answer is \\boxed{6}. "
                        "<script>alert('answer')</script>"]}


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    shutil.copytree(ROOT / "pipelines", root / "pipelines")
    with (root / "pipelines" / "data" / "sample_traces.jsonl").open("a") as f:
        f.write(json.dumps(HOSTILE) + "\n")
    # A second source repeats the quickstart's first problem: select drops it as a duplicate problem.
    first = json.loads((ROOT / "pipelines" / "data" / "sample_traces.jsonl").read_text().splitlines()[0])
    (root / "pipelines" / "data" / "copies.jsonl").write_text(json.dumps(dict(first, response=first["response"][0]))
                                                              + "\n")
    recipe = root / "pipelines" / "refilter_sample.yaml"  # ten imported traces: quick, every check's reasons
    text = recipe.read_text().replace("out_dir: ../exports", f"out_dir: {root / 'exports'}")
    text = text.replace("store: ../runs/refilter_sample.duckdb", f"store: {root / 'q.duckdb'}")
    text = text.replace("    name: sample_traces\n", "    name: sample_traces\n  - adapter: traces\n"
                        "    path: data/copies.jsonl\n    name: copies\n")
    recipe.write_text(text)
    result = runner.invoke(app, ["run", str(recipe)])
    assert result.exit_code == 0, result.output
    return recipe


class _Figures(HTMLParser):
    """Collects data-figure cells, and every tag and attribute name seen."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self._key = dict(attrs).get("data-figure")

    def handle_data(self, data: str) -> None:
        if self._key:
            self.figures[self._key] = data
            self._key = None


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def report(quickstart: Path) -> tuple[Path, _Figures, str]:
    out = quickstart.parent.parent / "report.html"
    result = runner.invoke(app, ["report", str(quickstart), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("report: 6 charts and ")
    page = out.read_text()
    parsed = _Figures()
    parsed.feed(page)
    return out, parsed, page


def test_report_figures_match_the_store(quickstart: Path, report: tuple[Path, _Figures, str]) -> None:
    _, parsed, _ = report
    fig = {k: _number(v) for k, v in parsed.figures.items() if v.replace(",", "").replace(".", "").isdigit()}
    con = duckdb.connect(str(quickstart.parent.parent / "q.duckdb"), read_only=True)
    one = lambda sql, *p: con.execute(sql, list(p)).fetchone()[0]  # noqa: E731
    latest = ("verdicts v WHERE check_version = (SELECT max(check_version) FROM verdicts w "
              "WHERE w.check_name = v.check_name)")
    dataset = one("SELECT dataset_id FROM datasets ORDER BY created_at DESC LIMIT 1")

    assert fig["funnel.total.problems"] == one("SELECT count(*) FROM problems") == 7
    assert fig["funnel.total.generations"] == one("SELECT count(*) FROM generations WHERE status = 'ok'") == 13
    for source in ("sample_traces", "copies"):  # two sources: side by side, each with its own figures
        assert fig[f"funnel.{source}.generations"] == one(
            "SELECT count(*) FROM generations JOIN problems USING (problem_id) WHERE source = ?", source)
        assert fig[f"funnel.{source}.kept"] == one(
            "SELECT count(*) FROM dataset_rows JOIN problems USING (problem_id) WHERE dataset_id = ? "
            "AND status = 'kept' AND source = ?", dataset, source)
    assert fig["funnel.total.problems_generated"] == one("SELECT count(DISTINCT problem_id) FROM generations")
    every = one(f"SELECT count(*) FROM (SELECT generation_id FROM {latest} GROUP BY 1 "
                "HAVING bool_and(status = 'pass'))")
    assert fig["funnel.total.passed_every_check"] == every
    assert fig["funnel.total.passed:format"] == one(f"SELECT count(*) FROM {latest} AND check_name = 'format' "
                                                    "AND status = 'pass'")
    kept = one("SELECT count(*) FROM dataset_rows WHERE dataset_id = ? AND status = 'kept'", dataset)
    # The hostile problem is too short to identify its language: its passing trace abstains and is not kept.
    assert fig["funnel.total.kept"] == kept == fig["cost.kept"] == 5
    assert fig["rejected.language.abstain.language_unknown"] == 1

    rejected = con.execute(f"SELECT check_name, status, reason, count(*) FROM {latest} AND status <> 'pass' "
                           "GROUP BY ALL").fetchall()
    assert {k: v for k, v in fig.items() if k.startswith("rejected.")} == {
        f"rejected.{c}.{s}.{r}": n for c, s, r, n in rejected}
    assert fig["rejected.math.fail.math_mismatch"] == 2  # the quickstart's one and the hostile trace's "6"

    excluded = con.execute("SELECT reason, count(*) FROM dataset_rows WHERE dataset_id = ? AND status = 'excluded' "
                           "GROUP BY 1", [dataset]).fetchall()
    assert {k: v for k, v in fig.items() if k.startswith("excluded.")} == {f"excluded.{r}": n for r, n in excluded}
    assert fig["excluded.duplicate_problem"] == 1 and fig["funnel.copies.kept"] == 0

    languages = con.execute("SELECT source, language, count(*) FROM problems GROUP BY ALL").fetchall()
    assert {k: v for k, v in fig.items() if k.startswith("language.")} == {
        f"language.{s}.{lang}": n for s, lang, n in languages}

    judged = one(f"SELECT count(DISTINCT generation_id) FROM {latest}")
    assert fig["lengths.passed.count"] == every and fig["lengths.passed.count"] + fig["lengths.failed.count"] == judged
    assert fig["pass_rate.problems"] == one("SELECT count(DISTINCT problem_id) FROM generations")
    assert fig["cost.generations"] == one("SELECT count(*) FROM generations WHERE status = 'ok'")


def test_report_is_self_contained_and_escapes_trace_text(report: tuple[Path, _Figures, str]) -> None:
    _, parsed, page = report
    assert page.count("<svg") == 6  # one per chart: no training run or evaluation in this store
    assert "script" not in parsed.tags and "img" not in parsed.tags  # the hostile trace stayed text
    assert not {"src", "onerror", "href"} & parsed.attributes  # nothing to fetch, nothing to run
    assert "&lt;script&gt;alert(&#x27;answer&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "What is 2 + 3? &lt;/pre&gt;&lt;script&gt;alert(&#x27;problem&#x27;)&lt;/script&gt;" in page
    assert page.count("<figcaption>") == 6 and page.count("<details>") >= 3  # reasoning folded
    assert "Rejected by math: math_mismatch" in page


@pytest.mark.slow
def test_chromium_renders_the_report(report: tuple[Path, _Figures, str], tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    if browser is None:
        pytest.skip("Chromium not installed (Debian: apt-get install chromium); the render check needs it")
    path, _, _ = report
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1800",
                    f"--screenshot={shot}", path.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 1800)
    colours = image.getcolors(maxcolors=1 << 20)
    # The charts' blue and orange bars are drawn: many pixels of each, not a blank or error page.
    blue = sum(n for n, rgb in colours if rgb == (0x2A, 0x7A, 0xB0))
    orange = sum(n for n, rgb in colours if rgb == (0xD1, 0x60, 0x3D))
    assert blue > 5000 and orange > 2000, (blue, orange)


def test_show_filters_by_reason_status_and_row(quickstart: Path) -> None:
    with Store.open(quickstart.parent.parent / "q.duckdb", read_only=True) as store:
        mismatched = find_page(store, TraceFilter(reason="math_mismatch"), per_page=10)
        assert mismatched.total == 2 and {t["final_answer"] for t in mismatched.traces} == {"12", "6"}
        by_exclusion = find_page(store, TraceFilter(reason="failed:math:math_mismatch"), per_page=10)
        assert by_exclusion.total == 2
        kept = find_page(store, TraceFilter(status="kept"), page=2, per_page=4)
        assert (kept.total, kept.pages, len(kept.traces)) == (5, 2, 1)
        with pytest.raises(UsageError, match="--page 3: 5 traces match, 2 page"):
            find_page(store, TraceFilter(status="kept"), page=3, per_page=4)
        row = find_page(store, TraceFilter(row=3))
        assert row.total == 1 and row.traces[0]["dataset_row"] == 3 and row.traces[0]["dataset_status"] == "kept"
        language = find_page(store, TraceFilter(check="language", status="fail"), per_page=10)
        assert {v["reason"] for t in language.traces for v in t["verdicts"] if v["check_name"] == "language"} == {
            "language_mixed", "wrong_language"}

        console = Console(record=True, width=80)
        answers = iter(["", "q"])
        prompts: list[str] = []
        total = show(store, TraceFilter(status="kept"), console, per_page=2,
                     ask=lambda prompt: prompts.append(prompt) or next(answers))
        assert total == 5 and len(prompts) == 2
        assert prompts[0].startswith("page 1 of 3: 5 traces match (status kept)")
        assert prompts[1].startswith("page 2 of 3")
        text = console.export_text()
        assert "1/5  generation" in text and "4/5  generation" in text and "5/5" not in text


def test_show_through_the_cli(quickstart: Path) -> None:
    result = runner.invoke(app, ["show", str(quickstart), "--reason", "math_mismatch", "--per-page", "1"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "1/2  generation" in result.stdout and "reference 5   final answer 6" not in result.stdout
    assert "page 1 of 2: 2 traces match (reason math_mismatch); next: --page 2" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    bad = runner.invoke(app, ["show", str(quickstart), "--status", "passed"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --status passed: expected one of pass,")


def test_report_puts_base_and_student_side_by_side(tmp_path: Path) -> None:
    """An eval of two served models on a three-problem benchmark: the report's per-benchmark figures are the
    evals table's."""
    from distill.recipe import load_recipe
    from distill.stages.evaluate import evaluate
    from distill.testing.fault_server import FaultServer, ServerPlan
    from distill.views.html_report import write_report

    (tmp_path / "train.jsonl").write_text(json.dumps({"question": "What is 2 + 2?", "answer": "#### 4"}) + "\n")
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"problem": "Compute alpha: 5 + 10.", "answer": "15"}, {"problem": "Compute beta: 1 + 1.", "answer": "2"},
        {"problem": "Compute gamma: 3 + 4.", "answer": "7"}]))
    base_plan = ServerPlan(answers={"alpha": "\\boxed{15}", "beta": "\\boxed{3}", "gamma": "\\boxed{8}"})
    student_plan = ServerPlan(answers={"alpha": "\\boxed{15}", "beta": "\\boxed{2}", "gamma": "\\boxed{8}"})
    with FaultServer(base_plan) as base, FaultServer(student_plan) as student:
        served = {"use_n": "never", "max_concurrency": 1, "max_retries": 0, "timeout_s": 5}
        recipe_path = tmp_path / "ev.yaml"
        recipe_path.write_text(json.dumps({
            "name": "ev", "store": "ev.duckdb", "sources": [{"adapter": "gsm8k", "path": "train.jsonl"}],
            "checks": [{"name": "format"}, {"name": "math"}],
            "eval": {"benchmarks": {"tiny": {"adapter": "math", "path": "bench.jsonl"}},
                     "models": {"base": {"model": "b", "base_urls": [base.base_url], **served},
                                "student": {"model": "s", "base_urls": [student.base_url], **served}}}}))
        recipe = load_recipe(recipe_path)
        with Store.open(recipe.store_path) as store:
            evaluate(recipe, store)
            summary = write_report(store, "ev", tmp_path / "ev.html")
            stored = store.con.execute("SELECT benchmark, metric, label, value FROM evals").fetchall()
    parsed = _Figures()
    parsed.feed(summary.path.read_text())
    shown = {k: _number(v) for k, v in parsed.figures.items() if k.startswith("eval.")}
    assert shown == {f"eval.{b}.{m}.{label}": round(v, 4) for b, m, label, v in stored}
    assert shown["eval.tiny.pass@1.base"] == pytest.approx(1 / 3, abs=1e-4)
    assert shown["eval.tiny.pass@1.student"] == pytest.approx(2 / 3, abs=1e-4)
    page = summary.path.read_text()
    assert "Evaluation: base vs student per benchmark" in page
    # each value beside its standard error over problems (base's pass@1 per problem: 1, 0, 0), bars with intervals
    se = (1 / 3) ** 0.5 / 3 ** 0.5  # sample sd of (1, 0, 0) over sqrt(3)
    assert f"<td>pass@1</td><td>base</td><td>{se:.4f}</td>" in page and "with its 95% interval" in page
    # Eval samples are no training data: not in the language mix, nor among the rejected training traces; the
    # models' rejected answers are shown in the evaluation's own section.
    assert not [k for k in parsed.figures if k.startswith("language.")] and "<h3>Rejected by" not in page
    assert page.count("<h3>Eval answer rejected by math: math_mismatch</h3>") == 2
    # The benchmark's samples come from the models under test, not the teacher: no teacher pass rate from them.
    assert "pass_rate.problems" not in parsed.figures and parsed.figures["cost.generations"] == "0"
    assert "funnel.total.generations" not in parsed.figures  # nor in the factory's funnel: eval:* sources are apart
    from distill.stages.evaluate import SOURCE_PREFIX
    from distill.views.html_report import EVAL_SOURCE_PREFIX

    assert EVAL_SOURCE_PREFIX == SOURCE_PREFIX


def test_report_tokens_and_cost_per_kept_trace_match_the_store(tmp_path: Path) -> None:
    """A priced teacher (the fault server) answers the sample problems twice each; the report's spend, cost per
    kept trace and tokens per kept trace are the store's sums."""
    from distill.recipe import load_recipe
    from distill.stages.generate import generate
    from distill.stages.ingest import ingest
    from distill.stages.select import select
    from distill.stages.verify import verify
    from distill.testing.fault_server import FaultServer, ServerPlan
    from distill.views.html_report import write_report

    shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    plan = ServerPlan(answers={"baker": "The answer is \\boxed{15}.", "Mia reads": "The answer is \\boxed{72}.",
                               "rows of chairs": "The answer is \\boxed{70}."})
    with FaultServer(plan) as server:
        path = tmp_path / "priced.yaml"
        path.write_text(json.dumps({
            "name": "priced", "store": str(tmp_path / "priced.duckdb"),
            "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
            "teacher": {"model": "t", "base_urls": [server.base_url], "n": 2, "use_n": "never",
                        "max_concurrency": 2, "price_input_per_mtok": 3.0, "price_output_per_mtok": 15.0},
            "checks": [{"name": "format"}, {"name": "math"}],
            "select": {"policy": "all", "decontaminate": {"enabled": False}}}))
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)
            generate(recipe, store)
            verify(recipe, store)
            select(recipe, store)
            summary = write_report(store, "priced", tmp_path / "priced.html")
    parsed = _Figures()
    parsed.feed(summary.path.read_text())
    fig = parsed.figures
    con = duckdb.connect(str(tmp_path / "priced.duckdb"), read_only=True)
    dataset = con.execute("SELECT dataset_id FROM datasets").fetchone()[0]
    cost, tokens, n = con.execute("SELECT sum(cost_usd), sum(completion_tokens), count(*) FROM generations").fetchone()
    kept, kept_tokens = con.execute(
        "SELECT count(*), sum(g.completion_tokens) FROM dataset_rows d JOIN generations g USING (generation_id) "
        "WHERE d.dataset_id = ? AND d.status = 'kept'", [dataset]).fetchone()
    spent_on_dataset = con.execute("SELECT sum(cost_usd) FROM generations WHERE problem_id IN (SELECT problem_id "
                                   "FROM dataset_rows WHERE dataset_id = ?)", [dataset]).fetchone()[0]
    # baker and Mia right twice each (the second copy dropped as a duplicate response); the rest wrong or unanswered
    assert kept == 2 and n == 14 and cost > 0
    assert fig["cost.generations"] == f"{n:,}" and fig["cost.completion_tokens"] == f"{tokens:,}"
    assert fig["cost.cost_usd"] == f"{cost:.6f}" and fig["cost.kept"] == f"{kept:,}"
    assert fig["cost.per_kept_usd"] == f"{spent_on_dataset / kept:.6f}"
    assert float(fig["cost.kept_mean_completion_tokens"]) == round(kept_tokens / kept, 1)
    assert "response length (completion tokens)" in summary.path.read_text()
