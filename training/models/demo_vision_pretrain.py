"""Pretraining the vision demo model: a tiny LLaVA learns to name and describe the flags of 240 invented countries
(none of them a demo country, none with a demo country's flag), drawn at every size and position, reproducibly
(fixed seed, CPU, one thread).

`scripts/build_demo_vision_model.py` runs `build_demo_vision_weights` and writes the folder committed under
training/models/demo_vision_weights/; the app copies it into the data folder and loads it with `from_pretrained`.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class VisionPretrainPlan:
    """How the vision demo model is pretrained; recorded in the weights folder (pretraining.json)."""

    seed: int = 0
    countries: int = 240
    named_pictures: int = 6  # pictures per country asked "which country?"
    described_pictures: int = 3  # pictures per country asked to describe the flag
    steps: int = 800
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01


def pretraining_chats(plan: VisionPretrainPlan) -> list[tuple[list[dict], object]]:
    """(messages, picture) pairs: every pretraining country's flag named and described, at random sizes and places."""
    from training.data.demo_vision_data import ANSWER, DESCRIBE_QUESTIONS, HELD_OUT_QUESTIONS, TRAIN_QUESTIONS, demo_flags
    from training.data.demo_vision_data import SEED as DEMO_SEED
    from training.data.demo_vision_flags import distinct_designs, random_placement, render_flag
    from training.models.demo_corpus import invented_atlas

    rng = random.Random(plan.seed)
    key = lambda d: (d.stripes, d.layout, d.emblem, d.emblem_colour)  # noqa: E731
    # never a demo country's flag; the first flags drawn with the demo's seed are left out too, as the committed
    # weights were built (the same pretraining flags, so the build stays byte-for-byte reproducible)
    taken = {key(d) for _, d in demo_flags()} | {key(d) for d in distinct_designs(12, random.Random(DEMO_SEED))}
    atlas = invented_atlas(plan.countries, plan.seed)
    designs = distinct_designs(len(atlas), rng, taken)
    naming = TRAIN_QUESTIONS + HELD_OUT_QUESTIONS
    out = []
    for (place, *_), design in zip(atlas, designs, strict=True):
        for k in range(plan.named_pictures + plan.described_pictures):
            picture = render_flag(design, random_placement(rng, (0.35, 1.0)))
            if k < plan.named_pictures:
                question, answer = rng.choice(naming), ANSWER.format(place=place)
            else:
                question, answer = rng.choice(DESCRIBE_QUESTIONS), design.describe()
            out.append(([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
                         {"role": "assistant", "content": [{"type": "text", "text": answer}]}], picture))
    rng.shuffle(out)
    return out


def build_processor(folder: Path, texts: list[str]):
    """Byte-level BPE tokenizer trained on `texts`, LLaVA's processor with the Pillow image processor; saved."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlavaProcessor, PreTrainedTokenizerFast
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    from training.models.demo_vision import CHAT_TEMPLATE, IMAGE_SIZE, PATCH_SIZE, SPECIAL_TOKENS, TEXT_ARCHITECTURE, VOCAB_SIZE

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>",
                                   pad_token="<|pad|>", unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = TEXT_ARCHITECTURE["max_position_embeddings"]
    size = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    images = LlavaImageProcessorPil(size=size, crop_size=size, do_center_crop=False)
    processor = LlavaProcessor(image_processor=images, tokenizer=fast, patch_size=PATCH_SIZE, chat_template=CHAT_TEMPLATE,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    folder.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(folder)
    return processor


def new_model(processor, seed: int):
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    from training.models.demo_vision import IMAGE_TOKEN, TEXT_ARCHITECTURE, VISION_ARCHITECTURE

    tok = processor.tokenizer
    text = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                       pad_token_id=tok.pad_token_id, tie_word_embeddings=True, **TEXT_ARCHITECTURE)
    config = LlavaConfig(vision_config=CLIPVisionConfig(**VISION_ARCHITECTURE), text_config=text,
                         image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN), vision_feature_select_strategy="default",
                         vision_feature_layer=-1, projector_hidden_act="gelu", tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model


def encode(processor, chats) -> tuple[list[list[int]], object]:
    """(token ids per example with the image tokens expanded, pixel values of every picture as one tensor)."""
    import torch

    ids, pixels = [], []
    for messages, picture in chats:
        text = processor.apply_chat_template(messages, tokenize=False)
        out = processor(text=text, images=[picture], return_tensors="pt")
        ids.append(out["input_ids"][0].tolist())
        pixels.append(out["pixel_values"][0])
    return ids, torch.stack(pixels)


def pretrain(model, processor, chats, plan: VisionPretrainPlan, log=print) -> list[dict]:
    """Train every weight on `chats` (loss on every text token, not on image tokens or padding); the losses."""
    import torch

    ids, pixels = encode(processor, chats)
    pad, image_id = processor.tokenizer.pad_token_id, model.config.image_token_index
    optimizer = torch.optim.AdamW(model.parameters(), lr=plan.learning_rate, weight_decay=plan.weight_decay,
                                  betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < plan.warmup_steps:
            return (step + 1) / plan.warmup_steps
        progress = (step - plan.warmup_steps) / max(1, plan.steps - plan.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    rng = random.Random(plan.seed)
    torch.manual_seed(plan.seed)
    model.train()
    history, started, running, order = [], time.time(), 0.0, []
    for step in range(plan.steps):
        if len(order) < plan.batch_size:
            order = list(range(len(ids)))
            rng.shuffle(order)
        picked = [order.pop() for _ in range(plan.batch_size)]
        width = max(len(ids[i]) for i in picked)
        batch = torch.full((len(picked), width), pad, dtype=torch.long)
        for row, i in enumerate(picked):
            batch[row, :len(ids[i])] = torch.tensor(ids[i])
        labels = batch.masked_fill((batch == pad) | (batch == image_id), -100)
        loss = model(input_ids=batch, attention_mask=(batch != pad).long(), pixel_values=pixels[picked], labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        running += loss.item()
        if (step + 1) % 100 == 0 or step + 1 == plan.steps:
            n = (step % 100) + 1
            history.append({"step": step + 1, "loss": round(running / n, 4), "seconds": round(time.time() - started, 1)})
            log(f"step {step + 1}/{plan.steps} loss {running / n:.3f} ({time.time() - started:.0f} s)")
            running = 0.0
    model.eval()
    return history


def build_demo_vision_weights(folder: Path, plan: VisionPretrainPlan = VisionPretrainPlan(), log=print) -> Path:
    """Processor, pretrained model and a README with the plan and losses, written into `folder` (replaced)."""
    import shutil

    import torch

    from training.data.demo_data import PLACES
    from training.models.demo_vision import DEMO_VISION_VERSION

    torch.manual_seed(plan.seed)
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    chats = pretraining_chats(plan)
    texts = [" ".join(p["text"] for m in messages for p in m["content"] if p["type"] == "text") for messages, _ in chats]
    texts += [f"This is the flag of {row[0]}." for row in PLACES]  # demo names tokenize like the others
    processor = build_processor(folder, texts)
    model = new_model(processor, plan.seed)
    started = time.time()
    history = pretrain(model, processor, chats, plan, log)
    model.save_pretrained(folder)
    (folder / "pretraining.json").write_text(json.dumps(
        {"version": DEMO_VISION_VERSION, "plan": asdict(plan), "seconds": round(time.time() - started, 1),
         "torch": torch.__version__, "losses": history}, indent=1) + "\n")
    (folder / "README.md").write_text(
        "# Vision demo model\n\nA tiny LLaVA (CLIP-style vision tower of 2 layers on 40x40 pictures, 8x8 patches, 25 image\n"
        "tokens; a Llama of 4 layers; about 1M parameters) pretrained by `scripts/build_demo_vision_model.py` to name\n"
        "and describe the flags of 240 invented countries (training/models/demo_vision_pretrain.py). It has never seen\n"
        "the flags of the demo dataset's countries. See pretraining.json for the plan and the losses.\n")
    return folder
