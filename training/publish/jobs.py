"""Scaling out: running a run's exported script on Hugging Face Jobs, and following the submitted jobs.

`plan_job` turns a config into everything `huggingface_hub.run_uv_job` is given: the exported script
(training.publish.script), the flavor, a timeout from the estimate for that flavor plus a margin, the
dependencies, the environment (output folder, the Hub repo the weights are pushed to, the Trackio Space the
metrics stream to) and the secrets (HF_TOKEN only, passed as a secret, never in env). Multi-GPU flavors
launch the script through `accelerate launch`. `submit_job` sends it; submitted jobs are kept in
DATA_DIR/jobs/jobs.json (never with a token) for the status, log tail and cancel actions.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.config.schema import RunConfig, is_demo_model
from training.hosting.secrets import redact

JOBS_FILE = "jobs.json"
TIMEOUT_FACTOR = 1.5  # estimates are rough: allow half as long again
TIMEOUT_SETUP_S = 900  # container start, `uv` installing torch/TRL, model download
MIN_TIMEOUT_S = 1800
JOB_OUTPUT_DIR = "/tmp/outputs"  # inside the job; its disk is gone when the job ends, hence HUB_MODEL_ID
LOG_TAIL_LINES = 40
NEEDS_NETWORK = ("Hugging Face Jobs run on the Hub's machines: submitting, status, logs and cancel need network "
                 "access and a token with write access (HF_TOKEN, or sign in with Hugging Face on a Space).")

_lock = threading.Lock()


class JobsError(ValueError):
    """The job cannot be planned or sent as asked; the message says why and what to do."""


@dataclass(frozen=True)
class JobPlan:
    """Everything run_uv_job is called with (except the token), plus what the UI shows about it."""

    script_path: str  # the exported script, written locally; huggingface_hub uploads it with the job
    script: str  # run_uv_job's `script`: the script path, or "accelerate" on multi-GPU flavors
    script_args: list[str]
    dependencies: list[str]
    flavor: str
    timeout_s: int
    env: dict[str, str]
    secret_names: list[str]
    name: str
    labels: dict[str, str]
    estimate_seconds: float | None
    estimate_summary: str
    gpus: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def jobs_dir() -> Path:
    from training.hosting.paths import data_dir

    path = data_dir() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_timeout(estimate_seconds: float | None) -> int:
    """The estimate plus a margin (half again, plus setup time), at least 30 minutes."""
    if not estimate_seconds:
        return 4 * 3600
    return int(max(MIN_TIMEOUT_S, math.ceil(estimate_seconds * TIMEOUT_FACTOR + TIMEOUT_SETUP_S)))


def _estimate(config: RunConfig, flavor: str) -> tuple[float | None, str]:
    from training.estimate.quote import estimate_for_config, plain_summary

    try:
        est, _ = estimate_for_config(config, flavor)
    except Exception as exc:  # an estimate must never block a submission; say so instead
        return None, f"no estimate ({type(exc).__name__}: {exc}); the timeout is 4 hours"
    return est.seconds, plain_summary(est)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "run"


def plan_job(config: RunConfig, flavor: str, hub_model_id: str, *, run_id: str | None = None,
             trackio_space_id: str | None = None, estimate_seconds: float | None = None,
             estimate_summary: str | None = None) -> JobPlan:
    """Plan a Jobs run of `config` on `flavor`; the weights are pushed to the private repo hub_model_id."""
    from huggingface_hub import constants

    from training.estimate.hardware import get_flavor
    from training.publish.hub import check_repo_id
    from training.publish.script import dependencies, write_script

    try:
        hw = get_flavor(flavor)
    except ValueError as exc:
        raise JobsError(str(exc)) from None
    if is_demo_model(config) or Path(config.model.name_or_path).expanduser().exists():
        raise JobsError(f"Model {config.model.name_or_path!r} lives on this machine, and a job runs on the Hub's: choose a "
                        "Hub model id (e.g. Qwen/Qwen2.5-0.5B-Instruct), or push the model to the Hub first.")
    if not (hub_model_id or "").strip():
        raise JobsError("Name a Hub repo for the weights (e.g. alice/my-model): a job's disk is deleted when it ends, "
                        "so the script pushes the final weights there (private).")
    hub_model_id = check_repo_id(hub_model_id)
    if trackio_space_id:
        trackio_space_id = check_repo_id(trackio_space_id)
    if estimate_seconds is None and estimate_summary is None:
        estimate_seconds, estimate_summary = _estimate(config, flavor)
    run_name = config.run_name or run_id or "job"
    name = _safe_name(f"finetune-{run_name}")
    folder = jobs_dir() / name
    script_path = write_script(config, folder / "train.py", run_id)
    env = {"OUTPUT_DIR": f"{JOB_OUTPUT_DIR}/{_safe_name(run_name)}", "RUN_NAME": run_name, "HUB_MODEL_ID": hub_model_id,
           "REPORT_TO": "trackio"}
    notes = []
    if trackio_space_id:
        env["TRACKIO_SPACE_ID"] = trackio_space_id
    else:
        notes.append("No Trackio Space named: the job's metrics stay inside the job. Name one to watch them live.")
    data_files: list[str] = []
    source = Path(str(config.data.source)).expanduser()
    if str(config.data.source).strip() == "demo" or source.is_file():
        from training.run.engine import runnable_config

        local = Path(runnable_config(config)["data"]["source"])
        data_files.append(str(local))  # huggingface_hub uploads local files named in the arguments with the job
        env["DATASET"] = f"{constants.HF_JOBS_ARTIFACTS_MOUNT_PATH}/{local.name.replace(' ', '_')}"
        notes.append(f"The dataset file {local.name} is uploaded with the job.")
    gpus = hw.gpu_count
    if gpus > 1:
        script, args = "accelerate", ["launch", "--multi_gpu", "--num_processes", str(gpus), str(script_path), *data_files]
        notes.append(f"{hw.label}: launched with `accelerate launch --num_processes {gpus}` (one process per GPU).")
    else:
        script, args = str(script_path), data_files
    return JobPlan(script_path=str(script_path), script=script, script_args=args, dependencies=dependencies(config),
                   flavor=flavor, timeout_s=job_timeout(estimate_seconds), env=env, secret_names=["HF_TOKEN"], name=name,
                   labels={"app": "fine-tune-studio", "run": _safe_name(run_name)}, estimate_seconds=estimate_seconds,
                   estimate_summary=estimate_summary or "", gpus=gpus, notes=notes)


def describe_plan(plan: JobPlan) -> str:
    """Markdown the UI shows before submitting."""
    env = ", ".join(f"`{k}={v}`" for k, v in plan.env.items())
    lines = [f"**Flavor** `{plan.flavor}` · **estimate** {plan.estimate_summary or 'unknown'} · "
             f"**timeout** {plan.timeout_s // 60} min (estimate x {TIMEOUT_FACTOR} + {TIMEOUT_SETUP_S // 60} min setup)",
             f"**Command** `uv run {' '.join('--with ' + d for d in plan.dependencies)} {plan.script} {' '.join(plan.script_args)}`",
             f"**Environment** {env}", "**Secrets** `HF_TOKEN` (sent as a Jobs secret, never in the environment)"]
    lines += [f"- {n}" for n in plan.notes]
    return "\n\n".join(lines)


def _read_store() -> list[dict]:
    path = jobs_dir() / JOBS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return []


def _write_store(jobs: list[dict]) -> None:
    path = jobs_dir() / JOBS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(redact(json.dumps(jobs, indent=2, default=str)))
    tmp.replace(path)


def stored_jobs() -> list[dict]:
    """Submitted jobs, newest first."""
    with _lock:
        return list(reversed(_read_store()))


def _stage(info) -> tuple[str, str | None]:
    status = getattr(info, "status", None)
    return str(getattr(status, "stage", None) or "UNKNOWN"), getattr(status, "message", None)


def _hub():
    from training.publish.hub import hub_offline

    if hub_offline():
        raise JobsError(NEEDS_NETWORK + " This machine is offline (HF_HUB_OFFLINE=1).")
    import huggingface_hub

    return huggingface_hub


def resolve_token(explicit: str | None = None) -> str | None:
    """The signed-in user's OAuth token, else HF_TOKEN or this machine's saved login (never stored by us)."""
    if explicit:
        return explicit
    from huggingface_hub import get_token

    return get_token()


def submit_job(plan: JobPlan, token: str | None) -> dict:
    """Send the planned job with run_uv_job; HF_TOKEN goes in `secrets` only. Returns the stored job record."""
    if not token:
        raise JobsError("Jobs need a Hugging Face token with write access: set HF_TOKEN (a Space secret) or sign in.")
    hub = _hub()
    try:
        info = hub.run_uv_job(plan.script, script_args=plan.script_args, dependencies=plan.dependencies, env=dict(plan.env),
                              secrets={"HF_TOKEN": token}, flavor=plan.flavor, timeout=plan.timeout_s, name=plan.name,
                              labels=dict(plan.labels), token=token)
    except Exception as exc:
        raise JobsError(redact(f"Submitting the job failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                               (token,))) from None
    stage, message = _stage(info)
    record = {"job_id": info.id, "url": getattr(info, "url", None), "flavor": plan.flavor, "name": plan.name,
              "hub_model_id": plan.env.get("HUB_MODEL_ID"), "trackio_space_id": plan.env.get("TRACKIO_SPACE_ID"),
              "timeout_s": plan.timeout_s, "estimate": plan.estimate_summary, "status": stage, "message": message,
              "submitted_at": str(getattr(info, "created_at", "") or "")}
    with _lock:
        jobs = _read_store()
        jobs.append(record)
        _write_store(jobs)
    return record


def _update(job_id: str, **changes) -> dict:
    with _lock:
        jobs = _read_store()
        for job in jobs:
            if job.get("job_id") == job_id:
                job.update(changes)
                _write_store(jobs)
                return job
    raise JobsError(f"No submitted job {job_id!r} in {jobs_dir() / JOBS_FILE}.")


def refresh_job(job_id: str, token: str | None = None) -> dict:
    """The job's current status from the Hub (inspect_job), stored and returned."""
    hub = _hub()
    info = hub.inspect_job(job_id=job_id, token=token)
    stage, message = _stage(info)
    return _update(job_id, status=stage, message=message)


def job_logs(job_id: str, token: str | None = None, tail: int = LOG_TAIL_LINES) -> str:
    """The last lines of the job's logs (fetch_job_logs), with any token masked."""
    hub = _hub()
    lines = list(hub.fetch_job_logs(job_id=job_id, tail=tail, token=token))
    return redact("\n".join(str(line).rstrip("\n") for line in lines[-tail:]), (token or "",))


def cancel(job_id: str, token: str | None = None) -> dict:
    hub = _hub()
    hub.cancel_job(job_id=job_id, token=token)
    return _update(job_id, status="CANCELED")
