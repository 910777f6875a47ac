"""The Hub upload folder and model card, and the push path against a fake HfApi (offline)."""

from __future__ import annotations

import json

import pytest

from training.publish import hub as publish
from training.publish.hub import PublishError, build_upload_folder, push_run

from ._export_fakes import CANARY, fake_run

SAMPLES = [{"prompt": "What is 2+2?", "reference": "4", "base": "fish", "tuned": "4"}]


def test_card_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", CANARY)
    run = fake_run(tmp_path)
    out = build_upload_folder(run, tmp_path / "upload", "alice/qwen-lora", samples=SAMPLES)
    names = {p.name for p in out.iterdir()}
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json",
            "loss_curve.png", "run_config.json"} <= names
    assert "training_args.bin" not in names
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (out / "README.md").read_text()
    for text in ("base_model: Qwen/Qwen2.5-0.5B-Instruct", "trl-lib/Capybara", "library_name: peft", "SFTTrainer",
                 "| LoRA rank r | 16 |", "| LoRA alpha | 32 |", "| Learning rate | 0.0002 |", "| Batch size | 4 |",
                 "| Gradient accumulation | 4 |", "| Weight decay | 0.0 |", "| loss | 1 |",
                 "![Training loss](loss_curve.png)", "| What is 2+2? | 4 | fish | 4 |", "PeftModel.from_pretrained",
                 '"alice/qwen-lora"'):
        assert text in card, text
    assert json.loads((out / "run_config.json").read_text())["model"]["name_or_path"] == "Qwen/Qwen2.5-0.5B-Instruct"
    for path in out.iterdir():
        assert CANARY.encode() not in path.read_bytes(), path


def test_full_model_card_loads_with_transformers(tmp_path):
    out = build_upload_folder(fake_run(tmp_path, adapter=False), tmp_path / "upload", "alice/full")
    card = (out / "README.md").read_text()
    assert "library_name: transformers" in card and 'pipeline("text-generation", model="alice/full")' in card


class FakeApi:
    """Records each call with the token the real HfApi would act with: the call's own, else the one the HfApi was
    made with, else (huggingface_hub's fallback) HF_TOKEN, which on a Space is the Space's token."""

    calls: list = []

    def __init__(self, token=None, **_):
        self.token = token

    def _acting(self, kwargs) -> str | None:
        import os

        return kwargs.get("token") or self.token or os.environ.get("HF_TOKEN")

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, {**kwargs, "acting_token": self._acting(kwargs)}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        FakeApi.calls.append(("upload_folder", kwargs["repo_id"], {**kwargs, "acting_token": self._acting(kwargs)},
                              sorted(p.name for p in __import__("pathlib").Path(kwargs["folder_path"]).iterdir())))


def test_push_calls_the_hub_with_a_private_repo(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", CANARY)
    monkeypatch.setattr(publish, "hub_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.calls = []
    result = push_run(fake_run(tmp_path), "alice/qwen-lora", token="oauth-token-value-xyz", samples=SAMPLES)
    (kind1, repo1, kw1), (kind2, repo2, kw2, files) = FakeApi.calls
    assert (kind1, repo1, kw1["private"], kw1["exist_ok"]) == ("create_repo", "alice/qwen-lora", True, True)
    assert kind2 == "upload_folder" and repo2 == "alice/qwen-lora"
    # Both calls act with the user's token, never the Space's HF_TOKEN (the repo is created in the user's name).
    assert kw1["acting_token"] == kw2["acting_token"] == "oauth-token-value-xyz"
    assert {"README.md", "adapter_model.safetensors", "loss_curve.png"} <= set(files)
    assert result["repo_id"] == "alice/qwen-lora" and result["trackio_space"] is None
    for path in (tmp_path / "run-1" / "publish").rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes() and b"oauth-token-value-xyz" not in path.read_bytes()


def test_push_from_the_panel_uses_the_signed_in_users_token(tmp_path, monkeypatch):
    """The Publish button: the visitor's OAuth token reaches create_repo and upload_folder, not the Space's HF_TOKEN;
    with nobody signed in, the token is this machine's own (HF_TOKEN or the saved login)."""
    from types import SimpleNamespace

    import huggingface_hub

    from components import export_panel

    monkeypatch.setenv("HF_TOKEN", CANARY)
    monkeypatch.setattr(publish, "hub_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    run = fake_run(tmp_path)
    monkeypatch.setattr(export_panel, "run_dir", lambda run_id: run)
    monkeypatch.setattr(publish, "collect_samples", lambda folder: SAMPLES)
    for oauth, expected in ((SimpleNamespace(token="visitor-oauth-token"), "visitor-oauth-token"), (None, CANARY)):
        FakeApi.calls = []
        message = export_panel.handle_push("run-1", "alice/qwen-lora", True, False, "", None, oauth)
        assert message.startswith("✅"), message
        assert [c[2]["acting_token"] for c in FakeApi.calls] == [expected, expected]


def test_push_offline_says_so(tmp_path):
    with pytest.raises(PublishError, match="offline.*hf upload alice/x"):
        push_run(fake_run(tmp_path), "alice/x")


def test_bad_repo_id(tmp_path):
    with pytest.raises(PublishError, match="owner/name"):
        push_run(fake_run(tmp_path), "no-slash")


def test_card_table_is_generated_from_the_declarations(tmp_path):
    """Every setting that applies to the run has a row labelled as declared; ones that do not apply have none."""
    from training.config.schema import RunConfig, setting_fields
    from training.publish.hub import SHOWN_ELSEWHERE, render_model_card

    config = RunConfig()
    config.lora.enabled = False
    config.method = "dpo"
    record = json.loads((fake_run(tmp_path, config) / "run.json").read_text())
    record["resolved"] = {"gradient_checkpointing": True, "precision": "bf16"}
    card = str(render_model_card(record, "alice/x", adapter=False))
    for f in setting_fields():
        applies = f.setting.applies("dpo", False) and f.path not in SHOWN_ELSEWHERE and f.default not in (None, {}, [])
        assert (f"| {f.setting.label} |" in card) == applies, f.path
    assert "| gradient checkpointing | True |" in card and "| precision | bf16 |" in card
