"""The committed demo model: small, complete, copied into the data folder, reproducible from its script's plan."""

from __future__ import annotations

import json

from training.models.demo_model import DEMO_ARCHITECTURE, DEMO_FILES, DEMO_VOCAB_SIZE, DEMO_WEIGHTS, ensure_demo_model

MAX_MB = 10


def test_committed_weights_are_small_and_complete():
    assert all((DEMO_WEIGHTS / name).exists() for name in DEMO_FILES)
    size = sum(p.stat().st_size for p in DEMO_WEIGHTS.rglob("*") if p.is_file())
    assert size < MAX_MB * 1e6, f"{size / 1e6:.1f} MB"
    config = json.loads((DEMO_WEIGHTS / "config.json").read_text())
    assert {k: config[k] for k in DEMO_ARCHITECTURE} == DEMO_ARCHITECTURE
    assert config["vocab_size"] == DEMO_VOCAB_SIZE


def test_weights_record_the_plan_they_were_built_with():
    from dataclasses import asdict

    from training.models.demo_pretrain import PretrainPlan

    built = json.loads((DEMO_WEIGHTS / "pretraining.json").read_text())
    assert built["plan"] == asdict(PretrainPlan())  # rebuild (scripts/build_demo_model.py) after changing the plan


def test_demo_model_is_copied_into_the_data_folder(demo_model_path):
    assert demo_model_path.parent.name == "models"
    assert (demo_model_path / "model.safetensors").read_bytes() == (DEMO_WEIGHTS / "model.safetensors").read_bytes()
    assert ensure_demo_model() == demo_model_path


def test_tokenizer_model_and_tokenizer_json_tokenize_alike():
    """llama.cpp's converter reads tokenizer.model (SentencePiece), transformers reads tokenizer.json: the demo's
    GGUF files only answer like the model if both split every text into the same tokens."""
    import re

    import sentencepiece as spm
    from transformers import AutoTokenizer

    from training.models.demo_corpus import tokenizer_text
    from training.models.demo_model import SPECIAL_TOKENS

    sp = spm.SentencePieceProcessor(model_file=str(DEMO_WEIGHTS / "tokenizer.model"))
    tok = AutoTokenizer.from_pretrained(DEMO_WEIGHTS)
    assert sp.get_piece_size() == len(tok) == DEMO_VOCAB_SIZE
    assert [sp.id_to_piece(tok.convert_tokens_to_ids(t)) for t in SPECIAL_TOKENS] == SPECIAL_TOKENS
    split = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
    texts = tokenizer_text()[::5] + ["Grüße aus Köln! 東京 🙂", "  two  spaces\nand\ttabs", "Quelle est la capitale ?"]
    for text in texts:
        for part in split.split(text):
            if part and part not in SPECIAL_TOKENS:
                assert sp.encode(part) == tok(part, add_special_tokens=False)["input_ids"], part
    assert tok("Hello")["input_ids"] == sp.encode("Hello")  # no BOS added, in either
    assert tok.decode(sp.encode("Grüße 東京 🙂")) == "Grüße 東京 🙂"  # bytes outside the corpus: byte fallback
