"""The cost cap against hostile servers: how far past ``max_cost_usd`` can a server push the spend we count?

Each scenario runs ``distill generate`` (real store, real HTTP, the fault server in this process) over 300
requests of the sample problems at ``max_concurrency`` 16, ``max_tokens`` 1,000 and $10 per million completion
tokens (one request's bound is about $0.0103), with a $0.25 cap, then a rerun at the same cap. Scenarios:

- honest: an honest usage (tiny completions, ~20 tokens);
- no_usage / negative_usage / absurd_usage: usage missing, negative, 1e9-sized (charged at the bound);
- extra_choices: 3 choices more than asked, billed in full, answers of ~1,600 characters;
- timeouts: every request answered after the client's timeout (charged at the bound, each attempt);
- bait: honest tiny usage for the first 200 requests (the mean drops to ~$0.0002), then every reply claims
  ``max_tokens`` (plausible, within the bound): the worst case the projection allows.

Usage: ``.venv/bin/python bench/hostile_spend.py``; prints a Markdown table.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from distill.errors import TeacherUnreachableError
from distill.recipe import load_recipe
from distill.stages.generate import generate
from distill.stages.ingest import ingest
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

CAP = 0.25
REQUESTS = 300


def problems(path: Path) -> None:
    with path.open("w") as f:
        for i in range(REQUESTS):
            f.write(json.dumps({"question": f"Problem {i}: a farmer has {i} cows and buys {i % 7} more. How many?",
                                "answer": f"#### {i + i % 7}"}) + "\n")


SCENARIOS: dict[str, tuple[ServerPlan, dict]] = {
    "honest": (ServerPlan(), {}),
    "no_usage": (ServerPlan(faults=[Fault("no_usage")]), {}),
    "negative_usage": (ServerPlan(faults=[Fault("negative_usage", count=10**6)]), {}),
    "absurd_usage": (ServerPlan(faults=[Fault("absurd_usage")]), {}),
    "extra_choices": (ServerPlan(faults=[Fault("extra_choices")], default_answer="x" * 1600), {}),
    "timeouts": (ServerPlan(faults=[Fault("slow", delay_s=0.6)]), {"timeout_s": 0.3, "max_retries": 1}),
    "bait": (ServerPlan(faults=[Fault("ok", times=200), Fault("full_usage")], latency_s=0.01), {}),
}


def run(name: str, plan: ServerPlan, teacher: dict, workdir: Path) -> tuple[int, float, float]:
    problems(workdir / "p.jsonl")
    with FaultServer(plan) as server:
        fields = {"model": "m", "base_urls": [server.base_url], "n": 1, "max_concurrency": 16, "timeout_s": 5,
                  "max_retries": 0, "retry_backoff_s": 0.01, "price_input_per_mtok": 1.0,
                  "price_output_per_mtok": 10.0, "max_tokens": 1000, "max_cost_usd": CAP} | teacher
        recipe_path = workdir / f"{name}.yaml"
        recipe_path.write_text(json.dumps({"name": name, "store": str(workdir / f"{name}.duckdb"),
                                           "sources": [{"adapter": "gsm8k", "path": "p.jsonl"}],
                                           "teacher": fields}))
        recipe = load_recipe(recipe_path)
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)
            after_first = total = 0.0
            for attempt in range(2):  # a run, then a rerun at the same cap
                try:
                    generate(recipe, store)
                except TeacherUnreachableError:
                    pass  # every request timed out: recorded as error rows, charged at their bound
                spent = store.con.execute("SELECT coalesce(sum(cost_usd), 0) FROM generations").fetchone()[0]
                after_first, total = (spent, spent) if attempt == 0 else (after_first, spent)
        return server.state.stats["requests"], after_first, total


def main() -> None:
    print(f"cap ${CAP}, {REQUESTS} requests planned, concurrency 16, bound per request ~$0.0103\n")
    print("| server | requests sent | counted after run 1 | after a rerun | worst overshoot |")
    print("|---|---:|---:|---:|---:|")
    for name, (plan, teacher) in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as tmp:
            sent, first, total = run(name, plan, teacher, Path(tmp))
        over = max(first, total) / CAP - 1
        print(f"| {name} | {sent} | ${first:.4f} | ${total:.4f} | {over:+.0%} |")


if __name__ == "__main__":
    main()
