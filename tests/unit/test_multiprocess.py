"""Multi-process training's pure parts: the `accelerate launch` command, DDP vs FSDP, ranks, stop requests, failures."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from training.run import multiprocess as mp


def _parsed(cmd: list[str]):
    """The command as `accelerate launch` itself parses it (an unknown flag fails here, not on a GPU machine)."""
    from accelerate.commands.launch import launch_command_parser

    assert cmd[:3] == list(mp.LAUNCHER)
    return launch_command_parser().parse_args(cmd[3:])


def test_ddp_command_runs_n_processes_of_the_training_cli():
    cmd = mp.launch_command(["--output-dir", "runs/x"], 2, port=29123)
    args = _parsed(cmd)
    assert args.num_processes == 2 and args.main_process_port == 29123 and args.num_machines == 1
    assert args.multi_gpu and not args.cpu and not args.use_fsdp  # --cpu would start ONE process (no mpirun)
    assert args.module and args.training_script == "training"
    assert args.training_script_args == ["train", "--output-dir", "runs/x"]


def test_fsdp_command_shards_with_a_full_state_dict():
    args = _parsed(mp.launch_command(["--resume", "runs/x"], 4, strategy="fsdp"))
    assert args.use_fsdp and not args.multi_gpu and args.num_processes == 4
    assert args.fsdp_version == "2" and args.fsdp_state_dict_type == "FULL_STATE_DICT"
    assert args.fsdp_auto_wrap_policy == "TRANSFORMER_BASED_WRAP"
    assert 1024 <= args.main_process_port <= 65535  # a free port was picked


def test_one_process_is_not_a_launch():
    with pytest.raises(ValueError, match="at least 2"):
        mp.launch_command([], 1)


def test_free_ports_are_usable_and_launch_env_shares_the_cores(monkeypatch):
    import socket

    port = mp.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(mp.os, "cpu_count", lambda: 8)
    env = mp.launch_env(2, base={"PYTHONPATH": "/elsewhere"})
    assert env["OMP_NUM_THREADS"] == "4" and env["PYTHONPATH"].endswith("/elsewhere")
    assert env["PYTHONPATH"].split(mp.os.pathsep)[0] == str(mp.Path(mp.__file__).resolve().parents[2])


def test_global_batch_counts_every_process():
    assert mp.global_batch(4, 2, 2) == 16
    assert mp.global_batch(8, 1, 1) == mp.global_batch(4, 1, 2) == 8
    assert mp.global_batch(8, 1, 0) == 8


MEMORY = {"weights": 14.0, "gradients": 14.0, "optimizer": 28.0, "activations": 6.0, "logits": 1.0, "allocator_cache": 1.0}


def test_strategy_single_device_and_lora_and_fitting_runs_use_ddp():
    assert mp.parallel_strategy(False, 1, MEMORY, 80).name == "single"
    assert mp.parallel_strategy(True, 4, MEMORY, 40).name == "ddp"  # LoRA: frozen base, small adapter states
    fits = mp.parallel_strategy(False, 2, MEMORY, 80)
    assert fits.name == "ddp" and fits.per_device_gb == 64.0
    assert mp.parallel_strategy(False, 2, None, None).name == "ddp"  # not estimated


def test_strategy_full_fine_tuning_that_does_not_fit_one_device_shards():
    s = mp.parallel_strategy(False, 4, MEMORY, 40)
    assert s.name == "fsdp"
    assert s.per_device_gb == pytest.approx(8.0 + 56.0 / 4)  # unsharded parts + a quarter of weights/grads/optimizer
    assert "(fits)" in s.reason and "4 devices" in s.reason
    assert "still does not fit" in mp.parallel_strategy(False, 2, MEMORY, 24).reason


def test_strategy_for_config_on_one_device():
    from training.config.schema import RunConfig

    assert mp.strategy_for_config(RunConfig.demo(), 1).name == "single"


def test_rank_and_world_size_from_the_launcher(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert (mp.process_rank(), mp.world_size(), mp.under_launcher(), mp.rank_label()) == (0, 1, False, "")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert (mp.process_rank(), mp.world_size(), mp.under_launcher()) == (1, 2, True)
    assert mp.rank_label() == " (rank 1 of 2)"


def test_the_first_rank_failure_is_the_cause(tmp_path, monkeypatch):
    assert mp.first_rank_failure(tmp_path) is None
    monkeypatch.setenv("RANK", "1")
    mp.record_rank_failure(tmp_path, "Out of memory. Lower the batch size")
    time.sleep(0.01)
    monkeypatch.setenv("RANK", "0")
    mp.record_rank_failure(tmp_path, "Training failed: RuntimeError: Connection reset by peer")
    (tmp_path / mp.RANK_ERRORS_DIR / "rank2.json").write_text("not json")
    first = mp.first_rank_failure(tmp_path)
    assert first["rank"] == 1 and first["error"].startswith("Out of memory")


TORCHRUN_LOG = """
E1202 16:43:25.752000 22122 api.py:1002] failed (exitcode: -9) local_rank: 1 (pid: 22184) of binary: python
Failures:
[1]:
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 22183)  (SIGTERM)
  traceback : Signal 15 (SIGTERM) received by PID 22183
Root Cause (first observed failure):
[0]:
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 22184)  (SIGKILL)
  traceback : Signal 9 (SIGKILL) received by PID 22184
"""


def test_a_killed_rank_is_read_from_the_launcher_log():
    assert mp.killed_by_signal(TORCHRUN_LOG) == 9
    assert mp.killed_by_signal("exitcode  : -15 (pid: 1)  (SIGTERM)\nexitcode  : 1 (pid: 2)") is None  # teardown only
    assert mp.killed_by_signal("all good") is None


def _control():
    return SimpleNamespace(should_training_stop=False, should_save=True)


def test_synced_stop_obeys_a_signal_and_the_request_file(tmp_path):
    import signal

    stop, cancel = threading.Event(), threading.Event()
    callback = mp.synced_stop_callback(stop, cancel, tmp_path)
    control = _control()
    callback.on_step_end(None, None, control)
    assert not control.should_training_stop  # nothing asked

    (tmp_path / mp.STOP_REQUEST).write_text("cancel")
    callback.on_step_end(None, None, control)
    assert control.should_training_stop and not control.should_save and stop.is_set() and cancel.is_set()

    old = (signal.getsignal(mp.STOP_SIGNAL), signal.getsignal(mp.CANCEL_SIGNAL))
    try:
        stop2, cancel2 = threading.Event(), threading.Event()
        mp.install_stop_signals(stop2, cancel2)
        signal.raise_signal(mp.STOP_SIGNAL)
        assert stop2.is_set() and not cancel2.is_set()
        signal.raise_signal(mp.CANCEL_SIGNAL)
        assert cancel2.is_set()
    finally:
        signal.signal(mp.STOP_SIGNAL, old[0])
        signal.signal(mp.CANCEL_SIGNAL, old[1])


def test_cli_train_has_num_processes_and_refuses_bad_counts(capsys):
    from training.cli.main import _without_num_processes, build_parser, main

    help_text = build_parser().parse_args(["train", "--output-dir", "x"])
    assert help_text.num_processes == 1
    assert _without_num_processes(["--max-steps", "3", "--num-processes", "2", "--num-processes=4", "--output-dir", "d"]) == [
        "--max-steps", "3", "--output-dir", "d"]
    assert main(["train", "--output-dir", "x", "--num-processes", "0"]) == 2
    assert "--num-processes 0" in capsys.readouterr().err
    assert main(["train", "--output-dir", "x", "--num-processes", "4096"]) == 2
    assert "give at most" in capsys.readouterr().err


def test_run_status_says_how_many_processes():
    from training.run.manager import RunStatus

    assert RunStatus(state="idle").to_dict()["processes"] == 1
    sent = json.loads(json.dumps(RunStatus(state="running", processes=2).to_dict()))  # what /run_status sends
    assert sent["processes"] == 2 and sent["state"] == "running"


def test_only_rank_zero_writes_in_the_training_module(monkeypatch, tmp_path):
    """The recipe's guard (it is bundled into the exported script, so it cannot import this module's process_rank)."""
    from training.recipe.train import is_main_process, write_record

    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()
    write_record(tmp_path, {"status": "running"})
    assert not (tmp_path / "run.json").exists()
    monkeypatch.setenv("RANK", "0")
    write_record(tmp_path, {"status": "running"})
    assert json.loads((tmp_path / "run.json").read_text()) == {"status": "running"}


def test_the_resolved_global_batch_and_steps_count_the_processes():
    from training.config.schema import RunConfig
    from training.recipe.resolve import planned_steps, resolve_run

    config = RunConfig.demo().to_dict()
    config["train"].update(batch_size=4, grad_accum=2, max_steps=0, num_epochs=1)
    one = resolve_run(config, {"accelerator": "cpu"}, rows=160)
    two = resolve_run(config, {"accelerator": "cpu", "processes": 2}, rows=160)
    assert one.summary()["effective_batch"] == 8 and two.summary()["effective_batch"] == 16
    assert two.summary()["processes"] == 2 and one.processes == 1
    assert planned_steps(config["train"], 160) == 20 and planned_steps(config["train"], 160, 2) == 10


def test_on_a_space_the_child_logs_through_the_apps_dashboard(monkeypatch):
    import training.hosting.trackio_mount as mount

    monkeypatch.delenv("SPACE_ID", raising=False)
    assert mp.space_trackio_env() == {}
    monkeypatch.setenv("SPACE_ID", "owner/studio")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    monkeypatch.setattr(mount, "write_token", lambda: "tok-123")
    assert mp.space_trackio_env() == {"TRACKIO_SERVER_URL": "http://127.0.0.1:7861/trackio", "TRACKIO_WRITE_TOKEN": "tok-123"}


def _ended_child(tmp_path, returncode: int, record: dict | None = None, log: str = "", requested=None, forced=False):
    from training.run.supervised_child import SupervisedChild

    child = SupervisedChild(tmp_path, 2, resume=False)
    child.proc = SimpleNamespace(returncode=returncode, poll=lambda: returncode, pid=-1)
    child.requested, child.forced = requested, forced
    if record is not None:
        (tmp_path / "run.json").write_text(json.dumps(record))
    (tmp_path / mp.CHILD_LOG).write_text(log)
    return child


BASE = {"run_id": "r", "status": "running", "config": {}, "metrics": [], "error": None, "step": 0}


def test_a_child_that_ended_well_keeps_its_record(tmp_path):
    from training.config.schema import RunConfig

    record = {**BASE, "status": "stopped", "model_dir": "final", "step": 7}
    out = _ended_child(tmp_path, 0, record, requested="stop").outcome(BASE, RunConfig.demo())
    assert out == record


def test_a_killed_child_process_fails_with_the_out_of_memory_advice(tmp_path, monkeypatch):
    from training.config.schema import RunConfig

    (tmp_path / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (tmp_path / "checkpoints" / "checkpoint-3" / "trainer_state.json").write_text("{}")
    child = _ended_child(tmp_path, 1, {**BASE, "step": 5}, log=TORCHRUN_LOG)
    monkeypatch.setenv("RANK", "0")
    mp.record_rank_failure(tmp_path, "Training failed: RuntimeError: Connection reset by peer")  # a consequence
    out = child.outcome(BASE, RunConfig.demo())
    assert out["status"] == "failed" and out["error"].startswith("Out of memory. Lower the batch size")
    assert "SIGKILL" in out["error"] and out["error"].endswith("Resume continues from the checkpoint at step 3.")
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"


def test_a_child_failure_takes_the_first_ranks_message_or_says_where_the_log_is(tmp_path, monkeypatch):
    from training.config.schema import RunConfig

    monkeypatch.setenv("RANK", "1")
    mp.record_rank_failure(tmp_path, "The dataset is not valid: row 2, messages: missing.")
    assert _ended_child(tmp_path, 1, dict(BASE)).outcome(BASE, RunConfig.demo())["error"] == \
        "The dataset is not valid: row 2, messages: missing."

    other = tmp_path / "other"
    other.mkdir()
    out = _ended_child(other, 3, None).outcome(BASE, RunConfig.demo())  # died before rank 0 wrote anything
    assert out["status"] == "failed" and "exited with code 3" in out["error"] and "train.log" in out["error"]
    assert "No checkpoint was saved" in out["error"] and (other / "run.json").exists()


def test_a_stop_that_had_to_be_forced_is_resumable_and_a_forced_cancel_discards(tmp_path):
    from training.config.schema import RunConfig

    out = _ended_child(tmp_path, -9, dict(BASE), requested="stop", forced=True).outcome(BASE, RunConfig.demo())
    assert out["status"] == "interrupted" and "did not finish within 120 s" in out["error"]
    (tmp_path / "checkpoints").mkdir()
    out = _ended_child(tmp_path, -9, dict(BASE), requested="cancel", forced=True).outcome(BASE, RunConfig.demo())
    assert out["status"] == "cancelled" and out["error"] is None and not (tmp_path / "checkpoints").exists()
