"""The /chat endpoint through gradio_client, on the shared demo run served by the real app: three turns (two of small
talk, then a held-out question) answered by the tuned model right and by its base wrong, while 20 viewers poll
/run_status without slowing down past bench/viewers.py's target."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from bench.viewers import TARGET_P95_MS, StatusCaller, p
from tests.live_server import served

pytestmark = pytest.mark.integration

SMALL_TALK = ("Hello! How are you today?", "What a nice day. Do you like the weather?")
MAX_QUESTIONS = 12  # held-out questions tried in turn 3 until the tuned model gets one right


@pytest.fixture(scope="module")
def chat_server(demo_run):
    """The app on one port, with the demo run copied into its runs folder (removed afterwards)."""
    import app as app_module
    from training.hosting.paths import runs_dir
    from training.run.engine import RUN_FILE

    folder = runs_dir() / demo_run.run_id
    shutil.copytree(demo_run.output_dir, folder, ignore=shutil.ignore_patterns("checkpoints", "eval"))
    record = json.loads((folder / RUN_FILE).read_text())
    record["model_dir"] = str(folder / "final")
    (folder / RUN_FILE).write_text(json.dumps(record))
    try:
        with served(app_module.create_server()) as url:
            yield url, demo_run.run_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Pollers:
    """20 viewers polling /run_status over plain HTTP, each from its own thread, until stopped."""

    def __init__(self, url: str, viewers: int = 20):
        port = int(url.rsplit(":", 1)[1])
        self.callers = [StatusCaller(port) for _ in range(viewers)]
        self.latencies: list[float] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in self.callers]

    def _run(self, call):
        import time

        mine = []
        try:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                call()
                mine.append((time.perf_counter() - t0) * 1000)
                self.stop.wait(0.2)  # a page polls every second; a script a few times a second
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
        self.latencies.extend(mine)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def _conversation(client, run_id: str, side: str, question: str, history: list[dict]) -> tuple[list[dict], str]:
    """Turns 1 and 2 (small talk, the model's own replies, computed once per side) and turn 3 (the question)."""
    if not history:
        for text in SMALL_TALK:
            history.append({"role": "user", "content": text})
            history.append({"role": "assistant", "content": client.predict(run_id, history, 0.0, 1.0, 48, side,
                                                                            api_name="/chat")})
    turns = history + [{"role": "user", "content": question}]
    return turns, client.predict(run_id, turns, 0.0, 1.0, 48, side, api_name="/chat")


def test_three_turns_tuned_right_base_wrong_and_status_stays_fast(chat_server):
    from gradio_client import Client

    from training.data.demo_data import demo_held_out
    from training.run.answer_match import is_correct

    url, run_id = chat_server
    client = Client(url, verbose=False)
    histories: dict[str, list] = {"tuned": [], "base": []}
    found = None
    with Pollers(url) as pollers:
        for record in demo_held_out()[:MAX_QUESTIONS]:
            _, tuned = _conversation(client, run_id, "tuned", record["prompt"], histories["tuned"])
            if is_correct(tuned, record["expected"]):
                _, base = _conversation(client, run_id, "base", record["prompt"], histories["base"])
                found = (record, tuned, base)
                break
    assert found is not None, f"the tuned model answered none of {MAX_QUESTIONS} held-out questions after small talk"
    record, tuned, base = found
    assert len(histories["tuned"]) == len(histories["base"]) == 4  # two turns of small talk before the question
    assert not is_correct(base, record["expected"]), (record["prompt"], base)
    assert not pollers.errors, pollers.errors[0]
    assert len(pollers.latencies) >= 20
    assert p(pollers.latencies, 0.95) <= TARGET_P95_MS, f"status p95 {p(pollers.latencies, 0.95):.0f} ms during the chat"


def test_chat_refuses_bad_input_clearly(chat_server):
    from gradio_client import Client

    url, run_id = chat_server
    client = Client(url, verbose=False)
    for args, expected in (
        (("no-such-run", [{"role": "user", "content": "hi"}], 0.0, 1.0, 8, "tuned"), "No run named"),
        ((run_id, [{"role": "robot", "content": "hi"}], 0.0, 1.0, 8, "tuned"), "messages[0].role"),
        ((run_id, [{"role": "user", "content": "hi"}], 5.0, 1.0, 8, "tuned"), "temperature: is 5.0"),
        ((run_id, [{"role": "user", "content": "hi"}], 0.0, 1.0, 8, "teacher"), "model: is 'teacher'"),
    ):
        with pytest.raises(Exception, match=expected.replace("[", r"\[").replace("]", r"\]")):
            client.predict(*args, api_name="/chat")
    status = json.loads(client.predict(api_name="/run_status"))  # the app keeps serving
    assert status["state"] in ("idle", "completed", "stopped")
