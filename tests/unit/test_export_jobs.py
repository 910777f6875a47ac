"""HF Jobs: the run_uv_job payload (script, flavor, timeout, tokens only in secrets, the report-home URL), multi-GPU
launch, the stored job list, status/logs/cancel on the job's namespace, and the offline message; the Hub is faked at
huggingface_hub's boundary (HfApi's Jobs methods)."""

from __future__ import annotations

import json

import pytest

from training.publish import jobs
from training.publish.jobs import JobsError, job_timeout, plan_job, submit_job

from ._export_fakes import CANARY, FakeJobsHub, hub_config

HOME = "https://owner-studio.hf.space/trackio"
TRACKIO_CANARY = "trackio-write-token-canary-0123456789"


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))  # a fresh job list per test
    return FakeJobsHub().install(monkeypatch)


def _everything_written() -> str:
    return "\n".join(p.read_text(errors="replace") for p in jobs.jobs_dir().rglob("*") if p.is_file())


def test_payload_reports_home_with_tokens_only_in_secrets(fake_hub):
    plan = plan_job(hub_config(), "a10g-small", "alice/out", report_home=HOME, estimate_seconds=3600,
                    estimate_summary="about 60 minutes")
    record = submit_job(plan, CANARY, trackio_write_token=TRACKIO_CANARY)
    token, call = fake_hub.last("run_uv_job")
    assert token == CANARY  # the job runs on the account of the token given
    assert call["script"] == plan.script_path and call["script"].endswith("train.py")
    assert "SFTTrainer" in open(call["script"]).read()
    assert call["flavor"] == "a10g-small"
    assert call["timeout"] == job_timeout(3600) == 3600 * 1.5 + 900
    assert call["secrets"] == {"HF_TOKEN": CANARY, "TRACKIO_WRITE_TOKEN": TRACKIO_CANARY}
    env = call["env"]
    assert env["TRACKIO_SERVER_URL"] == HOME and env["TRACKIO_PROJECT"] == "finetune-studio"
    assert "TRACKIO_SPACE_ID" not in env  # Trackio prefers a Space id over server_url: never both
    assert not {"HF_TOKEN", "TRACKIO_WRITE_TOKEN"} & set(env)
    assert CANARY not in json.dumps(env) and TRACKIO_CANARY not in json.dumps(env)
    assert env["HUB_MODEL_ID"] == "alice/out" and env["RUN_NAME"] == plan.name
    assert any(d.startswith("trl>=") for d in call["dependencies"]) and any(d.startswith("trackio>=") for d in call["dependencies"])
    assert call["script_args"] == []
    assert record["job_id"] == "job-1" and record["status"] == "SCHEDULING" and record["reports_home"]
    assert record["trackio_run"] == plan.name and record["namespace"] == "owner"
    written = _everything_written()  # the script, jobs.json
    assert CANARY not in written and TRACKIO_CANARY not in written


def test_the_job_env_is_what_trackio_reads_as_server_url(monkeypatch):
    """The exported script does not call trackio itself: TRL's callback calls trackio.init(space_id=None), which
    takes server_url from TRACKIO_SERVER_URL and the token from TRACKIO_WRITE_TOKEN (a Jobs secret is an env var)."""
    from trackio import utils

    monkeypatch.delenv("TRACKIO_SPACE_ID", raising=False)
    monkeypatch.setenv("TRACKIO_SERVER_URL", HOME)
    assert utils.resolve_space_id_and_server_url(None, None) == (None, HOME)
    assert utils.parse_trackio_server_url(HOME) == (HOME, None)  # no token in the URL


def test_each_job_has_its_own_name_and_trackio_run(fake_hub):
    a = plan_job(hub_config(), "t4-small", "alice/out", report_home=HOME, estimate_seconds=60, estimate_summary="x", now=0)
    b = plan_job(hub_config(), "t4-small", "alice/out", report_home=HOME, estimate_seconds=60, estimate_summary="x", now=3600)
    assert a.name != b.name and a.env["RUN_NAME"] != b.env["RUN_NAME"] and a.script_path != b.script_path
    assert a.name.startswith("qwen-capybara-job-19700101")


def test_without_a_public_url_a_trackio_space_or_nothing(fake_hub):
    plan = plan_job(hub_config(), "t4-small", "alice/out", trackio_space_id="alice/trackio", estimate_seconds=60,
                    estimate_summary="x")
    assert plan.env["TRACKIO_SPACE_ID"] == "alice/trackio" and "TRACKIO_SERVER_URL" not in plan.env
    assert plan.secret_names == ["HF_TOKEN"]
    submit_job(plan, CANARY)
    assert fake_hub.last("run_uv_job")[1]["secrets"] == {"HF_TOKEN": CANARY}
    alone = plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=60, estimate_summary="x")
    assert any("stay inside the job" in n for n in alone.notes)


def test_report_home_needs_the_token_and_never_carries_it(fake_hub):
    with pytest.raises(JobsError, match="must not carry a token"):
        plan_job(hub_config(), "t4-small", "alice/out", report_home=HOME + "?write_token=abc", estimate_seconds=1,
                 estimate_summary="x")
    plan = plan_job(hub_config(), "t4-small", "alice/out", report_home=HOME, estimate_seconds=1, estimate_summary="x")
    with pytest.raises(JobsError, match="no Trackio write token"):
        submit_job(plan, CANARY)
    assert "run_uv_job" not in fake_hub.names()


def test_multi_gpu_launches_with_accelerate(fake_hub):
    plan = plan_job(hub_config(), "a10g-largex4", "alice/out", report_home=HOME, estimate_seconds=600, estimate_summary="x")
    submit_job(plan, "tok-1234567890", trackio_write_token=TRACKIO_CANARY)
    call = fake_hub.last("run_uv_job")[1]
    assert call["script"] == "accelerate"
    args = call["script_args"]
    assert args[0] == "launch" and args[args.index("--num_processes") + 1] == "4" and "--multi_gpu" in args
    assert args[-1] == plan.script_path and "--use_fsdp" not in args
    assert call["timeout"] == jobs.MIN_TIMEOUT_S
    assert call["secrets"]["TRACKIO_WRITE_TOKEN"] == TRACKIO_CANARY


def test_full_fine_tuning_too_big_for_one_gpu_is_sharded_with_fsdp(fake_hub):
    config = hub_config()
    config.lora.enabled = False
    big = {"weights": 14.0, "gradients": 14.0, "optimizer": 56.0, "activations": 4.0}  # a 7B model in bf16 with Adam
    plan = plan_job(config, "a100x4", "alice/out", estimate_seconds=600, estimate_summary="x", memory_gb=big)
    assert "--use_fsdp" in plan.script_args and "--multi_gpu" not in plan.script_args
    assert plan.script_args[-1] == plan.script_path and any("FSDP" in n for n in plan.notes)
    small = {"weights": 1.0, "gradients": 1.0, "optimizer": 4.0, "activations": 2.0}
    plan = plan_job(config, "a100x4", "alice/out", estimate_seconds=600, estimate_summary="x", memory_gb=small)
    assert "--multi_gpu" in plan.script_args and "--use_fsdp" not in plan.script_args


def test_local_dataset_file_is_shipped(fake_hub, tmp_path):
    config = hub_config()
    data = tmp_path / "my data.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    config.data.source = str(data)
    plan = plan_job(config, "t4-small", "alice/out", estimate_seconds=60, estimate_summary="x")
    assert plan.script_args == [str(data)] and plan.env["DATASET"] == "/data/my_data.jsonl"


def test_status_logs_cancel_on_the_jobs_namespace(fake_hub):
    submit_job(plan_job(hub_config(), "t4-small", "alice/out", estimate_seconds=60, estimate_summary="x"), CANARY)
    assert jobs.refresh_job("job-1", CANARY)["status"] == "RUNNING"
    assert fake_hub.last("inspect_job") == (CANARY, {"job_id": "job-1", "namespace": "owner"})
    logs = jobs.job_logs("job-1", CANARY, tail=5)
    assert logs.splitlines()[0] == "line 96" and CANARY not in logs
    jobs.cancel("job-1", CANARY)
    assert fake_hub.last("cancel_job") == (CANARY, {"job_id": "job-1", "namespace": "owner"})
    assert jobs.stored_jobs()[0]["status"] == "CANCELED" and jobs.is_finished(jobs.stored_jobs()[0])
    with pytest.raises(JobsError, match="No submitted job"):
        jobs.refresh_job("job-999", CANARY)


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


def test_flavor_prices_list_every_gpu_flavor_offline():
    from training.estimate.hardware import CATALOGUE

    prices = jobs.flavor_prices(hub_config())
    assert [p.flavor for p in prices] == [n for n, f in CATALOGUE.items() if f.is_gpu]
    t4 = next(p for p in prices if p.flavor == "t4-small")
    assert t4.usd_per_hour == CATALOGUE["t4-small"].usd_per_hour and "table price" in t4.price_source


# --- a vision-language run: its pictures travel inside one Parquet file; a visitor sends only their own upload -------

FORMATS = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def _vision_config(source: str):
    from training.config.schema import RunConfig

    config = RunConfig.demo("sft", vision=True)
    config.model.name_or_path = "HuggingFaceTB/SmolVLM-256M-Instruct"  # a job trains a Hub model
    config.data.source = source
    return config


@pytest.mark.parametrize("source, rows", [("demo-vision", 144), (str(FORMATS / "vision_trl.jsonl"), None)])
def test_a_local_image_dataset_ships_with_its_pictures_inside(fake_hub, source, rows):
    from training.data.image_rows import load_image_dataset
    from training.data.validation import validate_dataset

    plan = plan_job(_vision_config(source), "a10g-small", "alice/vlm", estimate_seconds=60, estimate_summary="x")
    shipped = plan.script_args[-1]
    assert shipped.endswith(jobs.IMAGE_DATASET_FILE) and plan.env["DATASET"] == f"/data/{jobs.IMAGE_DATASET_FILE}"
    dataset = load_image_dataset(shipped)  # what the script runs (training/data/image_rows.py, bundled verbatim)
    expected = rows or validate_dataset(source, "sft").usable_rows
    assert dataset.num_rows == expected and dataset[0]["images"][0].size[0] > 0
    script = open(plan.script_path).read()
    assert "def load_image_dataset(" in script and "def open_image_source(" in script
    assert '"images-dataset.parquet"' not in script  # the script reads DATASET; the file name is the plan's


def test_a_visitor_sends_only_their_own_image_upload(fake_hub, tmp_path):
    import shutil

    from training.hosting.read_policy import REFUSED_START, policy_for, reading_as

    upload = tmp_path / "upload.zip"
    shutil.copyfile(FORMATS / "vision_qa.zip", upload)
    with reading_as(policy_for(False, on_space=True, uploads=(str(upload),))):
        for server_path in (str(FORMATS / "vision_folder"), str(FORMATS / "vision_trl.jsonl")):
            with pytest.raises(ValueError) as refused:  # the script's config is refused before anything is read
                plan_job(_vision_config(server_path), "a10g-small", "alice/vlm", estimate_seconds=60, estimate_summary="x")
            assert str(refused.value).startswith(REFUSED_START) and "vision_" not in str(refused.value)
        plan = plan_job(_vision_config(str(upload)), "a10g-small", "alice/vlm", estimate_seconds=60, estimate_summary="x")
    assert plan.script_args[-1].endswith(jobs.IMAGE_DATASET_FILE)
