"""Pretrain the built-in vision demo model and write it where the app finds it (training/models/demo_vision_weights/).

    python scripts/build_demo_vision_model.py [--out DIR] [--steps N]

Reproducible: fixed seed, generated pictures and captions (training/models/demo_vision_pretrain.py), CPU, one
thread. A few minutes on 2 idle CPU cores. The folder it writes is committed, so a fresh clone never needs to run
this; run it after changing the flags, the plan or the architecture, and bump DEMO_VISION_VERSION in
training/models/demo_vision.py so existing data folders pick up the new weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from training.models.demo_vision import DEMO_VISION_WEIGHTS
    from training.models.demo_vision_pretrain import VisionPretrainPlan, build_demo_vision_weights

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEMO_VISION_WEIGHTS, help=f"output folder (default {DEMO_VISION_WEIGHTS})")
    parser.add_argument("--steps", type=int, default=VisionPretrainPlan.steps, help="optimizer steps (default %(default)s)")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)  # one thread: the same kernels, and so the same weights, however busy the machine
    started = time.time()
    folder = build_demo_vision_weights(args.out, dataclasses.replace(VisionPretrainPlan(), steps=args.steps),
                                       log=lambda line: print(line, flush=True))
    size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    print(f"wrote {folder} ({size:.1f} MB) in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
