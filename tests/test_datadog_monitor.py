"""The my_metric monitor: what it declares, its threshold arithmetic, and the message people get."""

from __future__ import annotations

import contextlib
import io
import math
import re

import chevron
import pulumi
import pytest

from components.datadog_provider import datadog_provider
from components.monitor import (
    MESSAGE_TEMPLATE,
    MetricMonitor,
    MonitorArgs,
    build_query,
    build_thresholds,
    check_thresholds,
    format_number,
    render_message,
)
from tests.harness import declare

MONITOR = "datadog:index/monitor:Monitor"
HANDLES = ("@ops@example.com", "@slack-dd-assessment")
KEYS = {"datadog:apiKey": "0123456789abcdef0123456789abcdef",
        "datadog:appKey": "0123456789abcdef0123456789abcdef01234567"}


# What Datadog fills in for a host-grouped alert, and the alert text a recipient then reads.
CONTEXT = {"host": {"name": "dd-assessment-host", "ip": "10.42.1.17"},
           "value": "912.4", "threshold": "800", "warn_threshold": "500"}
NOTIFY = "\nNotify: @ops@example.com @slack-dd-assessment\n"
ALERT_TEXT = ("ALERT: my_metric on dd-assessment-host (10.42.1.17) averaged 912.4 over the last "
              "5 minutes, above the critical threshold of 800.\n" + NOTIFY)


def _declare(args: MonitorArgs, *, singular_provider: bool = False):
    def program() -> None:
        keys = pulumi.Config("datadog")
        provider = datadog_provider("dd", api_key=keys.require_secret("apiKey"),
                                    app_key=keys.require_secret("appKey"), site="datadoghq.com")
        opts = (pulumi.ResourceOptions(provider=provider) if singular_provider
                else pulumi.ResourceOptions(providers=[provider]))
        monitor = MetricMonitor("my-metric", args, opts=opts)
        pulumi.export("monitor_id", monitor.monitor_id)
    return declare(program, KEYS)


def _args(**overrides) -> MonitorArgs:
    return MonitorArgs(**{"name": "my_metric above 800", "notify_handles": HANDLES, **overrides})


# --- what is declared -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def props() -> dict:
    """The monitor declared with the default arguments."""
    return _declare(_args()).one(MONITOR).props


def test_declares_a_host_grouped_metric_alert_with_matching_thresholds(props):
    assert props["type"] == "metric alert"
    assert props["name"] == "my_metric above 800"
    assert props["query"] == "avg(last_5m):avg:my_metric{*} by {host} > 800"
    assert props["monitorThresholds"] == {"warning": "500", "critical": "800"}
    assert props["notifyNoData"] is True
    assert props["noDataTimeframe"] == 10
    assert chevron.render(props["message"], {**CONTEXT, "is_alert": True}) == ALERT_TEXT


def test_require_full_window_is_set_false_explicitly(props):
    # Left out, the provider's default (true) would skip windows of the 45-second metric.
    assert "requireFullWindow" in props
    assert props["requireFullWindow"] is False


def test_notifications_name_the_host_that_triggered(props):
    # include_tags: the notification title carries the triggering group's tags (host:...), so a
    # page says which host without opening it.
    assert props["includeTags"] is True


def test_scope_and_window_reach_the_query():
    props = _declare(_args(scope="host:dd-assessment-host", evaluation_window="last_10m",
                           no_data_minutes=20)).one(MONITOR).props
    assert props["query"] == "avg(last_10m):avg:my_metric{host:dd-assessment-host} by {host} > 800"
    assert props["noDataTimeframe"] == 20
    assert "10 minutes" in props["message"] and "20 minutes" in props["message"]


def test_monitor_id_is_an_int_output():
    declared = _declare(_args())
    assert declared.outputs["monitor_id"] == 4242424
    assert type(declared.outputs["monitor_id"]) is int


@pytest.mark.parametrize("singular", [False, True])
def test_monitor_is_a_child_of_the_component_and_uses_the_callers_provider(singular):
    declared = _declare(_args(), singular_provider=singular)
    component = declared.named("my-metric")
    assert component.typ == "dd-assessment:datadog:MetricMonitor"
    assert not component.custom
    monitor = declared.named("my-metric-monitor")
    assert monitor.parent.endswith("dd-assessment:datadog:MetricMonitor::my-metric")
    # A provider reference is "<provider URN>::<provider id>".
    assert monitor.provider.rsplit("::", 1)[0].endswith("$pulumi:providers:datadog::dd")


# --- threshold numbers ------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (800, "800"), (800.0, "800"), (0.75, "0.75"), (1250.5, "1250.5"), (0.1, "0.1"),
    (1e16, "10000000000000000"), (1.5e-7, "0.00000015"),
])
def test_numbers_are_formatted_once_and_identically(value, text):
    assert format_number(value) == text
    args = _args(warning_threshold=-1, critical_threshold=value)
    query, thresholds = build_query(args), build_thresholds(args)
    assert query.endswith(f" > {text}")
    assert thresholds["critical"] == text
    check_thresholds(query, thresholds)


def test_declared_query_number_equals_declared_critical_threshold():
    props = _declare(_args(warning_threshold=650.0, critical_threshold=900.0)).one(MONITOR).props
    critical_in_query = re.search(r" > (\S+)$", props["query"]).group(1)
    assert critical_in_query == props["monitorThresholds"]["critical"] == "900"
    assert props["monitorThresholds"]["warning"] == "650"


@pytest.mark.parametrize(("query", "critical"), [
    ("avg(last_5m):avg:my_metric{*} by {host} > 800.0", "800"),
    ("avg(last_5m):avg:my_metric{*} by {host} > 800", "800.0"),
    ("avg(last_5m):avg:my_metric{*} by {host} > 801", "800"),
    ("avg(last_5m):avg:my_metric{*} by {host}", "800"),
])
def test_a_query_and_thresholds_that_disagree_are_refused(query, critical):
    with pytest.raises(ValueError):
        check_thresholds(query, {"warning": "500", "critical": critical})


@pytest.mark.parametrize("overrides", [
    {"warning_threshold": 800, "critical_threshold": 800},
    {"warning_threshold": 900, "critical_threshold": 800},
    {"critical_threshold": math.nan},
    {"critical_threshold": math.inf},
    {"critical_threshold": True},
    {"notify_handles": ()},
    {"notify_handles": "@ops@example.com"},
    {"notify_handles": ("ops@example.com",)},
    {"no_data_minutes": 0},
    {"no_data_minutes": 10.5},
    {"evaluation_window": "5m"},
    {"scope": "host:{x}"},
    {"scope": ""},
    {"metric": "my metric"},
    {"name": " "},
])
def test_bad_arguments_are_refused_before_anything_is_declared(overrides):
    with pytest.raises(ValueError):
        _args(**overrides)


# --- the message a recipient gets ---------------------------------------------------------------

def _render(**flags) -> str:
    return chevron.render(render_message(_args()), {**CONTEXT, **flags})


def test_alert_text():
    assert _render(is_alert=True) == ALERT_TEXT


def test_warning_text():
    assert _render(is_warning=True, value="612") == (
        "WARNING: my_metric on dd-assessment-host (10.42.1.17) averaged 612 over the last 5 minutes, "
        "above the warning threshold of 500 (critical at 800).\n" + NOTIFY)


def test_no_data_text():
    assert _render(is_no_data=True) == (
        "NO DATA: dd-assessment-host (10.42.1.17) has not reported my_metric for 10 minutes. "
        "Check that the Datadog Agent and its custom check are running on the host.\n" + NOTIFY)


def test_recovery_text():
    assert _render(is_recovery=True, value="233.1") == (
        "RECOVERED: my_metric on dd-assessment-host (10.42.1.17) is back to normal at 233.1.\n" + NOTIFY)


def test_each_state_gets_its_own_text_and_every_state_notifies():
    texts = {state: _render(**{state: True}) for state in ("is_alert", "is_warning", "is_no_data", "is_recovery")}
    assert len(set(texts.values())) == 4
    for text in texts.values():
        assert text.endswith("Notify: @ops@example.com @slack-dd-assessment\n")
        assert "dd-assessment-host" in text and "10.42.1.17" in text


def test_python_fills_only_its_own_placeholders():
    raw = MESSAGE_TEMPLATE.read_text(encoding="utf-8")
    rendered = render_message(_args())
    assert "${handles}" in raw
    assert "$" not in rendered
    # Datadog's variables survive Python's pass untouched.
    assert re.findall(r"{{[^}]*}}", rendered) == re.findall(r"{{[^}]*}}", raw)


# --- only what Datadog offers -----------------------------------------------------------------

# What Datadog offers a `metric alert` grouped `by {host}` (docs: Monitors > Notifications >
# Variables): the state sections, the built-in template variables, and the host tag variables.
# Sections that take arguments (is_match, is_exact_match, is_priority) need Handlebars, not
# Mustache, and are deliberately absent.
STATE_SECTIONS = (
    "is_alert", "is_warning", "is_no_data", "is_recovery", "is_alert_recovery", "is_warning_recovery",
    "is_alert_to_warning", "is_no_data_recovery", "is_unknown", "is_renotify",
)
DATADOG_VARIABLES = {
    "value": "1", "threshold": "1", "warn_threshold": "1", "ok_threshold": "1", "comparator": ">",
    "first_triggered_at": "t", "first_triggered_at_epoch": "1", "last_triggered_at": "t",
    "last_triggered_at_epoch": "1", "triggered_duration_sec": "1",
    "host": {"name": "h", "ip": "10.0.0.1", "metadata_agent_version": "7", "metadata_machine": "m",
             "metadata_platform": "p", "metadata_processor": "c"},
}


@pytest.mark.parametrize("state", STATE_SECTIONS)
def test_the_message_uses_only_what_datadog_offers_in_every_state(props, state):
    """Rendered strictly by a real Mustache renderer: chevron reports every name it cannot find
    (an unknown variable or section, a section with arguments) and raises on unbalanced sections."""
    context = {**DATADOG_VARIABLES, **{section: section == state for section in STATE_SECTIONS}}
    missing = io.StringIO()
    with contextlib.redirect_stderr(missing):
        chevron.render(props["message"], context, warn=True)
    assert missing.getvalue() == ""
