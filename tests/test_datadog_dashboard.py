"""The assessment dashboard, and the Datadog provider/site helpers it links through."""

from __future__ import annotations

import pulumi
import pytest

from components.dashboard import Dashboard, DashboardArgs, absolute_url
from components.datadog_provider import (
    DATADOG_SITES,
    api_url,
    app_url,
    datadog_provider,
)
from tests.harness import declare, is_secret

DASHBOARD = "datadog:index/dashboard:Dashboard"
KEYS = {"datadog:apiKey": "0123456789abcdef0123456789abcdef",
        "datadog:appKey": "0123456789abcdef0123456789abcdef01234567"}
HOSTS = ["dd-assessment-host"]


def _declare(args: DashboardArgs):
    def program() -> None:
        keys = pulumi.Config("datadog")
        provider = datadog_provider("dd", api_key=keys.require_secret("apiKey"),
                                    app_key=keys.require_secret("appKey"), site=args.site)
        dashboard = Dashboard("assessment", args, opts=pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("url", dashboard.url)
        pulumi.export("dashboard_id", dashboard.dashboard_id)
    return declare(program, KEYS)


def _props(**overrides) -> dict:
    args = DashboardArgs(**{"title": "dd-assessment", "host_names": HOSTS, **overrides})
    return _declare(args).one(DASHBOARD).props


def _request(props: dict, index: int) -> dict:
    return props["widgets"][index]["timeseriesDefinition"]["requests"][0]


def _keys(value, path="") -> list[str]:
    """Every key path in a nested structure."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in [f"{path}.{k}", *_keys(v, f"{path}.{k}")]]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _keys(v, f"{path}[{i}]")]
    return []


# --- the dashboard --------------------------------------------------------------------------------

def test_ordered_dashboard_with_a_host_template_variable():
    props = _props()
    assert props["layoutType"] == "ordered"
    assert props["title"] == "dd-assessment"
    assert props["templateVariables"] == [
        {"name": "host", "prefix": "host", "defaults": HOSTS, "availableValues": HOSTS}]
    assert len(props["widgets"]) == 3


def test_custom_metric_per_host():
    request = _request(_props(), 0)
    assert request["queries"] == [{"metricQuery": {
        "name": "query1", "dataSource": "metrics", "query": "avg:my_metric{$host} by {host}"}}]
    assert request["formulas"] == [{"formulaExpression": "query1"}]


def test_postgres_metric_through_basic_anomalies():
    request = _request(_props(), 1)
    assert request["queries"][0]["metricQuery"]["query"] == \
        "avg:postgresql.percent_usage_connections{$host} by {host}"
    assert request["formulas"] == [{"formulaExpression": "anomalies(query1, 'basic', 2)"}]


def test_custom_metric_rolled_up_into_hourly_sums():
    props = _props()
    request = _request(props, 2)
    assert request["queries"][0]["metricQuery"]["query"] == "sum:my_metric{$host} by {host}.rollup(sum, 3600)"
    assert request["formulas"] == [{"formulaExpression": "query1"}]
    assert props["widgets"][2]["timeseriesDefinition"]["liveSpan"] == "1d"


def test_no_request_uses_the_deprecated_q():
    props = _props()
    assert not [path for path in _keys(props) if path.endswith(".q")]
    for widget in props["widgets"]:
        for request in widget["timeseriesDefinition"]["requests"]:
            assert "q" not in request and request["queries"] and request["formulas"]


def test_several_hosts_share_one_grouped_query():
    hosts = ["web-1", "web-2", "db-1"]
    props = _props(host_names=hosts)
    assert props["templateVariables"][0]["defaults"] == hosts
    assert props["templateVariables"][0]["availableValues"] == hosts
    for index in range(3):
        queries = _request(props, index)["queries"]
        assert len(queries) == 1
        assert "{$host} by {host}" in queries[0]["metricQuery"]["query"]


def test_metric_names_and_anomaly_settings_are_arguments():
    props = _props(custom_metric="other.metric", postgres_metric="postgresql.connections",
                   anomaly_algorithm="agile", anomaly_bounds=3, rollup_seconds=600)
    assert _request(props, 0)["queries"][0]["metricQuery"]["query"] == "avg:other.metric{$host} by {host}"
    assert _request(props, 1)["formulas"][0]["formulaExpression"] == "anomalies(query1, 'agile', 3)"
    assert _request(props, 2)["queries"][0]["metricQuery"]["query"].endswith(".rollup(sum, 600)")


@pytest.mark.parametrize(("site", "base"), [
    ("datadoghq.com", "https://app.datadoghq.com"),
    ("datadoghq.eu", "https://app.datadoghq.eu"),
    ("us5.datadoghq.com", "https://us5.datadoghq.com"),
])
def test_outputs_full_url_and_id(site, base):
    declared = _declare(DashboardArgs(title="t", host_names=HOSTS, site=site))
    assert declared.outputs["url"] == f"{base}/dashboard/abc-def-assessment-dashboard/assessment-dashboard"
    assert declared.outputs["dashboard_id"] == "assessment-dashboard-id"


def test_absolute_url_keeps_an_already_absolute_link():
    assert absolute_url("datadoghq.com", "https://app.datadoghq.com/dashboard/x") == \
        "https://app.datadoghq.com/dashboard/x"
    assert absolute_url("datadoghq.com", "dashboard/x") == "https://app.datadoghq.com/dashboard/x"


def test_dashboard_is_a_child_of_the_component_and_uses_the_callers_provider():
    declared = _declare(DashboardArgs(title="t", host_names=HOSTS))
    component = declared.named("assessment")
    assert component.typ == "dd-assessment:datadog:Dashboard" and not component.custom
    child = declared.named("assessment-dashboard")
    assert child.parent.endswith("dd-assessment:datadog:Dashboard::assessment")
    assert child.provider.rsplit("::", 1)[0].endswith("$pulumi:providers:datadog::dd")


@pytest.mark.parametrize("overrides", [
    {"host_names": []},
    {"host_names": "dd-assessment-host"},
    {"host_names": ["a", "a"]},
    {"title": ""},
    {"site": "datadoghq.org"},
    {"anomaly_algorithm": "adaptive"},
    {"rollup_seconds": 0},
    {"custom_metric": "my metric"},
])
def test_bad_arguments_are_refused(overrides):
    with pytest.raises(ValueError):
        DashboardArgs(**{"title": "t", "host_names": HOSTS, **overrides})


# --- the provider and the sites -------------------------------------------------------------------

def test_sites_are_the_documented_ones():
    assert set(DATADOG_SITES) == {
        "datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
        "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com", "us2.ddog-gov.com", "uk1.datadoghq.com"}


@pytest.mark.parametrize(("site", "api", "app"), [
    ("datadoghq.com", "https://api.datadoghq.com/", "https://app.datadoghq.com"),
    ("us3.datadoghq.com", "https://api.us3.datadoghq.com/", "https://us3.datadoghq.com"),
    ("us5.datadoghq.com", "https://api.us5.datadoghq.com/", "https://us5.datadoghq.com"),
    ("datadoghq.eu", "https://api.datadoghq.eu/", "https://app.datadoghq.eu"),
    ("ap1.datadoghq.com", "https://api.ap1.datadoghq.com/", "https://ap1.datadoghq.com"),
    ("ap2.datadoghq.com", "https://api.ap2.datadoghq.com/", "https://ap2.datadoghq.com"),
    ("ddog-gov.com", "https://api.ddog-gov.com/", "https://app.ddog-gov.com"),
])
def test_api_and_app_urls(site, api, app):
    assert api_url(site) == api
    assert app_url(site) == app


@pytest.mark.parametrize("site", ["", "datadoghq", "app.datadoghq.com", "https://datadoghq.com"])
def test_unknown_sites_are_refused(site):
    with pytest.raises(ValueError):
        api_url(site)
    with pytest.raises(ValueError):
        app_url(site)


@pytest.mark.parametrize("plain_keys", [False, True])
def test_provider_keeps_the_keys_secret_and_targets_the_site(plain_keys):
    def program() -> None:
        keys = pulumi.Config("datadog")
        api_key = keys.require("apiKey") if plain_keys else keys.require_secret("apiKey")
        app_key = keys.require("appKey") if plain_keys else keys.require_secret("appKey")
        datadog_provider("dd", api_key=api_key, app_key=app_key, site="datadoghq.eu")
    provider = declare(program, KEYS).one("pulumi:providers:datadog")
    assert is_secret(provider.inputs["apiKey"]) and is_secret(provider.inputs["appKey"])
    assert provider.props["apiKey"] == KEYS["datadog:apiKey"]
    assert provider.props["apiUrl"] == "https://api.datadoghq.eu/"
