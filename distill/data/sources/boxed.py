"""Balanced-brace extraction of the last ``\\boxed{...}`` / ``\\fbox{...}`` in a text."""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{|\\boxed\s+(?=\S)")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{}`` or ``\\fbox{}`` (nested braces kept), or None.

    Also accepts the brace-less form ``\\boxed 5`` (content up to the next whitespace or ``$``).
    An unclosed box yields None rather than a truncated answer.
    """
    matches = list(_BOX.finditer(text))
    for match in reversed(matches):
        start = match.end()
        if not match.group(0).endswith("{"):
            token = re.match(r"[^\s$]+", text[start:])
            return token.group(0) if token else None
        depth = 1
        i = start
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2  # skip escaped characters such as \{ and \}
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
            i += 1
    return None
