"""Renders a host's user-data from the real files in `user_data/`.

The cloud-config template stays a file that `cloud-init schema` can check; this module only adds
what differs per host (its name) and ships the scripts beside it as `write_files`, with a small
env file of non-secret settings they read.
"""

from __future__ import annotations

import functools
import shlex
from pathlib import Path

import yaml

USER_DATA_DIR = Path(__file__).resolve().parent.parent / "user_data"
ENV_FILE = "/etc/dd-assessment/host.env"
PREPARE_POSTGRES = "/usr/local/sbin/dd-assessment-prepare-postgres"
PREFETCH_IMAGES = "/usr/local/sbin/dd-assessment-prefetch-images"
ROLE_SQL = "/usr/local/share/dd-assessment/datadog-role.sql"
# Instance tags naming the images the host pulls at first boot (user_data/prefetch-images.sh reads
# them from the instance metadata): tags, so a new Agent version never changes user-data.
AGENT_IMAGE_TAG = "agentImage"
APP_BASE_IMAGE_TAG = "appBaseImage"


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so the rendered scripts stay readable."""


_BlockDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


@functools.cache
def _read(name: str) -> str:
    """A file of user_data/, read once however many hosts are rendered."""
    return (USER_DATA_DIR / name).read_text()


def render_user_data(*, host_name: str, region: str, password_parameter: str,
                     agent_network_cidr: str) -> str:
    """The #cloud-config for one host. Deterministic: same inputs, same bytes."""
    config = yaml.safe_load(_read("cloud-config.yaml"))
    environment = {
        "AWS_REGION": region,
        "DATADOG_PASSWORD_PARAMETER": password_parameter,
        "AGENT_NETWORK_CIDR": agent_network_cidr,
        "PREFETCH_IMAGE_TAGS": f"{AGENT_IMAGE_TAG} {APP_BASE_IMAGE_TAG}",
    }
    env_file = "".join(f"{key}={shlex.quote(value)}\n" for key, value in environment.items())
    config = {
        "hostname": host_name,
        **config,
        "write_files": [
            {"path": ENV_FILE, "permissions": "0644", "content": env_file},
            {"path": ROLE_SQL, "permissions": "0644",
             "content": _read("datadog-role.sql")},
            {"path": PREPARE_POSTGRES, "permissions": "0755",
             "content": _read("prepare-postgres.sh")},
            {"path": PREFETCH_IMAGES, "permissions": "0755",
             "content": _read("prefetch-images.sh")},
        ],
    }
    return "#cloud-config\n" + yaml.dump(config, Dumper=_BlockDumper, sort_keys=False, width=100)
