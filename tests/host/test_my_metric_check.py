"""The custom check agent/checks.d/my_metric.py, run through Datadog's datadog_checks.base."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("datadog_checks.base", reason="host tests: run tests/host/run.sh")

import yaml
from datadog_checks.base import AgentCheck
from datadog_checks.base.stubs import aggregator as aggregator_stub

from components import agent_files

RUNS = 200


def _load_check_class(module_name: str = "my_metric_under_test") -> type:
    spec = importlib.util.spec_from_file_location(
        module_name, agent_files.CHECK_SOURCE_PATH
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, AgentCheck)
        and obj.__module__ == module_name
    ]
    assert len(classes) == 1, f"expected one AgentCheck subclass, found {classes}"
    return classes[0]


@pytest.fixture
def aggregator():
    aggregator_stub.reset()
    yield aggregator_stub
    aggregator_stub.reset()


@pytest.fixture(params=["repo", "rendered"])
def conf(request) -> dict:
    if request.param == "repo":
        text = agent_files.MY_METRIC_CONF_PATH.read_text()
    else:
        text = agent_files.render_my_metric_conf(60)
    return yaml.safe_load(text)


@pytest.mark.parametrize(("text", "interval"), [
    (agent_files.MY_METRIC_CONF_PATH.read_text(), 45),  # the repo's conf: the documented default
    (agent_files.render_my_metric_conf(60), 60),        # rendered: the requested interval
], ids=["repo", "rendered"])
def test_conf_parses_with_interval_on_instance(text, interval):
    conf = yaml.safe_load(text)
    assert set(conf) == {"init_config", "instances"}
    assert isinstance(conf["init_config"], dict)
    [instance] = conf["instances"]
    assert instance["min_collection_interval"] == interval


def test_check_file_and_conf_dir_share_the_check_name():
    assert Path(agent_files.CHECK_SOURCE_PATH).stem == agent_files.CHECK_NAME
    assert agent_files.MY_METRIC_CONF_PATH.parent.name == f"{agent_files.CHECK_NAME}.d"


def test_each_run_submits_one_gauge_within_range(conf, aggregator):
    check_cls = _load_check_class()
    [instance] = conf["instances"]
    check = check_cls(agent_files.CHECK_NAME, conf["init_config"], [instance])
    assert (
        check.instance["min_collection_interval"] == instance["min_collection_interval"]
    )

    values = []
    for run in range(RUNS):
        aggregator.reset()
        error = check.run()
        assert error == "", f"run {run} failed: {error}"
        assert aggregator.metric_names == ["my_metric"]
        submissions = aggregator.metrics("my_metric")
        assert len(submissions) == 1, submissions
        [metric] = submissions
        assert metric.type == aggregator.GAUGE
        assert metric.tags == []
        assert float(metric.value).is_integer(), metric.value
        assert 0 <= metric.value <= 1000, metric.value
        assert not aggregator.service_checks("my_metric")
        values.append(int(metric.value))

    # Random, not a constant: 200 draws from 0..1000 spread widely.
    assert len(set(values)) > RUNS // 2
    assert min(values) < 250 and max(values) > 750


def test_falls_back_to_legacy_checks_module(monkeypatch, aggregator):
    """With datadog_checks.base missing, the check imports AgentCheck from `checks`."""
    legacy = types.ModuleType("checks")
    legacy.AgentCheck = type("LegacyAgentCheck", (AgentCheck,), {})
    monkeypatch.setitem(sys.modules, "checks", legacy)
    monkeypatch.setitem(
        sys.modules, "datadog_checks.base", None
    )  # import -> ImportError
    check_cls = _load_check_class("my_metric_legacy")
    monkeypatch.undo()
    assert issubclass(check_cls, legacy.AgentCheck)
    check = check_cls(agent_files.CHECK_NAME, {}, [{}])
    assert check.run() == ""
    assert len(aggregator.metrics("my_metric")) == 1
