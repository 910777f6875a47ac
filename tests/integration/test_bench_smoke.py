"""Every bench in bench/ runs its real code path at tiny size (`--smoke`), so none of them can rot.

Each script is run as its own process, as a person would run it, with DATA_DIR and the temp folder
inside pytest's tmp_path (nothing is written into the repo) and the Hub offline. A smoke run must exit 0
and print the bench's comparison line against its baseline; whether that line meets the target is not
checked (at smoke size it cannot mean anything). New benches are picked up automatically: any
bench/*.py not starting with "_" must accept --smoke and print a "(target ...)" line.
About 40 s in all on an idle 2-core machine, about 90 s on a loaded one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(p.name for p in (REPO_ROOT / "bench").glob("*.py") if not p.name.startswith("_"))
SMOKE_TIMEOUT_S = 300  # each takes 1-15 s on an idle machine; generous for a loaded one

# The comparison line each known bench prints against its baseline. A bench not listed here must
# still print some "<number> ... (target ...)" line.
RATIO_LINES = {
    "chat_latency.py": (r"^time to first token = \d+\.\d+ s \(target < [\d.]+ s\); ratio chat/bare = \d+\.\d+ "
                        r"\(target <= [\d.]+\)"),
    "demo_accuracy.py": (r"^tuned accuracy = \d+% \(target >= \d+%\); base accuracy = \d+% \(target (<= )?\d+%\); "
                         r"wall time = [\d.]+ s \(target <= \d+ s\)"),
    "engine_vs_trl.py": r"^ratio ours/plain = \d+\.\d+ \(target >= [\d.]+\)",
    "estimate_accuracy.py": r"^error [+-]\d+\.\d% +\(target ±\d+%\)",
    "startup.py": r"^ratio app/bare = \d+\.\d+ \(target <= [\d.]+\)",
    "validate_speed.py": r"^ratio: \d+\.\d+ \(target <= [\d.]+\)",
    "validate_images.py": r"^ratio validate/datasets RSS = \d+\.\d+ \(target <= [\d.]+\)",
}
GENERIC_RATIO_LINE = r"\d.*\(target [^)]*\d[^)]*\)"


def test_benches_are_discovered():
    assert set(RATIO_LINES) <= set(BENCHES), f"a known bench is gone from bench/: {set(RATIO_LINES) - set(BENCHES)}"


@pytest.mark.parametrize("bench", BENCHES)
def test_bench_smoke(bench: str, tmp_path: Path):
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    data.mkdir()
    tmp.mkdir()
    env = dict(os.environ, DATA_DIR=str(data), TMPDIR=str(tmp), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False", PYTHONDONTWRITEBYTECODE="1")
    env.pop("TRACKIO_DIR", None)  # the engine puts Trackio under DATA_DIR
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, f"bench/{bench}", "--smoke"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)
    seconds = time.monotonic() - t0
    shown = f"after {seconds:.1f} s\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, f"bench/{bench} --smoke exited with {proc.returncode} {shown}"
    pattern = RATIO_LINES.get(bench, GENERIC_RATIO_LINE)
    assert re.search(pattern, proc.stdout, re.MULTILINE), f"bench/{bench} --smoke printed no line matching {pattern!r} {shown}"
