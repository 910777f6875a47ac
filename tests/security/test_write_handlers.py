"""Issue 20, point 5: every handler that writes, spends or reveals weights refuses visitors, through the raw queue.

The page's own handlers are hidden from the API page but reachable by anyone with their fn_index. Each is called
here as an anonymous visitor and as a signed-in stranger, on a finished run of the owner's (trained on a file of the
owner's in DATA_DIR); afterwards the run, its weights and its data are untouched, nothing trains, and no weights,
archive or server path came back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.security.raw_queue import Page, call, text_of
from training.hosting.read_policy import REFUSED_START

# api_name -> what it does to the run in the picker
WRITE_HANDLERS = ("handle_train", "handle_dry_run", "handle_stop", "handle_cancel", "handle_download", "handle_rerun",
                  "handle_resume", "handle_delete", "handle_push", "handle_merge", "start_training", "stop_training",
                  "handle_gguf_export", "handle_gguf_push", "handle_evaluate", "handle_send")
SECRET_ROW = "CANARY-VICTIM-DATA-3e8b"


@pytest.fixture(scope="module", autouse=True)
def victim_run(isolated_data_dir: Path, demo_model_path) -> dict:
    """A finished run of the owner's, with weights, trained on a file in DATA_DIR/uploads, made before the page is
    built (so the run pickers list it)."""
    from training.config.schema import RunConfig
    from training.data.demo_data import write_demo_dataset
    from training.run.manager import get_run_manager

    data = isolated_data_dir / "uploads" / "owner-private.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    rows = write_demo_dataset(isolated_data_dir / "datasets").read_text().splitlines()
    first = json.loads(rows[0])
    first["messages"][0]["content"] = SECRET_ROW
    data.write_text("\n".join([json.dumps(first), *rows[1:]]) + "\n")
    config = RunConfig.demo()
    config.data.source, config.train.max_steps = str(data), 2
    manager = get_run_manager()
    run_id = manager.start(config)
    deadline = time.time() + 240
    while manager.status().active:
        assert time.time() < deadline
        time.sleep(0.3)
    record = manager.run_record(run_id)
    assert record["status"] == "completed" and Path(record["model_dir"]).is_dir(), record
    return {"run_id": run_id, "model_dir": record["model_dir"], "data": str(data)}


def _inputs(page: Page, fn: int, run_id: str) -> list:
    overrides = {}
    for cid in page.dependencies[fn]["inputs"]:
        props = page.components[cid].get("props", {})
        if str(props.get("elem_id") or "").endswith("-run") and run_id in str(props.get("choices")):
            overrides[cid] = run_id
        if page.components[cid].get("props", {}).get("elem_id") == "publish-repo":
            overrides[cid] = "stranger/stolen"
    return page.default_inputs(fn, overrides)


@pytest.mark.parametrize("who", [None, "stranger"])
def test_every_write_handler_refuses_visitors(space_server, victim_run, who):
    from training.run.manager import get_run_manager

    page = Page.fetch(space_server.url)
    cookie = space_server.login(who) if who else None
    runs_before = {r["run_id"] for r in get_run_manager().history()}
    failures = []
    for name in WRITE_HANDLERS:
        fn = page.handler(name)
        if name == "start_training":
            from training.config.schema import RunConfig

            data = [RunConfig.demo().to_json()]
        else:
            data = _inputs(page, fn, victim_run["run_id"])
        text = text_of(call(space_server.url, fn, data, cookie=cookie))
        if not ("Sign in" in text or " may not " in text):
            failures.append(f"{name}: not refused: {text[:300]}")
        for leak in ("weights.zip", "merged", victim_run["model_dir"], SECRET_ROW):
            if leak in text:
                failures.append(f"{name}: answered with {leak!r}: {text[:300]}")
    assert not failures, "\n".join(failures)
    manager = get_run_manager()
    assert not manager.status().active  # nothing trains
    assert {r["run_id"] for r in manager.history()} == runs_before  # nothing started, nothing deleted
    record = manager.run_record(victim_run["run_id"])
    assert record["status"] == "completed" and Path(victim_run["model_dir"]).is_dir()
    assert not (Path(victim_run["model_dir"]).parent / "weights.zip").exists()
    assert Path(victim_run["data"]).exists()


@pytest.mark.parametrize("who", [None, "stranger"])
def test_a_visitor_cannot_send_the_owners_server_file_to_a_job(space_server, victim_run, who):
    """A visitor's job runs on their own account; it may not carry the owner's dataset file there."""
    page = Page.fetch(space_server.url)
    cookie = space_server.login(who) if who else None
    for name in ("handle_plan_job", "handle_submit_job"):
        fn = page.handler(name)
        text = text_of(call(space_server.url, fn, _inputs(page, fn, victim_run["run_id"]), cookie=cookie))
        assert SECRET_ROW not in text and victim_run["data"] not in text, (name, text[:400])
        assert REFUSED_START in text or (who is None and "Sign in" in text), (name, text[:400])


def test_visitors_see_no_server_paths_in_configs_and_scripts(space_server, victim_run):
    """Decided: a visitor sees a run's config and script with server paths replaced by their file name (Hub ids and
    `demo` as they are); the owner sees them whole."""
    page = Page.fetch(space_server.url)
    for name in ("handle_show_config", "handle_get_script"):
        fn = page.handler(name)
        visitor = text_of(call(space_server.url, fn, _inputs(page, fn, victim_run["run_id"])))
        assert victim_run["data"] not in visitor and "<server file owner-private.jsonl>" in visitor, (name, visitor[:400])
        owner = text_of(call(space_server.url, fn, _inputs(page, fn, victim_run["run_id"]), cookie=space_server.login("owner")))
        assert victim_run["data"] in owner, (name, owner[:400])
