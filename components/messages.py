"""Shared by the panels: how a config error is shown."""

from __future__ import annotations

from training.config.schema import ConfigError


def describe_config_error(exc: ConfigError) -> str:
    return "**Cannot use these settings:**\n" + "\n".join(f"- `{name}` {msg}" for name, msg in exc.problems)
