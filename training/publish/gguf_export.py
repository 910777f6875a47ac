"""A run to GGUF files people run: merged (LoRA folded in), converted and quantized by llama.cpp, checked with
llama.cpp's runtime on the run's held-out questions, with an Ollama Modelfile and a README.

    export_gguf(run_dir, out_dir, ["q8_0", "q4_k_m"], progress) ->
        {"files": [{"path", "quant", "bytes", "answers_match", "questions", "fallback_tensors", "notes"}],
         "modelfile": path, "readme": path, "comparison": [{"prompt", "merged", "<QUANT>": answer, ...}],
         "template_exact": bool, "template_note": str}

Stages (each reported with an ETA): download and build llama.cpp (once; training/publish/gguf_llama.py), merge,
convert, quantize (training/publish/gguf_convert.py), check (training/publish/gguf_check.py). A failure at any
stage leaves no `.gguf` behind in the output folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from training.publish.gguf_convert import (
    DEFAULT_TYPES,
    check_disk,
    file_name,
    hub_file,
    parameter_count,
    parse_types,
    prepare_for_converter,
    write_types,
)
from training.publish.gguf_llama import GgufError, Progress, StageClock, ensure_llama_cpp
from training.publish.gguf_modelfile import modelfile_text, readme_text

MODELFILE = "Modelfile"
README = "README.md"


def run_name(run_dir: Path, record: dict) -> str:
    return str(record.get("run_name") or record.get("run_id") or run_dir.name)


def _base_file(base: str, name: str) -> Path | None:
    """A file of the base model: its folder (`demo` included), else the Hub (cache first)."""
    from training.models.loading import ModelLoadError, resolve_model

    try:
        where = resolve_model(base)
    except ModelLoadError:
        return None
    if Path(where).is_dir():
        path = Path(where) / name
        return path if path.is_file() else None
    return hub_file(where, name)


def stage_model(run_dir: Path, staging: Path, base: str, clock: StageClock) -> Path:
    """The run's merged model in `staging` (LoRA merged, a full fine-tune copied), made ready for the converter."""
    from training.publish.merge import merge_run

    clock("merge", 0.0, "the run's weights into one model")
    model_dir = merge_run(run_dir, staging / "model")
    prepare_for_converter(model_dir, lambda name: _base_file(base, name))
    clock("merge", 1.0)
    return model_dir


def _check_output_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise GgufError(f"{out_dir} is a file; give a folder for the GGUF files.")
    out_dir.mkdir(parents=True, exist_ok=True)
    probe = out_dir / ".write-test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise GgufError(f"Cannot write into {out_dir} ({exc.strerror}); choose a folder you can write to.") from None


def export_gguf(run_dir: str | Path, out_dir: str | Path, types=DEFAULT_TYPES, progress: Progress | None = None,
                check: bool = True) -> dict:
    """Write OUT_DIR/<name>-<TYPE>.gguf for each type, a Modelfile and a README; check them with llama.cpp."""
    from training.publish.merge import ExportError, run_weights
    from training.run.engine import read_run

    clock = StageClock(progress)
    types = parse_types(types)
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    try:
        config, final = run_weights(run_dir)
    except ExportError as exc:
        raise GgufError(str(exc)) from None
    record = read_run(run_dir)
    name = run_name(run_dir, record)
    _check_output_folder(out_dir)
    llama = ensure_llama_cpp(clock)
    staging = Path(tempfile.mkdtemp(prefix=".gguf-staging-", dir=out_dir))
    try:
        model_dir = stage_model(run_dir, staging, config.model.name_or_path, clock)
        check_disk(out_dir, parameter_count(model_dir), types)
        written = write_types(llama, model_dir, out_dir, name, types, clock)
        try:
            result = _describe(written, record, run_dir, model_dir, llama, clock, check)
            result.update(_write_side_files(out_dir, name, written, model_dir, record))
        except BaseException:
            for item in written:  # a file that cannot be checked or described is not left behind either
                item.path.unlink(missing_ok=True)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _describe(written, record, run_dir: Path, model_dir: Path, llama, clock: StageClock, check: bool) -> dict:
    from training.run.compare import held_out_records

    files = [{"path": str(w.path), "quant": w.quant, "bytes": w.bytes, "answers_match": None, "questions": 0,
              "fallback_tensors": w.fallbacks, "notes": w.notes} for w in written]
    comparison: list[dict] = []
    if check:
        from training.publish.gguf_check import check_answers, same_answer

        records, _source = held_out_records(run_dir, record)
        if records:
            merged, answers = check_answers(llama, [w.path for w in written], model_dir, records, clock)
            comparison = [{"prompt": r["prompt"], "merged": m} for r, m in zip(records, merged, strict=True)]
            for f, w in zip(files, written, strict=True):
                got = answers[w.path]
                f["questions"] = len(records)
                f["answers_match"] = sum(same_answer(a, b) for a, b in zip(got, merged, strict=True))
                for row, answer in zip(comparison, got, strict=True):
                    row[w.quant.upper()] = answer
    return {"files": files, "comparison": comparison}


def _write_side_files(out_dir: Path, name: str, written, model_dir: Path, record: dict) -> dict:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    generation = {}
    if (model_dir / "generation_config.json").is_file():
        generation = json.loads((model_dir / "generation_config.json").read_text())
    context = json.loads((model_dir / "config.json").read_text()).get("max_position_embeddings")
    preferred = next((w for w in written if w.quant == "q4_k_m"), written[0])
    text, info = modelfile_text(preferred.path.name, tokenizer, record.get("system_prompt"), generation, context)
    modelfile = out_dir / MODELFILE
    modelfile.write_text(text)
    readme = out_dir / README
    readme.write_text(readme_text(name, [{"path": w.path, "quant": w.quant, "bytes": w.bytes} for w in written],
                                  MODELFILE))
    return {"modelfile": str(modelfile), "readme": str(readme), "template_exact": info["exact"],
            "template_note": info["note"]}


def expected_names(run_dir: str | Path, types) -> list[str]:
    """The file names an export of this run writes (for the UI and the Hub card)."""
    from training.run.engine import read_run

    record = read_run(Path(run_dir))
    return [file_name(run_name(Path(run_dir), record), q) for q in parse_types(types)]
