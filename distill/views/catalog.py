"""What exists: the registered checks with their parameters and defaults, and the adapters with the fields
they read. Used by `distill checks` and `distill adapters`; reads the registries, so it stays true."""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any

_MISSING = "(required)"


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any  # _MISSING when the parameter has none


@dataclass(frozen=True)
class CheckInfo:
    name: str
    version: str
    domains: tuple[str, ...] | None
    parameters: tuple[Parameter, ...]
    summary: str
    plugin: str | None = None  # "package: module:attribute" for a plugin's check


@dataclass(frozen=True)
class AdapterInfo:
    name: str
    fields: tuple[tuple[str, tuple[str, ...], bool], ...]  # (role, default column names, required)
    summary: str
    plugin: str | None = None


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().splitlines()[0] if doc.strip() else ""
    return "" if line.startswith("Params") else line


def checks() -> list[CheckInfo]:
    import distill.checks  # noqa: F401  (registers the checks)
    from distill.checks.base import CHECKS

    out, plugins = [], CHECKS.plugins()
    for name in CHECKS.names():
        cls = CHECKS.get(name)
        signature = inspect.signature(cls.__init__).parameters
        params = tuple(Parameter(p, _MISSING if signature[p].default is inspect.Parameter.empty
                                 else signature[p].default) for p in cls.parameter_names())
        out.append(CheckInfo(name, str(cls.version), cls.domains, params, _first_line(cls), plugins.get(name)))
    return out


def _fields_read(function: Any, depth: int = 0) -> tuple[tuple[str, tuple[str, ...], bool], ...]:
    """The roles an adapter reads through ``_prompt`` / ``_field`` (and the adapters it calls), with their
    default columns, from its source."""
    try:
        tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return ()
    found: dict[str, tuple[tuple[str, ...], bool]] = {}
    module = inspect.getmodule(function)
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)),
                       key=lambda n: (n.lineno, n.col_offset)):
        if not isinstance(node.func, ast.Name):
            continue
        callee = getattr(module, node.func.id, None)
        if depth < 1 and not node.func.id.startswith("_") and inspect.isfunction(callee) \
                and callee.__module__ == function.__module__:
            for role, names, req in _fields_read(callee, depth + 1):
                found.setdefault(role, (names, req))
            continue
        consts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        required = not any(k.arg == "required" and isinstance(k.value, ast.Constant) and k.value.value is False
                           for k in node.keywords)
        if node.func.id == "_prompt":
            found.setdefault("prompt", (tuple(consts), True))
        elif node.func.id == "_field" and consts:
            found.setdefault(consts[0], (tuple(consts[1:]), required))
    return tuple((role, names, req) for role, (names, req) in found.items())


def adapters() -> list[AdapterInfo]:
    from distill.data.sources.adapters import ADAPTERS

    out, plugins = [], ADAPTERS.plugins()
    for name in ADAPTERS.names():
        function = ADAPTERS.get(name)
        out.append(AdapterInfo(name, _fields_read(function), _first_line(function), plugins.get(name)))
    return out


def format_checks(infos: list[CheckInfo]) -> str:
    lines = []
    for info in infos:
        domains = ", ".join(info.domains) if info.domains else "all"
        origin = f"; plugin from {info.plugin}" if info.plugin else ""
        lines.append(f"{info.name} (version {info.version}; domains: {domains}{origin})"
                     + (f": {info.summary}" if info.summary else ""))
        if not info.parameters:
            lines.append("  no parameters")
        for p in info.parameters:
            lines.append(f"  {p.name}: {p.default if p.default == _MISSING else repr(p.default)}")
    return "\n".join(lines)


def format_adapters(infos: list[AdapterInfo]) -> str:
    lines = ["Map other column names per source with fields: {role: column}."]
    for info in infos:
        lines.append(info.name + (f" (plugin from {info.plugin})" if info.plugin else "")
                     + (f": {info.summary}" if info.summary else ""))
        for role, names, required in info.fields:
            lines.append(f"  {role}: {' | '.join(names) or '(set in fields)'}" + ("" if required else " (optional)"))
    return "\n".join(lines)
