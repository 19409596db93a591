"""Where an EC2 instance of the stand-in actually runs.

With `DD_E2E_HOSTS=real` every instance becomes a real test host (tests/e2e/hosts/testhosts.py:
a network namespace with sshd, Docker Engine and PostgreSQL booted from the instance's user data)
and the instance's public IP is that host's address. Otherwise (`DD_E2E_HOSTS` unset or `none`,
for runs that exercise AWS resources only) no host exists and the instance gets an address from
TEST-NET-1 (RFC 5737), which nothing answers: moto's own invented public addresses are never used,
so nothing here can send traffic to a stranger's machine.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any, Protocol


class HostFactory(Protocol):
    def create_host(self, instance_id: str, user_data: str, authorized_key: str,
                    tags: dict[str, str], index: int) -> dict[str, Any]: ...

    def destroy_host(self, instance_id: str) -> None: ...


class NoHosts:
    """Instances without machines behind them: addresses nothing answers."""

    def create_host(self, instance_id: str, user_data: str, authorized_key: str,
                    tags: dict[str, str], index: int) -> dict[str, Any]:
        return {"ip": str(ipaddress.ip_address("192.0.2.10") + index), "host_key": "",
                "netns": ""}

    def destroy_host(self, instance_id: str) -> None:
        pass


def host_factory() -> HostFactory:
    choice = os.environ.get("DD_E2E_HOSTS", "none")
    if choice == "real":
        # The hosts module's documented import (/work/coord/e2e-hosts-interface.md): by its folder.
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hosts"))
        return importlib.import_module("testhosts")  # type: ignore[return-value]
    if choice == "none":
        return NoHosts()
    raise SystemExit(f"DD_E2E_HOSTS must be 'real' or 'none', not {choice!r}")
