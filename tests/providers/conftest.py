"""Fixtures of the provider conformance suite: the real plugins, the program's resources, figures.

A missing toolchain fails the run with "run make toolchain": this suite exists to run the real
plugins, so it never skips them.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from tests.providers import declared as declared_module
from tests.providers.plugin import Plugin, ToolchainMissing, plugin_path

HOST_COUNTS = (1, 3)
# Seconds per provider and call, summed over the run, printed at the end (make conformance's figures).
FIGURES: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
_started: list[Plugin] = []


def start_plugin(name: str, env: dict[str, str] | None = None) -> Plugin:
    """A fresh plugin process (the engine runs one per provider resource); stopped at the end."""
    try:
        plugin_path(name)
    except ToolchainMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    began = time.monotonic()
    plugin = Plugin.start(name, env)
    FIGURES[name]["start"] += time.monotonic() - began
    _started.append(plugin)
    return plugin


def stop_plugin(plugin: Plugin) -> None:
    for call, seconds in plugin.timings.items():
        FIGURES[plugin.name][call] += seconds
    plugin.timings.clear()
    plugin.stop()
    if plugin in _started:
        _started.remove(plugin)


@pytest.fixture
def plugins():
    """start(name) -> Plugin; every plugin started is stopped when the test ends."""
    mine: list[Plugin] = []

    def start(name: str, env: dict[str, str] | None = None) -> Plugin:
        plugin = start_plugin(name, env)
        mine.append(plugin)
        return plugin

    yield start
    for plugin in mine:
        stop_plugin(plugin)


_declared_cache: dict[int, tuple] = {}


@pytest.fixture(params=HOST_COUNTS, ids=lambda n: f"{n}-host{'s' if n > 1 else ''}")
def program(request):
    """(host count, every resource the program declares for the five providers, skipped ones)."""
    count = request.param
    if count not in _declared_cache:
        began = time.monotonic()
        _declared_cache[count] = declared_module.declared_resources(count)
        FIGURES["program"][f"evaluate {count} host(s)"] += time.monotonic() - began
    resources, skipped = _declared_cache[count]
    return count, resources, skipped


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("provider conformance: seconds per provider and call")
    for name, calls in FIGURES.items():
        total = sum(calls.values())
        details = ", ".join(f"{call} {seconds:.2f}" for call, seconds in calls.items())
        terminalreporter.write_line(f"{name:8s} {total:7.2f} s  ({details})")


@pytest.fixture
def datadog_api():
    """The Datadog stand-in API on a free port, accepting only the program's test keys."""
    from tests.harness import BASE_CONFIG
    from tests.providers.datadog_api_standin import DatadogApi, Server

    with Server(DatadogApi(api_key=BASE_CONFIG["datadog:apiKey"],
                           app_key=BASE_CONFIG["datadog:appKey"])) as server:
        yield server
        assert server.api.unexpected == [], "the provider called endpoints the stand-in does not serve"
        assert server.api.shape_errors == [], "the stand-in answered in shapes datadog-api-client cannot read"


@pytest.fixture(scope="session")
def dockerd():
    """A private Docker Engine (tests/providers/dockerd.py) for the whole run."""
    from tests.providers import dockerd as dockerd_module

    why = dockerd_module.missing()
    if why:
        pytest.fail(f"no private dockerd: {why}", pytrace=False)
    began = time.monotonic()
    engine = dockerd_module.start()
    FIGURES["dockerd"]["start"] += time.monotonic() - began
    yield engine
    engine.stop()
