"""Columns whose values are of several kinds (text in some rows, numbers in others...), counted as rows pass: from
Python records (the record loader, a JSONL chunk read line by line) and from Arrow batches (one kind per column per
batch), so a file read partly each way gets one warning per column. Nulls do not count."""

from __future__ import annotations

KINDS = {str: "text", int: "number", float: "number", bool: "true/false", list: "list", dict: "object"}


def _arrow_kind(t) -> str | None:
    import pyarrow as pa

    if pa.types.is_null(t):
        return None
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_temporal(t):
        return "text"  # pyarrow reads ISO dates written as JSON text as timestamps
    if pa.types.is_boolean(t):
        return "true/false"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "object"
    return str(t)


def _validity(array, np):
    if not array.null_count:
        return np.ones(len(array), dtype=bool)
    if array.buffers()[0] is None:  # a null-type array: no bitmap, all null
        return np.zeros(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[array.offset: array.offset + len(array)].astype(bool)


class ColumnKinds:
    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}  # column -> kind -> rows, kinds in order of first appearance
        self.first: dict[str, dict[str, int]] = {}  # column -> kind -> first row

    def _add(self, column: str, kind: str, rows: int, first_row: int) -> None:
        counts = self.counts.setdefault(column, {})
        counts[kind] = counts.get(kind, 0) + rows
        firsts = self.first.setdefault(column, {})
        if kind not in firsts or first_row < firsts[kind]:
            firsts[kind] = first_row

    def add_records(self, numbers, records: list[dict]) -> None:
        for number, record in zip(numbers, records, strict=True):
            for column, value in record.items():
                if value is not None:
                    t = type(value)
                    self._add(column, KINDS.get(t, t.__name__), 1, number)

    def add_table(self, table, numbers) -> None:
        import numpy as np

        for name, column in zip(table.column_names, table.columns, strict=True):
            kind = _arrow_kind(column.type)
            rows = len(column) - column.null_count
            if kind is None or not rows:
                continue
            if column.null_count:  # the first non-null row, from the validity bitmaps
                valid = np.concatenate([_validity(c, np) for c in column.chunks])
                first = numbers[int(np.flatnonzero(valid)[0])]
            else:
                first = numbers[0]
            self._add(name, kind, rows, first)

    def warnings(self, columns: list[str]) -> list[str]:
        out = []
        for col in columns:
            kinds = self.counts.get(col, {})
            if len(kinds) < 2:
                continue
            common = max(kinds, key=lambda k: kinds[k])  # the first seen among the most common
            firsts = self.first[col]
            others = "; ".join(f"{kinds[k]} row(s) of {k}, first at row {firsts[k]}"
                               for k in sorted(kinds, key=lambda k: firsts[k]) if k != common)
            out.append(f"Column '{col}' mixes types: mostly {common} ({kinds[common]} rows), but {others}. "
                       f"Make every value {common}.")
        return out
