"""Issue 20: a visitor cannot make the app read the server's files through any dataset or model field.

On a simulated public Space, every handler of the page that takes the dataset or the model (found from the page's
own /config, so a new one is covered without editing this file) is called through Gradio's raw queue, as an
anonymous visitor, with system files, files outside and inside DATA_DIR, `../` forms, `file://` URLs, a symbolic
link pointing out, /proc and a missing path. Each gets the same answer, and no byte of any of those files comes back.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.security.raw_queue import Page, call, text_of
from training.hosting.read_policy import REFUSED_START

CANARIES = ("root:x:0:0", "db_password", "CANARY-UPLOAD-7f3a", "CANARY-RUN-91c2", "CANARY-OUTSIDE-55e0")


@pytest.fixture(scope="module")
def planted(isolated_data_dir: Path, tmp_path_factory) -> dict[str, str]:
    """Secret files a visitor must never read: outside DATA_DIR, in its uploads and in a run folder, and a link."""
    outside = tmp_path_factory.mktemp("outside")
    secret_csv = outside / "secret.csv"
    secret_csv.write_text("db_password,api_key\nhunter2,CANARY-OUTSIDE-55e0\n")
    uploads = isolated_data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    upload = uploads / "someone-elses-upload.jsonl"
    upload.write_text(json.dumps({"messages": [{"role": "user", "content": "CANARY-UPLOAD-7f3a"},
                                               {"role": "assistant", "content": "ok"}]}) + "\n")
    run = isolated_data_dir / "runs" / "20990101-000000-victim"
    run.mkdir(parents=True, exist_ok=True)
    held_out = run / "eval_prompts.jsonl"
    held_out.write_text(json.dumps({"prompt": [{"role": "user", "content": "CANARY-RUN-91c2"}]}) + "\n")
    link = uploads / "link-out.csv"
    if not link.exists():
        link.symlink_to(secret_csv)
    return {"outside": str(secret_csv), "upload": str(upload), "run": str(held_out), "link": str(link),
            "data_dir": str(isolated_data_dir)}


def bad_names(planted: dict[str, str]) -> dict[str, str]:
    cwd = os.getcwd()
    return {
        "system file": "/etc/passwd",
        "csv outside DATA_DIR": planted["outside"],
        "jsonl in DATA_DIR/uploads": planted["upload"],
        "jsonl in DATA_DIR/runs": planted["run"],
        "relative ../ to outside": os.path.relpath(planted["outside"], cwd),
        "../ through DATA_DIR": planted["data_dir"] + "/uploads/../../../../../../etc/passwd",
        "file:// URL": "file:///etc/passwd",
        "file:// URL outside": "file://" + planted["outside"],
        "symlink pointing out": planted["link"],
        "proc": "/proc/self/environ",
        "missing path": planted["data_dir"] + "/uploads/does-not-exist.jsonl",
        "missing system path": "/etc/does-not-exist",
        "home": "~/.bashrc",
        "a run folder": str(Path(planted["run"]).parent),
    }


def _leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def _name_boxes() -> list[tuple[str, dict[str, str]]]:
    """(elem_id, other boxes to set by elem_id) of every box that names something to read: the Hub-id/path box, the
    model box, and every method control declared with `reads=` (the distillation teacher), its method chosen."""
    from training.methods.registry import METHODS

    boxes = [("hub-id", {"data-source": "hub"}), ("model-name-or-path", {})]
    for name, spec in METHODS.items():
        boxes += [(f"{name}-{c.name}".replace("_", "-"), {"method": name}) for c in spec.controls if c.reads]
    return boxes


def _read_handlers(page: Page) -> dict[str, tuple[int, int, dict[int, str]]]:
    """{handler[box]: (fn_index, box component id, other overrides)} for every handler that takes a name box."""
    out = {}
    for elem, extra in _name_boxes():
        cid = page.by_elem_id(elem)
        others = {page.by_elem_id(k): v for k, v in extra.items()}
        for fn in page.handlers_reading(cid):
            out[f"{page.dependencies[fn].get('api_name')}[{elem}]"] = (fn, cid, others)
    return out


def test_the_page_routes_every_name_field_through_the_rule(space_server):
    """The handlers found here are the ones this module attacks; the list must include the known readers."""
    names = set(_read_handlers(Page.fetch(space_server.url)))
    for expected in ("handle_validate[hub-id]", "handle_full_check[hub-id]", "handle_suggest_mapping[hub-id]",
                     "handle_estimate[hub-id]", "handle_dry_run[hub-id]", "handle_train[hub-id]",
                     "handle_validate[model-name-or-path]", "handle_estimate[model-name-or-path]",
                     "handle_estimate[distill-teacher-model-name-or-path]"):
        assert expected in names, (expected, sorted(names))


def test_a_visitor_gets_one_answer_and_no_bytes_for_every_server_path(space_server, planted):
    page = Page.fetch(space_server.url)
    failures = []
    for handler, (fn, cid, others) in sorted(_read_handlers(page).items()):
        answers = {}
        for label, name in bad_names(planted).items():
            overrides = {**others, cid: name}
            text = text_of(call(space_server.url, fn, page.default_inputs(fn, overrides)))
            if leaked := _leaks(text):
                failures.append(f"{handler} with {label}: leaked {leaked}: {text[:300]}")
            answers[label] = text.replace(name, "<NAME>")
        distinct = set(answers.values())
        if len(distinct) != 1:
            failures.append(f"{handler}: {len(distinct)} different answers: "
                            + " | ".join(f"{k}: {v[:160]}" for k, v in answers.items()))
        reads = "method_defaults" not in handler  # choosing a method's preset only compares the name with `demo`
        answer = next(iter(distinct))
        if reads and not (REFUSED_START in answer or "Sign in" in answer):
            failures.append(f"{handler}: not refused: {answer[:300]}")
    assert not failures, "\n".join(failures)


def test_a_hub_id_that_names_a_local_folder_reads_as_a_missing_hub_id(space_server):
    """`tests/fixtures` exists relative to the server's working folder; `tests/nowhere` does not. A visitor gets the
    same words for both: a Hub id is never read from disk (datasets: hf://datasets/, models: answered as missing)."""
    page = Page.fetch(space_server.url)
    kind = page.by_elem_id("data-source")
    assert Path("tests/fixtures").is_dir()
    for elem, fn_name in (("hub-id", "handle_validate"), ("hub-id", "handle_suggest_mapping"),
                          ("model-name-or-path", "handle_validate"), ("model-name-or-path", "handle_estimate")):
        cid, fn = page.by_elem_id(elem), page.handler(fn_name)
        texts = []
        for name in ("tests/fixtures", "tests/nowhere-xyz"):
            overrides = {cid: name, kind: "hub"} if elem == "hub-id" else {cid: name}
            texts.append(text_of(call(space_server.url, fn, page.default_inputs(fn, overrides))).replace(name, "<NAME>"))
        assert texts[0] == texts[1], (elem, fn_name, texts)
        assert "axolotl" not in texts[0] and "swift" not in texts[0]  # nothing listed from the folder


def test_an_upload_path_not_uploaded_through_gradio_is_refused(space_server):
    """The upload control's value must be a file Gradio received; naming /etc/passwd as an upload fails in Gradio."""
    page = Page.fetch(space_server.url)
    fn, upload, kind = page.handler("handle_validate"), page.by_elem_id("dataset-upload"), page.by_elem_id("data-source")
    fake = {"path": "/etc/passwd", "orig_name": "passwd.csv", "meta": {"_type": "gradio.FileData"}}
    text = text_of(call(space_server.url, fn, page.default_inputs(fn, {upload: fake, kind: "upload"})))
    assert not _leaks(text), text
    assert "error" in json.loads(text), text


def test_the_owner_may_validate_a_file_in_data_dir_but_not_outside(space_server, planted):
    page = Page.fetch(space_server.url)
    fn, hub, kind = page.handler("handle_validate"), page.by_elem_id("hub-id"), page.by_elem_id("data-source")
    owner = space_server.login("owner")
    ok = text_of(call(space_server.url, fn, page.default_inputs(fn, {hub: planted["upload"], kind: "hub"}), cookie=owner))
    assert "Valid" in ok and "Not valid" not in ok and "1 rows" in ok, ok
    for name in (planted["outside"], planted["link"], "/etc/passwd", "/proc/self/environ"):
        text = text_of(call(space_server.url, fn, page.default_inputs(fn, {hub: name, kind: "hub"}), cookie=owner))
        assert "outside the folders this app may read" in text, (name, text[:400])
        assert not [c for c in ("root:x:0:0", "db_password", "CANARY-OUTSIDE") if c in text], text


def test_the_owner_may_train_on_a_file_in_data_dir(space_server, planted, demo_model_path):
    from training.config.schema import RunConfig

    config = RunConfig.demo()
    config.data.source, config.train.max_steps = planted["upload"], 2
    client = space_server.client(space_server.login("owner"))
    run_id = client.predict(config.to_json(), api_name="/start_training")
    deadline = time.time() + 240
    while (status := json.loads(client.predict(api_name="/run_status")))["state"] in ("running", "idle"):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["run_name"] == run_id and status["state"] == "completed", status
    outside = RunConfig.demo()
    outside.data.source = planted["outside"]
    with pytest.raises(Exception, match="outside the folders"):
        client.predict(outside.to_json(), api_name="/start_training")
