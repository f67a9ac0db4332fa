"""Disk and path faults read as what they are: one line naming the cause and the file, never 'a bug'."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distill.errors import StoreError, StorePathError
from distill.store import Store


def test_a_store_path_under_a_regular_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StorePathError, match="cannot create the store's folder .*afile: File exists") as err:
        Store.open(tmp_path / "afile" / "s.duckdb")
    assert err.value.exit_code == 2


def test_a_truncated_store_is_named_not_misread(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.duckdb").close()
    data = (tmp_path / "s.duckdb").read_bytes()
    (tmp_path / "t.duckdb").write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError, match=r"t.duckdb: cannot open the store: IO Error"):
        Store.open(tmp_path / "t.duckdb")


@pytest.fixture
def tiny_disk(small_disk) -> Path:
    return small_disk(3)


def test_a_full_disk_says_so_and_keeps_what_was_committed(tiny_disk: Path) -> None:
    from distill.types import Generation

    def batch(start: int) -> list[dict]:
        return [{"generation_id": Generation.make_id(f"p{i}", "t", 0), "problem_id": f"p{i}", "teacher_hash": "t",
                 "sample_index": 0, "origin": "teacher", "status": "ok", "content": os.urandom(2000).hex()}
                for i in range(start, start + 200)]

    store = Store.open(tiny_disk / "s.duckdb")
    committed = 0
    with pytest.raises(StoreError) as err:
        for start in range(0, 100_000, 200):
            committed += store.add_generations(batch(start))
    message = str(err.value)
    assert message.startswith(f"{tiny_disk / 's.duckdb'}: the write failed") and "\n" not in message
    assert "No space left on device" in message or "Could not write" in message or "IO Error" in message
    assert "cannot rollback" not in message
    try:  # what was committed before the disk filled is still there, and nothing half-written
        assert committed > 0 and store.count("generations") == committed
    finally:
        try:
            store.close()
        except Exception:
            pass  # closing may need disk for the checkpoint; the test only needs the mount gone


def test_a_corrupt_block_anywhere_in_the_store_is_named_never_called_a_bug(tmp_path: Path) -> None:
    import json
    import shutil

    from typer.testing import CliRunner

    from distill.cli import app

    shutil.copytree(Path(__file__).resolve().parents[1] / "pipelines" / "data", tmp_path / "data")
    recipe = tmp_path / "c.yaml"
    recipe.write_text(json.dumps({"name": "c", "store": "c.duckdb",
                                  "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}]}))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(recipe)]).exit_code == 0
    clean = (tmp_path / "c.duckdb").read_bytes()
    mid_query = 0
    for offset in range(12288 + 200, len(clean), 262144):  # one damaged stretch in each 256 KB block in turn
        damaged = bytearray(clean)
        damaged[offset:offset + 64] = bytes(b ^ 0xFF for b in damaged[offset:offset + 64])
        (tmp_path / "d.duckdb").write_bytes(bytes(damaged))
        result = runner.invoke(app, ["status", "--store", str(tmp_path / "d.duckdb")])
        if result.exit_code == 0:
            continue  # a block the store does not use (free space)
        line = result.output.strip()
        assert "bug" not in line and "\n" not in line and line.startswith("error: "), line
        assert "corrupt" in line.lower(), line
        mid_query += "the store file is corrupt" in line
    assert mid_query >= 1  # at least one damage surfaced only when a query read it
