"""The `distill` command line: commands are wired in ``commands.py``, each in its own module.

This module only starts them, and imports nothing heavy itself, so that Ctrl-C at any moment, even while
the CLI's own imports load, ends as one line and exit code 130 rather than a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

INTERRUPTED = "interrupted; everything finished before the interrupt is stored, rerun to continue"


def main() -> None:
    try:
        from distill.cli.commands import app

        app()
    except KeyboardInterrupt:
        sys.stderr.write(f"error: {INTERRUPTED}\n")
        raise SystemExit(130) from None


def __getattr__(name: str) -> Any:  # `from distill.cli import app`, for tests and embedding
    if name == "app":
        from distill.cli.commands import app

        return app
    raise AttributeError(name)
