"""A store whose disk fills stops the senders at once (issue 22, part 2): generate into a real DuckDB file on a
small tmpfs, answered by the fault server over loopback, through the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from distill.cli import app
from distill.llm.requests import MIN_FREE_BYTES
from distill.testing.fault_server import FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = 7


def recipe_on(disk: Path, server: FaultServer, n: int) -> Path:
    shutil.copytree(ROOT / "pipelines" / "data", disk.parent / "data", dirs_exist_ok=True)
    recipe = {"name": "full", "store": str(disk / "full.duckdb"),
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
              "teacher": {"model": "m", "base_urls": [server.base_url], "n": n, "use_n": "never",
                          "max_concurrency": 2, "timeout_s": 5, "max_retries": 0}}
    path = disk.parent / "full.yaml"
    path.write_text(json.dumps(recipe))
    return path


def fill(disk: Path, leave_bytes: int) -> None:
    free = shutil.disk_usage(disk).free
    with (disk / "filler").open("wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))


def test_a_full_disk_at_start_is_refused_before_the_first_request(small_disk) -> None:
    disk = small_disk(24)
    runner = CliRunner()
    with FaultServer(ServerPlan()) as server:
        path = recipe_on(disk, server, n=1)
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        fill(disk, MIN_FREE_BYTES // 2)
        result = runner.invoke(app, ["generate", str(path)])
        assert server.state.stats["requests"] == 0
    assert result.exit_code == 5, result.output
    line = result.output.strip()
    assert line.startswith("error: ") and "\n" not in line and "the disk is full" in line
    assert "no request was sent" in line and "bug" not in line


def test_a_disk_that_fills_mid_run_stops_the_senders_and_marks_the_run_failed(small_disk) -> None:
    disk = small_disk(40)
    runner = CliRunner()
    # Each answer ~200 KB of text that does not compress: the disk fills after a few dozen rows.
    answer = os.urandom(100_000).hex()
    with FaultServer(ServerPlan(default_answer=answer, latency_s=0.05)) as server:
        path = recipe_on(disk, server, n=40)  # 280 requests planned
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        fill(disk, MIN_FREE_BYTES + 2 * 2**20)
        result = runner.invoke(app, ["generate", str(path)])
        sent = server.state.stats["requests"]
    line = result.output.strip()
    assert result.exit_code == 5, result.output
    assert line.startswith("error: generate") and "\n" not in line, line
    assert "sending stopped at once" in line and "the disk is full" in line and "bug" not in line
    assert sent < PROBLEMS * 40 / 2, sent  # stopped long before the plan ran out
    (disk / "filler").unlink()  # room again: what was stored is intact, and the run is not left `running`
    status = json.loads(runner.invoke(app, ["status", str(path), "--json"]).stdout)
    stored = sum(t["ok"] for t in status["generations"])
    # Sent = stored + held and lost after the failure; at most the requests in flight (2) plus one flush batch
    # (every completion that arrived before the writer reported failure) are gone.
    assert 0 < stored <= sent and sent - stored <= 2 + 60, (sent, stored)
    assert {r["stage"]: r["status"] for r in status["runs"]}["generate"] == "failed"
