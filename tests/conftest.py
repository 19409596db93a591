import os

import pytest


@pytest.fixture(scope="session")
def prepared_postgres():
    """A real PostgreSQL after the host's boot script ran once (see tests/postgres_host.py)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the cluster runs as `postgres` and the Agent's view is a network "
                    "namespace (.ci/run runs as root)")
    from tests import postgres_host

    prepared = postgres_host.start()
    try:
        result = prepared.prepare()
        assert result.returncode == 0, result.stderr
        yield prepared
    finally:
        postgres_host.stop(prepared)
