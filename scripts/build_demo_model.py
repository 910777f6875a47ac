"""Pretrain the built-in demo model and write it where the app finds it (training/models/demo_weights/).

    python scripts/build_demo_model.py [--out DIR] [--steps N]

Reproducible: fixed seed, generated corpus (training/models/demo_corpus.py), CPU. About 10 minutes on 2 idle
CPU cores. The folder it writes is committed, so a fresh clone never needs to run this; run it after changing
the corpus, the plan (training/models/demo_pretrain.py: PretrainPlan) or the architecture, and bump
DEMO_VERSION in training/models/demo_model.py so existing data folders pick up the new weights.
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
    from training.models.demo_model import DEMO_WEIGHTS
    from training.models.demo_pretrain import PretrainPlan, build_demo_weights

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEMO_WEIGHTS, help=f"output folder (default {DEMO_WEIGHTS})")
    parser.add_argument("--steps", type=int, default=PretrainPlan.steps, help="optimizer steps (default %(default)s)")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)  # one thread: the same kernels, and so the same weights, however busy the machine
    started = time.time()
    folder = build_demo_weights(args.out, dataclasses.replace(PretrainPlan(), steps=args.steps),
                                log=lambda line: print(line, flush=True))
    size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    print(f"wrote {folder} ({size:.1f} MB) in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
