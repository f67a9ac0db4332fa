"""A small generic registry: register by decorator, lazy entries, clear errors on a miss.

Entries are registered either with the decorator (the object itself) or lazily as a
``"module:attribute"`` string, so nothing heavy is imported until a recipe asks for it.

Plugins: a registry with an entry-point group (``distill.checks``, ``distill.adapters``,
``distill.teachers``) also holds every entry point an installed package declares in that group, e.g. in
the plugin's ``pyproject.toml``::

    [project.entry-points."distill.checks"]
    my_check = "my_package.checks:MyCheck"

They are read once, the first time the registry is asked, and load lazily like the built-ins. A plugin
may not take a built-in's name (that is an error naming both), and ``plugins()`` lists what came from
where.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Generic, TypeVar

from distill.errors import UsageError
from distill.suggest import did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_points: str | None = None):
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._group = entry_points
        self._plugins: dict[str, str] | None = None  # name -> "distribution: module:attribute"

    def _load_plugins(self) -> None:
        if self._plugins is not None or self._group is None:
            return
        self._plugins = {}
        for point in importlib.metadata.entry_points(group=self._group):
            where = f"{point.dist.name if point.dist else '?'}: {point.value}"
            if point.name in self._entries and self._entries[point.name] != point.value:
                raise UsageError(f"plugin {self.kind} {point.name!r} ({where}) takes the name of one already "
                                 f"registered; rename it in that package's entry points")
            self._entries[point.name] = point.value
            self._plugins[point.name] = where

    def plugins(self) -> dict[str, str]:
        """Names that came from installed packages' entry points, with the package and target."""
        self._load_plugins()
        return dict(self._plugins or {})

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T | str) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing is not obj and not isinstance(existing, str):
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        self._load_plugins()
        if name not in self._entries:
            raise UsageError(f"Unknown {self.kind} {name!r}{did_you_mean(name, self.names())}. "
                             f"Available: {', '.join(self.names())}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            try:
                found = importlib.import_module(module)
                for part in attr.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError) as exc:
                if self._plugins is None or name not in self._plugins:
                    raise  # a built-in that does not import is our bug, with its traceback
                raise UsageError(f"plugin {self.kind} {name!r} ({self._plugins[name]}) could not be loaded: "
                                 f"{type(exc).__name__}: {exc}") from None
            entry = found
            self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries


def entry_point_names(group: str) -> set[str]:
    """The names installed packages declare in an entry-point group (without importing any of them)."""
    return {point.name for point in importlib.metadata.entry_points(group=group)}
