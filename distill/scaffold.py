"""`distill init`: write a commented starter recipe (and the small data file it reads) that runs as written.

Three starting points: ``quickstart`` (offline: re-verify a few bundled traces and export them), ``teacher``
(problems answered by an OpenAI-compatible teacher, the key read from an environment variable) and
``refilter`` (import existing traces with the ``traces`` adapter and re-verify them). An existing recipe is
never overwritten; the data file is written only when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

from distill.errors import UsageError
from distill.suggest import did_you_mean

TEMPLATES = ("quickstart", "teacher", "refilter")

# Three small arithmetic problems, each with one right and one wrong trace, so the checks have work to do.
_PROBLEMS = [
    ("A baker makes 12 loaves each morning and sells 9. How many loaves are left after 5 mornings?", "15",
     "<think>Each morning twelve loaves are baked and nine are sold, so three are left over. Over five mornings "
     "that makes fifteen.</think>Three loaves are left every morning, so after five mornings the baker has "
     "\\boxed{15} loaves.",
     "<think>12 - 9 = 3, and 3 + 5 = 8.</think>The answer is \\boxed{8}."),
    ("Tom has 7 marbles and buys 3 bags of 4 marbles. How many marbles does he have now?", "19",
     "<think>Three bags of four marbles hold twelve marbles, and seven plus twelve is nineteen.</think>Tom "
     "started with seven marbles and bought twelve more, so he now has \\boxed{19} marbles.",
     "<think>7 + 3 + 4 = 14.</think>Tom has \\boxed{14} marbles."),
    ("A train travels 60 km per hour for 2.5 hours. How far does it travel in km?", "150",
     "<think>Distance is speed times time: sixty kilometres per hour for two and a half hours is one hundred "
     "and fifty kilometres.</think>The train covers sixty kilometres every hour, so in two and a half hours it "
     "travels \\boxed{150} km.",
     "<think>60 * 2 = 120.</think>It travels \\boxed{120} km."),
]

_HEAD = """\
# A distill recipe, written by `distill init --from {template}`. Relative paths are relative to this file.
# Every key is documented in the README ("Recipes"); `distill checks` and `distill adapters` list the rest.
"""

_SELECT_EXPORT = """\
checks:                     # by name; other keys are the check's parameters (see `distill checks`)
  - name: format            # a closed <think> block and a final answer
  - name: math              # the final answer equals the reference (math-verify)
  - name: language          # the response is in the problem's language
select:
  policy: shortest          # all | first | shortest | k_per_problem
  decontaminate:             # offline: the shipped index of hashed 8-grams (no text, no Hub)
    enabled: true           # a problem sharing a word 8-gram with a benchmark problem is excluded
    index: builtin          # or the path of an index built by scripts/build_benchmark_index.py
    benchmarks: {math500: index, aime24: index, amc23: index, gsm8k: index}
export:
  out_dir: exports          # the dataset and its card go to exports/<name>/
  formats: [disk, parquet, jsonl]
  license: null             # default: the sources' license when they agree and are known; else unknown
"""

_BODIES = {
    "quickstart": """\
# Offline: re-verify a few bundled reasoning traces, keep the shortest passing one per problem, export.
# Run: distill run {recipe}
name: {name}
sources:
  - adapter: traces         # existing responses, imported as generations and verified like a teacher's
    path: data/{data}
    name: sample_traces
    domain: math
    license: apache-2.0     # the bundled sample's; the card takes its license from the sources
""",
    "teacher": """\
# Problems answered by an OpenAI-compatible teacher. Set the key first: export TEACHER_API_KEY=...
# Run: distill run {recipe}
name: {name}
sources:
  - adapter: gsm8k          # gsm8k | math | aime | amc | numina | apps | taco | mcq | fields | traces
    path: data/{data}       # or hub: openai/gsm8k with config: main and split: train
    name: sample_problems
    license: apache-2.0     # the bundled sample's; openai/gsm8k on the Hub is mit
teacher:
  backend: openai           # openai | transformers | vllm
  model: deepseek-reasoner  # the model name the server knows
  base_urls: [https://api.deepseek.com/v1]
  api_key_env: TEACHER_API_KEY   # the environment variable holding the key; never the key itself
  n: 4                      # samples per problem
  temperature: 0.6
  max_tokens: 8192
  seed: null                # sent to the server when set
  stop: []                  # stop sequences
  extra_body: {{}}            # extra fields for the request body, e.g. {{reasoning_effort: high}}
  max_cost_usd: 5           # stop generating past this estimated cost
  price_input_per_mtok: 0.55
  price_output_per_mtok: 2.19
""",
    "refilter": """\
# Re-filter existing traces: import them with the `traces` adapter and re-verify them with stricter checks.
# Point path at your own file (or use hub: owner/name with split:) and map its columns under fields.
# Run: distill run {recipe}
name: {name}
sources:
  - adapter: traces
    path: data/{data}
    name: my_traces
    domain: math
    license: null           # your traces' license (e.g. mit); unknown until set, and the card says so
    fields: {{prompt: problem, answer: answer, response: response}}   # the columns holding each role
""",
}

_DATA_FILES = {"quickstart": "sample_traces.jsonl", "teacher": "sample_problems.jsonl",
               "refilter": "traces.jsonl"}


def _data_rows(template: str) -> list[dict]:
    if template == "teacher":
        return [{"question": q, "answer": f"#### {a}"} for q, a, _, _ in _PROBLEMS]
    return [{"problem": q, "answer": a, "response": [right, wrong]} for q, a, right, wrong in _PROBLEMS]


def render(template: str, name: str, recipe_name: str) -> str:
    """The recipe text of ``template``."""
    if template not in TEMPLATES:
        raise UsageError(f"unknown template {template!r}{did_you_mean(template, TEMPLATES)}; choose one of "
                         f"{', '.join(TEMPLATES)}")
    body = _BODIES[template].format(name=name, recipe=recipe_name, data=_DATA_FILES[template])
    return (_HEAD.format(template=template) + body
            + _SELECT_EXPORT)


def write_recipe(template: str, path: str | Path) -> list[Path]:
    """Write the recipe at ``path`` and its sample data beside it; the paths written. Refuses an existing recipe."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        path = path / "recipe.yaml" if path.is_dir() or not path.suffix else path
    if path.exists():
        raise UsageError(f"{path}: already exists; not overwriting it (remove it or choose another path)")
    name = path.stem.replace("_", "-") if path.stem != "recipe" else template
    text = render(template, name, path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    written = [path]
    data = path.parent / "data" / _DATA_FILES[template]
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("".join(json.dumps(row) + "\n" for row in _data_rows(template)), encoding="utf-8")
        written.append(data)
    return written
