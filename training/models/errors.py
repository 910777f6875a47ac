"""The error every model lookup raises: the model cannot be found or loaded, and the message says why and what to do."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """The model cannot be found or loaded; the message says why and what to do."""
