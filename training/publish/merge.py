"""Merging a LoRA adapter into its base model and zipping the result (GGUF: training/publish/gguf_export.py).

A full fine-tune's final/ already is a complete model, so "merging" it copies it. A LoRA run's final/ holds
an adapter: peft's `merge_and_unload` folds it into the base weights, giving a plain transformers model
that loads without peft (and that llama.cpp can convert to GGUF).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from training.config.schema import RunConfig


class ExportError(ValueError):
    """The run cannot be exported as asked; the message says why and what to do."""


def run_weights(run_dir: str | Path) -> tuple[RunConfig, Path]:
    """(config, final weights folder) of a run folder; a clear error when it has no weights."""
    from training.recipe.train import FINAL_DIR, RUN_FILE
    from training.run.engine import read_run

    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).exists():
        raise ExportError(f"{run_dir} has no {RUN_FILE}: point to a run folder written by the app or `python -m training train`.")
    record = read_run(run_dir)
    final = Path(record.get("model_dir") or run_dir / FINAL_DIR)
    if not final.is_dir():
        final = run_dir / FINAL_DIR
    if not final.is_dir():
        raise ExportError(f"Run {run_dir.name} has no saved weights (status {record.get('status')}): "
                          "only completed or stopped runs can be exported. Train it to the end, or resume it.")
    return RunConfig.from_dict(record["config"]), final


def is_adapter(model_dir: str | Path) -> bool:
    return (Path(model_dir) / "adapter_config.json").exists()


def load_merged(config: RunConfig, final: Path):
    """(model, tokenizer): the run's weights as a plain transformers model (adapter merged in)."""
    from transformers import AutoTokenizer

    from training.methods.registry import get_method
    from training.models.loading import load_model, resolve_model
    from training.models.vision_model import is_vision_model

    head = get_method(config.method).model_head
    if is_vision_model(resolve_model(config.model.name_or_path), config.model.trust_remote_code):  # saved with the run
        from training.models.pretrained import processor_from_pretrained

        tokenizer = processor_from_pretrained(str(final), config.model.trust_remote_code)
    else:
        tokenizer = AutoTokenizer.from_pretrained(final, trust_remote_code=config.model.trust_remote_code)
    if not is_adapter(final):
        return load_model(str(final), config.model.trust_remote_code, head=head), tokenizer
    from peft import PeftModel

    base = load_model(config.model.name_or_path, config.model.trust_remote_code, head=head)
    return PeftModel.from_pretrained(base, str(final)).merge_and_unload(), tokenizer


def merge_run(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the run's merged model (config, safetensors weights, tokenizer) into out_dir."""
    config, final = run_weights(run_dir)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} exists and is not empty; choose a new folder for the merged model.")
    out.mkdir(parents=True, exist_ok=True)
    if not is_adapter(final):
        shutil.copytree(final, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("training_args.bin"))
        return out
    model, tokenizer = load_merged(config, final)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def zip_folder(folder: str | Path, archive: str | Path | None = None) -> Path:
    """folder as a .zip (next to it unless archive is given); returns the zip's path."""
    folder = Path(folder)
    target = Path(archive) if archive else folder.with_suffix(".zip")
    made = shutil.make_archive(str(target.with_suffix("")), "zip", folder)
    return Path(made)
