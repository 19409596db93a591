"""A real PostgreSQL, prepared by the host's own boot script, seen the way the Agent sees it.

Debian's PostgreSQL binaries run a throwaway cluster. `user_data/prepare-postgres.sh` runs for
real against it; only what cannot exist here is stood in for, by the scripts in
`tests/stubs/`: systemd (`systemctl`), the distro's `postgresql-setup` and the AWS CLI (SSM).
The Agent's side is a network namespace whose address lies in the Agent's Docker network and
which reaches PostgreSQL at that network's gateway, exactly as the Agent container does.
Needs root (the cluster runs as `postgres`; namespaces need CAP_NET_ADMIN).
"""

from __future__ import annotations

import glob
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from components.design import AGENT_NETWORK_CIDR, AGENT_NETWORK_GATEWAY

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "tests" / "stubs"
PASSWORD_PARAMETER = "/dd-assessment/test/dd-assessment-test-0/postgres-datadog-password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class PreparedPostgres:
    workdir: Path
    pgdata: Path
    port: int
    password: str
    namespace: str
    env: dict[str, str]

    def prepare(self) -> subprocess.CompletedProcess:
        """Run the host's boot script, as cloud-init would (root, stubs for systemd/SSM)."""
        return subprocess.run(["bash", str(ROOT / "user_data" / "prepare-postgres.sh")],
                              env=self.env, capture_output=True, text=True, timeout=120)

    def superuser(self, sql: str) -> str:
        return _run("runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-qtAX",
                    "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", sql, env=self.env).stdout.strip()

    def as_agent(self, sql: str, *, password: str | None = None, user: str = "datadog",
                 dbname: str = "postgres", host: str = AGENT_NETWORK_GATEWAY,
                 port: int | None = None) -> subprocess.CompletedProcess:
        """psql from inside the Agent's network, over TCP, with a password."""
        conninfo = (f"host={host} port={port or self.port} user={user} dbname={dbname} "
                    f"sslmode=disable connect_timeout=5")
        env = {"PATH": os.environ["PATH"], "PGPASSWORD": self.password if password is None else password}
        return subprocess.run(["ip", "netns", "exec", self.namespace, "psql", "--no-psqlrc", "-qtAX",
                               "-v", "ON_ERROR_STOP=1", conninfo, "-c", sql],
                              env=env, capture_output=True, text=True, timeout=30)

    def systemctl_calls(self) -> list[str]:
        log = self.workdir / "systemctl.log"
        return log.read_text().splitlines() if log.exists() else []


def start(password: str = "Sup3r-Secret-Passw0rd") -> PreparedPostgres:
    """A fresh, not yet initialised data directory plus the Agent's namespace; nothing prepared."""
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert bindir, "PostgreSQL server binaries missing: install Debian's `postgresql` (.ci/run does)"
    workdir = Path(tempfile.mkdtemp(prefix="dd-pg-"))
    os.chmod(workdir, 0o755)
    (workdir / "run").mkdir()
    shutil.chown(workdir / "run", "postgres", "postgres")
    sql_file = workdir / "datadog-role.sql"  # readable by postgres wherever the checkout is
    shutil.copy(ROOT / "user_data" / "datadog-role.sql", sql_file)
    os.chmod(sql_file, 0o644)
    env_file = workdir / "host.env"
    env_file.write_text(f"AWS_REGION=us-east-2\nDATADOG_PASSWORD_PARAMETER={PASSWORD_PARAMETER}\n"
                        f"AGENT_NETWORK_CIDR={AGENT_NETWORK_CIDR}\n")
    port = _free_port()
    env = {
        "PATH": f"{STUBS}:{bindir[-1]}:{os.environ['PATH']}",
        "ENV_FILE": str(env_file), "SQL_FILE": str(sql_file),
        "PGDATA": str(workdir / "data"), "PGHOST": str(workdir / "run"), "PGPORT": str(port),
        "STUB_WORKDIR": str(workdir), "STUB_PASSWORD": password,
        "STUB_PARAMETER": PASSWORD_PARAMETER, "LANG": "C.UTF-8",
    }
    namespace = f"ddagent{os.getpid()}"
    prepared = PreparedPostgres(workdir, workdir / "data", port, password, namespace, env)
    _add_agent_namespace(namespace)
    return prepared


def _add_agent_namespace(namespace: str) -> None:
    network = ipaddress.ip_network(AGENT_NETWORK_CIDR)
    agent_address = f"{network.network_address + 2}/{network.prefixlen}"
    host_side, agent_side = f"vh{os.getpid()}"[:15], f"va{os.getpid()}"[:15]
    _run("ip", "netns", "add", namespace)
    _run("ip", "link", "add", host_side, "type", "veth", "peer", "name", agent_side)
    _run("ip", "link", "set", agent_side, "netns", namespace)
    _run("ip", "addr", "add", f"{AGENT_NETWORK_GATEWAY}/{network.prefixlen}", "dev", host_side)
    _run("ip", "link", "set", host_side, "up")
    _run("ip", "netns", "exec", namespace, "ip", "addr", "add", agent_address, "dev", agent_side)
    _run("ip", "netns", "exec", namespace, "ip", "link", "set", agent_side, "up")
    _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")


def stop(prepared: PreparedPostgres) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(prepared.pgdata),
                    "-m", "immediate", "stop"], env=prepared.env, capture_output=True)
    subprocess.run(["ip", "netns", "del", prepared.namespace], capture_output=True)
    subprocess.run(["ip", "link", "del", f"vh{os.getpid()}"[:15]], capture_output=True)
    shutil.rmtree(prepared.workdir, ignore_errors=True)
