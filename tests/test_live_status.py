"""Live status of a running stage: the progress file a stage publishes, `distill status` while the store is
locked, and plain progress lines when stderr is not a terminal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan
from distill.views.live import LiveStatus, progress_path, read_live_status, stage_line
from distill.views.progress import ProgressTicker, StageProgress

ROOT = Path(__file__).resolve().parents[1]


def _ticker(tmp_path: Path, every_s: float) -> tuple[ProgressTicker, StageProgress, list[str], LiveStatus]:
    from rich.progress import Progress

    progress = Progress(disable=True)
    task = progress.add_task("generate m", total=10, extras="")
    stage = StageProgress(progress, task)
    lines: list[str] = []
    publish = LiveStatus(tmp_path / "s.duckdb", "generate", lambda: {"problems": 7, "generations": 0})
    publish.stage_started()
    return ProgressTicker(stage, "generate m", "req", plain=True, every_s=every_s, publish=publish,
                          write=lines.append, now=100.0), stage, lines, publish


def test_plain_lines_come_at_the_interval_and_carry_the_figures(tmp_path: Path) -> None:
    ticker, stage, lines, _ = _ticker(tmp_path, every_s=15)
    stage.advance(3)
    stage.set_extras(cost="$0.0123", errors="1")
    ticker.tick(105.0)
    assert lines == []  # not yet 15 s since the stage began
    ticker.tick(115.0)
    assert len(lines) == 1
    assert lines[0].startswith("generate m: 3/10 req (30%), ")
    assert lines[0].endswith("cost $0.0123, errors 1")
    assert "ETA " in lines[0] and "elapsed " in lines[0]
    ticker.tick(129.0)
    assert len(lines) == 1
    stage.advance(7)
    ticker.tick(130.0)
    assert len(lines) == 2 and lines[1].startswith("generate m: 10/10 req (100%), ")


def test_the_progress_file_is_replaced_whole_and_names_its_process(tmp_path: Path) -> None:
    ticker, stage, _, publish = _ticker(tmp_path, every_s=15)
    stage.advance(4)
    stage.set_extras(errors="0")
    ticker.tick(101.0)
    data = json.loads(progress_path(tmp_path / "s.duckdb").read_text())
    assert data["pid"] == os.getpid() and data["command"] == "generate"
    assert data["committed"] == {"problems": 7, "generations": 0}
    assert (data["stage"]["done"], data["stage"]["total"], data["stage"]["unit"]) == (4, 10, "req")
    assert data["stage"]["extras"] == {"errors": "0"}
    assert [p.name for p in tmp_path.iterdir()] == ["s.duckdb.progress.json"]  # no temporary left beside it
    live = read_live_status(tmp_path / "s.duckdb")
    assert live is not None and live["stage"]["done"] == 4
    ticker.finish()
    assert read_live_status(tmp_path / "s.duckdb")["stage"]["state"] == "finished"
    publish.remove()
    assert read_live_status(tmp_path / "s.duckdb") is None


def test_a_progress_file_left_by_a_dead_process_is_ignored(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    progress_path(tmp_path / "s.duckdb").write_text(json.dumps({"pid": int(dead.stdout), "command": "generate",
                                                                "updated_at": "2026-01-01T00:00:00+00:00"}))
    assert read_live_status(tmp_path / "s.duckdb") is None


def test_stage_line_without_a_total() -> None:
    line = stage_line({"description": "ingest a", "done": 1200, "total": None, "unit": "rows", "rate": 400.0,
                       "elapsed_s": 3.0, "eta_s": None, "extras": {}})
    assert line == "ingest a: 1,200 rows, 400.0 rows/s, elapsed 0:00:03"


@pytest.mark.slow
def test_status_during_a_running_generate_shows_its_live_progress(tmp_path: Path) -> None:
    """A generate whose last problem's requests hang: while it runs, `distill status` answers at once (exit 0)
    with the stage's progress and the counts committed when it began; the stage's stderr, a file, gets plain
    progress lines; after Ctrl-C the progress file is gone."""
    shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    plan = ServerPlan(answers={"baker": "The answer is \\boxed{15}."},
                      faults=[Fault("slow", match="Una caja", delay_s=60)])
    with FaultServer(plan) as server:
        recipe = tmp_path / "live.yaml"
        recipe.write_text(json.dumps({
            "name": "live", "store": str(tmp_path / "live.duckdb"),
            "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
            "teacher": {"model": "t", "base_urls": [server.base_url], "n": 2, "use_n": "never",
                        "max_concurrency": 2, "timeout_s": 120, "max_retries": 0,
                        "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0}}))
        env = dict(os.environ, DISTILL_PROGRESS_EVERY_S="1")
        subprocess.run([sys.executable, "-m", "distill", "ingest", str(recipe)], check=True, capture_output=True,
                       env=env, timeout=120)
        # Requests go out in the store's problem order, two at a time; the Spanish problem's two hang and hold
        # both slots, so the stage waits with the requests before them done. (That order is not always the
        # file's: DuckDB's INSERT OR IGNORE may reorder a batch, noted for the next session.)
        with Store.open(tmp_path / "live.duckdb", read_only=True) as store:
            before = next(i for i, p in enumerate(store.iter_problems()) if p.prompt.startswith("Una caja"))
        done = 2 * before
        stderr_file = tmp_path / "generate.err"
        with stderr_file.open("w") as err:
            stage = subprocess.Popen([sys.executable, "-m", "distill", "generate", str(recipe)],
                                     stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            live = _wait_for(lambda: _done_at_least(tmp_path / "live.duckdb", done))
            assert live["command"] == "generate" and live["pid"] == stage.pid
            _wait_for(lambda: "generate t: " in stderr_file.read_text() or None)

            out = subprocess.run([sys.executable, "-m", "distill", "status", "--store", str(tmp_path / "live.duckdb")],
                                 capture_output=True, text=True, env=dict(env, COLUMNS="80"), timeout=60)
            assert out.returncode == 0, out.stderr
            assert f"Being written by `distill generate` (PID {stage.pid}" in out.stdout
            assert f"generate t: {done}/14 req ({100 * done / 14:.0f}%)" in out.stdout
            assert "errors 0" in out.stdout and "cost $" in out.stdout
            committed = out.stdout.split("Committed when the stage began")[1]
            assert "problems 7, ingest_errors 2," in " ".join(committed.split())

            as_json = subprocess.run([sys.executable, "-m", "distill", "status", str(recipe), "--json"],
                                     capture_output=True, text=True, env=env, timeout=60)
            data = json.loads(as_json.stdout)["live"]
            assert (data["stage"]["done"], data["stage"]["total"]) == (done, 14)
            assert data["committed"]["problems"] == 7 and data["committed"]["generations"] == 0

            plain = [line for line in stderr_file.read_text().splitlines() if line.startswith("generate t: ")]
            assert plain and all(" req (" in line and "req/s" in line for line in plain)
        finally:
            stage.send_signal(signal.SIGINT)
            code = stage.wait(timeout=60)
        assert code == 130
        assert not progress_path(tmp_path / "live.duckdb").exists()


def _done_at_least(store: Path, n: int) -> dict | None:
    live = read_live_status(store)
    return live if live and live.get("stage") and live["stage"]["done"] >= n else None


def _wait_for(probe, timeout_s: float = 90.0):
    """Poll until ``probe`` returns something (a generous deadline for a loaded machine, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached")
