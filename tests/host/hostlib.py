"""Helpers shared by the host-side tests (tests/host; run them with tests/host/run.sh).

A plain module, not conftest.py, so test modules can import it by a name no other
test directory uses."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "app"
DOCKERFILE = APP_DIR / "Dockerfile"
# Console scripts of the venv running these tests (ddtrace-run, gunicorn, hadolint, ...).
# sys.executable is not resolved on purpose: it is the venv's own bin/python.
VENV_BIN = Path(sys.executable).parent

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

STARTUP_TIMEOUT = 30
# The unified service tags the `app` fixture (conftest.py) runs the app with.
APP_SERVICE = "my-flask-app"
APP_ENV = "test"
APP_VERSION = "1.2.3-test"


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(
            f"{name} not found in {VENV_BIN}; run the tests with tests/host/run.sh"
        )
    return str(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except (OSError, ValueError) as exc:  # connection refused, bad JSON, ...
            last_exc = exc
        time.sleep(interval)
    pytest.fail(
        f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_exc!r})"
    )


@dataclass
class Process:
    """A subprocess whose combined output goes to a log file (read on failure)."""

    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def assert_running(self, what: str) -> None:
        if self.popen.poll() is not None:
            pytest.fail(
                f"{what} exited with {self.popen.returncode}:\n{self.output()[-4000:]}"
            )

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def start_process(
    argv: list[str], *, log: Path, env: dict[str, str], cwd: Path
) -> Process:
    fh = log.open("wb")
    try:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        fh.close()
    return Process(popen, log)


@contextlib.contextmanager
def serving(argv, *, log, env, port, ready_path, what):
    """Run `argv` from the app's directory until `ready_path` answers 200; stop it after."""
    proc = start_process(argv, log=log, env=env, cwd=APP_DIR)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready():
            proc.assert_running(what)
            return http_get(f"{url}{ready_path}")[0] == 200

        wait_until(ready, timeout=STARTUP_TIMEOUT, what=f"{what} at {ready_path}")
        yield url, proc
    finally:
        proc.stop()


@contextlib.contextmanager
def apm_test_agent(log_dir: Path, env: dict[str, str]):
    """Datadog's APM test agent on a free loopback port: yields (port, url, process)."""
    port = free_port()
    argv = [
        venv_tool("ddapm-test-agent"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--otlp-http-port", str(free_port()),
        "--otlp-grpc-port", str(free_port()),
    ]  # fmt: skip
    with serving(argv, log=log_dir / "test-agent.log", env=env, port=port,
                 ready_path="/test/traces", what="ddapm-test-agent") as (url, proc):
        yield port, url, proc


@contextlib.contextmanager
def flask_app(agent_port: int, tags: dict[str, str], log_dir: Path, env: dict[str, str]):
    """The app as app/Dockerfile's CMD runs it (ddtrace-run gunicorn), tracing to the agent at
    `agent_port`, with the unified service tags `tags` (DD_SERVICE, DD_ENV, DD_VERSION), on a free
    loopback port: yields (port, url, process)."""
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
    # What the container gets at deploy time (DD_AGENT_HOST=datadog-agent there).
    env = {**env, "DD_AGENT_HOST": "127.0.0.1", "DD_TRACE_AGENT_PORT": str(agent_port), **tags}
    with serving(argv, log=log_dir / "app.log", env=env, port=port, ready_path="/healthz",
                 what="ddtrace-run gunicorn") as (url, proc):
        yield port, url, proc


def agent_spans(agent_url: str) -> list[dict]:
    """Every span the APM test agent has received so far."""
    status, body = http_get(f"{agent_url}/test/traces")
    if status != 200:
        raise ValueError(f"/test/traces answered {status}: {body[:200]!r}")
    return [span for trace in json.loads(body) for span in trace]


# --- Dockerfile ------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, continuation lines joined."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path}: dangling line continuation"
    return instructions


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD arguments."""
    value = json.loads(args)
    assert (
        isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    ), args
    return value


def only(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected exactly one {keyword}, found {len(found)}"
    return found[0]


def dockerfile_cmd() -> list[str]:
    return exec_form(only(parse_dockerfile(), "CMD").args)


def dockerfile_healthcheck_cmd() -> list[str]:
    args = only(parse_dockerfile(), "HEALTHCHECK").args
    _, sep, cmd = args.partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {args}"
    return exec_form(cmd)


def bind_option(argv: list[str]) -> tuple[int, str]:
    """Index and value of gunicorn's --bind/-b option in argv."""
    for i, arg in enumerate(argv):
        if arg in ("--bind", "-b"):
            return i + 1, argv[i + 1]
        if arg.startswith("--bind="):
            return i, arg.split("=", 1)[1]
    raise AssertionError(f"no --bind in {argv}")
