"""GGUF export for real: llama.cpp fetched from PyPI and built once (cached in LLAMA_CPP_CACHE, outside the clone,
so later sessions reuse it), the session's default demo run exported by the CLI to q8_0 and Q4_K_M, each file read
back with gguf-py, loaded with transformers' GGUF loader and asked the 36 held-out questions with llama.cpp; a LoRA
run exported after merging; and the errors that need the real converter (an architecture it does not know)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BUILD_TIMEOUT_S = 1800  # a cold download and build: about 4 minutes on 2 idle cores; the cache makes it instant


@pytest.fixture(scope="session")
def llama_cpp():
    from training.publish.gguf_llama import ensure_llama_cpp

    lines: list[str] = []
    llama = ensure_llama_cpp(lambda stage, fraction, text: lines.append(text))
    assert llama.converter.is_file() and llama.tool("llama-quantize").is_file() and llama.tool("llama-simple").is_file()
    return llama


@pytest.fixture(scope="module")
def demo_export(demo_run, llama_cpp, tmp_path_factory):
    import os

    from tests.conftest import REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = tmp_path_factory.mktemp("gguf") / "atlas"
    proc = subprocess.run([sys.executable, "-m", "training", "export", str(demo_run.output_dir), "--gguf", str(out),
                           "--quant", "q8_0,q4_k_m", "--json"], capture_output=True, text=True, env=env,
                          timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), out, proc.stderr


def test_both_files_and_the_modelfile_are_written(demo_export, demo_run):
    result, out, stderr = demo_export
    files = {f["quant"]: f for f in result["files"]}
    assert set(files) == {"q8_0", "q4_k_m"}
    for quant, f in files.items():
        path = Path(f["path"])
        assert path.parent == out and path.name == f"{demo_run.run_id}-{quant.upper()}.gguf"
        assert path.stat().st_size == f["bytes"] and 200_000 < f["bytes"] < 5_000_000
        assert f["questions"] == 36
    assert sorted(p.name for p in out.iterdir()) == sorted([Path(f["path"]).name for f in result["files"]]
                                                           + ["Modelfile", "README.md"])
    assert "convert to Q8_0" in stderr and "quantize to Q4_K_M" in stderr  # progress on stderr
    sizes = {q: f["bytes"] for q, f in files.items()}
    matches = {q: f["answers_match"] for q, f in files.items()}
    print(f"\nGGUF sizes {sizes}; answers as the merged model (of 36) {matches}; Q4_K_M: {files['q4_k_m']['notes']}")


def test_q8_0_answers_as_the_merged_model_with_llama_cpp(demo_export):
    result, _, _ = demo_export
    files = {f["quant"]: f for f in result["files"]}
    assert files["q8_0"]["answers_match"] >= 34, result["comparison"]
    assert isinstance(files["q4_k_m"]["answers_match"], int)  # reported, whatever it is
    row = result["comparison"][0]
    assert set(row) == {"prompt", "merged", "Q8_0", "Q4_K_M"} and row["merged"]
    # the tiny model's rows are not multiples of 256: llama-quantize stores them with its fallback type, and says so
    assert files["q4_k_m"]["fallback_tensors"] > 0 and "fallback" not in files["q8_0"]["notes"]


def test_files_parse_with_gguf_py_and_load_with_transformers(demo_export):
    import torch
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, out, _ = demo_export
    for f in result["files"]:
        reader = GGUFReader(f["path"])
        fields = reader.fields
        assert bytes(fields["general.architecture"].parts[-1]).decode() == "llama"
        assert bytes(fields["tokenizer.ggml.model"].parts[-1]).decode() == "llama"  # SentencePiece, as converted
        assert len(reader.tensors) == 4 * 9 + 2
        name = Path(f["path"]).name
        model = AutoModelForCausalLM.from_pretrained(out, gguf_file=name)
        tokenizer = AutoTokenizer.from_pretrained(out, gguf_file=name)
        ids = tokenizer("The capital of", return_tensors="pt")["input_ids"]
        with torch.no_grad():
            assert torch.isfinite(model(ids).logits).all()


def test_modelfile_and_readme(demo_export, demo_run):
    result, out, _ = demo_export
    text = Path(result["modelfile"]).read_text()
    assert text.startswith(f"FROM ./{demo_run.run_id}-Q4_K_M.gguf\n")
    assert '<|im_start|>assistant\n"""' in text and 'PARAMETER stop "<|im_end|>"' in text
    assert f'SYSTEM """{demo_run.status.system_prompt}"""' in text
    assert result["template_exact"] is True
    readme = (out / "README.md").read_text()
    assert "ollama create" in readme and "llama-cli -m" in readme and "lms import" in readme


@pytest.fixture(scope="module")
def lora_run_dir(runs_root: Path, demo_model_path: Path) -> Path:
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    config = RunConfig.demo()
    config.lora.enabled = True  # the demo Llama with LoRA on every linear layer: an adapter to merge
    config.train.max_steps = 5
    config.run_name = "gguf-lora"
    record = run_training(config, runs_root / "gguf-lora", report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    return runs_root / "gguf-lora"


def test_a_lora_run_is_merged_and_exported(lora_run_dir, llama_cpp, tmp_path):
    from training.publish.gguf_export import export_gguf

    assert (lora_run_dir / "final" / "adapter_config.json").is_file()
    result = export_gguf(lora_run_dir, tmp_path / "out", ["q8_0"])
    (f,) = result["files"]
    assert Path(f["path"]).name == "gguf-lora-Q8_0.gguf" and f["questions"] == 36
    assert f["answers_match"] >= 30, result["comparison"]  # merged adapter == converted weights, up to q8_0
    assert not list((tmp_path / "out").glob(".gguf-staging-*"))


def test_an_architecture_the_converter_does_not_know(llama_cpp, tmp_path):
    import shutil

    from tests.unit._export_fakes import fake_run
    from training.config.schema import RunConfig
    from training.models.demo_model import ensure_demo_model
    from training.publish.gguf_export import export_gguf
    from training.publish.gguf_llama import GgufError

    config = RunConfig.demo()
    run = fake_run(tmp_path, config, adapter=False)
    shutil.rmtree(run / "final")
    shutil.copytree(ensure_demo_model(), run / "final")
    cfg = json.loads((run / "final" / "config.json").read_text())
    (run / "final" / "config.json").write_text(json.dumps({**cfg, "architectures": ["TinyAtlasForCausalLM"]}))
    out = tmp_path / "out"
    with pytest.raises(GgufError, match="does not support the architecture TinyAtlasForCausalLM"):
        export_gguf(run, out, ["q8_0", "q4_k_m"], check=False)
    assert not list(out.rglob("*.gguf*")) and not list(out.glob(".gguf-staging-*"))


def test_the_exported_script_makes_gguf_files_after_training(llama_cpp, demo_model_path, subprocess_env, tmp_path):
    """What an HF Job runs with GGUF_TYPES set: train (2 steps here), then the bundled GGUF step (no push: no
    HUB_MODEL_ID)."""
    from training.config.schema import RunConfig
    from training.publish.script import write_script

    config = RunConfig.demo()
    config.run_name = "job-gguf"
    script = write_script(config, tmp_path / "train.py")
    env = {**subprocess_env, "MAX_STEPS": "2", "OUTPUT_DIR": str(tmp_path / "out"), "REPORT_TO": "none",
           "GGUF_TYPES": "q8_0"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=900,
                          cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    (gguf,) = (tmp_path / "out" / "gguf").glob("*.gguf")
    assert gguf.name == "job-gguf-Q8_0.gguf" and "gguf: job-gguf-Q8_0.gguf" in proc.stdout
    assert (tmp_path / "out" / "gguf" / "Modelfile").read_text().startswith("FROM ./job-gguf-Q8_0.gguf")
