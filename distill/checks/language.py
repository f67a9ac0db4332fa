"""Language consistency: the reasoning and the answer are written in the problem's language.

The expected language is the problem's (detected at ingest) unless the recipe fixes ``language``.
Each part (reasoning, answer) is split into sentences and lines and each segment labelled by
``distill.checks.language_id`` (scripts first, then function words, with py3langid to confirm a foreign Latin
segment). Segments with fewer than ``min_segment_chars`` letters (a CJK character counts as two) say
nothing: names, loanwords, Greek letters, code and formulas never decide. Two exceptions, because they
are R1's code-switching: words of another script inside a sentence of a Latin-script trace ("First, 我们
compute ...") are foreign whatever their length, and a Latin sentence of three words or more with two
function words of one language ("Then we check it again.") is foreign in a trace of another script. Issue
21 added two: a CJK sentence of two characters or more ("对，没错。") is foreign in a Latin-script trace, and a
Latin sentence of five words or more with a foreign function word is judged by py3langid against the
expected language ("Vamos a verificar la respuesta." in an English trace).

The expected language is the problem's; a problem without one (too short to identify, or from a source that
mixes languages: ``und``) is judged against its trace's own language (details ``expected_from: trace``), so a
switch inside the trace still fails; such a trace cannot be ``wrong_language``.

For each part, ``target_word_share`` is the share of words (CJK: characters) in labelled segments that
are in the expected language, DeepSeek-R1's language-consistency measure. A part fails when its
foreign share exceeds ``max_foreign_share`` (default 0: any meaningful foreign segment).

Reasons: ``language_consistent`` (pass); ``language_mixed`` (fail: some segments in another
language); ``wrong_language`` (fail: every labelled segment is in another language);
``garbled_text`` (fail: ``GARBLED_MIN`` or more replacement characters, control characters, private-use
code points or mojibake sequences in a part, checked first); ``language_unknown`` (abstain: no expected
language and none found in the trace, or no segment long enough to tell);
``language_error`` (error: the analysis failed or overran its 60 s limit).
Details: ``expected``; ``failing_parts`` (``["reasoning"]``, ``["answer"]`` or both) on a fail; per part
``target_word_share`` and up to five ``offending`` segments (language and the first 160 characters).

Large batches run in worker processes (``distill.checks.workers``); the analysis is pure Python.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from distill.checks.base import Check
from distill.checks.language_id import GARBLED_MIN, analyse_part, detect_language, garbled
from distill.checks.workers import WorkerPool
from distill.errors import UsageError
from distill.llm.response import split_response
from distill.types import Generation, Problem, Verdict

MAX_OFFENDING = 5
PARALLEL_MIN_BATCH = 64


class LanguageCheck(Check):
    name = "language"
    # 2: Japanese vs Chinese Han, close relatives, languages without word lists; 3: words of another script
    # inside a sentence count whatever their length, short Latin prose in a non-Latin trace, garbled text;
    # 4: short CJK sentences in Latin traces, a foreign Latin sentence of 5+ words, "und" judged against the trace
    version = "4"

    def __init__(self, language: str | None = None, min_segment_chars: int = 20, max_foreign_share: float = 0.0,
                 check_reasoning: bool = True, check_answer: bool = True, processes: int | None = None,
                 **extra: Any):
        super().__init__(**extra)
        if language is not None and not (isinstance(language, str) and re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z]+)?",
                                                                                   language)):
            raise UsageError(f"check 'language': language must be an ISO 639 code such as 'en' or 'zh', "
                             f"got {language!r}")
        if isinstance(min_segment_chars, bool) or not isinstance(min_segment_chars, int) or min_segment_chars < 1:
            raise UsageError(f"check 'language': min_segment_chars must be a positive integer, "
                             f"got {min_segment_chars!r}")
        if isinstance(max_foreign_share, bool) or not isinstance(max_foreign_share, int | float) \
                or not 0 <= max_foreign_share < 1:
            raise UsageError(f"check 'language': max_foreign_share must be a number in [0, 1), "
                             f"got {max_foreign_share!r}")
        for key, value in (("check_reasoning", check_reasoning), ("check_answer", check_answer)):
            if not isinstance(value, bool):
                raise UsageError(f"check 'language': {key} must be true or false, got {value!r}")
        if not (check_reasoning or check_answer):
            raise UsageError("check 'language': check_reasoning and check_answer cannot both be false")
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
            raise UsageError(f"check 'language': processes must be a positive integer, got {processes!r}")
        self.language = language
        self.min_segment_chars = min_segment_chars
        self.max_foreign_share = max_foreign_share
        self.parts = tuple(p for p, on in (("reasoning", check_reasoning), ("answer", check_answer)) if on)
        self.processes = processes or os.cpu_count() or 1
        self._pool: WorkerPool | None = None

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        """Large batches go to worker processes (the work is pure Python, so threads would not help)."""
        if self.processes < 2 or len(items) < PARALLEL_MIN_BATCH:
            return [self.check(p, g) for p, g in items]
        if self._pool is None:
            self._pool = WorkerPool(lambda item: self.check(*item), processes=self.processes, timeout_s=60,
                                    chunk_size=32, on_timeout=lambda item: self._failed(item, "timeout"),
                                    on_error=lambda item, message: self._failed(item, message))
        return self._pool.map(list(items))

    def _failed(self, item: tuple[Problem, Generation], message: str) -> Verdict:
        return self.verdict(item[1], "error", "language_error", message=message)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        expected = self.language or problem.language
        split = split_response(generation.content, generation.reasoning)
        texts = {"reasoning": split.reasoning or "", "answer": split.answer_text}
        expected_from = "problem"
        if not expected or expected == "und":
            # A problem too short to identify (or from a source that mixes languages): the trace is judged
            # against its own language, so a switch inside it still fails; wrong_language cannot be told.
            expected, expected_from = detect_language("\n".join(texts[part] for part in self.parts)), "trace"
            if expected == "und":
                return self.verdict(generation, "abstain", "language_unknown", expected=None)
        for part in self.parts:
            found = garbled(texts[part])
            if len(found) >= GARBLED_MIN:
                return self.verdict(generation, "fail", "garbled_text", 0.0, expected=expected, part=part,
                                    garbled_count=len(found), sample=[ascii(c) for c in found[:5]])
        report: dict[str, Any] = {}
        failing: list[str] = []
        target_total = foreign_total = 0
        for part in self.parts:
            result = analyse_part(texts[part], expected, self.min_segment_chars)
            target, foreign, foreign_segments = result.target, result.foreign, result.offending
            target_total += target
            foreign_total += foreign
            if target + foreign == 0:
                continue
            share = target / (target + foreign)
            report[part] = {
                "target_word_share": round(share, 4),
                "offending": [{"language": s.language, "text": s.text[:160]} for s in foreign_segments[:MAX_OFFENDING]],
            }
            if 1 - share > self.max_foreign_share:
                failing.append(part)
        if target_total + foreign_total == 0:
            return self.verdict(generation, "abstain", "language_unknown", expected=expected,
                                expected_from=expected_from)
        score = target_total / (target_total + foreign_total)
        if not failing:
            return self.verdict(generation, "pass", "language_consistent", score, expected=expected,
                                expected_from=expected_from, parts=report)
        reason = "wrong_language" if target_total == 0 else "language_mixed"
        return self.verdict(generation, "fail", reason, score, expected=expected, expected_from=expected_from,
                            failing_parts=failing, parts=report)
