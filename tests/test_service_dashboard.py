"""The service-and-host dashboard (the exercise's APM section) as the program declares it."""

from __future__ import annotations

import pytest

from components.service_dashboard import ServiceDashboardArgs
from tests.harness import Declared, evaluate

DASHBOARD = "datadog:index/dashboard:Dashboard"


@pytest.fixture(scope="module")
def declared() -> Declared:
    return evaluate({"hostCount": "2"})


def _dashboard(declared: Declared) -> dict:
    return declared.named("dd-assessment-test-service-dashboard").props


def _requests(props: dict) -> list[tuple[str, str, list, list]]:
    """(group, widget title, queries, formulas) for every widget, in order."""
    found = []
    for group in props["widgets"]:
        definition = group["groupDefinition"]
        for widget in definition["widgets"]:
            timeseries = widget["timeseriesDefinition"]
            (request,) = timeseries["requests"]
            found.append((definition["title"], timeseries["title"],
                          [q["metricQuery"]["query"] for q in request["queries"]],
                          [(f["formulaExpression"], f.get("alias")) for f in request["formulas"]]))
    return found


def test_template_variables_default_to_this_stack(declared):
    props = _dashboard(declared)
    assert props["title"] == "dd-assessment (test): service my-flask-app and its hosts"
    assert props["layoutType"] == "ordered"
    assert props["templateVariables"] == [
        {"name": "host", "prefix": "host", "defaults": ["dd-assessment-test-0", "dd-assessment-test-1"],
         "availableValues": ["dd-assessment-test-0", "dd-assessment-test-1"]},
        {"name": "env", "prefix": "env", "defaults": ["test"]},
        {"name": "service", "prefix": "service", "defaults": ["my-flask-app"]},
    ]


APM = "{$service,$env,$host}"
HOSTS = "{$host,$env}"


def test_apm_widgets_requests_errors_and_latency_by_resource(declared):
    apm = [r for r in _requests(_dashboard(declared)) if r[0] == "Service my-flask-app (test)"]
    assert [(queries, formulas) for _, _, queries, formulas in apm] == [
        ([f"sum:trace.flask.request.hits{APM} by {{resource_name}}.as_count()"], [("query1", None)]),
        ([f"sum:trace.flask.request.errors{APM} by {{resource_name}}.as_count()"], [("query1", None)]),
        ([f"p50:trace.flask.request{APM} by {{resource_name}}",
          f"p95:trace.flask.request{APM} by {{resource_name}}",
          f"p99:trace.flask.request{APM} by {{resource_name}}"],
         [("query1", "p50"), ("query2", "p95"), ("query3", "p99")]),
    ]


def test_host_widgets_cpu_memory_load_network_containers_postgres(declared):
    hosts = [r for r in _requests(_dashboard(declared)) if r[0] == "Hosts"]
    agent = "{$host,$env,container_name:datadog-agent}"
    app = "{$host,$env,container_name:my-flask-app}"
    assert [(title, queries) for _, title, queries, _ in hosts] == [
        ("CPU used (%)", [f"avg:system.cpu.user{HOSTS} by {{host}}",
                          f"avg:system.cpu.system{HOSTS} by {{host}}"]),
        ("Memory used", [f"avg:system.mem.used{HOSTS} by {{host}}"]),
        ("Load (1 min)", [f"avg:system.load.1{HOSTS} by {{host}}"]),
        ("Network bytes per second", [f"sum:system.net.bytes_rcvd{HOSTS} by {{host}}",
                                      f"sum:system.net.bytes_sent{HOSTS} by {{host}}"]),
        ("Containers: CPU (nanocores)", [f"sum:container.cpu.usage{agent} by {{host}}",
                                         f"sum:container.cpu.usage{app} by {{host}}"]),
        ("Containers: memory", [f"avg:container.memory.usage{agent} by {{host}}",
                                f"avg:container.memory.usage{app} by {{host}}"]),
        ("PostgreSQL connections", [f"sum:postgresql.connections{HOSTS} by {{host}}",
                                    f"avg:postgresql.max_connections{HOSTS} by {{host}}"]),
    ]


def test_every_formula_names_a_query_of_its_request(declared):
    for _, title, queries, formulas in _requests(_dashboard(declared)):
        names = {f"query{index}" for index in range(1, len(queries) + 1)}
        for expression, _ in formulas:
            used = {word for word in expression.replace("+", " ").split() if word.startswith("query")}
            assert used and used <= names, title


def test_no_request_uses_the_deprecated_q(declared):
    for group in _dashboard(declared)["widgets"]:
        for widget in group["groupDefinition"]["widgets"]:
            for request in widget["timeseriesDefinition"]["requests"]:
                assert "q" not in request


def test_outputs_link_and_id(declared):
    assert declared.outputs["serviceDashboardUrl"] == (
        "https://app.datadoghq.com/dashboard/abc-def-dd-assessment-test-service-dashboard/"
        "dd-assessment-test-service-dashboard")
    assert declared.outputs["serviceDashboardId"] == "dd-assessment-test-service-dashboard-id"
    assert declared.outputs["dashboardId"] == "dd-assessment-test-dashboard-id"


def test_the_env_follows_the_host_tags():
    props = _dashboard(evaluate({"hostTags": ["env:staging", "role:database"]}))
    assert props["templateVariables"][1] == {"name": "env", "prefix": "env", "defaults": ["staging"]}


@pytest.mark.parametrize("overrides", [
    {"host_names": []}, {"host_names": "h"}, {"host_names": ["h", "h"]}, {"title": " "},
    {"env": ""}, {"env": "a,b"},
    {"service": "my app"}, {"agent_container": "{x}"}, {"site": "datadoghq.org"},
])
def test_bad_arguments_are_refused(overrides):
    args = {"title": "t", "host_names": ["h"], "env": "test", "service": "my-flask-app",
            "agent_container": "datadog-agent", "app_container": "my-flask-app", **overrides}
    with pytest.raises(ValueError):
        ServiceDashboardArgs(**args)
