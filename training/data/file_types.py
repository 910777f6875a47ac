"""Dataset file types: what a file is from its name (and first bytes), and loading it with `datasets`.

CSV, TSV, JSON, JSONL, Parquet and Arrow (IPC file or stream), and plain text (.txt: `text` rows for continued
pretraining, one per line, per paragraph or for the whole file; `text_rows`), each also compressed with gzip (.gz) or
Zstandard (.zst). `load_file_dataset` hands the file to `datasets`' own loaders (memory-mapped Arrow), which decompress
text files (.gz, .zst) themselves; a compressed Parquet or Arrow file is decompressed once into the `datasets` cache.
.zst needs the `zstandard` package.
"""

from __future__ import annotations

from pathlib import Path

KIND_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
                 ".parquet": "parquet", ".arrow": "arrow", ".txt": "text"}
COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
DATASETS_LOADERS = {"csv": "csv", "tsv": "csv", "json": "json", "jsonl": "json", "parquet": "parquet", "arrow": "arrow",
                    "text": "text"}  # .txt is read by text_rows, not by `datasets`' own text loader (it keeps blank lines)
FILE_TYPES_TEXT = "CSV, TSV, JSON, JSONL, Parquet, Arrow or plain text (also as .gz or .zst)"


def text_rows(text: str, unit: str = "line") -> list[tuple[int, str]]:
    """A plain text file's `text` rows as (first line number, text): each non-blank line (unit "line"), each block
    of lines between blank lines ("paragraph"), or the whole text ("document"). Blank rows are dropped. Validation
    and training both read .txt files through this function, so they see the same rows."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if unit == "line":
        return [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    if unit == "document":
        first = next((i for i, line in enumerate(lines, start=1) if line.strip()), None)
        return [] if first is None else [(first, "\n".join(lines[first - 1:]).rstrip())]
    if unit != "paragraph":
        raise ValueError(f"text unit {unit!r}: choose line, paragraph or document")
    rows, block, start = [], [], 0
    for i, line in enumerate([*lines, ""], start=1):
        if line.strip():
            start = start or i
            block.append(line)
        elif block:
            rows.append((start, "\n".join(block)))
            block, start = [], 0
    return rows


def file_type(path: str | Path) -> tuple[str | None, str | None]:
    """(kind, compression) from the file name: "data.jsonl.zst" -> ("jsonl", "zstd"); unknown parts are None."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = COMPRESSION_SUFFIXES.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    return (KIND_SUFFIXES.get(suffixes[-1]) if suffixes else None), compression


def compression_of(head: bytes) -> str | None:
    """gzip or zstd from a file's first bytes, else None."""
    return next((name for magic, name in COMPRESSION_MAGIC.items() if head.startswith(magic)), None)


def load_file_dataset(path: str | Path, text_unit: str = "line"):
    """A local dataset file as a memory-mapped Arrow `datasets.Dataset`, through `datasets`' loaders (a .txt file:
    its `text_rows`)."""
    from datasets import Dataset, load_dataset

    kind, compression = file_type(path)
    if kind is None:
        raise ValueError(f"dataset {path}: unsupported file type {''.join(Path(path).suffixes)!r}; use {FILE_TYPES_TEXT}")
    if kind == "text":
        raw = Path(path).read_bytes()
        if compression == "gzip":
            import gzip

            raw = gzip.decompress(raw)
        elif compression == "zstd":
            import zstandard

            raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
        return Dataset.from_dict({"text": [t for _, t in text_rows(raw.decode("utf-8-sig", errors="replace"), text_unit)]})
    if compression and kind in ("parquet", "arrow"):  # `datasets` decompresses text files only
        path = decompressed_copy(Path(path), compression)
    extra = {"delimiter": "\t"} if kind == "tsv" else {}
    return load_dataset(DATASETS_LOADERS[kind], data_files=str(path), split="train", **extra)


def decompressed_copy(path: Path, compression: str) -> Path:
    """The file decompressed once into the `datasets` cache (keyed by path, size and modification time)."""
    import hashlib
    import shutil

    from datasets import config

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    out = Path(config.HF_DATASETS_CACHE) / "decompressed" / f"{key}{Path(path.stem).suffix}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with path.open("rb") as src, tmp.open("wb") as dst:
        if compression == "gzip":
            import gzip

            with gzip.open(src) as reader:
                shutil.copyfileobj(reader, dst, 1 << 20)
        else:
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(src) as reader:
                shutil.copyfileobj(reader, dst, 1 << 20)
    tmp.replace(out)
    return out
