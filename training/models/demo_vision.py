"""The built-in vision demo model (`demo-vision`): a tiny LLaVA (a CLIP-style vision tower, a projector and a small
Llama) pretrained by this project to name and describe the flags of invented countries.

`scripts/build_demo_vision_model.py` pretrains it reproducibly (training/models/demo_vision_pretrain.py) into
`DEMO_VISION_WEIGHTS` (committed, about 5 MB). On first use it is copied into the data folder and then loaded through
the ordinary `from_pretrained` paths (`AutoModelForImageTextToText`, `AutoProcessor`), exactly like a Hub id. Its
processor is LLaVA's with the Pillow image processor, so nothing needs torchvision.
Before tuning it names one of its 240 pretraining countries for any flag; it has never seen the demo's flags.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from training.hosting.paths import models_dir
from training.models.errors import ModelLoadError

DEMO_VISION_MODEL_ID = "demo-vision"
DEMO_VISION_VERSION = 1
IMAGE_SIZE = 40
PATCH_SIZE = 8
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # CLIP's class token is dropped ("default" feature selection)
VISION_ARCHITECTURE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE, "projection_dim": 64}
TEXT_ARCHITECTURE = {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4, "num_attention_heads": 4,
                     "num_key_value_heads": 4, "max_position_embeddings": 256}
VOCAB_SIZE = 512
IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>", IMAGE_TOKEN]
DEMO_VISION_WEIGHTS = Path(__file__).resolve().parent / "demo_vision_weights"
DEMO_VISION_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "processor_config.json", "chat_template.jinja")

# Content may be a string or a list of parts ({"type": "image"} becomes the image token the processor expands);
# assistant turns are wrapped in {% generation %} so TRL's assistant-only loss works for images too.
_CONTENT = ("{% if message['content'] is string %}{{ message['content'] }}{% else %}"
            "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>' }}"
            "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}" + _CONTENT + "{{ '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}" + _CONTENT + "{{ '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_lock = threading.Lock()


class DemoVisionWeightsMissing(ModelLoadError):
    """The committed vision demo weights are not in the checkout."""


def demo_vision_model_path() -> Path:
    return models_dir() / f"demo-tiny-llava-v{DEMO_VISION_VERSION}"


def ensure_demo_vision_model() -> Path:
    """Copy the committed vision demo model into the data folder if missing (thread-safe, atomic); return its path."""
    path = demo_vision_model_path()
    with _lock:
        if (path / "config.json").exists():
            return path
        missing = [name for name in DEMO_VISION_FILES if not (DEMO_VISION_WEIGHTS / name).exists()]
        if missing:
            raise DemoVisionWeightsMissing(
                f"The vision demo model's files {', '.join(missing)} are missing from {DEMO_VISION_WEIGHTS}. Rebuild "
                "them with `python scripts/build_demo_vision_model.py` (a few minutes on 2 CPU cores) or restore them "
                "from git.")
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(DEMO_VISION_WEIGHTS, tmp)
        tmp.rename(path)
    return path
