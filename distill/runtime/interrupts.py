"""Ctrl-C and SIGTERM at any moment: armed first thing by the CLI entry, never lost, never a traceback.

``arm()`` installs one handler for SIGINT and SIGTERM that records the signal and raises
``KeyboardInterrupt`` where the main thread is, so stages stop the usual way (what finished is committed,
the run is marked ``interrupted``). Three CPython behaviours made an early Ctrl-C end badly, each handled:

- ``asyncio.run`` installs its own SIGINT handler unless one is set, and turns Ctrl-C into a cancellation
  of the main task; a library that swallows ``CancelledError`` then lost the interrupt (exit 0). Ours is set
  first, so asyncio leaves it alone.
- A ``KeyboardInterrupt`` that leaves code run by ``exec``/``eval`` of a *string* (``dataclasses`` and
  ``namedtuple`` build methods that way while modules import) sets an interpreter flag that makes Python
  kill itself with SIGINT at exit, whatever the program did with the exception (exit -2, not 130). The
  handler does not raise inside such code: it hands the interrupt back to the main thread a moment later.
  The same for a module being imported: a native module's initialiser (DuckDB, via nanobind) aborts the process
  (rc -6) on an exception raised in Python code it calls, and a class body being built wraps it in a
  RuntimeError; the interrupt waits for the import to finish (torch's few seconds at most).
- An exception raised inside a weakref callback or a finaliser (importlib's module locks) is printed as
  "Exception ignored in ..." and dropped. The unraisable hook stays quiet for our interrupt and delivers
  it again, to the main thread.

Should the exception still be lost somewhere, the signal is recorded: ``pending()`` says so, the pipeline
stops before its next stage, and the CLI exits with ``exit_code()`` instead of 0.

Once the command's outcome is decided, ``hold()`` ignores both signals: CPython's shutdown puts the default
action back in place of a Python handler, and a signal then killed the process without a line (-2, -15). After
the one "interrupted" line the CLI leaves with ``os._exit`` (the stage has kept what it finished and closed the
store on its way out), so no native library's shutdown report ("nanobind: leaked N instances") follows it.

Exit codes: 130 after SIGINT, 143 after SIGTERM (128 + the signal number, as shells report them). The remaining
window: before the entry arms the handler, the interpreter's own start (measured 60-80 ms on the CI kind under
load, most of it ``site`` loading the editable install's path finder), Python's default behaviour applies: a
SIGINT then prints Python's own traceback (exit 1 or -2), a SIGTERM ends the process (-15).
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from types import FrameType
from typing import Any

_received: int | None = None
_announced = False
_default_unraisable = sys.unraisablehook


def _unsafe_to_raise(frame: FrameType | None) -> bool:
    """Inside code where a ``KeyboardInterrupt`` does harm: code run from a string (see above), or a module being
    imported, whose native initialiser (DuckDB's nanobind) aborts the process on an exception it did not
    expect, and whose class bodies turn it into a RuntimeError (``__set_name__``)."""
    while frame is not None:
        name = frame.f_code.co_filename
        if name == "<string>" or name.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _deliver_later(signum: int) -> None:
    timer = threading.Timer(0.005, _thread.interrupt_main, args=(signum,))
    timer.daemon = True
    timer.start()


def _handler(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = signum
    if _unsafe_to_raise(frame):
        _deliver_later(signum)
        return
    raise KeyboardInterrupt


def _unraisable(unraisable: Any) -> None:
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _received is not None:
        _deliver_later(_received)  # dropped by Python: raise it again where it is not
        return
    _default_unraisable(unraisable)


def arm() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)
    sys.unraisablehook = _unraisable


def hold() -> None:
    """Ignore SIGINT and SIGTERM from now on: the command's outcome is decided and only being reported. (At
    interpreter shutdown CPython puts the default action back in place of a Python handler, so a signal then
    killed the process without a line, exit -2 or -15; an ignored signal stays ignored.)"""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def pending() -> bool:
    return _received is not None


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal arrived (and its exception was lost on the way)."""
    if _received is not None:
        raise KeyboardInterrupt


def announced() -> bool:
    """Whether the one "interrupted" line was printed already (by the command's error handler)."""
    return _announced


def mark_announced() -> None:
    global _announced
    _announced = True


def exit_code() -> int:
    return 143 if _received == signal.SIGTERM else 130
