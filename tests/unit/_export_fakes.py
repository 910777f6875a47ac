"""A fake finished run folder (no training): run.json, a LoRA adapter's final/ and metrics, for export tests."""

from __future__ import annotations

import json
from pathlib import Path

from training.config.schema import RunConfig

CANARY = "hf_CanaryTokenForExportTests123456"


def hub_config() -> RunConfig:
    config = RunConfig()
    config.model.name_or_path = "Qwen/Qwen2.5-0.5B-Instruct"
    config.data.source = "trl-lib/Capybara"
    config.train.max_steps = 100
    config.run_name = "qwen-capybara"
    return config


def fake_run(root: Path, config: RunConfig | None = None, adapter: bool = True) -> Path:
    config = config or hub_config()
    run = root / "run-1"
    final = run / "final"
    final.mkdir(parents=True)
    if adapter:
        (final / "adapter_config.json").write_text(json.dumps({"r": config.lora.r, "peft_type": "LORA"}))
        (final / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    else:
        (final / "config.json").write_text("{}")
        (final / "model.safetensors").write_bytes(b"\0" * 16)
    (final / "tokenizer_config.json").write_text("{}")
    (final / "training_args.bin").write_bytes(b"args")
    metrics = [{"step": s, "loss": 3.0 - s / 50, "learning_rate": 2e-4} for s in range(5, 105, 5)]
    metrics.append({"step": 100, "train_loss": 2.4, "train_runtime": 60.0})
    record = {"run_id": "run-1", "status": "completed", "config": config.to_dict(), "metrics": metrics,
              "train_seconds": 60.0, "error": None, "model_dir": str(final), "step": 100, "total_steps": 100,
              "system_prompt": None}
    (run / "run.json").write_text(json.dumps(record))
    return run


# --- a fake Hub at huggingface_hub's boundary (HfApi's Jobs methods), for the HF Jobs tests ------------------------

VISITOR_TOKEN = "hf_VisitorOAuthTokenCanary1234567"
OWNER_TOKEN = "hf_OwnerSpaceTokenCanary123456789"


class FakeJobsHub:
    """Records every HfApi Jobs call with the token the HfApi acted with; answers like the Hub would."""

    def __init__(self):
        self.calls: list[tuple[str, str | None, dict]] = []
        self.stage = "RUNNING"

    def install(self, monkeypatch) -> FakeJobsHub:
        from types import SimpleNamespace

        from huggingface_hub import HfApi

        from training.publish import hub as publish

        hub = self

        def acting_token(api, kwargs):
            return kwargs.get("token") or api.token

        def run_uv_job(api, script, **kwargs):
            hub.calls.append(("run_uv_job", acting_token(api, kwargs), {"script": script, **kwargs}))
            owner = "alice" if acting_token(api, kwargs) == VISITOR_TOKEN else "owner"
            return SimpleNamespace(id=f"job-{len(hub.calls)}", url=f"https://huggingface.co/jobs/{owner}/job",
                                   owner=SimpleNamespace(id="1", name=owner, type="user"),
                                   status=SimpleNamespace(stage="SCHEDULING", message=None), created_at="2026-01-01T00:00:00")

        def inspect_job(api, *, job_id, namespace=None, token=None):
            hub.calls.append(("inspect_job", acting_token(api, {"token": token}), {"job_id": job_id, "namespace": namespace}))
            return SimpleNamespace(status=SimpleNamespace(stage=hub.stage, message="step 5"))

        def fetch_job_logs(api, *, job_id, namespace=None, follow=False, tail=None, token=None):
            hub.calls.append(("fetch_job_logs", acting_token(api, {"token": token}), {"job_id": job_id, "namespace": namespace}))
            return iter([f"line {i}" for i in range(100)] + [f"token {CANARY} {VISITOR_TOKEN} {OWNER_TOKEN}"])

        def cancel_job(api, *, job_id, namespace=None, token=None):
            hub.calls.append(("cancel_job", acting_token(api, {"token": token}), {"job_id": job_id, "namespace": namespace}))

        for name, fn in [("run_uv_job", run_uv_job), ("inspect_job", inspect_job), ("fetch_job_logs", fetch_job_logs),
                         ("cancel_job", cancel_job)]:
            monkeypatch.setattr(HfApi, name, fn)
        monkeypatch.setattr(publish, "hub_offline", lambda: False)
        return self

    def last(self, name: str) -> tuple[str | None, dict]:
        for call, token, kwargs in reversed(self.calls):
            if call == name:
                return token, kwargs
        raise AssertionError(f"no {name} call")

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]
