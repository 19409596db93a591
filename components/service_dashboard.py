"""The exercise's APM section: one dashboard with the service's APM metrics and its hosts' health.

Two groups of timeseries widgets, queries and formulas only (like the timeboard):

- the service (`my-flask-app` in the stack's env): requests (`trace.flask.request.hits`),
  errors (`trace.flask.request.errors`) and latency p50/p95/p99 (the `trace.flask.request`
  distribution), each by `resource_name`. These are the trace metrics the Agent derives from
  ddtrace's `flask.request` spans: they exist as soon as the demo traffic reaches the app.
- the hosts: CPU, memory, load, network, the Agent's and the app's containers (CPU, memory),
  and PostgreSQL connections, each by host.

Template variables `host`, `env` and `service` default to this stack's hosts, env and service,
so the dashboard shows this stack on load and narrows to one host or service from the selector.
Every query here is checked against the series the hosts really send (tests/host/test_contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_datadog as datadog

from components.dashboard import absolute_url, check_title_and_hosts, timeseries
from components.datadog_provider import app_url

# ddtrace names the root span of a Flask request `flask.request`; the Agent's trace metrics are
# named after it: trace.flask.request.hits/.errors and the trace.flask.request distribution.
FLASK_SPAN = "flask.request"


@dataclass(frozen=True)
class ServiceDashboardArgs:
    title: str
    host_names: Sequence[str]
    env: str
    service: str
    agent_container: str  # container names, as the container check tags them (container_name)
    app_container: str
    site: str = "datadoghq.com"
    span_name: str = FLASK_SPAN
    description: str = "dd-assessment: APM service and host metrics (managed by Pulumi)"

    def __post_init__(self) -> None:
        check_title_and_hosts(self.title, self.host_names)
        for name, value in (("env", self.env), ("service", self.service),
                            ("agent_container", self.agent_container),
                            ("app_container", self.app_container), ("span_name", self.span_name)):
            if not value.strip() or any(c in value for c in "{},$ "):
                raise ValueError(f"{name} must be a plain tag value, got {value!r}")
        app_url(self.site)  # rejects an unknown site now, not at the first output


def template_variables(args: ServiceDashboardArgs) -> list[dict]:
    hosts = list(args.host_names)
    return [
        {"name": "host", "prefix": "host", "defaults": hosts, "available_values": hosts},
        {"name": "env", "prefix": "env", "defaults": [args.env]},
        {"name": "service", "prefix": "service", "defaults": [args.service]},
    ]


def widgets(args: ServiceDashboardArgs) -> list[dict]:
    """Two groups, APM then hosts (snake_case, as the SDK takes them)."""
    trace = f"trace.{args.span_name}"
    apm = "{$service,$env,$host}"
    hosts = "{$host,$env}"

    def container(name: str) -> str:
        return "{$host,$env,container_name:" + name + "}"

    service_widgets = [
        timeseries(f"Requests per resource ({trace}.hits)",
                   [f"sum:{trace}.hits{apm} by {{resource_name}}.as_count()"], ["query1"],
                   display_type="bars"),
        timeseries(f"Errors per resource ({trace}.errors)",
                   [f"sum:{trace}.errors{apm} by {{resource_name}}.as_count()"], ["query1"],
                   display_type="bars"),
        timeseries(f"Latency per resource, p50 / p95 / p99 ({trace})",
                   [f"{p}:{trace}{apm} by {{resource_name}}" for p in ("p50", "p95", "p99")],
                   [("query1", "p50"), ("query2", "p95"), ("query3", "p99")]),
    ]
    host_widgets = [
        timeseries("CPU used (%)", [f"avg:system.cpu.user{hosts} by {{host}}",
                                    f"avg:system.cpu.system{hosts} by {{host}}"],
                   [("query1 + query2", "user + system")]),
        timeseries("Memory used", [f"avg:system.mem.used{hosts} by {{host}}"], ["query1"]),
        timeseries("Load (1 min)", [f"avg:system.load.1{hosts} by {{host}}"], ["query1"]),
        timeseries("Network bytes per second", [f"sum:system.net.bytes_rcvd{hosts} by {{host}}",
                                                f"sum:system.net.bytes_sent{hosts} by {{host}}"],
                   [("query1", "received"), ("query2", "sent")]),
        timeseries("Containers: CPU (nanocores)",
                   [f"sum:container.cpu.usage{container(args.agent_container)} by {{host}}",
                    f"sum:container.cpu.usage{container(args.app_container)} by {{host}}"],
                   [("query1", args.agent_container), ("query2", args.app_container)]),
        timeseries("Containers: memory",
                   [f"avg:container.memory.usage{container(args.agent_container)} by {{host}}",
                    f"avg:container.memory.usage{container(args.app_container)} by {{host}}"],
                   [("query1", args.agent_container), ("query2", args.app_container)]),
        timeseries("PostgreSQL connections",
                   [f"sum:postgresql.connections{hosts} by {{host}}",
                    f"avg:postgresql.max_connections{hosts} by {{host}}"],
                   [("query1", "connections"), ("query2", "max_connections")]),
    ]
    return [
        {"group_definition": {"title": f"Service {args.service} ({args.env})",
                              "layout_type": "ordered", "widgets": service_widgets}},
        {"group_definition": {"title": "Hosts", "layout_type": "ordered", "widgets": host_widgets}},
    ]


class ServiceDashboard(pulumi.ComponentResource):
    """The service-and-host dashboard; exposes `dashboard_id` and `url`."""

    dashboard_id: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceDashboardArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dd-assessment:datadog:ServiceDashboard", name, None, opts)
        dashboard = datadog.Dashboard(
            f"{name}-dashboard",
            title=args.title,
            description=args.description,
            layout_type="ordered",
            template_variables=template_variables(args),
            widgets=widgets(args),
            # Parenting is what hands the caller's provider down to the dashboard.
            opts=pulumi.ResourceOptions(parent=self))
        self.dashboard_id = dashboard.id
        self.url = dashboard.url.apply(lambda path: absolute_url(args.site, path))
        self.register_outputs({"dashboard_id": self.dashboard_id, "url": self.url})
