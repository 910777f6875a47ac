"""Pretraining the demo model: a small Llama learns English-like sentences and question answering from the
generated corpus (training/models/demo_corpus.py), reproducibly (fixed seed, CPU, one thread order).

`scripts/build_demo_model.py` runs `build_demo_weights` and writes the folder that is committed under
training/models/demo_weights/; the app copies it into the data folder and loads it with `from_pretrained`.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class PretrainPlan:
    """How the demo model is pretrained; recorded in the weights folder (pretraining.json)."""

    seed: int = 0
    places: int = 240
    steps: int = 1200
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    max_length: int = 96


def build_tokenizer(folder: Path, lines: list[str]):
    """A llama-style SentencePiece BPE tokenizer (byte fallback, no dummy prefix) trained on `lines`, with the demo
    chat template, saved in `folder` as `tokenizer.model` (what llama.cpp's GGUF converter reads) and the same
    vocabulary and merges as a `tokenizer.json` (what transformers reads; both tokenize every text alike)."""
    import io

    import sentencepiece as spm
    from transformers import LlamaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    from training.models.demo_model import CHAT_TEMPLATE, DEMO_ARCHITECTURE, DEMO_VOCAB_SIZE, SPECIAL_TOKENS

    bos, start, end, pad = SPECIAL_TOKENS
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="bpe", vocab_size=DEMO_VOCAB_SIZE,
        character_coverage=1.0, byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=False, unk_id=0, bos_id=1, eos_id=2, pad_id=3, unk_piece="<unk>", bos_piece=bos,
        eos_piece=end, pad_piece=pad, user_defined_symbols=[start], num_threads=1, max_sentence_length=100000,
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    fast = LlamaTokenizer(vocab=vocab, merges=generate_merges(vocab, skip_tokens=["<unk>", *SPECIAL_TOKENS]),
                          add_prefix_space=False, unk_token="<unk>", bos_token=bos, eos_token=end, pad_token=pad,
                          add_bos_token=False, add_eos_token=False, additional_special_tokens=[start])
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = DEMO_ARCHITECTURE["max_position_embeddings"]
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    config_file = folder / "tokenizer_config.json"  # said outright, so llama.cpp adds no BOS that transformers does not
    config = json.loads(config_file.read_text())
    config.update(add_bos_token=False, add_eos_token=False)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return fast


def new_model(tokenizer, seed: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from training.models.demo_model import DEMO_ARCHITECTURE

    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=True, **DEMO_ARCHITECTURE)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _batches(encoded: list[list[int]], plan: PretrainPlan, pad_id: int):
    """Endless seeded stream of (input_ids, labels) batches, padded to the longest row of each batch."""
    import torch

    rng = random.Random(plan.seed)
    order: list[int] = []
    while True:
        if len(order) < plan.batch_size:
            order = list(range(len(encoded)))
            rng.shuffle(order)
        rows = [encoded[order.pop()] for _ in range(plan.batch_size)]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            labels[i, :len(r)] = torch.tensor(r)
        yield ids, labels


def pretrain(model, tokenizer, texts: list[str], plan: PretrainPlan, log=print, snapshot=None) -> list[dict]:
    """Train `model` on `texts` (causal LM loss on every token) per `plan`; returns the logged losses.
    `snapshot(step)`, when given, is called every 200 steps (to try the model out while it trains)."""
    import torch

    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"][:plan.max_length] for t in texts]
    optimizer = torch.optim.AdamW(model.parameters(), lr=plan.learning_rate, weight_decay=plan.weight_decay,
                                  betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < plan.warmup_steps:
            return (step + 1) / plan.warmup_steps
        progress = (step - plan.warmup_steps) / max(1, plan.steps - plan.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    torch.manual_seed(plan.seed)
    model.train()
    history, started, running = [], time.time(), 0.0
    stream = _batches(encoded, plan, tokenizer.pad_token_id)
    for step in range(plan.steps):
        ids, labels = next(stream)
        loss = model(input_ids=ids, attention_mask=(ids != tokenizer.pad_token_id).long(), labels=labels).loss
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
        if snapshot is not None and (step + 1) % 200 == 0:
            snapshot(step + 1)
            model.train()
    model.eval()
    return history


def build_demo_weights(folder: Path, plan: PretrainPlan = PretrainPlan(), log=print) -> Path:
    """Tokenizer, pretrained model and a README with the plan and losses, written into `folder` (replaced)."""
    import shutil

    import torch

    from training.models.demo_corpus import pretraining_examples, tokenizer_text
    from training.models.demo_model import DEMO_VERSION

    torch.manual_seed(plan.seed)
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    tokenizer = build_tokenizer(folder, tokenizer_text(plan.places, plan.seed))
    model = new_model(tokenizer, plan.seed)
    started = time.time()
    history = pretrain(model, tokenizer, pretraining_examples(plan.places, plan.seed), plan, log)
    model.save_pretrained(folder)
    (folder / "pretraining.json").write_text(json.dumps(
        {"version": DEMO_VERSION, "plan": asdict(plan), "seconds": round(time.time() - started, 1),
         "torch": torch.__version__, "losses": history}, indent=1) + "\n")
    (folder / "README.md").write_text(
        "# Demo model\n\nA small Llama-style model (about 0.9M parameters, a llama-style SentencePiece BPE vocabulary of\n"
        "512 with byte fallback: `tokenizer.model`, and the same as `tokenizer.json`) pretrained by\n"
        "`scripts/build_demo_model.py` on a generated corpus of English-like sentences, small talk and an atlas of\n"
        "invented countries (training/models/demo_corpus.py). It answers in sentences and knows none of the demo\n"
        "dataset's facts. See pretraining.json for the plan and the losses.\n")
    return folder
