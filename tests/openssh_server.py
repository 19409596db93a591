"""A real OpenSSH server standing in for a host, reached the ways the project reaches its hosts.

Debian's `sshd` runs in a network namespace of its own, at an address on a veth pair (a host behind
its public IP), and in a private mount namespace (the one `ip netns exec` creates) in which
- /etc/passwd and /etc/shadow are copies that add `ec2-user`: this machine's user database is
  never touched;
- /run is a fresh tmpfs holding sshd's privilege-separation directory and cloud-init's
  `status.json`, exactly where the readiness gate reads it;
- sessions find the stand-in `cloud-init` (tests/stubs/host-access) first on PATH.
Its host keys are ed25519 and ECDSA, as Amazon Linux 2023 generates them.

The client side runs here unchanged: `ssh` straight to the address (hostAccess: ssh), or through
the ProxyCommand, where the stand-in `aws` relays the session to port 22 as Session Manager does
(hostAccess: ssm). Addresses and names derive from the pid, so parallel runs do not collide.
Needs root (namespaces, sshd).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "tests" / "stubs" / "host-access"
SSHD = "/usr/sbin/sshd"
INSTANCE_ID = "i-0123456789abcdef0"
REGION = "us-east-2"
# 10.77.0.0/16 in /30 blocks, one per process: clear of the PostgreSQL tests' 172.30.0.0/24.
SUBNETS = ipaddress.ip_network("10.77.0.0/16")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True)


def generate_key(path: Path, key_type: str = "ed25519") -> str:
    """A new key pair at `path`; returns the public half as `<type> <base64>`."""
    _run("ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "", "-f", str(path))
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _free_uid() -> int:
    used = {entry.pw_uid for entry in pwd.getpwall()}
    return next(uid for uid in range(4242, 60000) if uid not in used)


@dataclass
class SshServer:
    workdir: Path
    namespace: str
    host_device: str
    address: str
    host_key: str  # the server's ed25519 key, `ssh-ed25519 <base64>`
    client_key: Path  # accepted for ec2-user
    process: subprocess.Popen | None = field(default=None)

    @property
    def aws_log(self) -> Path:
        return self.workdir / "aws.log"

    @property
    def console_output(self) -> Path:
        return self.workdir / "console-output"

    def set_cloud_init_exit(self, code: int) -> None:
        (self.workdir / "cloud-init-exit").write_text(f"{code}\n")

    def client_env(self) -> dict[str, str]:
        """For the deploying machine's side: the stand-in `aws` first on PATH, and its settings."""
        return {"PATH": f"{STUBS}:/usr/bin:/bin", "HOME": str(self.workdir / "client-home"),
                "LANG": "C.UTF-8", "STUB_AWS_LOG": str(self.aws_log),
                "STUB_INSTANCE_ID": INSTANCE_ID, "STUB_REGION": REGION,
                "STUB_SSHD_ADDRESS": self.address, "STUB_CONSOLE_OUTPUT": str(self.console_output)}

    def start(self) -> None:
        work = self.workdir
        # A fresh mount namespace per start: the copies, the tmpfs /run and cloud-init's timings.
        setup = " && ".join([
            f"mount --bind {work}/passwd /etc/passwd", f"mount --bind {work}/shadow /etc/shadow",
            "mount -t tmpfs -o mode=755 tmpfs /run", "mkdir -m 755 /run/sshd /run/cloud-init",
            f"cp {work}/status.json /run/cloud-init/status.json",
            f"exec {SSHD} -D -e -f {work}/sshd_config"])
        with open(work / "sshd.log", "a") as log:
            self.process = subprocess.Popen(["ip", "netns", "exec", self.namespace, "sh", "-c", setup],
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if probe.connect_ex((self.address, 22)) == 0:
                    return
            assert self.process.poll() is None, (work / "sshd.log").read_text()
            time.sleep(0.02)
        raise AssertionError(f"sshd did not listen on {self.address}:22: {(work / 'sshd.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None


def create(status_json: str) -> SshServer:
    """The server's files, user, keys and network; sshd itself is started with `start()`."""
    work = Path(tempfile.mkdtemp(prefix="dd-ssh-"))
    os.chmod(work, 0o755)  # ec2-user reads the stand-in and its exit code from here
    pid = os.getpid()
    block = list(SUBNETS.subnets(new_prefix=30))[pid % 2 ** 14]
    host_address, server_address = str(block[1]), str(block[2])
    namespace, host_device, server_device = f"ddssh{pid}", f"vsh{pid}"[:15], f"vss{pid}"[:15]

    host_key = generate_key(work / "ssh_host_ed25519_key")
    generate_key(work / "ssh_host_ecdsa_key", "ecdsa")
    client_public_key = generate_key(work / "client_key")
    (work / "authorized_keys").write_text(client_public_key + "\n")
    (work / "client-home").mkdir()

    uid = _free_uid()
    home = work / "home"
    home.mkdir()
    os.chown(home, uid, uid)
    (work / "passwd").write_text(Path("/etc/passwd").read_text()
                                 + f"ec2-user:x:{uid}:{uid}:EC2 Default User:{home}:/bin/bash\n")
    (work / "shadow").write_text(Path("/etc/shadow").read_text() + "ec2-user:*:20000:0:99999:7:::\n")
    os.chmod(work / "shadow", 0o640)
    (work / "status.json").write_text(status_json)
    (work / "bin").mkdir()
    shutil.copy2(STUBS / "cloud-init", work / "bin" / "cloud-init")
    (work / "cloud-init-exit").write_text("0\n")
    (work / "sshd_config").write_text("\n".join([
        f"ListenAddress {server_address}:22",
        f"HostKey {work}/ssh_host_ed25519_key",
        f"HostKey {work}/ssh_host_ecdsa_key",
        f"AuthorizedKeysFile {work}/authorized_keys",
        "AllowUsers ec2-user", "UsePAM no", "StrictModes no", "PidFile none",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PrintMotd no",
        f"SetEnv PATH={work}/bin:/usr/bin:/bin STUB_CLOUD_INIT_EXIT_FILE={work}/cloud-init-exit",
    ]) + "\n")

    _run("ip", "netns", "add", namespace)
    _run("ip", "link", "add", host_device, "type", "veth", "peer", "name", server_device)
    _run("ip", "link", "set", server_device, "netns", namespace)
    _run("ip", "addr", "add", f"{host_address}/30", "dev", host_device)
    _run("ip", "link", "set", host_device, "up")
    _run("ip", "netns", "exec", namespace, "ip", "addr", "add", f"{server_address}/30", "dev", server_device)
    _run("ip", "netns", "exec", namespace, "ip", "link", "set", server_device, "up")
    _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
    return SshServer(work, namespace, host_device, server_address, host_key, work / "client_key")


def destroy(server: SshServer) -> None:
    server.stop()
    subprocess.run(["ip", "netns", "del", server.namespace], capture_output=True)
    subprocess.run(["ip", "link", "del", server.host_device], capture_output=True)
    shutil.rmtree(server.workdir, ignore_errors=True)
