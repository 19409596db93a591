"""Fixtures for the host-side tests. Run them with tests/host/run.sh, which builds the
venv they need (<repo>/.venvs/host); under another venv the modules that need its
packages skip themselves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# Lets the test modules `import hostlib` whatever pytest's import mode.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from hostlib import (
    APP_ENV,
    APP_SERVICE,
    APP_VERSION,
    VENV_BIN,
    apm_test_agent,
    flask_app,
)


@pytest.fixture(scope="session")
def clean_env() -> dict[str, str]:
    """The environment minus any Datadog settings inherited from the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "OTEL_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def apm_agent(tmp_path_factory, clean_env):
    """Datadog's APM test agent on a free loopback port: (port, url, process)."""
    with apm_test_agent(tmp_path_factory.mktemp("agent"), clean_env) as served:
        yield served


@pytest.fixture(scope="session")
def app(apm_agent, tmp_path_factory, clean_env):
    """The app as its image runs it (ddtrace-run gunicorn), tracing to `apm_agent`:
    (port, url, process). Shared by the session: it takes seconds to start."""
    agent_port, _, _ = apm_agent
    tags = {"DD_SERVICE": APP_SERVICE, "DD_ENV": APP_ENV, "DD_VERSION": APP_VERSION}
    with flask_app(agent_port, tags, tmp_path_factory.mktemp("app"), clean_env) as served:
        yield served
