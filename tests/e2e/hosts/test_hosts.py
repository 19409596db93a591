"""The facts `make e2e` relies on about its test hosts (issue 17, items 3 and 5), each checked on
real hosts booted from the program's own user-data (components/user_data.py) with the password in
moto's SSM, the way the AWS stand-in starts them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import images
import testhosts
from conftest import REGION, ROOT, figure

from components import host_access
from components.design import AGENT_NETWORK_CIDR, AGENT_NETWORK_GATEWAY, AGENT_NETWORK_NAME

AWS = str(ROOT / "tests" / "e2e" / "bin" / "aws")


def sh(host, command: str, timeout: float = 300) -> str:
    return testhosts.exec_in(host.id, command, timeout=timeout, check=True).stdout.strip()


def ssh(host, key: Path, command: str, host_key: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    """ssh to the host as the program's clients do: ec2-user@<instance id> through the Session
    Manager ProxyCommand, pinned to the host key (components/host_access.py)."""
    options = host_access.docker_ssh_options("ssm", str(key), host.id, REGION,
                                             host_key or host.entry["host_key"])
    return subprocess.run(["ssh", "-l", host_access.LOGIN_USER, *options, "-T", "--", host.id, command],
                          capture_output=True, text=True, timeout=timeout, env=_aws_env())


def _aws_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{ROOT / 'tests' / 'e2e' / 'bin'}:{os.environ['PATH']}", **extra}


@pytest.fixture(scope="session")
def agent_network(booted):
    """The program's shared network (name, subnet, gateway from components/design.py) on both
    hosts at once: each host's engine has its own 172.30.0.0/24."""
    for host in booted:
        sh(host, f"docker network create --driver bridge --subnet {AGENT_NETWORK_CIDR} "
                 f"--gateway {AGENT_NETWORK_GATEWAY} {AGENT_NETWORK_NAME}")
    return AGENT_NETWORK_NAME


def test_each_engine_serves_its_own_namespace_alone(booted):
    first, second = booted
    ids = [sh(h, "docker info --format '{{.ID}} {{.Driver}}'") for h in booted]
    assert ids[0] != ids[1], "both hosts reached the same engine"
    assert all(i.endswith(" vfs") for i in ids), ids
    assert all(Path(f"/proc/{h.entry['dockerd_pid']}/status").read_text().count("Uid:\t0\t") for h in booted)
    sh(first, f"docker run -d --name only-on-first {images.PYTHON_IMAGE} sleep 600")
    try:
        assert "only-on-first" in sh(first, "docker ps --format '{{.Names}}'")
        assert "only-on-first" not in sh(second, "docker ps -a --format '{{.Names}}'")
        # The root namespace's /run/docker.sock (another engine's, if any) is not this one.
        sockets = {os.stat(f"/proc/{h.entry['anchor_pid']}/root/run/docker.sock").st_ino for h in booted}
        assert len(sockets) == 2
        if Path("/run/docker.sock").exists():
            assert os.stat("/run/docker.sock").st_ino not in sockets
    finally:
        sh(first, "docker rm -f only-on-first")


def test_ssh_through_session_manager_reaches_that_hosts_engine(booted, login_key, e2e_dir):
    log = e2e_dir / "ssm-sessions.log"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    for host in booted:
        answer = ssh(host, login_key, "id -nG; docker info --format '{{.ID}}'")
        assert answer.returncode == 0, answer.stderr
        groups, engine = answer.stdout.split("\n", 1)
        assert "docker" in groups.split(), groups
        assert engine.strip() == sh(host, "docker info --format '{{.ID}}'")
    sessions = [json.loads(line) for line in log.read_text().splitlines()[before:]]
    assert [(s["target"], s["port"]) for s in sessions] == [(h.id, 22) for h in booted]


def test_a_host_presenting_another_key_is_refused(booted, login_key):
    first, second = booted
    assert first.entry["host_key"] != second.entry["host_key"]
    answer = ssh(first, login_key, "true", host_key=second.entry["host_key"])
    assert answer.returncode == 255
    assert "Host key verification failed" in answer.stderr


def test_the_readiness_gate_learns_each_hosts_key(booted, login_key):
    """scripts/wait-for-cloud-init.sh as the program runs it, in both access modes: through
    Session Manager, and (ssh) from the console output, where the boot printed the key."""
    for host in booted:
        for access, destination, options in (
                ("ssm", host.id, host_access.transport_options("ssm", str(login_key), host.id, REGION)),
                ("ssh", host.ip, host_access.transport_options("ssh", str(login_key), host.id, REGION))):
            started = time.monotonic()
            gate = subprocess.run(
                ["bash", str(ROOT / "scripts" / "wait-for-cloud-init.sh")],
                capture_output=True, text=True, timeout=120, env=_aws_env(
                    HOST_ACCESS=access, DESTINATION=f"ec2-user@{destination}",
                    INSTANCE_ID=host.id, AWS_REGION=REGION, SSH_OPTIONS="\n".join(options),
                    SSH_ATTEMPTS="3", SSH_PAUSE="1"))
            assert gate.returncode == 0, gate.stderr
            assert gate.stdout == host.entry["host_key"] + "\n"
            assert "first boot: cloud-init ran" in gate.stderr, gate.stderr
            figure(f"readiness gate ({access}) on a booted host: {time.monotonic() - started:.1f} s")


def test_the_shared_network_has_its_gateway_aliases_and_nat(booted, agent_network):
    for host in booted:
        # The host holds the gateway address, as PostgreSQL's listen and pg_hba rely on.
        assert f"inet {AGENT_NETWORK_GATEWAY}/24" in sh(host, "ip -o addr show")
        sh(host, f"docker run -d --name alias-server --network {agent_network} "
                 f"--network-alias datadog-agent {images.PYTHON_IMAGE} python3 -m http.server 8126")
        try:
            fetch = ("import socket, time, urllib.request\n"
                     "for _ in range(50):\n"
                     "    try:\n"
                     "        body = urllib.request.urlopen('http://datadog-agent:8126/', timeout=2).status\n"
                     "        break\n"
                     "    except OSError:\n"
                     "        time.sleep(0.2)\n"
                     "print(socket.gethostbyname('datadog-agent'), body)\n"
                     "print(urllib.request.urlopen('https://pypi.org/simple/pg8000/', timeout=30).status)\n")
            answer = testhosts.exec_in(host.id, ["docker", "run", "--rm", "--network", agent_network,
                                                 images.PYTHON_IMAGE, "python3", "-c", fetch],
                                       timeout=120, check=True).stdout.strip()
            server_ip = sh(host, "docker inspect --format "
                                 f"'{{{{(index .NetworkSettings.Networks \"{agent_network}\").IPAddress}}}}' alias-server")
            resolved, status = answer.splitlines()[0].split()
            assert resolved == server_ip and server_ip.startswith("172.30.0."), answer
            assert status == "200", answer
            assert answer.splitlines()[1] == "200", "PyPI not reached through the host's NAT"
        finally:
            sh(host, "docker rm -f alias-server")


PG_PROBE = ("import pg8000.native, sys\n"
            "password, host = sys.stdin.read(), sys.argv[1]\n"
            "try:\n"
            "    c = pg8000.native.Connection('datadog', host=host, password=password, database='postgres')\n"
            "    print(c.run(\"select current_user, pg_has_role(current_user, 'pg_monitor', 'member'), "
            "current_setting('listen_addresses')\"))\n"
            "except Exception as error:\n"
            "    print('refused:', error)\n")


def _pg_from_agent_network(host, password: str, network: str) -> str:
    return testhosts.exec_in(host.id, ["docker", "run", "--rm", "-i", "--network", network,
                                       "--entrypoint", "python3", images.AGENT_IMAGE, "-c",
                                       PG_PROBE, AGENT_NETWORK_GATEWAY],
                             input=password, timeout=120, check=True).stdout.strip()


def test_postgresql_answers_at_the_gateway_as_datadog(booted, agent_network):
    """Prepared by the real prepare-postgres.sh with the password it read from SSM (moto)."""
    first, second = booted
    for host in booted:
        assert _pg_from_agent_network(host, host.password, agent_network) == "[['datadog', True, '*']]"
    # Each host has its own server and password: the other host's is refused.
    refused = _pg_from_agent_network(first, second.password, agent_network)
    assert refused.startswith("refused:") and "password authentication failed" in refused, refused
    # pg_hba admits datadog from the Agent's subnet only: not from the root namespace.
    outside = subprocess.run(["psql", f"host={first.ip} port=5432 user=datadog dbname=postgres "
                              "sslmode=disable connect_timeout=5", "-c", "select 1"],
                             env={**os.environ, "PGPASSWORD": first.password},
                             capture_output=True, text=True, timeout=30)
    assert outside.returncode != 0 and "no pg_hba.conf entry" in outside.stderr, outside.stderr


def test_the_images_are_loaded_under_the_names_the_instance_tags_give(booted):
    for host in booted:
        for tag in testhosts.IMAGE_TAGS:
            name = host.entry["tags"][tag]
            assert sh(host, f"docker image inspect --format '{{{{.RepoTags}}}}' {name}").count(name)
    assert images.PYTHON_IMAGE == (ROOT / "app" / "Dockerfile").read_text().split("FROM ", 1)[1].split()[0]


def test_the_app_builds_on_a_host_and_its_traces_reach_the_test_agent(booted, agent_network):
    """app/Dockerfile builds on the test base (pip through NAT, useradd, python), the test Agent
    runs with the program's options (components/agent.py) and is healthy by `agent health`, and
    the app's traces reach it by DNS name with service, env and version."""
    host = booted[0]
    started = time.monotonic()
    sh(host, f"DOCKER_BUILDKIT=0 docker build --quiet --tag e2e-hosts-app:v1 {ROOT / 'app'}", timeout=1200)
    figure(f"app/Dockerfile build on a test host (cold pip install): {time.monotonic() - started:.0f} s")
    agent = (f"docker run -d --name datadog-agent --network {agent_network} --network-alias datadog-agent "
             "--pid host --cgroupns host -v /var/run/docker.sock:/var/run/docker.sock:ro "
             "-v /proc/:/host/proc/:ro -v /sys/fs/cgroup/:/host/sys/fs/cgroup/:ro "
             "-e DD_API_KEY=x -e DD_SITE=datadoghq.com -e DD_HOSTNAME=e2e-hosts -e DD_ENV=e2e "
             "-e DD_APM_ENABLED=true -e DD_APM_NON_LOCAL_TRAFFIC=true "
             "--health-cmd 'agent health' --health-interval 2s --health-retries 30 "
             f"{images.AGENT_IMAGE}")
    app = (f"docker run -d --name my-flask-app --network {agent_network} -p 80:8080 "
           "-e DD_AGENT_HOST=datadog-agent -e DD_SERVICE=my-flask-app -e DD_ENV=e2e -e DD_VERSION=v1 "
           "e2e-hosts-app:v1")
    sh(host, agent)
    sh(host, app)
    try:
        def healthy():
            return sh(host, "docker inspect --format '{{.State.Health.Status}}' datadog-agent") == "healthy"
        testhosts._wait_for("the test Agent's health", healthy, 90, pause=1)

        def answers():
            with __import__("urllib.request").request.urlopen(f"http://{host.ip}/api/apm", timeout=5) as r:
                return r.status == 200
        testhosts._wait_for("the app on its published port", answers, 90, pause=1)
        traces_probe = ("import json, urllib.request\n"
                        "traces = json.load(urllib.request.urlopen('http://127.0.0.1:8126/test/traces'))\n"
                        "print(json.dumps([[s.get('service'), s.get('meta', {}).get('env'), "
                        "s.get('meta', {}).get('version'), s.get('name')] for t in traces for s in t]))\n")

        def traced():
            spans = json.loads(testhosts.exec_in(
                host.id, ["docker", "exec", "datadog-agent", "python3", "-c", traces_probe],
                check=True).stdout)
            return spans if ["my-flask-app", "e2e", "v1", "flask.request"] in spans else None
        testhosts._wait_for("the app's flask.request span at the test Agent", traced, 60, pause=2)
    finally:
        sh(host, "docker rm -f my-flask-app datadog-agent")


def test_a_failed_boot_is_reported_as_cloud_init_does(e2e_dir, moto_url, login_key):
    host_id = "i-0e2eh0575badb007"
    entry = testhosts.create_host(host_id, "#cloud-config\nruncmd:\n  - [rm, -rf, /]\n",
                                  login_key.with_suffix(".pub").read_text(), {}, 242)
    try:
        with pytest.raises(testhosts.HostError, match="unknown to the test host"):
            testhosts.wait_for_boot(host_id, 30)
        options = host_access.docker_ssh_options("ssm", str(login_key), host_id, REGION, entry["host_key"])
        status = subprocess.run(["ssh", "-l", "ec2-user", *options, host_id, "cloud-init status --wait"],
                                capture_output=True, text=True, timeout=60, env=_aws_env())
        assert (status.returncode, status.stdout.strip().splitlines()[-1]) == (1, "status: error")
        # While a stage runs, `--wait` waits (and plain status says running).
        status_file = Path(entry["dir"]) / "run" / "cloud-init" / "status.json"
        status_file.write_text(json.dumps({"v1": {"stage": "modules-final", "modules-final": {
            "start": time.time(), "finished": None, "errors": []}}}))
        running = testhosts.exec_in(host_id, ["cloud-init", "status"])
        assert (running.returncode, running.stdout.strip()) == (0, "status: running")
        with pytest.raises(subprocess.TimeoutExpired):
            testhosts.exec_in(host_id, ["cloud-init", "status", "--wait"], timeout=3)
    finally:
        testhosts.destroy_host(host_id)


def _aws(*args: str, env_extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()):
    env = {k: v for k, v in _aws_env(**(env_extra or {})).items() if k not in drop}
    return subprocess.run([AWS, *args], capture_output=True, text=True, timeout=30, env=env)


def test_the_aws_cli_standin_checks_its_arguments_as_v2_does(e2e_dir, moto_url, booted):
    host = booted[0]
    ssm = ["ssm", "start-session", "--document-name", "AWS-StartSSHSession",
           "--parameters", "portNumber=22", "--region", REGION]
    missing = _aws(*ssm)
    assert missing.returncode == 252
    assert "aws: [ERROR]: the following arguments are required: --target" in missing.stderr
    unknown = _aws(*ssm, "--target", host.id, "--bogus", "1")
    assert unknown.returncode == 252 and "Unknown options: --bogus, 1" in unknown.stderr
    offline = _aws(*ssm, "--target", "i-0123456789abcdef0")
    assert offline.returncode == 254
    assert ("An error occurred (TargetNotConnected) when calling the StartSession operation: "
            "i-0123456789abcdef0 is not connected.") in offline.stderr
    no_region = _aws("ssm", "start-session", "--target", host.id, "--document-name",
                     "AWS-StartSSHSession", drop=("AWS_REGION", "AWS_DEFAULT_REGION"))
    assert no_region.returncode == 253 and "You must specify a region" in no_region.stderr
    # The tunnel: ssh's banner comes back from the host's sshd.
    banner = subprocess.run([AWS, *ssm, "--target", host.id], input="", capture_output=True,
                            timeout=30, env=_aws_env())
    assert banner.stdout.startswith(b"SSH-2.0-OpenSSH"), banner

    console = _aws("ec2", "get-console-output", "--instance-id", host.id, "--region", REGION,
                   "--latest", "--query", "Output", "--output", "text")
    assert console.returncode == 0
    block = console.stdout.split("-----BEGIN SSH HOST KEY KEYS-----\n")[1].split("-----END")[0]
    assert block.split()[:2] == host.entry["host_key"].split()
    gone = _aws("ec2", "get-console-output", "--instance-id", "i-0123456789abcdef0", "--region", REGION)
    assert gone.returncode == 254 and "InvalidInstanceID.NotFound" in gone.stderr

    parameter = f"/dd-assessment/e2ehosts/{host.host_name}/postgres-datadog-password"
    read = _aws("ssm", "get-parameter", "--region", REGION, "--name", parameter, "--with-decryption",
                "--query", "Parameter.Value", "--output", "text")
    assert (read.returncode, read.stdout) == (0, host.password + "\n")
    absent = _aws("ssm", "get-parameter", "--region", REGION, "--name", "/nope")
    assert absent.returncode == 254 and "(ParameterNotFound)" in absent.stderr

    assert _aws("--version").stdout.startswith("aws-cli/2.")
    identity = _aws("sts", "get-caller-identity", "--output", "text", "--region", REGION)
    assert identity.returncode == 0 and identity.stdout.split("\t")[0] == "123456789012", identity


def test_destroy_leaves_nothing_behind(e2e_dir, login_key, image_tarballs):
    host_id = "i-0e2eh0575de57r0y"
    started = time.monotonic()
    entry = testhosts.create_host(host_id, "#cloud-config\n{}\n",
                                  login_key.with_suffix(".pub").read_text(), {}, 243)
    figure(f"create_host (sshd + dockerd answer): {time.monotonic() - started:.1f} s")
    images.load(images.PYTHON_IMAGE, lambda c, timeout: testhosts.exec_in(host_id, c, timeout=timeout,
                                                                          check=True))
    testhosts.exec_in(host_id, f"docker run -d --restart always {images.PYTHON_IMAGE} sleep 600",
                      check=True)
    started = time.monotonic()
    testhosts.destroy_host(host_id)
    figure(f"destroy_host with a running container: {time.monotonic() - started:.1f} s")
    testhosts.destroy_host(host_id)  # again: nothing to do, no error
    assert host_id not in testhosts.hosts() and not Path(entry["dir"]).exists()
    assert entry["netns"] not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                text=True).stdout
    assert not Path(f"/sys/class/net/{entry['root_link']}").exists()
    rules = subprocess.run(["sh", "-c", "iptables -S; iptables -t nat -S"], capture_output=True,
                           text=True).stdout
    assert f"dde2e:{host_id}" not in rules
    assert testhosts._pids_in(entry["net_ns"], entry["mnt_ns"]) == []
    assert list(Path("/sys/fs/cgroup").glob(f"*/dde2e-{host_id}")) == []
