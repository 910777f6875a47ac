"""Model size and shape without downloading weights: config.json (local, Hub cache, or the Hub with a
timeout), else a built-in table of popular models and the demo model; unknown models stay unknown."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

# Architecture of popular models, from their config.json, for offline estimates. Columns:
# layers, hidden, MLP width, attention heads, KV heads, head dim (0: hidden / heads), vocabulary,
# tied embeddings, published parameter count. Names are matched without an -Instruct/-it suffix too.
_ARCH = {
    # Qwen2.5
    "Qwen/Qwen2.5-0.5B": (24, 896, 4864, 14, 2, 0, 151936, True, 0.49e9),
    "Qwen/Qwen2.5-1.5B": (28, 1536, 8960, 12, 2, 0, 151936, True, 1.54e9),
    "Qwen/Qwen2.5-3B": (36, 2048, 11008, 16, 2, 0, 151936, True, 3.09e9),
    "Qwen/Qwen2.5-7B": (28, 3584, 18944, 28, 4, 0, 152064, False, 7.62e9),
    "Qwen/Qwen2.5-14B": (48, 5120, 13824, 40, 8, 0, 152064, False, 14.7e9),
    "Qwen/Qwen2.5-32B": (64, 5120, 27648, 40, 8, 0, 152064, False, 32.5e9),
    "Qwen/Qwen2.5-72B": (80, 8192, 29568, 64, 8, 0, 152064, False, 72.7e9),
    "Qwen/Qwen2.5-Coder-1.5B": (28, 1536, 8960, 12, 2, 0, 151936, True, 1.54e9),
    "Qwen/Qwen2.5-Coder-7B": (28, 3584, 18944, 28, 4, 0, 152064, False, 7.62e9),
    "Qwen/Qwen2.5-Math-1.5B": (28, 1536, 8960, 12, 2, 0, 151936, True, 1.54e9),
    # Qwen3
    "Qwen/Qwen3-0.6B": (28, 1024, 3072, 16, 8, 128, 151936, True, 0.6e9),
    "Qwen/Qwen3-1.7B": (28, 2048, 6144, 16, 8, 128, 151936, True, 1.7e9),
    "Qwen/Qwen3-4B": (36, 2560, 9728, 32, 8, 128, 151936, True, 4.0e9),
    "Qwen/Qwen3-8B": (36, 4096, 12288, 32, 8, 128, 151936, False, 8.2e9),
    "Qwen/Qwen3-14B": (40, 5120, 17408, 40, 8, 128, 151936, False, 14.8e9),
    "Qwen/Qwen3-32B": (64, 5120, 25600, 64, 8, 128, 151936, False, 32.8e9),
    # Llama 3.x
    "meta-llama/Llama-3.2-1B": (16, 2048, 8192, 32, 8, 64, 128256, True, 1.24e9),
    "meta-llama/Llama-3.2-3B": (28, 3072, 8192, 24, 8, 128, 128256, True, 3.21e9),
    "meta-llama/Llama-3.1-8B": (32, 4096, 14336, 32, 8, 128, 128256, False, 8.03e9),
    "meta-llama/Meta-Llama-3-8B": (32, 4096, 14336, 32, 8, 128, 128256, False, 8.03e9),
    "meta-llama/Meta-Llama-3.1-8B": (32, 4096, 14336, 32, 8, 128, 128256, False, 8.03e9),
    "meta-llama/Llama-3.1-70B": (80, 8192, 28672, 64, 8, 128, 128256, False, 70.6e9),
    "meta-llama/Llama-3.3-70B": (80, 8192, 28672, 64, 8, 128, 128256, False, 70.6e9),
    "meta-llama/Meta-Llama-3-70B": (80, 8192, 28672, 64, 8, 128, 128256, False, 70.6e9),
    "meta-llama/Meta-Llama-3.1-70B": (80, 8192, 28672, 64, 8, 128, 128256, False, 70.6e9),
    # SmolLM2
    "HuggingFaceTB/SmolLM2-135M": (30, 576, 1536, 9, 3, 0, 49152, True, 135e6),
    "HuggingFaceTB/SmolLM2-360M": (32, 960, 2560, 15, 5, 0, 49152, True, 362e6),
    "HuggingFaceTB/SmolLM2-1.7B": (24, 2048, 8192, 32, 32, 0, 49152, True, 1.71e9),
    "HuggingFaceTB/SmolLM3-3B": (36, 2048, 11008, 16, 4, 0, 128256, True, 3.08e9),
    # Gemma
    "google/gemma-3-270m": (18, 640, 2048, 4, 1, 256, 262144, True, 268e6),
    "google/gemma-3-1b": (26, 1152, 6912, 4, 1, 256, 262144, True, 1.0e9),
    "google/gemma-3-4b": (34, 2560, 10240, 8, 4, 256, 262208, True, 3.88e9),
    "google/gemma-3-12b": (48, 3840, 15360, 16, 8, 256, 262208, True, 11.8e9),
    "google/gemma-2-2b": (26, 2304, 9216, 8, 4, 256, 256000, True, 2.61e9),
    "google/gemma-2-9b": (42, 3584, 14336, 16, 8, 256, 256000, True, 9.24e9),
    "google/gemma-2b": (18, 2048, 16384, 8, 1, 256, 256000, True, 2.51e9),
    "google/gemma-7b": (28, 3072, 24576, 16, 16, 256, 256000, True, 8.54e9),
    # Mistral
    "mistralai/Mistral-7B-v0.1": (32, 4096, 14336, 32, 8, 0, 32000, False, 7.24e9),
    "mistralai/Mistral-7B-Instruct-v0.2": (32, 4096, 14336, 32, 8, 0, 32000, False, 7.24e9),
    "mistralai/Mistral-7B-v0.3": (32, 4096, 14336, 32, 8, 0, 32768, False, 7.25e9),
    "mistralai/Mistral-7B-Instruct-v0.3": (32, 4096, 14336, 32, 8, 0, 32768, False, 7.25e9),
    "mistralai/Mistral-Nemo-Instruct-2407": (40, 5120, 14336, 32, 8, 128, 131072, False, 12.2e9),
    "mistralai/Mistral-Small-24B-Instruct-2501": (40, 5120, 32768, 32, 8, 128, 131072, False, 23.6e9),
    # Phi
    "microsoft/Phi-3-mini-4k-instruct": (32, 3072, 8192, 32, 32, 0, 32064, False, 3.82e9),
    "microsoft/Phi-3.5-mini-instruct": (32, 3072, 8192, 32, 32, 0, 32064, False, 3.82e9),
    "microsoft/Phi-4-mini-instruct": (32, 3072, 8192, 24, 8, 0, 200064, True, 3.84e9),
    "microsoft/phi-4": (40, 5120, 17920, 40, 10, 0, 100352, False, 14.7e9),
}


# --- model facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFacts:
    params: float
    layers: int
    hidden: int
    vocab: int
    source: str
    intermediate: int = 0  # MLP width; 0 means unknown (taken as 4 x hidden)
    heads: int = 0
    kv_heads: int = 0
    head_dim: int = 0
    tied: bool = False

    @property
    def mlp(self) -> int:
        return self.intermediate or 4 * self.hidden

    @property
    def embedding_params(self) -> float:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def compute_params(self) -> float:
        """Parameters that cost FLOPs per token: all but the input embedding lookup (the LM head counts)."""
        return self.params - (0 if self.tied else self.vocab * self.hidden)

    @property
    def attention_width(self) -> int:
        return (self.heads * self.head_dim) or self.hidden


def facts_from_config(cfg: dict, source: str) -> ModelFacts | None:
    """Parameter count and shape from a config.json dict (text part of multimodal configs)."""
    cfg = cfg.get("text_config", cfg)
    try:
        h, layers, vocab = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"]), int(cfg["vocab_size"])
        inter = int(cfg.get("intermediate_size") or 4 * h)
        heads = int(cfg.get("num_attention_heads") or 1)
        kv = int(cfg.get("num_key_value_heads") or heads)
        head_dim = int(cfg.get("head_dim") or h // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    tied = bool(cfg.get("tie_word_embeddings", False))
    attn = h * head_dim * heads * 2 + h * head_dim * kv * 2
    per_layer = attn + 3 * h * inter
    params = layers * per_layer + vocab * h * (1 if tied else 2)
    return ModelFacts(params, layers, h, vocab, source, inter, heads, kv, head_dim, tied)


def _table_facts(layers, hidden, inter, heads, kv, head_dim, vocab, tied, params) -> ModelFacts:
    return ModelFacts(params, layers, hidden, vocab, "built-in table", inter, heads, kv, head_dim or hidden // heads, tied)


_SUFFIXES = ("-Instruct-2507", "-Instruct", "-instruct", "-it", "-Chat", "-chat", "-Base", "-pt")
_TABLE_LOWER = {k.lower(): k for k in _ARCH}


def table_lookup(name: str) -> ModelFacts | None:
    """The built-in table entry for a Hub id, also without an -Instruct/-it style suffix."""
    candidates = [name]
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            candidates.append(name[: -len(suffix)])
    for cand in candidates:
        key = _TABLE_LOWER.get(cand.lower())
        if key:
            return _table_facts(*_ARCH[key])
    return None




def _demo_facts() -> ModelFacts:
    from training.models.demo_model import DEMO_ARCHITECTURE, DEMO_VOCAB_SIZE, demo_model_path

    path = demo_model_path() / "config.json"
    if path.exists():
        facts = facts_from_config(json.loads(path.read_text()), "config.json")
        if facts:
            return facts
    cfg = {**DEMO_ARCHITECTURE, "vocab_size": DEMO_VOCAB_SIZE, "tie_word_embeddings": True}
    return replace(facts_from_config(cfg, "built-in table (demo model)"), source="built-in table (demo model)")


_hub_cache: dict[tuple, dict | None] = {}  # (name, token setting) -> config


def _hub_config(name: str, timeout: float = 4.0) -> dict | None:
    """config.json from the local Hub cache, else the Hub within `timeout` seconds; None when unavailable."""
    import os

    from training.models.loading import HUB_MODEL_RE

    if not HUB_MODEL_RE.match(name):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        if isinstance(cached, str):
            return json.loads(Path(cached).read_text())
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    from training.hosting.read_policy import current_policy

    token = current_policy().hub_token  # a visitor reads the Hub anonymously: never the owner's private repos
    key = (name, token)
    if key in _hub_cache:
        return _hub_cache[key]
    box: list = []

    def fetch():
        try:
            from huggingface_hub import hf_hub_download

            box.append(json.loads(Path(hf_hub_download(name, "config.json", etag_timeout=timeout, token=token)).read_text()))
        except Exception:
            box.append(None)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    result = box[0] if box else None
    if box:
        _hub_cache[key] = result
    return result


def model_facts(name: str) -> ModelFacts | None:
    """Size and shape without weights: config.json (local folder, Hub cache, or the Hub when reachable
    for models not in the table), else the built-in table. None means "unknown size": never a guess."""
    name = (name or "").strip()
    if name == "demo":
        return _demo_facts()
    if name == "demo-vision":  # the tiny LLaVA: its language model here, its image side in estimate/vision_costs.py
        from training.models.demo_vision import ensure_demo_vision_model

        name = str(ensure_demo_vision_model())
    from training.hosting.read_policy import local_path

    try:
        folder = local_path(name, "model")  # None for a Hub id, and for a visitor's name that only looks local
        local = (folder or Path(name)) / "config.json"
        is_local = folder is not None and local.exists()
    except (OSError, RuntimeError, ValueError):  # ReadRefused is a ValueError
        is_local = False
    if is_local:
        try:
            return facts_from_config(json.loads(local.read_text()), "config.json")
        except (OSError, ValueError):
            return None
    known = table_lookup(name)
    cfg = _hub_config(name) if known is None else None
    if cfg:
        facts = facts_from_config(cfg, "config.json from the Hub")
        if facts:
            return facts
    return known


def lora_trainable(facts: ModelFacts, r: int, target: str) -> float:
    """Adapter parameters: r x (in + out) for each adapted matrix of each layer."""
    h, inter, attn_w = facts.hidden, facts.mlp, facts.attention_width
    kv_w = (facts.kv_heads * facts.head_dim) or h
    attention = r * ((h + attn_w) * 2 + (h + kv_w) * 2)  # q, o and k, v
    mlp = 3 * r * (h + inter)
    return facts.layers * (attention if target == "attention" else attention + mlp)
