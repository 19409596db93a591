"""Reaching a host, against a real OpenSSH server (tests/openssh_server.py): the readiness gate,
the exact options pulumi-docker receives, and the `sshCommands` output, over both transports."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time

import pytest

from components import host_access
from tests import openssh_server
from tests.openssh_server import INSTANCE_ID, REGION

GATE = openssh_server.ROOT / "scripts" / "wait-for-cloud-init.sh"
# cloud-init's own record of a boot (/run/cloud-init/status.json, schema v1), as the server has it.
STATUS_JSON = json.dumps({"v1": {
    "datasource": "DataSourceEc2Local", "stage": None,
    "init-local": {"errors": [], "start": 1000.0, "finished": 1001.5},
    "init": {"errors": [], "start": 1003.0, "finished": 1010.0},
    "modules-init": {"errors": [], "start": None, "finished": None},
    "modules-config": {"errors": [], "start": 1011.0, "finished": 1013.0},
    "modules-final": {"errors": [], "start": 1014.0, "finished": 1131.25}}})
BOOT_LINE = "first boot: cloud-init ran 131 s (init-local 2 s, init 7 s, modules-config 2 s, modules-final 117 s)"


@pytest.fixture(scope="module")
def server():
    if os.geteuid() != 0:
        pytest.skip("needs root: sshd runs in a network and mount namespace of its own "
                    "(.ci/run runs the tests as root)")
    if not os.path.exists(openssh_server.SSHD):
        pytest.skip("OpenSSH server missing: install Debian's `openssh-server` (make test does)")
    created = openssh_server.create(STATUS_JSON)
    try:
        created.start()
        yield created
    finally:
        openssh_server.destroy(created)


@pytest.fixture(scope="module")
def other_key(server) -> str:
    """An ed25519 key the server does not have: what an impostor would present."""
    return openssh_server.generate_key(server.workdir / "impostor_key")


@pytest.fixture(autouse=True)
def fresh_state(server):
    server.aws_log.write_text("")
    server.set_cloud_init_exit(0)


def _console(*keys: str) -> str:
    """Console output as EC2 returns it (CRLF, kernel noise) with cloud-init's host key block."""
    lines = ["[    0.000000] Linux version 6.1.0 (builder@amazon)", "cloud-init[1650]: Cloud-init v. 22.2.2",
             "-----BEGIN SSH HOST KEY KEYS-----", *keys, "-----END SSH HOST KEY KEYS-----",
             "Cloud-init v. 22.2.2 finished"]
    return "\r\n".join(lines) + "\r\n"


def _gate(server, access: str, attempts: int = 40) -> subprocess.Popen:
    env = {**server.client_env(), "HOST_ACCESS": access, "INSTANCE_ID": INSTANCE_ID, "AWS_REGION": REGION,
           "DESTINATION": host_access.destination(access, INSTANCE_ID, server.address),
           "SSH_OPTIONS": "\n".join(host_access.transport_options(
               access, str(server.client_key), INSTANCE_ID, REGION)),
           "SSH_ATTEMPTS": str(attempts), "SSH_PAUSE": "0.1", "SSH_CONNECT_TIMEOUT": "2"}
    return subprocess.Popen(["bash", str(GATE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(gate: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = gate.communicate(timeout=30)
    return subprocess.CompletedProcess(gate.args, gate.returncode, stdout, stderr)


def _aws_calls(server) -> list[str]:
    return server.aws_log.read_text().splitlines()


SESSION = (f"ssm start-session --target {INSTANCE_ID} --document-name AWS-StartSSHSession "
           f"--parameters portNumber=22 --region {REGION}")
CONSOLE = f"ec2 get-console-output --instance-id {INSTANCE_ID} --region {REGION} --latest --query Output --output text"


def test_gate_over_session_manager_waits_for_sshd_then_pins_its_ed25519_key(server):
    server.stop()
    gate = _gate(server, "ssm")
    time.sleep(0.4)  # the gate is retrying against a host whose sshd is not up yet
    server.start()
    result = _finish(gate)
    assert result.returncode == 0, result.stderr
    assert result.stdout == server.host_key + "\n"  # its only output: what Pulumi keeps and pins
    assert BOOT_LINE in result.stderr
    calls = _aws_calls(server)
    assert len(calls) >= 3 and set(calls) == {SESSION}  # retried, and never anything but the tunnel


def test_gate_over_ssh_takes_the_key_from_the_console_output(server):
    ecdsa = " ".join((server.workdir / "ssh_host_ecdsa_key.pub").read_text().split()[:2])
    server.console_output.write_text(_console(ecdsa, server.host_key + " root@ip-10-42-1-17"))
    result = _finish(_gate(server, "ssh"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == server.host_key + "\n"
    assert BOOT_LINE in result.stderr
    assert _aws_calls(server) == [CONSOLE]  # the SSH itself went straight to the address


def test_gate_over_ssh_waits_for_the_keys_to_reach_the_console(server):
    server.console_output.write_text("[    0.000000] Linux version 6.1.0\r\n")
    result = _finish(_gate(server, "ssh", attempts=3))
    assert result.returncode == 1
    assert "no host key in the console output after 3 attempts" in result.stderr
    assert result.stdout == ""


def test_gate_refuses_a_host_whose_key_is_not_the_one_aws_reported(server, other_key):
    server.console_output.write_text(_console(other_key))
    result = _finish(_gate(server, "ssh", attempts=2))
    assert result.returncode == 1
    assert "no SSH answer with the host key from the console" in result.stderr
    assert "Host key verification failed" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("code, passes", [(1, False), (2, True)])
def test_gate_fails_on_a_failed_boot_and_accepts_a_degraded_one(server, code, passes):
    server.set_cloud_init_exit(code)
    result = _finish(_gate(server, "ssm"))
    if passes:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 1
        assert f"cloud-init failed (exit {code})" in result.stderr
        assert result.stdout == ""


def _ssh(server, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=server.client_env(), capture_output=True, text=True, timeout=30)


def _as_docker_runs_it(options: list[str], host: str) -> list[str]:
    """docker/cli's connection helper (cli/connhelper/ssh): `ssh -l <user> <ssh_opts> -T -- <host>
    <remote command>`; here the remote command proves the session instead of dial-stdio."""
    return ["ssh", "-l", host_access.LOGIN_USER, *options, "-T", "--", host, "echo", "dial-stdio-would-run"]


@pytest.mark.parametrize("access", host_access.ACCESS_MODES)
def test_docker_provider_options_accept_the_pinned_key_and_refuse_any_other(server, other_key, access):
    host = INSTANCE_ID if access == "ssm" else server.address
    pinned = host_access.docker_ssh_options(access, str(server.client_key), INSTANCE_ID, REGION,
                                            server.host_key)
    accepted = _ssh(server, _as_docker_runs_it(pinned, host))
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout == "dial-stdio-would-run\n"

    impostor = host_access.docker_ssh_options(access, str(server.client_key), INSTANCE_ID, REGION, other_key)
    refused = _ssh(server, _as_docker_runs_it(impostor, host))
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr
    assert "dial-stdio-would-run" not in refused.stdout
    assert _aws_calls(server) == ([SESSION, SESSION] if access == "ssm" else [])


@pytest.mark.parametrize("access", host_access.ACCESS_MODES)
def test_ssh_commands_output_takes_a_remote_command(server, access):
    command = host_access.ssh_command(access, str(server.client_key), INSTANCE_ID, server.address,
                                      REGION, server.host_key)
    result = _ssh(server, shlex.split(command) + ["echo", "load", "from", "$(hostname)"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("load from ")



# --- A host that does not answer: every command gives up (no server, no root needed) ------------


def _silent_aws(tmp_path) -> dict[str, str]:
    """A Session Manager tunnel that opens and never carries a byte: an instance that is stopped,
    or whose SSM agent is not up."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text("#!/bin/sh\nexec sleep 60\n")
    (bin_dir / "aws").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}


def _gives_up(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    return result, time.monotonic() - started


def test_ssh_commands_give_up_on_a_silent_session_manager_tunnel(tmp_path):
    command = host_access.ssh_command("ssm", str(tmp_path / "key"), INSTANCE_ID, "198.51.100.7", REGION,
                                      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinned", connect_timeout=1)
    result, seconds = _gives_up(shlex.split(command) + ["true"], _silent_aws(tmp_path))
    assert result.returncode == 255
    assert "timed out" in result.stderr, result.stderr
    assert seconds < 10  # without ConnectTimeout: as long as the tunnel stays silent


def test_ssh_commands_and_docker_options_give_up_on_an_address_that_never_answers(tmp_path):
    import socket
    with socket.socket() as silent:  # accepts the TCP connection, never sends SSH's banner
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = str(silent.getsockname()[1])
        command = shlex.split(host_access.ssh_command(
            "ssh", str(tmp_path / "key"), INSTANCE_ID, "127.0.0.1", REGION,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinned", connect_timeout=1))
        result, seconds = _gives_up(command[:1] + ["-p", port] + command[1:] + ["true"], _silent_aws(tmp_path))
        assert result.returncode == 255
        assert "timed out" in result.stderr, result.stderr
        assert seconds < 10
    # pulumi-docker's options carry the same bound (its default, 20 s, written out).
    options = host_access.docker_ssh_options("ssm", "key", INSTANCE_ID, REGION, "ssh-ed25519 AAAA")
    assert ["-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=4"] == options[options.index("ConnectTimeout=20") - 1:][:6]
