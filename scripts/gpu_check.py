"""One prepared check for a machine with NVIDIA GPUs: what the engine really does there, against what it quotes.

    bash scripts/gpu_check.sh                    # on a GPU machine: about 7 minutes on one H100, results in gpu-check-*.jsonl
    bash scripts/gpu_check.sh --smoke            # the same code paths on CPU at toy size (tests/integration/test_gpu_check.py)
    bash scripts/gpu_check.sh --out FILE --budget-s 400 --only grid,methods,multi,app

It writes one JSONL file, one line per measurement, each with "check", "name", "ok" and its figures:
- grid:    the rows of bench/gpu_estimate.py's grid (tests/fixtures/calibration/h100-grid.jsonl) trained for a few real
           steps through the engine's dry run on random-init Qwen2.5-shaped models, against the quote for each
           (peak reserved GB and seconds per step, measured / estimated, and the grid's recorded H100 figures);
- methods: every method (registry) with LoRA, QLoRA and full fine-tuning on a random-init Qwen2.5-0.5B-shaped model
           in bf16: the dry run's measured peak and seconds per step against the estimate of the same config, and the
           tokens/s and MFU the run logged;
- multi:   2-process DDP and FSDP through `accelerate launch` when there are 2 or more GPUs (losses and seconds);
- app:     the demo end to end through the app's API: the app started as `python app.py`, `/start_training` with the
           demo config, `/run_status` polled until it ends, then the run's record.
Each section has a share of --budget-s; a row that would start after its share is written as skipped, so the whole
check ends in time. --smoke runs every section on CPU with a tiny Qwen2 shape and 2 steps (QLoRA and FSDP, which
need GPUs, are written as skipped with the reason), so the script cannot rot before a GPU is lent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "calibration"
SHARES = {"grid": 0.40, "methods": 0.35, "multi": 0.10, "app": 0.15}  # of --budget-s
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
PEFTS = ("lora", "qlora", "full")


class Results:
    """The JSONL file, written line by line (a crash or a timeout keeps what was measured)."""

    def __init__(self, path: Path, smoke: bool):
        self.path, self.smoke, self.lines = path, smoke, []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def add(self, check: str, name: str, **fields) -> dict:
        line = {"check": check, "name": name, "smoke": self.smoke, **fields}
        self.lines.append(line)
        with self.path.open("a") as f:
            f.write(json.dumps(line, default=str) + "\n")
        status = "skipped" if line.get("skipped") else ("ok" if line.get("ok") else "FAILED")
        print(f"[{check}] {name}: {status} {_brief(line)}", flush=True)
        return line


def _brief(line: dict) -> str:
    keys = ("measured_gb", "estimated_gb", "memory_ratio", "measured_s_per_step", "estimated_s_per_step", "time_ratio",
            "tokens_per_second", "mfu", "reason", "error")
    return " ".join(f"{k}={line[k]}" for k in keys if line.get(k) is not None)[:300]


def _ratio(measured, estimated):
    return round(measured / estimated, 3) if measured and estimated else None


class Clock:
    def __init__(self, budget_s: float):
        self.t0, self.budget = time.monotonic(), budget_s

    def section(self, name: str) -> float:
        """The deadline (monotonic) of a section: its share of the budget, plus what earlier sections left unused."""
        done = sum(SHARES[s] for s in SHARES if s == name or list(SHARES).index(s) < list(SHARES).index(name))
        return self.t0 + self.budget * done


# --- models -------------------------------------------------------------------------------------------------------

def qwen_model(folder: Path, shape: dict, device: str) -> str:
    """A random-init Qwen2 model folder (bf16 on a GPU, fp32 on CPU) with the calibration tokenizer; built once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    if (folder / "model.safetensors").exists() or (folder / "model.safetensors.index.json").exists():
        return str(folder)
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizer"))
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    cfg = Qwen2Config(vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, dtype=str(dtype).split(".")[-1], **shape)
    torch.manual_seed(0)
    with torch.device(device):  # initialising on the GPU takes seconds where the CPU takes minutes (3B)
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return str(folder)


def _estimate(config, hardware: str, report=None):
    from training.estimate.quote import estimate_for_config

    est, _ = estimate_for_config(config, hardware, report=report, use_measurements=False, prices=False, suggest=False)
    per_step = est.time_breakdown.get("training", 0) / est.steps if est.steps and est.time_breakdown else None
    return est.gpu_memory_gb, per_step


def _measure(config, steps: int) -> dict:
    """The engine's dry run of `config` in this process: peak memory, seconds per step, the logged throughput."""
    from training.run.dry_run import dry_run

    report = dry_run(config, steps=steps)
    logged = [m for m in report.metrics if "tokens_per_second" in m]
    return {"ok": report.ok, "error": report.error, "measured_gb": report.peak_memory_gb, "memory_kind": report.memory_kind,
            "measured_s_per_step": report.seconds_per_step, "gradient_checkpointing": report.gradient_checkpointing,
            "tokens_per_second": logged[-1]["tokens_per_second"] if logged else None,
            "mfu": logged[-1].get("mfu") if logged else None,
            "peak_reserved_gb": logged[-1].get("peak_reserved_gb") if logged else None}


# --- sections -----------------------------------------------------------------------------------------------------

def check_grid(out: Results, work: Path, device: str, hardware: str, deadline: float, smoke: bool) -> None:
    """bench/gpu_estimate.py's grid rows, measured through the dry run, against the quote."""
    from training.config.schema import RunConfig
    from training.estimate.grid import GRID_STEPS, SHAPES, GridReport, dataset_of, row_config_dict, stats_key

    rows = [json.loads(x) for x in (FIXTURES / "h100-grid.jsonl").read_text().splitlines() if x.strip()]
    stats = json.loads((FIXTURES / "token_stats.json").read_text())
    data = work / "grid-data"
    if not (data / "pref.jsonl").exists():
        subprocess.run([sys.executable, str(FIXTURES / "make_fixtures.py"), str(data)], check=True, capture_output=True)
    if smoke:
        rows = [r for r in rows if r["max_length"] <= 1024][:1]
    for row in rows:
        name = f"{row['shape']} {row['method']} {row['peft']} b{row['batch']} x {row['max_length']} ckpt {row['gradient_checkpointing']}"
        if time.monotonic() > deadline:
            out.add("grid", name, skipped=True, reason="the grid's share of --budget-s was spent")
            continue
        try:
            shape = TINY if smoke else SHAPES[row["shape"]]
            model = qwen_model(work / f"model-{'tiny' if smoke else row['shape']}", shape, device)
            config = RunConfig.from_dict(row_config_dict(row, model, str(data / dataset_of(row))))
            if smoke:
                config.train.batch_size, config.train.max_length = 2, 128
            if row["peft"] == "qlora" and device != "cuda":
                out.add("grid", name, skipped=True, reason="QLoRA needs an NVIDIA GPU (bitsandbytes)")
                continue
            entry = stats[stats_key(row)]
            est_gb, est_s = _estimate(config, hardware, GridReport(entry["usable_rows"], entry["token_stats"]))
            got = _measure(config, 2 if smoke else GRID_STEPS)
            out.add("grid", name, **got, estimated_gb=est_gb, estimated_s_per_step=est_s,
                    memory_ratio=_ratio(got["measured_gb"], est_gb), time_ratio=_ratio(got["measured_s_per_step"], est_s),
                    h100_recorded_gb=row.get("peak_reserved_gb"), h100_recorded_s_per_step=row.get("seconds_per_step"))
        except Exception as exc:  # noqa: BLE001 - one row's failure is a result, not the end of the check
            out.add("grid", name, ok=False, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-1500:])


def _method_config(method: str, peft: str, model: str, smoke: bool):
    from training.config.schema import RunConfig, set_peft_mode

    config = RunConfig.demo(method)  # the demo data and rewards of each method, on the Qwen-shaped model
    config.model.name_or_path = model
    set_peft_mode(config, peft)
    config.train.precision = "auto"  # bf16 on a GPU that has it
    if "num_generations" in config.method_args:
        config.method_args["num_generations"] = 4
        config.train.batch_size = 4
    if "max_completion_length" in config.method_args:
        config.method_args["max_completion_length"] = 8 if smoke else 32
    if "teacher_model_name_or_path" in config.method_args:
        config.method_args["teacher_model_name_or_path"] = model  # a teacher of the student's own shape
    if smoke:
        config.train.batch_size, config.train.max_length = 4 if "num_generations" in config.method_args else 2, 128
    return config


def check_methods(out: Results, work: Path, device: str, hardware: str, deadline: float, smoke: bool) -> None:
    """Every method x LoRA, QLoRA, full on a random-init Qwen2.5-0.5B shape (bf16): dry run against the estimate."""
    from training.estimate.grid import SHAPES
    from training.methods.registry import method_names
    from training.models.adapters import qlora_unavailable_reason

    model = qwen_model(work / ("model-tiny" if smoke else "model-q05"), TINY if smoke else SHAPES["q05"], device)
    for method in method_names():
        for peft in PEFTS:
            name = f"{method} {peft}"
            if time.monotonic() > deadline:
                out.add("methods", name, skipped=True, reason="the methods' share of --budget-s was spent")
                continue
            if smoke and peft == "full" and method != "sft":
                out.add("methods", name, skipped=True, reason="--smoke: full fine-tuning runs for SFT only (the same path)")
                continue
            if peft == "qlora" and (reason := qlora_unavailable_reason()):
                out.add("methods", name, skipped=True, reason=reason)
                continue
            try:
                config = _method_config(method, peft, model, smoke)
                est_gb, est_s = _estimate(config, hardware)
                got = _measure(config, 2 if smoke else 4)
                out.add("methods", name, **got, estimated_gb=est_gb, estimated_s_per_step=est_s,
                        memory_ratio=_ratio(got["measured_gb"], est_gb), time_ratio=_ratio(got["measured_s_per_step"], est_s))
            except Exception as exc:  # noqa: BLE001
                out.add("methods", name, ok=False, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-1500:])


def check_multi(out: Results, work: Path, device: str, deadline: float, smoke: bool) -> None:
    """2-process DDP and FSDP (accelerate launch), when there are 2 GPUs (on CPU with --smoke: DDP over gloo)."""
    from training.run import multiprocess

    gpus = multiprocess.local_device_count()
    model = str(work / ("model-tiny" if smoke else "model-q05"))
    for strategy in ("ddp", "fsdp"):
        if gpus < 2 and not (smoke and strategy == "ddp"):
            out.add("multi", strategy, skipped=True, reason=f"needs 2 or more GPUs; this machine has {gpus}")
            continue
        if time.monotonic() > deadline:
            out.add("multi", strategy, skipped=True, reason="the multi-process share of --budget-s was spent")
            continue
        run_dir = work / f"multi-{strategy}"
        args = ["--model", model, "--dataset", "demo", "--max-steps", "2" if smoke else "6", "--logging-steps", "1",
                "--batch-size", "2", "--max-length", "64" if smoke else "512", "--save-steps", "0", "--output-dir", str(run_dir)]
        if strategy == "fsdp":
            args += ["--peft", "full"]
        t0 = time.monotonic()
        proc = subprocess.run(multiprocess.launch_command(args, 2, strategy=strategy), cwd=ROOT,
                              env=multiprocess.launch_env(2), capture_output=True, text=True, timeout=600)
        record = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
        losses = [m["loss"] for m in record.get("metrics", []) if isinstance(m.get("loss"), (int, float))]
        out.add("multi", strategy, ok=proc.returncode == 0 and record.get("status") == "completed", seconds=round(time.monotonic() - t0, 1),
                train_seconds=record.get("train_seconds"), losses=losses, status=record.get("status"),
                error=record.get("error") or (proc.stderr[-800:] if proc.returncode else None))


def check_app(out: Results, work: Path, deadline: float, smoke: bool) -> None:
    """The demo end to end through the app's API: start the app, /start_training, poll /run_status, read the record."""
    import socket

    from gradio_client import Client

    from training.config.schema import RunConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), DATA_DIR=str(work / "app-data"), GRADIO_ANALYTICS_ENABLED="False")
    env.pop("SPACE_ID", None)  # a local app: the visitor rules of a public Space do not apply
    log = (work / "app.log").open("w")
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    try:
        url = f"http://127.0.0.1:{port}/"
        client = None
        while client is None:
            if app.poll() is not None or time.monotonic() > deadline + 40:
                raise RuntimeError(f"the app did not start (exit {app.poll()}); see {work / 'app.log'}")
            try:
                client = Client(url, verbose=False)
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(1)
        started = time.monotonic()
        config = RunConfig.demo()
        if smoke:
            config.train.max_steps, config.train.logging_steps = 4, 2
        run_id = client.predict(config.to_json(), api_name="/start_training")
        status: dict = {}
        while True:
            status = json.loads(client.predict(api_name="/run_status"))
            if status.get("run_id") == run_id and status.get("state") not in ("running", "stopping"):
                break
            if time.monotonic() > deadline + 70:
                client.predict(api_name="/stop_training")
                raise RuntimeError("the demo run did not end in time")
            time.sleep(1)
        record = json.loads((work / "app-data" / "runs" / run_id / "run.json").read_text())
        last = status.get("last_metrics") or {}
        out.add("app", "demo", ok=status.get("state") == "completed", state=status.get("state"), run_id=run_id,
                steps=status.get("step"), app_start_s=round(started - t0, 1), run_wall_s=round(time.monotonic() - started, 1),
                train_seconds=record.get("train_seconds"), last_loss=last.get("loss"),
                tokens_per_second=last.get("tokens_per_second"), mfu=last.get("mfu"),
                peak_reserved_gb=record.get("peak_reserved_gb") or last.get("peak_reserved_gb"), error=status.get("error"))
    except Exception as exc:  # noqa: BLE001
        out.add("app", "demo", ok=False, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-1500:])
    finally:
        app.terminate()
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every section on CPU at toy size (for the test suite)")
    parser.add_argument("--out", type=Path, default=None, help="the JSONL file (default: gpu-check-<gpu>-<time>.jsonl)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="total seconds the sections may start rows in (default 400; 3600 with --smoke: a slow CPU skips nothing)")
    parser.add_argument("--only", default=",".join(SHARES), help="sections to run, comma-separated: " + ",".join(SHARES))
    parser.add_argument("--work", type=Path, default=None, help="folder for models and runs (default: a temp folder)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ESTIMATE_LIVE_PRICES", "0")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from training.hosting.machine import has_cuda

    device = "cuda" if has_cuda() and not args.smoke else "cpu"
    if device == "cpu" and not args.smoke:
        print("No NVIDIA GPU here: run this on a GPU machine, or use --smoke to check its code paths on CPU.")
        return 2
    if args.budget_s is None:
        args.budget_s = 3600.0 if args.smoke else 400.0
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    os.environ.setdefault("DATA_DIR", str(work / "data"))
    from training.estimate.hardware import detect_hardware

    hardware = detect_hardware()[0] if device == "cuda" else "h100"  # smoke: quote as the grid's H100
    gpu = "cpu"
    if device == "cuda":
        import torch

        gpu = f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Results(args.out or ROOT / f"gpu-check-{gpu.replace(' ', '-')}-{stamp}.jsonl", args.smoke)
    out.add("machine", gpu, ok=True, hardware=hardware, date=stamp, budget_s=args.budget_s)
    clock, only = Clock(args.budget_s), set(args.only.split(","))
    if "grid" in only:
        check_grid(out, work, device, hardware, clock.section("grid"), args.smoke)
    if "methods" in only:
        check_methods(out, work, device, hardware, clock.section("methods"), args.smoke)
    if "multi" in only:
        from training.estimate.grid import SHAPES

        qwen_model(work / ("model-tiny" if args.smoke else "model-q05"), TINY if args.smoke else SHAPES["q05"], device)
        check_multi(out, work, device, clock.section("multi"), args.smoke)
    if "app" in only:
        check_app(out, work, clock.section("app"), args.smoke)
    done = [x for x in out.lines if x["check"] != "machine"]
    failed = [x for x in done if not x.get("ok") and not x.get("skipped")]
    measured = [x for x in done if x.get("ok")]
    print(f"{len(measured)} measured, {sum(bool(x.get('skipped')) for x in done)} skipped, {len(failed)} failed in "
          f"{time.monotonic() - clock.t0:.0f} s (target <= {args.budget_s + 60:.0f} s, 0 failed); results in {out.path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
