"""app/traffic.py for real: against the app as its image runs it (the `app` fixture, tracing to
Datadog's APM test agent), at a high rate for a couple of seconds."""

from __future__ import annotations

import http.server
import re
import subprocess
import threading

import pytest

pytest.importorskip("ddapm_test_agent", reason="host tests: run tests/host/run.sh")

from hostlib import APP_DIR, APP_SERVICE, agent_spans, free_port, venv_tool, wait_until

TRAFFIC = APP_DIR / "traffic.py"
USER_AGENT = "dd-assessment-traffic/1"
RESOURCES = {"GET /", "GET /api/apm", "GET /api/trace"}
SUMMARY_LINE = re.compile(r"dd-assessment-traffic: (stopping; )?last [\d.]+ s: (\d+) requests .*")


def start_traffic(clean_env, status_file, **settings) -> subprocess.Popen:
    """The script as the traffic container runs it: plain python, no ddtrace-run."""
    env = {**clean_env, "TRAFFIC_STATUS_FILE": str(status_file),
           **{f"TRAFFIC_{key.upper()}": str(value) for key, value in settings.items()}}
    return subprocess.Popen([venv_tool("python"), str(TRAFFIC)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def health(clean_env, status_file) -> subprocess.CompletedProcess:
    """The container's health check: `python /app/traffic.py --check`."""
    return subprocess.run([venv_tool("python"), str(TRAFFIC), "--check"], check=False, text=True,
                          capture_output=True, timeout=10,
                          env={**clean_env, "TRAFFIC_STATUS_FILE": str(status_file)})


def test_traffic_is_traced_for_all_three_routes_and_logs_only_summaries(app, apm_agent,
                                                                        clean_env, tmp_path):
    _, app_url, _ = app
    _, agent_url, _ = apm_agent
    status_file = tmp_path / "status.json"
    traffic = start_traffic(clean_env, status_file, target=app_url, requests_per_minute=1800,
                            jitter=0.5, timeout_seconds=2, summary_seconds=0.5,
                            duration_seconds=1.5)
    # The health check passes while it works.
    wait_until(lambda: health(clean_env, status_file).returncode == 0, timeout=5,
               interval=0.1, what="the traffic health check to pass")
    output, _ = traffic.communicate(timeout=20)
    assert traffic.returncode == 0, output

    lines = output.splitlines()
    assert lines[0].startswith("dd-assessment-traffic: 1800 requests per minute"), output
    summaries = [SUMMARY_LINE.fullmatch(line) for line in lines[1:]]
    assert all(summaries), output
    sent = sum(int(match.group(2)) for match in summaries)
    # ~45 requests in 1.5 s, yet only a start line and one summary per 0.5 s (+ the last).
    assert sent >= 20, output
    assert len(lines) <= 1 + 1.5 / 0.5 + 1, output
    assert " 0 failed" in output and "last error" not in output, output

    def traffic_spans():
        spans = [s for s in agent_spans(agent_url) if s.get("name") == "flask.request"
                 and s.get("meta", {}).get("http.useragent") == USER_AGENT]
        return spans if len(spans) >= sent else None

    spans = wait_until(traffic_spans, timeout=30, interval=0.5, what="the traffic's spans")
    assert len(spans) == sent  # every request a real, traced request; nothing else with its agent
    assert {s["resource"] for s in spans} == RESOURCES
    assert {s["service"] for s in spans} == {APP_SERVICE}
    assert {s["meta"]["http.status_code"] for s in spans} == {"200"}


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_health_check_fails_once_the_app_stops_answering(clean_env, tmp_path):
    """A stand-in app that goes away mid-run: the check passes, then fails, saying why."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    status_file = tmp_path / "status.json"
    traffic = start_traffic(clean_env, status_file, target=f"http://127.0.0.1:{server.server_port}",
                            requests_per_minute=1200, jitter=0.5, timeout_seconds=0.5,
                            summary_seconds=60, duration_seconds=6)
    try:
        wait_until(lambda: health(clean_env, status_file).returncode == 0, timeout=5,
                   interval=0.1, what="the traffic health check to pass")
        server.shutdown()
        server.server_close()
        failed = wait_until(lambda: (r := health(clean_env, status_file)).returncode == 1 and r,
                            timeout=5, interval=0.1, what="the traffic health check to fail")
        assert "no request succeeded for" in failed.stdout
        assert "Connection refused" in failed.stdout
    finally:
        traffic.terminate()
        output, _ = traffic.communicate(timeout=10)
    assert traffic.returncode == 0, output  # SIGTERM (docker stop) ends it cleanly
    assert output.splitlines()[-1].startswith("dd-assessment-traffic: stopping; last"), output


def test_health_check_fails_when_nothing_ever_answered(clean_env, tmp_path):
    status_file = tmp_path / "status.json"
    assert "no traffic status yet" in health(clean_env, status_file).stdout
    traffic = start_traffic(clean_env, status_file, target=f"http://127.0.0.1:{free_port()}",
                            requests_per_minute=600, timeout_seconds=0.5, duration_seconds=0.5)
    output, _ = traffic.communicate(timeout=10)
    assert traffic.returncode == 0, output
    result = health(clean_env, status_file)
    assert result.returncode == 1
    assert "no request has succeeded yet" in result.stdout and "Connection refused" in result.stdout


@pytest.mark.parametrize("settings,message", [
    ({}, "set TRAFFIC_TARGET to the app's base URL"),
    ({"target": "http://x", "requests_per_minute": "0"},
     "TRAFFIC_REQUESTS_PER_MINUTE='0' is out of range"),
    ({"target": "http://x", "jitter": "lots"}, "TRAFFIC_JITTER='lots' is not a number"),
])
def test_bad_settings_are_refused_naming_the_variable(clean_env, tmp_path, settings, message):
    traffic = start_traffic(clean_env, tmp_path / "status.json", **settings)
    output, _ = traffic.communicate(timeout=10)
    assert traffic.returncode == 1
    assert message in output and "Traceback" not in output
