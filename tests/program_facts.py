"""What the program declares that decides which series Datadog receives and which it looks for.

Runs the real `__main__.py` under Pulumi's mocks (tests/harness.py) and gives, as JSON, for the
contract test in tests/host (whose venv cannot import the Pulumi SDK):
- per host: its name and every container on its Docker daemon (name, env, labels, uploaded files);
- every Datadog query: each dashboard's widget queries with its template variables, and each
  monitor's query.

    venv/bin/python -m tests.program_facts     # prints them for CONTRACT_CONFIG

Evaluating the program takes seconds (the Pulumi SDKs load), which the Pulumi suite has already
paid for: tests/test_program_facts.py writes the facts to CACHE, stamped with a fingerprint of
every file the program reads and the config. The contract test uses them only when that
fingerprint still matches, and evaluates the program itself otherwise. Importing this module
needs nothing but the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_CONFIG = {"hostCount": "2"}
CACHE = ROOT / ".venvs" / "contract" / "program-facts.json"
# Everything the program's evaluation under mocks reads (tests/harness.py included).
PROGRAM_FILES = ("__main__.py", "Pulumi.yaml", "requirements.txt",
                 "components", "agent", "app", "user_data", "monitors", "scripts",
                 "tests/harness.py", "tests/program_facts.py")
CONTAINER = "docker:index/container:Container"


def fingerprint(config: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in PROGRAM_FILES:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def cached(config: dict[str, Any]) -> dict | None:
    """The facts the Pulumi suite wrote, if they describe the program as it is now."""
    try:
        stamped = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return None
    return stamped["facts"] if stamped.get("fingerprint") == fingerprint(config) else None


def write_cache(config: dict[str, Any]) -> dict:
    found = evaluate_facts(config)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    partial = CACHE.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"fingerprint": fingerprint(config), "facts": found}))
    partial.replace(CACHE)  # atomic: a reader sees the old file or the new one
    return found


def _docker_host(resource) -> str:
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


def evaluate_facts(config: dict[str, Any]) -> dict[str, Any]:
    from tests.harness import evaluate  # the Pulumi SDK: only where the program is evaluated

    declared = evaluate(config)
    hosts: dict[str, list] = {name: [] for name in declared.outputs["hostNames"]}
    for container in declared.of_type(CONTAINER):
        props = container.props
        hosts[_docker_host(container)].append({
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
    json.dump(evaluate_facts(CONTRACT_CONFIG), sys.stdout, indent=1)
