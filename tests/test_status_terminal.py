"""`distill status` as a person sees it in an 80-column terminal (tmux), on the offline quickstart's store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.slow
def test_status_at_80_columns_shows_the_funnel_first_and_uncut(tmp_path: Path) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux not installed (Debian: apt-get install tmux); the terminal capture needs it")
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    recipe = tmp_path / "pipelines" / "refilter_sample.yaml"  # ten imported traces: quick, no training
    recipe.write_text(recipe.read_text().replace("out_dir: ../exports", f"out_dir: {tmp_path / 'exports'}")
                      .replace("store: ../runs/refilter_sample.duckdb", f"store: {tmp_path / 'q.duckdb'}"))
    assert runner.invoke(app, ["run", str(recipe)]).exit_code == 0
    funnel = json.loads(runner.invoke(app, ["status", str(recipe), "--json"]).stdout)["cumulative_funnel"]

    session = f"distill-status-{tmp_path.name}"
    done = tmp_path / "done"
    # The command runs in a real terminal of 80 x 60; `done` appears when it has finished printing.
    command = (f"cd {tmp_path} && {sys.executable} -m distill status --store q.duckdb; touch {done}; "
               "sleep 600")
    subprocess.run([tmux, "-L", session, "new-session", "-d", "-s", session, "-x", "80", "-y", "60", command],
                   check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
                                    "HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 120  # a generous wait on a loaded machine, not a timing check
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists(), "distill status did not finish in the terminal"
        screen = subprocess.run([tmux, "-L", session, "capture-pane", "-p", "-t", session, "-S", "-200"],
                                capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run([tmux, "-L", session, "kill-server"], capture_output=True)
    lines = screen.rstrip().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("refilter_sample  store q.duckdb")
    assert lines[2].strip() == "Funnel (cumulative)"  # first, before everything else
    body = lines[lines.index(next(line for line in lines if line.startswith("step"))) + 2:]
    for step, line in zip(funnel["steps"], body, strict=False):
        # Each step on one line: the whole label, then the total, then the share of the step before.
        words = line.split()
        label_words = step["label"].split()
        assert words[: len(label_words)] == label_words, line
        assert words[len(label_words)] == f"{funnel['total'][step['key']]:,}", line
    assert [step["label"] for step in funnel["steps"]] == [
        "problems", "with a generation", "generations", "passed format", "+ passed math", "passed every check",
        "kept in refilter_sample"]
    assert "Rejected by check" in screen and "Excluded by reason (refilter_sample)" in screen
    assert "ingest_errors" not in screen and "Training runs" not in screen  # empty tables are left out
