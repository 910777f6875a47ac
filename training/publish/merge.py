"""Merging a LoRA adapter into its base model, zipping the result, and GGUF conversion where possible.

A full fine-tune's final/ already is a complete model, so "merging" it copies it. A LoRA run's final/ holds
an adapter: peft's `merge_and_unload` folds it into the base weights, giving a plain transformers model
that loads without peft (and that llama.cpp can convert to GGUF).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from training.config.schema import RunConfig

GGUF_CONVERTER = "convert_hf_to_gguf.py"
GGUF_STEPS = """GGUF conversion needs llama.cpp's converter (`convert_hf_to_gguf.py`), which is not on PyPI (the `gguf`
package alone writes GGUF files but cannot convert a Hugging Face model). To convert the merged model:

1. `git clone https://github.com/ggml-org/llama.cpp` and `pip install -r llama.cpp/requirements.txt`
2. `python llama.cpp/convert_hf_to_gguf.py MERGED_DIR --outfile model-f16.gguf --outtype f16`
3. Optional, smaller: build llama.cpp (`cmake -B build && cmake --build build`) and run
   `build/bin/llama-quantize model-f16.gguf model-Q4_K_M.gguf Q4_K_M`

Set LLAMA_CPP_DIR to that clone and the app (and `python -m training export --gguf`) runs step 2 for you."""


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
    from training.models.loading import load_model

    head = get_method(config.method).model_head
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


def gguf_converter() -> Path | None:
    """llama.cpp's converter when LLAMA_CPP_DIR points at a checkout that has it."""
    root = os.environ.get("LLAMA_CPP_DIR")
    path = Path(root).expanduser() / GGUF_CONVERTER if root else None
    return path if path is not None and path.is_file() else None


def gguf_status() -> str:
    """What the UI says about GGUF here."""
    converter = gguf_converter()
    if converter is not None:
        return f"GGUF conversion is available through {converter}."
    return GGUF_STEPS


def convert_to_gguf(merged_dir: str | Path, out_file: str | Path, outtype: str = "f16") -> Path:
    """Run llama.cpp's converter on a merged model folder (needs LLAMA_CPP_DIR; see GGUF_STEPS)."""
    converter = gguf_converter()
    if converter is None:
        raise ExportError(GGUF_STEPS)
    result = subprocess.run([sys.executable, str(converter), str(merged_dir), "--outfile", str(out_file),
                             "--outtype", outtype], capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ExportError(f"llama.cpp's converter failed on {merged_dir}: {' '.join(tail)}")
    return Path(out_file)
