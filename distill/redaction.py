"""Secrets never stored or printed: credentials inside URLs (``http://user:KEY@host/v1``) and key-shaped tokens
(``sk-...``, ``hf_...``) are replaced wherever a value that may hold one is written to the store, a data card or
a message."""

from __future__ import annotations

import re
from typing import Any

_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
KEY_LIKE = re.compile(r"\b(sk-|hf_|gsk_|xai-|AIza)[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """``text`` with URL credentials and key-shaped tokens replaced."""
    return KEY_LIKE.sub(lambda m: m.group(1) + "***", _URL_CREDENTIALS.sub("***@", text))


def redact_values(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string ``redact``-ed."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_values(v) for v in value)
    return value
