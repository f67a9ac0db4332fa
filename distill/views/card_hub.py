"""What the Hugging Face Hub expects of a dataset card, kept apart from the card's prose (``distill/views/cards.py``).

- ``source_datasets``: Hub ids only: a source's ``hub:``, or ``hub_id:`` for a local copy of a Hub dataset; local
  files without one are named in the card's text, not in the metadata.
- ``dataset_info.features``: the columns in the Hub's YAML form (``Features._to_yaml_list``), with the splits'
  sizes; ``type_name`` writes the same types readably for the Columns table.
- BibTeX entries for the sources and teachers the card can recognise (by hub id, and by a word in the model
  name); the rest are cited by the dataset's own ``@misc`` entry.
"""

from __future__ import annotations

import re
from typing import Any

# Lowercase hub id -> BibTeX of the work that introduced it.
SOURCE_CITATIONS = {
    "openai/gsm8k": """@article{cobbe2021gsm8k,
  title = {Training Verifiers to Solve Math Word Problems},
  author = {Cobbe, Karl and Kosaraju, Vineet and Bavarian, Mohammad and Chen, Mark and Jun, Heewoo and others},
  journal = {arXiv preprint arXiv:2110.14168},
  year = {2021}
}""",
    "hendrycks/competition_math": """@inproceedings{hendrycks2021math,
  title = {Measuring Mathematical Problem Solving With the MATH Dataset},
  author = {Hendrycks, Dan and Burns, Collin and Kadavath, Saurav and Arora, Akul and Basart, Steven and others},
  booktitle = {NeurIPS Datasets and Benchmarks},
  year = {2021}
}""",
    "huggingfaceh4/math-500": """@article{lightman2023verify,
  title = {Let's Verify Step by Step},
  author = {Lightman, Hunter and Kosaraju, Vineet and Burda, Yura and Edwards, Harri and Baker, Bowen and others},
  journal = {arXiv preprint arXiv:2305.20050},
  year = {2023}
}""",
    "codeparrot/apps": """@inproceedings{hendrycks2021apps,
  title = {Measuring Coding Challenge Competence With APPS},
  author = {Hendrycks, Dan and Basart, Steven and Kadavath, Saurav and Mazeika, Mantas and Arora, Akul and others},
  booktitle = {NeurIPS Datasets and Benchmarks},
  year = {2021}
}""",
    "baai/taco": """@article{li2023taco,
  title = {TACO: Topics in Algorithmic COde generation dataset},
  author = {Li, Rongao and Fu, Jie and Zhang, Bo-Wen and Huang, Tao and Sun, Zhihong and others},
  journal = {arXiv preprint arXiv:2312.14852},
  year = {2023}
}""",
    "ai-mo/numinamath-cot": """@misc{numina_math_datasets,
  title = {NuminaMath},
  author = {Li, Jia and Beeching, Edward and Tunstall, Lewis and Lipkin, Ben and Soletskyi, Roman and others},
  year = {2024},
  howpublished = {\\url{https://huggingface.co/AI-MO/NuminaMath-CoT}}
}""",
    "open-r1/openr1-math-220k": """@misc{openr1,
  title = {Open R1: A fully open reproduction of DeepSeek-R1},
  author = {{Hugging Face}},
  year = {2025},
  howpublished = {\\url{https://github.com/huggingface/open-r1}}
}""",
}
SOURCE_CITATIONS["eleutherai/hendrycks_math"] = SOURCE_CITATIONS["hendrycks/competition_math"]
SOURCE_CITATIONS["digitallearninggmbh/math-lighteval"] = SOURCE_CITATIONS["hendrycks/competition_math"]

# A word in the teacher's model name (lowercase) -> BibTeX of the model's report.
TEACHER_CITATIONS = (
    (("deepseek-r1", "deepseek-reasoner"), """@article{deepseekai2025r1,
  title = {DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via Reinforcement Learning},
  author = {{DeepSeek-AI}},
  journal = {arXiv preprint arXiv:2501.12948},
  year = {2025}
}"""),
    (("qwq",), """@misc{qwq32b,
  title = {QwQ-32B: Embracing the Power of Reinforcement Learning},
  author = {{Qwen Team}},
  year = {2025},
  howpublished = {\\url{https://qwenlm.github.io/blog/qwq-32b/}}
}"""),
)


def source_hub_id(source: Any) -> str | None:
    """The Hub id a source is (``hub``) or was copied from (``hub_id``)."""
    return source.hub or getattr(source, "hub_id", None)


def source_datasets(sources: list[Any]) -> list[str]:
    return sorted({hub for hub in (source_hub_id(s) for s in sources) if hub})


def citations(sources: list[Any], teachers: list[str]) -> list[str]:
    """BibTeX entries of the known sources and teachers, each once, in order."""
    found: list[str] = []
    for source in sources:
        entry = SOURCE_CITATIONS.get((source_hub_id(source) or "").lower())
        if entry and entry not in found:
            found.append(entry)
    for model in teachers:
        for words, entry in TEACHER_CITATIONS:
            if any(w in model.lower() for w in words) and entry not in found:
                found.append(entry)
    return found


def dataset_info(dd: Any) -> dict[str, Any]:
    """``dataset_info`` for the front matter: features in the Hub's YAML form and the splits' sizes."""
    first = next(iter(dd.values()))
    return {"features": first.features._to_yaml_list(),
            "splits": [{"name": split, "num_examples": len(ds)} for split, ds in dd.items()]}


def type_name(feature: Any) -> str:
    """A column type as a person reads it: ``string``, ``int64``, ``list of {role: string, content: string}``."""
    import datasets

    if isinstance(feature, datasets.Value):
        return feature.dtype
    if isinstance(feature, dict):
        return "{" + ", ".join(f"{k}: {type_name(v)}" for k, v in feature.items()) + "}"
    inner = getattr(feature, "feature", None)
    if inner is not None:
        return f"list of {type_name(inner)}"
    return re.sub(r"\s+", " ", str(feature))
