"""How Python values become stored values: UTC timestamps and canonical JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    """A query's rows as dicts keyed by column name."""
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored as UTC TIMESTAMP


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
