"""The Datadog objects as the program declares them from its settings."""

import argparse
import json
import time

import pytest
import yaml

from tests.harness import BASE_CONFIG, LAUNCH_TIME, ROOT, Declared, evaluate, is_secret

MONITOR = "datadog:index/monitor:Monitor"
SCHEDULE = "datadog:index/downtimeSchedule:DowntimeSchedule"


@pytest.fixture(scope="module")
def declared() -> Declared:
    return evaluate({"warningThreshold": "300", "criticalThreshold": "900", "noDataMinutes": "15",
                     "timezone": "Europe/Paris", "quietHours": "20:30-07:15",
                     "notifyHandles": ["@ops@example.com", "@slack-alerts"],
                     "datadogSite": "datadoghq.eu", "hostCount": "2"})


def test_provider_uses_the_site_and_secret_keys(declared):
    provider = declared.one("pulumi:providers:datadog")
    assert provider.inputs["apiUrl"] == "https://api.datadoghq.eu/"
    assert is_secret(provider.inputs["apiKey"]) and is_secret(provider.inputs["appKey"])
    for typ in ("datadog:index/dashboard:Dashboard", MONITOR, SCHEDULE):
        for resource in declared.of_type(typ):
            assert resource.provider.endswith("::datadog::datadog-id"), resource.name


def test_monitor_follows_the_settings(declared):
    monitor = declared.one(MONITOR).props
    assert monitor["query"] == "avg(last_5m):avg:my_metric{*} by {host} > 900"
    assert monitor["monitorThresholds"] == {"warning": "300", "critical": "900"}
    assert (monitor["notifyNoData"], monitor["noDataTimeframe"]) == (True, 15)
    assert monitor["requireFullWindow"] is False
    assert "@ops@example.com" in monitor["message"] and "@slack-alerts" in monitor["message"]
    assert "{{host.ip}}" in monitor["message"] and "{{value}}" in monitor["message"]
    assert sorted(monitor["tags"]) == ["project:dd-assessment", "stack:test"]


def test_downtimes_follow_the_settings_and_silence_the_monitor(declared):
    schedules = {r.name: r.props for r in declared.of_type(SCHEDULE)}
    assert len(schedules) == 2
    for props in schedules.values():
        assert props["monitorIdentifier"] == {"monitorId": 4242424}  # the monitor's id, as a number
        assert props["recurringSchedule"]["timezone"] == "Europe/Paris"
    nights = schedules["dd-assessment-test-quiet-hours-weeknights"]["recurringSchedule"]["recurrences"][0]
    assert nights["duration"] == "645m"  # 20:30 to 07:15
    assert nights["start"].endswith("T20:30:00")
    assert not declared.of_type("datadog:index/downtime:Downtime")


def test_downtime_messages_notify_the_handles(declared):
    # The exercise: "make sure that your email is notified when you schedule the downtime".
    messages = {r.name: r.props["message"] for r in declared.of_type(SCHEDULE)}
    assert messages == {
        "dd-assessment-test-quiet-hours-weeknights":
            "Weeknight quiet hours (20:30-07:15 Europe/Paris): notifications muted. "
            "@ops@example.com @slack-alerts",
        "dd-assessment-test-quiet-hours-weekend":
            "Weekend quiet hours (Saturday 00:00 to Monday 00:00 Europe/Paris): notifications "
            "muted. @ops@example.com @slack-alerts",
    }


def test_dashboard_covers_every_host_and_its_url_is_exported(declared):
    dashboard = declared.named("dd-assessment-test-dashboard").props
    (variable,) = dashboard["templateVariables"]
    assert variable["availableValues"] == ["dd-assessment-test-0", "dd-assessment-test-1"]
    queries = [q["metricQuery"]["query"] for w in dashboard["widgets"]
               for r in w["timeseriesDefinition"]["requests"] for q in r["queries"]]
    assert any("my_metric" in q for q in queries) and any("postgresql." in q for q in queries)
    assert declared.outputs["dashboardUrl"].startswith("https://app.datadoghq.eu/dashboard/")
    assert declared.outputs["monitorId"] == 4242424


def _datadog_inputs(result: Declared) -> str:
    return json.dumps(sorted(
        (r.typ, r.name, r.props) for r in result.resources
        if r.typ.startswith(("datadog:", "time:", "pulumi:providers:datadog"))), sort_keys=True)


def test_two_evaluations_seconds_apart_declare_identical_datadog_inputs():
    first = _datadog_inputs(evaluate())
    time.sleep(1.5)
    assert _datadog_inputs(evaluate()) == first


def test_no_datadog_key_in_plain_outputs(declared):
    flat = json.dumps(declared.outputs)
    assert BASE_CONFIG["datadog:apiKey"] not in flat and BASE_CONFIG["datadog:appKey"] not in flat


def test_outputs_the_operator_tools_read(declared):
    outputs = declared.outputs
    assert outputs["dashboardId"] == "dd-assessment-test-dashboard-id"
    assert outputs["downtimeIds"] == {"weeknights": "dd-assessment-test-quiet-hours-weeknights-id",
                                      "weekend": "dd-assessment-test-quiet-hours-weekend-id"}
    assert (outputs["service"], outputs["env"], outputs["datadogSite"]) == ("my-flask-app", "test", "datadoghq.eu")
    assert outputs["hostTags"] == ["tier:database", "env:test", "region:us-east-2", "role:database",
                                   "name:dd-assessment-test"]
    assert outputs["checkIntervalSeconds"] == 45
    assert outputs["monitorOptions"] == {"warningThreshold": 300, "criticalThreshold": 900, "noDataMinutes": 15}
    assert (outputs["timezone"], outputs["notifyHandles"]) == ("Europe/Paris", ["@ops@example.com", "@slack-alerts"])
    # Each host's launch time is the one EC2 reports for that host's own instance.
    assert outputs["launchTimes"] == {"dd-assessment-test-0": LAUNCH_TIME, "dd-assessment-test-1": LAUNCH_TIME}
    assert sorted(args["instanceId"] for token, args in declared.calls
                  if token == "aws:ec2/getInstance:getInstance") == [
        "dd-assessment-test-0-instance-id", "dd-assessment-test-1-instance-id"]


def test_the_operator_tools_accept_the_programs_outputs(declared, tmp_path):
    """What `make verify` / `snapshot` / `report` require is what the program exports, with the JSON
    types the tests' stand-in stack uses."""
    from ops import report, snapshot, verify
    from ops.common import load_stack
    from tests.datadog_standin import outputs as standin_outputs

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(declared.outputs))
    for tool in (verify, snapshot, report):
        args = argparse.Namespace(stack="test", outputs=path)
        assert load_stack(args, tool.REQUIRED_OUTPUTS, env={}).outputs == declared.outputs
    sample = standin_outputs()
    assert {k: type(v) for k, v in sample.items()} == {k: type(declared.outputs[k]) for k in sample}


def test_make_verify_finds_the_exercise_on_the_declared_dashboards(declared):
    """verify's dashboard check, run on what the program declares (as the API returns it)."""
    from datadog_api_client.v1.model.dashboard import Dashboard

    from ops.verify import dashboard_expectations, missing_queries
    from tests.datadog_standin import dashboard_from_inputs, unparsed

    by_id = {f"{r.name}-id": r for r in declared.of_type("datadog:index/dashboard:Dashboard")}
    for output, (_, wanted) in dashboard_expectations("my-flask-app").items():
        dashboard = dashboard_from_inputs(by_id[declared.outputs[output]].props, declared.outputs[output])
        assert not unparsed(Dashboard, json.dumps(dashboard)), output
        assert missing_queries(dashboard, wanted) == [], output


# --- the defaults, as README.md documents them and the program deploys them ------------------------

README_DEFAULTS = (  # rows of README.md's configuration table
    "| `checkIntervalSeconds` | no | 45 |",
    "| `warningThreshold` / `criticalThreshold` | no | 500 / 800 |",
    "| `noDataMinutes` | no | 10 |",
    "| `quietHours` | no | `19:00-09:00` |",
    "| `timezone` | no | `America/New_York` |",
)


def test_the_readme_documents_the_defaults():
    readme = (ROOT / "README.md").read_text()
    for row in README_DEFAULTS:
        assert row in readme


def test_unset_settings_deploy_the_documented_defaults():
    declared = evaluate()  # BASE_CONFIG: the required keys only
    monitor = declared.one(MONITOR).props
    assert monitor["query"] == "avg(last_5m):avg:my_metric{*} by {host} > 800"
    assert monitor["monitorThresholds"] == {"warning": "500", "critical": "800"}
    assert monitor["noDataTimeframe"] == 10
    weeknights = declared.named("dd-assessment-test-quiet-hours-weeknights").props["recurringSchedule"]
    assert weeknights["timezone"] == "America/New_York"
    (nights,) = weeknights["recurrences"]
    assert (nights["start"][-9:], nights["duration"]) == ("T19:00:00", "14h")  # 19:00 to 09:00
    agent = declared.named("dd-assessment-test-0-agent-container").props
    uploads = {upload["file"]: upload["content"] for upload in agent["uploads"]}
    my_metric = yaml.safe_load(uploads["/conf.d/my_metric.d/conf.yaml"])
    assert my_metric["instances"] == [{"min_collection_interval": 45}]


def test_stack_config_can_point_the_provider_at_another_endpoint():
    # make e2e sets datadog:apiUrl to its local stand-in of the API; without it the site decides.
    declared = evaluate({"datadog:apiUrl": "http://127.0.0.1:8080/"})
    assert declared.one("pulumi:providers:datadog").inputs["apiUrl"] == "http://127.0.0.1:8080/"

