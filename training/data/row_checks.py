"""The row checks of a validation: detect the format from the columns, then normalise every row batch by batch through
the formats API, keeping only what the report needs (counts, the first errors, the first usable rows, an evenly
spaced sample for token statistics) and what the dataset-wide warnings need (duplicates, identical pairs, very long
rows, per-message weights a format cannot honour, columns that mix types)."""

from __future__ import annotations

import heapq

from training.data import jsonio
from training.data.arrow_chat_checks import check_plain_chat, plain_chat_key
from training.data.arrow_rows import drop_nulls
from training.data.column_kinds import ColumnKinds
from training.data.column_mapping import method_compatibility, suggest_column_map
from training.data.formats import NORMALISERS, NOTES, TRL_TYPE_COLUMNS, detect_format, record_text, row_notes
from training.data.sources import RowIssue
from training.data.validation_report import (
    MAX_LISTED_ERRORS,
    NORMALISED_KEPT,
    PREVIEW_ROWS,
    ROWS_NAMED,
    TOKEN_SAMPLE,
    ValidationReport,
    name_rows,
)
from training.methods.registry import MethodSpec

LONG_ROW_CHARS = 20_000
PLAIN_CHAT_SLOW_SHARE = 0.5  # a batch with more failing rows than this goes row by row as a whole


def start_checks(report: ValidationReport, spec: MethodSpec, column_map: dict[str, str], sample: list[dict]):
    """Detect the format from the columns; a RowChecker, or None with the column error in the report."""
    report.compatibility = [c.to_dict() for c in method_compatibility(report.columns, column_map=column_map, sample=sample)]
    mapped_columns = list(dict.fromkeys(column_map.get(c, c) for c in report.columns))
    fmt = detect_format(mapped_columns, spec.formats)
    needs = " or ".join(TRL_TYPE_COLUMNS.get(t, t) for t in spec.formats)
    if fmt is None or fmt.trl_type not in spec.formats:
        suggestion = suggest_column_map(mapped_columns, spec.formats, sample)
        if suggestion is not None and suggestion.column_map:
            report.suggested_column_map = suggestion.column_map
            fix = f"Suggested mapping: {jsonio.dumps_sorted(suggestion.column_map).decode()}; put it under 'Column mapping'."
        else:
            fix = "Map your columns under 'Column mapping' or pick another method."
        if fmt is None:
            problem = f"Cannot tell the format from columns {', '.join(report.columns)}. {spec.label} needs {needs}."
        else:
            report.format, report.trl_type = fmt.source_format, fmt.trl_type
            problem = f"{spec.name.upper()} needs {needs}; found {fmt.description} (columns: {', '.join(report.columns)})."
        report.add_error(RowIssue(None, "(columns)", f"{problem} {fix}"))
        return None
    report.format, report.trl_type = fmt.source_format, fmt.trl_type
    return RowChecker(report, fmt, column_map)


def first_errors(file_errors: list[RowIssue], issues: list[RowIssue], row_errors: list[RowIssue]) -> list[RowIssue]:
    """The first MAX_LISTED_ERRORS errors by row (file-level ones first); both lists are already in row order."""
    merged = heapq.merge(issues[:MAX_LISTED_ERRORS], row_errors, key=lambda e: e.row or 0)
    return (file_errors + list(merged))[:MAX_LISTED_ERRORS]


class RowChecker:
    """Normalises rows batch by batch and keeps only what the report needs: counts, the first errors, the first
    usable rows, an evenly spaced sample of them, and what the dataset-wide warnings need."""

    def __init__(self, report: ValidationReport, fmt, column_map: dict[str, str]):
        self.report, self.fmt, self.column_map = report, fmt, column_map
        self.normalise = NORMALISERS[fmt.source_format]
        self.need_assistant = fmt.trl_type == "conversational"  # SFT's rules: there is a reply to learn, and it comes last
        self.pairs = fmt.trl_type == "preference"
        self.notes = row_notes if self.need_assistant else None
        self.row_errors: list[RowIssue] = []
        self.error_count = 0
        self.usable = 0
        self.seen: dict[int, int] = {}
        self.duplicates: list[tuple[int, int]] = []
        self.same_pairs: list[int] = []
        self.long_rows: list[int] = []
        self.noted: dict[str, list[int]] = {}  # what a row's format cannot honour (per-message weights) -> rows
        self.sample: list[tuple[int, dict]] = []  # every `stride`-th usable row
        self.stride = 1
        self.trl_ready = not column_map  # every row already in TRL shape, so far (Arrow batches only)
        self.ready_keys: tuple | None = None  # the TRL columns of every row
        self.plain_chat = fmt.source_format == "messages" and not column_map  # Arrow batches may pass whole

    def check(self, numbers, records: list[dict], raw: list[dict] | None, notes=True) -> None:
        """One batch: row numbers, records as JSON had them, and the same rows as Arrow gave them (with nulls;
        None when they were not read as Arrow). notes=False: no row can carry what row_notes looks for."""
        if raw is None:
            self.trl_ready, raw = False, records
        normalise, need_assistant, column_map = self.normalise, self.need_assistant, self.column_map
        notes = self.notes if notes else None
        as_given = self._as_given
        dumps, seen, report = jsonio.dumps_sorted, self.seen, self.report
        kept = report.normalised
        for number, record, original in zip(numbers, records, raw, strict=True):
            if column_map:
                record = {column_map.get(k, k): v for k, v in record.items()}
            row, problems = normalise(record, need_assistant)
            if problems:
                self.error_count += len(problems)
                if len(self.row_errors) < MAX_LISTED_ERRORS:
                    self.row_errors.extend(RowIssue(number, fld, msg) for fld, msg in problems)
                continue
            if self.trl_ready and not as_given(row, original):
                self.trl_ready = False
            if len(kept) < NORMALISED_KEPT:
                kept.append(row)
                report.normalised_rows.append(number)
            if self.usable % self.stride == 0:
                self.sample.append((number, row))
                if len(self.sample) >= 2 * TOKEN_SAMPLE:
                    self.sample = self.sample[::2]
                    self.stride *= 2
            self.usable += 1
            if notes is not None:
                for note in notes(record):
                    self.noted.setdefault(note, []).append(number)
            key = plain_chat_key(row)  # the key the Arrow batch check gives the same row
            if key is None:
                blob = dumps(row)
                first = seen.setdefault(hash(blob), number)
                maybe_long = len(blob) > LONG_ROW_CHARS
            else:  # its text's bytes bound len(record_text) from above
                first = seen.setdefault(hash(key), number)
                maybe_long = len(key[0]) + len(row["messages"]) > LONG_ROW_CHARS and len(dumps(row)) > LONG_ROW_CHARS
            if first != number:
                self.duplicates.append((number, first))
            if maybe_long and len(record_text(row)) > LONG_ROW_CHARS:
                self.long_rows.append(number)
            if self.pairs and row["chosen"] == row["rejected"]:
                self.same_pairs.append(number)

    def check_table(self, numbers, table) -> bool:
        """An Arrow batch whose rows the plain-chat check passes is counted without building its rows as Python
        objects; the rows it does not pass go through `check`, in row order. False (nothing done) when the batch is
        not plain chat, or mostly failing rows: then `check` takes the whole batch."""
        import numpy as np

        batch = check_plain_chat(table, self.need_assistant) if self.plain_chat else None
        if batch is None:
            return False
        failed = np.flatnonzero(~batch.passed)
        if len(failed) > PLAIN_CHAT_SLOW_SHARE * len(table):
            return False
        start = 0
        for i in failed.tolist():
            self._count_passed(numbers, table, batch, start, i)
            raw = table.slice(i, 1).to_pylist()
            self.check([numbers[i]], [drop_nulls(raw[0])], raw, notes=False)
            start = i + 1
        self._count_passed(numbers, table, batch, start, len(table))
        return True

    def _count_passed(self, numbers, table, batch, a: int, b: int) -> None:
        """Rows a..b-1 of the batch, each a plain chat that is its own normalised row: what `check` does per row."""
        import numpy as np

        if b <= a:
            return
        report, kept = self.report, self.report.normalised
        if self.trl_ready:
            if self.ready_keys is None:
                self.ready_keys = ("messages",)
            elif self.ready_keys != ("messages",):
                self.trl_ready = False
        need = min(NORMALISED_KEPT - len(kept), b - a)
        if need > 0:
            kept.extend(table.slice(a, need).to_pylist())
            report.normalised_rows.extend(numbers[a:a + need])
        picked = []  # the sample's rows, as (number, batch index) until they are read below
        j = a + (-self.usable) % self.stride
        while j < b:
            self.sample.append((numbers[j], _Pending(j)))
            picked.append(j)
            if len(self.sample) >= 2 * TOKEN_SAMPLE:
                self.sample = self.sample[::2]
                self.stride *= 2
            j += 1 + (-(self.usable + j + 1 - a)) % self.stride
        if picked:  # (slices: Table.take would load pyarrow.compute's kernels)
            rows = {j: _row(table, j) for j in picked} if len(picked) < (b - a) // 2 else \
                dict(zip(range(a, b), table.slice(a, b - a).to_pylist(), strict=True))
            self.sample = [(n, rows[r.index] if type(r) is _Pending and r.index in rows else r) for n, r in self.sample]
        self.usable += b - a
        seen, duplicates, keys = self.seen, self.duplicates, batch.keys[a:b]
        if len(set(keys)) == len(keys) and seen.keys().isdisjoint(keys):  # no repeat: the usual case, at C speed
            seen.update(zip(keys, numbers[a:b], strict=True))
        else:
            for number, key in zip(numbers[a:b], keys, strict=True):
                first = seen.setdefault(key, number)
                if first != number:
                    duplicates.append((number, first))
        for j in (a + np.flatnonzero(batch.text_bytes[a:b] > LONG_ROW_CHARS)).tolist():
            row = _row(table, j)
            if len(jsonio.dumps_sorted(row)) > LONG_ROW_CHARS and len(record_text(row)) > LONG_ROW_CHARS:
                self.long_rows.append(numbers[j])

    def _as_given(self, row: dict, original: dict) -> bool:
        """Whether the normalised row is the Arrow row's own columns, unchanged (the same columns in every row)."""
        if self.ready_keys is None:
            self.ready_keys = tuple(row)
        elif len(row) != len(self.ready_keys) or any(k not in row for k in self.ready_keys):
            return False
        for k, value in row.items():
            given = original.get(k)
            if value is not given and value != given:
                return False
        return True

    def finish(self) -> None:
        report = self.report
        report.error_count += self.error_count
        report.usable_rows = self.usable
        report.trl_ready = self.trl_ready and self.error_count == 0 and self.usable > 0 and bool(self.ready_keys)
        self.seen = {}
        step = max(1, len(self.sample) // TOKEN_SAMPLE) if len(self.sample) > TOKEN_SAMPLE else 1
        sample = self.sample[::step][:TOKEN_SAMPLE]
        report.token_sample_rows = [n for n, _ in sample]
        report.token_sample = [r for _, r in sample]
        rows, kept = report.normalised_rows, report.normalised
        report.preview = [{"row": n, **r} for n, r in zip(rows[:PREVIEW_ROWS], kept[:PREVIEW_ROWS], strict=True)]
        if self.duplicates:
            shown = "; ".join(f"row {n} repeats row {f}" for n, f in self.duplicates[:ROWS_NAMED])
            more = ", …" if len(self.duplicates) > ROWS_NAMED else ""
            report.warnings.append(f"{len(self.duplicates)} duplicate row(s) ({shown}{more}): they weigh twice in "
                                   "training. Remove them unless intended.")
        if self.same_pairs:
            report.warnings.append(f"{len(self.same_pairs)} pair(s) have chosen identical to rejected "
                                   f"({name_rows(self.same_pairs)}): they teach nothing. Fix the rejected answer or drop "
                                   "those rows.")
        for note, numbers in self.noted.items():
            report.warnings.append(f"{len(numbers)} row(s) ({name_rows(numbers)}) {NOTES[note]}.")
        if self.long_rows:
            report.warnings.append(f"{len(self.long_rows)} very long row(s), over {LONG_ROW_CHARS:,} characters "
                                   f"({name_rows(self.long_rows)}): they will be truncated at max length. Split them, or "
                                   "raise max length if memory allows.")



def _row(table, index: int) -> dict:
    return table.slice(index, 1).to_pylist()[0]


class _Pending:
    """A sampled row of the batch being counted, read once the batch's sample is known."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def mixed_type_warnings(records: list[tuple[int, dict]], columns: list[str]) -> list[str]:
    """Columns whose values are of several kinds (text in some rows, numbers in others...); nulls do not count."""
    kinds = ColumnKinds()
    kinds.add_records([n for n, _ in records], [r for _, r in records])
    return kinds.warnings(columns)
