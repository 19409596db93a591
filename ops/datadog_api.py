"""The Datadog API as the operator tools use it, through Datadog's own `datadog-api-client`.

One client for the stack's site, or for DD_HOST when it is set (the API base URL, as the Datadog
provider reads it: how tests point the tools at a local stand-in). Only these endpoints:

    GET  /api/v1/validate            GET  /api/v1/monitor/{id}     GET /api/v2/downtime/{id}
    GET  /api/v1/hosts               GET  /api/v1/dashboard/{id}   GET /api/v1/graph/snapshot
    POST /api/v2/query/timeseries    POST /api/v1/events

Every way a call can fail becomes CannotCheck with one line (unreachable, keys refused, an
answer the client cannot read), except "not found" for an object looked up by id, which is a
finding for the caller to report. Answers are returned as plain dicts (`to_dict()`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import (
    ApiException,
    NotFoundException,
    OpenApiException,
)
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.api.hosts_api import HostsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.api.snapshots_api import SnapshotsApi
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from datadog_api_client.v2.api.downtimes_api import DowntimesApi
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.metrics_data_source import MetricsDataSource
from datadog_api_client.v2.model.metrics_timeseries_query import MetricsTimeseriesQuery
from datadog_api_client.v2.model.query_formula import QueryFormula
from datadog_api_client.v2.model.timeseries_formula_query_request import (
    TimeseriesFormulaQueryRequest,
)
from datadog_api_client.v2.model.timeseries_formula_request import (
    TimeseriesFormulaRequest,
)
from datadog_api_client.v2.model.timeseries_formula_request_attributes import (
    TimeseriesFormulaRequestAttributes,
)
from datadog_api_client.v2.model.timeseries_formula_request_queries import (
    TimeseriesFormulaRequestQueries,
)
from datadog_api_client.v2.model.timeseries_formula_request_type import (
    TimeseriesFormulaRequestType,
)

from ops.common import CannotCheck

# (connect, read) seconds: an unreachable API is reported in seconds, not minutes.
REQUEST_TIMEOUT = (5, 30)

# A series as returned by `timeseries`: its group tags (e.g. ("host:a",)) -> [(unix s, value)].
Series = dict[tuple[str, ...], list[tuple[float, float]]]


def _error_text(error: ApiException) -> str:
    """Datadog's own words from an error body (`{"errors": [...]}`), else the HTTP reason."""
    body = error.body  # the client has parsed a JSON body already
    if isinstance(body, dict) and body.get("errors"):
        return "; ".join(str(e) for e in body["errors"])
    return str(error.reason or "").strip() or "no reason given"


def _connection_text(error: urllib3.exceptions.HTTPError) -> str:
    """`[Errno 111] Connection refused` out of urllib3's wrapping of it."""
    reason = str(getattr(error, "reason", None) or error)
    reason = re.sub(r"^(<[^>]*>|\w+\([^)]*\)): ", "", reason)
    return reason.replace("Failed to establish a new connection: ", "")


class DatadogApi:
    """The endpoints the tools call; use as a context manager."""

    def __init__(self, *, site: str, api_key: str, app_key: str, env: Mapping[str, str]) -> None:
        configuration = Configuration(request_timeout=REQUEST_TIMEOUT)
        configuration.api_key = {"apiKeyAuth": api_key, "appKeyAuth": app_key}
        host = env.get("DD_HOST", "").strip()
        if host:
            if not re.match(r"https?://[^/\s]+", host):
                raise CannotCheck(f"DD_HOST is {host!r}: it must be the API's base URL, like "
                                  "https://api.datadoghq.com (or unset it to use the stack's site)")
            configuration.host = host.rstrip("/")
        else:
            # Set after construction: the client reads DD_SITE from the environment, but the
            # stack's own site is the one that holds its hosts and monitors.
            configuration.server_variables["site"] = site
        self.base_url = configuration.host
        # urllib3 logs each retry as a warning; the tools say what failed in their own one line.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        self._client = ApiClient(configuration)

    def __enter__(self) -> DatadogApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def _call(self, what: str, call: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        try:
            return call()
        except NotFoundException as error:
            if missing_ok:
                return None
            raise CannotCheck(f"{what} at {self.base_url}: not found ({_error_text(error)}); "
                              "is DD_HOST or the stack's datadogSite right?") from None
        except ApiException as error:
            if error.status in (401, 403):
                raise CannotCheck(f"Datadog refused {what} ({error.status}: {_error_text(error)}); "
                                  "check DD_API_KEY / DD_APP_KEY (or the stack's datadog:apiKey / "
                                  "appKey) and that the keys belong to the org on the stack's "
                                  "site") from None
            if not error.status:
                raise CannotCheck(f"cannot reach the Datadog API at {self.base_url} for {what}: "
                                  f"{_error_text(error).splitlines()[0]}") from None
            raise CannotCheck(f"Datadog answered {what} with {error.status}: "
                              f"{_error_text(error)}") from None
        except urllib3.exceptions.HTTPError as error:
            raise CannotCheck(f"cannot reach the Datadog API at {self.base_url} for {what}: "
                              f"{_connection_text(error)}") from None
        except (OpenApiException, TypeError, ValueError, KeyError) as error:
            # The client could not read the answer at all (a missing required field, not JSON).
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CannotCheck(f"cannot read Datadog's answer to {what}: {first}") from None

    # ---- the endpoints -----------------------------------------------------------------------

    def validate(self) -> None:
        """GET /api/v1/validate: the API key is valid (the first call, so a bad key says so)."""
        answer = self._call("GET /api/v1/validate", AuthenticationApi(self._client).validate)
        if not answer.to_dict().get("valid"):
            raise CannotCheck("Datadog says the API key is not valid (GET /api/v1/validate)")

    def hosts(self, name_filter: str, *, metadata: bool = False) -> list[dict]:
        """GET /api/v1/hosts?filter=...: the hosts whose names or tags match; with `metadata`,
        each with its `meta` (Agent version, platform, gohai: where the host's IP is)."""
        extra = {"include_hosts_metadata": True} if metadata else {}
        answer = self._call("GET /api/v1/hosts", lambda: HostsApi(self._client).list_hosts(
            filter=name_filter, count=1000, **extra))
        return answer.to_dict().get("host_list") or []

    def timeseries(self, query: str, start: float, end: float, *,
                   interval_seconds: int | None = None) -> Series:
        """POST /api/v2/query/timeseries: each group's non-empty points (unix seconds, value).

        `interval_seconds` asks for that bucket width; Datadog widens it only when the window
        would hold too many points (the API documents the override).
        """
        attributes: dict[str, Any] = {
            "_from": int(start * 1000), "to": int(end * 1000),
            "queries": TimeseriesFormulaRequestQueries([MetricsTimeseriesQuery(
                data_source=MetricsDataSource.METRICS, name="a", query=query)]),
            "formulas": [QueryFormula(formula="a")]}
        if interval_seconds:
            attributes["interval"] = interval_seconds * 1000
        body = TimeseriesFormulaQueryRequest(data=TimeseriesFormulaRequest(
            type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
            attributes=TimeseriesFormulaRequestAttributes(**attributes)))
        answer = self._call(f"the query {query}",
                            lambda: MetricsApi(self._client).query_timeseries_data(body)).to_dict()
        if answer.get("errors"):
            raise CannotCheck(f"Datadog could not run the query {query}: {answer['errors']}")
        data = (answer.get("data") or {}).get("attributes") or {}
        times = data.get("times") or []
        series: Series = {}
        for info, values in zip(data.get("series") or [], data.get("values") or []):
            group = tuple(info.get("group_tags") or ())
            series[group] = [(t / 1000, v) for t, v in zip(times, values) if v is not None]
        return series

    def monitor(self, monitor_id: int) -> dict | None:
        """GET /api/v1/monitor/{id}?group_states=all: the monitor with each group's state."""
        answer = self._call(f"GET /api/v1/monitor/{monitor_id}", lambda: MonitorsApi(
            self._client).get_monitor(monitor_id, group_states="all"), missing_ok=True)
        return None if answer is None else answer.to_dict()

    def dashboard(self, dashboard_id: str) -> dict | None:
        """GET /api/v1/dashboard/{id}."""
        answer = self._call(f"GET /api/v1/dashboard/{dashboard_id}", lambda: DashboardsApi(
            self._client).get_dashboard(dashboard_id), missing_ok=True)
        return None if answer is None else answer.to_dict()

    def downtime(self, downtime_id: str) -> dict | None:
        """GET /api/v2/downtime/{id}: the downtime's `data` (id, attributes)."""
        answer = self._call(f"GET /api/v2/downtime/{downtime_id}", lambda: DowntimesApi(
            self._client).get_downtime(downtime_id), missing_ok=True)
        return None if answer is None else answer.to_dict().get("data")

    def graph_snapshot(self, query: str | None, start: float, end: float, title: str, *,
                       graph_def: str | None = None) -> str:
        """GET /api/v1/graph/snapshot: the snapshot's URL. One metric `query`, or a `graph_def`
        (the graph JSON grammar: several lines, bars) in its place."""
        what = {"graph_def": graph_def} if graph_def is not None else {"metric_query": query}
        answer = self._call("GET /api/v1/graph/snapshot", lambda: SnapshotsApi(
            self._client).get_graph_snapshot(start=int(start), end=int(end), title=title, **what))
        url = answer.to_dict().get("snapshot_url")
        if not url:
            raise CannotCheck("Datadog's graph snapshot answer has no snapshot_url")
        return url

    def post_event(self, *, title: str, text: str, tags: list[str]) -> dict:
        """POST /api/v1/events: the event Datadog recorded (with its `url`)."""
        body = EventCreateRequest(title=title, text=text, tags=tags,
                                  alert_type=EventAlertType.SNAPSHOT)
        answer = self._call("POST /api/v1/events",
                            lambda: EventsApi(self._client).create_event(body))
        return answer.to_dict().get("event") or {}
