"""The built-in demo model: a tiny random-init Llama with its own byte-level BPE tokenizer.

It is written once into the data folder and then loaded through the ordinary
`from_pretrained` path, exactly like a Hub id. Its chat template marks assistant turns
with `{% generation %}` so TRL's assistant-only loss works.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from training.data.demo_data import demo_corpus_text
from training.hosting.paths import models_dir

DEMO_MODEL_ID = "demo"
DEMO_VERSION = 1
DEMO_ARCHITECTURE = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
}
DEMO_VOCAB_SIZE = 512

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


def demo_model_path() -> Path:
    return models_dir() / f"demo-tiny-llama-v{DEMO_VERSION}"


def ensure_demo_model() -> Path:
    """Create the demo model folder if missing (thread-safe, atomic) and return its path."""
    path = demo_model_path()
    with _lock:
        if (path / "config.json").exists():
            return path
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _write_tokenizer(tmp)
        _write_model(tmp)
        tmp.rename(path)
    return path


def _write_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=DEMO_VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(demo_corpus_text().splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = DEMO_ARCHITECTURE["max_position_embeddings"]
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)


def _write_model(folder: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **DEMO_ARCHITECTURE,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    (folder / "README.md").write_text(
        "# Demo tiny Llama\n\nRandom-init Llama-style model written by the app for offline demos.\n"
        "It knows nothing until trained.\n"
    )
    (folder / "demo.json").write_text(json.dumps({"version": DEMO_VERSION}))
