#!/usr/bin/env bash
# Install the app into .venv and start it on the offline demo: http://127.0.0.1:${GRADIO_SERVER_PORT:-7860}
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python app.py
