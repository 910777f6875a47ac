"""A run trained by an `accelerate launch` child process (several GPUs), supervised from the app's process.

The child is `python -m training train --config RUN_DIR/launch_config.json --output-dir RUN_DIR` (or `--resume
RUN_DIR`) on N processes, in its own session, with stdout and stderr in RUN_DIR/train.log. Its rank 0 keeps
RUN_DIR/run.json current, which is how the supervisor follows its progress. Stop and Cancel are asked for twice: a
request file every rank reads at each step (training/run/multiprocess.py) and a signal to every training process
(SIGTERM stop, SIGUSR1 cancel); a child that has not exited `grace_s` later is killed (SIGKILL to its whole session).
When it ends, `outcome` turns what it left behind into the same states and messages as the in-process thread.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from training.run import multiprocess
from training.run.engine import RUN_FILE, explain_error, latest_checkpoint, now_iso, write_json_atomic

LAUNCH_CONFIG = "launch_config.json"
FINAL_STATES = ("completed", "stopped", "cancelled")


class SupervisedChild:
    def __init__(self, output_dir: Path, processes: int, *, resume: bool, strategy: str = "ddp", grace_s: float = 120.0,
                 extra_env: dict | None = None):
        self.out, self.processes, self.resume, self.strategy = Path(output_dir), processes, resume, strategy
        self.grace_s = grace_s
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen | None = None
        self.requested: str | None = None  # stop or cancel
        self.requested_at: float | None = None
        self.forced = False

    @property
    def log_path(self) -> Path:
        return self.out / multiprocess.CHILD_LOG

    def start(self, config_dict: dict) -> None:
        import shutil

        (self.out / multiprocess.STOP_REQUEST).unlink(missing_ok=True)
        shutil.rmtree(self.out / multiprocess.RANK_ERRORS_DIR, ignore_errors=True)  # an earlier attempt's, on resume
        if self.resume:
            args = ["--resume", str(self.out)]
        else:
            write_json_atomic(self.out / LAUNCH_CONFIG, config_dict)
            args = ["--config", str(self.out / LAUNCH_CONFIG), "--output-dir", str(self.out)]
        cmd = multiprocess.launch_command(args, self.processes, strategy=self.strategy)
        env = multiprocess.launch_env(self.processes)
        env.update(self.extra_env)
        with self.log_path.open("ab") as log:
            log.write(f"--- {now_iso()} {self.processes} processes ({self.strategy})\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         cwd=str(Path(__file__).resolve().parents[2]), start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def request(self, what: str) -> None:
        """Ask every rank to stop (keep the weights) or cancel (discard them) at the next step."""
        if self.requested != "cancel":
            self.requested = what
        self.requested_at = self.requested_at or time.monotonic()
        (self.out / multiprocess.STOP_REQUEST).write_text(self.requested)
        if self.training():  # earlier, a process may not have installed its handler yet; the file reaches it at step 1
            self._signal_workers(multiprocess.CANCEL_SIGNAL if self.requested == "cancel" else multiprocess.STOP_SIGNAL)

    def training(self) -> bool:
        """Rank 0 has begun training (its run.json knows the total steps)."""
        record = self.read_record()
        return bool(record and record.get("total_steps") and record.get("status") in ("running", "stopping"))

    def _signal_workers(self, sig) -> None:
        """The training processes (the launcher's children), not the launcher: it would tear them down after 30 s."""
        if not self.alive():
            return
        import psutil

        try:
            workers = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return
        for worker in workers:
            try:
                worker.send_signal(sig)
            except psutil.Error:
                continue

    def supervise_step(self) -> None:
        """Escalate a Stop that has not ended the child within the grace period (five times longer while the model
        loads, before the first step can obey it): SIGKILL to its whole session."""
        if self.requested_at is None or not self.alive():
            return
        grace = self.grace_s if self.training() else 5 * self.grace_s
        if time.monotonic() - self.requested_at > grace:
            self.kill()

    def kill(self) -> None:
        if self.alive():
            self.forced = True
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)

    def read_record(self) -> dict | None:
        try:
            return json.loads((self.out / RUN_FILE).read_text())
        except (OSError, ValueError):
            return None

    def log_text(self, max_chars: int = 20000) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - max_chars))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def outcome(self, base_record: dict, config) -> dict:
        """run.json once the child has exited, completed from what it left behind (rank 0 may have died before
        recording anything), written back; states and messages as for the in-process thread."""
        rc = self.proc.returncode if self.proc is not None else None
        record = self.read_record() or dict(base_record)
        status = record.get("status")
        (self.out / multiprocess.STOP_REQUEST).unlink(missing_ok=True)
        if status in FINAL_STATES and rc == 0 and not self.forced:
            return record
        checkpoint = latest_checkpoint(self.out)
        resume_hint = (f" Resume continues from the checkpoint at step {checkpoint.name.split('-')[-1]}." if checkpoint
                       else " No checkpoint was saved, so Resume starts it again.")
        failure = multiprocess.first_rank_failure(self.out)
        killed = multiprocess.killed_by_signal(self.log_text())
        if self.requested == "cancel":
            import shutil

            shutil.rmtree(self.out / "checkpoints", ignore_errors=True)
            record.update(status="cancelled", error=None)
        elif self.requested == "stop" and status not in FINAL_STATES:
            waited = f"did not finish within {self.grace_s:g} s, so the training processes were killed" if self.forced \
                else "ended the training processes before they could save"
            record.update(status="interrupted", error=f"Stop {waited}; no final weights were saved.{resume_hint}")
        elif killed == signal.SIGKILL:  # before the ranks' own errors: theirs are the consequence (a peer vanished)
            record.update(status="failed", error=f"{explain_error(MemoryError(), config)} (A training process was killed "
                                                 f"with SIGKILL, which the system does when memory runs out.){resume_hint}")
        elif killed is not None:
            record.update(status="failed", error=f"A training process died with signal {killed} "
                                                 f"({signal.Signals(killed).name}); the log ({multiprocess.CHILD_LOG}) has "
                                                 f"the details.{resume_hint}")
        elif failure is not None:
            record.update(status="failed", error=failure["error"])
        elif status == "failed" and record.get("error"):
            pass
        else:
            record.update(status="failed", error=f"The training processes exited with code {rc} before recording an outcome; "
                                                 f"the log ({multiprocess.CHILD_LOG}) has the details.{resume_hint}")
        record["finished_at"] = now_iso()
        write_json_atomic(self.out / RUN_FILE, record)
        return record
