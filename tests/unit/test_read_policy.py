"""The one rule for dataset and model names (training.hosting.read_policy), as pure logic."""

from __future__ import annotations

import os

import pytest

from training.hosting.read_policy import (
    REFUSED_START,
    ReadPolicy,
    ReadRefused,
    check_name,
    grant,
    hide_server_paths,
    is_hub_name,
    local_path,
    policy_for,
    public_name,
    reading_as,
)

VISITOR = policy_for(False, on_space=True)


@pytest.mark.parametrize("name", ["trl-lib/Capybara", "squad", "Qwen/Qwen2.5-0.5B-Instruct", "hf://datasets/a/b"])
def test_hub_ids_are_hub_ids(name):
    assert is_hub_name(name)


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../b", "file:///etc/passwd", "a/b/c", "~/x", ".hidden",
                                  "a\\b", "json", "csv", "text", "", "-rf"])
def test_anything_else_is_not(name):
    assert not is_hub_name(name)


@pytest.mark.parametrize("name", ["/etc/passwd", "/etc/missing", "file:///etc/passwd", "../../etc/passwd", "a/b/c",
                                  "~/.bashrc", "/proc/self/environ", "json", "C:\\x"])
def test_a_visitor_gets_one_refusal_for_every_path(name):
    with pytest.raises(ReadRefused) as info:
        check_name(name, "dataset", VISITOR)
    assert str(info.value).startswith(REFUSED_START) and name not in str(info.value)
    with pytest.raises(ReadRefused) as again:
        local_path(name, "dataset", VISITOR)
    assert str(again.value) == str(info.value)


def test_a_visitor_may_use_demo_hub_ids_and_their_own_upload(tmp_path):
    upload = tmp_path / "mine.jsonl"
    upload.write_text("{}\n")
    for name in ("demo", "owner/name", "bare-name"):
        check_name(name, "dataset", VISITOR)
    assert local_path("owner/name", "dataset", VISITOR) is None  # read from the Hub, never from disk
    theirs = policy_for(False, on_space=True, uploads=(str(upload),))
    check_name(str(upload), "dataset", theirs)
    assert local_path(str(upload), "dataset", theirs) == upload.resolve()
    with pytest.raises(ReadRefused):
        check_name(str(upload), "dataset", VISITOR)  # someone else's upload


def test_grant_adds_the_stored_copy_for_this_caller_only(tmp_path):
    stored = tmp_path / "stored.jsonl"
    stored.write_text("{}\n")
    with reading_as(VISITOR):
        grant(stored)
        check_name(str(stored))
    with reading_as(VISITOR), pytest.raises(ReadRefused):
        check_name(str(stored))


def test_those_allowed_read_inside_the_roots_only(tmp_path):
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("a,b\n")
    (root / "ok.csv").write_text("a,b\n")
    (root / "link.csv").symlink_to(outside / "secret.csv")
    owner = ReadPolicy(server_paths=True, roots=(str(root.resolve()),))
    assert local_path(str(root / "ok.csv"), policy=owner) == (root / "ok.csv").resolve()
    assert local_path(str(root / "missing.csv"), policy=owner) is None  # the loader says it does not exist
    for bad in (outside / "secret.csv", root / "link.csv", root / ".." / "outside" / "secret.csv"):
        with pytest.raises(ReadRefused, match="outside the folders"):
            local_path(str(bad), policy=owner)


def test_system_folders_and_devices_are_refused_even_without_roots():
    anywhere = ReadPolicy(server_paths=True)
    for name in ("/proc/self/environ", "/sys/kernel", "/dev/null"):
        with pytest.raises(ReadRefused):
            local_path(name, policy=anywhere)
    fifo = f"/tmp/read-policy-fifo-{os.getpid()}"
    os.mkfifo(fifo)
    try:
        with pytest.raises(ReadRefused, match="not a regular file"):
            local_path(fifo, policy=anywhere)
    finally:
        os.unlink(fifo)


def test_the_cli_and_the_apps_own_code_read_anything(tmp_path):
    (tmp_path / "x.csv").write_text("a\n")
    assert local_path(str(tmp_path / "x.csv")) == (tmp_path / "x.csv").resolve()  # no policy in force


def test_visitors_see_file_names_not_paths():
    assert public_name("/data/uploads/abc.jsonl") == "<server file abc.jsonl>"
    assert public_name("trl-lib/Capybara") == "trl-lib/Capybara" and public_name("demo") == "demo"
    text = '{"source": "/data/uploads/abc.jsonl", "model": "Qwen/Qwen2.5-0.5B"}'
    assert hide_server_paths(text, ["/data/uploads/abc.jsonl", "Qwen/Qwen2.5-0.5B"]) == \
        '{"source": "<server file abc.jsonl>", "model": "Qwen/Qwen2.5-0.5B"}'


def test_every_declared_name_field_is_checked():
    from training.config.schema import RunConfig, read_names

    config = RunConfig.demo()
    assert {(path, what) for path, what, _ in read_names(config)} >= {("data.source", "dataset"), ("model.name_or_path", "model")}
