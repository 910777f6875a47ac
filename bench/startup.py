"""App start-to-first-page vs a bare Gradio app, in one invocation.

Starts each server as a fresh process, times until GET / answers 200, alternates them
--repeats times and prints the median ratio (target: <= 1.3, so the training stack must load lazily).

    python bench/startup.py [--repeats 3] [--smoke]

--smoke starts each server once, without the disk-cache warm-up, so the script cannot rot (the ratio of
a single cold start is printed, not meaningful).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE_APP = """
import os, gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("bare")
demo.launch(server_name="127.0.0.1", server_port=int(os.environ["GRADIO_SERVER_PORT"]))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_first_page(cmd: list[str], env: dict) -> float:
    port = _port()
    env = dict(env, GRADIO_SERVER_PORT=str(port))
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server must never block on a full pipe

    def stderr_tail() -> str:
        errors.seek(0)
        return errors.read().decode(errors="replace")[-3000:]

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        while time.perf_counter() - t0 < 120:
            if proc.poll() is not None:  # crashed: say why now rather than after the timeout
                raise RuntimeError(f"{cmd} exited with code {proc.returncode} before serving:\n{stderr_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    r.read()
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{cmd} did not serve within 120 s:\n{stderr_tail()}")
    finally:
        proc.terminate()
        proc.wait(10)
        errors.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one start of each, no warm-up: checks the script works")
    args = parser.parse_args()
    if args.smoke:
        args.repeats = 1
    data = tempfile.mkdtemp(prefix="bench-startup-")
    env = dict(os.environ, DATA_DIR=data, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    bare_file = Path(data) / "bare_app.py"
    bare_file.write_text(BARE_APP)
    ours, bare = [], []
    if not args.smoke:
        time_to_first_page([sys.executable, "app.py"], env)  # warm the disk cache for both
        time_to_first_page([sys.executable, str(bare_file)], env)
    for _ in range(args.repeats):
        ours.append(time_to_first_page([sys.executable, "app.py"], env))
        bare.append(time_to_first_page([sys.executable, str(bare_file)], env))
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"app start-to-first-page: {o:.2f} s (runs: {', '.join(f'{x:.2f}' for x in ours)})")
    print(f"bare gradio app:         {b:.2f} s (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"ratio app/bare = {o / b:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
