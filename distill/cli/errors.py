"""The one place that turns failures into one-line messages and exit codes.

Known failures (``DistillError``) print ``error: <message>`` and exit with their code (2 for bad
input). Ctrl-C exits 130 after the stage has kept what it finished. Anything else is a bug: one line
that says so and how to get the traceback (``--debug``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.text import Text

from distill.cli import INTERRUPTED
from distill.errors import DistillError
from distill.runtime import interrupts
from distill.views.progress import stderr_console, stdout_reader_left
from distill.views.terminal import visible

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> typer.Exit:
    # Text, not markup: a message may quote a file, a server or a recipe value with brackets in it
    stderr_console.print(Text.assemble(("error:", "bold red"), " ", visible(message)), highlight=False,
                         soft_wrap=True)
    return typer.Exit(code)


def _interrupted() -> typer.Exit:
    exit_ = _fail(INTERRUPTED, 130)
    interrupts.mark_announced()
    return exit_


def _duckdb_interrupt(exc: BaseException) -> bool:
    """A Ctrl-C that surfaced as another exception: DuckDB's InterruptException, or its RuntimeError "Query
    interrupted" when the signal arrived inside a query (on the writer thread, say); or any failure after our
    handler received a signal (the interrupt was the cause)."""
    if "duckdb" in type(exc).__module__ and type(exc).__name__ == "InterruptException":
        return True
    return (isinstance(exc, RuntimeError) and str(exc).startswith("Query interrupted")) or interrupts.pending()


def _environment_failure(exc: BaseException) -> bool:
    """Disk full, read-only filesystem, I/O errors (from the OS or DuckDB): not bugs in distill."""
    if isinstance(exc, OSError):
        return True
    return "duckdb" in type(exc).__module__ and type(exc).__name__ == "IOException"


def _corrupt_store(exc: BaseException) -> bool:
    """DuckDB reading a damaged block: a bad checksum or an unreadable page, not a bug of ours."""
    return "duckdb" in type(exc).__module__ and any(
        marker in str(exc) for marker in ("Corrupt database file", "does not match stored checksum"))


def guarded(fn: F) -> F:
    """Wrap a command; it must take a ``debug`` parameter (``DebugOpt``)."""
    params = inspect.signature(fn).parameters
    if "debug" not in params:
        raise TypeError(f"{fn.__name__} needs a debug parameter to be guarded")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except DistillError as exc:
            if debug:
                raise
            raise _fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            if debug:
                raise
            raise _interrupted() from None
        except BrokenPipeError:  # `distill status X | head`: the reader left; not an error of ours
            stdout_reader_left()
            raise typer.Exit(0) from None
        except Exception as exc:
            if debug:
                raise
            if _duckdb_interrupt(exc):  # Ctrl-C that landed inside a DuckDB query
                raise _interrupted() from None
            first = str(exc).splitlines()[0] if str(exc) else ""
            if _environment_failure(exc):  # the disk or filesystem, not a bug: say what and where
                where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
                raise _fail(f"{where}{first or type(exc).__name__}", 1) from None
            if _corrupt_store(exc):  # found mid-query: a damaged block the file's header did not reveal
                raise _fail(f"the store file is corrupt (DuckDB: {first}); restore it from a copy, or point the "
                            f"command at another store", 1) from None
            raise _fail(f"unexpected {type(exc).__name__}: {first} (this is a bug; rerun with --debug "
                        f"for the traceback)", 1) from None

    return wrapper  # type: ignore[return-value]
