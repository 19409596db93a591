"""Render the files that get uploaded into the Datadog Agent container.

Pure Python (no Pulumi import) so it can be unit-tested on its own. The
templates live in the repo under ``agent/``; the Pulumi program calls these
functions and uploads the results to the ``*_DEST`` paths below. At start the
Agent image copies ``/conf.d/**/*.yaml`` and ``/checks.d/*.py`` into
``/etc/datadog-agent/``, so the files must be in place before the container
starts (a change needs a container restart/replacement).

Output is deterministic: the same arguments always give the same bytes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from components.design import AGENT_NETWORK_GATEWAY, POSTGRES_PORT

REPO_ROOT = Path(__file__).resolve().parent.parent
AGENT_DIR = REPO_ROOT / "agent"

#: Name of the custom check; ``checks.d/<name>.py`` and ``conf.d/<name>.d`` must match.
CHECK_NAME = "my_metric"

CHECK_SOURCE_PATH = AGENT_DIR / "checks.d" / f"{CHECK_NAME}.py"
MY_METRIC_CONF_PATH = AGENT_DIR / "conf.d" / f"{CHECK_NAME}.d" / "conf.yaml"
POSTGRES_CONF_PATH = AGENT_DIR / "conf.d" / "postgres.d" / "conf.yaml"

#: In-container destinations (the image copies these into /etc/datadog-agent at start).
CHECK_SOURCE_DEST = f"/checks.d/{CHECK_NAME}.py"
MY_METRIC_CONF_DEST = f"/conf.d/{CHECK_NAME}.d/conf.yaml"
POSTGRES_CONF_DEST = "/conf.d/postgres.d/conf.yaml"

POSTGRES_USER = "datadog"

_HEADER = "# Rendered by components/agent_files.py from {src}; do not edit here.\n"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("instances"), list)
        or not data["instances"]
    ):
        raise ValueError(
            f"{path}: expected a mapping with a non-empty 'instances' list"
        )
    return data


def _dump(data: dict[str, Any], src: Path) -> str:
    body = yaml.safe_dump(
        data,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
    return _HEADER.format(src=src.relative_to(REPO_ROOT).as_posix()) + body


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def render_my_metric_conf(interval_seconds: int) -> str:
    """``conf.d/my_metric.d/conf.yaml`` with the instance's ``min_collection_interval`` set."""
    interval = _positive_int("interval_seconds", interval_seconds)
    data = copy.deepcopy(_load(MY_METRIC_CONF_PATH))
    if data.get("init_config") is None:
        data["init_config"] = {}
    for instance in data["instances"]:
        instance["min_collection_interval"] = interval
    return _dump(data, MY_METRIC_CONF_PATH)


def render_postgres_conf(
    *,
    password: str,
    reported_hostname: str,
    env: str,
    tags: Sequence[str],
    host: str = AGENT_NETWORK_GATEWAY,
    port: int = POSTGRES_PORT,
    dbname: str = "postgres",
) -> str:
    """``conf.d/postgres.d/conf.yaml`` with connection settings, password, host name and tags.

    ``reported_hostname`` is the host's Datadog host name (the Agent's ``DD_HOSTNAME``): the
    check sends every metric and its ``postgres.can_connect`` service check under it. ``env`` is
    added as an ``env:`` tag unless ``tags`` already carry that very tag (unified service
    tagging). The result contains the password: upload it as a secret.
    """
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if not isinstance(reported_hostname, str) or not reported_hostname.strip():
        raise ValueError("reported_hostname must be the host's Datadog host name")
    if not isinstance(env, str) or not env.strip():
        raise ValueError(f"env must be a non-empty tag value, got {env!r}")
    if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
        raise ValueError("tags must be a sequence of non-empty strings")
    other_envs = [t for t in tags if t.startswith("env:") and t != f"env:{env}"]
    if other_envs:
        raise ValueError(f"tags {other_envs} contradict env {env!r}")
    if not isinstance(host, str) or not host:
        raise ValueError("host must be a non-empty string")
    port = _positive_int("port", port)
    if not isinstance(dbname, str) or not dbname:
        raise ValueError("dbname must be a non-empty string")

    data = copy.deepcopy(_load(POSTGRES_CONF_PATH))
    if data.get("init_config") is None:
        data["init_config"] = {}
    if len(data["instances"]) != 1:
        raise ValueError(f"{POSTGRES_CONF_PATH}: expected exactly one instance")
    template = data["instances"][0]
    # Connection keys first, in a fixed order, then the template's other keys.
    instance: dict[str, Any] = {
        "host": host,
        "port": port,
        "username": template.get("username", POSTGRES_USER),
        "password": password,
        "dbname": dbname,
        "reported_hostname": reported_hostname,
        "tags": list(tags) + ([] if f"env:{env}" in tags else [f"env:{env}"]),
    }
    for key, value in template.items():
        instance.setdefault(key, value)
    data["instances"] = [instance]
    return _dump(data, POSTGRES_CONF_PATH)


def read_check_source() -> str:
    """Text of ``agent/checks.d/my_metric.py``."""
    return CHECK_SOURCE_PATH.read_text(encoding="utf-8")
