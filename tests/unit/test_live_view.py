"""The page's once-a-second poll (components/live_view.py): after a run finishes, the History and Publish pickers
are set to that run; while it trains they keep the user's choice; unchanged state sends nothing heavy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from components import export_panel, history_panel, live_view
from training.run.manager import RunStatus


class FakeRuns:
    def __init__(self):
        self.records: list[dict] = []
        self.current = RunStatus(state="idle")

    def status(self):
        return self.current

    def history(self, limit=None):
        return list(reversed(self.records))[:limit]

    def add(self, run_id: str, status: str, weights: bool):
        self.records.append({"run_id": run_id, "status": status, "config": {"method": "sft", "model": {"name_or_path": "demo"},
                                                                             "data": {"source": "demo"}},
                             "model_dir": f"/runs/{run_id}/final" if weights else None, "metrics": []})
        self.current = RunStatus(state=status, run_id=run_id, run_name=run_id, model_dir=f"/runs/{run_id}/final" if weights else None,
                                 config={"method": "sft"})


@pytest.fixture
def runs(monkeypatch):
    fake = FakeRuns()
    for module in (live_view, history_panel, export_panel):
        monkeypatch.setattr(module, "get_run_manager", lambda: fake)
    return fake


def _poll(shown):
    out = live_view.handle_poll(shown, SimpleNamespace(headers={"accept-language": "en"}))
    names = ("progress", "status", "dashboard", "where", "picture", "next_picture", "prompt", "table", "history_run", "publish_run", "chat_run", "key")
    return dict(zip(names, out, strict=True))


def _value(update):
    return update.get("value") if isinstance(update, dict) else None


def test_a_finished_run_is_picked_in_history_and_publish(runs):
    runs.add("run-a", "completed", weights=True)
    first = _poll(None)  # page load: both pickers on the newest run
    assert _value(first["history_run"]) == "run-a" and _value(first["publish_run"]) == "run-a"

    runs.add("run-b", "running", weights=False)  # a new run trains: choices refresh, the user's pick stays
    during = _poll(first["key"])
    assert "value" not in during["history_run"] and "run-b" in during["history_run"]["choices"]
    assert "value" not in during["publish_run"]
    assert "run-b" in during["table"]

    runs.records[-1].update(status="completed", model_dir="/runs/run-b/final")
    runs.current = RunStatus(state="completed", run_id="run-b", run_name="run-b", model_dir="/runs/run-b/final",
                             config={"method": "sft"})
    after = _poll(during["key"])
    assert _value(after["history_run"]) == "run-b" and _value(after["publish_run"]) == "run-b"
    assert after["chat_run"] == after["publish_run"]  # the chat lists the finished run and picks it too
    assert after["publish_run"]["choices"] == ["run-b", "run-a"]

    same = _poll(after["key"])  # nothing changed: the table and pickers are not sent again
    assert all(same[k].__class__.__name__ == "SkipUpdate" or same[k] == {"__type__": "update"}
               for k in ("dashboard", "table", "history_run", "publish_run")), same
