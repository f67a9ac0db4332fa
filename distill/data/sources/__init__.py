"""Problem sources: read a recipe source and yield problems, recorded bad rows, and (for the
``traces`` adapter) imported responses.

``read_source`` is the whole interface. It raises ``SourceError`` (exit code 2) only for a source
that cannot be read at all: a missing file, an unknown adapter, an unreadable container. Every
problem inside a readable source becomes either a ``Problem`` or an ``IngestError`` with a reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from distill.data.sources.adapters import ADAPTERS, RowError
from distill.data.sources.readers import raw_text, read_rows
from distill.errors import RecipeError, SourceError, UsageError
from distill.recipe import LoadedRecipe, SourceConfig
from distill.types import ImportedResponse, IngestError, Problem


def _unstorable(row: dict) -> str | None:
    """Why a row's text cannot be stored (a lone surrogate such as "\\ud800" is valid JSON but not UTF-8), or
    None. Checked per row so one such value never sinks the batch written with it."""
    try:
        json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a character that is not valid UTF-8 text ({exc.object[exc.start:exc.end]!a})"
    except (ValueError, RecursionError, TypeError) as exc:
        return f"cannot be serialised: {type(exc).__name__}"
    return None


def _safe_raw(row: dict) -> str:
    try:
        return json.dumps(row, ensure_ascii=True, default=str)[:2000]
    except (ValueError, RecursionError, TypeError):
        return repr(row)[:2000]


def _nul_field(fields: Any) -> str | None:
    """The first of a row's texts (prompt, answer, choices, responses) that holds a NUL character, or None."""
    texts = [("prompt", fields.prompt), ("answer", fields.answer), *(("choices", c) for c in fields.choices or ()),
             *(("response", t) for pair in fields.responses for t in pair)]
    return next((name for name, text in texts if isinstance(text, str) and "\x00" in text), None)


LEFT_OUT = "left out by where"  # yielded for a row the source's `where` does not keep: counted, not stored


def check_adapters(recipe: LoadedRecipe) -> None:
    """Every source names a known adapter: else ``file.yaml: sources[i].adapter: Unknown adapter ...``."""
    for i, cfg in enumerate(recipe.config.sources):
        try:
            ADAPTERS.get(cfg.adapter)
        except UsageError as exc:
            raise RecipeError(f"{recipe.path}: sources[{i}].adapter: {exc}") from None


def read_source(cfg: SourceConfig, resolve: Callable[[str], Path]
                ) -> Iterator[Problem | IngestError | ImportedResponse | str]:
    try:
        adapter = ADAPTERS.get(cfg.adapter)
    except UsageError as exc:
        raise SourceError(f"source '{cfg.display_name}': {exc}") from None
    name = cfg.display_name
    # Problems met so far, as 64-bit integers (the id's hex): ~70 bytes each, so 1M rows stay bounded (a dict of
    # id and locator strings took ~175 bytes a row).
    seen: set[int] = set()
    samples: Counter[str] = Counter()  # imported responses per problem, for their sample indices
    # Problems too short to identify ("Compute $x$.") take their source's language at the end, when it has one.
    short: list[Problem] = []
    languages: Counter[str] = Counter()
    yielded = 0
    for item in read_rows(cfg, resolve):
        if isinstance(item, IngestError):
            yield item
            continue
        locator, row = item
        if cfg.where and any(row.get(key) not in allowed for key, allowed in cfg.where.items()):
            yield LEFT_OUT
            continue
        if cfg.window is not None and not cfg.window.keeps(row.get(cfg.window.field)):
            yield LEFT_OUT
            continue
        unstorable = _unstorable(row)
        if unstorable:
            yield IngestError(name, locator, "undecodable_text", unstorable, _safe_raw(row))
            continue
        try:
            fields = adapter(row, cfg)
        except RowError as exc:
            yield IngestError(name, locator, exc.reason, exc.detail, raw_text(row))
            continue
        except Exception as exc:  # whatever else a row can do to an adapter: recorded, never a crash
            yield IngestError(name, locator, "invalid_row", f"{type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}", _safe_raw(row))
            continue
        nul = _nul_field(fields)
        if nul:
            yield IngestError(name, locator, "nul_character", f"the {nul} holds a NUL character (\\u0000): a "
                              f"corrupt or binary value", _safe_raw(row))
            continue
        tests_json = fields.tests.to_json() if fields.tests else None
        problem_id = Problem.make_id(name, fields.domain, fields.prompt, fields.answer, tests_json, fields.choices)
        verdicts = fields.response_verdicts or (None,) * len(fields.responses)
        for (content, reasoning), original in zip(fields.responses, verdicts, strict=True):
            yield ImportedResponse(problem_id, name, locator, samples[problem_id], content, reasoning,
                                   fields.model or name, original)
            samples[problem_id] += 1
        key = int(problem_id, 16)
        if key in seen and fields.responses:
            continue  # another row of responses for a problem already yielded
        if key in seen:
            yield IngestError(name, locator, "duplicate_problem", f"same problem as an earlier row (problem "
                              f"{problem_id})", raw_text(row), problem_id)  # ingest names that row's locator
            continue
        seen.add(key)
        problem = Problem(problem_id=problem_id, source=name, locator=locator, domain=fields.domain,
                          prompt=fields.prompt, answer=fields.answer, tests=fields.tests, choices=fields.choices,
                          language=cfg.language or _detect_language(fields.prompt), metadata=fields.metadata)
        if problem.language == "und":
            short.append(problem)
        else:
            languages[problem.language] += 1
            yield problem
        yielded += 1
        if cfg.limit is not None and yielded >= cfg.limit:
            break
    inherited = _uniform_language(languages)
    for problem in short:
        yield replace(problem, language=inherited)


MIXED_SHARE = 0.02  # a source whose other languages are more than this share of its identified problems is mixed


def _uniform_language(languages: Counter[str]) -> str:
    """The language a problem too short to identify inherits: its source's, when the source is in one language
    (identification noise aside); ``und`` for a source that mixes languages (a short English problem in a mostly
    Chinese source is not Chinese), so the language check judges the trace against itself."""
    if not languages:
        return "und"
    language, count = languages.most_common(1)[0]
    return language if count >= (1 - MIXED_SHARE) * sum(languages.values()) else "und"


def _detect_language(text: str) -> str:
    # imported on first use: `distill.data.sources.boxed` (read by every stage through llm.response) opens this
    # package, and the language tables cost ~0.1 s to build
    from distill.checks.language_id import detect_language

    return detect_language(text)
