import os

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


def pytest_terminal_summary(terminalreporter, config):
    """A plain `pytest` runs this suite only: say where the rest is."""
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS and not hasattr(config, "workerinput"):
        terminalreporter.write_line(
            "tests/host (the Agent check, APM, Dockerfile) was not run here: it needs its own venv; "
            "run `bash tests/host/run.sh` (make test runs both)", yellow=True)
