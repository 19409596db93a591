"""`make verify` against the local Datadog stand-in (tests/datadog_standin.py): each check's pass
and fail, exit codes, --json, the bounded --wait loop, and bad input (exit 2, one line)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from datadog_api_client.v1.model.host_list_response import HostListResponse
from datadog_api_client.v1.model.monitor import Monitor

from ops import verify as verify_tool
from ops.verify import Clock, next_window
from tests import datadog_standin as dd
from tests.datadog_standin import HOSTS, NOW

ROOT = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
H0, H1 = HOSTS


def write_outputs(path: Path, **changes) -> Path:
    outputs = dd.outputs()
    for key, value in changes.items():
        if value is None:
            outputs.pop(key)
        else:
            outputs[key] = value
    path.write_text(json.dumps(outputs))
    return path


class FakeClock:
    """Wall time fixed at the stand-in's NOW; sleeping advances the monotonic clock."""

    def __init__(self, on_sleep=None) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> Clock:
        return Clock(now=lambda: NOW, monotonic=lambda: self.elapsed, sleep=self.sleep,
                     local_zone=PARIS)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def run(capsys, ops_env, *args, clock: FakeClock | None = None) -> tuple[int, list[str], str]:
    code = verify_tool.main(list(args), env=ops_env, clock=(clock or FakeClock()).clock())
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def line(lines: list[str], check: str) -> str:
    """The one result line of `check` ("my_metric [host]", "apm")."""
    found = [entry for entry in lines if entry[6:].split(": expected")[0] == check]
    assert len(found) == 1, f"no single line for {check!r} in:\n" + "\n".join(lines)
    return found[0]


# ---- a healthy stack -------------------------------------------------------------------------

def test_a_healthy_stack_passes_every_check(standin, ops_env, outputs_file, capsys):
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file))
    assert (code, err) == (0, "")
    assert lines[-1] == "18 of 18 checks passed"
    assert line(lines, f"host [{H0}]") == (
        f"PASS  host [{H0}]: expected a report within 5 min, with tags tier:database env:test "
        "region:us-east-2 role:database name:dd-assessment-test; seen last report 42 s ago, all 5 "
        "tags  https://app.datadoghq.com/infrastructure")
    assert line(lines, f"my_metric [{H0}]") == (
        f"PASS  my_metric [{H0}]: expected values 0..1000 every 45 s (median gap 36..54 s, latest "
        "within 2 min 15 s); seen 20 points, values 14..973, median gap 45 s, latest 45 s ago  "
        f"https://app.datadoghq.com/metric/explorer?exp_metric=my_metric&exp_scope=host%3A{H0}")
    assert line(lines, f"postgresql.connections [{H1}]") == (
        f"PASS  postgresql.connections [{H1}]: expected points under host {H1}; seen points under "
        f"{H1}  https://app.datadoghq.com/metric/explorer?exp_metric=postgresql.connections&"
        f"exp_scope=host%3A{H1}")
    assert line(lines, "apm") == (
        "PASS  apm: expected trace.flask.request.hits{service:my-flask-app,env:test} above 0 over "
        f"the last 15 min; seen 60 hits ({H0}: 30, {H1}: 30)  https://app.datadoghq.com/metric/"
        "explorer?exp_metric=trace.flask.request.hits&exp_scope=service%3Amy-flask-app%2Cenv%3Atest")
    assert line(lines, f"first my_metric [{H1}]") == (
        f"PASS  first my_metric [{H1}]: expected a my_metric point within 2 h of launch "
        "(Wed 21 Oct 16:30 CEST); seen first point 7 min 30 s after launch (to within 5 s)  "
        f"https://app.datadoghq.com/metric/explorer?exp_metric=my_metric&exp_scope=host%3A{H1}")
    assert line(lines, "timeboard") == (
        "PASS  timeboard: expected queries: my_metric by host; anomalies() over a postgresql.* "
        "metric; my_metric with .rollup(sum, 3600); seen 'dd-assessment (test): my_metric and "
        "PostgreSQL': all 3 in 3 widgets  https://app.datadoghq.com/dashboard/abc-def-ghi")
    assert line(lines, "service dashboard").startswith(
        "PASS  service dashboard: expected queries: trace.flask.request.hits{service:my-flask-app}; "
        "trace.flask.request.errors{service:my-flask-app}; p50/p95/p99:trace.flask.request"
        "{service:my-flask-app} latency; host CPU (system.cpu.*); seen ")
    assert line(lines, "monitor") == (
        "PASS  monitor: expected a metric alert on my_metric by {host}, warning 500, critical 800, "
        "no data after 10 min; seen 'avg(last_5m):avg:my_metric{*} by {host} > 800', as expected"
        "  https://app.datadoghq.com/monitors/4242424")
    assert line(lines, f"monitor state [{H0}]") == (
        f"PASS  monitor state [{H0}]: expected evaluated for this host (OK, Warn, Alert); seen "
        "state Warn  https://app.datadoghq.com/monitors/4242424")
    # 11:00 in New York on a Wednesday: the weeknight window opens at 19:00 New York time.
    assert line(lines, "downtime weeknights") == (
        "PASS  downtime weeknights: expected active or scheduled, on monitor 4242424, in "
        "America/New_York; seen next window Thu 22 Oct 01:00 CEST to Thu 22 Oct 15:00 CEST  "
        "https://app.datadoghq.com/monitors/downtimes?id=845e9a1e-0187-11ee-817a-da7ad0900002")
    # Saturday 00:00 to Monday 00:00 New York; Paris leaves summer time on Sunday 25 October.
    assert "seen next window Sat 24 Oct 06:00 CEST to Mon 26 Oct 05:00 CET" in line(lines, "downtime weekend")


def test_verify_asks_datadog_only_what_it_may_and_the_monitor_with_group_states(
        standin, ops_env, outputs_file, capsys):
    assert run(capsys, ops_env, "--outputs", str(outputs_file))[0] == 0
    assert standin.calls("GET", "/api/v1/monitor/") == [{"group_states": "all"}]
    queries = {(c["query"], c["interval"]) for c in standin.calls("POST", "/api/v2/query/timeseries")}
    assert queries == {
        (f"avg:my_metric{{host:{H0} OR host:{H1}}} by {{host}}", 5000),
        ("avg:postgresql.percent_usage_connections{*} by {host}", None),
        ("avg:postgresql.connections{*} by {host}", None),
        ("sum:trace.flask.request.hits{service:my-flask-app,env:test} by {host}.as_count()", None),
        (f"avg:my_metric{{host:{H0}}}", 5000),
        (f"avg:my_metric{{host:{H1}}}", 5000),
    }
    assert standin.calls("GET", "/api/v1/hosts") == [{"filter": "dd-assessment-test-", "count": "1000"}]


def test_json_output_lists_every_check(standin, ops_env, outputs_file, capsys):
    code, lines, _ = run(capsys, ops_env, "--outputs", str(outputs_file), "--json")
    report = json.loads("\n".join(lines))
    assert (code, report["stack"], report["passed"], len(report["checks"])) == (0, "test", True, 18)
    assert report["checks"][0] == {
        "check": "host", "host": H0, "ok": True,
        "expected": "a report within 5 min, with tags tier:database env:test region:us-east-2 "
                    "role:database name:dd-assessment-test",
        "seen": "last report 42 s ago, all 5 tags", "link": "https://app.datadoghq.com/infrastructure"}


# ---- each check failing ----------------------------------------------------------------------

def failing(capsys, ops_env, outputs_file, prefix) -> str:
    code, lines, _ = run(capsys, ops_env, "--outputs", str(outputs_file))
    assert code == 1
    assert sum(entry.startswith("FAIL") for entry in lines) >= 1
    found = line(lines, prefix)
    assert found.startswith("FAIL"), found
    return found


def test_a_silent_host_and_a_missing_tag_fail(standin, ops_env, outputs_file, capsys):
    standin.world.hosts[H0]["last_reported_time"] = int(NOW) - 400
    standin.world.hosts[H1]["tags_by_source"]["Datadog"].remove("role:database")
    assert "seen last report 6 min 40 s ago, all 5 tags" in failing(capsys, ops_env, outputs_file, f"host [{H0}]")
    assert "seen last report 42 s ago, missing tags role:database" in line(
        run(capsys, ops_env, "--outputs", str(outputs_file))[1], f"host [{H1}]")


def test_a_host_unknown_to_datadog_fails(standin, ops_env, outputs_file, capsys):
    del standin.world.hosts[H1]
    assert "seen not in Datadog's host list" in failing(capsys, ops_env, outputs_file, f"host [{H1}]")


def _my_metric(world, host) -> dd.Series:
    return next(s for s in world.series if s.metric == "my_metric" and f"host:{host}" in s.tags)


def test_my_metric_out_of_range_or_off_interval_or_stale_fails(standin, ops_env, outputs_file, capsys):
    series = _my_metric(standin.world, H0)
    series.points[-3] = (series.points[-3][0], 1200.0)
    assert "values 14..1200" in failing(capsys, ops_env, outputs_file, f"my_metric [{H0}]")

    series.points[:] = [p for i, p in enumerate(series.points) if i % 2 == 0]  # every 90 s
    assert "median gap 90 s" in failing(capsys, ops_env, outputs_file, f"my_metric [{H0}]")

    series.points[:] = [(t, 5.0) for t in range(int(NOW - 1200), int(NOW - 400), 45)]
    assert "latest 7 min 15 s ago" in failing(capsys, ops_env, outputs_file, f"my_metric [{H0}]")

    series.points.clear()
    assert "seen 0 point(s) in the last 15 min" in failing(capsys, ops_env, outputs_file, f"my_metric [{H0}]")


def test_postgres_metrics_under_the_docker_gateway_instead_of_the_host_fail(
        standin, ops_env, outputs_file, capsys):
    # The field-notes bug: `host: 172.30.0.1` in the check's config names a phantom host.
    for series in standin.world.series:
        if series.metric.startswith("postgresql."):
            series.tags = {"host:172.30.0.1", "db:postgres"}
    assert failing(capsys, ops_env, outputs_file, f"postgresql.percent_usage_connections [{H0}]") == (
        f"FAIL  postgresql.percent_usage_connections [{H0}]: expected points under host {H0}; "
        f"seen no points under {H0}; only under 172.30.0.1  https://app.datadoghq.com/metric/"
        f"explorer?exp_metric=postgresql.percent_usage_connections&exp_scope=host%3A{H0}")


def test_no_traces_fail_apm(standin, ops_env, outputs_file, capsys):
    standin.world.series = [s for s in standin.world.series if not s.metric.startswith("trace.")]
    assert "seen 0 hits" in failing(capsys, ops_env, outputs_file, "apm")


def test_traces_of_another_env_do_not_count(standin, ops_env, outputs_file, capsys):
    for series in standin.world.series:
        if series.metric.startswith("trace."):
            series.tags = (series.tags - {"env:test"}) | {"env:prod"}
    assert "seen 0 hits" in failing(capsys, ops_env, outputs_file, "apm")


def test_no_first_point_since_launch_fails(standin, ops_env, outputs_file, capsys):
    _my_metric(standin.world, H1).points.clear()
    assert "seen no point yet" in failing(capsys, ops_env, outputs_file, f"first my_metric [{H1}]")


def test_a_timeboard_without_anomalies_fails(standin, ops_env, outputs_file, capsys):
    widget = standin.world.dashboards[dd.DASHBOARD_ID]["widgets"][1]
    widget["definition"]["requests"][0]["formulas"] = [{"formula": "query1"}]
    assert "seen 'dd-assessment (test): my_metric and PostgreSQL': missing anomalies() over a " \
           "postgresql.* metric" in failing(capsys, ops_env, outputs_file, "timeboard")


def test_a_deleted_dashboard_fails(standin, ops_env, outputs_file, capsys):
    del standin.world.dashboards[dd.DASHBOARD_ID]
    assert "seen no dashboard abc-def-ghi (deleted by hand?" in failing(capsys, ops_env, outputs_file, "timeboard")


def test_a_service_dashboard_without_latency_fails(standin, ops_env, outputs_file, capsys):
    group = standin.world.dashboards[dd.SERVICE_DASHBOARD_ID]["widgets"][0]["definition"]
    del group["widgets"][2]
    assert "missing p50/p95/p99:trace.flask.request{service:my-flask-app} latency" in failing(
        capsys, ops_env, outputs_file, "service dashboard")


def test_a_service_dashboard_showing_another_service_by_default_fails(standin, ops_env, outputs_file, capsys):
    # Its queries are scoped {$service,...}: what it shows is the template variable's default.
    variables = standin.world.dashboards[dd.SERVICE_DASHBOARD_ID]["template_variables"]
    variables[2] = {**variables[2], "defaults": ["other-app"]}
    assert "missing trace.flask.request.hits{service:my-flask-app}; trace.flask.request.errors" \
           "{service:my-flask-app}; p50/p95/p99:trace.flask.request{service:my-flask-app} latency" \
           in failing(capsys, ops_env, outputs_file, "service dashboard")


def test_outputs_from_before_the_service_dashboard_fail_one_line_not_a_crash(
        standin, ops_env, tmp_path, capsys):
    outputs = write_outputs(tmp_path / "old.json", serviceDashboardId=None)
    assert failing(capsys, ops_env, outputs, "service dashboard").endswith(
        "seen no serviceDashboardId in the stack's outputs (deployed before this dashboard "
        "existed? `make up` adds it)")


def test_a_monitor_with_other_thresholds_or_ungrouped_fails(standin, ops_env, outputs_file, capsys):
    monitor = standin.world.monitors[dd.MONITOR_ID]
    monitor["options"]["thresholds"]["critical"] = 900.0
    monitor["query"] = "avg(last_5m):avg:my_metric{*} > 900"
    monitor["options"]["no_data_timeframe"] = 20
    assert failing(capsys, ops_env, outputs_file, "monitor").split("; seen ")[1] == (
        "'avg(last_5m):avg:my_metric{*} > 900': not grouped by {host}, critical 900, no data "
        "after 20 min  https://app.datadoghq.com/monitors/4242424")


def test_a_monitor_that_has_not_evaluated_a_host_fails_for_that_host(standin, ops_env, outputs_file, capsys):
    groups = standin.world.monitors[dd.MONITOR_ID]["state"]["groups"]
    groups[f"host:{H0}"]["status"] = "No Data"
    del groups[f"host:{H1}"]
    assert "seen state No Data" in failing(capsys, ops_env, outputs_file, f"monitor state [{H0}]")
    assert "seen no state for this host yet" in line(
        run(capsys, ops_env, "--outputs", str(outputs_file))[1], f"monitor state [{H1}]")


def test_a_deleted_monitor_fails_the_monitor_and_each_host(standin, ops_env, outputs_file, capsys):
    del standin.world.monitors[dd.MONITOR_ID]
    code, lines, _ = run(capsys, ops_env, "--outputs", str(outputs_file))
    assert code == 1
    assert "seen no monitor 4242424" in line(lines, "monitor")
    assert line(lines, f"monitor state [{H1}]").startswith("FAIL")


def test_downtimes_on_another_monitor_zone_or_canceled_fail(standin, ops_env, outputs_file, capsys):
    weekend = standin.world.downtimes[dd.DOWNTIMES["weekend"]]["data"]["attributes"]
    weekend["monitor_identifier"]["monitor_id"] = 1
    weekend["schedule"]["timezone"] = "UTC"
    weekend["display_timezone"] = "UTC"
    assert "seen on monitor 1, timezone UTC; next window Sat 24 Oct 02:00 CEST" in failing(
        capsys, ops_env, outputs_file, "downtime weekend")
    nights = standin.world.downtimes[dd.DOWNTIMES["weeknights"]]["data"]["attributes"]
    nights["status"], nights["canceled"] = "canceled", dd._iso(NOW - 60)
    assert "seen status canceled; next window" in failing(capsys, ops_env, outputs_file, "downtime weeknights")
    del standin.world.downtimes[dd.DOWNTIMES["weeknights"]]
    assert "seen no downtime 845e9a1e" in failing(capsys, ops_env, outputs_file, "downtime weeknights")


def test_a_downtime_window_open_now_says_until_when(standin, ops_env, outputs_file, capsys):
    standin.world.downtimes[dd.DOWNTIMES["weeknights"]]["data"]["attributes"]["schedule"][
        "recurrences"][0]["start"] = "2026-10-18T09:00"   # opens 09:00 New York: open at 11:00
    assert "seen in a window now, until Thu 22 Oct 05:00 CEST" in line(
        run(capsys, ops_env, "--outputs", str(outputs_file))[1], "downtime weeknights")


def test_the_standin_notices_an_answer_the_client_cannot_read():
    # Guards the guard: the stand-in's shape check must see what datadog-api-client rejects.
    host = dd.healthy().hosts[H0]
    assert not dd.unparsed(HostListResponse, json.dumps({"host_list": [host]}))
    assert dd.unparsed(HostListResponse, json.dumps({"host_list": [{**host, "last_reported_time": 1.5}]}))
    monitor = dd.healthy().monitors[dd.MONITOR_ID]
    assert dd.unparsed(Monitor, json.dumps({**monitor, "overall_state": "Sleeping"}))


def test_next_window_reads_starts_with_an_offset_and_picks_the_next_occurrence():
    now = datetime(2026, 10, 21, 15, 0, tzinfo=UTC)
    nights = {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU,MO,TU,WE,TH,FR", "duration": "14h"}
    expected = (datetime(2026, 10, 21, 23, 0, tzinfo=UTC), datetime(2026, 10, 22, 13, 0, tzinfo=UTC))
    for start in ("2026-10-18T19:00", "2026-10-18T19:00:00", "2026-10-18T23:00:00+00:00"):
        opens, closes = next_window({**nights, "start": start}, "America/New_York", now)
        assert (opens.astimezone(UTC), closes.astimezone(UTC)) == expected, start
    assert next_window({**nights, "rrule": "FREQ=WEEKLY;COUNT=1", "start": "2026-10-18T19:00"},
                       "America/New_York", now) is None


# ---- exit codes, --wait ----------------------------------------------------------------------

def test_wait_stops_as_soon_as_everything_passes(standin, ops_env, outputs_file, capsys):
    groups = standin.world.monitors[dd.MONITOR_ID]["state"]["groups"]
    missing = groups.pop(f"host:{H1}")
    fake = FakeClock(on_sleep=lambda rounds: rounds == 2 and groups.update({f"host:{H1}": missing}))
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--wait", "15", clock=fake)
    assert (code, fake.sleeps) == (0, [30, 30])  # three rounds: fail, fail, pass
    assert lines[-1] == "18 of 18 checks passed"
    assert err.count("verify: 1 of 18 checks still failing; looking again in 30 s") == 2
    assert f"  FAIL  monitor state [{H1}]" in err


def test_wait_is_bounded_and_ends_failing(standin, ops_env, outputs_file, capsys):
    standin.world.series = [s for s in standin.world.series if not s.metric.startswith("trace.")]
    fake = FakeClock()
    code, lines, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--wait", "1.25", clock=fake)
    assert (code, fake.sleeps) == (1, [30, 30, 15])  # 75 s: three waits, four rounds
    assert err.count("still failing") == 3 and "(75 s left)" in err
    assert lines[-1] == "17 of 18 checks passed; 1 failed"


def test_wait_rejects_a_non_positive_time(ops_env, outputs_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        verify_tool.main(["--outputs", str(outputs_file), "--wait", "0"], env=ops_env)
    assert exit_.value.code == 2
    assert "'0' is out of range; use a number of minutes above 0 and at most 180" in \
        capsys.readouterr().err


@pytest.mark.parametrize("interval", ["-5", "0", "14.9", "601", "nan", "soon"])
def test_interval_is_refused_below_the_rate_limit_floor_before_any_call(
        standin, ops_env, outputs_file, capsys, interval):
    with pytest.raises(SystemExit) as exit_:
        verify_tool.main(["--outputs", str(outputs_file), "--wait", "5", "--interval", interval], env=ops_env)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert (f"argument --interval: '{interval}' is out of range; use a number of seconds at least 15 "
            "and at most 600") in err
    assert "Traceback" not in err
    assert standin.calls("GET", "/api/v1/validate") == []


def test_interval_sets_the_pause_between_rounds(standin, ops_env, outputs_file, capsys):
    standin.world.series = [s for s in standin.world.series if not s.metric.startswith("trace.")]
    fake = FakeClock()
    code, _, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--wait", "1", "--interval", "20",
                       clock=fake)
    assert (code, fake.sleeps) == (1, [20, 20, 20])
    assert "instead of --interval" not in err


def test_with_more_hosts_the_rounds_are_spaced_for_the_query_budget(standin, ops_env, outputs_file, capsys):
    """The stand-in's stack has two hosts: 6 timeseries queries a round, 3 s each."""
    standin.world.series = [s for s in standin.world.series if not s.metric.startswith("trace.")]
    fake = FakeClock()
    code, _, err = run(capsys, ops_env, "--outputs", str(outputs_file), "--wait", "1", "--interval", "15",
                       clock=fake)
    assert (code, fake.sleeps) == (1, [18, 18, 18, 6])
    assert err.count("verify: every 18 s instead of --interval 15: 2 hosts make 6 timeseries queries "
                     "a round, and Datadog limits them per hour") == 1
    rounds = len(fake.sleeps) + 1
    assert len(standin.calls("POST", "/api/v2/query/timeseries")) == 6 * rounds


# ---- cannot check: exit 2 with one line ------------------------------------------------------

def cannot(capsys, ops_env, *args) -> str:
    code, lines, err = run(capsys, ops_env, *args)
    assert (code, lines) == (2, []), err
    assert err.count("\n") == 1 and err.startswith("verify: cannot check: ") and "Traceback" not in err
    return err.removeprefix("verify: cannot check: ").strip()


def test_no_keys(ops_env, outputs_file, capsys):
    del ops_env["DD_API_KEY"], ops_env["DD_APP_KEY"]
    assert cannot(capsys, ops_env, "--outputs", str(outputs_file)) == (
        "no Datadog key: DD_API_KEY (or the stack's datadog:apiKey) and DD_APP_KEY (or the "
        "stack's datadog:appKey) not set; export them (with --outputs the stack's config is not "
        "read); the keys are in Organization Settings > API Keys / Application Keys")


def test_keys_datadog_refuses(standin, ops_env, outputs_file, capsys):
    ops_env["DD_API_KEY"] = "0" * 32
    assert cannot(capsys, ops_env, "--outputs", str(outputs_file)).startswith(
        "Datadog refused GET /api/v1/validate (403: Forbidden); check DD_API_KEY / DD_APP_KEY")
    ops_env["DD_API_KEY"], ops_env["DD_APP_KEY"] = dd.API_KEY, "0" * 40
    assert cannot(capsys, ops_env, "--outputs", str(outputs_file)).startswith(
        "Datadog refused GET /api/v1/hosts (403: Forbidden)")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_api(ops_env, outputs_file, capsys):
    ops_env["DD_HOST"] = f"http://127.0.0.1:{_closed_port()}"
    assert cannot(capsys, ops_env, "--outputs", str(outputs_file)) == (
        f"cannot reach the Datadog API at {ops_env['DD_HOST']} for GET /api/v1/validate: "
        "[Errno 111] Connection refused")  # and no urllib3 retry warnings on stderr


def test_a_dd_host_that_is_not_a_url(ops_env, outputs_file, capsys):
    ops_env["DD_HOST"] = "api.datadoghq.eu"
    assert cannot(capsys, ops_env, "--outputs", str(outputs_file)).startswith(
        "DD_HOST is 'api.datadoghq.eu': it must be the API's base URL, like https://api.datadoghq.com")


def test_an_outputs_file_that_is_not_json_missing_or_incomplete(ops_env, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("Current stack outputs (2):\n    OUTPUT  VALUE\n")
    assert cannot(capsys, ops_env, "--outputs", str(bad)).startswith(
        f"the outputs file {bad} is not JSON (Expecting value: line 1 column 1 (char 0)); write "
        f"it with `pulumi stack output --json --show-secrets > {bad}`")
    assert cannot(capsys, ops_env, "--outputs", str(tmp_path / "none.json")) == (
        f"cannot read the outputs file {tmp_path / 'none.json'}: No such file or directory")
    old = write_outputs(tmp_path / "old.json", launchTimes=None, downtimeIds=None)
    assert cannot(capsys, ops_env, "--outputs", str(old)) == (
        f"the outputs file {old}: no launchTimes, no downtimeIds; after `make up`, rewrite it "
        f"with `pulumi stack output --json --show-secrets > {old}`")
    wrong = write_outputs(tmp_path / "wrong.json", monitorId="4242424", hostNames="dd-assessment-test-0")
    assert cannot(capsys, ops_env, "--outputs", str(wrong)).startswith(
        f"the outputs file {wrong}: hostNames is not a list, monitorId is not a whole number; ")
    (tmp_path / "empty.json").write_text("{}")
    assert "is empty: the stack is not deployed" in cannot(
        capsys, ops_env, "--outputs", str(tmp_path / "empty.json"))


# ---- through the Pulumi CLI (a stand-in `pulumi` on PATH) ------------------------------------

FAKE_PULUMI = r"""#!/usr/bin/env bash
# Stands in for the Pulumi CLI: stack `test` exists, any other answers as the real CLI does.
printf '%s\n' "$*" >> "$FAKE_PULUMI_LOG"
stack=""
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --stack ]] && { j=$((i + 1)); stack=${!j}; }; done
if [[ $stack != test ]]; then
  echo "error: no stack named '$stack' found" >&2
  exit 255
fi
case "$1 $2" in
  "stack output") cat "$FAKE_PULUMI_OUTPUTS" ;;
  "config --json") printf '{"aws:region": {"value": "us-east-2", "secret": false}, "datadog:apiKey": {"value": "%s", "secret": true}, "datadog:appKey": {"value": "%s", "secret": true}}\n' "$FAKE_API_KEY" "$FAKE_APP_KEY" ;;
  *) echo "error: unexpected: $*" >&2; exit 255 ;;
esac
"""


@pytest.fixture
def pulumi_cli(ops_env, outputs_file, tmp_path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "pulumi.log"
    ops_env.update(PATH=f"{bin_dir}:{ops_env['PATH']}", FAKE_PULUMI_LOG=str(log),
               FAKE_PULUMI_OUTPUTS=str(outputs_file), FAKE_API_KEY=dd.API_KEY, FAKE_APP_KEY=dd.APP_KEY)
    return log


def test_reads_outputs_and_keys_through_the_pulumi_cli(standin, ops_env, pulumi_cli, capsys):
    del ops_env["DD_API_KEY"], ops_env["DD_APP_KEY"]
    code, lines, _ = run(capsys, ops_env, "--stack", "test")
    assert (code, lines[-1]) == (0, "18 of 18 checks passed")
    assert pulumi_cli.read_text().splitlines() == [
        "stack output --json --show-secrets --stack test --non-interactive",
        "config --json --show-secrets --stack test --non-interactive"]


def test_keys_in_the_environment_need_no_stack_config(standin, ops_env, pulumi_cli, capsys):
    assert run(capsys, ops_env, "--stack", "test")[0] == 0
    assert pulumi_cli.read_text().splitlines() == [
        "stack output --json --show-secrets --stack test --non-interactive"]


def test_an_unknown_stack(ops_env, pulumi_cli, capsys):
    assert cannot(capsys, ops_env, "--stack", "nosuch") == (
        "cannot read stack 'nosuch': `pulumi stack output --json --show-secrets` failed: no stack "
        "named 'nosuch' found; `pulumi stack ls` lists this project's stacks")


def test_no_pulumi_cli_and_no_outputs_file(ops_env, tmp_path, capsys):
    ops_env["PATH"] = str(tmp_path)  # nothing there
    assert cannot(capsys, ops_env).startswith(
        "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/)"
        ", or pass --outputs FILE")


# ---- as a process: one line, no traceback, and never the Pulumi SDK --------------------------

def _process(ops_env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "ops.verify", *args], check=False, cwd=ROOT,
                          env={**ops_env, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True,
                          text=True, timeout=60)


def _imported(stderr: str) -> set[str]:
    return {entry.split("|")[-1].strip() for entry in stderr.splitlines() if entry.startswith("import time:")}


def test_the_process_checks_a_stack_without_ever_importing_pulumi(standin, ops_env, tmp_path):
    # A process runs on the real clock: the stand-in serves a stack that is healthy now.
    now = time.time()
    standin.world = dd.healthy(now)
    outputs = tmp_path / "now.json"
    outputs.write_text(json.dumps(dd.outputs(now)))
    done = _process(ops_env, "--outputs", str(outputs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "18 of 18 checks passed"
    imported = _imported(done.stderr)
    assert "datadog_api_client.v2.api.metrics_api" in imported  # the whole path ran
    assert sorted(m for m in imported if m.split(".")[0].startswith("pulumi")) == []
    assert sorted(m for m in imported if m.startswith("components.")) == ["components.design"]


def test_the_process_says_one_line_and_exits_2_on_bad_input(ops_env, tmp_path):
    (tmp_path / "bad.json").write_text("not json")
    done = _process(ops_env, "--outputs", str(tmp_path / "bad.json"))
    errors = [entry for entry in done.stderr.splitlines() if not entry.startswith("import time:")]
    assert (done.returncode, done.stdout) == (2, "")
    assert len(errors) == 1 and errors[0].startswith("verify: cannot check: the outputs file ")
