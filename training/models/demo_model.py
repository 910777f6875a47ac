"""The built-in demo model: a small Llama pretrained by this project, with its own llama-style SentencePiece tokenizer
(BPE with byte fallback: `tokenizer.model` for llama.cpp's GGUF converter, the same vocabulary as `tokenizer.json`).

`scripts/build_demo_model.py` pretrains it reproducibly (training/models/demo_pretrain.py, on the corpus of
training/models/demo_corpus.py) into `DEMO_WEIGHTS` (committed, about 4 MB), so a fresh clone needs no
network. On first use it is copied into the data folder and then loaded through the ordinary
`from_pretrained` path, exactly like a Hub id. It answers in sentences and knows none of the demo facts.
Its chat template marks assistant turns with `{% generation %}` so TRL's assistant-only loss works.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from training.hosting.paths import models_dir
from training.models.errors import ModelLoadError

DEMO_MODEL_ID = "demo"
DEMO_VERSION = 3
DEMO_ARCHITECTURE = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
}
DEMO_VOCAB_SIZE = 512
DEMO_WEIGHTS = Path(__file__).resolve().parent / "demo_weights"
DEMO_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
             "tokenizer.model")

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_lock = threading.Lock()


class DemoWeightsMissing(ModelLoadError):
    """The committed demo weights are not in the checkout."""


def demo_model_path() -> Path:
    return models_dir() / f"demo-tiny-llama-v{DEMO_VERSION}"


def ensure_demo_model() -> Path:
    """Copy the committed demo model into the data folder if missing (thread-safe, atomic) and return its path."""
    path = demo_model_path()
    with _lock:
        if (path / "config.json").exists():
            return path
        missing = [name for name in DEMO_FILES if not (DEMO_WEIGHTS / name).exists()]
        if missing:
            raise DemoWeightsMissing(f"The demo model's files {', '.join(missing)} are missing from {DEMO_WEIGHTS}. "
                                     "Rebuild them with `python scripts/build_demo_model.py` (about 10 minutes on "
                                     "2 CPU cores) or restore them from git.")
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(DEMO_WEIGHTS, tmp)
        tmp.rename(path)
    return path
