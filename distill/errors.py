"""Errors a user can act on.

Every exception that should reach a person as one line derives from ``DistillError``; the CLI
(``distill/cli/errors.py``) prints ``error: <message>`` and exits with ``exit_code``. Anything else is
a bug and shows a traceback only with ``--debug``.
"""

from __future__ import annotations


class DistillError(Exception):
    """A known failure with a one-line message. ``exit_code`` 2 means bad input or usage."""

    exit_code = 1


class UsageError(DistillError):
    """Bad input from the user: a missing file, an unknown adapter, a bad recipe."""

    exit_code = 2


class RecipeError(UsageError):
    """The recipe does not validate; the message names the file and key."""


class SourceError(UsageError):
    """A source cannot be read at all (missing file, unknown adapter, unreadable format)."""


class StoreLockedError(DistillError):
    """Another process holds the store's write lock."""

    exit_code = 3


class StoreError(DistillError):
    """The store file is unusable (newer schema, corrupt file)."""


class StoreWriteError(StoreError):
    """The store's disk refused a write (full, read-only, an I/O error): exit 5; the message names the cause."""

    exit_code = 5


class StoreValueError(DistillError):
    """A batch holds a value the store cannot take (text that is not valid UTF-8, a number out of range);
    callers that can isolate the row do so."""


class StorePathError(UsageError):
    """The store's path cannot hold a store (a regular file in the way, a read-only filesystem)."""


class NothingToDoError(UsageError):
    """A stage asked for work that cannot happen (nothing ingested, nothing generated): exit 2, with why."""


class TeacherUnreachableError(DistillError):
    """Every request of a generate run failed: nothing but the errors was stored (a rerun retries them)."""

    exit_code = 4
