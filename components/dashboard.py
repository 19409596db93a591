"""The assessment's timeboard (section 2a) as a Datadog dashboard.

Three timeseries widgets, all scoped by a `host` template variable:

1. the custom metric per host: ONE query, `avg:my_metric{$host} by {host}`. The `by {host}`
   grouping draws a line per host, however many hosts there are; the template variable defaults
   to the deployed hosts (several defaults are ORed together) and lets a viewer narrow the graph
   to one host. A query per host would hard-code the host list into the widget and ignore the
   selector, without showing anything more.
2. the PostgreSQL integration metric with `anomalies(query1, 'basic', 2)`: `basic` needs no
   seasonal history, unlike `agile`/`robust`, so it draws bands on a fresh demo host.
3. the custom metric summed into one-hour buckets with `.rollup(sum, 3600)`.

Requests use `queries` + `formulas` only: a request's `q` is deprecated and warns on every run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_datadog as datadog

from components.datadog_provider import app_url

TEMPLATE_VARIABLE = "host"
_ANOMALY_ALGORITHMS = ("basic", "agile", "robust")
_METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class DashboardArgs:
    title: str
    host_names: Sequence[str]
    site: str = "datadoghq.com"
    custom_metric: str = "my_metric"
    postgres_metric: str = "postgresql.percent_usage_connections"
    anomaly_algorithm: str = "basic"
    anomaly_bounds: int = 2
    rollup_seconds: int = 3600
    description: str = "dd-assessment: custom check, PostgreSQL integration, rollup (managed by Pulumi)"

    def __post_init__(self) -> None:
        check_title_and_hosts(self.title, self.host_names)
        for metric in (self.custom_metric, self.postgres_metric):
            if not _METRIC_NAME.match(metric):
                raise ValueError(f"not a metric name: {metric!r}")
        if self.anomaly_algorithm not in _ANOMALY_ALGORITHMS:
            raise ValueError(f"anomaly_algorithm must be one of {_ANOMALY_ALGORITHMS}")
        if not 1 <= self.anomaly_bounds <= 6:
            raise ValueError("anomaly_bounds must be between 1 and 6")
        if self.rollup_seconds <= 0:
            raise ValueError("rollup_seconds must be positive")
        app_url(self.site)  # rejects an unknown site now, not at the first output


def check_title_and_hosts(title: str, host_names: Sequence[str]) -> None:
    """What every dashboard here needs: a title, and the stack's hosts for its `host` variable."""
    if not title.strip():
        raise ValueError("dashboard title is empty")
    if isinstance(host_names, str) or not host_names:
        raise ValueError("host_names must be a non-empty sequence of host names")
    if len(set(host_names)) != len(host_names) or not all(h.strip() for h in host_names):
        raise ValueError(f"host_names must be distinct and non-empty: {list(host_names)}")


def timeseries(title: str, queries: Sequence[str], formulas: Sequence[str | tuple[str, str]], *,
               display_type: str = "line", live_span: str | None = None) -> dict:
    """A timeseries widget: metrics queries named query1, query2... drawn through formulas.

    A formula is an expression over those names, or (expression, alias) for a legend label.
    """
    definition: dict = {
        "title": title,
        "show_legend": True,
        "requests": [{
            "queries": [{"metric_query": {"name": f"query{index}", "data_source": "metrics",
                                          "query": query}}
                        for index, query in enumerate(queries, start=1)],
            "formulas": [{"formula_expression": formula} if isinstance(formula, str)
                         else {"formula_expression": formula[0], "alias": formula[1]}
                         for formula in formulas],
            "display_type": display_type,
        }],
    }
    if live_span:
        definition["live_span"] = live_span
    return {"timeseries_definition": definition}


def widgets(args: DashboardArgs) -> list[dict]:
    """The widget definitions (snake_case, as the SDK takes them)."""
    scope = f"${TEMPLATE_VARIABLE}"
    return [
        timeseries(f"{args.custom_metric} per host",
                   [f"avg:{args.custom_metric}{{{scope}}} by {{host}}"], ["query1"]),
        timeseries(f"{args.postgres_metric} with anomalies ({args.anomaly_algorithm}, {args.anomaly_bounds})",
                   [f"avg:{args.postgres_metric}{{{scope}}} by {{host}}"],
                   [f"anomalies(query1, '{args.anomaly_algorithm}', {args.anomaly_bounds})"]),
        # Bars: each bar is one bucket; a day shows 24 of them.
        timeseries(f"{args.custom_metric}, sum per {args.rollup_seconds} s",
                   [f"sum:{args.custom_metric}{{{scope}}} by {{host}}.rollup(sum, {args.rollup_seconds})"],
                   ["query1"], display_type="bars", live_span="1d"),
    ]


def absolute_url(site: str, path: str) -> str:
    """The dashboard's full link: the provider returns only the path (`/dashboard/abc-def-ghi/...`)."""
    if path.startswith(("https://", "http://")):
        return path
    return app_url(site) + (path if path.startswith("/") else f"/{path}")


class Dashboard(pulumi.ComponentResource):
    """A Datadog dashboard with the three assessment graphs; exposes `dashboard_id` and `url`."""

    dashboard_id: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dd-assessment:datadog:Dashboard", name, None, opts)
        hosts = list(args.host_names)
        self.dashboard = datadog.Dashboard(
            f"{name}-dashboard",
            title=args.title,
            description=args.description,
            layout_type="ordered",
            template_variables=[{
                "name": TEMPLATE_VARIABLE,
                "prefix": "host",
                "defaults": hosts,
                "available_values": hosts,
            }],
            widgets=widgets(args),
            # Parenting is what hands the caller's provider down to the dashboard.
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_id = self.dashboard.id
        self.url = self.dashboard.url.apply(lambda path: absolute_url(args.site, path))
        self.register_outputs({"dashboard_id": self.dashboard_id, "url": self.url})
