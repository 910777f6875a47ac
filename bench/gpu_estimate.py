"""The GPU estimate against real runs: memory (peak reserved) and seconds per step, row by row.

    python bench/gpu_estimate.py [--grid FILE] [--rows N] [--out DIR]   # on an NVIDIA GPU: run the grid, compare, save
    python bench/gpu_estimate.py --fit FILE [FILE ...]                  # refit the latency constants of speed.py
    python bench/gpu_estimate.py --smoke                                # estimates only, on any machine
    python bench/gpu_estimate.py --vision                               # the image side's rows (bench/_vision_grid.py)

On a GPU it rebuilds the shared grid's inputs (tests/fixtures/calibration/make_fixtures.py: random-init Qwen2.5
shapes with weights, the same data), runs each row of the grid (default tests/fixtures/calibration/h100-grid.jsonl)
for a few real optimizer steps through the engine's dry run (peak reserved memory, seconds per step), prints
estimate vs measured per row, and saves the measurements in the grid's format, with the date and the GPU's name,
beside the grid file (`<gpu>-grid-<date>.jsonl`), ready to be added to the fixtures. The estimate is that of
`python -m training estimate --config CFG --hardware FLAVOR --json` for the row's config, with the dataset's token
statistics. Without a GPU (or with --smoke) it says so and compares the estimates with the grid's recorded
measurements instead. No test needs a GPU; tests/integration/test_bench_smoke.py runs --smoke.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "calibration"
MEMORY_TARGET, TIME_TARGET = 0.15, 0.25


def load_rows(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]


def compare(rows: list[dict], stats: dict, folder: Path, hardware: str) -> tuple[list[float], list[float]]:
    from training.estimate.grid import estimate_row, row_errors, row_name, write_model_folder

    mem_errs, sec_errs = [], []
    print(f"{'run':40} {'GB est':>7} {'GB meas':>7} {'error':>7} {'s/step est':>10} {'meas':>6} {'error':>7}")
    for row in rows:
        est = estimate_row(row, write_model_folder(folder / f"model-{row['shape']}", row["shape"]), stats, hardware)
        mem, sec = row_errors(row, est)
        mem_errs += [mem] if mem is not None else []
        sec_errs += [sec] if sec is not None else []
        per_step = est.time_breakdown["training"] / est.steps
        print(f"{row_name(row):40} {est.gpu_memory_gb:7.2f} {row.get('peak_reserved_gb') or 0:7.2f} "
              f"{mem if mem is not None else 0:+7.1%} {per_step:10.3f} {row.get('seconds_per_step') or 0:6.3f} "
              f"{sec if sec is not None else 0:+7.1%}")
    return mem_errs, sec_errs


def summarise(mem_errs: list[float], sec_errs: list[float]) -> None:
    within = sum(abs(e) <= MEMORY_TARGET for e in mem_errs)
    print(f"memory: {within} of {len(mem_errs)} rows within ±{MEMORY_TARGET:.0%}, median |error| "
          f"{statistics.median(abs(e) for e in mem_errs):.1%} (target every row within ±{MEMORY_TARGET:.0%})")
    print(f"seconds per step: median |error| {statistics.median(abs(e) for e in sec_errs):.1%}, worst "
          f"{max(abs(e) for e in sec_errs):.1%} (target median row within ±{TIME_TARGET:.0%})")


def gpu_name() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - no torch, no driver: no GPU
        return None


def measure_row(row: dict, fixtures: Path) -> dict:
    """One grid row trained for a few real steps in a fresh process (clean CUDA peak statistics)."""
    from training.estimate.grid import GRID_STEPS, dataset_of, row_config_dict

    config = row_config_dict(row, str(fixtures / f"model-{row['shape']}"), str(fixtures / dataset_of(row)))
    code = ("import json, sys; from training.config.schema import RunConfig; from training.run.dry_run import dry_run; "
            f"r = dry_run(RunConfig.from_dict(json.loads(sys.argv[1])), steps={GRID_STEPS}); "
            "print('RESULT ' + json.dumps(r.to_dict(), default=str))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(config)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(fixtures / "data")}, timeout=1800)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    report = json.loads(line[7:]) if line else {"ok": False, "error": out.stderr[-500:]}
    keys = ("shape", "method", "peft", "batch", "max_length", "gradient_checkpointing")
    result = {k: row[k] for k in keys}
    result.update(peak_reserved_gb=report.get("peak_memory_gb"), seconds_per_step=report.get("seconds_per_step"),
                  ok=report.get("ok"), error=report.get("error"))
    return result


def run_on_gpu(rows: list[dict], name: str, out_dir: Path, hardware: str) -> list[dict]:
    folder = Path(tempfile.mkdtemp(prefix="gpu-grid-"))
    subprocess.run([sys.executable, str(FIXTURES / "make_fixtures.py"), str(folder), "--weights"], check=True)
    measured = []
    for row in rows:
        result = measure_row(row, folder)
        print(f"measured {result}", flush=True)
        measured.append(result)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    path = out_dir / f"{slug}-grid-{stamp}.jsonl"
    with path.open("w") as f:
        for m in measured:
            f.write(json.dumps({**m, "gpu": name, "date": stamp, "hardware": hardware}) + "\n")
    print(f"saved {len(measured)} rows to {path}")
    return [m for m in measured if m.get("ok")]


def fit(rows: list[dict], stats: dict) -> None:
    """Refit the latency constants (least squares on relative error) for each matmul/bandwidth share on a small grid,
    with leave-one-out errors (training/estimate/grid.latency_fit); prints the best. The shares are a choice: see speed.py."""
    import numpy as np

    from training.estimate.grid import latency_fit, write_model_folder

    folder = Path(tempfile.mkdtemp(prefix="fit-"))
    models = {r["shape"]: write_model_folder(folder / r["shape"], r["shape"]) for r in rows}
    best = None
    for share in (0.4, 0.5, 0.6, 0.7):
        for bw in (0.5, 0.75, 1.0):
            result = latency_fit(rows, models, stats, share, bw)
            err, loo = np.array(result["errors"]), np.array(result["loo_errors"])
            score = float(np.median(abs(loo)))
            print(f"share {share:.2f} bandwidth {bw:.1f}: {({k: round(v, 7) for k, v in result['constants'].items()})} fit "
                  f"median {np.median(abs(err)):.1%} worst {abs(err).max():.1%}; leave-one-out median {score:.1%} "
                  f"worst {abs(loo).max():.1%}")
            if best is None or score < best[0]:
                best = (score, share, bw, result["constants"], err)
    score, share, bw, c, err = best
    print(f"best: matmul_share {share}, bandwidth_share {bw}, " + ", ".join(f"{n}={v:.3g}" for n, v in c.items()))
    print("per row:", " ".join(f"{e:+.0%}" for e in err))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=Path, default=FIXTURES / "h100-grid.jsonl")
    parser.add_argument("--rows", type=int, default=0, help="run only the first N rows (0: all)")
    parser.add_argument("--hardware", default=None, help="catalogue flavor to estimate for (default: detected)")
    parser.add_argument("--out", type=Path, default=None, help="where to save measurements (default: beside --grid)")
    parser.add_argument("--fit", type=Path, nargs="+", default=None, help="grid files to refit speed.py's constants on")
    parser.add_argument("--smoke", action="store_true", help="estimates only (no training), on any machine")
    parser.add_argument("--vision", action="store_true", help="the vision-language rows (bench/_vision_grid.py)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ESTIMATE_LIVE_PRICES", "0")
    stats = json.loads((FIXTURES / "token_stats.json").read_text())
    if args.fit:
        fit(load_rows(args.fit), stats)
        return 0
    if args.vision:  # a LLaVA-shaped model: tower frozen, trained or with LoRA; measured only on a GPU
        from bench._vision_grid import run_rows

        name = gpu_name()
        print(f"GPU: {name}" if name else "No NVIDIA GPU found: the vision rows' estimates only (nothing measured)")
        run_rows(Path(tempfile.mkdtemp(prefix="gpu-vision-")), args.hardware or "h100", measure=name is not None)
        return 0
    rows = load_rows([args.grid])
    if args.rows:
        rows = rows[: args.rows]
    name = None if args.smoke else gpu_name()
    if name is None:
        print(("--smoke: " if args.smoke else "No NVIDIA GPU found: ") + "no training; comparing the estimates with the "
              f"measurements recorded in {args.grid.name} (H100)")
        if args.smoke:
            rows = rows[:3]
        summarise(*compare(rows, stats, Path(tempfile.mkdtemp(prefix="gpu-estimate-")), args.hardware or "h100"))
        return 0
    from training.estimate.hardware import detect_hardware

    hardware = args.hardware or detect_hardware()[0]
    print(f"GPU: {name} (estimated as {hardware})")
    measured = run_on_gpu(rows, name, args.out or args.grid.parent, hardware)
    summarise(*compare(measured, stats, Path(tempfile.mkdtemp(prefix="gpu-estimate-")), hardware))
    return 0


if __name__ == "__main__":
    sys.exit(main())
