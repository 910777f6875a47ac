"""Keeping tokens out of everything the app writes or shows."""

from __future__ import annotations

import logging
import os
import re

TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN", "HF_API_TOKEN")
TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{16,}")
MASK = "hf_***"
_REGISTERED: set[str] = set()  # tokens that live only in this process (the Trackio write token)


def register_secret(value: str | None) -> None:
    """Mask `value` in everything redacted from now on (for tokens that are not in an environment variable)."""
    if value and len(value) >= 8:
        _REGISTERED.add(value)


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace every known token value, and anything shaped like a Hub token, by a mask."""
    if not text:
        return text
    for value in (*(os.environ.get(v) for v in TOKEN_VARS), *_REGISTERED, *extra):
        if value and len(value) >= 8:
            text = text.replace(value, MASK)
    return TOKEN_PATTERN.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts tokens from every record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def install_log_redaction() -> None:
    """Redact tokens in the handlers of the root logger and the libraries' loggers."""
    flt = RedactingFilter()
    for name in ("", "transformers", "trl", "huggingface_hub", "datasets", "peft", "gradio", "uvicorn", "trackio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(flt)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(flt)


class RedactingStream:
    """Wraps stdout/stderr so nothing printed (by us or by a library) shows a token."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def redact_std_streams() -> None:
    import sys

    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
