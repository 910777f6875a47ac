#!/usr/bin/env bash
# Create .venv and install the app's Python packages (and, with --dev, the test tools).
# Without a GPU, torch is pinned to 2.13.0, the CPU build; with one, requirements.txt picks CUDA torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
if ! command -v nvidia-smi >/dev/null 2>&1; then
  $PIP install -q "torch==2.13.0"
fi
if [ "${1:-}" = "--dev" ]; then
  $PIP install -q -r requirements-dev.txt
else
  $PIP install -q -r requirements.txt
fi
