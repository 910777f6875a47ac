"""A room full of viewers: /run_status latency with 20 concurrent pollers while a run trains, vs one viewer.

Starts `python app.py` as a fresh process on the offline demo, starts a demo training run through the named API
(/start_training), then, while it trains, measures the latency of the read-only status call over plain HTTP
(POST /gradio_api/run/run_status, what a script or a dashboard would poll) for one viewer alone, then for
--viewers concurrent viewers (each polls as fast as its answers come back, from its own thread and connection),
and, when gradio_client is installed, the same through gradio_client. Prints p50/p95 of each and the ratio of the
crowd's p95 to the single viewer's.

    python bench/viewers.py [--viewers 20] [--seconds 10] [--smoke]

Then it stops the run (which keeps its weights) and measures the crowd again while a client chats with that run
through /chat in a loop (issue 22: a chat never blocks status reads).

--smoke: 4 viewers for 2 s each, so the script cannot rot (the numbers mean little).

Where a status call's time went (measured on an idle server, before components/api.py's fast path): Gradio builds a
whole session state (the config of every component on the page) for each direct call that comes without a session,
about 20 ms of CPU per call, and runs the function in a worker thread, which must win the GIL back from the training
thread at every hand-over. The fast path answers from a shared snapshot before Gradio's router. gradio_client calls
still go through Gradio (with a session, so without that set-up); most of their time is the client library's own
CPU, printed beside them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 250


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, int, Path]:
    port = _port()
    env = dict(os.environ, DATA_DIR=str(data_dir), TRACKIO_DIR=str(data_dir / "trackio"), GRADIO_SERVER_PORT=str(port),
               HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false")
    log = data_dir / "app.log"
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                if r.status == 200:
                    return proc, port, log
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"app.py did not serve within 120 s:\n{log.read_text()[-3000:]}")


class StatusCaller:
    """One viewer: a kept-alive HTTP connection posting to the run_status endpoint."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def __call__(self) -> dict:
        try:
            return self._call()
        except (ConnectionError, http.client.HTTPException):  # the server closed an idle kept-alive connection
            self.conn.close()
            return self._call()

    def _call(self) -> dict:
        self.conn.request("POST", "/gradio_api/run/run_status", body=b'{"data": []}',
                          headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"run_status answered {resp.status}: {body[:300]!r}")
        return json.loads(json.loads(body)["data"][0])


def poll(callers: list, seconds: float) -> list[float]:
    """Every caller polls in its own thread for `seconds`; returns all latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop_at = time.perf_counter() + seconds

    def viewer(call):
        mine = []
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                call()
                mine.append((time.perf_counter() - t0) * 1000)
        except BaseException as exc:  # report after the threads end
            errors.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=viewer, args=(c,)) for c in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return latencies


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def describe(name: str, lat: list[float], seconds: float) -> str:
    return (f"{name:<34} p50 {statistics.median(lat):7.1f} ms   p95 {p(lat, 0.95):7.1f} ms   "
            f"{len(lat) / seconds:6.0f} calls/s ({len(lat)} calls)")


def measure_during_chat(port: int, status: StatusCaller, args) -> None:
    """The stopped run keeps its weights: one client chats with it (/chat, in its own concurrency group) in a loop
    while the crowd polls status."""
    from gradio_client import Client

    deadline = time.monotonic() + 120
    while status().get("state") == "running":
        if time.monotonic() > deadline:
            raise RuntimeError("the run did not stop")
        time.sleep(0.5)
    run_id = status()["run_id"]
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    messages = [{"role": "user", "content": "Hello! How are you today?"}]
    replies, done = [], threading.Event()

    def chat_loop():
        while not done.is_set():
            replies.append(client.predict(run_id, messages, 0.0, 1.0, 48, "tuned", api_name="/chat"))

    chatter = threading.Thread(target=chat_loop, daemon=True)
    chatter.start()
    while not replies:  # the first reply loads the model
        time.sleep(0.1)
    crowd = poll([StatusCaller(port) for _ in range(args.viewers)], args.seconds)
    done.set()
    chatter.join(60)
    print(describe(f"{args.viewers} viewers during a chat", crowd, args.seconds) + f"   ({len(replies)} chat replies)",
          flush=True)
    print(f"during a chat: crowd p95 = {p(crowd, 0.95):.0f} ms (target p95 <= {TARGET_P95_MS} ms)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="4 viewers, 2 s each: checks the script works")
    args = parser.parse_args()
    if args.smoke:
        args.viewers, args.seconds = 4, 2.0
    sys.setswitchinterval(0.0005)  # the viewers' own threads must not queue for this process's GIL
    from training.config.schema import RunConfig

    data_dir = Path(tempfile.mkdtemp(prefix="bench-viewers-"))
    proc, port, log = start_server(data_dir)
    try:
        config = RunConfig.demo()
        config.train.max_steps = 5000  # keeps training for the whole measurement; stopped at the end
        config.train.save_steps = 100000
        started = StatusCaller(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/gradio_api/call/start_training", body=json.dumps({"data": [json.dumps(config.to_dict())]}),
                     headers={"Content-Type": "application/json"})
        event = json.loads(conn.getresponse().read())["event_id"]
        conn.request("GET", f"/gradio_api/call/start_training/{event}")
        answer = conn.getresponse().read().decode()
        if "event: complete" not in answer:
            raise RuntimeError(f"start_training failed: {answer[-500:]}")
        deadline = time.monotonic() + 120
        while started().get("phase") != "training" or started().get("step", 0) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the run did not start training:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        print(f"run training (step {started()['step']}); measuring {args.seconds:.0f} s per scenario", flush=True)

        single = poll([StatusCaller(port)], args.seconds)
        print(describe("1 viewer, plain HTTP", single, args.seconds), flush=True)
        crowd = poll([StatusCaller(port) for _ in range(args.viewers)], args.seconds)
        print(describe(f"{args.viewers} viewers, plain HTTP", crowd, args.seconds), flush=True)
        try:
            from gradio_client import Client
        except ImportError:
            Client = None
        if Client is not None:
            clients = [Client(f"http://127.0.0.1:{port}/", verbose=False) for _ in range(args.viewers)]
            cpu0 = time.process_time()
            via_client = poll([lambda c=c: c.predict(api_name="/run_status") for c in clients], args.seconds)
            client_cpu_ms = (time.process_time() - cpu0) / max(1, len(via_client)) * 1000
            print(describe(f"{args.viewers} viewers, gradio_client", via_client, args.seconds)
                  + f"   ({client_cpu_ms:.0f} ms of this process's CPU per call: the clients' own cost)", flush=True)
        step = started()["step"]
        print(f"training went on meanwhile: step {step}", flush=True)
        print(f"crowd p95 = {p(crowd, 0.95):.0f} ms (target p95 <= {TARGET_P95_MS} ms); "
              f"ratio crowd/single p95 = {p(crowd, 0.95) / p(single, 0.95):.2f}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/gradio_api/call/stop_training", body=b'{"data": []}',
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        if Client is not None:
            measure_during_chat(port, started, args)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
