"""Mutated configs never start a run: every field is type- and range-checked from its declaration, and a model or
dataset that cannot be found is refused before the run exists (what `/start_training` calls)."""

from __future__ import annotations

import copy
import math

import pytest

from training.config.schema import ConfigError, RunConfig, set_value, setting_fields
from training.run.manager import RunManager

BAD_VALUES = ["false", None, [], {}, "1; rm -rf /", -1, 10**12, math.nan, math.inf, "", True, 2.5, "auto"]


def _mutations():
    """(path, value) for every field and every bad value its declaration refuses."""
    for f in setting_fields():
        for value in BAD_VALUES:
            if f.setting.problem(value) is not None:
                yield f.path, value


MUTATIONS = list(_mutations())


def test_there_are_many_mutations_and_every_field_has_some():
    assert len(MUTATIONS) > 150
    assert {path for path, _ in MUTATIONS} == {f.path for f in setting_fields()}


@pytest.fixture()
def manager(tmp_path):
    return RunManager(root=tmp_path / "runs")


def test_every_mutated_config_is_refused_before_a_run_exists(manager, demo_model_path):
    accepted = []
    for path, value in MUTATIONS:
        data = RunConfig.demo().to_dict()
        config = RunConfig.from_dict(copy.deepcopy(data))
        set_value(config, path, value)
        try:
            manager.start(config)
            accepted.append((path, value))
        except ConfigError as exc:
            assert path in str(exc), (path, value, str(exc))
    assert accepted == []
    assert not manager.root.exists() or not any(manager.root.iterdir())


@pytest.mark.parametrize(("path", "value", "needle"), [
    ("model.name_or_path", "nobody/no-such-model-xyz", "not in the local cache"),
    ("model.name_or_path", "/no/such/folder", "neither `demo`"),
    ("data.source", "/no/such/file.jsonl", "does not exist"),
])
def test_unknown_model_or_missing_dataset_is_refused_at_start(manager, demo_model_path, path, value, needle):
    config = RunConfig.demo()
    set_value(config, path, value)
    with pytest.raises(ConfigError) as info:
        manager.start(config)
    assert [name for name, _ in info.value.problems] == [path] and needle in str(info.value)
    assert not manager.root.exists() or not any(manager.root.iterdir())
