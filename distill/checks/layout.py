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

Not checked: the wording inside the parts (the recipe's checks verify the answer; nothing verifies the steps).
"""

from __future__ import annotations

from distill.types import Verdict

NAME = "layout"
VERSION = "1"
MARKERS = {"sky_t1": ("<|begin_of_thought|>", "<|end_of_thought|>", "<|begin_of_solution|>", "<|end_of_solution|>"),
           "think": ("<think>", "</think>")}


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
    if layout == "sky_t1":
        parts, outside = {"thought": cuts[1], "solution": cuts[3]}, [cuts[0], cuts[2], cuts[4]]
    else:
        parts, outside = {"reasoning": cuts[1], "answer": cuts[2]}, [cuts[0]]
    empty = next((name for name, part in parts.items() if not part.strip()), None)
    if empty is not None:
        return "empty_part", empty
    if any(piece.strip() for piece in outside):
        return "text_outside", "before, between or after the sections"
    return None


def layout_verdict(generation_id: str, layout: str, content: str | None, reasoning: str | None) -> Verdict:
    failure = layout_failure(layout, layout_text(content, reasoning))
    if failure is None:
        return Verdict(generation_id, NAME, VERSION, "pass", "follows_layout", None, {"layout": layout})
    reason, where = failure
    return Verdict(generation_id, NAME, VERSION, "fail", reason, None, {"layout": layout, "where": where})

