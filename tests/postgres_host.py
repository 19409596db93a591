"""A real PostgreSQL, prepared by the host's own boot script, seen the way the Agent sees it.

Debian's PostgreSQL binaries run a throwaway cluster. `user_data/prepare-postgres.sh` runs for
real against it; only what cannot exist here is stood in for, by the scripts in
`tests/stubs/`: systemd (`systemctl`), the distro's `postgresql-setup` and the AWS CLI (SSM).
The Agent's side is a network namespace whose address lies in the Agent's Docker network and
which reaches PostgreSQL at that network's gateway, exactly as the Agent container does.
Needs root (the cluster runs as `postgres`; namespaces need CAP_NET_ADMIN).

One at a time per machine: every such setup puts the same gateway address, 172.30.0.1/24, on a
veth of its own, and two of them at once give two routes to 172.30.0.0/24, so replies go astray.
`start()` therefore takes an exclusive lock (fcntl.flock on LOCK_FILE) that `stop()` releases:
it holds across processes (pytest-xdist workers, the host-side venv's tests, another checkout's
`make test`), and the kernel drops it when its holder dies. Under the lock, leftovers of a holder
that died without `stop()` are removed, and an address in 172.30.0.0/24 that is not ours (a real
Docker network, say) stops the setup with a clear error instead of a flaky test.
Usable from any venv: stdlib and components.design only.
"""

from __future__ import annotations

import fcntl
import glob
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from components.design import AGENT_NETWORK_CIDR, AGENT_NETWORK_GATEWAY

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "tests" / "stubs"
PASSWORD_PARAMETER = "/dd-assessment/test/dd-assessment-test-0/postgres-datadog-password"
LOCK_FILE = Path("/run/lock/dd-assessment-agent-network.lock")
LOCK_WAIT_SECONDS = 600
# Names of the namespace and veth ends, made unique by the process id: "<prefix><pid>".
NAMESPACE_PREFIX, HOST_LINK_PREFIX, AGENT_LINK_PREFIX = "ddpg-ns", "ddpg-h", "ddpg-a"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a setup command; a failure says what the command printed, not only its exit status."""
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {result.returncode}: "
                           f"{(result.stderr or result.stdout).strip()}")
    return result


@dataclass
class PreparedPostgres:
    workdir: Path
    pgdata: Path
    port: int
    password: str
    namespace: str
    env: dict[str, str]
    host_link: str = ""
    lock_fd: int = field(default=-1, repr=False)

    def prepare(self, *, wrapper: Sequence[str] = (), env: dict[str, str] | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the host's boot script, as cloud-init would (root, stubs for systemd/SSM).

        `wrapper` goes before the command (a tracer, say); `env` adds to or overrides its
        environment (a PATH with more stand-ins, a stub's setting).
        """
        return subprocess.run([*wrapper, "bash", str(ROOT / "user_data" / "prepare-postgres.sh")],
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)

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
    """A fresh, not yet initialised data directory plus the Agent's namespace; nothing prepared.

    Holds the machine-wide Agent-network lock until `stop()`.
    """
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert bindir, "PostgreSQL server binaries missing: install Debian's `postgresql` (make test does)"
    lock_fd = _lock_agent_network()
    try:
        _remove_leftovers(lock_fd, bindir[-1])
        _refuse_a_foreign_agent_network()
        return _start(password, bindir[-1], lock_fd)
    except BaseException:
        _remove_leftovers(lock_fd, bindir[-1])
        os.close(lock_fd)
        raise


def _start(password: str, bindir: str, lock_fd: int) -> PreparedPostgres:
    workdir = Path(tempfile.mkdtemp(prefix="dd-pg-"))
    _record(lock_fd, f"pid {os.getpid()} in {os.getcwd()}\nworkdir {workdir}\n")
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
        "PATH": f"{STUBS}:{bindir}:{os.environ['PATH']}",
        "ENV_FILE": str(env_file), "SQL_FILE": str(sql_file),
        "PGDATA": str(workdir / "data"), "PGHOST": str(workdir / "run"), "PGPORT": str(port),
        "STUB_WORKDIR": str(workdir), "STUB_PASSWORD": password,
        "STUB_PARAMETER": PASSWORD_PARAMETER, "LANG": "C.UTF-8",
    }
    pid = os.getpid()
    prepared = PreparedPostgres(workdir, workdir / "data", port, password,
                                namespace=f"{NAMESPACE_PREFIX}{pid}", env=env,
                                host_link=f"{HOST_LINK_PREFIX}{pid}", lock_fd=lock_fd)
    _add_agent_namespace(prepared.namespace, prepared.host_link, f"{AGENT_LINK_PREFIX}{pid}")
    return prepared


def _add_agent_namespace(namespace: str, host_side: str, agent_side: str) -> None:
    network = ipaddress.ip_network(AGENT_NETWORK_CIDR)
    agent_address = f"{network.network_address + 2}/{network.prefixlen}"
    _run("ip", "netns", "add", namespace)
    _run("ip", "link", "add", host_side, "type", "veth", "peer", "name", agent_side)
    _run("ip", "link", "set", agent_side, "netns", namespace)
    _run("ip", "addr", "add", f"{AGENT_NETWORK_GATEWAY}/{network.prefixlen}", "dev", host_side)
    _run("ip", "link", "set", host_side, "up")
    _run("ip", "netns", "exec", namespace, "ip", "addr", "add", agent_address, "dev", agent_side)
    _run("ip", "netns", "exec", namespace, "ip", "link", "set", agent_side, "up")
    _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")


def stop(prepared: PreparedPostgres) -> None:
    """Stop the cluster, remove the namespace and files, then let the next setup in."""
    try:
        subprocess.run(["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(prepared.pgdata),
                        "-m", "immediate", "stop"], env=prepared.env, capture_output=True)
        subprocess.run(["ip", "netns", "del", prepared.namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", prepared.host_link], capture_output=True)
        shutil.rmtree(prepared.workdir, ignore_errors=True)
    finally:
        if prepared.lock_fd >= 0:
            _record(prepared.lock_fd, "")  # nothing left behind for the next holder
            os.close(prepared.lock_fd)  # closing the descriptor releases the flock
            prepared.lock_fd = -1


def _lock_agent_network() -> int:
    """The exclusive, machine-wide lock; waits for a holder (another run) to finish."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
    deadline, announced = time.monotonic() + LOCK_WAIT_SECONDS, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError(f"{LOCK_FILE} still held after {LOCK_WAIT_SECONDS} s by "
                                   f"{holder}: another run uses the Agent's test network") from None
            if not announced:
                print(f"postgres_host: waiting for {LOCK_FILE} (held by {holder})", file=sys.stderr)
                announced = True
            time.sleep(0.2)
    return fd


def _record(lock_fd: int, text: str) -> None:
    """What the holder has made, in the lock file: for a waiter's message and for cleanup."""
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, text.encode(), 0)


def _remove_leftovers(lock_fd: int, bindir: str) -> None:
    """Under the lock, whatever a previous holder recorded, or a namespace or veth named like
    ours, belongs to a holder that died without `stop()`: remove it."""
    previous = os.pread(lock_fd, 4096, 0).decode(errors="replace")
    for workdir in re.findall(r"^workdir (/.+)$", previous, re.M):
        if (Path(workdir) / "data" / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", f"{bindir}/pg_ctl", "-D",
                            f"{workdir}/data", "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    namespaces = _run("ip", "netns", "list").stdout
    for name in re.findall(rf"^({NAMESPACE_PREFIX}\d+)", namespaces, re.M):
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    links = _run("ip", "-o", "link", "show").stdout
    for name in re.findall(rf"^\d+: ({HOST_LINK_PREFIX}\d+)@", links, re.M):
        subprocess.run(["ip", "link", "del", name], capture_output=True)
    _record(lock_fd, "")


def _refuse_a_foreign_agent_network() -> None:
    taken = _run("ip", "-o", "addr", "show", "to", AGENT_NETWORK_CIDR).stdout.strip()
    if taken:
        raise RuntimeError(
            f"{AGENT_NETWORK_CIDR} is already in use on this machine, so the Agent's test network "
            f"cannot be built without two routes to it (a Docker network there?):\n{taken}")
