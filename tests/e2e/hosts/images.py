"""The container images the program names, built here because no image registry is reachable.

- the app's base, `python:3.12.14-slim-trixie` (app/Dockerfile's FROM): a debootstrap root file
  system (tests/e2e/images/python.packages) imported with `docker import`;
- the Agent, `gcr.io/datadoghq/agent:<agentVersion>` (components/agent.py, the settings'
  default): tests/e2e/images/agent/, built FROM that base; its `pip install` reaches PyPI from
  inside a test host's engine, through the host's NAT.
Built once, saved with `docker save` under ${DD_ASSESSMENT_CACHE:-~/.cache/dd-assessment}/e2e-images/
<hash of the inputs>/, then `docker load`ed into each test host's engine. The build runs in a test
host's engine: the booting host's own (when the boot finds the cache cold) or, called from
outside a host, a temporary builder host.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
IMAGES = ROOT / "tests" / "e2e" / "images"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
TEST_AGENT_VERSION = "1.69.1"  # the one tests/host/requirements.txt pins
# A PostgreSQL client in the Agent's image (pure Python, SCRAM): the e2e checks connect from the
# Agent's own network as the real Agent's postgres check would.
PG8000_VERSION = "1.31.6"
BUILDER_ID = "i-0e2e1mage0bu1lder"
BUILDER_INDEX = 250


def _app_base_image() -> str:
    match = re.search(r"^FROM\s+(\S+)", (ROOT / "app" / "Dockerfile").read_text(), re.M)
    assert match, "app/Dockerfile has no FROM line"
    return match.group(1)


def _agent_image() -> str:
    repository = re.search(r'^IMAGE_REPOSITORY = "([^"]+)"',
                           (ROOT / "components" / "agent.py").read_text(), re.M)
    version = re.search(r'^DEFAULT_AGENT_VERSION = "([^"]+)"',
                        (ROOT / "components" / "settings.py").read_text(), re.M)
    assert repository and version, "components/agent.py or settings.py changed: update images.py"
    return f"{repository.group(1)}:{version.group(1)}"


PYTHON_IMAGE = _app_base_image()
AGENT_IMAGE = _agent_image()
# Which test image stands in for the image an instance tag names (components/user_data.py).
IMAGE_FOR_TAG = {"agentImage": AGENT_IMAGE, "appBaseImage": PYTHON_IMAGE}
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"  # Debian's, = engine


def cache_dir() -> Path:
    base = os.environ.get("DD_ASSESSMENT_CACHE") or str(Path.home() / ".cache" / "dd-assessment")
    return Path(base) / "e2e-images"


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part + b"\0")
    return digest.hexdigest()[:16]


def tarballs() -> dict[str, Path]:
    """Where each image's `docker save` lives: named by a hash of everything it is built from,
    so a changed input builds that image (and what is built on it) again."""
    python_key = _digest((IMAGES / "python.packages").read_bytes(), PYTHON_IMAGE.encode(),
                         DEBIAN_MIRROR.encode())
    agent_files = sorted(p for p in (IMAGES / "agent").rglob("*") if p.is_file())
    agent_key = _digest(python_key.encode(), AGENT_IMAGE.encode(), TEST_AGENT_VERSION.encode(),
                        PG8000_VERSION.encode(),
                        *(p.name.encode() + p.read_bytes() for p in agent_files))
    return {PYTHON_IMAGE: cache_dir() / f"python-{python_key}.tar",
            AGENT_IMAGE: cache_dir() / f"agent-{agent_key}.tar"}


def _packages() -> tuple[str, list[str]]:
    lines = [line.split("#")[0].strip() for line in (IMAGES / "python.packages").read_text().splitlines()]
    lines = [line for line in lines if line]
    assert lines[0].startswith("suite "), "python.packages: first line must be `suite <name>`"
    return lines[0].split()[1], lines[1:]


def _inside_a_test_host() -> bool:
    return Path("/run/.dde2e-anchor-ready").exists()


def ensure_images(log=print) -> dict[str, Path]:
    """{image name: docker save tarball}; builds them once (cold) under a lock shared by every
    process, else reuses the cache."""
    wanted = tarballs()
    if all(path.exists() for path in wanted.values()):
        return wanted
    import testhosts  # noqa: PLC0415 - beside this file
    testhosts.refuse_shadowed(cache_dir().resolve(), "the image cache")
    cache_dir().mkdir(parents=True, exist_ok=True)
    fd = os.open(cache_dir() / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another host or run may be building them right now
        if all(path.exists() for path in wanted.values()):
            return wanted
        started = time.monotonic()
        if _inside_a_test_host():
            _build(wanted, local_docker, log)
        else:
            _build_on_a_builder_host(wanted, log)
        log(f"e2e images built (cold) in {time.monotonic() - started:.0f} s: "
            + ", ".join(str(p) for p in wanted.values()))
        return wanted
    finally:
        os.close(fd)


MACHINE_CA_DIR = Path("/usr/local/share/ca-certificates")


def add_machine_ca(docker, log=print) -> None:
    """Make the Python base trust the CAs this machine adds to its trust store: here, traffic to
    the package registries passes a TLS-inspecting egress proxy whose CA (renewed per session)
    only the machine trusts, so without it `pip install` fails with CERTIFICATE_VERIFY_FAILED.
    Done at each load, not cached: the CA changes while the cached image stays valid."""
    if not any(MACHINE_CA_DIR.glob("*.crt")):
        return
    name = f"dd-e2e-ca-{os.getpid()}"
    docker(f"{DOCKER} run --name {name} --network none "
           f"--volume {MACHINE_CA_DIR}:/machine-ca:ro {PYTHON_IMAGE} sh -c "
           f"'cp /machine-ca/*.crt /usr/local/share/ca-certificates/ && "
           f"update-ca-certificates >/dev/null' && "
           f"{DOCKER} commit --change 'CMD [\"python3\"]' {name} {PYTHON_IMAGE} >/dev/null; "
           f"status=$?; {DOCKER} rm {name} >/dev/null; exit $status", timeout=600)
    log(f"{PYTHON_IMAGE}: trusts this machine's CAs ({MACHINE_CA_DIR})")


def load(name: str, docker, log=print) -> None:
    """Load one cached test image into the engine `docker` drives."""
    docker(f"{DOCKER} load --quiet --input {tarballs()[name]}", timeout=900)
    if name == PYTHON_IMAGE:
        add_machine_ca(docker, log)


def local_docker(command: str, timeout: float) -> None:
    """Run a docker command line here (inside a test host: its own engine)."""
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{command} exited {result.returncode}: {result.stderr[-3000:]}")


def _build_on_a_builder_host(wanted: dict[str, Path], log) -> None:
    import testhosts  # noqa: PLC0415 - beside this file

    testhosts.destroy_host(BUILDER_ID)  # a builder left by a killed run
    testhosts.create_host(BUILDER_ID, "#cloud-config\n{}\n", "", {}, BUILDER_INDEX)
    try:
        def docker(command: str, timeout: float) -> None:
            testhosts.exec_in(BUILDER_ID, command, timeout=timeout, check=True)
        _build(wanted, docker, log)
    finally:
        testhosts.destroy_host(BUILDER_ID)


def _build(wanted: dict[str, Path], docker, log) -> None:
    python_tar, agent_tar = wanted[PYTHON_IMAGE], wanted[AGENT_IMAGE]
    if python_tar.exists():
        docker(f"{DOCKER} load --quiet --input {python_tar}", timeout=900)
    else:
        _build_python_base(python_tar, docker, log)
    if not agent_tar.exists():
        add_machine_ca(docker, log)  # the agent's `pip install` goes through the egress proxy
        started = time.monotonic()
        docker(f"DOCKER_BUILDKIT=0 nice {DOCKER} build --quiet --tag {AGENT_IMAGE} "
               f"--build-arg BASE_IMAGE={PYTHON_IMAGE} --build-arg TEST_AGENT_VERSION={TEST_AGENT_VERSION} "
               f"--build-arg PG8000_VERSION={PG8000_VERSION} {IMAGES / 'agent'}", timeout=1500)
        log(f"agent image built (pip through the host's NAT) in {time.monotonic() - started:.0f} s")
        _save(AGENT_IMAGE, agent_tar, docker)


def _save(name: str, path: Path, docker) -> None:
    docker(f"{DOCKER} save --output {path}.tmp {name} && mv {path}.tmp {path}", timeout=900)


def _build_python_base(python_tar: Path, docker, log) -> None:
    suite, packages = _packages()
    work = Path(tempfile.mkdtemp(prefix="build-", dir=cache_dir()))
    try:
        rootfs = work / "rootfs"
        started = time.monotonic()
        log(f"debootstrap {suite} ({', '.join(packages)}) ...")
        result = subprocess.run(
            ["nice", "debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
             suite, str(rootfs), DEBIAN_MIRROR], capture_output=True, text=True, timeout=1500)
        if result.returncode != 0:
            raise RuntimeError(f"debootstrap exited {result.returncode}: "
                               f"{(result.stdout + result.stderr)[-3000:]}")
        # The official image's pip installs as root into the system: so does this one (PEP 668's
        # marker would refuse app/Dockerfile's `pip install`).
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        for junk in ("var/lib/apt/lists", "var/cache/apt"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        (rootfs / "etc" / "dd-assessment-test-image").write_text(
            f"e2e test stand-in for {PYTHON_IMAGE}: debootstrap {suite} + {' '.join(packages)}\n")
        log(f"debootstrap done in {time.monotonic() - started:.0f} s")
        changes = " ".join(f"--change {q}" for q in (
            "'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'",
            "'ENV LANG=C.UTF-8'", "'CMD [\"python3\"]'"))
        docker(f"nice tar --numeric-owner -C {rootfs} -c . | {DOCKER} import {changes} - {PYTHON_IMAGE}",
               timeout=900)
        _save(PYTHON_IMAGE, python_tar, docker)
    finally:
        _unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)


def _unmount_under(path: Path) -> None:
    """debootstrap mounts /proc and /sys in its target: never delete through a mount left by a
    failed run."""
    prefix = str(path.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True)
