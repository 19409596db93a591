"""Fixtures of the test hosts' own tests: moto for SSM, the image cache, two booted hosts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(HERE), str(ROOT)]

import images  # noqa: E402
import testhosts  # noqa: E402

REGION = "us-east-2"
FIGURES: list[str] = []


def figure(text: str) -> None:
    """A measured figure, printed at the end of the run (not asserted)."""
    FIGURES.append(text)


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("e2e test hosts: figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def root_only():
    if os.geteuid() != 0 or sys.platform != "linux":
        pytest.skip("the e2e test hosts need Linux and root (namespaces, dockerd, sshd)")


@pytest.fixture(scope="session")
def e2e_dir():
    directory = Path(tempfile.mkdtemp(prefix="dd-e2e-hosts-"))
    os.environ["DD_E2E_DIR"] = str(directory)
    yield directory
    testhosts.destroy_all()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_url(e2e_dir):
    port = _free_port()
    log = open(e2e_dir / "moto.log", "ab")
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"moto_server did not answer: {(e2e_dir / 'moto.log').read_text()}")
            time.sleep(0.2)
    os.environ.update({"DD_E2E_MOTO_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"})
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def image_tarballs(e2e_dir):
    started = time.monotonic()
    cold = not all(p.exists() for p in images.tarballs().values())
    tarballs = images.ensure_images(log=lambda text: print(text, file=sys.stderr))
    figure(f"test images {'built (cold)' if cold else 'from the cache (warm)'}: "
           f"{time.monotonic() - started:.1f} s")
    return tarballs


@pytest.fixture(scope="session")
def login_key(e2e_dir) -> Path:
    key = e2e_dir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-hosts-tests",
                    "-f", str(key)], check=True)
    return key


class Booted:
    """One host booted from the program's real user-data."""

    def __init__(self, entry: dict, password: str, host_name: str) -> None:
        self.entry, self.password, self.host_name = entry, password, host_name
        self.id, self.ip = entry["instance_id"], entry["ip"]


@pytest.fixture(scope="session")
def booted(e2e_dir, moto_url, image_tarballs, login_key) -> list[Booted]:
    """Two hosts, as two EC2 instances of one stack: user-data rendered by the program
    (components/user_data.py), the password in SSM (moto) where the boot reads it, the image
    tags the program sets (components/host.py)."""
    import boto3

    from components.design import AGENT_NETWORK_CIDR
    from components.user_data import AGENT_IMAGE_TAG, APP_BASE_IMAGE_TAG, render_user_data

    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=moto_url)
    hosts = []
    for n in range(2):
        host_name = f"dd-assessment-e2ehosts-{n}"
        parameter = f"/dd-assessment/e2ehosts/{host_name}/postgres-datadog-password"
        password = f"e2e-hosts-Passw0rd-{n}-{os.getpid()}"
        ssm.put_parameter(Name=parameter, Value=password, Type="SecureString")
        user_data = render_user_data(host_name=host_name, region=REGION,
                                     password_parameter=parameter,
                                     agent_network_cidr=AGENT_NETWORK_CIDR)
        started = time.monotonic()
        entry = testhosts.create_host(
            f"i-0e2eh0575{n:08d}", user_data, (login_key.with_suffix(".pub")).read_text(),
            {"Name": host_name, AGENT_IMAGE_TAG: images.AGENT_IMAGE,
             APP_BASE_IMAGE_TAG: images.PYTHON_IMAGE}, 240 + n)
        figure(f"host {n}: sshd and dockerd answer {time.monotonic() - started:.1f} s after "
               f"create_host")
        hosts.append(Booted(entry, password, host_name))
    for n, host in enumerate(hosts):
        testhosts.wait_for_boot(host.id, seconds=900)
        v1 = testhosts.boot_status(host.id)["v1"]
        figure(f"host {n}: boot (images loaded, PostgreSQL prepared) took "
               f"{v1['modules-final']['finished'] - v1['init-local']['start']:.1f} s")
    return hosts
