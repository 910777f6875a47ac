"""GGUF export without building llama.cpp: types, the Modelfile's template translation, the errors (no compiler, a
disk that fills up, a run without weights, a bad LLAMA_CPP_DIR), the Hub push's card, and the panel's role rule.
The real conversion, quantization and llama.cpp check are in tests/integration/test_gguf_export.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from training.publish.gguf_convert import check_disk, parse_types, write_types
from training.publish.gguf_llama import GgufError, LlamaCpp, StageClock, ensure_llama_cpp, missing_build_tools
from training.publish.gguf_modelfile import go_template, modelfile_text, strip_generation_tags, template_parts

from ._export_fakes import fake_run

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA2 = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<<SYS>>' + message['content'] "
          "+ '<</SYS>>' }}{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
          "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}")
NO_SYSTEM = ("{% for message in messages %}{% if message['role'] == 'system' %}{{ raise_exception('no system role') }}"
             "{% endif %}{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] + '<end_of_turn>\\n' }}"
             "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}")


@pytest.fixture(scope="module")
def demo_tokenizer(demo_model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(demo_model_path)


def _with_template(tokenizer, template: str):
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = template
    return tok


def test_types_are_checked_and_named_as_llama_cpp_does():
    assert parse_types("q8_0, Q4_K_M,q8_0") == ["q8_0", "q4_k_m"]
    assert parse_types(["F16"]) == ["f16"]
    with pytest.raises(GgufError, match="q4_k_m"):
        parse_types("q4_k_xl")
    with pytest.raises(GgufError, match="at least one"):
        parse_types(" , ")


def test_demo_template_becomes_an_exact_go_template(demo_tokenizer):
    tok = _with_template(demo_tokenizer, strip_generation_tags(demo_tokenizer.chat_template))
    assert "{% generation %}" not in tok.chat_template and "endgeneration" not in tok.chat_template
    text, info = modelfile_text("atlas-Q8_0.gguf", tok, "You are an atlas.", {"do_sample": False}, 512)
    assert info == {"exact": True, "note": ""}
    assert text.startswith("FROM ./atlas-Q8_0.gguf\n")
    assert ('TEMPLATE """{{ range .Messages }}{{ if eq .Role "system" }}<|im_start|>system\n{{ .Content }}<|im_end|>\n'
            '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
            '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n'
            '{{ end }}{{ end }}<|im_start|>assistant\n"""') in text
    assert 'PARAMETER stop "<|im_end|>"' in text and 'PARAMETER stop "<|im_start|>"' in text
    assert 'SYSTEM """You are an atlas."""' in text and "PARAMETER num_ctx 512" in text
    assert "{{-" not in text  # no whitespace trimming: the newlines are part of the format


def test_a_template_that_writes_bos_first_and_one_without_system(demo_tokenizer):
    parts = template_parts(_with_template(demo_tokenizer, LLAMA2))
    assert parts["exact"], parts["note"]
    assert parts["head"] == demo_tokenizer.bos_token
    assert parts["roles"]["user"] == ("[INST] ", " [/INST]") and parts["roles"]["system"] == ("<<SYS>>", "<</SYS>>")
    assert go_template(parts).startswith(demo_tokenizer.bos_token + "{{ range .Messages }}")
    gemma = template_parts(_with_template(demo_tokenizer, NO_SYSTEM))
    assert "system" not in gemma["roles"] and gemma["generation"] == "<start_of_turn>model\n"
    assert not gemma["exact"] or "system" not in go_template(gemma)
    chatml = template_parts(_with_template(demo_tokenizer, CHATML))
    assert chatml["exact"] and chatml["head"] == ""


def test_go_template_escapes_braces_in_literal_text():
    parts = {"head": "", "roles": {"user": ("{{user}} ", "\n")}, "generation": ">"}
    assert '{{ "{{" }}user{{ "}}" }} ' in go_template(parts)


def test_no_compiler_is_a_clear_error_with_the_fix(tmp_path, monkeypatch):
    source = tmp_path / "llama.cpp"
    source.mkdir()
    (source / "convert_hf_to_gguf.py").write_text("")
    monkeypatch.setenv("LLAMA_CPP_DIR", str(source))
    monkeypatch.setenv("LLAMA_CPP_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))  # no `pip install cmake` in the venv either
    assert missing_build_tools() == ["CMake", "a C compiler", "a C++ compiler", "make"]
    with pytest.raises(GgufError, match=r"apt-get install build-essential cmake.*pip install cmake"):
        ensure_llama_cpp()
    assert not list((tmp_path / "cache").glob("build-*/.done"))


def test_llama_cpp_dir_without_the_converter(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAMA_CPP_DIR", str(tmp_path))
    monkeypatch.setenv("LLAMA_CPP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(GgufError, match="has no convert_hf_to_gguf.py"):
        ensure_llama_cpp()


def test_too_little_disk_is_refused_before_writing(tmp_path, monkeypatch):
    from training.publish import gguf_convert

    monkeypatch.setattr(gguf_convert, "free_bytes", lambda folder: 50_000_000)
    check_disk(tmp_path, 1_000_000, ["q8_0"])  # a tiny model fits
    with pytest.raises(GgufError, match="Not enough disk space.*need about 4,41\\d MB and 50 MB is free"):
        check_disk(tmp_path, 1_000_000_000, ["q8_0", "q4_k_m"])


FILLS_DISK = """import sys
out = sys.argv[sys.argv.index("--outfile") + 1]
open(out, "wb").write(b"GGUF" + b"\\0" * 1000)
print("OSError: [Errno 28] No space left on device", file=sys.stderr)
sys.exit(1)
"""


def test_a_disk_that_fills_up_while_writing_leaves_nothing(tmp_path):
    source = tmp_path / "llama.cpp"
    source.mkdir()
    (source / "convert_hf_to_gguf.py").write_text(FILLS_DISK)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(GgufError, match="filled up while writing.*Free some space"):
        write_types(LlamaCpp(source, tmp_path / "bin"), model, out, "atlas", ["q8_0", "q4_k_m"], StageClock(None))
    assert list(out.iterdir()) == []


def test_a_run_without_weights_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    from training.cli.main import main
    from training.publish.gguf_export import export_gguf

    run = fake_run(tmp_path)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "failed", "model_dir": None}))
    import shutil

    shutil.rmtree(run / "final")
    with pytest.raises(GgufError, match="no saved weights.*Train it to the end, or resume it"):
        export_gguf(run, tmp_path / "out", ["q8_0"])
    assert main(["export", str(run), "--gguf", str(tmp_path / "out2"), "--json"]) == 1
    assert "no saved weights" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.gguf"))
    assert main(["export", str(run), "--gguf", str(tmp_path / "o"), "--quant", "q9"]) == 2
    assert "--quant 'q9'" in capsys.readouterr().err


def test_push_gguf_card_lists_every_file_and_the_ollama_line(tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    from training.publish.gguf_hub import push_gguf
    from training.publish.hub import PublishError

    (tmp_path / "atlas-Q8_0.gguf").write_bytes(b"\0" * 2_000_000)
    (tmp_path / "atlas-Q4_K_M.gguf").write_bytes(b"\0" * 1_000_000)
    (tmp_path / "Modelfile").write_text("FROM ./atlas-Q4_K_M.gguf\n")
    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw))
                        or f"https://huggingface.co/{repo_id}")
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw["repo_id"], kw)))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError, match="offline"):
        push_gguf(tmp_path, "alice/atlas")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    result = push_gguf(tmp_path, "alice/atlas", token="hf_x", base_model="Qwen/Qwen2.5-0.5B-Instruct")
    assert result["repo_id"] == "alice/atlas-GGUF" and result["files"] == ["atlas-Q8_0.gguf", "atlas-Q4_K_M.gguf"]
    assert calls[0][0] == "create" and calls[0][2]["private"] is True
    assert calls[1][2]["allow_patterns"] == ["*.gguf", "Modelfile", "README.md"]
    card = (tmp_path / "README.md").read_text()
    assert "| `atlas-Q8_0.gguf` | Q8_0 | 2.0 MB |" in card and "| `atlas-Q4_K_M.gguf` | Q4_K_M | 1.0 MB |" in card
    assert "ollama run hf.co/alice/atlas-GGUF:Q4_K_M" in card and "ollama run hf.co/alice/atlas-GGUF:Q8_0" in card
    assert "base_model: Qwen/Qwen2.5-0.5B-Instruct" in card and "hf_x" not in card


def test_panel_refuses_visitors_on_a_space_and_reports_errors(tmp_path, monkeypatch):
    from components import gguf_panel

    monkeypatch.setenv("SPACE_ID", "owner/studio")
    message, _, _ = gguf_panel.handle_gguf_export("some-run", ["q8_0"], True, None, None, progress=lambda *a, **k: None)
    assert message.startswith("🔒") and "Sign in" in message
    assert gguf_panel.handle_gguf_push("some-run", "alice/x", True, True, None, None).startswith("🔒")
    monkeypatch.delenv("SPACE_ID")
    message, answers, files = gguf_panel.handle_gguf_export(None, ["q8_0"], True, None, None,
                                                            progress=lambda *a, **k: None)
    assert message.startswith("⚠️") and "Pick a run" in message
    assert files["visible"] is False


def test_output_folder_that_is_a_file(tmp_path):
    from training.publish.gguf_export import _check_output_folder

    (tmp_path / "f").write_text("")
    with pytest.raises(GgufError, match="is a file"):
        _check_output_folder(tmp_path / "f")
    _check_output_folder(tmp_path / "new" / "folder")
    assert (tmp_path / "new" / "folder").is_dir() and not list(Path(tmp_path / "new" / "folder").iterdir())


def test_a_job_can_make_gguf_files_in_the_same_job():
    from training.publish.jobs import GGUF_JOB_S, JobsError, plan_job
    from training.publish.script import render_script

    from ._export_fakes import hub_config

    plain = plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=600, estimate_summary="x", preview=True)
    plan = plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=600, estimate_summary="x", preview=True,
                    gguf_types="Q8_0,q4_k_m")
    assert "GGUF_TYPES" not in plain.env and plan.env["GGUF_TYPES"] == "q8_0,q4_k_m"
    assert {"sentencepiece", "cmake"} <= set(plan.dependencies) and plan.timeout_s == plain.timeout_s + GGUF_JOB_S
    assert any("alice/out-GGUF" in note for note in plan.notes)
    with pytest.raises(JobsError, match="not one llama.cpp writes"):
        plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=1, estimate_summary="x", preview=True,
                 gguf_types="q9")
    script = render_script(hub_config())
    assert "def gguf_after_training(" in script and 'os.environ.get("GGUF_TYPES")' in script
