"""Answers of a vision-language model about one picture, for the before/after view, the chat and `compare`.

The base model (a VLM id or folder) or a trained run's weights (full weights, or a LoRA adapter on the base) are
loaded once and kept (a small cache), then asked greedily (seed 0) with the picture as an image part before the
question, through the processor's chat template: the same rendering the trainer saw.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

_cache: OrderedDict[str, tuple] = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 2
SEED = 0


def _load(model_name: str, weights: str | None, trust_remote_code: bool):
    """(model, processor) of the base VLM or of trained weights (full, or an adapter on the base)."""
    key = f"{model_name}|{weights}"
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    from training.models.loading import resolve_model
    from training.models.vision_model import load_vision_model, load_vision_processor

    base = resolve_model(model_name)
    if weights and (Path(weights) / "adapter_config.json").exists():
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_vision_model(base, trust_remote_code=trust_remote_code), weights)
        source = weights if (Path(weights) / "processor_config.json").exists() else base
    else:
        model = load_vision_model(weights or base, trust_remote_code=trust_remote_code)
        source = weights or base
    processor = load_vision_processor(source, trust_remote_code)
    model.eval()
    with _lock:
        _cache[key] = (model, processor)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model, processor


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def open_picture(image):
    """A PIL RGB image from a path, a PIL image or {"bytes", "path"}."""
    import io

    from PIL import Image

    if isinstance(image, dict):
        image = io.BytesIO(image["bytes"]) if image.get("bytes") else image.get("path")
    picture = image if isinstance(image, Image.Image) else Image.open(image)
    return picture.convert("RGB")


def generate_with_image(model_name: str, prompt: str, image, trained_dir: str | None = None,
                        system_prompt: str | None = None, max_new_tokens: int = 48, trust_remote_code: bool = False) -> str:
    """Greedy answer (seed 0) about `image` (a path or PIL image) of the base VLM, or of the weights in trained_dir."""
    import torch

    model, processor = _load(model_name, trained_dir, trust_remote_code)
    messages = ([{"role": "system", "content": [{"type": "text", "text": system_prompt}]}] if system_prompt else []) + [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=text, images=[open_picture(image)], return_tensors="pt")
    inputs = {k: v.to(model.device) for k, v in inputs.items()}
    tokenizer = processor.tokenizer
    torch.manual_seed(SEED)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
