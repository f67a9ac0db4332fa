"""Terminal-safe output (issue 22, part 5): escape sequences and bidi controls from a dataset or a teacher reach
`distill show`, `distill status` and error lines only visibly escaped, checked under a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from distill.cli import app
from distill.testing.fault_server import FaultServer, ServerPlan
from distill.views.terminal import visible

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = {
    "clear": "\x1b[2J\x1b[H",
    "osc52": "\x1b]52;c;cm0gLXJmIH4=\x07",  # writes the clipboard
    "osc8": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "title": "\x1b]0;pwned\x07",
    "rlo": "\u202eevil\u202c",
    "csi8": "\x9b31m",  # an 8-bit CSI
    "cr": "hidden\rshown",
}
PAYLOAD = "".join(HOSTILE.values())
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours: the only escape sequences allowed through


def test_visible_escapes_controls_and_bidi_as_less_does() -> None:
    assert visible("a\x1b[2Jb") == "a^[[2Jb"
    assert visible("\x1b]52;c;x\x07") == "^[]52;c;x^G"
    assert visible("\u202eabc\u2066") == "<U+202E>abc<U+2066>"
    assert visible("\x9b31m\x7f\r") == "<U+009B>31m^?^M"
    assert visible("line one\n\tline two, café, 数学") == "line one\n\tline two, café, 数学"
    assert visible(visible(PAYLOAD)) == visible(PAYLOAD)


def run_in_pty(args: list[str], cwd: Path) -> str:
    """Run ``python -m distill ARGS`` with stdout and stderr on a pseudo-terminal (stdin closed, so `show` does not
    wait for Enter); all it wrote."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="50")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "distill", *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        proc.wait(timeout=60)
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def assert_nothing_raw(output: str) -> None:
    bare = SGR.sub("", output)
    for name, sequence in HOSTILE.items():
        assert sequence not in output, name
    assert "\x1b" not in bare and "\x07" not in bare and "\x9b" not in bare and "\u202e" not in bare
    assert "\r" not in bare.replace("\r\n", "\n")  # a pty turns \n into \r\n; no lone carriage return


def test_show_status_and_error_lines_never_print_escapes_raw(tmp_path: Path) -> None:
    data = tmp_path / "problems.jsonl"
    data.write_text(json.dumps({"question": f"What is 2 + 3? {PAYLOAD}", "answer": "#### 5"}) + "\n")
    answer = f"It is five. {PAYLOAD} The answer is \\boxed{{5}}."
    with FaultServer(ServerPlan(default_answer=answer, reasoning=f"Add them. {PAYLOAD}")) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(json.dumps({
            "name": "hostile", "store": str(tmp_path / "h.duckdb"),
            "sources": [{"adapter": "gsm8k", "path": str(data), "name": f"src{HOSTILE['title']}"}],
            "teacher": {"model": f"teacher{HOSTILE['rlo']}", "base_urls": [server.base_url], "max_retries": 0}}))
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(recipe)]).exit_code == 0
        generated = runner.invoke(app, ["generate", str(recipe)])
        assert generated.exit_code == 0, generated.output
    assert_nothing_raw(generated.output)
    assert "teacher<U+202E>evil<U+202C>" in generated.output

    shown = run_in_pty(["show", str(recipe), "--full"], tmp_path)
    assert "What is 2 + 3?" in shown and "It is five." in shown
    assert "^[]52;c;cm0gLXJmIH4=^G" in shown and "<U+202E>evil" in shown  # visible, as less shows them
    assert_nothing_raw(shown)

    status = run_in_pty(["status", str(recipe)], tmp_path)
    assert "teacher<U+202E>evil" in status
    assert_nothing_raw(status)

    error = run_in_pty(["show", str(tmp_path / f"missing{HOSTILE['title']}.yaml")], tmp_path)
    assert error.lstrip().startswith("\x1b[1;31merror:") or "error:" in SGR.sub("", error)
    assert "missing^[]0;pwned^G.yaml" in SGR.sub("", error).replace("\r\n", "\n").replace("\n", "")
    assert_nothing_raw(error)
