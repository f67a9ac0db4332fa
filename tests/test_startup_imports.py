"""Commands import only what their code path needs: `--help`, `status` and a generate with nothing to do never
load the heavy libraries (torch, transformers, datasets, pandas, pyarrow, sympy, math-verify, numpy, ...).

Each command runs in a fresh interpreter that reports its ``sys.modules`` at exit, so a module-level import
added anywhere on these paths fails here, with the command and the module named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_generate

from distill.testing.fault_server import FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "transformers", "datasets", "pandas", "pyarrow", "sympy", "math_verify", "numpy", "peft", "trl",
         "py3langid", "latex2sympy2_extended", "scipy", "sklearn", "ray"}
REPORT = """
import sys
sys.argv = ["distill", *sys.argv[1:]]
try:
    from distill.cli import main
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
finally:
    sys.stderr.write("\\nMODULES " + " ".join(sorted({m.split(".")[0] for m in sys.modules})) + "\\n")
"""


def imported(tmp_path: Path, *args: str) -> set[str]:
    script = tmp_path / "report_modules.py"
    script.write_text(REPORT)
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    assert done.returncode == 0, done.stdout + done.stderr
    return set(line.split()[1:])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("startup")
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"question": f"What is {i} + {i}?", "answer": f"#### {2 * i}"})
                                              + "\n" for i in range(5)))
    with FaultServer(ServerPlan()) as server:
        recipe = {"name": "startup", "store": str(tmp_path / "s.duckdb"),
                  "sources": [{"adapter": "gsm8k", "path": "p.jsonl"}],
                  "teacher": {"model": "t", "base_urls": [server.base_url], "n": 2}}
        path = tmp_path / "r.yaml"
        path.write_text(json.dumps(recipe))
        assert run_generate(path).received == 10
    return path  # the server is gone: a generate that sent anything would fail


def test_help_imports_no_heavy_library_nor_the_store(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert modules & (HEAVY | {"duckdb", "pydantic", "aiohttp", "yaml"}) == set()


def test_status_imports_no_heavy_library(generated: Path) -> None:
    assert imported(generated.parent, "status", str(generated)) & (HEAVY | {"aiohttp"}) == set()


def test_a_generate_with_nothing_to_do_imports_no_heavy_library(generated: Path) -> None:
    assert imported(generated.parent, "generate", str(generated)) & HEAVY == set()
