"""Shared fixtures for every test tier: an isolated data folder and an offline Hub.

Each test session gets its own DATA_DIR (runs, models, uploads, datasets) and TRACKIO_DIR
under pytest's tmp folder, and HF_HUB_OFFLINE=1 so no test reaches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any test module is imported: huggingface_hub reads HF_HUB_OFFLINE at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def isolated_data_dir(tmp_path_factory: pytest.TempPathFactory):
    """DATA_DIR and TRACKIO_DIR in a fresh tmp folder for the whole session; the Hub offline."""
    root = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(root))
        mp.setenv("TRACKIO_DIR", str(root / "trackio"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        # llama.cpp (GGUF export) is built once into a cache outside the clone and the session's data folder
        mp.setenv("LLAMA_CPP_CACHE", os.environ.get("LLAMA_CPP_CACHE") or str(Path.home() / ".cache/finetune-studio/llama.cpp"))
        yield root


@pytest.fixture(scope="session")
def demo_model_path(isolated_data_dir: Path) -> Path:
    """The built-in demo model, written once per session into DATA_DIR/models (about 3 s)."""
    from training.models.demo_model import ensure_demo_model

    return ensure_demo_model()


@pytest.fixture
def subprocess_env(isolated_data_dir: Path) -> dict[str, str]:
    """Environment for running `python -m training ...` against the session's data folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env
