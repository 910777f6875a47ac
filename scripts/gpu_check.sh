#!/usr/bin/env bash
# The prepared GPU check (scripts/gpu_check.py says what it measures): about 7 minutes on one H100, one JSONL of results.
#   bash scripts/gpu_check.sh [--out FILE] [--budget-s 400] [--only grid,methods,multi,app]
#   bash scripts/gpu_check.sh --smoke        # the same code paths on CPU at toy size (the test suite runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
case " $* " in
  *" --smoke "*) exec "$PY" scripts/gpu_check.py "$@" ;;  # CPU, toy size: no time cap (a loaded CPU is slow)
esac
command -v nvidia-smi >/dev/null && { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true; }
exec timeout --signal=INT 480 "$PY" scripts/gpu_check.py "$@"  # 8 minutes at most, whatever happens
