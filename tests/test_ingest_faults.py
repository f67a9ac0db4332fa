"""One bad row never crashes ingest or costs the good rows beside it; a corrupt file part is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from distill.recipe import load_recipe
from distill.stages.ingest import ingest
from distill.store import Store

GOOD = [{"question": f"What is {i} + {i}?", "answer": f"#### {2 * i}"} for i in range(1, 6)]


def run_ingest(tmp_path: Path, filename: str, fmt: str | None = None) -> Store:
    source = {"adapter": "gsm8k", "path": filename, "name": "src"} | ({"format": fmt} if fmt else {})
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"name": "faults", "store": "s.duckdb", "sources": [source]}))
    recipe = load_recipe(tmp_path / "r.yaml")
    store = Store.open(recipe.store_path)
    ingest(recipe, store)
    return store


def reasons(store: Store) -> list[tuple[str, str]]:
    return store.con.execute("SELECT locator, reason FROM ingest_errors ORDER BY locator").fetchall()


@pytest.mark.parametrize("bad_line, reason", [
    ('{"question": "big", "answer": ' + "9" * 5000 + "}", "invalid_json"),          # over Python's int digits limit
    ("[" * 100_000 + "]" * 100_000, "invalid_json"),                                  # nesting 100,000 deep
    ('{"question": "What is \\ud800?", "answer": "#### 1"}', "undecodable_text"),    # a lone surrogate
    ('{"question": "What is 1\\u0000?", "answer": "#### 1"}', "nul_character"),       # a NUL in the prompt
])
def test_a_hostile_jsonl_line_is_recorded_and_its_neighbours_are_kept(tmp_path: Path, bad_line: str,
                                                                      reason: str) -> None:
    lines = [json.dumps(r) for r in GOOD[:3]] + [bad_line] + [json.dumps(r) for r in GOOD[3:]]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    with run_ingest(tmp_path, "rows.jsonl") as store:
        assert store.count("problems") == 5
        assert reasons(store) == [("rows.jsonl:line 4", reason)]


def test_a_csv_field_over_131072_characters_is_read(tmp_path: Path) -> None:
    long_question = "Add these numbers: " + " + ".join(["1"] * 70_000) + "?"
    rows = [*GOOD[:2], {"question": long_question, "answer": "#### 70000"}, *GOOD[2:]]
    text = "question,answer\n" + "".join(f'"{r["question"]}","{r["answer"]}"\n' for r in rows)
    (tmp_path / "rows.csv").write_text(text)
    with run_ingest(tmp_path, "rows.csv") as store:
        assert store.count("problems") == 6 and reasons(store) == []
        assert store.con.execute("SELECT max(length(prompt)) FROM problems").fetchone()[0] == len(long_question)


def test_a_corrupt_parquet_row_group_is_recorded_and_the_others_are_kept(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"question": f"What is {i} times {i}? " + "x" * 200, "answer": f"#### {i * i}"} for i in range(30)]
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=10, compression="NONE",
                   use_dictionary=False)
    meta = pq.ParquetFile(path).metadata.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    start = meta.data_page_offset + 40  # inside the second row group's first page: past its header
    data[start:start + 64] = b"\xff" * 64
    # Break the page header too, so the reader cannot decode that page at all.
    data[meta.data_page_offset:meta.data_page_offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with run_ingest(tmp_path, "rows.parquet") as store:
        assert store.count("problems") == 20
        assert reasons(store) == [("rows.parquet:row group 1 (rows 10-19)", "corrupt_data")]


def test_an_adapter_failure_of_any_kind_is_a_recorded_row(tmp_path: Path) -> None:
    # A list where the adapter expects text: whatever it raises becomes that row's error.
    lines = [json.dumps(GOOD[0]), json.dumps({"question": {"nested": [1, 2]}, "answer": "#### 1"}),
             json.dumps(GOOD[1])]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    with run_ingest(tmp_path, "rows.jsonl") as store:
        assert store.count("problems") == 2
        assert len(reasons(store)) == 1 and reasons(store)[0][0] == "rows.jsonl:line 2"


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_byte_order_mark_does_not_cost_the_first_row(tmp_path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        text = "".join(json.dumps(r) + "\n" for r in GOOD)
    elif fmt == "json":
        text = json.dumps(GOOD)
    else:
        text = "question,answer\n" + "".join(f'"{r["question"]}","{r["answer"]}"\n' for r in GOOD)
    (tmp_path / f"bom.{fmt}").write_bytes(b"\xef\xbb\xbf" + text.encode())
    with run_ingest(tmp_path, f"bom.{fmt}") as store:
        assert reasons(store) == [] and store.count("problems") == len(GOOD)
        prompts = [r[0] for r in store.con.execute("SELECT prompt FROM problems").fetchall()]
    assert "What is 1 + 1?" in prompts and not any("\ufeff" in p for p in prompts)


def test_a_duplicate_row_names_the_row_it_repeats_across_batches(tmp_path: Path) -> None:
    from distill.stages import ingest as ingest_module

    rows = [*GOOD, *({"question": f"Filler {i}: what is {i} plus one?", "answer": f"#### {i + 1}"}
                     for i in range(ingest_module.BATCH + 5)), GOOD[1]]
    (tmp_path / "dup.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with run_ingest(tmp_path, "dup.jsonl") as store:
        (detail,) = store.con.execute("SELECT detail FROM ingest_errors WHERE reason = 'duplicate_problem'"
                                      ).fetchone()
    assert detail == "same problem as dup.jsonl:line 2"  # the first row went in an earlier batch
