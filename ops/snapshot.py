"""`make snapshot`: the exercise's step 2b, "take a snapshot of this graph and use the @ notation
to send it to yourself", without the UI.

    make snapshot [STACK=test] [ARGS="--outputs FILE"]

Takes a graph snapshot of my_metric per host over the past 5 minutes (GET /api/v1/graph/snapshot)
and posts it as an event (POST /api/v1/events) whose text @-mentions the stack's notifyHandles,
so Datadog notifies them; prints the snapshot and event links. Exit 0 when posted, 2 when it
cannot (no keys, unknown stack, API unreachable, bad outputs file).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping

from ops.common import (
    PASSED,
    add_stack_arguments,
    datadog_keys,
    environment,
    load_stack,
    run_tool,
)
from ops.verify import any_host

REQUIRED_OUTPUTS = ("hostNames", "datadogSite", "notifyHandles")
WINDOW = 5 * 60  # seconds: "the past 5 minutes"


def snapshot_query(hosts: list[str]) -> str:
    return f"avg:my_metric{{{any_host(hosts)}}} by {{host}}"


def event_title(stack: str) -> str:
    return f"my_metric per host, past 5 minutes (stack {stack})"


def event_text(*, stack: str, hosts: list[str], handles: list[str], snapshot_url: str) -> str:
    """Markdown (Datadog's `%%% \\n ... \\n %%%` block) showing the graph, its link, and the
    @-mentions that make Datadog notify each handle."""
    return (f"%%% \n"
            f"Snapshot of my_metric per host ({', '.join(hosts)}) over the past 5 minutes, "
            f"stack {stack}.\n\n"
            f"![my_metric per host]({snapshot_url})\n\n"
            f"{snapshot_url}\n\n"
            f"{' '.join(handles)}\n %%%")


def main(argv: list[str] | None = None, *, env: Mapping[str, str] | None = None,
         now: Callable[[], float] = time.time) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.snapshot",
        description="Snapshot my_metric per host over the past 5 minutes and send it to the "
                    "stack's notifyHandles as an event (make snapshot STACK=... ARGS=\"...\").")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)

    def run() -> int:
        environ = environment(env)
        stack = load_stack(args, REQUIRED_OUTPUTS, env=environ)
        api_key, app_key = datadog_keys(stack, environ)
        from ops.datadog_api import DatadogApi
        hosts, handles = stack["hostNames"], stack["notifyHandles"]
        end = now()
        with DatadogApi(site=stack.site, api_key=api_key, app_key=app_key, env=environ) as api:
            url = api.graph_snapshot(snapshot_query(hosts), end - WINDOW, end, event_title(stack.name))
            event = api.post_event(
                title=event_title(stack.name), tags=[f"stack:{stack.name}"],
                text=event_text(stack=stack.name, hosts=hosts, handles=handles, snapshot_url=url))
        print(f"snapshot: {url}")
        print(f"event:    {event.get('url') or '(Datadog returned no link)'} "
              f"(notifies {' '.join(handles)})")
        return PASSED

    return run_tool("snapshot", run)


if __name__ == "__main__":
    sys.exit(main())
