"""A local stand-in for the Datadog API: exactly the endpoints ops/ may call, in the API's shapes.

Shapes are taken from answers Datadog recorded for its own client's tests
(DataDog/datadog-api-client-python, tests/v1|v2/cassettes: validate, hosts, query/timeseries,
monitor, dashboard, downtime, events) and from the client's models. Every answer is first read
back with the client's own deserializer into the operation's response model; anything the client
marks unparsed (a float where it wants an int, an unknown enum value, a missing required field)
is recorded in `shape_errors`, and the `standin` fixture fails the test on it. A request for any
other endpoint is recorded in `unexpected` and answered 404: the tools may call nothing else.

The world it serves is a healthy two-host stack (`healthy()`); tests break one thing at a time.

Graph snapshots render as Datadog's do, asynchronously: GET /api/v1/graph/snapshot answers at once
with a `snapshot_url` (here on this server, under /snapshot/view/), which answers 404, then 403
(S3's "AccessDenied" for an object not written yet) until it has been asked
`snapshot_polls_before_ready` times, then a real PNG drawn from the world's series (Pillow); with
`snapshot_polls_before_ready=None` it never becomes ready. That URL needs no key, as Datadog's
don't: the headers it was asked with are kept in `picture_headers`.
"""

from __future__ import annotations

import copy
import json
import math
import re
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v1.model.api_error_response import APIErrorResponse
from datadog_api_client.v1.model.authentication_validation_response import (
    AuthenticationValidationResponse,
)
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.event_create_response import EventCreateResponse
from datadog_api_client.v1.model.graph_snapshot import GraphSnapshot
from datadog_api_client.v1.model.host_list_response import HostListResponse
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v2.model.downtime_response import DowntimeResponse
from datadog_api_client.v2.model.timeseries_formula_query_response import (
    TimeseriesFormulaQueryResponse,
)
from werkzeug import Request, Response

API_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
APP_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567"
HOSTS = ["dd-assessment-test-0", "dd-assessment-test-1"]
HOST_TAGS = ["tier:database", "env:test", "region:us-east-2", "role:database",
             "name:dd-assessment-test"]
MONITOR_ID = 4242424
DASHBOARD_ID = "abc-def-ghi"
SERVICE_DASHBOARD_ID = "jkl-mno-pqr"
DOWNTIMES = {"weeknights": "845e9a1e-0187-11ee-817a-da7ad0900002",
             "weekend": "9a3f2b10-0187-11ee-817a-da7ad0900002"}
# A Wednesday, 11:00 in New York (EDT), 17:00 in Paris (CEST): away from any DST change.
NOW = datetime(2026, 10, 21, 15, 0, tzinfo=UTC).timestamp()
LAUNCHED = NOW - 30 * 60
FIRST_POINT_AFTER = 7 * 60 + 30  # the Agent's first my_metric point, after launch (s)
INTERVAL = 45
PRIVATE_IPS = ["10.42.1.10", "10.42.1.11"]
MESSAGE_TEMPLATE = Path(__file__).resolve().parent.parent / "monitors" / "my_metric.message.md"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def outputs(now: float = NOW) -> dict[str, Any]:
    """The stack's outputs, as `pulumi stack output --json --show-secrets` prints them."""
    launched = now - (NOW - LAUNCHED)
    return {
        "hostNames": list(HOSTS),
        "publicIps": ["198.51.100.33", "198.51.100.34"],
        "sshCommands": [f"ssh -i ~/.ssh/id_ed25519 ec2-user@198.51.100.{n}" for n in (33, 34)],
        "appUrls": ["http://198.51.100.33/", "http://198.51.100.34/"],
        "dashboardUrl": f"https://app.datadoghq.com/dashboard/{DASHBOARD_ID}/dd-assessment-test",
        "serviceDashboardUrl": f"https://app.datadoghq.com/dashboard/{SERVICE_DASHBOARD_ID}/dd-assessment-test",
        "monitorId": MONITOR_ID,
        "dashboardId": DASHBOARD_ID,
        "serviceDashboardId": SERVICE_DASHBOARD_ID,
        "downtimeIds": dict(DOWNTIMES),
        "launchTimes": {host: datetime.fromtimestamp(launched, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                        for host in HOSTS},
        "service": "my-flask-app",
        "env": "test",
        "datadogSite": "datadoghq.com",
        "hostTags": list(HOST_TAGS),
        "checkIntervalSeconds": INTERVAL,
        "monitorOptions": {"warningThreshold": 500.0, "criticalThreshold": 800.0,
                           "noDataMinutes": 10},
        "timezone": "America/New_York",
        "notifyHandles": ["@ops@example.com", "@slack-alerts"],
    }


@dataclass
class Series:
    metric: str
    tags: set[str]
    points: list[tuple[float, float]]


def _timeboard_widgets() -> list[dict]:
    """As the program declares them (components/dashboard.py), as GET /api/v1/dashboard returns."""
    def timeseries(title: str, query: str, formula: str, display: str, widget_id: int) -> dict:
        return {"definition": {"title": title, "show_legend": True, "type": "timeseries",
                               "requests": [{"display_type": display, "response_format": "timeseries",
                                             "formulas": [{"formula": formula}],
                                             "queries": [{"data_source": "metrics", "name": "query1",
                                                          "query": query}]}]},
                "id": widget_id}
    return [
        timeseries("my_metric per host", "avg:my_metric{$host} by {host}", "query1", "line", 1),
        timeseries("postgresql.percent_usage_connections with anomalies (basic, 2)",
                   "avg:postgresql.percent_usage_connections{$host} by {host}",
                   "anomalies(query1, 'basic', 2)", "line", 2),
        timeseries("my_metric, sum per 3600 s", "sum:my_metric{$host} by {host}.rollup(sum, 3600)",
                   "query1", "bars", 3),
    ]


def _service_widgets() -> list[dict]:
    """As components/service_dashboard.py declares them: scoped by template variables."""
    def timeseries(title: str, queries: list[str], formulas: list[str]) -> dict:
        return {"definition": {
            "type": "timeseries", "title": title, "show_legend": True,
            "requests": [{"display_type": "line", "response_format": "timeseries",
                          "formulas": [{"formula": formula} for formula in formulas],
                          "queries": [{"data_source": "metrics", "name": f"query{n}", "query": query}
                                      for n, query in enumerate(queries, 1)]}]}}
    apm, hosts = "{$service,$env,$host}", "{$host,$env}"
    trace = "trace.flask.request"
    return [
        {"definition": {"type": "group", "layout_type": "ordered", "title": "Service my-flask-app (test)",
                        "widgets": [
                            timeseries("Requests", [f"sum:{trace}.hits{apm} by {{resource_name}}.as_count()"],
                                       ["query1"]),
                            timeseries("Errors", [f"sum:{trace}.errors{apm} by {{resource_name}}.as_count()"],
                                       ["query1"]),
                            timeseries("Latency", [f"{p}:{trace}{apm} by {{resource_name}}"
                                                   for p in ("p50", "p95", "p99")],
                                       ["query1", "query2", "query3"])]}},
        {"definition": {"type": "group", "layout_type": "ordered", "title": "Hosts", "widgets": [
            timeseries("CPU used (%)", [f"avg:system.cpu.user{hosts} by {{host}}",
                                        f"avg:system.cpu.system{hosts} by {{host}}"],
                       ["query1 + query2"])]}},
    ]


def _dashboard(dashboard_id: str, created: float, title: str, widgets: list[dict],
               template_variables: list[dict]) -> dict:
    return {"id": dashboard_id, "title": title, "description": "Managed by Pulumi",
            "author_handle": "frog@datadoghq.com", "author_name": None, "layout_type": "ordered",
            "url": f"/dashboard/{dashboard_id}/dd-assessment-test", "is_read_only": False,
            "template_variables": template_variables, "widgets": widgets, "notify_list": None,
            "created_at": _iso(created - 60), "modified_at": _iso(created - 60),
            "restricted_roles": []}


def _template_variables(*names: str) -> list[dict]:
    """The dashboards' template variables, as the components declare them (fresh each call)."""
    every = {"host": {"name": "host", "prefix": "host", "available_values": list(HOSTS),
                      "defaults": list(HOSTS)},
             "env": {"name": "env", "prefix": "env", "defaults": ["test"]},
             "service": {"name": "service", "prefix": "service", "defaults": ["my-flask-app"]}}
    return [every[name] for name in names]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def dashboard_from_inputs(props: dict, dashboard_id: str) -> dict:
    """A dashboard as GET /api/v1/dashboard/{id} returns it, from the inputs the program gives
    the Datadog provider (camelCase under the mocks): a `<type>Definition` block becomes
    `definition` with `type`, a `metricQuery` block the query itself, `formulaExpression`
    `formula` (the API's names, as the provider's dashboard builders map them)."""
    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        converted: dict = {}
        for key, value in node.items():
            key = _snake(key)
            if key.endswith("_definition"):
                return {"definition": {"type": key.removesuffix("_definition"), **convert(value)}}
            if key == "metric_query":
                return convert(value)
            converted["formula" if key == "formula_expression" else key] = convert(value)
        return converted
    return _dashboard(dashboard_id, NOW, props["title"], convert(props["widgets"]),
                      convert(props.get("templateVariables") or []))


def monitor_message() -> str:
    """The monitor's message as the program sends it: monitors/my_metric.message.md with its
    `${...}` filled the way components/monitor.py's render_message fills them for this stack."""
    return string.Template(MESSAGE_TEMPLATE.read_text(encoding="utf-8")).substitute(
        metric="my_metric", window="5 minutes", no_data_minutes=10,
        handles="@ops@example.com @slack-alerts")


def _gohai(ip: str) -> str:
    """The Agent's gohai metadata (a JSON string in the host's `meta`), its network part."""
    return json.dumps({"network": {"ipaddress": ip, "ipaddressv6": "", "macaddress": "0a:1b:2c:3d:4e:5f"}})


def _downtime(downtime_id: str, created: float, rrule: str, start: str, duration: str, message: str) -> dict:
    return {"data": {
        "type": "downtime", "id": downtime_id,
        "attributes": {
            "display_timezone": "America/New_York", "scope": "*", "message": message,
            "notify_end_states": ["alert", "no data", "warn"], "notify_end_types": ["canceled", "expired"],
            "created": _iso(created - 50), "modified": _iso(created - 50), "status": "scheduled",
            "canceled": None, "mute_first_recovery_notification": True,
            "monitor_identifier": {"monitor_id": MONITOR_ID},
            "schedule": {"timezone": "America/New_York",
                         "recurrences": [{"rrule": rrule, "start": start, "duration": duration}]}},
        "relationships": {"monitor": {"data": {"type": "monitors", "id": str(MONITOR_ID)}},
                          "created_by": {"data": {"type": "users",
                                                  "id": "3ad549bf-eba0-11e9-a77a-0705486660d0"}}}}}


@dataclass
class World:
    """What the org holds; tests change it to break one thing."""

    hosts: dict[str, dict]
    series: list[Series]
    monitors: dict[int, dict]
    dashboards: dict[str, dict]
    downtimes: dict[str, dict]
    api_key: str = API_KEY
    app_key: str = APP_KEY


def healthy(now: float = NOW) -> World:
    """The org of a healthy stack at `now` (the tests' fixed NOW, or the clock for a process)."""
    launched = now - (NOW - LAUNCHED)
    hosts = {host: {"name": host, "host_name": host, "id": 1036078300 + n, "aliases": [host],
                    "apps": ["agent", "docker", "postgres", "ntp"], "is_muted": False,
                    "mute_timeout": None, "last_reported_time": int(now) - 42,
                    "sources": ["agent", "aws"], "up": True,
                    "tags_by_source": {"Datadog": list(HOST_TAGS),
                                       "Amazon Web Services": ["availability-zone:us-east-2a",
                                                               "instance-type:t3.micro"]},
                    "metrics": {"load": 0.03, "iowait": 0.04, "cpu": 0.66},
                    "meta": {"agent_version": "7.83.1", "platform": "linux", "machine": "x86_64",
                             "gohai": _gohai(PRIVATE_IPS[n])}}
             for n, host in enumerate(HOSTS)}
    series = []
    for n, host in enumerate(HOSTS):
        first = launched + FIRST_POINT_AFTER
        count = int((now - first) // INTERVAL) + 1
        series.append(Series("my_metric", {f"host:{host}", *HOST_TAGS},
                             [(first + i * INTERVAL, float((i * 137 + n * 311) % 1000)) for i in range(count)]))
        pg_points = [(t, 0.04) for t in range(int(launched + 600), int(now), 15)]
        series.append(Series("postgresql.percent_usage_connections",
                             {f"host:{host}", "db:postgres"}, pg_points))
        series.append(Series("postgresql.connections", {f"host:{host}", "db:postgres"},
                             [(t, 4.0) for t, _ in pg_points]))
        series.append(Series("trace.flask.request.hits",
                             {f"host:{host}", "service:my-flask-app", "env:test",
                              "resource_name:get_/healthz"},
                             [(t, 1.0) for t in range(int(now - 880), int(now), 30)]))
        # What only the report's pictures draw: latency and CPU.
        series.append(Series("trace.flask.request",
                             {f"host:{host}", "service:my-flask-app", "env:test", "resource_name:get_/"},
                             [(t, 0.002 + (t % 7) / 1000) for t in range(int(now - 3600), int(now), 30)]))
        for metric, level in (("system.cpu.user", 3.0), ("system.cpu.system", 1.0)):
            series.append(Series(metric, {f"host:{host}", "env:test"},
                                 [(t, level + n + (t % 11) / 5) for t in range(int(now - 3600), int(now), 15)]))
    monitor = {
        "id": MONITOR_ID, "org_id": 321813, "type": "metric alert",
        "name": "[dd-assessment-test] my_metric is high on {{host.name}}",
        "message": monitor_message(),
        "tags": ["project:dd-assessment", "stack:test"],
        "query": "avg(last_5m):avg:my_metric{*} by {host} > 800",
        "options": {"include_tags": True, "new_host_delay": 300, "no_data_timeframe": 10,
                    "notify_audit": False, "notify_no_data": True, "require_full_window": False,
                    "thresholds": {"critical": 800.0, "warning": 500.0}, "silenced": {},
                    "groupby_simple_monitor": False},
        "multi": True, "created_at": int(launched - 60) * 1000, "created": _iso(launched - 60),
        "modified": _iso(launched - 60), "deleted": None, "restricted_roles": None,
        "priority": None, "overall_state_modified": _iso(now - 300), "overall_state": "Warn",
        "creator": {"name": None, "handle": "frog@datadoghq.com", "email": "frog@datadoghq.com",
                    "id": 1445416},
        "state": {"groups": {f"host:{host}": {
            "name": f"host:{host}", "status": status, "last_triggered_ts": int(now) - 300,
            "last_notified_ts": int(now) - 300, "last_resolved_ts": 0, "last_nodata_ts": 0}
            for host, status in zip(HOSTS, ("Warn", "OK"))}},
    }
    return World(
        hosts=hosts, series=series, monitors={MONITOR_ID: monitor},
        dashboards={DASHBOARD_ID: _dashboard(DASHBOARD_ID, launched, "dd-assessment (test): my_metric and PostgreSQL",
                                             _timeboard_widgets(), _template_variables("host")),
                    SERVICE_DASHBOARD_ID: _dashboard(SERVICE_DASHBOARD_ID, launched, "dd-assessment (test): service and host",
                                                     _service_widgets(), _template_variables("host", "env", "service"))},
        downtimes={
            # Pinned at deploy time (the Sunday evening before); recurring since.
            DOWNTIMES["weeknights"]: _downtime(DOWNTIMES["weeknights"], launched, "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU,MO,TU,WE,TH,FR",
                                               "2026-10-18T19:00:00", "14h", "Weeknight quiet hours"),
            DOWNTIMES["weekend"]: _downtime(DOWNTIMES["weekend"], launched, "FREQ=WEEKLY;INTERVAL=1;BYDAY=SA",
                                            "2026-10-24T00:00:00", "2d", "Weekend quiet hours"),
        })


# ---- the metrics query language, as far as the tools use it -------------------------------

_QUERY = re.compile(r"^(avg|sum|min|max|p50|p95|p99):([\w.]+)\{([^}]*)\}(?: by \{(\w+)\})?"
                    r"(\.as_count\(\))?$")


def _matches(scope: str, tags: set[str]) -> bool:
    """`*`, `a,b` (all), `a OR b` (any), `a AND (b OR c)`: the forms the tools send."""
    scope = scope.strip()
    if scope == "*":
        return True
    if " AND " in scope:
        return all(_matches(term.strip().removeprefix("(").removesuffix(")"), tags)
                   for term in scope.split(" AND "))
    if " OR " in scope:
        return any(term.strip() in tags for term in scope.split(" OR "))
    return all(term.strip() in tags for term in scope.split(","))


def _aggregate(how: str, values: list[float]) -> float:
    return sum(values) if how == "sum" else min(values) if how == "min" else \
        max(values) if how == "max" else sum(values) / len(values)


def run_query(series: list[Series], query: str, start_ms: int, end_ms: int,
              interval_ms: int | None) -> dict:
    match = _QUERY.match(query)
    if not match:
        raise ValueError(f"the stand-in does not understand the query {query!r}")
    space, metric, scope, by, as_count = match.groups()
    how = "sum" if as_count else space
    start, end = start_ms / 1000, end_ms / 1000
    # The API's default is about 300 points a window; it widens any interval that would give
    # more than its point limit (taken here as 1500).
    step = (interval_ms / 1000) if interval_ms else max(1.0, (end - start) / 300)
    step = max(step, math.ceil((end - start) / 1500))
    groups: dict[tuple[str, ...], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in series:
        if s.metric != metric or not _matches(scope, s.tags):
            continue
        group = tuple(t for t in sorted(s.tags) if by and t.startswith(f"{by}:"))
        for ts, value in s.points:
            if start <= ts < end:
                groups[group][math.floor(ts / step) * step].append(value)
    times = sorted({t for buckets in groups.values() for t in buckets})
    ordered = sorted(groups)
    return {"data": {"id": "0", "type": "timeseries_response", "attributes": {
        "series": [{"group_tags": list(group), "query_index": 0, "unit": None} for group in ordered],
        "times": [int(t * 1000) for t in times],
        "values": [[_aggregate(how, groups[group][t]) if t in groups[group] else None for t in times]
                   for group in ordered]}}}


# ---- graph snapshots: real PNGs of the world's series ----------------------------------------

_SUBQUERY = re.compile(r"(?:avg|sum|min|max|p50|p95|p99):[\w.]+\{[^}]*\}(?: by \{\w+\})?")
_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def render_png(series: list[Series], params: dict, start: int, end: int) -> bytes:
    """The graph a snapshot asks for (`graph_def`'s requests, or `metric_query`), drawn from the
    world's points: each metric query inside an expression (`anomalies(...)`, `a + b`,
    `.rollup(...)`) becomes its own lines; a title, a frame, "no data" when nothing matched."""
    import io

    from PIL import Image, ImageDraw

    queries = ([r["q"] for r in json.loads(params["graph_def"])["requests"]] if "graph_def" in params
               else [params.get("metric_query", "")])
    lines = []
    for query in queries:
        for inner in _SUBQUERY.findall(query):
            answer = run_query(series, inner, start * 1000, end * 1000, None)["data"]["attributes"]
            for values in answer["values"]:
                lines.append([(t / 1000, v) for t, v in zip(answer["times"], values) if v is not None])
    width, height, left, top, right, bottom = 600, 260, 40, 28, 590, 240
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), params.get("title", "")[:90], fill=(30, 30, 30))
    draw.rectangle((left, top, right, bottom), outline=(170, 170, 170))
    values = [v for line in lines for _, v in line]
    if not values:
        draw.text((width // 2 - 20, height // 2), "No data", fill=(120, 120, 120))
    else:
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        for n, line in enumerate(lines):
            points = [(left + (t - start) / max(1, end - start) * (right - left),
                       bottom - (v - low) / span * (bottom - top - 10) - 5) for t, v in line]
            if len(points) == 1:
                x, y = points[0]
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=_PALETTE[n % len(_PALETTE)])
            elif points:
                draw.line(points, fill=_PALETTE[n % len(_PALETTE)], width=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# ---- the HTTP side --------------------------------------------------------------------------

_client = ApiClient(Configuration())
API_KEY_ONLY = {("GET", "/api/v1/validate"), ("POST", "/api/v1/events")}
_parsed: dict[tuple[type, str], bool] = {}  # (model, body) -> unparsed?: the same answer is read once


def unparsed(model: type, text: str) -> bool:
    """True when datadog-api-client cannot read `text` as `model` (it marks, never raises)."""
    if (model, text) not in _parsed:
        _parsed[(model, text)] = bool(getattr(_client.deserialize(text, (model,), True), "_unparsed", False))
    return _parsed[(model, text)]


@dataclass
class StandIn:
    world: World = field(default_factory=healthy)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_errors: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    snapshots: dict[str, dict] = field(default_factory=dict)  # id -> query params, polls, PNG
    snapshot_polls_before_ready: int | None = 2
    picture_headers: list[dict] = field(default_factory=list)

    def calls(self, method: str, path_prefix: str) -> list[dict]:
        return [params for m, p, params in self.requests if m == method and p.startswith(path_prefix)]

    def _answer(self, status: int, body: Any, model: type) -> Response:
        text = json.dumps(body)
        if unparsed(model, text):
            self.shape_errors.append(f"{model.__name__}: {text[:300]}")
        return Response(text, status=status, content_type="application/json")

    def _error(self, status: int, message: str) -> Response:
        return self._answer(status, {"errors": [message]}, APIErrorResponse)

    def _picture(self, snapshot_id: str, request: Request) -> Response:
        """A snapshot's PNG, once "rendered"; before that what S3 says of a missing object."""
        self.picture_headers.append(dict(request.headers))
        snapshot = self.snapshots.get(snapshot_id)
        if snapshot is None:
            return Response("Not Found", status=404)
        snapshot["polls"] += 1
        ready = self.snapshot_polls_before_ready
        if ready is None or snapshot["polls"] <= ready:
            if snapshot["polls"] == 1:
                return Response("Not Found", status=404)
            return Response('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                            "<Message>Access Denied</Message></Error>", status=403,
                            content_type="application/xml")
        if snapshot.get("png") is None:
            params = snapshot["params"]
            snapshot["png"] = render_png(self.world.series, params, int(params["start"]), int(params["end"]))
        return Response(snapshot["png"], status=200, content_type="image/png")

    def handle(self, request: Request) -> Response:
        params = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
        if request.method == "GET" and (found := re.fullmatch(r"/snapshot/view/(\w+)\.png", request.path)):
            return self._picture(found.group(1), request)
        self.requests.append((request.method, request.path, params))
        world = self.world
        if request.headers.get("DD-API-KEY") != world.api_key:
            return self._error(403, "Forbidden")
        route = (request.method, request.path)
        # Which keys each operation needs: its `auth` in datadog-api-client's endpoint table.
        if route not in API_KEY_ONLY and request.headers.get("DD-APPLICATION-KEY") != world.app_key:
            return self._error(403, "Forbidden")
        if route == ("GET", "/api/v1/validate"):
            return self._answer(200, {"valid": True}, AuthenticationValidationResponse)
        if route == ("GET", "/api/v1/hosts"):
            wanted = params.get("filter", "")
            listed = [copy.deepcopy(h) for name, h in world.hosts.items() if wanted in name]
            return self._answer(200, {"host_list": listed, "total_matching": len(listed),
                                      "total_returned": len(listed), "exact_total_matching": True},
                                HostListResponse)
        if route == ("POST", "/api/v2/query/timeseries"):
            attributes = request.get_json()["data"]["attributes"]
            (query,) = attributes["queries"]
            self.requests[-1] = (request.method, request.path, {"query": query["query"],
                                                                "interval": attributes.get("interval")})
            try:
                body = run_query(world.series, query["query"], attributes["from"], attributes["to"],
                                 attributes.get("interval"))
            except ValueError as error:
                return self._error(400, str(error))
            return self._answer(200, body, TimeseriesFormulaQueryResponse)
        if route == ("POST", "/api/v1/events"):
            event = request.get_json()
            self.events.append(event)
            return self._answer(202, {"status": "ok", "event": {
                "id": 6327818702635911000, "id_str": "6327818702635911562", "title": event["title"],
                "text": event["text"], "date_happened": int(NOW), "handle": None, "priority": None,
                "related_event_id": None, "tags": event.get("tags", []),
                "url": "https://app.datadoghq.com/event/event?id=6327818702635911562"}},
                EventCreateResponse)
        if route == ("GET", "/api/v1/graph/snapshot"):
            if "graph_def" in params:
                snapshot_id = f"s{len(self.snapshots) + 1:03d}"
                self.snapshots[snapshot_id] = {"params": params, "polls": 0}
                return self._answer(200, {"graph_def": params["graph_def"],
                                          "snapshot_url": f"{request.host_url}snapshot/view/{snapshot_id}.png"},
                                    GraphSnapshot)
            return self._answer(200, {"metric_query": params.get("metric_query"),
                                      "snapshot_url": "https://app.datadoghq.com/s/f12345678/aaa-bbb-ccc"},
                                GraphSnapshot)
        if request.method == "GET" and (found := re.fullmatch(r"/api/v1/monitor/(\d+)", request.path)):
            monitor = copy.deepcopy(world.monitors.get(int(found.group(1))))
            if monitor is None:
                return self._error(404, "Monitor not found")
            if "group_states" not in params:
                monitor.pop("state", None)
            return self._answer(200, monitor, Monitor)
        if request.method == "GET" and (found := re.fullmatch(r"/api/v1/dashboard/([\w-]+)", request.path)):
            dashboard = world.dashboards.get(found.group(1))
            if dashboard is None:
                return self._error(404, f"Dashboard {found.group(1)} not found")
            return self._answer(200, dashboard, Dashboard)
        if request.method == "GET" and (found := re.fullmatch(r"/api/v2/downtime/([\w-]+)", request.path)):
            downtime = world.downtimes.get(found.group(1))
            if downtime is None:
                return self._error(404, "Downtime not found")
            return self._answer(200, downtime, DowntimeResponse)
        self.unexpected.append(f"{request.method} {request.path}")
        return Response('{"errors":["Not found"]}', status=404, content_type="application/json")
