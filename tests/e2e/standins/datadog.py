"""NOT the Datadog provider: a keeper of the declared Datadog resources (see __init__.py).

The real pulumi-datadog 5.17.0 cannot be built here. This stand-in only gives the engine what
the program reads back, in the API's formats: a monitor's numeric id, a dashboard's
`abc-def-ghi` id and its `url`, a downtime schedule's UUID. Nothing is sent to any API.
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid

from tests.e2e.standins.common import Handler, Provider, serve

_monitor_ids = itertools.count(int.from_bytes(os.urandom(3), "big") * 100)


class Monitor(Handler):
    force_new = frozenset({"type"})

    def create(self, urn, inputs):
        monitor_id = str(next(_monitor_ids))
        return monitor_id, {**inputs, "id": monitor_id}


class Dashboard(Handler):
    def create(self, urn, inputs):
        dashboard_id = "-".join(uuid.uuid4().hex[i:i + 3] for i in (0, 3, 6))
        return dashboard_id, {**inputs, "id": dashboard_id,
                              "url": f"/dashboard/{dashboard_id}/{inputs.get('title', '').lower().replace(' ', '-')}"}

    def update(self, urn, resource_id, olds, news):
        return {**news, "id": resource_id, "url": olds.get("url", "")}


class DowntimeSchedule(Handler):
    def create(self, urn, inputs):
        downtime_id = str(uuid.uuid4())
        return downtime_id, {**inputs, "id": downtime_id}


if __name__ == "__main__":
    serve(Provider("5.17.0", {
        "datadog:index/monitor:Monitor": Monitor(),
        "datadog:index/dashboard:Dashboard": Dashboard(),
        "datadog:index/downtimeSchedule:DowntimeSchedule": DowntimeSchedule(),
    }), sys.argv[1:])
