"""The validation cache: a local file's check is stored on disk (DATA_DIR/cache/validation), keyed by a fingerprint of
the file (path, size, modification time, a hash of its first and last 64 KB) and the settings the checks depend on
(method, column map, split, subset, max rows); token statistics are stored in the same entry per tokenizer and max
length. A second Validate of an unchanged file, and Train after Validate, read that entry instead of the file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, fields
from pathlib import Path

from training.data.file_types import file_type
from training.data.format_version import formats_fingerprint
from training.data.sources import RowIssue
from training.data.validation_report import ValidationReport
from training.hosting.read_policy import local_path

CACHE_VERSION = 1
VALIDATIONS_KEPT = 64  # cached reports kept on disk
ARROW_CACHES_KEPT = 3  # Arrow copies of JSONL files kept on disk (each about the size of its file)


def cache_dir(name: str) -> Path:
    from training.hosting.paths import data_dir

    path = data_dir() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_fingerprint(path: Path) -> list:
    """A local file's identity: resolved path, size, modification time and a hash of its first and last 64 KB."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 16))
        if stat.st_size > 1 << 17:
            fh.seek(-(1 << 16), os.SEEK_END)
        digest.update(fh.read(1 << 16))
    return [str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, digest.hexdigest()]


def verdict_key(source: str, method: str, split: str, subset: str | None, column_map: dict | None,
                max_rows: int | None, text_unit: str = "line") -> str | None:
    """A local file's fingerprint with the settings the checks depend on, hashed; None for a Hub dataset (it can
    change remotely) or a path that cannot be read."""
    try:
        path = local_path(str(source))  # None for a Hub id (and for whatever a visitor names that looks like one)
        if path is None or not path.is_file():
            return None
        identity = file_fingerprint(path)
    except (OSError, ValueError, RuntimeError):  # ReadRefused is a ValueError
        return None
    material = [CACHE_VERSION, formats_fingerprint(), identity, method, split, subset, sorted((column_map or {}).items()), max_rows]
    if file_type(path)[0] == "text":  # a .txt file's rows depend on how it is cut
        material.append(text_unit)
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:32]


_REPORT_FIELDS = {f.name for f in fields(ValidationReport)}


def read_cached(key: str | None) -> ValidationReport | None:
    if key is None:
        return None
    try:
        data = json.loads((cache_dir("validation") / f"{key}.json").read_text())
        if data.get("version") != CACHE_VERSION:
            return None
        values = {k: v for k, v in data["report"].items() if k in _REPORT_FIELDS}
        values["errors"] = [RowIssue(**e) for e in values.get("errors", [])]
        report = ValidationReport(**values)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if report.arrow_cache and not Path(report.arrow_cache).is_file():
        report.arrow_cache, report.trl_ready = None, False  # evicted: Train reads the file itself
    report.cached = True
    return report


def write_cached(key: str | None, report: ValidationReport) -> None:
    if key is None:
        return
    # the fields as they are (json.dumps walks the rows; dataclasses.asdict would deep-copy thousands of them first)
    values = {f.name: getattr(report, f.name) for f in fields(report)
              if f.name not in ("token_stats", "rendered", "tokenizer_note", "cached")}
    values["errors"] = [asdict(e) for e in report.errors]
    folder = cache_dir("validation")
    target = folder / f"{key}.json"
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "report": values, "tokens": {}}, default=str))
        tmp.replace(target)
        evict(folder, "*.json", VALIDATIONS_KEPT)
    except (OSError, TypeError, ValueError):
        tmp.unlink(missing_ok=True)


def cached_tokens(key: str | None, token_key: str) -> dict | None:
    if key is None:
        return None
    try:
        return json.loads((cache_dir("validation") / f"{key}.json").read_text())["tokens"].get(token_key)
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def store_tokens(key: str | None, token_key: str, stats: dict) -> None:
    if key is None:
        return
    path = cache_dir("validation") / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        data.setdefault("tokens", {})[token_key] = stats
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, default=str))
        tmp.replace(path)
    except (OSError, ValueError, TypeError):
        pass


def evict(folder: Path, pattern: str, keep: int) -> None:
    """Remove all but the `keep` most recently written files matching `pattern`."""
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime_ns if p.exists() else 0, reverse=True)
    for old in found[keep:]:
        old.unlink(missing_ok=True)

