"""Generating answers with the base model and a trained run, for the before/after view."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from training.run.answer_match import contains_fact  # noqa: F401 - the scoring rule, re-exported

_cache: OrderedDict[str, tuple] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 3
SEED = 0


def cached_models(key: str, load):
    """The (model, processing class) pair cached under `key`, or `load()`'s, kept among the _CACHE_SIZE most recently
    used (text and vision models alike: training.run.vision_inference keeps its own here)."""
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    pair = load()
    pair[0].eval()
    with _cache_lock:
        _cache[key] = pair
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return pair


def load_generator(model_name: str, adapter_dir: str | None, trust_remote_code: bool = False):
    """(model, tokenizer) for generation, cached per (base, adapter): the base model when adapter_dir is None, a
    LoRA adapter on it, or a run's full weights folder. Shared by compare, the model card samples and the chat."""
    return cached_models(f"{model_name}|{adapter_dir}", lambda: _load_text(model_name, adapter_dir, trust_remote_code))


def _load_text(model_name: str, adapter_dir: str | None, trust_remote_code: bool):
    from training.models.loading import load_model, load_tokenizer

    if adapter_dir and (Path(adapter_dir) / "adapter_config.json").exists():
        from peft import PeftModel

        tokenizer = _adapter_tokenizer(model_name, adapter_dir, trust_remote_code)
        model = PeftModel.from_pretrained(load_model(model_name, trust_remote_code), adapter_dir)
    elif adapter_dir:
        tokenizer = load_tokenizer(adapter_dir, trust_remote_code)
        model = load_model(adapter_dir, trust_remote_code)
    else:
        tokenizer = load_tokenizer(model_name, trust_remote_code)
        model = load_model(model_name, trust_remote_code)
    return model, tokenizer


def _adapter_tokenizer(model_name: str, adapter_dir: str, trust_remote_code: bool):
    """The tokenizer saved next to a LoRA adapter, else the base model's.

    An adapter folder has no config.json, so `load_tokenizer` (which resolves model folders)
    refuses it; load the saved tokenizer directly instead.
    """
    from training.models.loading import load_tokenizer

    if not (Path(adapter_dir) / "tokenizer_config.json").exists():
        return load_tokenizer(model_name, trust_remote_code)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter_dir, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def generate(model_name: str, prompt: str, trained_dir: str | None = None, system_prompt: str | None = None,
             max_new_tokens: int = 48, trust_remote_code: bool = False) -> str:
    """Greedy answer (seed 0) of the base model, or of the trained weights in trained_dir."""
    model, tokenizer = load_generator(model_name, trained_dir, trust_remote_code)
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt}]
    return greedy_answer(model, tokenizer, prompt_inputs(tokenizer, messages, model.device), max_new_tokens)


def greedy_answer(model, tokenizer, inputs: dict, max_new_tokens: int) -> str:
    """The model's greedy continuation (seed 0) of `inputs`, decoded without the prompt and special tokens."""
    import torch

    torch.manual_seed(SEED)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def prompt_inputs(tokenizer, messages: list[dict], device=None) -> dict:
    """The model's inputs for the reply to `messages` (OpenAI-style {"role", "content"}): through the tokenizer's chat
    template with the generation prompt, as training renders chats; a model without a template reads the text of the
    user and assistant turns, one per line (its system prompt has nowhere to go)."""
    if getattr(tokenizer, "chat_template", None):
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    else:
        inputs = tokenizer("\n".join(str(m.get("content", "")) for m in messages if m.get("role") != "system"),
                           return_tensors="pt")
    return {k: v.to(device) if device is not None else v for k, v in inputs.items()}


def compare(model_name: str, trained_dir: str, prompt: str, system_prompt: str | None = None,
            trust_remote_code: bool = False) -> tuple[str, str]:
    """(base answer, fine-tuned answer) for one prompt."""
    base = generate(model_name, prompt, None, system_prompt, trust_remote_code=trust_remote_code)
    tuned = generate(model_name, prompt, trained_dir, system_prompt, trust_remote_code=trust_remote_code)
    return base, tuned


# --- reward models: scores for chosen vs rejected ---------------------------------------------------------


@dataclass(frozen=True)
class PairScore:
    """A reward model's scores for one preference pair; `correct` when the chosen answer scores higher."""

    prompt: str
    chosen: str
    rejected: str
    chosen_score: float
    rejected_score: float

    @property
    def correct(self) -> bool:
        return self.chosen_score > self.rejected_score


def _message_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict) and m.get("role") != "system")
    return "" if value is None else str(value)


def _pair_text(tokenizer, prompt, answer) -> str:
    """Prompt and answer as the reward trainer saw them: through the chat template for conversational data."""
    if isinstance(answer, list) and getattr(tokenizer, "chat_template", None):
        messages = (prompt if isinstance(prompt, list) else []) + answer
        return tokenizer.apply_chat_template(messages, tokenize=False)
    text = _message_text(prompt) + _message_text(answer)
    eos = tokenizer.eos_token or ""
    return text if text.endswith(eos) else text + eos  # as TRL's RewardTrainer adds it to text data


def _load_scorer(model_name: str, model_dir: str, trust_remote_code: bool):
    from training.models.loading import load_model

    if (Path(model_dir) / "adapter_config.json").exists():
        from peft import PeftModel

        tokenizer = _adapter_tokenizer(model_name, model_dir, trust_remote_code)
        base = load_model(model_name, trust_remote_code, head="sequence_classification")
        if base.config.pad_token_id is None:
            base.config.pad_token_id = tokenizer.pad_token_id
        model = PeftModel.from_pretrained(base, model_dir)
    else:
        from training.models.loading import load_tokenizer

        tokenizer = load_tokenizer(model_dir, trust_remote_code)
        model = load_model(model_dir, trust_remote_code, head="sequence_classification")
    model.eval()
    return model, tokenizer


def score_pairs(model_name: str, model_dir: str, pairs: list[dict], trust_remote_code: bool = False,
                max_length: int = 1024) -> list[PairScore]:
    """Scores of a trained reward model (full weights or a LoRA adapter on `model_name`) for preference pairs
    {prompt (optional), chosen, rejected}, in TRL's shapes (text or messages)."""
    import torch

    model, tokenizer = _load_scorer(model_name, model_dir, trust_remote_code)
    out = []
    for pair in pairs:
        prompt = pair.get("prompt")
        texts = [_pair_text(tokenizer, prompt, pair["chosen"]), _pair_text(tokenizer, prompt, pair["rejected"])]
        batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                          add_special_tokens=False)
        with torch.no_grad():
            scores = model(**{k: v.to(model.device) for k, v in batch.items()}).logits[:, 0].float().tolist()
        out.append(PairScore(_message_text(prompt), _message_text(pair["chosen"]), _message_text(pair["rejected"]),
                             round(scores[0], 4), round(scores[1], 4)))
    return out


def score_run_pairs(config, model_dir: str, n: int = 8) -> list[PairScore]:
    """Scores of a finished reward-model run for the first n pairs of its own dataset (the demo's for `demo`)."""
    from training.data.validation import validate_dataset

    d = config.data
    report = validate_dataset(d.source, config.method, split=d.split,
                              subset=d.subset, column_map=d.column_map, max_rows=n, text_unit=d.text_unit)
    if not report.normalised:
        raise ValueError("No valid preference pairs to score in the run's dataset; run Validate on it.")
    return score_pairs(config.model.name_or_path, model_dir, report.normalised[:n], config.model.trust_remote_code,
                       config.train.max_length)
