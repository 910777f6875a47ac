"""Where the app keeps its files: the data folder and what lives under it."""

from __future__ import annotations

import os
from pathlib import Path


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def data_dir() -> Path:
    """DATA_DIR if set, else /data when it exists and is writable (Space storage), else ./data."""
    env = os.environ.get("DATA_DIR")
    if env:
        path = Path(env).expanduser()
    elif _writable(Path("/data")):
        path = Path("/data")
    else:
        path = Path.cwd() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def _subdir(name: str) -> Path:
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    return _subdir("runs")


def models_dir() -> Path:
    return _subdir("models")


def trackio_dir() -> Path:
    return _subdir("trackio")


def uploads_dir() -> Path:
    return _subdir("uploads")


def configure_trackio_env() -> Path:
    """Point Trackio at the data folder. Must run before trackio is imported anywhere."""
    path = trackio_dir()
    os.environ.setdefault("TRACKIO_DIR", str(path))
    return Path(os.environ["TRACKIO_DIR"])


def trackio_project() -> str:
    """The Trackio project every run logs into (TRACKIO_PROJECT, default finetune-studio)."""
    return os.environ.get("TRACKIO_PROJECT", "finetune-studio")
