"""The one place that calls `from_pretrained`: a tokenizer with a pad token, and a model with the head a method needs.

Two callers add what is theirs: training/models/loading.py resolves `demo`, folders and Hub ids for the app and
turns failures into plain words; training/recipe/model.py adds the run's precision and 4-bit quantization (it
ships in the exported script, so this module uses only the standard library at the top).
"""

from __future__ import annotations


def tokenizer_from_pretrained(ref: str, trust_remote_code: bool = False, token: bool | str | None = None):
    """The tokenizer at `ref` (a folder or Hub id), with the end-of-text token as pad token when it has none. `token`:
    False reads the Hub anonymously (a visitor), None with HF_TOKEN."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ref, trust_remote_code=trust_remote_code, token=token)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def processor_from_pretrained(ref: str, trust_remote_code: bool = False, token: bool | str | None = None):
    """The processor of a vision-language model at `ref` (its tokenizer, with a pad token, and image processor)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(ref, trust_remote_code=trust_remote_code, token=token)
    if processor.tokenizer.pad_token is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    return processor


def model_from_pretrained(ref: str, head: str = "causal_lm", trust_remote_code: bool = False, pad_token_id=None, **kwargs):
    """The model at `ref` with a language-modelling head, head="image_text_to_text" for a vision-language model, or
    head="sequence_classification" for a one-score head (reward models; its pad token id is set from `pad_token_id`
    when the config has none, since the score is read at the last non-pad token). kwargs go to from_pretrained
    (dtype, quantization_config)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoModelForSequenceClassification

    if head == "image_text_to_text":
        return AutoModelForImageTextToText.from_pretrained(ref, trust_remote_code=trust_remote_code, **kwargs)

    if head == "sequence_classification":
        model = AutoModelForSequenceClassification.from_pretrained(ref, num_labels=1, trust_remote_code=trust_remote_code, **kwargs)
        if model.config.pad_token_id is None and pad_token_id is not None:
            model.config.pad_token_id = pad_token_id
        return model
    return AutoModelForCausalLM.from_pretrained(ref, trust_remote_code=trust_remote_code, **kwargs)
