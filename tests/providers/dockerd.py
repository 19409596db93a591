"""A private Docker Engine for the Docker provider to create the program's containers on.

`dockerd` (Debian's docker.io) runs in network and mount namespaces of its own (`unshare`), so
its bridges, iptables rules and the published port 80 never touch the machine's, with its
socket, data and exec roots in a temporary directory (the vfs storage driver: no overlay
mounts). No registry is reachable, so the images the program names are made locally from a
busybox root filesystem (`docker import`), with stand-ins for the commands the containers and
their health checks run (`agent`, `python`): each sleeps or succeeds, which is all the provider
sees. What is judged is how the real provider creates, reads back and diffs the containers,
not what runs inside them.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: one static binary, no libraries
# What the imported images run: the provider needs a container that keeps running (must_run).
_SCRIPTS = {
    "usr/local/bin/agent": "#!/bin/sh\nexit 0\n",  # the Agent's health check: `agent health`
    "usr/local/bin/python": "#!/bin/sh\nexec sleep 86400\n",  # the traffic container's command
}


@dataclass
class Dockerd:
    directory: Path
    process: subprocess.Popen
    socket: Path

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str, stdin: bytes | None = None) -> str:
        result = subprocess.run(["docker", "-H", self.host, *args], input=stdin, capture_output=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.decode()[-1000:]}")
        return result.stdout.decode()

    def make_image(self, name: str) -> None:
        """`name` as a local image: busybox with the stand-in commands, CMD sleeping."""
        self.docker("import", "--change", 'CMD ["/bin/sleep", "86400"]', "-", name, stdin=_rootfs())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _rootfs() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "sleep", "true", "cat", "ls"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for path, text in _SCRIPTS.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(text), 0o755
            tar.addfile(info, io.BytesIO(text.encode()))
        for directory in ("tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
    return buffer.getvalue()


def missing() -> str | None:
    """Why a private dockerd cannot run here, or None."""
    if os.geteuid() != 0:
        return "dockerd needs root (run make conformance as root, as CI does)"
    for tool in ("dockerd", "docker", "unshare"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian package docker.io; tests/providers/system-packages.txt)"
    if not BUSYBOX.exists():
        return f"{BUSYBOX} is missing (Debian package busybox-static)"
    return None


def start(timeout: float = 60) -> Dockerd:
    directory = Path(tempfile.mkdtemp(prefix="dd-conformance-dockerd-"))
    socket = directory / "docker.sock"
    # A private /run (tmpfs) in the new mount namespace: nothing of the machine's dockerd or
    # containerd state is seen or touched; `lo` up for the engine's own loopback use.
    script = (f"mount -t tmpfs tmpfs /run && ip link set lo up && exec dockerd"
              f" --data-root {directory}/data --exec-root {directory}/exec -H unix://{socket}"
              f" --pidfile {directory}/dockerd.pid --storage-driver vfs")
    log = open(directory / "dockerd.log", "wb")
    process = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = Dockerd(directory, process, socket)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if socket.exists():
            try:
                engine.docker("version", "--format", "{{.Server.Version}}")
                return engine
            except RuntimeError:
                pass
        time.sleep(0.5)
    text = (directory / "dockerd.log").read_text(errors="replace")[-3000:]
    engine.stop()
    raise RuntimeError(f"private dockerd did not come up within {timeout:.0f} s:\n{text}")
