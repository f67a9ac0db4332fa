"""The layout check: does a rewrite follow the layout it was asked for (``rewrite.layout``)?

The rewrite stage runs it on every rewrite as it arrives (and on older rewrites without its verdict), and select
keeps a rewrite only when it passes: a rewriter that ignores the layout produces rewrites that are stored, with
a ``fail`` verdict, but never exported (their originals stay out too, so one training set holds one layout).
It is not a recipe check (it judges rewrites only), so it is not in the check registry; its verdicts are stored
like any other (check ``layout``).

``sky_t1``: ``<|begin_of_thought|>`` reasoning ``<|end_of_thought|>`` then ``<|begin_of_solution|>`` solution
``<|end_of_solution|>``, each marker once, in order, both parts non-empty, nothing outside them. ``think``:
``<think>`` reasoning ``</think>`` then a non-empty answer. Reasons: ``missing_marker``, ``repeated_marker``,
``marker_order``, ``empty_part``, ``text_outside``.

Fidelity (``sky_t1`` and ``think``, which restructure without rewriting, as Sky-T1's rewrite did): given the
original thinking, every sentence of it must appear in the rewrite, whitespace aside. A missing sentence that
backtracks or re-checks ("wait", "but", "hmm", "actually", "let me check", ...) fails the rewrite as
``dropped_backtrack`` (reflection and backtracking are what the student is meant to learn); other missing
sentences fail it as ``dropped_reasoning`` once they exceed ``MAX_DROPPED_SHARE`` of the original's characters.
The details name how many sentences went missing and the first of them. ``condense`` (numbered steps, dead ends
removed: a different, explicitly named layout) is not held to it. Rewrites judged before fidelity existed (or
without their original at hand) keep their layout-only verdict.

Not checked: the final solution's wording (the recipe's checks verify the answer).
"""

from __future__ import annotations

import re

from distill.types import Verdict

NAME = "layout"
VERSION = "1"
_SKY_MARKERS = ("<|begin_of_thought|>", "<|end_of_thought|>", "<|begin_of_solution|>", "<|end_of_solution|>")
MARKERS = {"sky_t1": _SKY_MARKERS, "think": ("<think>", "</think>"), "condense": _SKY_MARKERS}
VERBATIM = ("sky_t1", "think")  # layouts that must keep the original thinking sentence for sentence
MAX_DROPPED_SHARE = 0.05
_BACKTRACK = re.compile(r"\b(wait|but|hmm+|however|actually|alternatively|oops|no,|on second thought|let me (re)?check|"
                        r"double[- ]check|re-?examine|reconsider|that'?s (not|wrong)|i made a mistake|mistake)\b",
                        re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def layout_text(content: str | None, reasoning: str | None) -> str:
    """A rewrite as the training data holds it: the content as written; where the server split a ``<think>``
    block into its reasoning field (and left no layout marker in the content), the reasoning put back in front."""
    content = (content or "").strip()
    if reasoning and reasoning.strip() and not any(m in content for ms in MARKERS.values() for m in ms):
        return f"<think>\n{reasoning.strip()}\n</think>\n\n{content}"
    return content


def layout_failure(layout: str, text: str) -> tuple[str, str] | None:
    """(reason, the marker or part concerned) when ``text`` does not follow ``layout``; None when it does."""
    markers = MARKERS[layout]
    at = []
    for marker in markers:
        count = text.count(marker)
        if count != 1:
            return ("missing_marker" if count == 0 else "repeated_marker"), marker
        at.append(text.index(marker))
    if at != sorted(at):
        return "marker_order", " ".join(markers)
    cuts = [text[:at[0]]] + [text[at[i] + len(markers[i]):at[i + 1]] for i in range(len(at) - 1)] + \
        [text[at[-1] + len(markers[-1]):]]
    if len(markers) == 4:
        parts, outside = {"thought": cuts[1], "solution": cuts[3]}, [cuts[0], cuts[2], cuts[4]]
    else:
        parts, outside = {"reasoning": cuts[1], "answer": cuts[2]}, [cuts[0]]
    empty = next((name for name, part in parts.items() if not part.strip()), None)
    if empty is not None:
        return "empty_part", empty
    if any(piece.strip() for piece in outside):
        return "text_outside", "before, between or after the sections"
    return None


def _normal(text: str) -> str:
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    """The original's sentences (split after . ! ? and at line breaks), whitespace-normalised, fragments of fewer
    than two word characters left out (list markers, lone symbols)."""
    pieces = (_normal(piece) for piece in _SENTENCE_END.split(text))
    return [piece for piece in pieces if len(re.findall(r"\w", piece)) >= 2]


def fidelity_failure(original: str, rewrite: str) -> tuple[str, dict[str, object]] | None:
    """(reason, details) when ``rewrite`` does not keep the sentences of ``original``; None when it does."""
    kept = _normal(rewrite)
    expected = sentences(original)
    missing = [sentence for sentence in expected if sentence not in kept]
    if not missing:
        return None
    details: dict[str, object] = {"sentences": len(expected), "missing": len(missing)}
    backtracks = [sentence for sentence in missing if _BACKTRACK.search(sentence)]
    if backtracks:
        return "dropped_backtrack", details | {"first": backtracks[0][:200], "backtracks_missing": len(backtracks)}
    share = sum(len(sentence) for sentence in missing) / max(1, sum(len(sentence) for sentence in expected))
    if share > MAX_DROPPED_SHARE:
        return "dropped_reasoning", details | {"first": missing[0][:200], "share": round(share, 4)}
    return None


def layout_verdict(generation_id: str, layout: str, content: str | None, reasoning: str | None,
                   original: str | None = None) -> Verdict:
    """The layout verdict of a rewrite; with ``original`` (the thinking it was asked to restructure), a verbatim
    layout is also held to fidelity."""
    text = layout_text(content, reasoning)
    failure = layout_failure(layout, text)
    if failure is not None:
        reason, where = failure
        return Verdict(generation_id, NAME, VERSION, "fail", reason, None, {"layout": layout, "where": where})
    if original is None or layout not in VERBATIM:
        return Verdict(generation_id, NAME, VERSION, "pass", "follows_layout", None, {"layout": layout})
    unfaithful = fidelity_failure(original, text)
    if unfaithful is not None:
        reason, details = unfaithful
        return Verdict(generation_id, NAME, VERSION, "fail", reason, None, {"layout": layout, "fidelity": details})
    return Verdict(generation_id, NAME, VERSION, "pass", "follows_layout", None,
                   {"layout": layout, "fidelity": "kept"})

