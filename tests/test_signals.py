"""SIGINT and SIGTERM at every instant of a command, shutdown included (issue 22, part 7): exactly one line and
130/143, or (when the command had already finished) exit 0 and nothing; never a native abort, a traceback,
"Task exception was never retrieved" or a native library's leak report."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import sigterm_armed
from typer.testing import CliRunner

from distill.cli import INTERRUPTED, app
from distill.testing.fault_server import FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]


def trial(args: list[str], cwd: Path, delay: float, sig: int) -> tuple[int, str, float]:
    """Start ``distill ARGS``, send ``sig`` ``delay`` s after its handler is armed; (rc, stderr, run time)."""
    victim = subprocess.Popen([sys.executable, "-m", "distill", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not sigterm_armed(victim.pid) and victim.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    started = time.monotonic()
    try:
        _, stderr = victim.communicate(timeout=delay)  # finished before the signal was due
    except subprocess.TimeoutExpired:
        victim.send_signal(sig)
        _, stderr = victim.communicate(timeout=120)
    return victim.returncode, stderr, time.monotonic() - started


def assert_clean(rc: int, stderr: str, sig: int, context: object) -> bool:
    """One line and the signal's code, or a finished command's 0 and silence. True when it was interrupted."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if rc == 0:
        assert lines == [], (context, lines[-5:])
        return False
    assert rc == (143 if sig == signal.SIGTERM else 130), (context, rc, lines[-5:])
    assert lines == [f"error: {INTERRUPTED}"], (context, lines[-8:])
    return True


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see when the handler is armed")
def test_a_signal_at_any_instant_of_status_and_generate_ends_in_one_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    with FaultServer(ServerPlan(latency_s=0.05)) as server:
        recipe = tmp_path / "s.yaml"
        recipe.write_text(json.dumps({
            "name": "s", "store": "s.duckdb", "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
            "teacher": {"model": "m", "base_urls": [server.base_url], "n": 200, "max_concurrency": 4,
                        "use_n": "never"}}))
        assert CliRunner().invoke(app, ["ingest", str(recipe)]).exit_code == 0
        interrupted = 0
        for args in (["status", str(recipe)], ["generate", str(recipe)]):
            rc, stderr, whole = trial(args, tmp_path, 30.0 if args[0] == "status" else 0.0, signal.SIGINT)
            if args[0] == "status":  # first its whole length, untouched, to spread the signals over it
                assert rc == 0 and not stderr.strip(), stderr[-500:]
            else:
                interrupted += assert_clean(rc, stderr, signal.SIGINT, (args, 0.0))
            fractions = (0.1, 0.4, 0.7, 0.9, 0.97, 1.02) if args[0] == "status" else (0.2, 0.6)
            for i, fraction in enumerate(fractions):
                sig = signal.SIGTERM if i % 2 else signal.SIGINT
                delay = fraction * whole if args[0] == "status" else fraction * 3
                rc, stderr, _ = trial(args, tmp_path, delay, sig)
                interrupted += assert_clean(rc, stderr, sig, (args, round(delay, 3)))
    assert interrupted >= 5  # most trials did land while the command ran
