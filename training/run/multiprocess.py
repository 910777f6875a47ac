"""Training on several processes through `accelerate launch`: the command, the strategy (DDP or FSDP), a Stop that
every rank obeys at the same step, and what a rank that fails leaves behind for the supervisor.

Each process runs the same `python -m training train ...` (so the same engine and training module, training/recipe/)
on its share of every batch; only rank 0 writes run.json, checkpoints, Trackio metrics and the final weights.

The global batch is explicit: per-device batch (the `batch_size` setting) x gradient accumulation x processes. Two
processes with batch 4 train on the same 8 rows per step as one process with batch 8 (tests/integration/
test_multiprocess.py checks the losses agree).

On a CPU machine accelerate's `--cpu` flag picks its single-process launcher (it starts N processes only through
mpirun), so N CPU processes are started through accelerate's torchrun-based multi-process launcher (`--multi_gpu`,
which needs no GPU); the trainer's `use_cpu=True` (resolved on CPU) then selects the gloo backend.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = (sys.executable, "-m", "accelerate.commands.launch")
RANK_ERRORS_DIR = "rank-errors"
CHILD_LOG = "train.log"  # the supervised child's stdout and stderr, under the run folder
STOP_REQUEST = "stop.request"  # "stop" or "cancel", written by the supervisor; every rank reads it at each step
STOP_SIGNAL, CANCEL_SIGNAL = signal.SIGTERM, signal.SIGUSR1
FIT_HEADROOM = 0.9  # a strategy "fits" a device when it needs at most this share of its memory
# FSDP (version 2) settings: shard weights, gradients and optimizer states across the GPUs, wrap each decoder layer
# (the model's `_no_split_modules`), and gather a full state dict so checkpoints and final/ load like a DDP run's.
FSDP_FLAGS = ("--use_fsdp", "--fsdp_version", "2", "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
              "--fsdp_state_dict_type", "FULL_STATE_DICT", "--fsdp_reshard_after_forward", "true",
              "--fsdp_cpu_ram_efficient_loading", "true")


# --- where this process stands --------------------------------------------------------------------------------

def process_rank() -> int:
    """This process's rank under a launcher (torchrun sets RANK; mpirun PMI_RANK or OMPI_COMM_WORLD_RANK); 0 alone."""
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    return 0


def world_size() -> int:
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    return 1


def under_launcher() -> bool:
    """True inside a process that `accelerate launch` (or torchrun) started with more than one process."""
    return world_size() > 1


def global_batch(batch_size: int, grad_accum: int, processes: int) -> int:
    """Rows per optimizer step: per-device batch x gradient accumulation x processes."""
    return batch_size * grad_accum * max(1, processes)


def local_device_count() -> int:
    """GPUs this machine can train on (0 on CPU)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# --- which strategy ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Strategy:
    name: str  # single, ddp, fsdp
    reason: str
    per_device_gb: float | None = None  # memory per device the strategy needs (None: not estimated)


def parallel_strategy(lora: bool, devices: int, memory_gb: dict[str, float] | None = None,
                      device_memory_gb: float | None = None) -> Strategy:
    """Which strategy a run resolves to on `devices` devices, from the estimate's memory model (training/estimate/
    memory.py: GB per part of one process's peak, `memory_gb`) and one device's memory.

    DDP keeps a whole copy of weights, gradients and optimizer states on every device; FSDP shards those three across
    the devices and keeps the rest (activations, logits, allocator cache) per device. LoRA keeps DDP (the base is frozen
    and the adapter's states are small); full fine-tuning moves to FSDP only when the DDP copy does not fit one device."""
    if devices <= 1:
        return Strategy("single", "one device: no data parallelism", _total(memory_gb))
    if not memory_gb or not device_memory_gb:
        return Strategy("ddp", "DDP: memory per device not estimated, so each device keeps a full copy", _total(memory_gb))
    ddp = _total(memory_gb)
    budget = device_memory_gb * FIT_HEADROOM
    if lora:
        return Strategy("ddp", f"DDP: LoRA trains a small adapter on a frozen base ({ddp:.1f} GB per device)", ddp)
    if ddp <= budget:
        return Strategy("ddp", f"DDP: a full copy per device fits ({ddp:.1f} of {device_memory_gb:g} GB)", ddp)
    states = sum(memory_gb.get(k, 0.0) for k in ("weights", "gradients", "optimizer"))
    fsdp = round(ddp - states + states / devices, 3)
    fits = "fits" if fsdp <= budget else "still does not fit"
    return Strategy("fsdp", f"FSDP: a full copy needs {ddp:.1f} GB per device, more than {device_memory_gb:g} GB; sharding "
                            f"weights, gradients and optimizer states over {devices} devices needs {fsdp:.1f} GB ({fits})", fsdp)


def _total(memory_gb: dict[str, float] | None) -> float | None:
    return round(sum(memory_gb.values()), 3) if memory_gb else None


def strategy_for_config(config, devices: int) -> Strategy:
    """The strategy for a RunConfig on this machine's `devices` GPUs, from the estimate for this machine; DDP when the
    estimate cannot be made (an unreachable model, say)."""
    if devices <= 1:
        return parallel_strategy(config.lora.enabled, devices)
    try:
        from training.estimate.quote import estimate_for_config

        est, _ = estimate_for_config(config, None)
        return parallel_strategy(config.lora.enabled, devices, est.memory_breakdown, est.available_memory_gb)
    except Exception as exc:  # noqa: BLE001 - the strategy falls back to DDP, with the reason
        return Strategy("ddp", f"DDP: the memory estimate failed ({type(exc).__name__}), so each device keeps a full copy")


# --- the command --------------------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port free on this machine now, for the launcher's rendezvous (`--main_process_port`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(train_args: list[str], processes: int, *, strategy: str = "ddp", port: int | None = None) -> list[str]:
    """`accelerate launch` running `python -m training train TRAIN_ARGS` on `processes` processes (GPUs on a GPU
    machine, CPU processes over gloo elsewhere), with a free rendezvous port and FSDP's flags for `strategy="fsdp"`."""
    if processes < 2:
        raise ValueError(f"a multi-process launch needs at least 2 processes, got {processes}")
    cmd = [*LAUNCHER, "--num_processes", str(processes), "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(port or free_port())]
    cmd += list(FSDP_FLAGS) if strategy == "fsdp" else ["--multi_gpu"]
    return [*cmd, "-m", "training", "train", *train_args]


def launch_env(processes: int, base: dict | None = None) -> dict[str, str]:
    """The launcher's environment: the repository importable (`-m training`), the CPU cores shared between the
    processes (torch would otherwise start one thread per core in each)."""
    env = dict(os.environ if base is None else base)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, processes))))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- inside each process --------------------------------------------------------------------------------------------

def install_stop_signals(stop_event, cancel_event) -> None:
    """SIGTERM: stop at the next step and keep the weights (as Stop in the app); SIGUSR1: cancel (discard them)."""
    def on_stop(signum, frame):
        stop_event.set()

    def on_cancel(signum, frame):
        cancel_event.set()
        stop_event.set()

    signal.signal(STOP_SIGNAL, on_stop)
    signal.signal(CANCEL_SIGNAL, on_cancel)


def read_stop_request(out: Path, stop_event, cancel_event) -> None:
    """Set the events from OUTPUT_DIR/stop.request (written by the supervisor) when it exists."""
    try:
        what = (Path(out) / STOP_REQUEST).read_text().strip()
    except OSError:
        return
    if what == "cancel":
        cancel_event.set()
    stop_event.set()


def synced_stop_callback(stop_event, cancel_event, out: Path | None = None):
    """A TrainerCallback that makes every rank agree on Stop/Cancel at the same step: a signal may reach one process a
    step before another, and a rank that left the loop alone would leave the others waiting in a collective. One
    all-reduce of two flags per step (negligible next to the gradient all-reduce). With `out`, the supervisor's
    stop request file is read at each step too (a signal sent before a process installed its handler is not lost)."""
    from transformers import TrainerCallback

    class SyncedStop(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            import torch
            import torch.distributed as dist

            if out is not None:
                read_stop_request(out, stop_event, cancel_event)

            flags = torch.tensor([float(stop_event.is_set()), float(cancel_event.is_set())])
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                dist.all_reduce(flags, op=dist.ReduceOp.MAX)
            if flags[1] > 0:
                cancel_event.set()
            if flags[0] > 0:
                stop_event.set()
                control.should_training_stop = True
                control.should_save = False

    return SyncedStop()


def record_rank_failure(out: Path, message: str) -> None:
    """What failed in this process (a plain-language message), for the supervisor: when several ranks fail, the first
    failure is the cause and the others (peers gone) are consequences."""
    folder = Path(out) / RANK_ERRORS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    rank = process_rank()
    (folder / f"rank{rank}.json").write_text(json.dumps({"rank": rank, "time": time.time(), "error": message}))


def first_rank_failure(out: Path) -> dict | None:
    """The earliest failure any rank recorded, or None."""
    found = []
    for path in (Path(out) / RANK_ERRORS_DIR).glob("rank*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return min(found, key=lambda f: f.get("time", 0)) if found else None


def killed_by_signal(log_text: str) -> int | None:
    """The signal that killed a rank, as torchrun reports it in the launcher's log (9: SIGKILL, what the system's
    out-of-memory killer sends), leaving out SIGTERM and SIGINT: those are the launcher's own teardown of the others."""
    import re

    for match in re.finditer(r"exitcode\s*:\s*-(\d+)|Signal (\d+) \(SIG[A-Z]+\) received by PID", log_text):
        sig = int(match.group(1) or match.group(2))
        if sig not in (signal.SIGTERM, signal.SIGINT):
            return sig
    return None


def rank_label() -> str:
    """` (rank R of N)` under a launcher, else empty: for log lines several processes write."""
    return f" (rank {process_rank()} of {world_size()})" if under_launcher() else ""


def space_trackio_env() -> dict[str, str]:
    """Where a child's rank 0 sends its Trackio metrics. Off a Space: nowhere special (Trackio's SQLite in WAL mode
    takes writes from several processes), so {}. On a Space Trackio keeps its SQLite in exclusive locking mode, one
    writing process, the app: the child logs through the app's own dashboard at /trackio with its write token (the
    remote-logging path HF Jobs use; the token is registered for redaction and never written)."""
    if not os.environ.get("SPACE_ID"):
        return {}
    from training.hosting.trackio_mount import MOUNT_PATH, write_token

    port = os.environ.get("GRADIO_SERVER_PORT", "7860")
    return {"TRACKIO_SERVER_URL": f"http://127.0.0.1:{port}{MOUNT_PATH}", "TRACKIO_WRITE_TOKEN": write_token()}
