"""Adapters: one function per problem-set layout, turning a raw row into a problem's fields.

An adapter raises ``RowError(reason, detail)`` for a row it cannot use; the reader records it in
``ingest_errors`` and goes on. Field names can be overridden per source with ``fields:`` in the
recipe (e.g. ``{prompt: question}``), so a renamed column needs no new adapter.

Reason codes: ``missing_field``, ``empty_prompt``, ``unparsable_reference``, ``malformed_tests``,
``invalid_choices`` (plus ``invalid_json``, ``undecodable_text`` from the readers and
``duplicate_problem`` from ``read_source``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import pickle
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from distill.data.sources.boxed import last_boxed
from distill.recipe import SourceConfig
from distill.registry import Registry
from distill.types import CodeTests


class RowError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ProblemFields:
    domain: str
    prompt: str
    answer: str | None = None
    tests: CodeTests | None = None
    choices: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    responses: tuple[tuple[str, str | None], ...] = ()  # (content, reasoning) of imported traces
    response_verdicts: tuple[bool | None, ...] = ()  # the source's own verdict on each response, when named
    model: str | None = None                             # who wrote the imported traces


Adapter = Callable[[dict[str, Any], SourceConfig], ProblemFields]
ADAPTERS: Registry[Adapter] = Registry("adapter", entry_points="distill.adapters")

# Small provenance fields worth keeping; big ones (full solutions) stay in the source.
_KEEP_METADATA = ("idx", "id", "unique_id", "subject", "level", "type", "url", "source", "difficulty", "problem_id",
                  "year", "contest")


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _KEEP_METADATA
            if k in row and row[k] is not None and not isinstance(row[k], dict | list)}


def _field(row: dict[str, Any], cfg: SourceConfig, role: str, *defaults: str, required: bool = True) -> Any:
    """The value for ``role`` (prompt, answer, ...): the recipe's mapping first, then the usual names."""
    names = [cfg.fields[role]] if role in cfg.fields else list(defaults)
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    if required:
        raise RowError("missing_field", f"no '{'/'.join(names)}' field (the {role})")
    return None


_USER_ROLES = ("user", "human")
_ASSISTANT_ROLES = ("assistant", "gpt")


def _turns(value: list[dict[str, Any]], roles: tuple[str, ...]) -> list[Any]:
    """The texts of chat turns with these roles: OpenAI messages (role/content) or ShareGPT (from/value)."""
    return [m.get("content", m.get("value")) for m in value if m.get("role", m.get("from")) in roles]


def _prompt(row: dict[str, Any], cfg: SourceConfig, *defaults: str) -> str:
    value = _field(row, cfg, "prompt", *defaults)
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        users = _turns(value, _USER_ROLES)  # a conversation: its first user turn is the problem
        value = users[0] if users else None
    if not isinstance(value, str):
        raise RowError("missing_field", f"the prompt must be text, got {type(value).__name__}")
    if not value.strip():
        raise RowError("empty_prompt", "the prompt is empty")
    return value.strip()


_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")


def normalise_number_text(text: str) -> str:
    """``1,000`` -> ``1000``, ``27.0`` -> ``27``, ``025`` -> ``25``; anything else unchanged."""
    s = text.strip().removeprefix("$").strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    try:
        value = float(s)
    except ValueError:
        return text.strip()
    if math.isfinite(value) and value == int(value) and re.fullmatch(r"-?\d+(\.0+)?", s):
        return str(int(value))
    return s


def _numeric_answer(value: Any, integer_only: bool) -> str:
    if isinstance(value, bool) or value is None:
        raise RowError("unparsable_reference", f"answer {value!r} is not a number")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise RowError("unparsable_reference", f"answer {value!r} is not finite")
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
    else:
        text = normalise_number_text(str(value))
    if not re.fullmatch(r"-?\d+(\.\d+)?", text) or (integer_only and "." in text):
        kind = "an integer" if integer_only else "a number"
        raise RowError("unparsable_reference", f"answer {str(value)[:80]!r} is not {kind}")
    return text


@ADAPTERS.register("gsm8k")
def gsm8k(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    prompt = _prompt(row, cfg, "question")
    solution = _field(row, cfg, "answer", "answer")
    if not isinstance(solution, str) or "####" not in solution:
        raise RowError("unparsable_reference", "answer has no '#### <number>' line")
    final = solution.rsplit("####", 1)[1].strip()
    if not final:
        raise RowError("unparsable_reference", "nothing after '####'")
    return ProblemFields("math", prompt, normalise_number_text(final), metadata=_metadata(row))


_MATH_DELIMITERS = re.compile(r"^\$+(.*?)\$+$|^\\\((.*)\\\)$|^\\\[(.*)\\\]$", re.S)


def _list_answer(value: list[Any]) -> str:
    """A reference given as a list (OlympiadBench's ``final_answer: ["$\\frac{1}{2}$"]``): one element is the
    answer; several are one reference that lists them, joined with ", " (the math check then reads it as a list,
    in any order, and several boxes as its items). Each element loses its ``$...$`` delimiters."""
    items = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise RowError("unparsable_reference", f"answer list item {item!r} is not text or a number")
        text = _numeric_answer(item, integer_only=False) if isinstance(item, int | float) else item.strip()
        delimited = _MATH_DELIMITERS.match(text)
        if delimited:
            text = next(group for group in delimited.groups() if group is not None).strip()
        if text:
            items.append(text)
    if not items:
        raise RowError("unparsable_reference", "the answer list is empty")
    return ", ".join(items)


@ADAPTERS.register("math")
def math_(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    prompt = _prompt(row, cfg, "problem", "question")
    answer = _field(row, cfg, "answer", "answer", required=False)
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        answer = _numeric_answer(answer, integer_only=False)
    if isinstance(answer, list):
        answer = _list_answer(answer)
    if not (isinstance(answer, str) and answer.strip()):
        solution = _field(row, cfg, "solution", "solution", required=False)
        if solution is None:
            raise RowError("missing_field", "neither an 'answer' nor a 'solution' field")
        if isinstance(solution, list) and all(isinstance(part, str) for part in solution):
            solution = "\n".join(solution)  # OlympiadBench: a list of solutions
        answer = last_boxed(solution) if isinstance(solution, str) else None
        if not answer:
            raise RowError("unparsable_reference", "no answer field and no \\boxed{} in the solution")
    return ProblemFields("math", prompt, answer.strip(), metadata=_metadata(row))


@ADAPTERS.register("numina")
def numina(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    prompt = _prompt(row, cfg, "problem")
    solution = _field(row, cfg, "solution", "solution")
    answer = last_boxed(solution) if isinstance(solution, str) else None
    if not answer:
        raise RowError("unparsable_reference", "no \\boxed{} answer in the solution")
    return ProblemFields("math", prompt, answer, metadata=_metadata(row))


def _competition(integer_only: bool) -> Adapter:
    def adapt(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
        prompt = _prompt(row, cfg, "problem", "question")
        value = _field(row, cfg, "answer", "answer")
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        answer = _numeric_answer(value, integer_only)
        return ProblemFields("math", prompt, answer, metadata=_metadata(row))

    return adapt


ADAPTERS.add("aime", _competition(integer_only=True))
ADAPTERS.add("amc", _competition(integer_only=False))


def _code(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    prompt = _prompt(row, cfg, "question", "problem", "prompt")
    raw = _field(row, cfg, "tests", "input_output", "tests")
    try:
        spec = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise RowError("malformed_tests", f"input_output is not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(spec, dict):
        raise RowError("malformed_tests", "input_output must be a JSON object with inputs and outputs")
    inputs, outputs = spec.get("inputs"), spec.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise RowError("malformed_tests", "input_output needs 'inputs' and 'outputs' lists")
    if len(inputs) != len(outputs):
        raise RowError("malformed_tests", f"{len(inputs)} inputs but {len(outputs)} outputs")
    if not inputs:
        raise RowError("malformed_tests", "input_output has no test cases")
    fn_name = spec.get("fn_name")
    if fn_name is not None and not (isinstance(fn_name, str) and fn_name.isidentifier()):
        raise RowError("malformed_tests", f"fn_name {fn_name!r} is not a Python identifier")
    starter = row.get("starter_code")
    if isinstance(starter, str) and starter.strip():
        prompt += f"\n\nStarter code:\n```python\n{starter.rstrip()}\n```"
    return ProblemFields("code", prompt, tests=CodeTests(tuple(inputs), tuple(outputs), fn_name),
                         metadata=_metadata(row))


ADAPTERS.add("apps", _code)
ADAPTERS.add("taco", _code)


_MAX_TESTS_BYTES = 256 * 2**20  # a problem's decoded tests; LiveCodeBench's largest are a few MB


class _PrimitivesOnly(pickle.Unpickler):
    """An unpickler that builds strings, numbers, lists and dicts and nothing else: LiveCodeBench ships its private
    tests pickled, and a pickle that names any class or function is refused instead of run."""

    def find_class(self, module: str, name: str) -> Any:
        raise RowError("malformed_tests", f"private_test_cases names {module}.{name}: refused (only data is read)")


def _lcb_tests(value: Any) -> list[dict[str, Any]]:
    """LiveCodeBench test cases: a JSON list, or (private tests) base64 of zlib of a pickled JSON string."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    text = str(value)
    if not text.lstrip().startswith("["):
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(base64.b64decode(text), _MAX_TESTS_BYTES)
            if inflater.unconsumed_tail:
                raise RowError("malformed_tests", f"private_test_cases inflate past {_MAX_TESTS_BYTES:,} bytes")
            data = _PrimitivesOnly(io.BytesIO(raw)).load()
        except RowError:
            raise
        except Exception as exc:
            raise RowError("malformed_tests", f"private_test_cases cannot be decoded: {exc}") from None
        text = data if isinstance(data, str) else json.dumps(data)
    try:
        cases = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError("malformed_tests", f"test cases are not JSON: {exc.msg}") from None
    if not isinstance(cases, list):
        raise RowError("malformed_tests", "test cases must be a list")
    return cases


@ADAPTERS.register("livecodebench")
def livecodebench(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    """LiveCodeBench's code_generation_lite layout: ``question_content``, ``starter_code``, ``public_test_cases`` and
    ``private_test_cases`` (``input``, ``output``, ``testtype``: stdin, or functional with ``metadata.func_name`` and
    one JSON argument per input line), ``contest_date`` (select a window with the source's ``window``)."""
    prompt = _prompt(row, cfg, "question_content", "question", "problem")
    cases = _lcb_tests(row.get("public_test_cases")) + _lcb_tests(row.get("private_test_cases"))
    if not cases:
        raise RowError("malformed_tests", "no public or private test cases")
    kinds = {case.get("testtype") for case in cases}
    if len(kinds) != 1 or not kinds <= {"stdin", "functional"}:
        raise RowError("malformed_tests", f"test types {sorted(map(str, kinds))}: expected all stdin or all functional")
    fn_name = None
    if kinds == {"functional"}:
        meta = row.get("metadata")
        meta = json.loads(meta) if isinstance(meta, str) and meta.strip() else (meta or {})
        fn_name = meta.get("func_name") if isinstance(meta, dict) else None
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise RowError("malformed_tests", "functional tests need metadata.func_name")
        try:
            inputs = [[json.loads(line) for line in str(c["input"]).split("\n") if line.strip()] for c in cases]
            outputs = [json.loads(str(c["output"])) for c in cases]
        except (json.JSONDecodeError, KeyError) as exc:
            raise RowError("malformed_tests", f"functional test case is not JSON: {exc}") from None
    else:
        inputs = [str(c.get("input", "")) for c in cases]
        outputs = [str(c.get("output", "")) for c in cases]
    starter = row.get("starter_code")
    if isinstance(starter, str) and starter.strip():
        prompt += f"\n\nStarter code:\n```python\n{starter.rstrip()}\n```"
    metadata = _metadata(row) | {k: row[k] for k in ("question_id", "contest_date", "platform", "difficulty")
                                 if isinstance(row.get(k), str | int)}
    return ProblemFields("code", prompt, tests=CodeTests(tuple(inputs), tuple(outputs), fn_name), metadata=metadata)

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@ADAPTERS.register("mcq")
def mcq(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    question = _prompt(row, cfg, "question", "problem", "prompt")
    choices = _field(row, cfg, "choices", "choices", "options", required=False)
    if choices is None and all(k in row for k in "ABCD"):
        choices = [row[k] for k in _LETTERS if k in row]
    if isinstance(choices, dict):
        choices = [choices[k] for k in sorted(choices)]
    if isinstance(choices, str):
        try:
            choices = json.loads(choices)
        except json.JSONDecodeError:
            raise RowError("invalid_choices", "choices is a string that is not a JSON list") from None
    if not isinstance(choices, list) or len(choices) < 2 or len(choices) > len(_LETTERS):
        raise RowError("invalid_choices", "need a list of 2 to 26 choices")
    options = tuple(str(c).strip() for c in choices)
    answer = _field(row, cfg, "answer", "answer", "label", "correct")
    letter = _choice_letter(answer, options)
    lines = "\n".join(f"{_LETTERS[i]}. {text}" for i, text in enumerate(options))
    return ProblemFields("choice", f"{question}\n\n{lines}", letter, choices=options, metadata=_metadata(row))


GPQA_SHUFFLE_SEED = 0  # recorded in each problem's metadata; a new seed is a new set of problems (new ids)


@ADAPTERS.register("gpqa")
def gpqa(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    """GPQA's layout (``Question``, ``Correct Answer``, ``Incorrect Answer 1..3``): a four-option multiple-choice
    problem whose options are shuffled by a seed made from ``GPQA_SHUFFLE_SEED`` and the question, so every run
    and every machine shows the same order (recorded as ``shuffle_seed`` and ``options_order`` in the metadata)."""
    import random

    from distill.types import stable_hash

    question = _prompt(row, cfg, "Question", "question")
    correct = _field(row, cfg, "answer", "Correct Answer")
    wrong = [row.get(f"Incorrect Answer {i}") for i in (1, 2, 3)]
    if any(not isinstance(w, str) or not w.strip() for w in wrong) or not str(correct).strip():
        raise RowError("invalid_choices", "GPQA rows need Correct Answer and Incorrect Answer 1-3")
    options = [str(correct).strip(), *(w.strip() for w in wrong)]  # type: ignore[union-attr]
    seed = int(stable_hash("gpqa-shuffle", GPQA_SHUFFLE_SEED, question)[:8], 16)
    order = list(range(4))
    random.Random(seed).shuffle(order)
    shuffled = tuple(options[i] for i in order)
    lines = "\n".join(f"{_LETTERS[i]}. {text}" for i, text in enumerate(shuffled))
    metadata = _metadata(row) | {"shuffle_seed": seed, "options_order": order}
    return ProblemFields("choice", f"{question}\n\n{lines}", _LETTERS[order.index(0)], choices=shuffled,
                         metadata=metadata)


def _choice_letter(answer: Any, options: tuple[str, ...]) -> str:
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(options):
        return _LETTERS[answer]
    text = str(answer).strip()
    match = re.fullmatch(r"\(?([A-Za-z])[).]?", text)
    if match and _LETTERS.index(match.group(1).upper()) < len(options):
        return match.group(1).upper()
    if text in options:
        return _LETTERS[options.index(text)]
    raise RowError("invalid_choices", f"answer {text[:80]!r} is not a letter, an index or one of the choices")


@ADAPTERS.register("fields")
def generic(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    if cfg.domain is None:
        raise RowError("missing_field", "the fields adapter needs domain: on the source")
    if cfg.domain == "code":
        return _code(row, cfg)
    if cfg.domain == "choice":
        return mcq(row, cfg)
    prompt = _prompt(row, cfg, "prompt", "problem", "question")
    optional = cfg.reference == "optional"
    answer = _field(row, cfg, "answer", "answer", required=not optional)
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        answer = _numeric_answer(answer, integer_only=False)
    if optional and (answer is None or (isinstance(answer, str) and not answer.strip())):
        return ProblemFields(cfg.domain, prompt, None, metadata=_metadata(row))
    if not isinstance(answer, str) or not answer.strip():
        raise RowError("unparsable_reference", "the answer is empty or not text")
    return ProblemFields(cfg.domain, prompt, answer.strip(), metadata=_metadata(row))


def _response_texts(value: Any) -> list[str]:
    """A response column: a string, a list of strings, or chat messages (the last assistant turn)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        turns = _turns(value, _ASSISTANT_ROLES)
        return [turns[-1]] if turns and isinstance(turns[-1], str) else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


@ADAPTERS.register("traces")
def traces(row: dict[str, Any], cfg: SourceConfig) -> ProblemFields:
    """Existing traces: a problem (read as ``domain``, default math) plus one or more responses.

    ``fields`` maps ``prompt``, ``answer`` (or ``tests``), ``response`` (a string, a list of strings,
    or a messages list), optionally ``reasoning`` and ``model``. Rows repeating a problem add samples.
    """
    problem = generic(row, cfg if cfg.domain else cfg.model_copy(update={"domain": "math"}))
    texts = _response_texts(_field(row, cfg, "response", "response", "generation", "generations", "completion",
                                   "messages"))
    verdicts = _original_verdicts(row, cfg, len(texts))
    kept = [i for i, t in enumerate(texts) if t.strip()]
    texts, verdicts = [texts[i] for i in kept], [verdicts[i] for i in kept]
    if not texts:
        raise RowError("missing_field", "the response is empty or not text")
    reasoning = _field(row, cfg, "reasoning", "reasoning", "reasoning_content", required=False)
    reasoning = reasoning if isinstance(reasoning, str) and reasoning.strip() and len(texts) == 1 else None
    model = _field(row, cfg, "model", "model", required=False)
    return replace(problem, responses=tuple((t, reasoning) for t in texts), response_verdicts=tuple(verdicts),
                   model=str(model) if model else cfg.display_name)


_GRADE_WORDS = {"yes": True, "no": False, "true": True, "false": False, "correct": True, "incorrect": False}


def _original_verdicts(row: dict[str, Any], cfg: SourceConfig, count: int) -> list[bool | None]:
    """The source dataset's own verdict on each response (``original_verdict``): ``kept`` (a curated set such as
    OpenThoughts or Bespoke-Stratos, where being in it means the original kept it), or a field holding one boolean
    or a list with one per response (OpenR1's ``correctness_math_verify``), or a grade word (s1K-1.1's
    ``deepseek_grade``: Yes / No; also true / false, correct / incorrect)."""
    setting = cfg.original_verdict
    if setting is None:
        return [None] * count
    if setting == "kept":
        return [True] * count
    value = row.get(setting)
    if isinstance(value, str) and value.strip().lower() in _GRADE_WORDS:  # s1K-1.1's deepseek_grade: "Yes" / "No"
        value = _GRADE_WORDS[value.strip().lower()]
    if isinstance(value, bool):
        return [value] * count
    if isinstance(value, list) and len(value) == count and all(isinstance(v, bool) or v is None for v in value):
        return list(value)
    raise RowError("malformed_field", f"original_verdict field '{setting}' must be a boolean or a list of {count} "
                   f"booleans (one per response), got {type(value).__name__}"
                   + (f" of {len(value)}" if isinstance(value, list) else ""))
