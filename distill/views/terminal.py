"""Terminal-safe output: text from a teacher, a dataset or a recipe never reaches the terminal raw.

Control characters (C0 but newline and tab, DEL, C1) and the characters that reorder or hide text (bidi
embeddings, overrides and isolates, the line and paragraph separators, the BOM) are shown visibly, as ``less`` and
``git`` do: ``ESC`` as ``^[``, a carriage return as ``^M``, U+202E as ``<U+202E>``. So a trace cannot clear the
screen, set the window title, write the clipboard (OSC 52), plant a link (OSC 8) or turn a line around.

``SafeConsole`` (every rich console of the CLI) applies it to every text segment it renders, after rich's own
markup and before its styles, so rich's colours still work; ``echo`` applies it to plain lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

_BIDI_AND_INVISIBLE = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029,
                       0xFEFF)


def _caret(code: int) -> str:
    return "^?" if code == 0x7F else "^" + chr(code + 0x40)


_TABLE: dict[int, str] = {c: _caret(c) for c in (*range(0x20), 0x7F) if c not in (0x09, 0x0A)}
_TABLE |= {c: f"<U+{c:04X}>" for c in (*range(0x80, 0xA0), *_BIDI_AND_INVISIBLE)}
_UNSAFE = re.compile("[" + "".join(re.escape(chr(c)) for c in _TABLE) + "]")


def visible(text: str) -> str:
    """``text`` with every control and bidi character escaped visibly; newlines and tabs kept."""
    return text.translate(_TABLE) if _UNSAFE.search(text) else text


def echo(text: str, err: bool = False) -> None:
    """``typer.echo`` of a line that may hold untrusted text."""
    typer.echo(visible(text), err=err)


class SafeConsole(Console):
    """A rich console that renders control and bidi characters in its text visibly (``visible``)."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and segment.text and _UNSAFE.search(segment.text):
                yield Segment(visible(segment.text), segment.style)
            else:
                yield segment


def visible_values(value: Any) -> Any:
    """``value`` (a store row, a report: dicts, lists, strings) with every string passed through ``visible``, so
    rich lays the escaped text out at its shown width."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {k: visible_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(visible_values(v) for v in value)
    return value
