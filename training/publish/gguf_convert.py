"""A model folder to GGUF files with llama.cpp's own code: `convert_hf_to_gguf.py` writes f32/f16/bf16/q8_0, and
`llama-quantize` makes every other type (Q4_K_M, Q5_K_M, ...) from the f16 (or bf16) file.

Nothing is left half-written: each file is written as `NAME.partial` and renamed when complete; on any failure the
partial files and the intermediate f16 file are removed. Before writing, the free space of the output folder is
checked against the sizes the files will have, and a disk that fills up anyway ("No space left on device") is
reported as such.

K-quants work on blocks of 256 values: a tensor whose rows are not a multiple of 256 (every tensor of a tiny model)
is quantized with llama-quantize's fallback type instead (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0). The result lists
how many tensors fell back.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from training.publish.gguf_llama import GgufError, LlamaCpp, StageClock
from training.publish.gguf_modelfile import strip_generation_tags

CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")
QUANTIZE_TYPES = ("q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q2_k_s", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m",
                  "q5_k_s", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs", "iq3_xxs", "iq3_s", "iq3_m", "iq3_xs", "iq2_xxs",
                  "iq2_xs", "iq2_s", "iq2_m", "iq1_s", "iq1_m", "tq1_0", "tq2_0")
ALL_TYPES = CONVERTER_TYPES + QUANTIZE_TYPES
BITS_PER_WEIGHT = {"f32": 32, "f16": 16, "bf16": 16, "q8_0": 8.5, "q6_k": 6.6, "q5_k_m": 5.7, "q5_k_s": 5.5,
                   "q5_0": 5.5, "q5_1": 6, "q4_k_m": 4.9, "q4_k_s": 4.6, "q4_0": 4.5, "q4_1": 5}  # others: 4.5
DEFAULT_TYPES = ("q4_k_m",)
DISK_MARGIN = 1.15 + 0.05  # the files' estimated size plus metadata and a margin
TOKENIZER_FILES = ("tokenizer.model",)  # what llama.cpp's converter reads and `save_pretrained` does not write back
TOKENIZER_FLAGS = ("add_bos_token", "add_eos_token", "add_prefix_space")


@dataclass
class Converted:
    quant: str
    path: Path
    bytes: int
    fallbacks: int = 0  # tensors llama-quantize gave another type (rows not a multiple of the block size)
    notes: list[str] = field(default_factory=list)


def hub_file(repo_id: str, name: str) -> Path | None:
    """A file of a Hub model (the local cache first), or None when it has none or the Hub cannot be reached."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, name))
    except Exception:  # noqa: BLE001 - no such file, or offline
        return None


def prepare_for_converter(model_dir: Path, base_file) -> None:
    """Make a merged model folder convert as it tokenizes in transformers: the base model's SentencePiece
    `tokenizer.model` and BOS/EOS flags when saving the tokenizer after training dropped them (transformers writes only
    tokenizer.json; without them llama.cpp would tokenize differently), and a chat template without TRL's
    `{% generation %}` markers, which other runtimes' Jinja does not know. `base_file(name)` finds a base model file."""
    for name in TOKENIZER_FILES:
        if not (model_dir / name).is_file() and (found := base_file(name)) is not None:
            shutil.copyfile(found, model_dir / name)
    config_file = model_dir / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else None
    base_config = base_file("tokenizer_config.json")
    if config is not None and base_config is not None:
        original = json.loads(Path(base_config).read_text())
        config.update({k: original[k] for k in TOKENIZER_FLAGS if k in original and k not in config})
    tokenizer_json = model_dir / "tokenizer.json"
    if config is not None and "added_tokens_decoder" not in config and tokenizer_json.is_file():
        # transformers 5 keeps the added tokens in tokenizer.json only; the converter reads them here to mark special
        # tokens as control tokens, which llama.cpp then parses out of a prompt whole (a chat template's markers)
        added = json.loads(tokenizer_json.read_text()).get("added_tokens") or []
        config["added_tokens_decoder"] = {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                        "single_word", "special") if k in a}
                                          for a in added}
    if config is not None and isinstance(config.get("chat_template"), str):
        config["chat_template"] = strip_generation_tags(config["chat_template"])
    if config is not None:
        config_file.write_text(json.dumps(config, indent=2))
    template = model_dir / "chat_template.jinja"
    if template.is_file():
        template.write_text(strip_generation_tags(template.read_text()))


def parse_types(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """'q8_0,Q4_K_M' -> ['q8_0', 'q4_k_m'], each a type llama.cpp writes; a clear error for any other."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    out = []
    for item in items:
        name = str(item).strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in ALL_TYPES:
            raise GgufError(f"GGUF type {item!r} is not one llama.cpp writes. Choose from: {', '.join(ALL_TYPES)} "
                            "(q8_0 is almost lossless; q4_k_m is the usual small one).")
        if name not in out:
            out.append(name)
    if not out:
        raise GgufError(f"Name at least one GGUF type, e.g. q8_0 or q4_k_m (choose from: {', '.join(ALL_TYPES)}).")
    return out


def file_name(name: str, quant: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"
    return f"{safe}-{quant.upper()}.gguf"


def parameter_count(model_dir: Path) -> int:
    """Parameters in the folder's safetensors files (from their headers; nothing is loaded)."""
    total = 0
    for path in sorted(model_dir.glob("*.safetensors")):
        with open(path, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        for name, info in header.items():
            if name != "__metadata__":
                n = 1
                for d in info["shape"]:
                    n *= d
                total += n
    return total


def estimated_bytes(params: int, quant: str) -> int:
    return int(params * BITS_PER_WEIGHT.get(quant, 4.5) / 8)


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def check_disk(out_dir: Path, params: int, types: list[str]) -> None:
    """A clear error before anything is written when the output folder's disk cannot hold the files."""
    need = sum(estimated_bytes(params, q) for q in types)
    if any(q not in CONVERTER_TYPES for q in types) and "f16" not in types:
        need += estimated_bytes(params, "f16")  # the intermediate file llama-quantize reads
    need = int(need * DISK_MARGIN) + 1_000_000
    free = free_bytes(out_dir)
    if free < need:
        raise GgufError(f"Not enough disk space in {out_dir} for the GGUF files: they need about {need / 1e6:,.0f} MB "
                        f"and {free / 1e6:,.0f} MB is free. Free some space or choose another output folder "
                        "(or fewer, smaller types).")


def base_type(model_dir: Path) -> str:
    """f16, or bf16 for a model stored in bfloat16 (f16 can overflow its large values)."""
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return "f16"
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "")
    return "bf16" if "bfloat16" in dtype else "f16"


def _disk_full(text: str) -> bool:
    return "No space left on device" in text or "ENOSPC" in text or "Errno 28" in text


def _tail(text: str, n: int = 4) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])[-600:]


def _converter_error(model_dir: Path, output: str, out_dir: Path) -> GgufError:
    if _disk_full(output):
        return GgufError(f"The disk holding {out_dir} filled up while writing the GGUF file (no space left on "
                         "device). Free some space or choose another output folder; nothing was kept.")
    m = re.search(r"Model (\S+) is not supported", output)
    if m:
        return GgufError(f"llama.cpp's converter does not support the architecture {m.group(1)} (from "
                         f"{model_dir.name}/config.json), so this model cannot become a GGUF file. Models of "
                         "llama.cpp's supported families (Llama, Qwen, Mistral, Gemma, Phi, ...) convert; see "
                         "https://github.com/ggml-org/llama.cpp#text-only for the list.")
    if "BPE pre-tokenizer was not recognized" in output:
        return GgufError("llama.cpp's converter does not know this model's BPE tokenizer (its pre-tokenizer hash is not "
                         "in convert_hf_to_gguf.py). Models published on the Hub with a known tokenizer convert; a "
                         "home-made tokenizer needs to be registered in llama.cpp first.")
    return GgufError(f"llama.cpp's converter failed on {model_dir.name}: {_tail(output)}")


def _run(cmd: list[str], on_line=None, env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, errors="replace")
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line)
    return proc.wait(), "".join(lines)


def convert(llama: LlamaCpp, model_dir: Path, outfile: Path, outtype: str, clock: StageClock) -> None:
    """llama.cpp's converter: model_dir -> outfile of type outtype (f32, f16, bf16 or q8_0)."""
    tensors = max(1, _tensor_count(model_dir))
    seen = [0]

    def on_line(line: str) -> None:
        if re.match(r"INFO:hf-to-gguf:[\w.]+,\s+torch", line) or re.match(r"INFO:hf-to-gguf:\S+\.weight", line):
            seen[0] += 1
            clock(f"convert to {outtype.upper()}", min(0.9, 0.9 * seen[0] / tensors), f"{seen[0]} of {tensors} tensors")
        elif "Writing" in line:
            clock(f"convert to {outtype.upper()}", 0.95, "writing")

    clock(f"convert to {outtype.upper()}", 0.0, "llama.cpp's convert_hf_to_gguf.py")
    code, output = _run([sys.executable, str(llama.converter), str(model_dir), "--outfile", str(outfile),
                         "--outtype", outtype], on_line)
    if code != 0 or not outfile.is_file():
        outfile.unlink(missing_ok=True)
        raise _converter_error(model_dir, output, outfile.parent)
    clock(f"convert to {outtype.upper()}", 1.0)


def quantize(llama: LlamaCpp, source: Path, outfile: Path, quant: str, clock: StageClock) -> Converted:
    """llama-quantize: source (f16/bf16 GGUF) -> outfile of type quant; counts the tensors that fell back."""
    stage = f"quantize to {quant.upper()}"

    def on_line(line: str) -> None:
        m = re.match(r"\[\s*(\d+)/\s*(\d+)\]", line)
        if m:
            clock(stage, int(m.group(1)) / max(1, int(m.group(2))), f"tensor {m.group(1)} of {m.group(2)}")

    clock(stage, 0.0, "llama.cpp's llama-quantize")
    code, output = _run([str(llama.tool("llama-quantize")), str(source), str(outfile), quant.upper()], on_line)
    if code != 0 or not outfile.is_file():
        outfile.unlink(missing_ok=True)
        if _disk_full(output):
            raise GgufError(f"The disk holding {outfile.parent} filled up while quantizing to {quant.upper()} (no space "
                            "left on device). Free some space or choose another output folder; nothing was kept.")
        raise GgufError(f"llama-quantize could not make {quant.upper()}: {_tail(output)}")
    fallbacks = len(re.findall(r"falling back to", output))
    notes = []
    if fallbacks:
        kinds = sorted(set(re.findall(r"falling back to\s+(\S+)", output)))
        notes.append(f"{fallbacks} tensors have rows that are not a multiple of the {quant.upper()} block size, so "
                     f"llama-quantize stored them as {', '.join(k.upper() for k in kinds)} instead")
    clock(stage, 1.0)
    return Converted(quant, outfile, outfile.stat().st_size, fallbacks, notes)


def _tensor_count(model_dir: Path) -> int:
    count = 0
    for path in model_dir.glob("*.safetensors"):
        with open(path, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        count += sum(1 for k in header if k != "__metadata__")
    return count


def write_types(llama: LlamaCpp, model_dir: Path, out_dir: Path, name: str, types: list[str],
                clock: StageClock) -> list[Converted]:
    """Every requested type into out_dir as NAME-TYPE.gguf (atomically); the intermediate file is removed."""
    done: list[Converted] = []
    partials: list[Path] = []
    base = base_type(model_dir)
    try:
        intermediate = None
        if any(q not in CONVERTER_TYPES for q in types):
            keep = base in types
            intermediate = out_dir / (file_name(name, base) + ".partial" if keep else f".{name}-{base}.intermediate.gguf")
            partials.append(intermediate)
            convert(llama, model_dir, intermediate, base, clock)
        for quant in types:
            target = out_dir / file_name(name, quant)
            partial = target.with_name(target.name + ".partial")
            partials.append(partial)
            if quant == base and intermediate is not None:
                item = Converted(quant, target, intermediate.stat().st_size)
                partial = intermediate
            elif quant in CONVERTER_TYPES:
                convert(llama, model_dir, partial, quant, clock)
                item = Converted(quant, target, partial.stat().st_size)
            else:
                item = quantize(llama, intermediate, partial, quant, clock)
                item.path = target
            done.append(item)
        for item in done:  # everything written: only now do the files take their names
            src = intermediate if (item.quant == base and intermediate is not None) else item.path.with_name(
                item.path.name + ".partial")
            src.replace(item.path)
        return done
    finally:
        for path in partials:
            path.unlink(missing_ok=True)
