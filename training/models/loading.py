"""Resolving a model reference (`demo`, a local folder or a Hub id) and loading it."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from training.hosting.read_policy import ReadRefused, current_policy, local_path
from training.models.errors import ModelLoadError
from training.models.pretrained import model_from_pretrained, tokenizer_from_pretrained

__all__ = ["HubModelMissing", "ModelLoadError", "load_model", "load_tokenizer", "load_tokenizer_cached", "resolve_model"]

HUB_MODEL_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
GPU_DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


class HubModelMissing(ModelLoadError):
    """Answered as for a Hub id that does not exist."""


def resolve_model(name: str) -> str:
    """A path or Hub id that `from_pretrained` accepts. Creates the demo model on first use."""
    name = (name or "").strip()
    if not name:
        raise ModelLoadError("No model given. Enter `demo`, a local folder, or a Hub id like Qwen/Qwen2.5-0.5B-Instruct.")
    if name == "demo":
        from training.models.demo_model import ensure_demo_model

        return str(ensure_demo_model())
    if name == "demo-vision":
        from training.models.demo_vision import ensure_demo_vision_model

        return str(ensure_demo_vision_model())
    try:
        path = local_path(name, "model")  # the caller's read policy (training.hosting.read_policy)
    except ReadRefused as exc:
        raise ModelLoadError(str(exc)) from None
    if path is not None:
        if not (path / "config.json").exists():
            raise ModelLoadError(f"Folder {name} has no config.json, so it is not a model folder. Point to the folder that has one.")
        return str(path)
    if not HUB_MODEL_RE.match(name):
        raise ModelLoadError(f"{name!r} is neither `demo`, an existing folder, nor a Hub id of the form owner/name.")
    if not current_policy().server_paths and os.path.lexists(name):
        # A visitor's Hub id that also names something here: from_pretrained would read it from disk. Answer as
        # for a Hub id that does not exist, so the answer says nothing about this machine.
        raise HubModelMissing(str(_friendly(name, OSError(f"404: {name} is not a valid model identifier"))))
    return name


def _friendly(name: str, exc: Exception) -> ModelLoadError:
    text = str(exc)
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    if "gated" in text.lower() or "401" in text or "403" in text:
        return ModelLoadError(f"Model {name} is gated or private: accept its licence on the Hub and set HF_TOKEN with access.")
    if offline or "offline" in text.lower() or "connect" in text.lower() or "resolve" in text.lower():
        where = "this machine is offline (HF_HUB_OFFLINE=1)" if offline else "the Hub could not be reached"
        return ModelLoadError(f"Model {name} is not available: {where} and it is not in the local cache. Use `demo` or a local folder.")
    if "does not appear to have" in text or "not a valid model identifier" in text or "404" in text:
        return ModelLoadError(f"Model {name} was not found on the Hub. Check the spelling (owner/name).")
    first = text.splitlines()[0][:300] if text else type(exc).__name__
    return ModelLoadError(f"Model {name} could not be loaded: {first}")


def load_tokenizer(name: str, trust_remote_code: bool = False):
    ref = resolve_model(name)
    try:
        return tokenizer_from_pretrained(ref, trust_remote_code, token=current_policy().hub_token)
    except Exception as exc:
        raise _friendly(name, exc) from None


@functools.lru_cache(maxsize=4)
def load_tokenizer_cached(name: str, trust_remote_code: bool = False):
    """`load_tokenizer`, remembered: validating again with the same model does not reload it. Failures are not cached."""
    return load_tokenizer(name, trust_remote_code)


def load_processing_class(name: str, trust_remote_code: bool = False):
    """The processor of a vision-language model (tokenizer and image processor), else the tokenizer."""
    from training.models.pretrained import processor_from_pretrained
    from training.models.vision_model import is_vision_model

    ref = resolve_model(name)
    if is_vision_model(ref, trust_remote_code):
        try:
            return processor_from_pretrained(ref, trust_remote_code, token=current_policy().hub_token)
        except ImportError:  # transformers imported by two threads at once fails once: the caller may try again
            raise
        except Exception as exc:
            raise _friendly(name, exc) from None
    return load_tokenizer(name, trust_remote_code)


@functools.lru_cache(maxsize=4)
def load_processing_class_cached(name: str, trust_remote_code: bool = False):
    """`load_processing_class`, remembered like `load_tokenizer_cached` (Validate's token view of a VLM's images)."""
    return load_processing_class(name, trust_remote_code)


def reads_images(model_dir: str | Path | None, base: str, trust_remote_code: bool = False) -> bool:
    """Whether a run's weights are a vision-language model: the saved config's say (full weights), else a saved
    processor's or the base model's (a LoRA adapter). False when none of them can be read."""
    from training.models.vision_model import is_vision_model

    folder = Path(model_dir) if model_dir else None
    if folder is not None and (folder / "config.json").is_file():
        return is_vision_model(str(folder), trust_remote_code)
    if folder is not None and (folder / "processor_config.json").is_file():
        return True
    try:
        return is_vision_model(resolve_model(base), trust_remote_code)
    except (ValueError, OSError):
        return False


def load_model(name: str, trust_remote_code: bool = False, dtype=None, head: str = "causal_lm", **kwargs):
    """The model with a language-modelling head, or head="sequence_classification" for a one-score head (reward
    models). kwargs go to from_pretrained (e.g. quantization_config)."""
    ref = resolve_model(name)
    if head == "causal_lm":
        from training.models.vision_model import is_vision_model

        head = "image_text_to_text" if is_vision_model(ref, trust_remote_code) else head  # a VLM keeps its vision part
    try:
        return model_from_pretrained(ref, head, trust_remote_code, dtype=dtype or "auto", token=current_policy().hub_token,
                                     **kwargs)
    except Exception as exc:
        raise _friendly(name, exc) from None


def read_model_config(name: str) -> dict | None:
    """config.json of a model without loading weights; None when unavailable (e.g. offline)."""
    import json

    try:
        ref = resolve_model(name)
    except ModelLoadError:
        return None
    path = Path(ref) / "config.json"
    if path.exists():
        return json.loads(path.read_text())
    if path.is_absolute() or os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(ref, "config.json", token=current_policy().hub_token)).read_text())
    except Exception:
        return None


def model_reachable(name: str) -> str | None:
    """None when the model can be loaded from here (demo, a model folder, a Hub model reachable or cached), else why
    not, in words that say what to do. Raises ModelLoadError for a name that is none of those."""
    try:
        ref = resolve_model(name)
    except HubModelMissing:
        ref = None
    if ref is not None:
        if Path(ref).is_dir() or read_model_config(name) is not None:
            return None
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(ref, "config.json"), str):
            return None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return (f"Model {name} is not available: this machine is offline (HF_HUB_OFFLINE=1) and it is not in the local "
                "cache. Use `demo` or a local model folder.")
    return (f"Model {name} was not found on the Hub, is gated or private (set HF_TOKEN with access), or the Hub could not "
            "be reached. Check the spelling (owner/name).")


def default_model() -> tuple[str, str | None]:
    """The model the UI starts with, and a note when the GPU default could not be used."""
    from training.hosting.machine import has_cuda

    if not has_cuda():
        return "demo", None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return "demo", f"A GPU is present but the Hub is offline, so the default is `demo` instead of {GPU_DEFAULT_MODEL}."
    try:
        from huggingface_hub import model_info

        model_info(GPU_DEFAULT_MODEL, timeout=5)
        return GPU_DEFAULT_MODEL, None
    except Exception:
        return "demo", f"A GPU is present but the Hub could not be reached, so the default is `demo` instead of {GPU_DEFAULT_MODEL}."
