"""How every SSH client of this project reaches a host, and how it knows it reached the right one.

Transport: with `hostAccess: ssm` (the default) no port is open; `ssh` runs
`aws ssm start-session ... --document-name AWS-StartSSHSession` as its ProxyCommand and connects
to `ec2-user@<instance id>`. With `ssh`, it connects to `ec2-user@<public ip>` on port 22.

Host key: pinned, never trusted on first use. The readiness gate obtains the new host's key over a
channel AWS authenticates and Pulumi keeps it in the state; every client here gets it from
`KnownHostsCommand` (OpenSSH 8.5+), with `StrictHostKeyChecking=yes` and no known_hosts file at
all, so any machine with the state and the IAM rights connects and a host showing another key is
refused.

Plain functions, no Pulumi import: the component, the stack outputs and the tests (which run these
options against a real OpenSSH server) all use the same ones.
"""

from __future__ import annotations

import re
import shlex

ACCESS_MODES = ("ssm", "ssh")
LOGIN_USER = "ec2-user"
SSM_DOCUMENT = "AWS-StartSSHSession"
# OpenSSH runs KnownHostsCommand without a shell and insists on an absolute path; /bin/echo exists
# on Linux (merged /usr or not) and macOS alike.
ECHO = "/bin/echo"
HOST_KEY_TYPE = "ssh-ed25519"  # Amazon Linux 2023 always generates one; the gate asks for it
# How long a client waits for a host before it gives up: OpenSSH applies ConnectTimeout to the TCP
# connect and to the banner exchange, so it bounds a Session Manager tunnel (ProxyCommand) that
# never answers as well as an address that drops packets (ssh_config(5)). A session that dies
# later (the instance stopped mid-burst) ends after ServerAliveInterval x ServerAliveCountMax
# seconds without an answer, instead of the kernel's TCP timeout of many minutes.
CONNECT_TIMEOUT_SECONDS = 20
_HOST_KEY = re.compile(re.escape(HOST_KEY_TYPE) + r" [A-Za-z0-9+/]+={0,2}")


def proxy_command(instance_id: str, region: str) -> str:
    """The Session Manager tunnel to the instance's port 22 (`%p`), as AWS documents it."""
    return (f"aws ssm start-session --target {instance_id} --document-name {SSM_DOCUMENT} "
            f"--parameters portNumber=%p --region {region}")


def destination(access: str, instance_id: str, public_ip: str) -> str:
    return f"{LOGIN_USER}@{instance_id if access == 'ssm' else public_ip}"


def transport_options(access: str, private_key_path: str, instance_id: str, region: str) -> list[str]:
    """How to get there and who we are. `ssh` expands a leading `~` in `-i` itself."""
    options = ["-i", private_key_path, "-o", "IdentitiesOnly=yes"]
    if access == "ssm":
        options += ["-o", f"ProxyCommand={proxy_command(instance_id, region)}"]
    return options


def connection_options(connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> list[str]:
    """Every SSH client this project builds gives up on an unreachable or silent host."""
    return ["-o", f"ConnectTimeout={connect_timeout}",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]


def pinned_host_key_options(host_key: str) -> list[str]:
    """Accept exactly `host_key`: no known_hosts file is read or written, nothing is asked."""
    return ["-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
            # %H: whatever name ssh looks the host up under, so the line always matches it.
            "-o", f"KnownHostsCommand={ECHO} %H {host_key}"]


def docker_ssh_options(access: str, private_key_path: str, instance_id: str, region: str,
                       host_key: str) -> list[str]:
    """pulumi-docker's `ssh_opts`: it runs `ssh -l ec2-user <these> -T -- <host> docker system
    dial-stdio` (docker/cli's connection helper), with no terminal to answer a question."""
    return (transport_options(access, private_key_path, instance_id, region)
            + ["-o", "BatchMode=yes"] + connection_options()
            + pinned_host_key_options(host_key))


def ssh_command(access: str, private_key_path: str, instance_id: str, public_ip: str, region: str,
                host_key: str, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> str:
    """A shell command for people and `make load`: `shlex.split` it and append a remote command.
    No BatchMode: a person may have to type the key's passphrase."""
    return shlex.join(["ssh", *transport_options(access, private_key_path, instance_id, region),
                       *connection_options(connect_timeout), *pinned_host_key_options(host_key),
                       destination(access, instance_id, public_ip)])


def parse_host_key(gate_stdout: str) -> str:
    """The `<type> <base64>` line the readiness gate printed; anything else is a broken gate."""
    line = gate_stdout.strip()
    if not _HOST_KEY.fullmatch(line):
        raise ValueError(f"the readiness gate printed {line[:80]!r} instead of the host's "
                         f"{HOST_KEY_TYPE} public key; see its log above")
    return line
