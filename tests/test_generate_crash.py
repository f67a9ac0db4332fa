"""SIGKILL `distill generate` mid-run, rerun, and check that nothing was lost or duplicated."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support import sigterm_armed

from distill.store import Store

PROBLEMS, N = 40, 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_ok(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        return json.loads(response.read())["stats"].get("ok", 0)


@pytest.fixture
def slow_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "distill.testing.fault_server", "--port", str(port),
                             "--latency", "0.25"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("fault server on")
    deadline = time.monotonic() + 20
    while True:
        try:
            served_ok(port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def write_recipe(tmp_path: Path, port: int) -> Path:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({"question": f"Problem number {i}: what is {i} plus {i} in total?",
                                        "answer": f"#### {2 * i}"}) + "\n" for i in range(PROBLEMS)))
    recipe = tmp_path / "crash.yaml"
    recipe.write_text(json.dumps({
        "name": "crash", "store": str(tmp_path / "crash.duckdb"),
        "sources": [{"adapter": "gsm8k", "path": str(data)}],
        "teacher": {"model": "slow", "base_urls": [f"http://127.0.0.1:{port}/v1"], "n": N,
                    "use_n": "never", "max_concurrency": 4, "timeout_s": 10}}))
    cmd = [sys.executable, "-m", "distill.cli"]
    assert subprocess.run([*cmd, "ingest", str(recipe)], capture_output=True, timeout=120).returncode == 0
    return recipe


def test_sigkill_mid_run_loses_nothing_committed_and_duplicates_nothing(tmp_path: Path, slow_server: int) -> None:
    recipe = write_recipe(tmp_path, slow_server)
    cmd = [sys.executable, "-m", "distill.cli"]
    victim = subprocess.Popen([*cmd, "generate", str(recipe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while served_ok(slow_server) < 20:
        assert victim.poll() is None, "generate finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.6)  # a few flush intervals: what arrived by now must be committed
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL

    with Store.open(tmp_path / "crash.duckdb") as store:
        before = {r[0]: r for r in store.con.execute(
            "SELECT generation_id, problem_id, sample_index, status, content, run_id, created_at FROM generations"
        ).fetchall()}
        (interrupted,) = store.con.execute("SELECT status FROM runs WHERE stage = 'generate'").fetchone()
    assert 20 <= len(before) < PROBLEMS * N
    assert interrupted == "died"  # the next writer marks the killed run; its rows are kept all the same

    rerun = subprocess.run([*cmd, "generate", str(recipe)], capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{PROBLEMS * N - len(before)} completions stored" in rerun.stdout
    assert f"{len(before)} already done" in rerun.stdout

    with Store.open(tmp_path / "crash.duckdb") as store:
        after = {r[0]: r for r in store.con.execute(
            "SELECT generation_id, problem_id, sample_index, status, content, run_id, created_at FROM generations"
        ).fetchall()}
        pairs = store.con.execute(
            "SELECT count(*), count(DISTINCT (problem_id, sample_index)) FROM generations").fetchone()
    assert pairs == (PROBLEMS * N, PROBLEMS * N)
    assert all(row[3] == "ok" for row in after.values())
    assert all(after[key] == row for key, row in before.items())  # committed rows unchanged


def test_ctrl_c_stops_cleanly_keeps_what_arrived_and_says_so(tmp_path: Path, slow_server: int) -> None:
    recipe = write_recipe(tmp_path, slow_server)
    cmd = [sys.executable, "-m", "distill.cli"]
    victim = subprocess.Popen([*cmd, "generate", str(recipe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.monotonic() + 60
    while served_ok(slow_server) < 12:
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # let the client take in the answers the server has sent
    victim.send_signal(signal.SIGINT)
    _, stderr = victim.communicate(timeout=30)
    assert victim.returncode == 130
    assert stderr.strip().splitlines()[-1] == ("error: interrupted; everything finished before the interrupt is "
                                               "stored, rerun to continue")
    assert "Traceback" not in stderr
    with Store.open(tmp_path / "crash.duckdb") as store:
        kept = store.count("generations")
        (status,) = store.con.execute("SELECT status FROM runs WHERE stage = 'generate'").fetchone()
    assert kept >= 12 and status == "interrupted"
    rerun = subprocess.run([*cmd, "generate", str(recipe)], capture_output=True, text=True, timeout=120)
    assert f"{kept} already done" in rerun.stdout
    with Store.open(tmp_path / "crash.duckdb") as store:
        assert store.con.execute("SELECT count(*), count(DISTINCT generation_id) FROM generations").fetchone() == \
            (PROBLEMS * N, PROBLEMS * N)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see when the handler is armed")
def test_an_interrupt_at_any_point_of_start_up_exits_130_and_leaves_no_running_run(tmp_path: Path,
                                                                                    slow_server: int) -> None:
    """From the instant the CLI arms its handler (the interpreter's own ~30 ms start is Python's) through the
    imports, the store's opening, the request list and the first requests: always the one line and 130
    (143 for SIGTERM), never exit 0 or a traceback; a run that started is marked interrupted."""
    recipe = write_recipe(tmp_path, slow_server)
    cmd = [sys.executable, "-m", "distill", "generate", str(recipe)]
    for delay, sig in [(0.0, signal.SIGINT), (0.02, signal.SIGINT), (0.05, signal.SIGINT), (0.1, signal.SIGINT),
                       (0.2, signal.SIGINT), (0.3, signal.SIGINT), (0.45, signal.SIGINT), (0.6, signal.SIGINT),
                       (0.8, signal.SIGINT), (1.1, signal.SIGINT), (1.5, signal.SIGINT), (0.3, signal.SIGTERM),
                       (1.5, signal.SIGTERM)]:
        victim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not sigterm_armed(victim.pid):
            assert victim.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(delay)
        victim.send_signal(sig)
        _, stderr = victim.communicate(timeout=60)
        expected = 143 if sig == signal.SIGTERM else 130
        assert victim.returncode == expected, (delay, sig, victim.returncode, stderr[-500:])
        assert "Traceback" not in stderr and "this is a bug" not in stderr, (delay, stderr[-500:])
        assert stderr.strip().splitlines()[-1].endswith("rerun to continue"), (delay, stderr[-500:])
        with Store.open(tmp_path / "crash.duckdb") as store:
            statuses = {s for (s,) in store.con.execute("SELECT status FROM runs WHERE stage = 'generate'").fetchall()}
        assert statuses <= {"interrupted"}, (delay, statuses)
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    with Store.open(tmp_path / "crash.duckdb") as store:
        assert store.con.execute("SELECT count(*), count(DISTINCT generation_id) FROM generations").fetchone() == \
            (PROBLEMS * N, PROBLEMS * N)
