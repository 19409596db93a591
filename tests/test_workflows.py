"""GitHub workflows: valid against GitHub's schema, clean under zizmor, and shaped as intended.

Both tools run offline from the test venv (`Path(sys.executable).parent`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PREVIEW = ROOT / ".github" / "workflows" / "preview.yml"


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in {BIN}: pip install -r requirements-test.txt"
    return str(path)


def test_there_are_workflows():
    assert PREVIEW in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_matches_githubs_schema(workflow):
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             str(workflow)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_high():
    # --offline: no GitHub API (no network here); the online audits only look up whether pinned
    # SHAs and tags are current.
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-config", "--format", "json", "--min-severity", "high",
         *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr  # 1x = findings exist
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def _load(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True.
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def test_every_action_is_pinned_to_a_commit_sha():
    for workflow in WORKFLOWS:
        for name, job in _load(workflow)["jobs"].items():
            for step in _steps(job):
                if "uses" in step and not step["uses"].startswith("./"):
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), (name, step["uses"])


def test_checkouts_do_not_persist_credentials():
    for workflow in WORKFLOWS:
        for job in _load(workflow)["jobs"].values():
            for step in _steps(job):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False


def test_permissions_are_least_privilege():
    workflow = _load(PREVIEW)
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["test"]["permissions"] == {"contents": "read"}
    assert jobs["preview"]["permissions"] == {"contents": "read", "id-token": "write",
                                              "pull-requests": "write"}


def test_preview_runs_on_every_pull_request_with_oidc_and_the_policy_pack():
    workflow = _load(PREVIEW)
    assert "pull_request" in workflow["on"]
    steps = _steps(workflow["jobs"]["preview"])
    text = PREVIEW.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text  # OIDC only

    aws = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"

    (preview,) = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")
                  and s.get("with", {}).get("command")]
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["stack-name"] == "test"
    assert preview["with"]["comment-on-pr"] is True
    assert preview["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert preview["with"]["policyPacks"] == "policy"

    # Dependencies go into ./venv, the virtualenv Pulumi.yaml names, before Pulumi runs.
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
    install = next(s for s in steps if "requirements.txt" in s.get("run", "") and "policy" not in s["run"])
    assert f"-m venv {runtime['virtualenv']}" in install["run"]
    assert f"{runtime['virtualenv']}/bin/pip install" in install["run"]
    assert steps.index(install) < steps.index(preview)
    assert not any(re.search(r"(^|\s)pip3? install", s.get("run", "")) for s in steps)


def test_ssh_key_is_written_privately_and_configured():
    steps = _steps(_load(PREVIEW)["jobs"]["preview"])
    step = next(s for s in steps if "SSH_PRIVATE_KEY" in s.get("env", {}))
    assert step["env"]["SSH_PRIVATE_KEY"] == "${{ secrets.SSH_PRIVATE_KEY }}"
    assert "umask 077" in step["run"] and "RUNNER_TEMP" in step["run"]
    assert "config set --stack test sshPrivateKeyPath" in step["run"]
    # Expressions never reach a shell script directly (template injection).
    assert "${{" not in step["run"]


def test_the_preview_can_reach_deployed_hosts_through_session_manager():
    steps = _steps(_load(PREVIEW)["jobs"]["preview"])
    (install,) = [s for s in steps if "session-manager-plugin" in s.get("run", "")]
    # An exact version, its bytes checked before dpkg runs them.
    assert install["env"]["PLUGIN_VERSION"] == "1.2.835.0"
    assert re.fullmatch(r"[0-9a-f]{64}", install["env"]["PLUGIN_SHA256"])
    run = install["run"]
    assert ("https://s3.amazonaws.com/session-manager-downloads/plugin/$PLUGIN_VERSION/ubuntu_64bit/"
            "session-manager-plugin.deb") in run
    assert run.index("sha256sum --check --strict") < run.index("dpkg -i")
    assert "latest" not in run
    (preview,) = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")
                  and s.get("with", {}).get("command")]
    assert steps.index(install) < steps.index(preview)
    # The runner's stack keeps the default transport, Session Manager (no tracked stack file).
    config_step = next(s for s in steps if "SSH_PRIVATE_KEY" in s.get("env", {}))["run"]
    assert "hostAccess" not in config_step


def test_the_runner_restores_the_untracked_stack_file_before_adding_its_settings():
    """Pulumi.test.yaml is gitignored: without `config refresh` the preview would run with a new
    passphrase salt instead of the stack's KMS provider, and without the deployed settings."""
    steps = _steps(_load(PREVIEW)["jobs"]["preview"])
    run = next(s for s in steps if "SSH_PRIVATE_KEY" in s.get("env", {}))["run"]
    lines = [line.strip() for line in run.splitlines()]
    refresh = lines.index("if ! pulumi config refresh --stack test --force; then")
    assert lines.index("pulumi stack select test") < refresh
    assert refresh < min(i for i, line in enumerate(lines) if line.startswith("pulumi config set"))


def test_optional_cidrs_are_set_only_when_given():
    steps = _steps(_load(PREVIEW)["jobs"]["preview"])
    run = next(s for s in steps if "SSH_PRIVATE_KEY" in s.get("env", {}))["run"]
    for key, variable in (("appAllowedCidrs", "APP_ALLOWED_CIDRS"), ("sshAllowedCidrs", "SSH_ALLOWED_CIDRS")):
        assert f'if [ -n "${variable}" ]; then\n  pulumi config set --stack test {key} "${variable}"' in run


def test_the_test_job_runs_the_ci_script_as_root():
    steps = _steps(_load(PREVIEW)["jobs"]["test"])
    assert any("sudo" in s.get("run", "") and ".ci/run" in s["run"] for s in steps)
