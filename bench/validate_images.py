"""Memory of validating an image dataset against reading the same files with `datasets` alone.

    python bench/validate_images.py [--rows 10000] [--side 64]
    python bench/validate_images.py --smoke        # 200 rows: checks the code path, not the target

Writes a folder of ROWS generated pictures (noisy PNGs, so they do not compress to nothing) with a metadata.jsonl
of captions, then measures the peak RSS of two fresh processes: `validate_dataset(folder, "sft")` (every row
normalised, every picture decoded, the rows streamed into the Arrow file Train memory-maps) and the baseline,
`datasets.load_dataset("imagefolder", data_dir=folder)` followed by decoding every picture once. Prints the ratio
(target <= 1.5) and the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5

OURS = """
import resource, sys
sys.path.insert(0, {root!r})
from training.data.validation import validate_dataset
report = validate_dataset({folder!r}, "sft")
assert report.valid and report.usable_rows == {rows}, (report.rows, report.errors[:3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
BASELINE = """
import resource
from datasets import load_dataset
dataset = load_dataset("imagefolder", data_dir={folder!r}, split="train", cache_dir={cache!r})
for row in dataset:
    row["image"].load()
assert len(dataset) == {rows}
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_pictures(folder: Path, rows: int, side: int) -> None:
    from PIL import Image

    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    tiles = [bytes(rng.getrandbits(8) for _ in range(side * side * 3)) for _ in range(16)]
    with (folder / "metadata.jsonl").open("w") as meta:
        for i in range(rows):
            name = f"{i:06d}.png"
            Image.frombytes("RGB", (side, side), tiles[i % 16]).save(folder / name)
            meta.write(json.dumps({"file_name": name, "caption": f"Picture number {i} of noise."}) + "\n")


def peak_kb(code: str, env: dict) -> tuple[int, float]:
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"measurement failed:\n{out.stderr[-3000:]}")
    return int(out.stdout.strip().splitlines()[-1]), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--smoke", action="store_true", help="200 rows: the code path only")
    args = parser.parse_args()
    rows = 200 if args.smoke else args.rows
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pictures"
        write_pictures(folder, rows, args.side)
        env = dict(os.environ, DATA_DIR=str(Path(tmp) / "data"), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
        ours, ours_s = peak_kb(OURS.format(root=str(ROOT), folder=str(folder), rows=rows), env)
        base, base_s = peak_kb(BASELINE.format(folder=str(folder), cache=str(Path(tmp) / "hf"), rows=rows), env)
    print(f"{rows} image rows of {args.side}x{args.side}: validate peak RSS {ours / 1024:.0f} MB in {ours_s:.1f} s; "
          f"datasets alone {base / 1024:.0f} MB in {base_s:.1f} s")
    print(f"ratio validate/datasets RSS = {ours / base:.2f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
