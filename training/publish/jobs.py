"""Scaling out: running a run's exported script on Hugging Face Jobs, and following the submitted jobs.

`plan_job` turns a config into everything `huggingface_hub.run_uv_job` is given: the exported script
(training.publish.script), the flavor, a timeout from the estimate for that flavor plus a margin, the
dependencies, the environment (output folder, the Hub repo the weights are pushed to, where the metrics go)
and the names of the secrets. Multi-GPU flavors launch the script through `accelerate launch`.

A job reports home: when this app is reachable from the Hub (a Space, or PUBLIC_URL), the job logs into this
app's embedded Trackio through Trackio's `server_url` (env TRACKIO_SERVER_URL, no token in it) with the
dashboard's write token passed as the Jobs *secret* TRACKIO_WRITE_TOKEN (training.hosting.trackio_mount), so its
curves appear live in the page that launched it. Tokens only ever travel as `secrets`: never in env, never in the
script. `submit_job` sends it on the account training.hosting.jobs_account chose (the Space's, or a signed-in
visitor's own); submitted jobs are kept in DATA_DIR/jobs/jobs.json (never with a token) for the status, log
tail and cancel actions.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.config.schema import RunConfig, is_demo_model
from training.hosting.jobs_account import SPACE_ACCOUNT
from training.hosting.secrets import redact

JOBS_FILE = "jobs.json"
TIMEOUT_FACTOR = 1.5  # estimates are rough: allow half as long again
TIMEOUT_SETUP_S = 900  # container start, `uv` installing torch/TRL, model download
MIN_TIMEOUT_S = 1800
GGUF_JOB_S = 1200  # building llama.cpp, converting and quantizing in the job (GGUF_TYPES)
JOB_OUTPUT_DIR = "/tmp/outputs"  # inside the job; its disk is gone when the job ends, hence HUB_MODEL_ID
LOG_TAIL_LINES = 40
TRACKIO_TOKEN_SECRET = "TRACKIO_WRITE_TOKEN"  # trackio.init(server_url=...) reads the write token from this variable
FINISHED_STAGES = frozenset({"COMPLETED", "CANCELED", "ERROR", "DELETED"})
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


def _estimate(config: RunConfig, flavor: str) -> tuple[float | None, str, dict | None]:
    """(seconds, summary, memory per part of one process's peak in GB) for `config` on `flavor`."""
    from training.estimate.quote import estimate_for_config, plain_summary

    try:
        est, _ = estimate_for_config(config, flavor)
    except Exception as exc:  # an estimate must never block a submission; say so instead
        return None, f"no estimate ({type(exc).__name__}: {exc}); the timeout is 4 hours", None
    return est.seconds, plain_summary(est), est.memory_breakdown or None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "run"


def plan_job(config: RunConfig, flavor: str, hub_model_id: str, *, run_id: str | None = None,
             trackio_space_id: str | None = None, report_home: str | None = None, estimate_seconds: float | None = None,
             estimate_summary: str | None = None, memory_gb: dict | None = None, now: float | None = None,
             preview: bool = False, gguf_types: str | None = None) -> JobPlan:
    """Plan a Jobs run of `config` on `flavor`; the weights are pushed to the private repo hub_model_id.

    report_home: this app's Trackio URL (training.hosting.trackio_mount.report_home_url()); the job logs there with
    the write token as a secret. Else trackio_space_id, a Trackio Space the job syncs to; else metrics stay in the job.
    memory_gb: the estimate's memory per part on this flavor; on multi-GPU flavors it picks DDP or FSDP.
    preview: write the script to a temporary folder (a plan shown, not sent) instead of DATA_DIR/jobs/NAME.
    gguf_types: e.g. "q8_0,q4_k_m": after training, the same job writes GGUF files with llama.cpp and pushes them to
    HUB_MODEL_ID-GGUF (training/publish/gguf_job.py).
    """
    from huggingface_hub import constants

    from training.estimate.hardware import get_flavor
    from training.hosting.paths import trackio_project
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
    if report_home and not report_home.startswith(("https://", "http://")):
        raise JobsError(f"report_home must be a URL such as https://owner-space.hf.space/trackio, not {report_home!r}.")
    if "write_token" in (report_home or ""):
        raise JobsError("report_home must not carry a token: the write token travels as a Jobs secret.")
    if estimate_seconds is None and estimate_summary is None:
        estimate_seconds, estimate_summary, memory_gb = _estimate(config, flavor)
    base = config.run_name or run_id or "job"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    name = _safe_name(f"{_safe_name(base)[:40]}-job-{stamp}")  # unique: its own Trackio run, its own folder
    folder = Path(tempfile.mkdtemp(prefix="job-plan-")) / name if preview else jobs_dir() / name
    script_path = write_script(config, folder / "train.py", run_id)
    env = {"OUTPUT_DIR": f"{JOB_OUTPUT_DIR}/{name}", "RUN_NAME": name, "HUB_MODEL_ID": hub_model_id, "REPORT_TO": "trackio"}
    secret_names = ["HF_TOKEN"]
    notes = []
    if report_home:
        env["TRACKIO_SERVER_URL"] = report_home.rstrip("/")
        env["TRACKIO_PROJECT"] = trackio_project()
        secret_names.append(TRACKIO_TOKEN_SECRET)
        notes.append(f"Metrics stream live into this app's dashboard ({env['TRACKIO_SERVER_URL']}, run `{name}`); "
                     "the dashboard's write token goes as a Jobs secret.")
    elif trackio_space_id:
        env["TRACKIO_SPACE_ID"] = trackio_space_id
    else:
        notes.append("This app is not reachable from the Hub (no Space, no PUBLIC_URL) and no Trackio Space is named: "
                     "the job's metrics stay inside the job. Name a Trackio Space to watch them live.")
    data_files: list[str] = []
    local = _job_dataset(config, folder)
    if local is not None:
        data_files.append(str(local))  # huggingface_hub uploads local files named in the arguments with the job
        env["DATASET"] = f"{constants.HF_JOBS_ARTIFACTS_MOUNT_PATH}/{local.name.replace(' ', '_')}"
        notes.append(f"The dataset file {local.name} is uploaded with the job"
                     + (" (the pictures inside it)." if local.name == IMAGE_DATASET_FILE else "."))
    deps = dependencies(config)
    timeout = job_timeout(estimate_seconds)
    if gguf_types:
        from training.publish.gguf_convert import parse_types
        from training.publish.gguf_job import GGUF_DEPENDENCIES
        from training.publish.gguf_llama import GgufError

        try:
            env["GGUF_TYPES"] = ",".join(parse_types(gguf_types))
        except GgufError as exc:
            raise JobsError(str(exc)) from None
        deps += list(GGUF_DEPENDENCIES)
        timeout += GGUF_JOB_S
        notes.append(f"After training, the job builds llama.cpp and writes GGUF files ({env['GGUF_TYPES']}), pushed with "
                     f"an Ollama Modelfile to {hub_model_id}-GGUF (private); about {GGUF_JOB_S // 60} more minutes.")
    gpus = hw.gpu_count
    if gpus > 1:
        from training.run.multiprocess import parallel_strategy

        strategy = parallel_strategy(config.lora.enabled, gpus, memory_gb, hw.vram_gb)
        script, args = "accelerate", [*_accelerate_args(gpus, strategy.name), str(script_path), *data_files]
        notes.append(f"{hw.label}: launched with `accelerate launch --num_processes {gpus}` (one process per GPU). "
                     f"{strategy.reason}.")
    else:
        script, args = str(script_path), data_files
    return JobPlan(script_path=str(script_path), script=script, script_args=args, dependencies=deps,
                   flavor=flavor, timeout_s=timeout, env=env, secret_names=secret_names, name=name,
                   labels={"app": "fine-tune-studio", "run": _safe_name(base), "method": config.method}, estimate_seconds=estimate_seconds,
                   estimate_summary=estimate_summary or "", gpus=gpus, notes=notes)


IMAGE_DATASET_FILE = "images-dataset.parquet"


def _job_dataset(config: RunConfig, folder: Path) -> Path | None:
    """The local file the job trains on, uploaded with it: the demo's data file, a dataset file on this machine, or,
    for a local image dataset (demo-vision, a folder or .zip of pictures, a file naming pictures beside it), one
    Parquet file with the pictures inside (the job has none of this machine's files). None for a Hub dataset.
    The caller's read policy decides which local names they may send (a visitor: only their own upload)."""
    from training.data.image_rows import is_image_source, load_image_dataset
    from training.hosting.read_policy import ANYTHING, DEMO_NAMES, ReadRefused, current_policy, local_path, reading_as
    from training.run.engine import runnable_config

    source = str(config.data.source).strip()
    try:
        path = None if source in DEMO_NAMES else local_path(source, "dataset")
    except ReadRefused as exc:
        raise JobsError(str(exc)) from None
    if source not in DEMO_NAMES and (path is None or not path.exists()):
        return None  # a Hub dataset: the job reads it from the Hub
    with reading_as(ANYTHING if source in DEMO_NAMES else current_policy()):  # the built-in demos are the app's own
        local = Path(runnable_config(config)["data"]["source"])
        if not is_image_source(str(local)):
            return local if local.is_file() else None
        target = folder / IMAGE_DATASET_FILE
        try:
            load_image_dataset(str(local)).to_parquet(str(target))
        except ValueError as exc:
            raise JobsError(f"The image dataset cannot be sent with the job: {exc}. Run Validate on it.") from None
    return target


def _accelerate_args(gpus: int, strategy: str = "ddp") -> list[str]:
    """`accelerate launch` arguments for one process per GPU, DDP or FSDP as training/run/multiprocess.py launches
    them in a Space (the script path follows)."""
    from training.run.multiprocess import FSDP_FLAGS

    args = ["launch", "--num_processes", str(gpus), "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no"]
    return args + (list(FSDP_FLAGS) if strategy == "fsdp" else ["--multi_gpu"])


def describe_plan(plan: JobPlan) -> str:
    """Markdown the UI shows before submitting."""
    env = ", ".join(f"`{k}={v}`" for k, v in plan.env.items())
    lines = [f"**Flavor** `{plan.flavor}` · **estimate** {plan.estimate_summary or 'unknown'} · "
             f"**timeout** {plan.timeout_s // 60} min (estimate x {TIMEOUT_FACTOR} + {TIMEOUT_SETUP_S // 60} min setup)",
             f"**Command** `uv run {' '.join('--with ' + d for d in plan.dependencies)} {plan.script} {' '.join(plan.script_args)}`",
             f"**Environment** {env}",
             f"**Secrets** {', '.join(f'`{n}`' for n in plan.secret_names)} (sent as Jobs secrets, never in the environment "
             "or the script)"]
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


def _api(token: str | None):
    """huggingface_hub's HfApi acting with `token` (the account the job runs on)."""
    from training.publish.hub import hub_offline

    if hub_offline():
        raise JobsError(NEEDS_NETWORK + " This machine is offline (HF_HUB_OFFLINE=1).")
    from huggingface_hub import HfApi

    return HfApi(token=token)


def resolve_token(explicit: str | None = None) -> str | None:
    """The signed-in user's OAuth token, else HF_TOKEN or this machine's saved login (never stored by us)."""
    if explicit:
        return explicit
    from huggingface_hub import get_token

    return get_token()


def submit_job(plan: JobPlan, token: str | None, *, trackio_write_token: str | None = None,
               billed_to: str = SPACE_ACCOUNT, submitted_by: str | None = None) -> dict:
    """Send the planned job with run_uv_job on the account of `token` (training.hosting.jobs_account chose it).
    Tokens go in `secrets` only. Returns the stored job record (never with a token)."""
    if not token:
        raise JobsError("Jobs need a Hugging Face token with write access: set HF_TOKEN (a Space secret) or sign in.")
    secrets = {"HF_TOKEN": token}
    if TRACKIO_TOKEN_SECRET in plan.secret_names:
        if not trackio_write_token:
            raise JobsError("This job reports to the app's dashboard but no Trackio write token was given.")
        secrets[TRACKIO_TOKEN_SECRET] = trackio_write_token
    hidden = tuple(v for v in secrets.values() if v)
    leaked = [k for k, v in plan.env.items() if any(h in str(v) for h in hidden)]
    if leaked or any(h in Path(plan.script_path).read_text() for h in hidden):
        raise JobsError(f"Refusing to send a token outside the job's secrets (found in {leaked or 'the script'}).")
    api = _api(token)
    try:
        info = api.run_uv_job(plan.script, script_args=plan.script_args, dependencies=plan.dependencies, env=dict(plan.env),
                              secrets=secrets, flavor=plan.flavor, timeout=plan.timeout_s, name=plan.name,
                              labels=dict(plan.labels), token=token)
    except Exception as exc:
        raise JobsError(redact(f"Submitting the job failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                               hidden)) from None
    stage, message = _stage(info)
    owner = getattr(getattr(info, "owner", None), "name", None)
    record = {"job_id": info.id, "url": getattr(info, "url", None), "flavor": plan.flavor, "name": plan.name,
              "trackio_run": plan.env.get("RUN_NAME"), "hub_model_id": plan.env.get("HUB_MODEL_ID"),
              "trackio_space_id": plan.env.get("TRACKIO_SPACE_ID"), "trackio_project": plan.env.get("TRACKIO_PROJECT"),
              "method": plan.labels.get("method"),
              "reports_home": "TRACKIO_SERVER_URL" in plan.env, "timeout_s": plan.timeout_s,
              "estimate": plan.estimate_summary, "status": stage, "message": message,
              "billed_to": billed_to, "submitted_by": submitted_by, "namespace": owner,
              "submitted_at": str(getattr(info, "created_at", "") or "")}
    with _lock:
        jobs = _read_store()
        jobs.append(record)
        _write_store(jobs)
    return record


def get_job(job_id: str) -> dict:
    for job in stored_jobs():
        if job.get("job_id") == job_id:
            return job
    raise JobsError(f"No submitted job {job_id!r} in {jobs_dir() / JOBS_FILE}.")


def _update(job_id: str, **changes) -> dict:
    with _lock:
        jobs = _read_store()
        for job in jobs:
            if job.get("job_id") == job_id:
                job.update(changes)
                _write_store(jobs)
                return job
    raise JobsError(f"No submitted job {job_id!r} in {jobs_dir() / JOBS_FILE}.")


def _hub_error(action: str, exc: Exception, token: str | None) -> JobsError:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return JobsError(redact(f"{action} failed: {type(exc).__name__}: {first}", (token or "",)))


def refresh_job(job_id: str, token: str | None = None) -> dict:
    """The job's current status from the Hub (inspect_job), stored and returned."""
    namespace = get_job(job_id).get("namespace")
    api = _api(token)
    try:
        info = api.inspect_job(job_id=job_id, namespace=namespace, token=token)
    except Exception as exc:
        raise _hub_error("Reading the job's status", exc, token) from None
    stage, message = _stage(info)
    return _update(job_id, status=stage, message=redact(message or "", (token or "",)) or None)


def job_logs(job_id: str, token: str | None = None, tail: int = LOG_TAIL_LINES) -> str:
    """The last lines of the job's logs (fetch_job_logs), with any token masked."""
    namespace = get_job(job_id).get("namespace")
    api = _api(token)
    try:
        lines = list(api.fetch_job_logs(job_id=job_id, namespace=namespace, tail=tail, token=token))
    except Exception as exc:
        raise _hub_error("Reading the job's logs", exc, token) from None
    return redact("\n".join(str(line).rstrip("\n") for line in lines[-tail:]), (token or "",))


def cancel(job_id: str, token: str | None = None) -> dict:
    """Cancel the job on the Hub (cancel_job) and store it as CANCELED."""
    namespace = get_job(job_id).get("namespace")
    api = _api(token)
    try:
        api.cancel_job(job_id=job_id, namespace=namespace, token=token)
    except Exception as exc:
        raise _hub_error("Cancelling the job", exc, token) from None
    return _update(job_id, status="CANCELED")


def is_finished(record: dict) -> bool:
    return str(record.get("status") or "").upper() in FINISHED_STAGES


@dataclass(frozen=True)
class FlavorPrice:
    """One GPU flavor's price for a run sent to Jobs, billed to whoever submits it."""

    flavor: str
    label: str
    gpus: int
    usd_per_hour: float
    price_source: str
    seconds: float | None
    cost_usd: float | None
    verdict: str
    summary: str
    memory_gb: dict | None = None  # the estimate's memory per part of one process's peak (picks DDP or FSDP)


def flavor_prices(config: RunConfig) -> list[FlavorPrice]:
    """Every GPU flavor's hourly price (live from the Hub when reachable, else the table in
    training/estimate/hardware.py) with this run's estimated time and cost on it; time and cost are None
    when the run cannot be estimated (the prices stay)."""
    from training.estimate.hardware import CATALOGUE, live_prices, price_per_hour
    from training.estimate.quote import estimate_all_for_config, plain_summary

    gpu = [name for name, f in CATALOGUE.items() if f.is_gpu]
    live = live_prices()
    try:
        estimates, _ = estimate_all_for_config(config, flavors=gpu, prices=live or False)
        by_name = {e.hardware: e for e in estimates}
    except Exception:  # an unreadable dataset or model must not hide the prices
        by_name = {}
    rows = []
    for name in gpu:
        hourly, source = price_per_hour(CATALOGUE[name], live)
        est = by_name.get(name)
        rows.append(FlavorPrice(name, CATALOGUE[name].label, CATALOGUE[name].gpu_count, hourly, source,
                                est.seconds if est else None, est.cost_usd if est else None,
                                est.verdict if est else "unknown", plain_summary(est) if est else "",
                                (est.memory_breakdown or None) if est else None))
    return rows
