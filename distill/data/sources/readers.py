"""Row readers: every supported container yields ``(locator, row dict)`` or an ``IngestError``.

Local files are streamed (jsonl line by line, Parquet in record batches) so one bad line cannot sink
a file and a large file is never loaded whole. ``arrow`` is a ``datasets.save_to_disk`` folder; a
``hub`` source goes through ``datasets.load_dataset`` with its config, split and revision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from distill.errors import SourceError
from distill.recipe import SourceConfig
from distill.types import IngestError

RAW_LIMIT = 2000
Row = tuple[str, dict[str, Any]]

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def raw_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:RAW_LIMIT]


def detect_format(cfg: SourceConfig, path: Path) -> str:
    if cfg.format:
        return cfg.format
    if path.is_dir():
        return "arrow"
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(f"{path}: cannot tell the format from the file name; set format: "
                          f"jsonl, json, parquet, csv or arrow on this source")
    return fmt


def read_rows(cfg: SourceConfig, resolve: Callable[[str], Path]) -> Iterator[Row | IngestError]:
    name = cfg.display_name
    if cfg.hub is not None:
        yield from _hub_rows(cfg)
        return
    path = resolve(cfg.path or "")
    if not path.exists():
        relative = "" if Path(cfg.path or "").expanduser().is_absolute() else \
            f"; '{cfg.path}' is relative to the recipe's folder, not the current directory"
        raise SourceError(f"{path}: source file not found (source '{name}'{relative})")
    fmt = detect_format(cfg, path)
    reader = {"jsonl": _jsonl_rows, "json": _json_rows, "parquet": _parquet_rows, "csv": _csv_rows,
              "arrow": _disk_rows}[fmt]
    yield from reader(path, name, cfg)


def _jsonl_rows(path: Path, source: str, cfg: SourceConfig) -> Iterator[Row | IngestError]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            locator = f"{path.name}:line {number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a BOM opening the file is not data
            except UnicodeDecodeError as exc:
                yield IngestError(source, locator, "undecodable_text", f"not UTF-8: {exc.reason} at byte "
                                  f"{exc.start}", raw.decode("utf-8", "replace")[:RAW_LIMIT])
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield IngestError(source, locator, "invalid_json", f"{exc.msg} at column {exc.colno}",
                                  line[:RAW_LIMIT])
                continue
            except (ValueError, RecursionError) as exc:  # a 5,000-digit integer, nesting 100,000 deep
                yield IngestError(source, locator, "invalid_json", f"{type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0][:200]}", line[:RAW_LIMIT])
                continue
            if not isinstance(row, dict):
                yield IngestError(source, locator, "invalid_json", f"expected a JSON object, got "
                                  f"{type(row).__name__}", line[:RAW_LIMIT])
                continue
            yield locator, row


def _json_rows(path: Path, source: str, cfg: SourceConfig) -> Iterator[Row | IngestError]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}: invalid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, dict):  # {"data": [...]} and similar single-key wrappers
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise SourceError(f"{path}: expected a JSON list of objects (or one key holding it)")
        data = lists[0]
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of objects")
    for index, row in enumerate(data):
        locator = f"{path.name}:item {index}"
        if isinstance(row, dict):
            yield locator, row
        else:
            yield IngestError(source, locator, "invalid_json", f"expected an object, got {type(row).__name__}",
                              raw_text(row))


def _parquet_rows(path: Path, source: str, cfg: SourceConfig) -> Iterator[Row | IngestError]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise SourceError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    index = 0
    # Row group by row group: a corrupt page costs its own group (recorded), not the file's other rows.
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        try:
            table = parquet.read_row_group(group)
        except Exception as exc:
            yield IngestError(source, f"{path.name}:row group {group} (rows {index}-{index + rows - 1})",
                              "corrupt_data", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", None)
            index += rows
            continue
        for row in table.to_pylist():
            yield f"{path.name}:row {index}", row
            index += 1


def _csv_rows(path: Path, source: str, cfg: SourceConfig) -> Iterator[Row | IngestError]:
    # Long fields (whole solutions, test cases) are normal here: lift the module's 131,072-character cap.
    csv.field_size_limit(2**31 - 1)
    # surrogateescape keeps undecodable bytes visible per row instead of failing the whole file.
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield IngestError(source, f"{path.name}:line {reader.line_num}", "invalid_csv",
                                  str(exc).splitlines()[0][:200], None)
                continue
            locator = f"{path.name}:line {reader.line_num}"
            values = " ".join(str(v) for v in row.values())
            try:
                values.encode("utf-8")
            except UnicodeEncodeError:
                buf = io.StringIO()
                csv.writer(buf).writerow([str(v).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                                          for v in row.values()])
                yield IngestError(source, locator, "undecodable_text", "row is not valid UTF-8", buf.getvalue())
                continue
            yield locator, dict(row)


def _disk_rows(path: Path, source: str, cfg: SourceConfig) -> Iterator[Row | IngestError]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise SourceError(f"{path}: not a datasets.save_to_disk folder: {str(exc).splitlines()[0]}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if cfg.split not in loaded:
            raise SourceError(f"{path}: no split '{cfg.split}'; it has {', '.join(loaded)}")
        loaded = loaded[cfg.split]
    for index, row in enumerate(loaded):
        yield f"disk:{path.name}[{cfg.split}]#{index}", row


def _hub_rows(cfg: SourceConfig) -> Iterator[Row | IngestError]:
    import datasets

    try:
        loaded = datasets.load_dataset(cfg.hub, cfg.config, split=cfg.split, revision=cfg.revision)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"hub dataset '{cfg.hub}' (config {cfg.config}, split {cfg.split}) could not be "
                          f"loaded: {first}") from None
    label = f"hub:{cfg.hub}[{cfg.config or 'default'}/{cfg.split}]"
    for index, row in enumerate(loaded):
        yield f"{label}#{index}", row
