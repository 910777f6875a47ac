"""The process-wide run manager: one run at a time, with stop and live status.

One GPU or CPU: the run trains in a background thread of this process. Several GPUs: it trains in a supervised
`accelerate launch` child process (training/run/supervised_child.py), one process per GPU, followed through the
run.json its rank 0 keeps; Stop, Cancel, crashes and killed processes end in the same states and messages, and its
log (RUN_DIR/train.log) is readable through `log_tail`. Either way the one-run lock holds.

State lives here, in the server process, not in any browser session: every page, reload and
API caller sees the same run. The training thread never touches UI objects; the UI polls
`status()`, which never blocks on training.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from training.config.schema import RunConfig
from training.hosting.paths import runs_dir
from training.hosting.secrets import redact
from training.run.engine import ACTIVE_STATES, RUN_FILE, Progress, latest_checkpoint, preflight, read_run, run_training, write_json_atomic


class RunActiveError(RuntimeError):
    """A run is already active; only one may train at a time."""


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunStatus:
    state: str  # idle, running, stopping, completed, stopped, failed, cancelled, interrupted
    run_id: str | None = None
    run_name: str | None = None
    phase: str | None = None
    stage: str = ""  # while loading: loading data, loading model, building trainer
    step: int = 0
    total: int = 0
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None
    last_metrics: dict = field(default_factory=dict)
    metrics: tuple[dict, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    output_dir: str | None = None
    model_dir: str | None = None
    config: dict | None = None
    system_prompt: str | None = None
    processes: int = 1  # >1: a supervised `accelerate launch` child trains it (log in RUN_DIR/train.log, see log_tail)

    @property
    def active(self) -> bool:
        return self.state in ("running", "stopping")

    def to_dict(self) -> dict:
        return {
            "state": "running" if self.state == "stopping" else self.state, "stopping": self.state == "stopping",
            "run_id": self.run_id, "run_name": self.run_name, "phase": self.phase,
            "step": self.step, "total": self.total, "elapsed_seconds": round(self.elapsed_seconds, 1),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds, 1),
            "last_metrics": self.last_metrics, "error": self.error, "output_dir": self.output_dir,
            "model_dir": self.model_dir, "notes": list(self.notes), "processes": self.processes,
        }


def new_run_id(config: RunConfig) -> str:
    model = re.sub(r"[^A-Za-z0-9]+", "-", config.model.name_or_path.split("/")[-1]).strip("-").lower()[:24] or "model"
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{config.method}-{model}-{secrets.token_hex(2)}"


def default_processes() -> int:
    """One training process per GPU when there are several; otherwise 1 (the in-process thread)."""
    from training.run.multiprocess import local_device_count

    gpus = local_device_count()
    return gpus if gpus > 1 else 1


class RunManager:
    def __init__(self, root: Path | None = None, processes: int | Callable[[], int] | None = None,
                 stop_grace_s: float = 120.0, child_env: Callable[[], dict] | None = None):
        """`processes`: how many processes a run trains on (a number, or a function asked at each start; default:
        `default_processes`). More than one starts a supervised `accelerate launch` child instead of the thread, on
        GPUs or, where there are none, CPU processes over gloo (what tests use). `stop_grace_s`: how long a child may
        take to obey Stop before it is killed. `child_env`: extra environment for the child (default:
        `space_trackio_env`, where its rank 0 sends Trackio metrics)."""
        self._processes = processes
        self._stop_grace_s = stop_grace_s
        self._child_env = child_env
        self._child = None  # SupervisedChild of the active or last run, when it trained in a child process
        self._root = root
        self._lock = threading.Lock()  # guards the fields below
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._progress: Progress | None = None
        self._record: dict | None = None
        self._run_id: str | None = None
        self._config: RunConfig | None = None
        self._output_dir: Path | None = None
        self._generation = 0  # bumped when a run starts, is asked to stop, ends or is deleted

    @property
    def root(self) -> Path:
        return self._root or runs_dir()

    @property
    def generation(self) -> int:
        """A number that changes whenever the run's state changes other than by training on: a run starts, resumes,
        is asked to stop or cancel, ends, or is deleted. A cached status (components/api.py) older than this is
        stale, however young it is. Read without the lock: an int read is atomic."""
        return self._generation

    def _changed(self) -> None:
        """Record a change of state (call with the lock held)."""
        self._generation += 1

    def start(self, config: RunConfig, callbacks=()) -> str:
        """Start training in a background thread; raises RunActiveError or ConfigError.

        `callbacks` are extra TrainerCallbacks (used by the dry-run probe and fault tests). A config problem, a model
        or a dataset that cannot be found is refused here, before any run exists."""
        preflight(config)
        config = RunConfig.from_dict(config.to_dict())  # private copy: the UI may keep editing its own
        processes = self._processes_for_run()  # may import torch: outside the lock, which status() takes
        with self._lock:
            self._ensure_idle()
            run_id = new_run_id(config)
            config.run_name = config.run_name or run_id
            output_dir = self.root / run_id
            output_dir.mkdir(parents=True, exist_ok=False)
            self._launch(config, output_dir, run_id, resume=False, callbacks=callbacks, processes=processes)
        return run_id

    def resume(self, run_id: str) -> str:
        """Continue an interrupted, failed or stopped run from its last checkpoint, to the same final step."""
        processes = self._processes_for_run()
        with self._lock:
            self._ensure_idle()
            output_dir = self._run_dir(run_id)
            record = read_run(output_dir)
            if record.get("status") == "completed":
                raise ValueError(f"Run {run_id} already completed; use Rerun to train again with its config.")
            config = RunConfig.from_dict(record["config"])
            self._launch(config, output_dir, run_id, resume=True, callbacks=(), processes=processes)
        return run_id

    def _ensure_idle(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RunActiveError(f"A run is active: {self._run_id}. Stop it or wait for it to finish.")

    def _processes_for_run(self) -> int:
        p = self._processes
        if p is None:
            return default_processes()
        return max(1, int(p() if callable(p) else p))

    def _launch(self, config: RunConfig, output_dir: Path, run_id: str, resume: bool, callbacks, processes: int = 1) -> None:
        self._stop, self._cancel = threading.Event(), threading.Event()
        self._progress = Progress()
        self._record = None
        self._child = None
        self._run_id, self._config, self._output_dir = run_id, config, output_dir
        self._changed()
        if processes > 1 and not callbacks:  # TrainerCallback objects live in this process: those runs take the thread
            self._thread = threading.Thread(target=self._supervise, args=(config, output_dir, run_id, resume, processes),
                                            name=f"supervise-{run_id}", daemon=True)
            self._thread.start()
            return
        kwargs = dict(stop_event=self._stop, cancel_event=self._cancel, progress=self._progress, run_id=run_id,
                      resume=resume, extra_callbacks=tuple(callbacks))
        # The thread reads the run's data and model under the read policy of whoever started it (read_policy).
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._body, config, output_dir, kwargs),
                                        name=f"train-{run_id}", daemon=True)
        self._thread.start()

    def _supervise(self, config: RunConfig, output_dir: Path, run_id: str, resume: bool, processes: int) -> None:
        """The body of a child-process run: start it, follow its run.json, escalate a Stop it does not obey, and record
        its outcome. Always releases the lock (the thread ends) and records an outcome, like `_body`."""
        from training.run.multiprocess import local_device_count, space_trackio_env, strategy_for_config
        from training.run.supervised_child import SupervisedChild

        record = None
        progress = self._progress
        base = {"run_id": run_id, "status": "running", "config": config.to_dict(), "metrics": [], "error": None,
                "notes": [], "step": 0, "total_steps": None, "model_dir": None, "started_at": None}
        try:
            # GPUs: DDP or FSDP as the memory estimate says; no GPU (tests force processes): CPU processes, DDP over gloo
            strategy = strategy_for_config(config, processes) if local_device_count() > 1 else None
            child = SupervisedChild(output_dir, processes, resume=resume, strategy=strategy.name if strategy else "ddp",
                                    grace_s=self._stop_grace_s, extra_env=(self._child_env or space_trackio_env)())
            progress.notes.append(f"Training on {processes} processes ({strategy.reason if strategy else 'DDP'}); "
                                  f"the log is in {output_dir.name}/train.log.")
            with self._lock:
                self._child = child
            progress.phase, progress.stage = "loading", f"starting {processes} processes"
            child.start(config.to_dict())
            if self._stop.is_set():  # Stop or Cancel pressed while it started
                child.request("cancel" if self._cancel.is_set() else "stop")
            while child.alive():
                _follow(progress, child.read_record())
                child.supervise_step()
                time.sleep(0.25)
            record = child.outcome(base, config)
            _follow(progress, record)
        except Exception as exc:  # noqa: BLE001 - the outcome must always be recorded
            from training.run.engine import explain_error

            if self._child is not None:
                self._child.kill()
            record = {**base, "status": "failed", "error": explain_error(exc, config)}
            write_json_atomic(output_dir / RUN_FILE, record)
        finally:
            progress.phase = "done"
            with self._lock:
                self._record = record or {"status": "failed", "error": "The training process ended unexpectedly."}
                self._changed()

    def _body(self, config: RunConfig, output_dir: Path, kwargs: dict) -> None:
        record = None
        try:
            record = run_training(config, output_dir, **kwargs)
        finally:
            with self._lock:
                self._record = record or {"status": "failed", "error": "The training thread ended unexpectedly."}
                self._changed()

    def stop(self) -> bool:
        """Ask the active run to stop at the next step (weights so far are kept). False if none is active."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return False
            self._stop.set()
            if self._child is not None:
                self._child.request("stop")
            self._changed()
            return True

    def cancel(self) -> bool:
        """Stop the active run at the next step and discard its weights and checkpoints."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return False
            self._cancel.set()
            self._stop.set()
            if self._child is not None:
                self._child.request("cancel")
            self._changed()
            return True

    def log_tail(self, run_id: str | None = None, max_chars: int = 20000) -> str:
        """The end of a run's log (tokens redacted): the child processes' output (train.log) for a multi-process run,
        else the tracebacks of run.log; "" when there is none. Default: the active or last run."""
        folder = self._run_dir(run_id) if run_id else self._output_dir
        if folder is None:
            return ""
        for name in ("train.log", "run.log"):
            path = Path(folder) / name
            if path.exists():
                with path.open("rb") as f:
                    f.seek(0, os.SEEK_END)
                    f.seek(max(0, f.tell() - max_chars))
                    return redact(f.read().decode("utf-8", "replace"))
        return ""

    def recover_interrupted(self) -> list[str]:
        """Mark runs whose process died while they trained as `interrupted`; return their ids."""
        found = []
        for path in self.root.glob(f"*/{RUN_FILE}"):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if record.get("status") not in ACTIVE_STATES:
                continue
            same_host = record.get("host") in (None, socket.gethostname())
            mine = record.get("pid") == os.getpid() and self._thread is not None and self._thread.is_alive()
            if mine or (same_host and record.get("pid") != os.getpid() and _pid_alive(record.get("pid"))):
                continue
            record["status"] = "interrupted"
            ckpt = latest_checkpoint(path.parent)
            record["error"] = ("The app stopped while this run trained. Resume continues from the checkpoint at step "
                               f"{ckpt.name.split('-')[-1]}." if ckpt else
                               "The app stopped while this run trained, before its first checkpoint; Resume starts it again.")
            write_json_atomic(path, record)
            found.append(record.get("run_id") or path.parent.name)
        return found

    def wait(self, timeout: float | None = None) -> RunStatus:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def status(self) -> RunStatus:
        with self._lock:
            if self._run_id is None or self._progress is None:
                return self._last_run_on_disk()
            p, rec = self._progress, self._record
            alive = self._thread is not None and self._thread.is_alive()
            if alive:
                state = "stopping" if self._stop.is_set() else "running"
            else:
                state = (rec or {}).get("status", "failed")
            metrics = tuple(p.metrics)
            losses = [m for m in metrics if "loss" in m]
            return RunStatus(
                state=state,
                run_id=self._run_id,
                run_name=self._config.run_name if self._config else None,
                phase=p.phase,
                stage=p.stage,
                step=p.step,
                total=p.total,
                elapsed_seconds=time.time() - p.started,
                eta_seconds=p.eta_seconds if alive else 0.0,
                last_metrics=dict(losses[-1]) if losses else {},
                metrics=metrics,
                notes=tuple(p.notes),
                error=(rec or {}).get("error"),
                output_dir=str(self._output_dir),
                model_dir=(rec or {}).get("model_dir"),
                config=self._config.to_dict() if self._config else None,
                system_prompt=(rec or {}).get("system_prompt"),
                processes=self._child.processes if self._child is not None else 1,
            )

    def _last_run_on_disk(self) -> RunStatus:
        """After a restart nothing trains in memory: show the newest run from disk (e.g. `interrupted`)."""
        runs = self.history(limit=1)
        if not runs:
            return RunStatus(state="idle")
        rec = runs[0]
        metrics = tuple(rec.get("metrics") or ())
        losses = [m for m in metrics if "loss" in m]
        config = rec.get("config") or {}
        return RunStatus(state=rec.get("status", "failed"), run_id=rec.get("run_id"), run_name=config.get("run_name"),
                         phase="done", step=rec.get("step") or 0, total=rec.get("total_steps") or 0,
                         last_metrics=dict(losses[-1]) if losses else {}, metrics=metrics, notes=tuple(rec.get("notes") or ()),
                         error=rec.get("error"), output_dir=str(self.root / str(rec.get("run_id"))), model_dir=rec.get("model_dir"),
                         config=config, system_prompt=rec.get("system_prompt"))

    def history(self, limit: int | None = None) -> list[dict]:
        """run.json of every run in the runs folder, newest first."""
        out: list[dict] = []
        for path in sorted(self.root.glob(f"*/{RUN_FILE}"), reverse=True):
            if limit is not None and len(out) >= limit:
                break
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def _run_dir(self, run_id: str) -> Path:
        path = (self.root / str(run_id)).resolve()
        if path.parent != self.root.resolve() or not (path / RUN_FILE).exists():
            raise ValueError(f"No run named {run_id!r} in {self.root}.")
        return path

    def run_record(self, run_id: str) -> dict:
        return read_run(self._run_dir(run_id))

    def delete(self, run_id: str) -> None:
        with self._lock:
            if run_id == self._run_id and self._thread is not None and self._thread.is_alive():
                raise RunActiveError("Cannot delete the run that is training. Stop it first.")
            path = self._run_dir(run_id)
            shutil.rmtree(path)
            if run_id == self._run_id:
                self._run_id = self._progress = self._record = self._config = self._output_dir = None
            self._changed()


def _follow(progress: Progress, record: dict | None) -> None:
    """Live figures of a child-process run, from the run.json its rank 0 keeps current."""
    if not record:
        return
    total, step = record.get("total_steps") or 0, record.get("step") or 0
    if total and progress.train_started is None:
        progress.phase, progress.stage, progress.train_started, progress.first_step = "training", "", time.time(), step
    progress.total, progress.step = total or progress.total, step
    progress.metrics[:] = record.get("metrics") or []
    own = [n for n in progress.notes if n.startswith("Training on ")]
    progress.notes[:] = own + [n for n in record.get("notes") or [] if n not in own]


_manager: RunManager | None = None
_manager_lock = threading.Lock()


def get_run_manager() -> RunManager:
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = RunManager()
            _manager.recover_interrupted()
        return _manager
