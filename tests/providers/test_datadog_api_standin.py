"""The stand-in judges as it claims: what it refuses, what it answers normalised.

Each case is a body the real provider could send, written out; each expectation is the real
API's behaviour from terraform-provider-datadog's cassettes (named in the stand-in) or
datadog-api-client's models. Without the stand-in's checks these fail, so a judge that lets
everything through cannot pass for one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from werkzeug.test import Client

from tests.providers.datadog_api_standin import DatadogApi, Server, main

KEYS = {"DD-API-KEY": "k" * 32, "DD-APPLICATION-KEY": "a" * 40}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MONITOR = {"name": "m", "type": "metric alert", "query": "avg(last_5m):avg:my_metric{*} by {host} > 800",
           "message": "hi @ops@example.com", "tags": ["stack:test"],
           "options": {"thresholds": {"critical": 800, "warning": 500}, "notify_no_data": True,
                       "no_data_timeframe": 10, "require_full_window": False, "include_tags": True}}


def downtime(monitor_id: int, start: str = "2026-12-01T19:00:00") -> dict:
    return {"data": {"type": "downtime", "attributes": {
        "scope": "*", "monitor_identifier": {"monitor_id": monitor_id}, "display_timezone": "America/New_York",
        "message": "quiet", "mute_first_recovery_notification": True,
        "notify_end_states": ["alert", "no data", "warn"], "notify_end_types": ["canceled", "expired"],
        "schedule": {"timezone": "America/New_York", "recurrences": [
            {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU,MO", "start": start, "duration": "14h"}]}}}}


@pytest.fixture
def api():
    return DatadogApi(clock=lambda: NOW)


def call(api: DatadogApi, method: str, path: str, body=None, headers=KEYS):
    response = Client(api).open(path, method=method, headers=headers,
                                data=json.dumps(body) if body is not None else None,
                                content_type="application/json")
    return response.status_code, (response.get_json(silent=True) if response.data else None)


def test_monitor_answer_carries_floats_computed_fields_and_is_read_back(api):
    status, created = call(api, "POST", "/api/v1/monitor", MONITOR)
    assert status == 200, created
    assert created["options"]["thresholds"] == {"critical": 800.0, "warning": 500.0}
    assert all(isinstance(v, float) for v in created["options"]["thresholds"].values())
    assert created["options"]["notify_audit"] is False and created["options"]["silenced"] == {}
    assert created["type"] == "metric alert" and created["multi"] is True
    assert {"id", "created", "modified", "creator", "overall_state", "org_id"} <= set(created)
    assert call(api, "GET", f"/api/v1/monitor/{created['id']}") == (200, created)
    assert api.shape_errors == [] and api.rejected == []


def test_query_alert_is_answered_as_metric_alert(api):
    _, created = call(api, "POST", "/api/v1/monitor", {**MONITOR, "type": "query alert"})
    assert created["type"] == "metric alert"


@pytest.mark.parametrize("body, why", [
    ({**MONITOR, "bogus": 1}, "Monitor.bogus: unknown field"),
    ({**MONITOR, "options": {**MONITOR["options"], "threshold": {"critical": 800}}}, "options.threshold: unknown field"),
    ({**MONITOR, "type": "metric"}, "Monitor.type: 'metric' is not a value MonitorType allows"),
    ({**MONITOR, "options": {**MONITOR["options"], "thresholds": {"critical": 900}}}, "critical threshold 900"),
])
def test_monitor_bodies_the_api_cannot_take_are_refused(api, body, why):
    status, answer = call(api, "POST", "/api/v1/monitor", body)
    assert status == 400 and why in answer["errors"][0], answer
    assert api.monitors == {} and len(api.rejected) == 1


def test_dashboard_gains_ids_url_and_authors_and_refuses_unknown_widget_fields(api):
    widget = {"definition": {"type": "timeseries", "title": "t", "requests": [
        {"queries": [{"data_source": "metrics", "name": "query1", "query": "avg:my_metric{*}"}],
         "formulas": [{"formula": "query1"}], "response_format": "timeseries", "display_type": "line"}]}}
    group = {"definition": {"type": "group", "layout_type": "ordered", "widgets": [widget]}}
    body = {"title": "My board", "layout_type": "ordered", "widgets": [widget, group]}
    status, created = call(api, "POST", "/api/v1/dashboard", body)
    assert status == 200, created
    assert created["url"] == f"/dashboard/{created['id']}/my-board"
    assert {"author_handle", "author_name", "created_at", "modified_at"} <= set(created)
    assert all("id" in w for w in created["widgets"]) and "id" in created["widgets"][1]["definition"]["widgets"][0]
    bad = json.loads(json.dumps(body))
    bad["widgets"][0]["definition"]["requests"][0]["queries"][0]["qeury"] = "x"
    status, answer = call(api, "POST", "/api/v1/dashboard", bad)
    assert status == 400, answer
    assert "qeury" in answer["errors"][0]


def test_downtime_start_is_echoed_with_seconds_and_end_states_reordered(api):
    _, monitor = call(api, "POST", "/api/v1/monitor", MONITOR)
    status, created = call(api, "POST", "/api/v2/downtime", downtime(monitor["id"], "2026-12-01T19:00"))
    assert status == 200, created
    attributes = created["data"]["attributes"]
    assert attributes["schedule"]["recurrences"][0]["start"] == "2026-12-01T19:00:00"
    # 19:00 in New York (EST) is 00:00 UTC the next day.
    assert attributes["schedule"]["current_downtime"]["start"] == "2026-12-02T00:00:00+00:00"
    _, read = call(api, "GET", f"/api/v2/downtime/{created['data']['id']}")
    assert read["data"]["attributes"]["notify_end_states"] == ["warn", "no data", "alert"]
    assert api.shape_errors == [] and api.rejected == []


@pytest.mark.parametrize("change, why", [
    (lambda b: b["data"]["attributes"]["schedule"]["recurrences"][0].update(start="2026-11-30T19:00:00"),
     "in the past"),
    (lambda b: b["data"]["attributes"]["schedule"]["recurrences"][0].update(start="2026-12-01T19:00:00-05:00"),
     "without a UTC offset"),
    (lambda b: b["data"]["attributes"]["schedule"]["recurrences"][0].update(rrule="FREQ=DAILY;DTSTART=20261201"),
     "not supported"),
    (lambda b: b["data"]["attributes"].update(monitor_identifier={"monitor_id": 1}), "monitor 1 does not exist"),
    (lambda b: b["data"]["attributes"].update(notify_end_states=["alert", "muted"]), "not a value"),
    (lambda b: b["data"]["attributes"]["schedule"].update(start="2026-12-01T19:00:00"), "unknown field"),
])
def test_downtimes_the_api_refuses_are_refused(api, change, why):
    _, monitor = call(api, "POST", "/api/v1/monitor", MONITOR)
    body = downtime(monitor["id"])
    change(body)
    status, answer = call(api, "POST", "/api/v2/downtime", body)
    assert status == 400 and why in answer["errors"][0], answer
    assert api.downtimes == {}


def test_keys_are_required_and_unknown_endpoints_are_recorded(api):
    assert call(api, "GET", "/api/v1/validate", headers={})[0] == 403
    assert call(api, "GET", "/api/v1/validate", headers={"DD-API-KEY": "k"}) == (200, {"valid": True})
    assert call(api, "GET", "/api/v1/monitor", headers=KEYS)[0] == 404
    assert api.unexpected == ["GET /api/v1/monitor"]


def test_it_serves_over_http_and_reports(api):
    import urllib.request
    with Server(api) as server:
        request = urllib.request.Request(f"{server.url}/api/v1/validate", headers=KEYS)
        assert json.load(urllib.request.urlopen(request)) == {"valid": True}
        report = json.load(urllib.request.urlopen(f"{server.url}/_standin/report"))
    assert report["requests"] == ["GET /api/v1/validate"] and report["rejected"] == []
    assert callable(main)
