import json
import os
import re

import pytest


@pytest.fixture(scope="session")
def prepared_postgres():
    """A real PostgreSQL after the host's boot script ran once (see tests/postgres_host.py)."""
    if os.geteuid() != 0:
        pytest.skip("PostgreSQL bootstrap tests need root (the cluster runs as `postgres`, the "
                    "Agent's view is a network namespace); run make test as root, as CI does")
    from tests import postgres_host

    prepared = postgres_host.start()
    try:
        result = prepared.prepare()
        assert result.returncode == 0, result.stderr
        yield prepared
    finally:
        postgres_host.stop(prepared)


@pytest.fixture
def standin(httpserver):
    """The local Datadog API (tests/datadog_standin.py), serving a healthy two-host stack."""
    from tests.datadog_standin import StandIn

    fake = StandIn()
    httpserver.expect_request(re.compile(r"/.*")).respond_with_handler(fake.handle)
    yield fake
    assert fake.shape_errors == [], "the stand-in answered in a shape datadog-api-client cannot read"
    assert fake.unexpected == [], "the tool called an endpoint it may not call"


@pytest.fixture
def ops_env(httpserver) -> dict[str, str]:
    """The environment of an operator tool pointed at the stand-in (DD_HOST) with its keys."""
    from tests.datadog_standin import API_KEY, APP_KEY

    return {"PATH": os.environ["PATH"], "DD_HOST": httpserver.url_for("/").rstrip("/"),
            "DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY}


@pytest.fixture
def outputs_file(tmp_path):
    """The stand-in stack's outputs, as `pulumi stack output --json --show-secrets > FILE` writes."""
    from tests.datadog_standin import outputs

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs()))
    return path


def pytest_terminal_summary(terminalreporter, config):
    """A plain `pytest` runs this suite only: say where the rest is."""
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS and not hasattr(config, "workerinput"):
        terminalreporter.write_line(
            "tests/host was not run here (it needs a venv of its own): run `bash tests/host/run.sh`; "
            "make test runs both", yellow=True)
