"""What the program declares that decides which series Datadog receives and which it looks for.

Runs the real `__main__.py` under Pulumi's mocks (tests/harness.py) and prints, as JSON, for the
contract test in tests/host (whose venv cannot import the Pulumi SDK):
- per host: its name and every container on its Docker daemon (name, env, labels, uploaded files);
- every Datadog query: each dashboard's widget queries with its template variables, and each
  monitor's query.

    venv/bin/python -m tests.program_facts '{"hostCount": "2"}'
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.harness import Declared, evaluate

CONTAINER = "docker:index/container:Container"


def _docker_host(declared: Declared, resource) -> str:
    """The host whose Docker provider (`<host>-docker`) declares this resource."""
    provider = resource.provider.rsplit("::", 1)[0].rsplit("::", 1)[-1]
    assert provider.endswith("-docker"), resource.provider
    return provider.removesuffix("-docker")


def _metric_queries(widgets: list) -> list[dict]:
    """Every metrics query of every widget, groups included, with its widget's title."""
    found = []
    for widget in widgets:
        for definition in widget.values():
            if not isinstance(definition, dict):
                continue
            found += _metric_queries(definition.get("widgets", []))
            for request in definition.get("requests", []):
                for query in request.get("queries", []):
                    metric = query.get("metricQuery")
                    if metric:
                        found.append({"widget": definition.get("title", ""),
                                      "query": metric["query"]})
    return found


def facts(declared: Declared) -> dict[str, Any]:
    hosts: dict[str, list] = {name: [] for name in declared.outputs["hostNames"]}
    for container in declared.of_type(CONTAINER):
        props = container.props
        hosts[_docker_host(declared, container)].append({
            "name": props["name"],
            "env": dict(item.split("=", 1) for item in props.get("envs", [])),
            "labels": {item["label"]: item["value"] for item in props.get("labels", [])},
            "uploads": {item["file"]: item["content"] for item in props.get("uploads", [])},
        })
    return {
        "hosts": [{"name": name, "containers": containers} for name, containers in hosts.items()],
        "dashboards": [{"name": dashboard.name,
                        "template_variables": dashboard.props.get("templateVariables", []),
                        "queries": _metric_queries(dashboard.props["widgets"])}
                       for dashboard in declared.of_type("datadog:index/dashboard:Dashboard")],
        "monitors": [{"name": monitor.name, "query": monitor.props["query"]}
                     for monitor in declared.of_type("datadog:index/monitor:Monitor")],
    }


if __name__ == "__main__":
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    json.dump(facts(evaluate(config)), sys.stdout, indent=1)
