"""Test hosts for `make e2e`: each EC2 instance the AWS stand-in launches becomes one of these.

A test host is what the program needs of an Amazon Linux 2023 instance, made of real parts:
- a network namespace `dde2e-<index>` with a veth to the root namespace, addresses
  10.231.<index>.1 (root side) and 10.231.<index>.2 (the host), and NAT (iptables MASQUERADE)
  so that its containers reach the package registries;
- a private mount and UTS namespace (entered with `nsenter --net=<netns>` + `unshare -m -u`,
  never `ip netns exec`, which remounts /sys and hides the cgroups dockerd needs), with its own
  /run and copy-on-write overlays over /etc, /usr/local, /var/lib and /var/log: files the boot
  writes there are the host's alone;
- its own Docker Engine (Debian's docker.io, `dockerd --storage-driver vfs`), socket
  /var/run/docker.sock inside those namespaces, containers in cgroup parent `dde2e-<id>`;
- a real sshd (user `ec2-user`, in the docker group, key login only) with a fresh ed25519 host key;
- a boot that applies the user-data as cloud-init would: `hostname`, `write_files` at their real
  paths, `runcmd` in order. PostgreSQL is prepared by the real `user_data/prepare-postgres.sh`
  (and datadog-role.sql) against Debian's PostgreSQL, with the offline tests' stand-ins for
  systemd and `postgresql-setup` (tests/stubs/) and tests/e2e/bin/aws for SSM (moto). What cannot
  run here is replaced, each entry by name (an unknown runcmd entry fails the boot): `dnf install`
  (no Amazon Linux repository: Debian's binaries are there already), `systemctl enable --now
  docker.service` (dockerd runs with the host) and the image prefetch (no registry: the locally
  built test images of images.py are loaded under the names the instance's tags give).
  `cloud-init status --wait` and /run/cloud-init/status.json answer as cloud-init does, and the
  console output carries the host keys between cloud-init's markers.

All state lives under $DD_E2E_DIR (hosts/<instance id>/), so the AWS provider process (creates
hosts), the `aws` stand-in (looks them up) and the e2e driver (checks, cleans up) share it.
Root and Linux only. Stdlib and PyYAML only.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
STUBS = ROOT / "tests" / "stubs"
E2E_BIN = ROOT / "tests" / "e2e" / "bin"
LOGIN_USER = "ec2-user"
PREFIX = "dde2e"  # netns, links, cgroups, iptables comments: everything of ours starts with it
OVERLAID = ("/etc", "/usr/local", "/var/lib", "/var/log")
READY_SECONDS = 60
# The instance tags naming the images the boot pulls (components/user_data.py, prefetch-images.sh).
IMAGE_TAGS = ("agentImage", "appBaseImage")
CLOUD_INIT_STAGES = ("init-local", "init", "modules-config", "modules-final")


class HostError(RuntimeError):
    pass


# ---------------------------------------------------------------- registry


def state_dir() -> Path:
    value = os.environ.get("DD_E2E_DIR")
    if not value:
        raise HostError("DD_E2E_DIR is not set: it names the directory the e2e run keeps its "
                        "test hosts in (export DD_E2E_DIR=/tmp/dd-e2e, say)")
    path = Path(value).resolve()
    (path / "hosts").mkdir(parents=True, exist_ok=True)
    return path


def refuse_shadowed(path: Path, what: str) -> None:
    """A directory the hosts' processes write for us to read must not lie under what each host
    overlays (or its own /run): their writes would stay in the host's private copy."""
    for hidden in (*OVERLAID, "/run", "/var/run"):
        if path == Path(hidden) or Path(hidden) in path.parents:
            raise HostError(f"{what} {path} lies under {hidden}, which every test host overlays "
                            f"with a private copy: choose a directory elsewhere (/tmp, /root, /work)")


def _host_dir(instance_id: str) -> Path:
    if not instance_id or "/" in instance_id or instance_id.startswith("."):
        raise HostError(f"bad instance id {instance_id!r}")
    return state_dir() / "hosts" / instance_id


@contextmanager
def _locked(name: str = "hosts.lock"):
    fd = os.open(state_dir() / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def hosts() -> dict[str, dict]:
    """instance id -> registry entry, for every host in $DD_E2E_DIR."""
    found = {}
    for entry in sorted((state_dir() / "hosts").glob("*/host.json")):
        try:
            found[entry.parent.name] = json.loads(entry.read_text())
        except (OSError, ValueError):
            continue  # being written or half removed
    return found


def host(instance_id: str) -> dict:
    entry = _host_dir(instance_id) / "host.json"
    if not entry.exists():
        raise HostError(f"no test host {instance_id} in {state_dir()}")
    return json.loads(entry.read_text())


def _write_entry(directory: Path, entry: dict) -> None:
    tmp = directory / "host.json.tmp"
    tmp.write_text(json.dumps(entry, indent=2) + "\n")
    tmp.replace(directory / "host.json")


# ---------------------------------------------------------------- small helpers


def _run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise HostError(f"{shlex.join(args)} exited {result.returncode}: "
                        f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return result


def _names(index: int) -> dict[str, str]:
    return {"netns": f"{PREFIX}-{index}", "root_link": f"{PREFIX}{index}r",
            "host_link": f"{PREFIX}{index}h", "subnet": f"10.231.{index}.0/30",
            "gateway": f"10.231.{index}.1", "ip": f"10.231.{index}.2"}


def _iptables_rules(instance_id: str, names: dict[str, str]) -> list[list[str]]:
    """Root-namespace rules of one host, each tagged with a comment naming it (for the sweep)."""
    tag = ["-m", "comment", "--comment", f"{PREFIX}:{instance_id}"]
    return [
        ["-t", "nat", "POSTROUTING", "-s", names["subnet"], "!", "-o", names["root_link"],
         *tag, "-j", "MASQUERADE"],
        # A root-namespace dockerd sets FORWARD's policy to DROP: let our hosts through anyway.
        ["-t", "filter", "FORWARD", "-i", names["root_link"], *tag, "-j", "ACCEPT"],
        ["-t", "filter", "FORWARD", "-o", names["root_link"], "-m", "conntrack", "--ctstate",
         "RELATED,ESTABLISHED", *tag, "-j", "ACCEPT"],
    ]


def _iptables(action: str, rule: list[str], check: bool = True) -> subprocess.CompletedProcess:
    table, chain, spec = rule[1], rule[2], rule[3:]
    return _run("iptables", "-w", "-t", table, action, chain, *spec, check=check)


def _nsenter(entry: dict) -> list[str]:
    return ["nsenter", "-t", str(entry["anchor_pid"]), "-n", "-m", "-u", "--"]


def _ns_inode(pid: int, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_for(what: str, probe, seconds: float, pause: float = 0.2):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - the last one is reported
            last = error
        time.sleep(pause)
    raise HostError(f"{what} not ready after {seconds:.0f} s" + (f": {last}" if last else ""))


def _ensure_login_user() -> None:
    """ec2-user on this machine, usable for key logins (`UsePAM no` refuses a locked account)."""
    if _run("id", "-u", LOGIN_USER, check=False).returncode != 0:
        _run("useradd", "--create-home", "--shell", "/bin/bash", LOGIN_USER)
    _run("usermod", "-p", "*", LOGIN_USER)
    if _run("getent", "group", "docker", check=False).returncode != 0:
        _run("groupadd", "--system", "docker")
    _run("usermod", "--append", "--groups", "docker", LOGIN_USER)


def _ensure_ip_forward() -> None:
    """The root namespace forwards our hosts' traffic. Recorded, so the last destroy can undo it."""
    knob = Path("/proc/sys/net/ipv4/ip_forward")
    if knob.read_text().strip() != "1":
        (state_dir() / "ip_forward.set-by-us").write_text("0\n")
        knob.write_text("1\n")


# ---------------------------------------------------------------- create


def create_host(instance_id: str, user_data: str, authorized_key: str,
                tags: dict[str, str], index: int) -> dict:
    """Start a host; return its registry entry once sshd and dockerd answer. The boot (user-data)
    goes on in the background, as on EC2: `cloud-init status --wait` over SSH waits for it.

    Entry: instance_id, index, ip (10.231.<index>.2), host_key ("ssh-ed25519 AAAA..."), netns,
    dir, tags, pids."""
    if not isinstance(index, int) or not 0 <= index <= 250:
        raise HostError(f"index must be an integer 0..250, not {index!r}")
    if os.geteuid() != 0:
        raise HostError("test hosts need root (network namespaces, dockerd, sshd)")
    directory = _host_dir(instance_id)
    refuse_shadowed(state_dir(), "DD_E2E_DIR")
    names = _names(index)
    with _locked():
        if (directory / "host.json").exists():
            raise HostError(f"test host {instance_id} exists already")
        taken = [h for h in hosts().values() if h.get("index") == index]
        if taken or Path(f"/var/run/netns/{names['netns']}").exists():
            raise HostError(f"host index {index} is in use (netns {names['netns']}): "
                            f"{taken[0]['instance_id'] if taken else 'by another run'}")
        directory.mkdir(parents=True)
        entry = {"instance_id": instance_id, "index": index, "dir": str(directory), **names,
                 "tags": dict(tags), "created": time.time(),
                 "moto_url": os.environ.get("DD_E2E_MOTO_URL", ""),
                 "python": sys.executable, "state_dir": str(state_dir())}
        _write_entry(directory, entry)  # destroy_host finds whatever is made from here on
        try:
            # Machine-wide, under the lock: hosts may be created by several threads at once.
            _ensure_login_user()
            _ensure_ip_forward()
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
    started = time.monotonic()
    try:
        (directory / "user-data").write_text(user_data)
        _make_network(instance_id, names)
        entry["anchor_pid"] = _start_anchor(directory, names["netns"])
        entry["mnt_ns"] = _ns_inode(entry["anchor_pid"], "mnt")
        entry["net_ns"] = _ns_inode(entry["anchor_pid"], "net")
        _write_entry(directory, entry)
        if entry["moto_url"]:
            entry["moto_url_in_host"], entry["forwarder_pid"] = _start_moto_forwarder(
                directory, entry)
            _write_entry(directory, entry)
        entry["host_key"] = _make_host_key(directory, entry, authorized_key)
        entry["dockerd_pid"] = _start_dockerd(directory, entry)
        entry["sshd_pid"] = _start_sshd(directory, entry)
        entry["ready_seconds"] = round(time.monotonic() - started, 1)
        _write_entry(directory, entry)
        entry["boot_pid"] = _start_boot(directory, entry)
        _write_entry(directory, entry)
    except BaseException:
        destroy_host(instance_id)
        raise
    return entry


def _make_network(instance_id: str, names: dict[str, str]) -> None:
    netns = names["netns"]
    _run("ip", "netns", "add", netns)
    _run("ip", "link", "add", names["root_link"], "type", "veth", "peer", "name", names["host_link"])
    _run("ip", "link", "set", names["host_link"], "netns", netns)
    _run("ip", "addr", "add", f"{names['gateway']}/30", "dev", names["root_link"])
    _run("ip", "link", "set", names["root_link"], "up")
    inside = ["ip", "-n", netns]
    _run(*inside, "link", "set", "lo", "up")
    _run(*inside, "addr", "add", f"{names['ip']}/30", "dev", names["host_link"])
    _run(*inside, "link", "set", names["host_link"], "up")
    _run(*inside, "route", "add", "default", "via", names["gateway"])
    for rule in _iptables_rules(instance_id, names):
        _iptables("-A", rule)


# Runs inside the new mount namespace, before anything else does: the host's own /run and the
# copy-on-write overlays, then it stays as the namespaces' anchor.
_ANCHOR_SCRIPT = r"""
set -eu
dir=$1; shift
mount --make-rprivate /
mkdir -p "$dir/run"
mount --bind "$dir/run" /run
for target in "$@"; do
  name=$(printf %s "$target" | tr / _)
  mkdir -p "$dir/overlay/$name/upper" "$dir/overlay/$name/work"
  mount -t overlay "overlay$name" \
    -o "lowerdir=$target,upperdir=$dir/overlay/$name/upper,workdir=$dir/overlay/$name/work" "$target"
done
touch /run/.dde2e-anchor-ready
exec sleep infinity
"""


def _start_anchor(directory: Path, netns: str) -> int:
    log = open(directory / "anchor.log", "ab")
    process = subprocess.Popen(
        ["nsenter", f"--net=/var/run/netns/{netns}", "unshare", "--mount", "--uts",
         "--propagation", "private", "--", "sh", "-c", _ANCHOR_SCRIPT, "anchor", str(directory),
         *OVERLAID],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()

    def ready():
        if process.poll() is not None:
            raise HostError(f"namespace setup exited {process.returncode}: "
                            f"{(directory / 'anchor.log').read_text()[-1000:]}")
        return (directory / "run" / ".dde2e-anchor-ready").exists()
    _wait_for("the host's namespaces", ready, 20)
    return process.pid


def _start_moto_forwarder(directory: Path, entry: dict) -> tuple[str, int]:
    """The host reaches the AWS endpoints over its network, as an instance does: moto listens on
    the root namespace's loopback, so a forwarder (a root-namespace process) listens on the
    host's gateway address, which only that host can reach, and relays to it."""
    from urllib.parse import urlsplit
    target = urlsplit(entry["moto_url"])
    port = target.port or 80
    log = open(directory / "forwarder.log", "ab")
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "_forward", entry["instance_id"],
         entry["gateway"], str(port), target.hostname or "127.0.0.1", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()

    def listening():
        if process.poll() is not None:
            raise HostError(f"moto forwarder exited: {(directory / 'forwarder.log').read_text()}")
        with socket.create_connection((entry["gateway"], port), timeout=1):
            return True
    _wait_for("the forwarder to moto", listening, 10)
    return f"{target.scheme}://{entry['gateway']}:{port}", process.pid


def _forward_main(listen_host: str, listen_port: int, target_host: str, target_port: int) -> int:
    import threading

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    server = socket.create_server((listen_host, listen_port))
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection((target_host, target_port), timeout=10)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def _in_host_root(entry: dict, path: str) -> Path:
    """A path as the host's own processes see it (its overlays and /run), from outside."""
    return Path(f"/proc/{entry['anchor_pid']}/root") / path.lstrip("/")


def _make_host_key(directory: Path, entry: dict, authorized_key: str) -> str:
    keys = directory / "ssh"
    keys.mkdir(mode=0o700)
    key = keys / "ssh_host_ed25519_key"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{entry['instance_id']}",
         "-f", str(key))
    # authorized_keys where sshd's StrictModes accepts it (root-owned path), private to the host.
    authorized = _in_host_root(entry, f"/etc/ssh/authorized_keys/{LOGIN_USER}")
    authorized.parent.mkdir(parents=True, exist_ok=True)
    authorized.write_text(authorized_key.strip() + "\n")
    os.chmod(authorized, 0o644)
    public = (keys / "ssh_host_ed25519_key.pub").read_text().split()
    return f"{public[0]} {public[1]}"


def _spawn_in_host(entry: dict, directory: Path, log_name: str, argv: list[str],
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(directory / log_name, "ab")
    try:
        return subprocess.Popen([*_nsenter(entry), *argv], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True, env=env)
    finally:
        log.close()


def _start_dockerd(directory: Path, entry: dict) -> int:
    # dockerd 20.10 derives its engine ID from /etc/docker/key.json, made by whichever engine ran
    # first: each host gets its own (the removal stays in the host's /etc overlay).
    _in_host_root(entry, "/etc/docker/key.json").unlink(missing_ok=True)
    process = _spawn_in_host(entry, directory, "dockerd.log", [
        "dockerd", "--storage-driver", "vfs", "--data-root", str(directory / "docker"),
        "--exec-root", "/var/run/docker", "--pidfile", "/var/run/docker.pid",
        "-H", "unix:///var/run/docker.sock", "--group", "docker",
        # Its containers' cgroups apart from any other engine's, for a clean destroy.
        "--cgroup-parent", f"/{PREFIX}-{entry['instance_id']}"])

    def answers():
        if process.poll() is not None:
            raise HostError(f"dockerd exited {process.returncode}: "
                            f"{(directory / 'dockerd.log').read_text()[-1500:]}")
        return exec_in(entry["instance_id"], ["docker", "version", "--format",
                                              "{{.Server.Version}}"], timeout=10).returncode == 0
    _wait_for("dockerd", answers, READY_SECONDS, pause=0.5)
    return process.pid


def _start_sshd(directory: Path, entry: dict) -> int:
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress {entry['ip']}:22\n"
        f"HostKey {directory / 'ssh' / 'ssh_host_ed25519_key'}\n"
        "PidFile /run/sshd.pid\n"
        f"AuthorizedKeysFile /etc/ssh/authorized_keys/%u\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PermitRootLogin no\nAllowUsers {LOGIN_USER}\n"
        "MaxStartups 100:30:200\nMaxSessions 100\n"
        "Subsystem sftp internal-sftp\n")
    # sshd's privilege separation directory, in the host's own /run.
    _in_host_root(entry, "/run/sshd").mkdir(mode=0o755, exist_ok=True)
    process = _spawn_in_host(entry, directory, "sshd.log",
                             ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)])

    def answers():
        if process.poll() is not None:
            raise HostError(f"sshd exited {process.returncode}: "
                            f"{(directory / 'sshd.log').read_text()[-1500:]}")
        with socket.create_connection((entry["ip"], 22), timeout=2) as connection:
            return connection.recv(64).startswith(b"SSH-2.0-")
    _wait_for("sshd", answers, READY_SECONDS)
    return process.pid


def _start_boot(directory: Path, entry: dict) -> int:
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C.UTF-8",
           "DD_E2E_DIR": entry["state_dir"], "HOME": "/root"}
    for name in ("DD_ASSESSMENT_CACHE", "DD_E2E_MOTO_URL", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    process = _spawn_in_host(entry, directory, "boot.log",
                             [sys.executable, str(Path(__file__).resolve()), "_boot",
                              entry["instance_id"]], env=env)
    return process.pid


# ---------------------------------------------------------------- the boot (inside the host)


class _Boot:
    """cloud-init's part, run inside the host's namespaces: stages recorded in
    /run/cloud-init/status.json as cloud-init records them, output in
    /var/log/cloud-init-output.log, the host keys on the console (host dir's console.log)."""

    def __init__(self, entry: dict) -> None:
        import yaml  # PyYAML: the driver's and the provider's venvs have it (the program needs it)
        self.entry = entry
        self.directory = Path(entry["dir"])
        text = (self.directory / "user-data").read_text()
        if not text.startswith("#cloud-config"):
            raise HostError("user-data is not a #cloud-config")
        self.config = yaml.safe_load(text) or {}
        self.status = {"v1": {"datasource": "DataSourceEc2Local [test host]", "stage": None,
                              **{stage: {"errors": [], "recoverable_errors": {}, "start": None,
                                         "finished": None} for stage in CLOUD_INIT_STAGES}}}
        self.output = open("/var/log/cloud-init-output.log", "a", buffering=1)

    def log(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        self.output.write(line + "\n")
        self.console(line)

    def console(self, text: str) -> None:
        with open(self.directory / "console.log", "a") as console:
            console.write(text + "\n")

    def save_status(self) -> None:
        Path("/run/cloud-init").mkdir(exist_ok=True)
        tmp = Path("/run/cloud-init/status.json.tmp")
        tmp.write_text(json.dumps(self.status, indent=1))
        tmp.replace("/run/cloud-init/status.json")

    def stage(self, name: str, work) -> bool:
        record = self.status["v1"][name]
        self.status["v1"]["stage"] = name
        record["start"] = time.time()
        self.save_status()
        self.log(f"Cloud-init v. test-host running '{name}'")
        ok = True
        try:
            work()
        except Exception as error:  # noqa: BLE001 - recorded as cloud-init records a failure
            record["errors"].append(str(error))
            self.log(f"{name} failed: {error}")
            ok = False
        record["finished"] = time.time()
        self.status["v1"]["stage"] = None if name == CLOUD_INIT_STAGES[-1] or not ok else name
        self.save_status()
        return ok

    def run(self) -> int:
        Path("/run/cloud-init").mkdir(exist_ok=True)
        self.save_status()
        stages = {"init-local": lambda: None, "init": self.init, "modules-config": lambda: None,
                  "modules-final": self.final}
        ok = all(self.stage(name, stages[name]) for name in CLOUD_INIT_STAGES)
        self.status["v1"]["stage"] = None
        self.save_status()
        errors = [e for stage in CLOUD_INIT_STAGES for e in self.status["v1"][stage]["errors"]]
        Path("/run/cloud-init/result.json").write_text(json.dumps(
            {"v1": {"datasource": self.status["v1"]["datasource"], "errors": errors}}))
        self.log(f"Cloud-init v. test-host finished; {'done' if ok else 'error'}")
        return 0 if ok else 1

    def init(self) -> None:
        name = self.config.get("hostname")
        if name:
            _run("hostname", name)
            Path("/etc/hostname").write_text(name + "\n")
        for item in self.config.get("write_files", []):
            path = Path(item["path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(item.get("content", ""))
            os.chmod(path, int(str(item.get("permissions", "0644")), 8))
            self.log(f"write_files: {path}")
        for key in ("packages", "package_update", "package_upgrade"):
            if self.config.get(key):
                # No Amazon Linux repository here; the packages' parts stand in: see runcmd.
                self.log(f"{key}: {self.config[key]!r}: no Amazon Linux repository here; what "
                         f"they provide stands in (see runcmd and tests/e2e/hosts/README.md)")

    def final(self) -> None:
        for command in self.config.get("runcmd", []):
            argv = command if isinstance(command, list) else ["sh", "-c", command]
            self.log(f"runcmd: {shlex.join(map(str, argv))}")
            self.runcmd([str(part) for part in argv])
        keys = (self.directory / "ssh" / "ssh_host_ed25519_key.pub").read_text().strip()
        # cc_keys_to_console's block, as the instance's console output shows it.
        self.console("-----BEGIN SSH HOST KEY KEYS-----")
        self.console(keys)
        self.console("-----END SSH HOST KEY KEYS-----")

    def runcmd(self, argv: list[str]) -> None:
        match argv:
            case ["systemctl", "enable", "--now", "docker.service"]:
                # dockerd has run since the host started (it stands in for the package's unit).
                _run("docker", "version")
            case ["usermod", *_]:
                self.sh(argv)
            case ["systemd-run", unit, script] if unit == "--unit=dd-assessment-prefetch-images":
                # No image registry here: the locally built test images stand in for the pulls,
                # under the names the instance's tags give, as prefetch-images.sh reads them.
                self.load_images()
            case ["dnf", "install", *packages]:
                missing = {"postgresql15-server"} - set(packages)
                if missing:
                    raise HostError(f"dnf install without {missing}: the test host provides only "
                                    f"PostgreSQL's server (Debian's binaries stand in)")
                self.log("dnf install: Debian's PostgreSQL binaries stand in for " + " ".join(
                    p for p in packages if not p.startswith("-")))
            case ["/usr/local/sbin/dd-assessment-prepare-postgres"]:
                self.prepare_postgres(argv)
            case _:
                raise HostError(f"runcmd entry {argv!r} is unknown to the test host: teach "
                                f"tests/e2e/hosts/testhosts.py what it does (runs, or stands in)")

    def sh(self, argv: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> None:
        result = subprocess.run(argv, stdout=self.output, stderr=subprocess.STDOUT, env=env,
                                timeout=timeout)
        if result.returncode != 0:
            raise HostError(f"{shlex.join(argv)} exited {result.returncode}")

    def load_images(self) -> None:
        import images  # noqa: PLC0415 - beside this file
        wanted = {tag: self.entry["tags"].get(tag) for tag in IMAGE_TAGS}
        started = time.monotonic()
        images.ensure_images(log=self.log)
        for tag, name in wanted.items():
            if not name:
                self.log(f"instance tag {tag} not readable; skipping it")
                continue
            source = images.IMAGE_FOR_TAG[tag]
            images.load(source, images.local_docker, self.log)
            if name != source:
                self.sh(["docker", "tag", source, name])
            self.log(f"image {name} loaded (test image {source})")
        self.log(f"images loaded in {time.monotonic() - started:.1f} s")

    def prepare_postgres(self, argv: list[str]) -> None:
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindir:
            raise HostError("Debian's PostgreSQL server is not installed (apt-get install postgresql)")
        Path("/run/postgresql").mkdir(exist_ok=True)
        shutil.chown("/run/postgresql", "postgres", "postgres")
        workdir = Path("/var/lib/dd-e2e-stubs")
        workdir.mkdir(exist_ok=True)
        # Of tests/stubs only systemd's and postgresql-setup's stand-ins: its `aws` answers one
        # fixed call, while tests/e2e/bin/aws reads the real parameter from moto.
        stubs = Path("/run/dd-e2e-stubs")
        stubs.mkdir(exist_ok=True)
        for name in ("systemctl", "postgresql-setup"):
            if not (stubs / name).exists():
                (stubs / name).symlink_to(STUBS / name)
        env = {
            "PATH": f"{stubs}:{E2E_BIN}:{bindir[-1]}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "HOME": "/root",
            # The stubs need PGDATA; it is the script's own default, AL2023's cluster directory.
            "PGDATA": "/var/lib/pgsql/data",
            "PGHOST": "/run/postgresql", "PGPORT": "5432", "STUB_WORKDIR": str(workdir),
            "DD_E2E_DIR": self.entry["state_dir"], "DD_E2E_PYTHON": self.entry["python"],
            "DD_E2E_MOTO_URL": self.entry.get("moto_url_in_host", ""),
        }
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        self.sh(argv, env=env, timeout=900)


_CLOUD_INIT_STANDIN = r'''#!/usr/bin/env python3
"""Stand-in for `cloud-init status` on a dd-assessment e2e test host: reads
/run/cloud-init/status.json as cloud-init writes it; exit 0 done, 1 error (a stage recorded
errors), 2 done with recoverable errors (cloud-init 23.4+). Nothing else is implemented."""
import argparse, json, sys, time
parser = argparse.ArgumentParser(prog="cloud-init")
sub = parser.add_subparsers(dest="command", required=True)
status = sub.add_parser("status")
status.add_argument("-w", "--wait", action="store_true")
status.add_argument("-l", "--long", action="store_true")
status.add_argument("--format", choices=["json", "tabular", "yaml"], default="tabular")
args = parser.parse_args()
STAGES = ("init-local", "init", "modules-config", "modules-final")

def read():
    try:
        with open("/run/cloud-init/status.json") as f:
            v1 = json.load(f)["v1"]
    except (OSError, ValueError, KeyError):
        return "not started", []
    errors = [e for s in STAGES for e in (v1.get(s) or {}).get("errors") or []]
    if errors:
        return "error", errors
    if v1.get("stage") is None and (v1.get("modules-final") or {}).get("finished"):
        recoverable = any((v1.get(s) or {}).get("recoverable_errors") for s in STAGES)
        return ("degraded done" if recoverable else "done"), []
    return "running", []

state, errors = read()
while args.wait and state in ("running", "not started"):
    sys.stdout.write("."); sys.stdout.flush()
    time.sleep(0.5)
    state, errors = read()
if args.wait:
    sys.stdout.write("\n")
if args.format == "json":
    print(json.dumps({"status": state, "errors": errors}))
else:
    print("status: " + state)
    if args.long and errors:
        print("errors:"); [print("\t" + e) for e in errors]
sys.exit({"done": 0, "degraded done": 2, "error": 1}.get(state, 0))
'''


def _boot_main(instance_id: str) -> int:
    entry = host(instance_id)
    standin = Path("/usr/local/bin/cloud-init")
    standin.write_text(_CLOUD_INIT_STANDIN)
    standin.chmod(0o755)
    try:
        boot = _Boot(entry)
    except Exception as error:  # noqa: BLE001 - a broken user-data is a failed boot
        Path("/run/cloud-init").mkdir(exist_ok=True)
        Path("/run/cloud-init/status.json").write_text(json.dumps({"v1": {
            "stage": None, "init": {"errors": [str(error)], "start": time.time(),
                                    "finished": time.time()}}}))
        print(f"boot failed: {error}", file=sys.stderr)
        return 1
    return boot.run()


# ---------------------------------------------------------------- use


def nsenter_argv(instance_id: str) -> list[str]:
    """The command prefix that enters the host's namespaces (for a caller's own subprocess)."""
    return _nsenter(host(instance_id))


def ensure_images() -> dict[str, Path]:
    """Build the test images (cold: a few minutes) or find them in the cache; call it before
    `pulumi up` so that the hosts' boots only load them. {image name: tarball}."""
    import images  # noqa: PLC0415 - beside this file
    return images.ensure_images(log=lambda text: print(f"test images: {text}", file=sys.stderr))


def exec_in(instance_id: str, cmd: list[str] | str, *, timeout: float = 120, check: bool = False,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run `cmd` (argv, or a shell string) as root in the host's namespaces (network, mount, UTS):
    its docker, its /run, its files. Returns the CompletedProcess (text, captured)."""
    entry = host(instance_id)
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    result = subprocess.run([*_nsenter(entry), *argv], capture_output=True, text=True,
                            timeout=timeout, env=env, input=input)
    if check and result.returncode != 0:
        raise HostError(f"{instance_id}: {shlex.join(argv)} exited {result.returncode}: "
                        f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return result


def docker_ps(instance_id: str) -> list[dict]:
    """`docker ps -a` of that host's engine, one dict per container (docker's JSON fields)."""
    result = exec_in(instance_id, ["docker", "ps", "--all", "--no-trunc", "--format", "{{json .}}"],
                     check=True)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def console_output(instance_id: str) -> str:
    """What the instance's console shows: boot progress, then cloud-init's host key block."""
    path = _host_dir(instance_id) / "console.log"
    return path.read_text() if path.exists() else ""


def boot_log(instance_id: str) -> str:
    """/var/log/cloud-init-output.log of the host."""
    entry = host(instance_id)
    path = _in_host_root(entry, "/var/log/cloud-init-output.log")
    try:
        return path.read_text()
    except OSError:
        return ""


def boot_status(instance_id: str) -> dict:
    """/run/cloud-init/status.json of the host ({} before the boot writes it)."""
    try:
        return json.loads((_host_dir(instance_id) / "run" / "cloud-init" / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def wait_for_boot(instance_id: str, seconds: float = 900) -> dict:
    """Wait until the boot is over; raise with the boot's output when it failed."""
    def over():
        v1 = boot_status(instance_id).get("v1") or {}
        return v1 if v1.get("stage") is None and any(
            (v1.get(s) or {}).get("errors") for s in CLOUD_INIT_STAGES) or (
            v1.get("stage") is None and (v1.get("modules-final") or {}).get("finished")) else None
    v1 = _wait_for(f"the boot of {instance_id}", over, seconds, pause=1)
    errors = [e for s in CLOUD_INIT_STAGES for e in (v1.get(s) or {}).get("errors") or []]
    if errors:
        raise HostError(f"boot of {instance_id} failed: {errors}\n{boot_log(instance_id)[-3000:]}")
    return v1


# ---------------------------------------------------------------- destroy


def _pids_in(net_ns: int | None, mnt_ns: int | None) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        pid = int(proc.name)
        if (net_ns and _ns_inode(pid, "net") == net_ns) or (mnt_ns and _ns_inode(pid, "mnt") == mnt_ns):
            found.append(pid)
    return found


def _cgroup_dirs(instance_id: str) -> list[Path]:
    return sorted(Path("/sys/fs/cgroup").glob(f"*/{PREFIX}-{instance_id}")) + sorted(
        Path("/sys/fs/cgroup").glob(f"{PREFIX}-{instance_id}"))


def _pids_in_cgroups(instance_id: str) -> set[int]:
    pids = set()
    for top in _cgroup_dirs(instance_id):
        for procs in top.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                pass
    return pids


def _kill_all(pids_of, what: str, grace: float = 10) -> None:
    pids = pids_of()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_alive(p) for p in pids_of()):
            time.sleep(0.1)
        pids = [p for p in pids_of() if _alive(p)]
        if not pids:
            return
    raise HostError(f"{what}: processes {pids} survive SIGKILL")


def destroy_host(instance_id: str) -> None:
    """Stop everything of that host (containers, dockerd, sshd, PostgreSQL, its boot), remove its
    network namespace, veth, iptables rules, cgroups and directory. Idempotent."""
    directory = _host_dir(instance_id)
    entry_file = directory / "host.json"
    if not entry_file.exists():
        if directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        return
    entry = json.loads(entry_file.read_text())
    problems = []
    anchor = entry.get("anchor_pid")
    if _alive(anchor) and _ns_inode(anchor, "mnt") == entry.get("mnt_ns"):
        # Containers first, through their engine, so that dockerd stops cleanly.
        try:
            exec_in(instance_id, "ids=$(docker ps -aq) && [ -z \"$ids\" ] || docker rm -f $ids",
                    timeout=120)
        except (subprocess.TimeoutExpired, HostError) as error:
            problems.append(f"docker rm: {error}")
        dockerd = entry.get("dockerd_pid")
        if _alive(dockerd):
            os.kill(dockerd, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while _alive(dockerd) and time.monotonic() < deadline:
                time.sleep(0.2)
    forwarder = entry.get("forwarder_pid")
    try:
        if _alive(forwarder) and instance_id in Path(f"/proc/{forwarder}/cmdline").read_text(
                errors="replace"):
            os.kill(forwarder, signal.SIGKILL)
    except OSError:
        pass  # gone already
    try:
        _kill_all(lambda: sorted(_pids_in_cgroups(instance_id)), f"{instance_id}'s containers")
        _kill_all(lambda: _pids_in(entry.get("net_ns"), entry.get("mnt_ns")),
                  f"{instance_id}'s processes")
    except HostError as error:
        problems.append(str(error))
    for top in _cgroup_dirs(instance_id):
        for cgroup in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            try:
                cgroup.rmdir()
            except OSError:
                pass
        try:
            top.rmdir()
        except OSError as error:
            problems.append(f"cgroup {top}: {error}")
    names = _names(entry["index"])
    for rule in _iptables_rules(instance_id, names):
        while _iptables("-C", rule, check=False).returncode == 0:
            _iptables("-D", rule)
    if Path(f"/sys/class/net/{names['root_link']}").exists():
        _run("ip", "link", "del", names["root_link"], check=False)
    if Path(f"/var/run/netns/{names['netns']}").exists():
        _run("ip", "netns", "del", names["netns"], check=False)
    if problems:
        raise HostError(f"destroy of {instance_id} incomplete (run it again): {problems}")
    entry_file.unlink()
    shutil.rmtree(directory, ignore_errors=True)
    _restore_ip_forward()


def _restore_ip_forward() -> None:
    marker = state_dir() / "ip_forward.set-by-us"
    if not marker.exists() or hosts():
        return
    # Another engine in the root namespace may rely on forwarding since: leave it on then.
    root_net = _ns_inode(1, "net")
    for proc in Path("/proc").iterdir():
        if (proc.name.isdigit() and _ns_inode(int(proc.name), "net") == root_net
                and _alive(int(proc.name))):
            try:
                if Path(proc, "comm").read_text().strip() == "dockerd":
                    marker.unlink()
                    return
            except OSError:
                pass
    Path("/proc/sys/net/ipv4/ip_forward").write_text(marker.read_text())
    marker.unlink()


def destroy_all() -> None:
    """Destroy every host of $DD_E2E_DIR, then sweep what a crashed run may have left of ours
    (hosts' iptables rules, links and netns with our prefix that no live registry entry owns)."""
    problems = []
    for instance_id in list(hosts()):
        try:
            destroy_host(instance_id)
        except HostError as error:
            problems.append(str(error))
    for stray in (state_dir() / "hosts").iterdir():
        if stray.is_dir() and not (stray / "host.json").exists():
            shutil.rmtree(stray, ignore_errors=True)
    if problems:
        raise HostError("; ".join(problems))


def sweep_leftovers() -> list[str]:
    """Remove every netns, veth and iptables rule of ours on this machine that no host of ANY
    registry owns (a run killed before its destroy). Returns what it removed."""
    removed = []
    owned = {h["netns"] for h in hosts().values()}
    for line in _run("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(f"{PREFIX}-") and name not in owned:
            index = name.split("-", 1)[1]
            for pid in _run("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _run("ip", "link", "del", f"{PREFIX}{index}r", check=False)
            _run("ip", "netns", "del", name, check=False)
            removed.append(name)
    for table in ("nat", "filter"):
        for line in _run("iptables", "-w", "-t", table, "-S").stdout.splitlines():
            if f'"{PREFIX}:' not in line and f" {PREFIX}:" not in line:
                continue
            args = shlex.split(line)
            iid = next((a.split(":", 1)[1] for a in args if a.startswith(f"{PREFIX}:")), "")
            if iid in hosts():
                continue
            _run("iptables", "-w", "-t", table, "-D", *args[1:], check=False)
            removed.append(f"{table}: {line}")
    return removed


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "_boot":
        return _boot_main(argv[1])
    if len(argv) == 6 and argv[0] == "_forward":  # argv[1]: the instance id, for ps and destroy
        return _forward_main(argv[2], int(argv[3]), argv[4], int(argv[5]))
    usage = "usage: testhosts.py list | destroy-all | sweep | build-images"
    if argv == ["list"]:
        print(json.dumps(hosts(), indent=2))
    elif argv == ["destroy-all"]:
        destroy_all()
    elif argv == ["sweep"]:
        print("\n".join(sweep_leftovers()))
    elif argv == ["build-images"]:
        import images  # noqa: PLC0415
        started = time.monotonic()
        print(json.dumps({k: str(v) for k, v in images.ensure_images(log=print).items()}))
        print(f"images ready in {time.monotonic() - started:.1f} s")
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(_main(sys.argv[1:]))
