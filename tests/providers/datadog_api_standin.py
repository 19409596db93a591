"""The Datadog API as the Datadog *provider* sees it: a stand-in that judges what the provider sends.

The real terraform-provider-datadog (inside pulumi-resource-datadog) is pointed here with its
`api_url`. Every request body is read with datadog-api-client's own models (the request model
of that operation: `Monitor`, `Dashboard`, `DowntimeCreateRequest`, `DowntimeUpdateRequest`) and
refused with a 400, recorded in `rejected`, when the client cannot read it: a field no model
knows (the client keeps those silently as additional properties, so `strict_problems` walks the
parsed tree against each model's `attribute_map`), a value the client marks unparsed (an unknown
enum value, a wrong type), a missing required field. It also refuses what the real API refuses
and the models cannot say (a monitor whose query's critical number is not its critical
threshold, a downtime RRULE carrying DTSTART/DTEND/DURATION, a downtime start with a UTC offset or
in the past, a downtime for a monitor that does not exist).

It answers as the real API answered in terraform-provider-datadog's recorded acceptance tests
(datadog/tests/cassettes/, cited where each shape is built), including what the provider has to
live with: monitor thresholds echoed as floats (`2` -> `2.0`), empty `thresholds` dropped,
`notify_audit`/`silenced` added, `query alert` reported as `metric alert`; dashboards gaining
`id`, `url`, `author_*`, `created_at`/`modified_at` and an `id` on every widget; downtime starts
echoed with seconds (`...T19:00` -> `...T19:00:00`), `notify_end_states` in another order,
`status`, `created`/`modified`, `schedule.current_downtime`. Every answer is read back with the
client's response model too (`shape_errors`): the stand-in itself must speak the API's shapes.

    python -m tests.providers.datadog_api_standin --port 8126   # serve until interrupted

prints `listening on http://127.0.0.1:PORT` and serves `GET /_standin/report` (what it refused,
what it did not know, the shape errors) for a caller in another process, e.g. an end-to-end run
of `pulumi up` with `datadog:apiUrl` set to it.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.model_utils import (
    ModelComposed,
    ModelNormal,
    ModelSimple,
    UnparsedObject,
)
from datadog_api_client.v1.model.authentication_validation_response import (
    AuthenticationValidationResponse,
)
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.dashboard_delete_response import (
    DashboardDeleteResponse,
)
from datadog_api_client.v1.model.deleted_monitor import DeletedMonitor
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v2.model.downtime_create_request import DowntimeCreateRequest
from datadog_api_client.v2.model.downtime_response import DowntimeResponse
from datadog_api_client.v2.model.downtime_update_request import DowntimeUpdateRequest
from werkzeug import Request, Response
from werkzeug.serving import make_server

ORG_ID = 321813
# The user the cassettes' answers name as creator (TestAccDowntimeScheduleBasicRecurring).
CREATOR_ID = "3ad549bf-eba0-11e9-a77a-0705486660d0"
CREATOR = {"name": None, "handle": "frog@datadoghq.com", "email": "frog@datadoghq.com", "id": 1445416}

_client = ApiClient(Configuration())


# ---- judging a body with datadog-api-client's models --------------------------------------

def strict_problems(model: type, body: Any, unknown_fields: bool = True) -> list[str]:
    """What datadog-api-client cannot read in `body` as `model`: [] when every field is known.

    `unknown_fields=False` for the API's answers: the real API answers fields the client's
    models do not declare (`org_id`, `created_at` in TestAccDatadogMonitor_Basic), which the
    client keeps; what it must still read are the fields it declares."""
    try:
        parsed = _client.deserialize(json.dumps(body), (model,), True)
    except Exception as error:  # the client raises on a missing required field
        return [f"{model.__name__}: {error}"]
    problems: list[str] = []
    _walk(parsed, body, model.__name__, problems, unknown_fields)
    if not problems and getattr(parsed, "_unparsed", False):
        problems.append(f"{model.__name__}: marked unparsed by datadog-api-client")
    return problems


def _walk(parsed: Any, raw: Any, path: str, problems: list[str], unknown_fields: bool) -> None:
    if isinstance(parsed, UnparsedObject):
        problems.append(f"{path}: matches no schema of the model: {json.dumps(raw)[:200]}")
        return
    if isinstance(parsed, ModelComposed):
        if not parsed._composed_instances:
            problems.append(f"{path}: matches no oneOf schema: {json.dumps(raw)[:200]}")
            return
        parsed = parsed.get_oneof_instance()
        if isinstance(parsed, UnparsedObject):
            problems.append(f"{path}: matches no oneOf schema: {json.dumps(raw)[:200]}")
            return
    if isinstance(parsed, ModelSimple):
        if parsed._unparsed:
            problems.append(f"{path}: {raw!r} is not a value {type(parsed).__name__} allows")
        return
    if isinstance(parsed, ModelNormal) and isinstance(raw, dict):
        known = {json_name: python_name for python_name, json_name in parsed.attribute_map.items()}
        for key, value in raw.items():
            if key not in known:
                if unknown_fields:
                    problems.append(f"{path}.{key}: unknown field for {type(parsed).__name__}")
                continue
            _walk(parsed.get(known[key]), value, f"{path}.{key}", problems, unknown_fields)
        return
    if isinstance(parsed, list) and isinstance(raw, list):
        for n, (item, raw_item) in enumerate(zip(parsed, raw)):
            _walk(item, raw_item, f"{path}[{n}]", problems, unknown_fields)


# ---- the API's answers, shaped as the cassettes recorded them -----------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat()  # "2025-12-11T15:09:22.551561+00:00", as the cassettes show


_CRITICAL_IN_QUERY = re.compile(r"[<>]=?\s*(-?[\d.]+)\s*$")


def _float_thresholds(thresholds: dict) -> dict:
    # TestAccDatadogMonitor_Basic_float_int: sent {"critical":2,...}, answered {"critical":2.0,...}.
    return {key: (float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value)
            for key, value in thresholds.items()}


def monitor_answer(body: dict, monitor_id: int, created: datetime, modified: datetime) -> dict:
    """POST/GET /api/v1/monitor as TestAccDatadogMonitor_Basic recorded it."""
    answer = copy.deepcopy(body)
    options = answer.setdefault("options", {})
    if options.get("thresholds"):
        options["thresholds"] = _float_thresholds(options["thresholds"])
    else:  # TestAccDatadogMonitor_BasicNoTresholdOrPriority: an empty map is not echoed
        options.pop("thresholds", None)
    options.setdefault("notify_audit", False)
    options.setdefault("silenced", {})
    # TestAccDatadogMonitor_AggregateAugmentedQuery: sent "query alert", answered "metric alert";
    # TestAccDatadogDowntime_BasicWithMonitor: "metric alert" stays "metric alert".
    if answer.get("type") == "query alert":
        answer["type"] = "metric alert"
    answer.update({
        "id": monitor_id, "org_id": ORG_ID, "multi": " by {" in answer.get("query", ""),
        "created_at": int(created.timestamp() * 1000), "created": _stamp(created),
        "modified": _stamp(modified), "deleted": None, "overall_state_modified": None,
        "overall_state": "No Data", "creator": dict(CREATOR), "assets": [],
    })
    answer.setdefault("restricted_roles", None)
    answer.setdefault("priority", None)
    answer.setdefault("tags", [])
    answer.setdefault("draft_status", "published")
    return answer


def _number_words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _widget_ids(widgets: list, counter: list[int]) -> list:
    """TestAccDatadogDashboardTimeseries: the API gives every widget an `id`, groups' too."""
    out = []
    for widget in widgets:
        widget = copy.deepcopy(widget)
        counter[0] += 1
        widget.setdefault("id", 3797804726992000 + counter[0])
        inner = widget.get("definition", {})
        if isinstance(inner.get("widgets"), list):
            inner["widgets"] = _widget_ids(inner["widgets"], counter)
        out.append(widget)
    return out


def dashboard_answer(body: dict, dashboard_id: str, created: datetime, modified: datetime,
                     counter: list[int]) -> dict:
    """POST/GET /api/v1/dashboard as TestAccDatadogDashboardTimeseries recorded it: the body
    plus id, url, author_handle, author_name, created_at, modified_at and widget ids."""
    answer = copy.deepcopy(body)
    answer.update({
        "id": dashboard_id, "url": f"/dashboard/{dashboard_id}/{_number_words(body.get('title', ''))}",
        "author_handle": CREATOR["email"], "author_name": None,
        "created_at": _stamp(created), "modified_at": _stamp(modified),
        "widgets": _widget_ids(body.get("widgets", []), counter),
    })
    for key in ("template_variables", "notify_list", "template_variable_presets", "tags"):
        answer.setdefault(key, [])
    return answer


_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_LOCAL_START = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def _with_seconds(start: str) -> str:
    # TestAccDowntimeScheduleBasicRecurring answers starts as "2042-07-13T01:02:03"; the API's
    # documented example sends "2023-07-10T18:00": stored and echoed with seconds.
    return start if start.count(":") == 2 else f"{start}:00"


def downtime_answer(attributes: dict, downtime_id: str, created: datetime, modified: datetime,
                    read: bool) -> dict:
    """POST/GET /api/v2/downtime as TestAccDowntimeScheduleBasicRecurring and
    TestAccDowntimeScheduleBasicOneTimeWithMonitorID recorded them."""
    attrs = copy.deepcopy(attributes)
    schedule = attrs.get("schedule") or {}
    zone = schedule.get("timezone") or "UTC"
    if "recurrences" in schedule:
        for recurrence in schedule["recurrences"]:
            recurrence["start"] = _with_seconds(recurrence["start"])
        first = schedule["recurrences"][0]
        begins = datetime.fromisoformat(first["start"]).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        count, unit = _DURATION.match(first["duration"]).groups()
        schedule["current_downtime"] = {"start": _stamp(begins),
                                        "end": _stamp(begins + int(count) * _UNIT[unit])}
        schedule["timezone"] = zone
    attrs["schedule"] = schedule
    attrs.setdefault("display_timezone", "UTC")
    attrs.setdefault("message", None)
    attrs.setdefault("mute_first_recovery_notification", False)
    attrs.setdefault("notify_end_states", ["alert", "no data", "warn"])
    attrs.setdefault("notify_end_types", ["expired"])
    if read:  # the GETs of both cassettes list notify_end_states in another order than sent
        attrs["notify_end_states"] = sorted(attrs["notify_end_states"], reverse=True)
    attrs.update({"canceled": None, "status": "scheduled", "created": _stamp(created),
                  "modified": _stamp(modified)})
    monitor = attrs.get("monitor_identifier", {}).get("monitor_id")
    return {"data": {
        "type": "downtime", "id": downtime_id, "attributes": attrs,
        "relationships": {
            "monitor": {"data": {"type": "monitors", "id": str(monitor)} if monitor else None},
            "created_by": {"data": {"type": "users", "id": CREATOR_ID}}}}}


# ---- the server -----------------------------------------------------------------------------

class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DatadogApi:
    """The org: what the provider created, and the judgments made on what it sent."""

    api_key: str | None = None  # None: any non-empty key is accepted
    app_key: str | None = None
    clock: Any = _now
    monitors: dict[int, dict] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)
    downtimes: dict[str, dict] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # "METHOD path: why", answered 400/404
    unexpected: list[str] = field(default_factory=list)  # endpoints the stand-in does not serve
    shape_errors: list[str] = field(default_factory=list)  # its own answers the client cannot read
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_monitor: int = 243450700
    _widget_counter: list[int] = field(default_factory=lambda: [0])

    def report(self) -> dict:
        return {"requests": [f"{m} {p}" for m, p, _ in self.requests], "rejected": list(self.rejected),
                "unexpected": list(self.unexpected), "shape_errors": list(self.shape_errors)}

    # -- HTTP plumbing

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) if request.data else None
        with self._lock:
            if request.path == "/_standin/report":
                return Response(json.dumps(self.report()), content_type="application/json")
            self.requests.append((request.method, request.path, body))
            try:
                self._authenticate(request)
                status, answer, model = self._route(request.method, request.path, body)
            except Rejected as refusal:
                self.rejected.append(f"{request.method} {request.path}: {refusal}")
                return Response(json.dumps({"errors": [str(refusal)]}), status=refusal.status,
                                content_type="application/json")
        if answer is None:
            return Response(status=status)
        problems = strict_problems(model, answer, unknown_fields=False) if model else []
        if problems:
            self.shape_errors.extend(problems)
        return Response(json.dumps(answer), status=status, content_type="application/json")

    def _authenticate(self, request: Request) -> None:
        api_key = request.headers.get("DD-API-KEY", "")
        app_key = request.headers.get("DD-APPLICATION-KEY", "")
        if not api_key or (self.api_key is not None and api_key != self.api_key):
            raise Rejected(403, "Forbidden: DD-API-KEY missing or wrong")
        if request.path != "/api/v1/validate" and (
                not app_key or (self.app_key is not None and app_key != self.app_key)):
            raise Rejected(403, "Forbidden: DD-APPLICATION-KEY missing or wrong")

    def _judge(self, model: type, body: Any) -> None:
        if body is None:
            raise Rejected(400, f"no JSON body for {model.__name__}")
        problems = strict_problems(model, body)
        if problems:
            raise Rejected(400, "; ".join(problems))

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any, type | None]:
        now = self.clock()
        if (method, path) == ("GET", "/api/v1/validate"):
            return 200, {"valid": True}, AuthenticationValidationResponse
        # Monitors: the provider validates (CustomizeDiff), then creates, reads, updates.
        if method == "POST" and re.fullmatch(r"/api/v1/monitor(/\d+)?/validate", path):
            self._judge(Monitor, body)
            self._check_monitor(body)
            return 200, {}, None
        if (method, path) == ("POST", "/api/v1/monitor"):
            self._judge(Monitor, body)
            self._check_monitor(body)
            monitor_id = self._next_monitor
            self._next_monitor += 1
            self.monitors[monitor_id] = monitor_answer(body, monitor_id, now, now)
            return 200, self.monitors[monitor_id], Monitor
        if found := re.fullmatch(r"/api/v1/monitor/(\d+)", path):
            monitor_id = int(found.group(1))
            if monitor_id not in self.monitors:
                raise Rejected(404, "Monitor not found")
            if method == "GET":
                return 200, self.monitors[monitor_id], Monitor
            if method == "PUT":
                self._judge(Monitor, body)
                self._check_monitor(body)
                created = datetime.fromisoformat(self.monitors[monitor_id]["created"])
                self.monitors[monitor_id] = monitor_answer(body, monitor_id, created, now)
                return 200, self.monitors[monitor_id], Monitor
            if method == "DELETE":
                del self.monitors[monitor_id]
                return 200, {"deleted_monitor_id": monitor_id}, DeletedMonitor
        # Dashboards.
        if (method, path) == ("POST", "/api/v1/dashboard"):
            self._judge(Dashboard, body)
            dashboard_id = f"{uuid.uuid4().hex[:3]}-{uuid.uuid4().hex[:3]}-{uuid.uuid4().hex[:3]}"
            self.dashboards[dashboard_id] = dashboard_answer(body, dashboard_id, now, now, self._widget_counter)
            return 200, self.dashboards[dashboard_id], Dashboard
        if found := re.fullmatch(r"/api/v1/dashboard/([\w-]+)", path):
            dashboard_id = found.group(1)
            if dashboard_id not in self.dashboards:
                raise Rejected(404, f"Dashboard {dashboard_id} not found")
            if method == "GET":
                return 200, self.dashboards[dashboard_id], Dashboard
            if method == "PUT":
                self._judge(Dashboard, body)
                created = datetime.fromisoformat(self.dashboards[dashboard_id]["created_at"])
                self.dashboards[dashboard_id] = dashboard_answer(body, dashboard_id, created, now,
                                                                 self._widget_counter)
                return 200, self.dashboards[dashboard_id], Dashboard
            if method == "DELETE":
                del self.dashboards[dashboard_id]
                return 200, {"deleted_dashboard_id": dashboard_id}, DashboardDeleteResponse
        # Downtimes (v2).
        if (method, path) == ("POST", "/api/v2/downtime"):
            self._judge(DowntimeCreateRequest, body)
            attributes = body["data"]["attributes"]
            self._check_downtime(attributes, now)
            downtime_id = str(uuid.uuid4())
            self.downtimes[downtime_id] = {"attributes": attributes, "created": now, "modified": now}
            return 200, downtime_answer(attributes, downtime_id, now, now, read=False), DowntimeResponse
        if found := re.fullmatch(r"/api/v2/downtime/([\w-]+)", path):
            downtime_id = found.group(1)
            stored = self.downtimes.get(downtime_id)
            if stored is None:
                raise Rejected(404, "Downtime not found")
            if method == "GET":
                return 200, downtime_answer(stored["attributes"], downtime_id, stored["created"],
                                            stored["modified"], read=True), DowntimeResponse
            if method == "PATCH":
                self._judge(DowntimeUpdateRequest, body)
                attributes = {**stored["attributes"], **body["data"]["attributes"]}
                self._check_downtime(attributes, now)
                stored.update(attributes=attributes, modified=now)
                return 200, downtime_answer(attributes, downtime_id, stored["created"], now,
                                            read=False), DowntimeResponse
            if method == "DELETE":
                del self.downtimes[downtime_id]
                return 204, None, None
        self.unexpected.append(f"{method} {path}")
        raise Rejected(404, f"the stand-in does not serve {method} {path}")

    # -- what the real API refuses beyond the models

    @staticmethod
    def _check_monitor(body: dict) -> None:
        # The field notes' fact: the critical threshold must equal the query's number.
        critical = (body.get("options") or {}).get("thresholds", {}).get("critical")
        found = _CRITICAL_IN_QUERY.search(body.get("query", ""))
        if critical is not None and found and float(found.group(1)) != float(critical):
            raise Rejected(400, f"The value provided for parameter 'query' is invalid: critical threshold "
                                f"{critical} does not match the query's {found.group(1)}")

    def _check_downtime(self, attributes: dict, now: datetime) -> None:
        monitor_id = (attributes.get("monitor_identifier") or {}).get("monitor_id")
        if monitor_id is not None and int(monitor_id) not in self.monitors:
            raise Rejected(400, f"monitor {monitor_id} does not exist")
        schedule = attributes.get("schedule") or {}
        zone = ZoneInfo(schedule.get("timezone") or "UTC")
        for recurrence in schedule.get("recurrences") or []:
            parts = {part.split("=", 1)[0].upper() for part in recurrence["rrule"].split(";")}
            if parts & {"DTSTART", "DTEND", "DURATION"}:
                raise Rejected(400, f"Attributes specifying the duration in RRULE are not supported: "
                                    f"{recurrence['rrule']}")
            if not _DURATION.match(recurrence["duration"]):
                raise Rejected(400, f"invalid duration {recurrence['duration']!r}")
            start = recurrence.get("start")
            if start is None:
                continue
            if not _LOCAL_START.match(start):
                raise Rejected(400, f"start {start!r} must be an ISO-8601 local datetime without a UTC offset")
            if datetime.fromisoformat(start).replace(tzinfo=zone) < now - timedelta(minutes=1):
                raise Rejected(400, "Downtime cannot be scheduled in the past")


class Server:
    """The stand-in on 127.0.0.1:`port` (0: any free port), served from a thread."""

    def __init__(self, api: DatadogApi | None = None, port: int = 0) -> None:
        self.api = api or DatadogApi()
        self._server = make_server("127.0.0.1", port, self.api, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--api-key", help="the only DD-API-KEY accepted (default: any)")
    parser.add_argument("--app-key", help="the only DD-APPLICATION-KEY accepted (default: any)")
    args = parser.parse_args(argv)
    server = Server(DatadogApi(api_key=args.api_key, app_key=args.app_key), args.port)
    print(f"listening on {server.url}", flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps(server.api.report(), indent=1), flush=True)


if __name__ == "__main__":
    main()
