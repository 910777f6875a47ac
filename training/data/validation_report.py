"""The validation report: what a dataset check found (counts, first errors, warnings, preview, token statistics),
and the limits on how much of it is kept."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.data.sources import RowIssue

MAX_LISTED_ERRORS = 50
PREVIEW_ROWS = 5
RENDERED_ROWS = 3
TOKEN_SAMPLE = 2000
NORMALISED_KEPT = 2000  # first usable rows kept in the report (estimate, before/after comparison, preview)
ROWS_NAMED = 5  # rows named in a warning


@dataclass
class ValidationReport:
    valid: bool
    source: str
    format: str | None = None  # source format (messages, sharegpt, alpaca, preference, ...)
    trl_type: str | None = None
    rows: int = 0  # rows read
    usable_rows: int = 0
    columns: list[str] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)  # capped at MAX_LISTED_ERRORS, lowest rows first
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    token_stats: dict | None = None
    compatibility: list[dict] = field(default_factory=list)  # per method: ready / needs mapping / incompatible
    suggested_column_map: dict[str, str] | None = None  # for the chosen method, when its columns need renaming
    partial: bool = False  # only the first rows were checked (a Hub dataset's quick check, or max rows)
    rendered: list[dict] = field(default_factory=list)  # examples as the trainer sees them (needs a tokenizer)
    tokenizer_note: str | None = None  # why token statistics or the rendered preview are missing
    normalised: list[dict] = field(default_factory=list, repr=False)  # the first NORMALISED_KEPT usable rows, TRL shape
    normalised_rows: list[int] = field(default_factory=list, repr=False)  # their row numbers
    token_sample: list[dict] = field(default_factory=list, repr=False)  # evenly spaced usable rows, TRL shape
    token_sample_rows: list[int] = field(default_factory=list, repr=False)  # their row numbers
    arrow_cache: str | None = None  # the file's rows as an Arrow stream file Train memory-maps (JSONL only)
    trl_ready: bool = False  # every row is already in TRL shape: training needs no normalisation pass
    cached: bool = False  # this report was read from the validation cache, not computed now
    seconds: float = 0.0  # time the structure check took when it was computed

    def add_error(self, issue: RowIssue) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(issue)

    def to_dict(self) -> dict:
        return {
            "valid": self.valid,
            "source": self.source,
            "format": self.format,
            "trl_type": self.trl_type,
            "rows": self.rows,
            "usable_rows": self.usable_rows,
            "columns": self.columns,
            "errors": [e.to_dict() for e in self.errors],
            "error_count": self.error_count,
            "errors_not_listed": self.error_count - len(self.errors),
            "warnings": self.warnings,
            "partial": self.partial,
            "compatibility": self.compatibility,
            "suggested_column_map": self.suggested_column_map,
            "preview": self.preview,
            "token_stats": self.token_stats,
            "rendered_preview": self.rendered,
            "tokenizer_note": self.tokenizer_note,
            "cached": self.cached,
        }

    def summary(self) -> str:
        if self.format is None:
            head = f"{self.source}: format not recognised"
        else:
            head = f"{self.source}: {self.format} format ({self.trl_type}), {self.rows} rows, {self.usable_rows} usable"
        verdict = "valid" if self.valid else f"invalid, {self.error_count} error(s)"
        return f"{head}; {verdict}"


def name_rows(numbers: list[int]) -> str:
    """'row 7' or 'rows 3, 9, 12, …' (the first ROWS_NAMED) for a warning."""
    shown = ", ".join(str(n) for n in numbers[:ROWS_NAMED])
    return f"row {shown}" if len(numbers) == 1 else f"rows {shown}{', …' if len(numbers) > ROWS_NAMED else ''}"
