"""Shared by the panels: how a config error is shown."""

from __future__ import annotations

from components.translations import tr, translate_message
from training.config.schema import ConfigError


def describe_config_error(exc: ConfigError) -> str:
    """The problems of a config, one per line, each naming its field path, in the request's language."""
    return (f"**{tr('Cannot use these settings:')}**\n"
            + "\n".join(f"- `{name}` {translate_message(msg)}" for name, msg in exc.problems))
