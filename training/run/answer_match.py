"""Is an answer right? The one scoring rule of the held-out comparison and of the evaluation's generation tasks.

Standard library only, on purpose: training/evaluate copies this file verbatim next to the lm-eval task configs it
writes (`process_results: !function answer_match.process_results`), so lm-eval's own command line scores the same
way as `python -m training compare` and `python -m training eval`.

- exact: the answer equals the reference once both are normalised (lower case, single spaces, no surrounding
  punctuation);
- contains: the answer names the expected fact as a whole word (any case) when the row has one, else it contains the
  normalised reference. An exact answer always counts as containing.
"""

from __future__ import annotations

import re


def normalise_answer(text) -> str:
    """Lower case, single spaces, no surrounding punctuation: what exact-match compares."""
    return " ".join(str(text).lower().split()).strip(" .!?\"'")


def contains_fact(answer: str, expected: str) -> bool:
    """The expected fact appears in the answer as a whole word or phrase, in any case."""
    return re.search(r"\b" + re.escape(str(expected)) + r"\b", str(answer), re.IGNORECASE) is not None


def score_answer(answer: str, reference: str | None) -> dict:
    """{"exact": bool, "contains": bool} against a reference answer; both None when there is none."""
    if not reference:
        return {"exact": None, "contains": None}
    got, want = normalise_answer(answer), normalise_answer(reference)
    return {"exact": got == want, "contains": bool(want) and want in got}


def is_correct(answer: str, expected: str | None = None, reference: str | None = None) -> bool | None:
    """Right when the answer names the expected fact, else when it contains the reference; None without either."""
    if expected:
        return contains_fact(answer, expected)
    if reference:
        return bool(score_answer(answer, reference)["contains"])
    return None


def process_results(doc: dict, results: list) -> dict:
    """lm-eval's per-document hook for a generation task over rows {"prompt", "reference", "expected"?}:
    {"exact_match": 0/1, "contains": 0/1} for the first generated answer."""
    answer = str(results[0]).strip() if results else ""
    exact = bool(score_answer(answer, doc.get("reference"))["exact"])
    right = is_correct(answer, doc.get("expected"), doc.get("reference"))
    return {"exact_match": float(exact), "contains": float(bool(right) or exact)}
