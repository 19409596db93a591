"""APM end to end on localhost: the app, started exactly as app/Dockerfile's CMD starts it
(ddtrace-run gunicorn ...), sends real traces to Datadog's APM test agent. The `app` and
`apm_agent` fixtures live in conftest.py (test_traffic.py uses them too)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

pytest.importorskip("ddapm_test_agent", reason="host tests: run tests/host/run.sh")

from hostlib import (
    APP_ENV,
    APP_SERVICE,
    APP_VERSION,
    agent_spans,
    bind_option,
    dockerfile_cmd,
    dockerfile_healthcheck_cmd,
    http_get,
    only,
    parse_dockerfile,
    venv_tool,
    wait_until,
)

TRACE_TIMEOUT = 30

EXPECTED_BODIES = {
    "/": b"Entrypoint to the Application",
    "/api/apm": b"Getting APM Started",
    "/api/trace": b"Posting Traces",
}


def test_cmd_binds_the_exposed_port():
    _, bind = bind_option(dockerfile_cmd())
    exposed = only(parse_dockerfile(), "EXPOSE").args.split()
    assert bind == "0.0.0.0:8080"
    assert exposed == ["8080"]


def test_routes_answer(app):
    _, url, _ = app
    for path, body in EXPECTED_BODIES.items():
        assert http_get(f"{url}{path}") == (200, body), path
    status, body = http_get(f"{url}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert http_get(f"{url}/no-such-page")[0] == 404


def test_dockerfile_healthcheck_passes_against_running_app(app):
    port, _, _ = app
    argv = dockerfile_healthcheck_cmd()
    assert argv[0] == "python"
    code = argv[-1]
    assert "127.0.0.1:8080/healthz" in code
    argv = [venv_tool("python"), *argv[1:-1], code.replace(":8080/", f":{port}/")]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=15, check=False
    )
    assert result.returncode == 0, result.stderr


def test_traces_reach_the_agent(app, apm_agent):
    _, app_url, app_proc = app
    _, agent_url, _ = apm_agent
    wanted = {"GET /api/apm", "GET /api/trace"}
    for path in ("/api/apm", "/api/trace", "/healthz"):
        assert http_get(f"{app_url}{path}")[0] == 200

    def flask_spans():
        app_proc.assert_running("ddtrace-run gunicorn")
        spans = [s for s in agent_spans(agent_url) if s.get("name") == "flask.request"]
        return spans if wanted <= {s.get("resource") for s in spans} else None

    try:
        spans = wait_until(
            flask_spans, timeout=TRACE_TIMEOUT, interval=0.5, what="flask.request spans"
        )
    except pytest.fail.Exception:
        print(f"--- app log ---\n{app_proc.output()[-4000:]}")
        print(f"--- spans seen ---\n{json.dumps(agent_spans(agent_url), indent=1)[-4000:]}")
        raise
    by_resource = {s["resource"]: s for s in spans}
    for resource in sorted(wanted):
        span = by_resource[resource]
        meta = span.get("meta", {})
        assert span["service"] == APP_SERVICE, span
        assert meta.get("env") == APP_ENV, meta
        assert meta.get("version") == APP_VERSION, meta
        assert meta.get("http.method") == "GET", meta
        assert meta.get("http.status_code") == "200", meta
        assert meta.get("http.route") == resource.split(" ", 1)[1], meta
        assert span.get("error", 0) == 0, span
        assert span.get("parent_id") in (0, None), "flask.request is the root span"


# components/agent.py gives the Agent DD_APM_IGNORE_RESOURCES="GET /healthz" (asserted literally
# in tests/test_services.py). The Agent reads it as a comma-separated list of regular expressions
# and drops a trace whose root span's resource matches one anywhere (datadog-agent:
# pkg/trace/filters/blacklister.go, regexp MatchString); Python's re.search agrees on this pattern.
AGENT_IGNORE_RESOURCES = "GET /healthz"


def test_the_agents_ignore_list_drops_health_checks_and_nothing_else(app, apm_agent):
    _, app_url, _ = app
    _, agent_url, _ = apm_agent
    for path in ("/", "/api/apm", "/api/trace", "/healthz"):
        assert http_get(f"{app_url}{path}")[0] == 200
    ignored = [re.compile(pattern) for pattern in AGENT_IGNORE_RESOURCES.split(",")]

    def by_route():
        spans = [s for s in agent_spans(agent_url) if s.get("name") == "flask.request"]
        routes = {s.get("meta", {}).get("http.route"): s["resource"] for s in spans}
        return routes if set(EXPECTED_BODIES) | {"/healthz"} <= set(routes) else None

    routes = wait_until(by_route, timeout=TRACE_TIMEOUT, interval=0.5, what="a span per route")
    dropped = {route for route, resource in routes.items()
               if any(pattern.search(resource) for pattern in ignored)}
    assert routes["/healthz"] == "GET /healthz"
    assert dropped == {"/healthz"}


def test_app_log_has_no_tracer_errors(app, apm_agent):
    """Runs last in this module: the tracer must not have complained about sending."""
    _, _, app_proc = app
    log = app_proc.output()
    for marker in ("failed to send", "Traceback", "ConnectionRefused"):
        assert marker not in log, log[-4000:]
