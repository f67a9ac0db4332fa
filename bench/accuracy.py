"""Accuracy of the math, choice and language checks on the project's labelled set
(``tests/data/verify_accuracy.jsonl``, built by ``bench/accuracy_build.py``), beside plain baselines.

A check's job is to reject bad traces, so "positive" means the label is ``fail``: precision is the share
of rejected traces that are bad, recall the share of bad traces rejected. An abstain rejects nothing
here (it is counted apart); select drops it by default (``select.abstain``).

Baselines, as people use them:
- plain math-verify (0.9.0), as open-r1's accuracy reward: ``verify(parse(gold), parse(response))`` on
  the whole response, math-verify's own extraction; pass when True. Used for math and choice rows.
- plain py3langid (0.4.0): the whole response's most likely language; pass when it is the problem's.

Then accuracy per class of issue 21 (placeholders, restatements, self-correction, e-notation, unit words,
equations, set-builder, empty set, words, Chinese phrases, short CJK and Latin sentences) beside the baseline.

Usage: ``python bench/accuracy.py`` (about 10 s on 2 cores).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from pathlib import Path

from distill.checks.choice import ChoiceCheck
from distill.checks.language import LanguageCheck
from distill.checks.language_id import canonical
from distill.checks.math import MathCheck
from distill.types import Generation, Problem

SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "verify_accuracy.jsonl"


def load() -> list[dict]:
    return [json.loads(line) for line in SET.read_text().splitlines()]


def items(rows: list[dict]) -> list[tuple[Problem, Generation]]:
    return [(Problem(r["id"], "accuracy", r["id"], r["domain"], r["prompt"], r["answer"],
                     choices=tuple(r["choices"]) if r["choices"] else None, language=r["language"]),
             Generation(r["id"], r["id"], "t", 0, r["response"], None, None, "stop", 1, 1)) for r in rows]


def ours(rows: list[dict]) -> list[str]:
    """Our verdict status per row."""
    out: dict[str, str] = {}
    checks = {"math": MathCheck(processes=2), "choice": ChoiceCheck(), "language": LanguageCheck(processes=1)}
    try:
        for name, check in checks.items():
            subset = [r for r in rows if r["check"] == name]
            for row, verdict in zip(subset, check.check_batch(items(subset)), strict=True):
                out[row["id"]] = verdict.status
    finally:
        for check in checks.values():
            check.close()
    return [out[r["id"]] for r in rows]


def plain(rows: list[dict]) -> list[str]:
    from math_verify import parse, verify
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    out = []
    for row in rows:
        if row["check"] == "language":
            language, _ = identifier.classify(row["response"])
            out.append("pass" if canonical(language) == row["language"] else "fail")
        else:
            ok = verify(parse(f"${row['answer']}$"), parse(row["response"]))
            out.append("pass" if ok else "fail")
    return out


def scores(rows: list[dict], statuses: list[str]) -> dict:
    tp = sum(r["label"] == "fail" and s == "fail" for r, s in zip(rows, statuses, strict=True))
    fp = sum(r["label"] == "pass" and s == "fail" for r, s in zip(rows, statuses, strict=True))
    fn = sum(r["label"] == "fail" and s != "fail" for r, s in zip(rows, statuses, strict=True))
    correct = sum((s == "fail") == (r["label"] == "fail") for r, s in zip(rows, statuses, strict=True))
    return {"rows": len(rows), "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0, "accuracy": correct / len(rows),
            "abstain": statuses.count("abstain"), "false_rejects": fp, "missed": fn}


def main() -> None:
    rows = load()
    mine, base = ours(rows), plain(rows)
    print(f"{len(rows)} labelled rows from {SET.name}; positive = a bad trace (label fail) rejected")
    print("| check | rows (bad) | ours: precision / recall / accuracy | baseline | baseline: precision / recall "
          "/ accuracy |")
    print("|---|---:|---|---|---|")
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for name, baseline in (("math", "plain math-verify"), ("choice", "plain math-verify"),
                           ("language", "plain py3langid")):
        index = [i for i, r in enumerate(rows) if r["check"] == name]
        subset = [rows[i] for i in index]
        a, b = scores(subset, [mine[i] for i in index]), scores(subset, [base[i] for i in index])
        bad = sum(r["label"] == "fail" for r in subset)
        abstain = f" ({a['abstain']} abstain)" if a["abstain"] else ""
        print(f"| {name} | {a['rows']} ({bad}) | {a['precision']:.3f} / {a['recall']:.3f} / {a['accuracy']:.3f}"
              f"{abstain} | {baseline} | "
              f"{b['precision']:.3f} / {b['recall']:.3f} / {b['accuracy']:.3f} |")
        for i in index:
            for who, status in (("ours", mine[i]), ("baseline", base[i])):
                if (status == "fail") != (rows[i]["label"] == "fail"):
                    errors[f"{name} {who}"][rows[i]["kind"]] += 1
    print("\nErrors by case family:")
    for key in sorted(errors):
        print(f"  {key}: " + ", ".join(f"{kind} {n}" for kind, n in errors[key].most_common()))
    print_per_class(rows, mine, base)


def print_per_class(rows: list[dict], mine: list[str], base: list[str], prefix: str = "r3_") -> None:
    """Accuracy per case family of issue 21 (kinds starting ``r3_``), ours beside the plain baseline."""
    print(f"\nPer class (issue 21, kinds {prefix}*): accuracy, ours vs the plain baseline of each check")
    print("| check | class | rows (bad) | ours | baseline |")
    print("|---|---|---:|---:|---:|")
    classes = sorted({(r["check"], r["kind"]) for r in rows if r["kind"].startswith(prefix)})
    for check, kind in classes:
        index = [i for i, r in enumerate(rows) if r["check"] == check and r["kind"] == kind]
        bad = sum(rows[i]["label"] == "fail" for i in index)
        ours_right = sum((mine[i] == "fail") == (rows[i]["label"] == "fail") for i in index)
        base_right = sum((base[i] == "fail") == (rows[i]["label"] == "fail") for i in index)
        print(f"| {check} | {kind.removeprefix(prefix)} | {len(index)} ({bad}) | {ours_right / len(index):.2f} | "
              f"{base_right / len(index):.2f} |")


if __name__ == "__main__":
    main()
