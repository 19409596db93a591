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
    bind_option,
    dockerfile_cmd,
    free_port,
    serving,
    venv_tool,
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
    port = free_port()
    argv = [
        venv_tool("ddapm-test-agent"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--otlp-http-port", str(free_port()),
        "--otlp-grpc-port", str(free_port()),
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("agent") / "test-agent.log"
    with serving(argv, log=log, env=clean_env, port=port, ready_path="/test/traces",
                 what="ddapm-test-agent") as (url, proc):
        yield port, url, proc


@pytest.fixture(scope="session")
def app(apm_agent, tmp_path_factory, clean_env):
    """The app as its image runs it (ddtrace-run gunicorn), tracing to `apm_agent`:
    (port, url, process). Shared by the session: it takes seconds to start."""
    agent_port, _, _ = apm_agent
    argv = dockerfile_cmd()
    assert argv[0] == "ddtrace-run", argv
    # Same argv as the image; only the bind address moves to a free loopback port.
    port = free_port()
    index, _ = bind_option(argv)
    argv = list(argv)
    argv[index] = (
        f"127.0.0.1:{port}"
        if not argv[index].startswith("--bind=")
        else f"--bind=127.0.0.1:{port}"
    )
    argv[0] = venv_tool(argv[0])
    env = dict(clean_env)
    env.update(
        {
            # What the container gets at deploy time (DD_AGENT_HOST=datadog-agent there).
            "DD_AGENT_HOST": "127.0.0.1",
            "DD_TRACE_AGENT_PORT": str(agent_port),
            "DD_SERVICE": APP_SERVICE,
            "DD_ENV": APP_ENV,
            "DD_VERSION": APP_VERSION,
        }
    )
    log = tmp_path_factory.mktemp("app") / "app.log"
    with serving(argv, log=log, env=env, port=port, ready_path="/healthz",
                 what="ddtrace-run gunicorn") as (url, proc):
        yield port, url, proc
