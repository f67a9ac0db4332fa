"""Prompt templates: the messages a teacher is sent for a problem.

Defaults per domain follow what reasoning models are evaluated with (DeepSeek-R1 / Qwen-Math: "reason
step by step, and put your final answer within \\boxed{}"); a recipe's ``prompt.system`` and
``prompt.user_template`` replace them. Templates use ``str.format`` fields: ``{problem}`` and the
others in ``TEMPLATE_FIELDS``; the reference answer is never available to a template. The exact
messages are stored with every generation, and their template text is part of the teacher hash.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from distill.errors import RecipeError
from distill.recipe import LabelConfig, PromptConfig
from distill.types import Problem, stable_hash

DEFAULT_USER_TEMPLATES: dict[str, str] = {
    "math": "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
    # Choice sources already list the lettered options in the prompt ({choices} is there for custom templates).
    "choice": "{problem}\n\nPlease reason step by step, and put the letter of the correct option within \\boxed{{}}.",
    "code": "{problem}\n\n{code_instructions}",
    "text": "{problem}",
}
TEMPLATE_FIELDS = ("problem", "choices", "code_instructions", "domain", "source", "language", "fn_name")

_STDIN_INSTRUCTIONS = ("Write a complete Python 3 program that reads from standard input and writes to standard "
                       "output. Reason first, then give the final program in one ```python code block.")
_CALL_INSTRUCTIONS = ("Write a Python 3 solution that defines `{fn_name}` (inside `class Solution` if the "
                      "problem's starter code uses one). Reason first, then give the final code in one "
                      "```python code block.")


def format_choices(choices: tuple[str, ...] | None) -> str:
    if not choices:
        return ""
    return "\n".join(f"{chr(ord('A') + i)}. {text}" for i, text in enumerate(choices))


@dataclass(frozen=True)
class PromptBuilder:
    """Builds the messages for each problem from a recipe's prompt section."""

    system: str | None
    user_template: str | None

    @classmethod
    def from_config(cls, cfg: PromptConfig) -> PromptBuilder:
        if cfg.user_template is not None:
            for _, name, _, _ in string.Formatter().parse(cfg.user_template):
                if name is not None and name not in TEMPLATE_FIELDS:
                    raise RecipeError(
                        f"prompt.user_template: unknown field {{{name}}}; available: "
                        + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS))
        return cls(cfg.system, cfg.user_template)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the text sent for some problem would change."""
        return stable_hash("prompt-v1", self.system, self.user_template or DEFAULT_USER_TEMPLATES)

    def messages(self, problem: Problem) -> tuple[dict[str, str], ...]:
        template = self.user_template or DEFAULT_USER_TEMPLATES.get(problem.domain, "{problem}")
        fn_name = problem.tests.fn_name if problem.tests else None
        fields = {
            "problem": problem.prompt,
            "choices": format_choices(problem.choices),
            "code_instructions": _CALL_INSTRUCTIONS.format(fn_name=fn_name) if fn_name else _STDIN_INSTRUCTIONS,
            "domain": problem.domain,
            "source": problem.source,
            "language": problem.language,
            "fn_name": fn_name or "",
        }
        user = template.format(**fields)
        out: list[dict[str, str]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": user})
        return tuple(out)


LABEL_PROMPT = (  # the labeller's default instructions (distill label)
    "Rate how hard this problem is for a strong student, from 1 (a routine exercise) to 10 (among the "
          "hardest olympiad problems). Do not solve it.")


def labeler_hash(cfg: LabelConfig) -> str:
    """What decides a label: the model, its sampling, the instructions and the topics."""
    m = cfg.model
    return stable_hash("labeler-v1", m.backend, m.model, m.temperature, m.top_p, m.max_tokens, m.seed,
                       m.extra_body, cfg.prompt or LABEL_PROMPT, list(cfg.topics))
