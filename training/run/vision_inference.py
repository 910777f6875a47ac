"""Answers of a vision-language model about pictures, for the before/after view, the chat and `compare`.

The base model (a VLM id or folder) or a trained run's weights (full weights, or a LoRA adapter on the base) are
loaded once and kept (the cache of training.run.inference), then asked with the pictures as image parts before the
text of their turn, through the processor's chat template: the same rendering the trainer saw.
"""

from __future__ import annotations

from pathlib import Path

from training.run.inference import cached_models, greedy_answer


def load_vision_generator(model_name: str, weights: str | None, trust_remote_code: bool = False):
    """(model, processor) of the base VLM or of trained weights (full, or an adapter on the base), cached."""
    return cached_models(f"vision|{model_name}|{weights}", lambda: _load(model_name, weights, trust_remote_code))


def _load(model_name: str, weights: str | None, trust_remote_code: bool):
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
    return model, load_vision_processor(source, trust_remote_code)


def open_picture(image):
    """A PIL RGB image from a path, bytes, a PIL image or {"bytes", "path"}."""
    import io

    from PIL import Image

    if isinstance(image, dict):
        image = image.get("bytes") or image.get("path")
    if isinstance(image, (bytes, bytearray)):
        image = io.BytesIO(image)
    picture = image if isinstance(image, Image.Image) else Image.open(image)
    return picture.convert("RGB")


def vision_inputs(processor, messages: list[dict], device=None) -> dict:
    """The model's inputs for the reply to `messages`: {"role", "content": str, "images": [picture, ...] (optional)}
    turns, each turn's pictures as image parts before its text, rendered by the processor's chat template with the
    generation prompt."""
    turns, pictures = [], []
    for m in messages:
        images = m.get("images") or []
        pictures += [open_picture(i) for i in images]
        turns.append({"role": m["role"], "content": [{"type": "image"} for _ in images]
                      + [{"type": "text", "text": m.get("content") or ""}]})
    text = processor.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=text, images=pictures or None, return_tensors="pt")
    return {k: v.to(device) if device is not None else v for k, v in inputs.items()}


def generate_with_image(model_name: str, prompt: str, image, trained_dir: str | None = None,
                        system_prompt: str | None = None, max_new_tokens: int = 48, trust_remote_code: bool = False) -> str:
    """Greedy answer (seed 0) about `image` (a path or PIL image) of the base VLM, or of the weights in trained_dir."""
    model, processor = load_vision_generator(model_name, trained_dir, trust_remote_code)
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt, "images": [image]}]
    return greedy_answer(model, processor.tokenizer, vision_inputs(processor, messages, model.device), max_new_tokens)
