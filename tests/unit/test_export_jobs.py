"""HF Jobs: the run_uv_job payload (script, flavor, timeout, secrets kept out of env), multi-GPU launch,
the stored job list, status/logs/cancel, and the offline message; all against fakes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from training.publish import hub as publish
from training.publish import jobs
from training.publish.jobs import JobsError, job_timeout, plan_job, submit_job

from ._export_fakes import CANARY, hub_config


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))  # a fresh job list per test
    calls = {}

    def run_uv_job(script, **kwargs):
        calls["run_uv_job"] = {"script": script, **kwargs}
        return SimpleNamespace(id="job-123", url="https://huggingface.co/jobs/alice/job-123",
                               status=SimpleNamespace(stage="SCHEDULING", message=None), created_at="2026-01-01T00:00:00")

    monkeypatch.setattr(huggingface_hub, "run_uv_job", run_uv_job)
    monkeypatch.setattr(huggingface_hub, "inspect_job", lambda job_id, token=None: SimpleNamespace(
        status=SimpleNamespace(stage="RUNNING", message="step 5")))
    monkeypatch.setattr(huggingface_hub, "fetch_job_logs", lambda job_id, tail=None, token=None: iter(
        [f"line {i}" for i in range(100)] + [f"token {CANARY}"]))
    monkeypatch.setattr(huggingface_hub, "cancel_job", lambda job_id, token=None: calls.setdefault("cancel", job_id))
    monkeypatch.setattr(publish, "hub_offline", lambda: False)
    return calls


def test_payload_single_gpu(fake_hub):
    plan = plan_job(hub_config(), "a10g-small", "alice/out", trackio_space_id="alice/trackio", estimate_seconds=3600,
                    estimate_summary="about 60 minutes")
    record = submit_job(plan, CANARY)
    call = fake_hub["run_uv_job"]
    assert call["script"] == plan.script_path and call["script"].endswith("train.py")
    assert "SFTTrainer" in open(call["script"]).read()
    assert call["flavor"] == "a10g-small"
    assert call["timeout"] == job_timeout(3600) == 3600 * 1.5 + 900
    assert call["secrets"] == {"HF_TOKEN": CANARY}
    assert CANARY not in json.dumps(call["env"]) and "HF_TOKEN" not in call["env"]
    assert call["env"]["HUB_MODEL_ID"] == "alice/out" and call["env"]["TRACKIO_SPACE_ID"] == "alice/trackio"
    assert any(d.startswith("trl>=") for d in call["dependencies"]) and call["script_args"] == []
    assert record["job_id"] == "job-123" and record["status"] == "SCHEDULING"
    assert CANARY not in (jobs.jobs_dir() / jobs.JOBS_FILE).read_text()
    assert CANARY not in open(plan.script_path).read()


def test_multi_gpu_launches_with_accelerate(fake_hub):
    plan = plan_job(hub_config(), "a10g-largex4", "alice/out", estimate_seconds=600, estimate_summary="x")
    submit_job(plan, "tok-1234567890")
    call = fake_hub["run_uv_job"]
    assert call["script"] == "accelerate"
    assert call["script_args"][:4] == ["launch", "--multi_gpu", "--num_processes", "4"]
    assert call["script_args"][4] == plan.script_path
    assert call["timeout"] == jobs.MIN_TIMEOUT_S


def test_local_dataset_file_is_shipped(fake_hub, tmp_path):
    config = hub_config()
    data = tmp_path / "my data.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    config.data.source = str(data)
    plan = plan_job(config, "t4-small", "alice/out", estimate_seconds=60, estimate_summary="x")
    assert plan.script_args == [str(data)] and plan.env["DATASET"] == "/data/my_data.jsonl"


def test_status_logs_cancel(fake_hub):
    submit_job(plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=60, estimate_summary="x"), "tok-1234567890")
    assert jobs.refresh_job("job-123")["status"] == "RUNNING"
    logs = jobs.job_logs("job-123", tail=5)
    assert logs.splitlines()[0] == "line 96" and CANARY not in logs
    jobs.cancel("job-123")
    assert fake_hub["cancel"] == "job-123" and jobs.stored_jobs()[0]["status"] == "CANCELED"


def test_refusals():
    from training.config.schema import RunConfig

    with pytest.raises(JobsError, match="lives on this machine"):
        plan_job(RunConfig.demo(), "t4-small", "alice/out", estimate_seconds=1, estimate_summary="x")
    with pytest.raises(JobsError, match="Name a Hub repo"):
        plan_job(hub_config(), "t4-small", "", estimate_seconds=1, estimate_summary="x")
    with pytest.raises(JobsError, match="Unknown hardware"):
        plan_job(hub_config(), "warp-drive", "alice/out", estimate_seconds=1, estimate_summary="x")
    plan = plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=1, estimate_summary="x")
    with pytest.raises(JobsError, match="network"):
        submit_job(plan, "tok-1234567890")  # HF_HUB_OFFLINE=1 in tests
    with pytest.raises(JobsError, match="token"):
        submit_job(plan, None)
