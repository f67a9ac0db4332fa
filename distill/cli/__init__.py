"""The `distill` command line: commands are wired in ``commands.py``, each in its own module.

This module only starts them, and imports nothing heavy itself: it arms the interrupt handler first
(``distill.runtime.interrupts``), so that Ctrl-C or SIGTERM at any moment, even while the CLI's own imports load,
ends as one line and exit code 130 (143 for SIGTERM) rather than a traceback, a lost interrupt or exit 0.
"""

from __future__ import annotations

import os
import sys
from typing import Any

INTERRUPTED = "interrupted; everything finished before the interrupt is stored, rerun to continue"


def main() -> None:
    from distill.runtime import interrupts

    interrupts.arm()
    try:
        try:
            from distill.cli.commands import app

            app()
            interrupts.check()
        finally:
            interrupts.hold()  # the outcome is decided: a signal from here on is not lost mid-report
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:
        # 0: the interrupt's exception was lost on the way; 130: typer's own Ctrl-C exit (silent) or the
        # command's (then already said); either way SIGTERM is 143
        if interrupts.pending() and exc.code in (0, None, 130):
            _interrupted()
        raise


def _interrupted() -> None:
    """The one line, then exit at once: the stage has kept what it finished and closed the store on its way out;
    the interpreter's own shutdown would only add chatter (native libraries reporting objects still alive)."""
    from distill.runtime import interrupts

    interrupts.hold()
    if not interrupts.announced():
        sys.stderr.write(f"error: {INTERRUPTED}\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(interrupts.exit_code())


def __getattr__(name: str) -> Any:  # `from distill.cli import app`, for tests and embedding
    if name == "app":
        from distill.cli.commands import app

        return app
    raise AttributeError(name)
