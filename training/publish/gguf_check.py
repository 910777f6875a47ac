"""Does the GGUF file run, and what did quantization cost? llama.cpp's own runtime (the built `llama-simple`, greedy
decoding) answers the run's held-out questions, beside the merged model's answers from transformers (greedy too).

The prompt given to llama.cpp is the chat template rendered by the tokenizer, exactly what transformers' `generate`
sees; llama-simple parses its special tokens, adds a BOS only when the GGUF file says so, and stops at the
end-of-generation token. An answer "matches" when it is the same text after collapsing whitespace.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from training.publish.gguf_llama import GgufError, LlamaCpp, StageClock

MAX_NEW_TOKENS = 48  # as the before/after comparison (training/run/compare.py)
TIMEOUT_S = 120


def same_answer(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def prompt_text(tokenizer, prompt: str, system: str | None) -> str:
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def adds_bos(gguf_file: Path) -> bool:
    """Whether llama.cpp puts a BOS token before the prompt for this file (its tokenizer.ggml.add_bos_token)."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf_file)).fields.get("tokenizer.ggml.add_bos_token")
    if field is None:
        return str(_vocab_model(gguf_file)) == "llama"  # llama.cpp's default for SentencePiece vocabularies
    return bool(field.parts[field.data[0]][0])


def _vocab_model(gguf_file: Path) -> str:
    from gguf import GGUFReader

    field = GGUFReader(str(gguf_file)).fields.get("tokenizer.ggml.model")
    return bytes(field.parts[field.data[0]]).decode() if field is not None else ""


def llama_answer(llama: LlamaCpp, gguf_file: Path, text: str, specials: list[str], bos: str | None,
                 file_adds_bos: bool) -> str:
    """llama-simple's greedy continuation of `text` (the prompt it echoes is cut off)."""
    if file_adds_bos and bos and text.startswith(bos):
        text = text[len(bos):]  # the template wrote the BOS and llama.cpp adds one too: keep one
    cmd = [str(llama.tool("llama-simple")), "-m", str(gguf_file), "-n", str(MAX_NEW_TOKENS), "-ngl", "0", text]
    try:
        result = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise GgufError(f"llama.cpp took over {TIMEOUT_S} s to answer one question with {gguf_file.name}.") from None
    out = result.stdout.decode("utf-8", errors="replace")
    if result.returncode != 0:
        err = result.stderr.decode("utf-8", errors="replace").strip().splitlines()[-2:]
        how = f"it was stopped by signal {-result.returncode}" if result.returncode < 0 else f"exit {result.returncode}"
        raise GgufError(f"llama.cpp could not run {gguf_file.name} ({how}): {' '.join(err)[-300:]}")
    tail = text[-min(len(text), 24):]
    at = out.find(tail, max(0, len(text) - len(tail) - 8))  # the echo is the prompt (plus a BOS or a space)
    answer = out[at + len(tail):] if at >= 0 else out[len(text):]
    for token in specials:
        answer = answer.replace(token, "")
    return answer.strip()


def check_answers(llama: LlamaCpp, files: list[Path], model_dir: Path, records: list[dict],
                  clock: StageClock) -> tuple[list[str], dict[Path, list[str]]]:
    """(the merged model's answers, {file: llama.cpp's answers}) to the records' prompts."""
    from transformers import AutoTokenizer

    from training.run.inference import generate

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    specials = [t for t in tokenizer.all_special_tokens if t]
    merged: list[str] = []
    total = max(1, len(records) * (1 + len(files)))
    for i, r in enumerate(records):
        clock("check answers", i / total, f"transformers, question {i + 1} of {len(records)}")
        merged.append(generate(str(model_dir), r["prompt"], None, r.get("system"), MAX_NEW_TOKENS))
    out: dict[Path, list[str]] = {}
    for j, path in enumerate(files):
        bos = adds_bos(path)
        answers = []
        for i, r in enumerate(records):
            clock("check answers", (len(records) * (1 + j) + i) / total,
                  f"llama.cpp {path.name}, question {i + 1} of {len(records)}")
            answers.append(llama_answer(llama, path, prompt_text(tokenizer, r["prompt"], r.get("system")), specials,
                                        tokenizer.bos_token, bos))
        out[path] = answers
    clock("check answers", 1.0)
    return merged, out
