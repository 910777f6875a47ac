"""What a vision-language model's image side adds to a quote: the vision tower's and projector's parameters (weights,
and gradients and optimizer states when they train), the activations the tower keeps for its backward pass (none
when it is frozen: nothing in it needs a gradient), and its FLOPs per picture. The image tokens themselves reach the
quote through the dataset's token statistics (training/data/image_tokens.py counts them as the processor makes them),
so the language model's time and memory already include them.

Checked without a GPU (tests/unit/test_vision_estimate.py): the parameter count against the demo VLM's real modules,
and the activation bytes per patch against the tensors autograd really saves in a CPU forward pass of its tower
(`torch.autograd.graph.saved_tensors_hooks`). bench/gpu_estimate.py has rows to measure on a GPU when one is lent.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VisionFacts:
    """The image side of a VLM, from its config.json."""

    hidden: int
    intermediate: int
    layers: int
    patches: int  # patches per picture (tokens inside the tower), class token included
    text_hidden: int
    patch: int = 14

    @property
    def tower_params(self) -> float:
        """A ViT (CLIP/SigLIP-style): per layer q, k, v, o with biases, a two-layer MLP, two LayerNorms; the patch
        embedding, a class token and positions; a LayerNorm before and after."""
        h, i = self.hidden, self.intermediate
        per_layer = 4 * (h * h + h) + (h * i + i + i * h + h) + 4 * h
        return self.layers * per_layer + 3 * self.patch * self.patch * h + h + self.patches * h + 4 * h

    @property
    def projector_params(self) -> float:
        return self.hidden * self.text_hidden + self.text_hidden * self.text_hidden + 2 * self.text_hidden


def vision_facts_from_config(cfg: dict) -> VisionFacts | None:
    vision = cfg.get("vision_config") if isinstance(cfg, dict) else None
    if not isinstance(vision, dict):
        return None
    try:
        h = int(vision["hidden_size"])
        size, patch = vision.get("image_size", 224), vision.get("patch_size", 14)
        size = size if isinstance(size, int) else int(size[0])
        text = cfg.get("text_config") or {}
        return VisionFacts(h, int(vision.get("intermediate_size", 4 * h)), int(vision.get("num_hidden_layers", 12)),
                           (size // int(patch)) ** 2 + 1, int(text.get("hidden_size", h)), int(patch))
    except (KeyError, TypeError, ValueError):
        return None


def vision_facts(name: str) -> VisionFacts | None:
    """The image side of a local or cached model; None for a text model or an unreadable config."""
    from training.models.loading import read_model_config

    try:
        return vision_facts_from_config(read_model_config(name) or {})
    except Exception:
        return None


def tower_activation_bytes_per_patch(vf: VisionFacts, precision: str) -> float:
    """Bytes one tower layer keeps for backward per patch (ViT layer: two LayerNorms' inputs and stats, q, k, v, the
    attention output and its softmax inputs' share, the MLP input, pre-activation and activation)."""
    e = 2 if precision in ("bf16", "fp16") else 4
    h, inter = vf.hidden, vf.intermediate
    return (2 * h + 3 * h + h + h + h) * e + 2 * inter * e + h * e


def tower_activation_bytes(vf: VisionFacts, precision: str, pictures: float) -> float:
    """Bytes the whole tower keeps for backward for `pictures` pictures: its layers, plus the patch embedding's input
    (the pixels) and the first LayerNorm's."""
    e = 2 if precision in ("bf16", "fp16") else 4
    per_patch = vf.layers * tower_activation_bytes_per_patch(vf, precision) + (3 * vf.patch * vf.patch + 2 * vf.hidden) * e
    return pictures * vf.patches * per_patch


@dataclass
class VisionCosts:
    memory: dict = field(default_factory=dict)  # GB per part, added to the quote's memory breakdown
    seconds: float = 0.0
    params: float = 0.0  # the tower's and projector's parameters
    notes: list = field(default_factory=list)


def vision_costs(vf: VisionFacts, *, precision: str, tower_trains: bool, pictures_per_step: float, pictures_per_micro: float,
                 steps: int, device_flops: float) -> VisionCosts:
    """Memory (GB) and seconds the image side adds: `pictures_per_micro` pictures in memory at once."""
    w = 2 if precision == "bf16" else 4
    params = vf.tower_params + vf.projector_params
    out = VisionCosts(params=params)
    out.memory["vision_weights"] = round(params * w / 1e9, 4)
    if tower_trains:
        out.memory["vision_gradients_optimizer"] = round(vf.tower_params * 4 * 3 / 1e9, 4)
        out.memory["vision_activations"] = round(tower_activation_bytes(vf, precision, pictures_per_micro) / 1e9, 4)
    flops = 2 * vf.tower_params * vf.patches * (3 if tower_trains else 1) * pictures_per_step
    out.seconds = steps * flops / device_flops if device_flops else 0.0
    out.notes.append(f"Vision tower: {vf.tower_params / 1e6:,.2f}M parameters + projector {vf.projector_params / 1e6:,.2f}M "
                     f"({vf.patches} patches per picture); {'trained' if tower_trains else 'frozen: forward only, keeps no activations'}; "
                     f"{out.seconds:.0f} s of tower compute; image tokens counted in the tokens per example")
    return out


def quote_vision(config, *, precision: str, steps: int, micro_batch: int, step_batch: int, peak_tflops: float,
                 mfu: float) -> VisionCosts | None:
    """The image side of `config`'s model for a quote, or None for a text model."""
    vf = vision_facts(config.model.name_or_path)
    if vf is None:
        return None
    mode = getattr(config.model, "vision_tower", "frozen")
    trains = mode != "frozen"
    return vision_costs(vf, precision=precision, tower_trains=trains, pictures_per_step=step_batch,
                        pictures_per_micro=micro_batch, steps=steps, device_flops=peak_tflops * 1e12 * mfu)

