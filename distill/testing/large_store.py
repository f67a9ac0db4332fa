"""A large store built in bounded time, for the scale benches and the tests that hold select to its memory limit.

N generations = N/4 problems x 4 samples: each problem a templated word problem (distinct by its case number),
each reasoning 120 words drawn by hashing (problem, sample, position) into a 5,000-word vocabulary, each with a
``math`` verdict at the check's current version that passes when a hash says so (70%). The problems come from
Python a chunk at a time; the generations and verdicts are written by DuckDB itself, so 10M build in minutes."""

from __future__ import annotations

from pathlib import Path


def build_large_store(path: Path, generations: int) -> None:
    import pyarrow as pa

    from distill.checks import CHECKS
    from distill.store import Store
    from distill.testing.templated import templated_problems

    store = Store.open(path)
    try:
        problems = generations // 4
        step = 50_000
        for start in range(0, problems, step):
            texts = templated_problems(min(step, problems - start), seed=start)
            store.con.register("bulk", pa.Table.from_pylist([
                {"problem_id": f"p{start + i}", "source": "synth", "locator": str(start + i), "domain": "math",
                 "prompt": f"{t} (case {start + i})", "answer": str(start + i), "language": "en"}
                for i, t in enumerate(texts)]))
            store.con.execute("INSERT INTO problems BY NAME SELECT *, now() AS created_at FROM bulk")
            store.con.unregister("bulk")
        for start in range(0, problems, step * 4):  # in slices, so DuckDB's memory stays bounded
            store.con.execute(
                "INSERT INTO generations BY NAME SELECT md5(p.problem_id || ':' || k) AS generation_id, p.problem_id, "
                "'t' AS teacher_hash, k::INTEGER AS sample_index, 'teacher' AS origin, 'ok' AS status, "
                "'The answer is \\boxed{' || p.answer || '}.' AS content, "
                "array_to_string(list_transform(range(120), lambda x: 'w' || (hash(p.problem_id, k, x) % 5000)"
                "::VARCHAR), ' ') AS reasoning, '\\boxed{' || p.answer || '}' AS answer_text, "
                "p.answer AS final_answer, (200 + k)::INTEGER AS completion_tokens, 'r' AS run_id, "
                "now() AS created_at FROM problems p, range(4) t(k) WHERE p.rowid >= ? AND p.rowid < ? "
                "ORDER BY p.rowid, k", [start, start + step * 4])
        store.con.execute(  # at the math check's current version, so select counts them
            "INSERT INTO verdicts BY NAME SELECT generation_id, 'math' AS check_name, ? AS check_version, "
            "CASE WHEN hash(generation_id) % 10 < 7 THEN 'pass' ELSE 'fail' END AS status, "
            "CASE WHEN hash(generation_id) % 10 < 7 THEN 'math_equal' ELSE 'math_mismatch' END AS reason, "
            "'r' AS run_id, now() AS created_at FROM generations ORDER BY rowid", [str(CHECKS.get("math").version)])
    finally:
        store.close()  # folds the new rows into the tallies
