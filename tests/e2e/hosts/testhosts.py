"""Test hosts for `make e2e`: each EC2 instance the AWS stand-in launches becomes one of these.

INTERFACE FIRST (the e2e driver codes against it); the implementation follows in the next
commits. All state lives under $DD_E2E_DIR (hosts/<instance id>/...), so the AWS provider
process (creates hosts), the `aws` stand-in (tests/e2e/bin/aws, looks them up) and the driver
(checks and cleans up) share it.
"""

from __future__ import annotations


def create_host(instance_id: str, user_data: str, authorized_key: str,
                tags: dict[str, str], index: int) -> dict:
    """Start a host and its boot; returns its registry entry at once (the boot goes on in the
    background, as EC2's does: `cloud-init status --wait` over SSH waits for it).

    Entry: {"instance_id", "index", "ip" (10.231.<index>.2), "host_key" ("ssh-ed25519 AAAA..."),
    "netns", "dir", "tags", ...}."""
    raise NotImplementedError


def destroy_host(instance_id: str) -> None:
    """Stop everything of that host and remove its traces. Idempotent."""
    raise NotImplementedError


def destroy_all() -> None:
    raise NotImplementedError


def hosts() -> dict[str, dict]:
    """instance id -> registry entry, for every host in $DD_E2E_DIR."""
    raise NotImplementedError


def console_output(instance_id: str) -> str:
    """What cloud-init writes to the console, host keys between the BEGIN/END markers."""
    raise NotImplementedError


def docker_ps(instance_id: str) -> list[dict]:
    """`docker ps -a` of that host's engine, one dict per container (docker's JSON format)."""
    raise NotImplementedError


def exec_in(instance_id: str, cmd: list[str] | str, *, timeout: float = 120,
            check: bool = False):
    """Run `cmd` (argv list, or a shell string) as root in the host's namespaces (network, mount,
    UTS): its docker, its /run. Returns subprocess.CompletedProcess (text, captured)."""
    raise NotImplementedError
