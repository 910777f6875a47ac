"""Reward functions for GRPO and RLOO, chosen without code: each is data (a name, a weight, its settings).

A reward spec is a dict such as {"name": "contains", "weight": 1.0, "column": "answer"}; RunConfig.rewards
holds a list of them. The built-ins:

- `exact`: 1 when the answer equals the reference column (case and surrounding spaces ignored; inside
  <answer>…</answer> when the completion has those tags), else 0;
- `contains`: 1 when the reference appears in the answer as a whole word or phrase, else 0;
- `regex`: 1 when the answer matches a pattern (a format check such as <answer>…</answer>), else 0;
- `length`: 1 at the target length, falling linearly to 0 at twice or zero the target;
- `no_repetition`: 0 for no repeated n-grams, down to -1 when every n-gram repeats.

Pure Python: `build_reward_functions` returns callables in the shape TRL's GRPOTrainer calls
(prompts, completions, **dataset columns) -> list[float], with readable names, so TRL logs
`rewards/<name>/mean` per function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class RewardParam:
    name: str
    label: str
    help: str
    type: str  # "text", "int", "choice"
    default: Any
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RewardKind:
    name: str
    label: str
    help: str
    params: tuple[RewardParam, ...] = ()
    uses_column: bool = False  # reads a reference column of the dataset (the `column` param)
    defaults: dict = field(default_factory=dict)


_COLUMN = RewardParam("column", "Reference column", "Dataset column holding the right answer, e.g. answer.", "text",
                      "answer")

REWARD_KINDS: dict[str, RewardKind] = {
    "exact": RewardKind("exact", "Exact match", "1 when the answer equals the reference column (case and spaces "
                        "ignored; the text inside <answer>…</answer> when present), else 0.", (_COLUMN,), True),
    "contains": RewardKind("contains", "Contains the reference", "1 when the reference column's text appears in the "
                           "answer as a whole word or phrase, else 0.", (_COLUMN,), True),
    "regex": RewardKind("regex", "Format (regular expression)", "1 when the answer matches the pattern, else 0.",
                        (RewardParam("pattern", "Pattern", "A Python regular expression searched in the answer.",
                                     "text", r"<answer>.+?</answer>"),)),
    "length": RewardKind("length", "Length target", "1 at the target length, falling to 0 at zero or twice the "
                         "target.", (RewardParam("target", "Target length", "Wanted length of an answer.", "int", 50),
                                     RewardParam("unit", "Unit", "Count words or characters.", "choice", "words",
                                                 ("words", "characters")))),
    "no_repetition": RewardKind("no_repetition", "No repetition", "A penalty from 0 (no repeated word n-grams) to -1 "
                                "(everything repeats).", (RewardParam("n", "n-gram size", "Words per n-gram.", "int",
                                                                      3),)),
}


def reward_names() -> tuple[str, ...]:
    return tuple(REWARD_KINDS)


# --- the scores: pure functions of one completion -----------------------------------------------------------


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the content of the last message of a conversational one."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        if isinstance(last, dict):
            content = last.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if completion is None else str(completion)


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().lower().rstrip(".!?")


def score_exact(text: str, reference: Any) -> float:
    if reference is None:
        return 0.0
    tagged = _ANSWER_TAG.search(text)
    answer = tagged.group(1) if tagged else text
    return 1.0 if _norm(answer) == _norm(str(reference)) else 0.0


def score_contains(text: str, reference: Any) -> float:
    ref = _norm(str(reference)) if reference is not None else ""
    if not ref:
        return 0.0
    pattern = r"(?<!\w)" + re.escape(ref) + r"(?!\w)"
    return 1.0 if re.search(pattern, _WS.sub(" ", text).lower()) else 0.0


def score_regex(text: str, pattern: re.Pattern) -> float:
    return 1.0 if pattern.search(text) else 0.0


def score_length(text: str, target: int, unit: str = "words") -> float:
    length = len(text.split()) if unit == "words" else len(text.strip())
    return max(0.0, 1.0 - abs(length - target) / target)


def score_no_repetition(text: str, n: int = 3) -> float:
    words = text.lower().split()
    if len(words) < n:
        return 0.0
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return -(1.0 - len(set(grams)) / len(grams))


# --- specs: validation and the callables TRL calls ------------------------------------------------------------


def reward_spec_problems(specs: Any, field_name: str = "rewards") -> list[tuple[str, str]]:
    """Problems with a list of reward specs, as (field, message) naming the value and what is allowed."""
    if not isinstance(specs, list):
        return [(field_name, f"must be a list of reward functions, got {type(specs).__name__}")]
    out: list[tuple[str, str]] = []
    for i, spec in enumerate(specs):
        where = f"{field_name}[{i}]"
        if not isinstance(spec, dict):
            out.append((where, f"must be an object like {{\"name\": \"contains\", \"weight\": 1.0}}, got {spec!r}"))
            continue
        kind = REWARD_KINDS.get(spec.get("name"))
        if kind is None:
            out.append((f"{where}.name", f"is {spec.get('name')!r}; choose one of: {', '.join(REWARD_KINDS)}"))
            continue
        allowed = {"name", "weight", *(p.name for p in kind.params)}
        for key in sorted(set(spec) - allowed):
            out.append((f"{where}.{key}", f"is not a setting of `{kind.name}`; allowed: {', '.join(sorted(allowed))}"))
        weight = spec.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not -100 <= weight <= 100:
            out.append((f"{where}.weight", f"is {weight!r}; must be a number from -100 to 100 (typical: 1.0)"))
        for p in kind.params:
            value = spec.get(p.name, p.default)
            problem = _param_problem(p, value)
            if problem:
                out.append((f"{where}.{p.name}", problem))
    return out


def _param_problem(p: RewardParam, value: Any) -> str | None:
    if p.type == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"is {value!r}; must be a whole number of at least 1"
    elif p.type == "choice":
        if value not in p.choices:
            return f"is {value!r}; choose one of: {', '.join(p.choices)}"
    elif not isinstance(value, str) or not value.strip():
        return f"is {value!r}; must be non-empty text"
    elif p.name == "pattern":
        try:
            re.compile(value)
        except re.error as exc:
            return f"is {value!r}, which is not a valid regular expression ({exc})"
    return None


def required_columns(specs: list[dict]) -> list[tuple[str, str]]:
    """(reward name, column) for every reward that reads a dataset column."""
    out = []
    for spec in specs:
        kind = REWARD_KINDS.get(spec.get("name"))
        if kind is not None and kind.uses_column:
            out.append((kind.name, spec.get("column", _COLUMN.default)))
    return out


def missing_column_problems(specs: list[dict], columns: list[str]) -> list[str]:
    """Plain-language causes for rewards whose reference column is not in the data."""
    have = [c for c in columns if c != "prompt"] or list(columns)
    return [f"reward function `{name}` needs column `{col}`; your columns: {', '.join(have) or '(none)'}. "
            f"Set its reference column, or map a column to `{col}` under 'Column mapping'."
            for name, col in required_columns(specs) if col not in columns]


class RewardFunction:
    """One reward, callable the way TRL calls reward functions; `__name__` is what TRL logs it as."""

    def __init__(self, spec: dict):
        self.spec = dict(spec)
        self.kind = REWARD_KINDS[spec["name"]]
        params = {p.name: spec.get(p.name, p.default) for p in self.kind.params}
        self.params = params
        suffix = f"_{params['column']}" if self.kind.uses_column and params["column"] != "answer" else ""
        self.__name__ = f"{self.kind.name}{suffix}"
        self._pattern = re.compile(params["pattern"], re.DOTALL) if "pattern" in params else None

    def score(self, completion: Any, reference: Any = None) -> float:
        text = completion_text(completion)
        name = self.kind.name
        if name == "exact":
            return score_exact(text, reference)
        if name == "contains":
            return score_contains(text, reference)
        if name == "regex":
            return score_regex(text, self._pattern)
        if name == "length":
            return score_length(text, self.params["target"], self.params["unit"])
        return score_no_repetition(text, self.params["n"])

    def __call__(self, prompts=None, completions=None, **columns) -> list[float]:
        completions = completions or []
        refs = columns.get(self.params["column"]) if self.kind.uses_column else None
        if self.kind.uses_column and refs is None:
            have = ", ".join(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric")) or "(none)"
            raise ValueError(f"reward function `{self.kind.name}` needs column `{self.params['column']}`; "
                             f"your columns: {have}")
        refs = refs if refs is not None else [None] * len(completions)
        return [self.score(c, r) for c, r in zip(completions, refs, strict=True)]

    def __repr__(self) -> str:
        return f"RewardFunction({self.spec!r})"


def build_reward_functions(specs: list[dict]) -> tuple[list[RewardFunction], list[float]]:
    """The callables and their weights; names made unique (contains, contains_2, ...) so TRL logs each."""
    funcs, weights, seen = [], [], {}
    for spec in specs:
        func = RewardFunction(spec)
        count = seen.get(func.__name__, 0) + 1
        seen[func.__name__] = count
        if count > 1:
            func.__name__ = f"{func.__name__}_{count}"
        funcs.append(func)
        weights.append(float(spec.get("weight", 1.0)))
    return funcs, weights


def describe_rewards(specs: list[dict]) -> str:
    """One line for the UI and the CLI: `contains(answer) x1.0 + length(6 words) x0.5`."""
    parts = []
    for spec in specs:
        kind = REWARD_KINDS.get(spec.get("name"))
        if kind is None:
            continue
        detail = ", ".join(str(spec.get(p.name, p.default)) for p in kind.params)
        parts.append(f"{kind.name}({detail}) x{spec.get('weight', 1.0)}")
    return " + ".join(parts) or "(none)"
