"""A fingerprint of the code that reads dataset formats, for caches of validation results: a cached verdict
made by other format code (a new format, a changed check) is not reused."""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path

FORMAT_MODULES = ("training.data.formats", "training.data.format_detect", "training.data.format_messages",
                  "training.data.format_trl", "training.data.format_sharegpt", "training.data.format_alpaca",
                  "training.data.format_openai", "training.data.format_swift", "training.data.format_axolotl",
                  "training.data.loss_weights", "training.data.file_types", "training.data.sources",
                  "training.data.column_mapping")


@lru_cache(maxsize=1)
def formats_fingerprint() -> str:
    """SHA-256 (16 hex digits) of the source of every module in FORMAT_MODULES."""
    digest = hashlib.sha256()
    for name in FORMAT_MODULES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    return digest.hexdigest()[:16]
