"""The record types every stage shares.

They are plain frozen dataclasses: sources yield ``Problem``; teachers turn ``ChatRequest`` into
``Completion``; the generate stage stores ``Generation``; checks return ``Verdict``. The store maps
them to tables column for column (see README "Database schema").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Domain = Literal["math", "code", "choice", "text"]
DOMAINS: tuple[str, ...] = ("math", "code", "choice", "text")

VerdictStatus = Literal["pass", "fail", "abstain", "error"]
VERDICT_STATUSES: tuple[str, ...] = ("pass", "fail", "abstain", "error")


EVAL_SOURCE_PREFIX = "eval:"  # the sources the eval stage ingests its benchmarks as (eval:<benchmark>)


def stable_hash(*parts: Any, length: int = 16) -> str:
    """A short, stable content hash of JSON-serialisable parts (sorted keys, no whitespace)."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class CodeTests:
    """APPS/TACO-style tests: stdin/stdout pairs, or call-based when ``fn_name`` is set."""

    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    fn_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"inputs": list(self.inputs), "outputs": list(self.outputs)}
        if self.fn_name:
            data["fn_name"] = self.fn_name
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeTests:
        return cls(tuple(data["inputs"]), tuple(data["outputs"]), data.get("fn_name"))


@dataclass(frozen=True)
class Problem:
    """One problem to distill from.

    ``answer`` is the reference for math/choice/text; ``tests`` for code; ``choices`` lists the
    options of a multiple-choice problem (``answer`` is then the correct letter).
    ``locator`` says where the row came from (``file.jsonl:line 17``, ``hub:openai/gsm8k[test]#17``).
    """

    problem_id: str
    source: str
    locator: str
    domain: str
    prompt: str
    answer: str | None = None
    tests: CodeTests | None = None
    choices: tuple[str, ...] | None = None
    language: str = "und"
    metadata: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def make_id(source: str, domain: str, prompt: str, answer: str | None, tests: Any, choices: Any) -> str:
        """Stable id: a hash of the source name and the problem's content."""
        return stable_hash(source, domain, prompt, answer, tests, choices)


@dataclass(frozen=True)
class IngestError:
    """A row that could not become a problem, with a fixed reason code and a locator."""

    source: str
    locator: str
    reason: str
    detail: str
    raw: str | None = None
    problem_id: str | None = None  # the problem a ``duplicate_problem`` row repeats (its first row is looked up)


@dataclass(frozen=True)
class ImportedResponse:
    """A response that already exists (a public trace dataset), stored as a generation of the
    "imported" teacher named ``model`` so the checks can re-filter it."""

    problem_id: str
    source: str
    locator: str
    sample_index: int
    content: str
    reasoning: str | None
    model: str
    original_correct: bool | None = None  # the source dataset's own verdict on it, when the recipe names one

    @property
    def teacher_hash(self) -> str:
        return stable_hash("imported", self.source, self.model)


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 4096
    seed: int | None = None
    stop: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatRequest:
    """One completion to obtain: a problem's messages and its sample index."""

    problem_id: str
    sample_index: int
    messages: tuple[dict[str, str], ...]
    params: SamplingParams


@dataclass(frozen=True)
class Completion:
    """What a teacher returned for one ``ChatRequest`` (or why it could not).

    ``error`` is ``None`` on success; otherwise a reason code (``http_429``, ``timeout``,
    ``invalid_json``, ...) and ``error_detail`` the one-line explanation.

    ``prompt_tokens``/``completion_tokens`` are what the reply is charged: the server's usage when usable, else
    the upper bound, and then ``usage_note`` says why (``distill.llm.spend``). ``lost_attempts`` counts earlier
    attempts that may have been billed without a usable reply (timeouts, dropped connections), each charged
    at the request's bound on top.
    """

    request: ChatRequest
    content: str | None
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    attempts: int = 1
    error: str | None = None
    error_detail: str | None = None
    model: str | None = None
    usage_note: str | None = None
    lost_attempts: int = 0


@dataclass(frozen=True)
class Generation:
    """A stored completion, as the checks see it.

    ``content`` is the text exactly as the teacher returned it; ``reasoning`` the reasoning part (from
    the API's reasoning field or split out of ``content``); ``answer_text`` the rest; ``final_answer``
    what was extracted from ``answer_text`` (last ``\\boxed{}``, "the answer is", ``#### n``).
    """

    generation_id: str
    problem_id: str
    teacher_hash: str
    sample_index: int
    content: str | None
    reasoning: str | None
    final_answer: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    status: str = "ok"
    answer_text: str | None = None  # the response without its reasoning part

    @staticmethod
    def make_id(problem_id: str, teacher_hash: str, sample_index: int) -> str:
        return stable_hash(problem_id, teacher_hash, sample_index)


@dataclass(frozen=True)
class Verdict:
    """One check's decision on one generation. ``reason`` is a fixed snake_case code."""

    generation_id: str
    check: str
    check_version: str
    status: str
    reason: str
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in VERDICT_STATUSES:
            raise ValueError(f"verdict status must be one of {VERDICT_STATUSES}, got {self.status!r}")
