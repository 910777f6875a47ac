"""GPU rows for the estimate's image side (used by bench/gpu_estimate.py --vision): a LLaVA-shaped model with a
SigLIP/CLIP-base-sized vision tower (12 layers, hidden 768, 224 px, 14 px patches: 256 image tokens) on a
Qwen2.5-0.5B-shaped language model, random-initialised from its config (no download), trained a few real steps on
generated pictures through the engine's dry run, with the tower frozen, trained, or with LoRA; estimate vs measured
peak reserved memory and seconds per step. Without a GPU the estimates alone are printed."""

from __future__ import annotations

import json
import random
from pathlib import Path

ROWS = [  # (peft, vision_tower, batch)
    ("lora", "frozen", 4), ("lora", "frozen", 16), ("lora", "lora", 8), ("full", "frozen", 8), ("full", "train", 8),
]
TOWER = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
         "image_size": 224, "patch_size": 14, "projection_dim": 768}
TEXT = {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
        "num_key_value_heads": 2, "max_position_embeddings": 4096, "vocab_size": 151936}


def write_model(folder: Path, weights: bool) -> Path:
    """The model's config and processor (from the demo VLM's, with the bigger sizes); weights when asked."""
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, Qwen2Config

    from training.models.demo_vision import ensure_demo_vision_model
    from training.models.pretrained import processor_from_pretrained

    processor = processor_from_pretrained(str(ensure_demo_vision_model()))
    size = {"height": TOWER["image_size"], "width": TOWER["image_size"]}
    processor.image_processor.size, processor.image_processor.crop_size = size, size
    processor.patch_size = TOWER["patch_size"]
    tok = processor.tokenizer
    config = LlavaConfig(vision_config=CLIPVisionConfig(**TOWER), text_config=Qwen2Config(
        **TEXT, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
        image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default",
        vision_feature_layer=-1)
    folder.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(folder)
    if weights:
        LlavaForConditionalGeneration(config).save_pretrained(folder)
    else:
        config.save_pretrained(folder)
    return folder


def write_dataset(folder: Path, rows: int = 64) -> Path:
    from training.data.demo_vision_flags import random_design, random_placement, render_flag

    rng = random.Random(0)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        design = random_design(rng)
        render_flag(design, random_placement(rng, (0.4, 1.0), canvas=(200, 320))).save(folder / "images" / f"{i}.png")
        lines.append(json.dumps({"messages": [{"role": "user", "content": "<image>Describe this flag."},
                                              {"role": "assistant", "content": design.describe()}],
                                 "images": [f"images/{i}.png"]}))
    (folder / "data.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "data.jsonl"


def row_config(model: Path, data: Path, peft: str, tower: str, batch: int):
    from training.config.schema import RunConfig

    config = RunConfig()
    config.model.name_or_path, config.model.vision_tower, config.data.source = str(model), tower, str(data)
    config.lora.enabled = peft == "lora"
    config.train.batch_size, config.train.grad_accum, config.train.max_length = batch, 1, 512
    config.train.gradient_checkpointing = False
    return config


def run_rows(folder: Path, hardware: str, measure: bool) -> None:
    from training.estimate.quote import estimate_run

    model, data = write_model(folder / "model", weights=measure), write_dataset(folder / "data")
    print(f"{'vision row':34} {'GB est':>7} {'GB meas':>7} {'s/step est':>10} {'meas':>6}")
    for peft, tower, batch in ROWS:
        config = row_config(model, data, peft, tower, batch)
        est = estimate_run(config, 64, 300.0, hardware, use_measurements=False, prices=False, suggest=False, compare=False)
        measured_gb = measured_s = None
        if measure:
            from training.run.dry_run import dry_run

            report = dry_run(config, steps=4)
            measured_gb, measured_s = report.peak_memory_gb, report.seconds_per_step
        per_step = est.time_breakdown["training"] / est.steps
        print(f"{peft + ' tower ' + tower + f' b{batch}':34} {est.gpu_memory_gb:7.2f} {measured_gb or 0:7.2f} "
              f"{per_step:10.3f} {measured_s or 0:6.3f}", flush=True)
