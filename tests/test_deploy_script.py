"""scripts/deploy.sh against a stand-in `pulumi` (and `aws`, `curl`) that records every call.

Each test copies the script into a scratch project (so nothing touches this checkout's
.pulumi-state or Pulumi.test.yaml) and runs it with a PATH holding only the stand-ins and the few
system tools the script uses, so "pulumi missing" or "aws missing" really is missing. Prompts are
answered through a pseudo-terminal, the way a user at a terminal would; without one, stdin is
/dev/null and the script must fail listing the commands to run instead.

The stand-in `pulumi` keeps stacks and config in files: `stack select` fails until `stack init`
ran (or the test made the stack), `config get` answers what `config set` stored.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import ROOT

SCRIPT = ROOT / "scripts" / "deploy.sh"
BACKEND_SCRIPT = ROOT / "scripts" / "pulumi-backend.sh"
SYSTEM_TOOLS = ("bash", "dirname", "sed", "head", "grep", "tr", "cat", "mkdir", "touch")
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHn7ZK2pQyYl6GgSyJ7cTi8tCqSoxX5pn2ZwK9bpXnxK me@laptop"

PULUMI_STUB = r"""#!/usr/bin/env bash
# Stand-in pulumi: records its arguments, keeps stacks and config under $STUB_DIR.
printf '%q ' "$@" >>"$STUB_DIR/calls"
printf '\n' >>"$STUB_DIR/calls"
printf '%s\n' "${PULUMI_BACKEND_URL:-}" >>"$STUB_DIR/backends"  # what each call ran against
positional=()
while (($#)); do
  case "$1" in
    --stack | -s) shift ;;
    --secret | --path | --non-interactive | --verbose | --yes) ;;
    *) positional+=("$1") ;;
  esac
  shift
done
set -- "${positional[@]}"
case "$1 ${2:-}" in
  "whoami "*)
    if [[ ${STUB_LOGGED_IN:-0} == 1 ]]; then
      printf 'User: alice\nBackend URL: https://app.pulumi.com/alice\n'
      exit 0
    fi
    if [[ -f "$STUB_DIR/logged-in" ]]; then
      printf 'User: alice\nBackend URL: %s\n' "$(cat "$STUB_DIR/logged-in")"
      exit 0
    fi
    echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2
    exit 255
    ;;
  "login "*) printf '%s' "$2" >"$STUB_DIR/logged-in" ;;
  "stack select")
    [[ -e "$STUB_DIR/stacks/$3" ]] && exit 0
    echo "error: no stack named '$3' found" >&2
    exit 255
    ;;
  "stack init")
    mkdir -p "$STUB_DIR/stacks"
    touch "$STUB_DIR/stacks/$3"
    printf '%s' "${PULUMI_CONFIG_PASSPHRASE:-}" >"$STUB_DIR/passphrase-at-init"
    exit 0
    ;;
  "config get")
    [[ -f "$STUB_DIR/config/$3" ]] && { cat "$STUB_DIR/config/$3"; exit 0; }
    echo "error: configuration key '$3' not found for stack" >&2
    exit 255
    ;;
  "config set")
    key=${3%%\[*}
    if (($# >= 4)); then value=$4; else value=$(cat); fi
    mkdir -p "$STUB_DIR/config"
    printf '%s\n' "$value" >>"$STUB_DIR/config/$key"
    exit 0
    ;;
esac
exit 0
"""

AWS_STUB = r"""#!/usr/bin/env bash
printf 'aws %q ' "$@" >>"$STUB_DIR/aws-calls"
if [[ "$*" == "configure get region" ]]; then  # what `aws configure` saved; exit 1: none
  [[ -n ${STUB_AWS_REGION:-} ]] && echo "$STUB_AWS_REGION"
  exit $((${#STUB_AWS_REGION} ? 0 : 1))
fi
if [[ $1 == --version ]]; then
  echo "${STUB_AWS_VERSION:-aws-cli/2.31.9 Python/3.13.7 Linux/6.8.0 exe/x86_64.ubuntu.24}"
  exit 0
fi
if [[ ${STUB_AWS_OK:-1} == 1 ]]; then
  echo "123456789012 arn:aws:iam::123456789012:user/alice AIDAEXAMPLE"
  exit 0
fi
# As v2 fails (awscli/errorhandler.py): a blank line, then the message, on stderr.
printf '\n%s\n' "${STUB_AWS_ERROR:-Unable to locate credentials. You can configure credentials by running \"aws configure\".}" >&2
exit "${STUB_AWS_STATUS:-253}"
"""

CURL_STUB = """#!/usr/bin/env bash
echo 198.51.100.7
"""

SSH_STUB = """#!/usr/bin/env bash
echo "${STUB_SSH_VERSION:-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5, OpenSSL 3.0.13 30 Jan 2024}" >&2
"""

PLUGIN_STUB = """#!/usr/bin/env bash
echo 1.2.835.0
"""


@dataclass
class Sandbox:
    project: Path
    home: Path
    stub: Path  # the stand-ins' state
    bin: Path
    env: dict

    @property
    def script(self) -> Path:
        return self.project / "scripts" / "deploy.sh"

    def calls(self) -> list[list[str]]:
        log = self.stub / "calls"
        return [shlex.split(line) for line in log.read_text().splitlines()] if log.exists() else []

    def pulumi_calls(self, *, reads: bool = False) -> list[list[str]]:
        """The calls that change or run something (`config get`/`whoami` left out)."""
        return [c for c in self.calls()
                if reads or not (c[:2] == ["config", "get"] or c[:1] == ["whoami"])]

    def backends(self) -> list[str]:
        """PULUMI_BACKEND_URL as each pulumi call saw it, in order."""
        log = self.stub / "backends"
        return log.read_text().splitlines() if log.exists() else []

    def config(self, key: str) -> list[str]:
        path = self.stub / "config" / key
        return path.read_text().splitlines() if path.exists() else []

    def set_config(self, **values: str | list[str]) -> None:
        (self.stub / "config").mkdir(exist_ok=True)
        for key, value in values.items():
            lines = value if isinstance(value, list) else [value]
            (self.stub / "config" / key.replace("__", ":")).write_text("".join(f"{v}\n" for v in lines))

    def make_stack(self, name: str = "test") -> None:
        (self.stub / "stacks").mkdir(exist_ok=True)
        (self.stub / "stacks" / name).touch()

    def ssh_keys(self) -> Path:
        ssh = self.home / ".ssh"
        ssh.mkdir(exist_ok=True)
        (ssh / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nstand-in\n")
        (ssh / "id_ed25519.pub").write_text(PUBLIC_KEY + "\n")
        return ssh / "id_ed25519"

    def complete(self) -> None:
        """A stack with everything a deployment needs."""
        self.ssh_keys()
        self.make_stack()
        self.set_config(aws__region="us-east-2", sshAllowedCidrs=["203.0.113.10/32"], sshPublicKey=PUBLIC_KEY,
                        notifyHandles=["@ops@example.com"], datadog__apiKey="k1", datadog__appKey="k2")

    def without(self, tool: str) -> None:
        (self.bin / tool).unlink()

    def run(self, *args: str, answers: list[str] | None = None) -> subprocess.CompletedProcess:
        if answers is None:
            return subprocess.run([str(self.script), *args], env=self.env, cwd=self.project,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False)
        master, slave = os.openpty()
        try:
            os.write(master, "".join(f"{answer}\n" for answer in answers).encode())
            return subprocess.run([str(self.script), *args], env=self.env, cwd=self.project,
                                  stdin=slave, capture_output=True, text=True, timeout=30, check=False)
        finally:
            os.close(master)
            os.close(slave)


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def box(tmp_path) -> Sandbox:
    project, home, stub, bin_dir = (tmp_path / d for d in ("project", "home", "stub", "bin"))
    for directory in (project / "scripts", home, stub, bin_dir):
        directory.mkdir(parents=True)
    shutil.copy2(SCRIPT, project / "scripts" / "deploy.sh")
    shutil.copy2(BACKEND_SCRIPT, project / "scripts" / "pulumi-backend.sh")
    (project / "Pulumi.yaml").write_text("name: dd-assessment\nruntime: python\n")
    for tool in SYSTEM_TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed by scripts/deploy.sh"
        (bin_dir / tool).symlink_to(found)
    _executable(bin_dir / "pulumi", PULUMI_STUB)
    _executable(bin_dir / "aws", AWS_STUB)
    _executable(bin_dir / "curl", CURL_STUB)
    _executable(bin_dir / "ssh", SSH_STUB)
    _executable(bin_dir / "session-manager-plugin", PLUGIN_STUB)
    env = {"PATH": str(bin_dir), "HOME": str(home), "STUB_DIR": str(stub), "LANG": "C.UTF-8"}
    return Sandbox(project, home, stub, bin_dir, env)


# ---------------------------------------------------------------------------------------------
# Whole runs


def test_fresh_project_uses_its_own_backend_creates_the_stack_asks_and_deploys(box):
    box.ssh_keys()
    result = box.run("up", answers=[
        "correct horse battery", "correct horse battery",  # passphrase, twice for a new stack
        "",  # use ~/.ssh/id_ed25519.pub as sshPublicKey
        "",  # accept the offered region (no AWS CLI region here: us-east-2)
        "",  # accept the caller's address (from checkip) as appAllowedCidrs (no SSH port under ssm)
        "@ops@example.com, @slack-alerts",  # notifyHandles
        "dd-api-key-typed", "dd-app-key-typed",  # Datadog keys
    ])
    assert result.returncode == 0, result.stderr
    backend = f"file://{box.project}/.pulumi-state"
    assert box.pulumi_calls() == [
        ["stack", "select", "test"],
        ["stack", "init", "test"],
        ["config", "set", "--stack", "test", "sshPublicKey", PUBLIC_KEY],
        ["config", "set", "--stack", "test", "aws:region", "us-east-2"],
        ["config", "set", "--stack", "test", "--path", "appAllowedCidrs[0]", "198.51.100.7/32"],
        ["config", "set", "--stack", "test", "--path", "notifyHandles[0]", "@ops@example.com"],
        ["config", "set", "--stack", "test", "--path", "notifyHandles[1]", "@slack-alerts"],
        ["config", "set", "--stack", "test", "--secret", "datadog:apiKey"],
        ["config", "set", "--stack", "test", "--secret", "datadog:appKey"],
        ["up", "--stack", "test"],
    ]
    # The project's own backend, given to every call after the first `whoami` (not logged in),
    # never through `pulumi login`: the user's login elsewhere stays what it was.
    assert box.backends()[0] == "" and set(box.backends()[1:]) == {backend}
    assert not [c for c in box.calls() if c[:1] == ["login"]]
    assert not (box.stub / "logged-in").exists()
    assert f"export PULUMI_BACKEND_URL={backend}" in result.stderr
    assert (box.project / ".pulumi-state").is_dir()
    # The passphrase reached Pulumi through the environment; the keys through stdin only.
    assert (box.stub / "passphrase-at-init").read_text() == "correct horse battery"
    assert box.config("datadog:apiKey") == ["dd-api-key-typed"]
    assert box.config("datadog:appKey") == ["dd-app-key-typed"]
    assert "dd-api-key-typed" not in (box.stub / "calls").read_text()
    assert "dd-api-key-typed" not in result.stdout + result.stderr

    # The next run chooses the same backend the same way, finds the stack and its config: it just runs.
    (box.stub / "calls").unlink()
    (box.stub / "backends").unlink()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "correct horse battery"
    again = box.run("preview")
    assert again.returncode == 0, again.stderr
    assert box.pulumi_calls() == [["stack", "select", "test"], ["preview", "--stack", "test"]]
    assert set(box.backends()[1:]) == {backend}
    assert backend in again.stderr


def test_the_backend_wrapper_gives_a_command_the_same_backend(box):
    """make verify, snapshot and load run through scripts/pulumi-backend.sh."""
    wrapper = box.project / "scripts" / "pulumi-backend.sh"
    show = ["bash", "-c", 'echo "${PULUMI_BACKEND_URL:-unset}"']

    def backend(**env: str) -> str:
        done = subprocess.run([str(wrapper), *show], env={**box.env, **env}, capture_output=True,
                              text=True, check=True, timeout=30)
        return done.stdout.strip()

    assert backend() == f"file://{box.project}/.pulumi-state"  # not logged in
    assert backend(STUB_LOGGED_IN="1") == "unset"  # the login decides, untouched
    assert backend(PULUMI_BACKEND_URL="s3://team-state") == "s3://team-state"
    assert not [c for c in box.calls() if c[:1] == ["login"]]


def test_existing_backend_from_the_environment_is_used_without_login(box):
    box.complete()
    (box.project / "Pulumi.test.yaml").write_text(
        "secretsprovider: awskms://alias/dd-assessment-pulumi-secrets?region=us-east-2\n")
    box.env["PULUMI_BACKEND_URL"] = "s3://team-state?region=us-east-2"
    result = box.run("preview")
    assert result.returncode == 0, result.stderr
    assert box.pulumi_calls() == [["stack", "select", "test"], ["preview", "--stack", "test"]]
    assert not [c for c in box.calls() if c[:1] in (["login"], ["whoami"])]
    assert "s3://team-state" in result.stderr


def test_an_existing_login_is_kept(box):
    box.complete()
    box.env.update(STUB_LOGGED_IN="1")
    result = box.run("up", "test", "--yes")
    assert result.returncode == 0, result.stderr
    assert box.pulumi_calls() == [["stack", "select", "test"], ["up", "--stack", "test", "--yes"]]
    assert ["whoami", "--non-interactive"] in box.calls()


def test_another_stack_is_created_with_the_requested_secrets_provider(box):
    box.complete()
    box.env.update(STUB_LOGGED_IN="1")
    kms = "awskms://alias/dd-assessment-pulumi-secrets?region=us-east-2"
    box.set_config(sshAllowedCidrs="203.0.113.10/32")
    result = box.run("preview", "dev", "--secrets-provider", kms)
    assert result.returncode == 0, result.stderr
    assert ["stack", "init", "dev", "--secrets-provider", kms] in box.calls()
    assert box.pulumi_calls()[-1] == ["preview", "--stack", "dev"]


def test_without_a_terminal_missing_config_is_listed_as_commands(box):
    box.ssh_keys()
    box.make_stack()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    result = box.run("up")
    assert result.returncode != 0
    expected = [
        "pulumi config set --stack test aws:region us-east-2",
        "pulumi config set --stack test --path 'appAllowedCidrs[0]' \"$(curl -s https://checkip.amazonaws.com)/32\"",
        f"pulumi config set --stack test sshPublicKey \"$(cat {box.home}/.ssh/id_ed25519.pub)\"",
        "pulumi config set --stack test --path 'notifyHandles[0]' @you@example.com",
        "pulumi config set --stack test --secret datadog:apiKey",
        "pulumi config set --stack test --secret datadog:appKey",
    ]
    for command in expected:
        assert command in result.stderr
    assert not [c for c in box.calls() if c[:2] == ["config", "set"] or c[:1] in (["up"], ["preview"])]


def test_without_a_terminal_a_file_backend_needs_the_passphrase_in_the_environment(box):
    box.complete()
    result = box.run("up", "--yes")
    assert result.returncode != 0
    assert "export PULUMI_CONFIG_PASSPHRASE=" in result.stderr
    assert "--secrets-provider awskms://" in result.stderr
    assert not [c for c in box.calls() if c[:2] == ["stack", "init"] or c[:1] == ["up"]]


def test_up_without_a_terminal_needs_yes(box):
    box.complete()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    result = box.run("up")
    assert result.returncode != 0
    assert "pass --yes" in result.stderr
    assert not [c for c in box.calls() if c[:1] == ["up"]]


def test_destroy_asks_for_the_stack_name_unless_yes(box):
    box.complete()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    refused = box.run("destroy", answers=["yes"])
    assert refused.returncode != 0 and "nothing was destroyed" in refused.stderr
    no_terminal = box.run("destroy")
    assert no_terminal.returncode != 0 and "pass --yes" in no_terminal.stderr
    assert not [c for c in box.calls() if c[:1] == ["destroy"]]

    confirmed = box.run("destroy", answers=["test"])
    assert confirmed.returncode == 0, confirmed.stderr
    assert box.pulumi_calls()[-1] == ["destroy", "--stack", "test", "--yes"]
    assert box.run("destroy", "--yes").returncode == 0


# ---------------------------------------------------------------------------------------------
# Each missing prerequisite: named, with its fix, and nothing deployed.


def _refused(box: Sandbox, *args: str) -> str:
    result = box.run(*args or ("up", "--yes"))
    assert result.returncode != 0
    assert not [c for c in box.calls() if c[:1] in (["up"], ["preview"], ["destroy"])]
    return result.stderr


def test_no_pulumi(box):
    box.complete()
    box.without("pulumi")
    message = _refused(box)
    assert "Pulumi CLI is not on PATH" in message
    assert "https://www.pulumi.com/docs/iac/download-install/" in message
    assert "curl -fsSL https://get.pulumi.com | sh" in message


@pytest.mark.parametrize("error, status, reason", [
    # 2.x before 2.34: the botocore message plus the handler's hint, exit 253 (CONFIGURATION_ERROR_RC).
    ('Unable to locate credentials. You can configure credentials by running "aws configure".', "253",
     'Unable to locate credentials. You can configure credentials by running "aws configure".'),
    # 2.34+: awscli/errorformat.py prefixes "aws: [ERROR]: ", the enhanced format names the code.
    ('aws: [ERROR]: An error occurred (NoCredentials): Unable to locate credentials. You can configure '
     'credentials by running "aws login".', "253",
     'An error occurred (NoCredentials): Unable to locate credentials. You can configure credentials by '
     'running "aws login".'),
    # An expired SSO session: botocore's TokenRetrievalError, through the general handler (255).
    ("Error when retrieving token from sso: Token has expired and refresh failed", "255",
     "Error when retrieving token from sso: Token has expired and refresh failed"),
], ids=["no-credentials", "no-credentials-2.34", "sso-expired"])
def test_no_aws_credentials_with_the_aws_cli_says_why(box, error, status, reason):
    box.complete()
    box.env.update(STUB_AWS_OK="0", STUB_AWS_ERROR=error, STUB_AWS_STATUS=status)
    message = _refused(box)
    assert f"`aws sts get-caller-identity` failed ({reason}); configure them" in message
    assert "aws configure" in message and "aws sso login" in message and "AWS_PROFILE" in message
    assert box.calls() == []  # checked before any backend is touched


def test_no_aws_cli(box):
    box.complete()
    box.without("aws")
    box.env.update(AWS_PROFILE="demo", PULUMI_CONFIG_PASSPHRASE="pass")  # credentials alone: not enough
    message = _refused(box)
    assert "AWS CLI: not on PATH (the readiness gate and Session Manager run it)" in message
    assert "https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip" in message
    assert "brew install awscli" in message


def test_aws_cli_version_1_is_refused(box):
    box.complete()
    box.env["STUB_AWS_VERSION"] = "aws-cli/1.29.62 Python/3.11.4 Linux/6.1.0 botocore/1.31.62"
    message = _refused(box)
    assert 'AWS CLI: version 2 needed, found "aws-cli/1.29.62"' in message


@pytest.mark.parametrize("version, refused", [
    ("OpenSSH_8.4p1 Debian-5+deb11u3, OpenSSL 1.1.1w  11 Sep 2023", True),
    ("OpenSSH_8.5p1, OpenSSL 1.1.1k  25 Mar 2021", False),
    ("OpenSSH_10.0p2, LibreSSL 3.3.6", False),
])
def test_openssh_must_know_known_hosts_command(box, version, refused):
    box.complete()
    box.env.update(STUB_SSH_VERSION=version, PULUMI_CONFIG_PASSPHRASE="pass")
    if refused:
        message = _refused(box)
        assert f"OpenSSH client: {version.split(',')[0]} is too old; 8.5 or newer" in message
    else:
        assert box.run("up", "--yes").returncode == 0


def test_all_missing_tools_are_reported_together(box):
    box.without("pulumi")
    box.without("aws")
    box.without("ssh")
    message = _refused(box)
    assert "Pulumi CLI is not on PATH" in message and "AWS CLI: not on PATH" in message
    assert "OpenSSH client: `ssh` not found" in message


def test_session_manager_plugin_is_required_under_ssm_only(box):
    box.complete()
    box.without("session-manager-plugin")
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    message = _refused(box)
    assert "Session Manager plugin: not on PATH" in message
    assert "brew install --cask session-manager-plugin" in message
    assert ("curl -fsSLo /tmp/session-manager-plugin.deb https://s3.amazonaws.com/session-manager-downloads"
            "/plugin/latest/ubuntu_64bit/session-manager-plugin.deb && sudo dpkg -i") in message
    assert "pulumi config set --stack test hostAccess ssh" in message
    box.set_config(hostAccess="ssh")
    assert box.run("up", "--yes").returncode == 0


def test_a_new_stack_is_checked_for_the_plugin_before_it_is_created(box):
    box.ssh_keys()
    box.without("session-manager-plugin")
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    assert "Session Manager plugin: not on PATH" in _refused(box, "preview")
    assert not [c for c in box.calls() if c[:2] == ["stack", "init"]]


def test_with_ssh_access_the_ssh_cidrs_are_asked_for(box):
    box.complete()
    (box.stub / "config" / "sshAllowedCidrs").unlink()
    box.set_config(hostAccess="ssh")
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    assert "--path 'sshAllowedCidrs[0]'" in _refused(box, "up", "--yes")
    result = box.run("up", "--yes", answers=["203.0.113.10/32, 2001:db8::/48"])
    assert result.returncode == 0, result.stderr
    assert box.config("sshAllowedCidrs") == ["203.0.113.10/32", "2001:db8::/48"]


def test_no_datadog_keys(box):
    box.complete()
    for key in ("apiKey", "appKey"):
        (box.stub / "config" / f"datadog:{key}").unlink()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    message = _refused(box)
    assert "pulumi config set --stack test --secret datadog:apiKey" in message
    assert "export DD_API_KEY" in message and "export DD_APP_KEY" in message
    # Keys in the environment are enough.
    box.env.update(DD_API_KEY="k1", DD_APP_KEY="k2")
    assert box.run("up", "--yes").returncode == 0


def test_no_ssh_key(box):
    box.complete()
    shutil.rmtree(box.home / ".ssh")
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    message = _refused(box)
    assert f"{box.home}/.ssh/id_ed25519 does not exist" in message
    assert "ssh-keygen -t ed25519" in message
    assert "sshPrivateKeyPath" in message


def test_a_configured_private_key_path_is_the_one_checked(box):
    box.complete()
    shutil.rmtree(box.home / ".ssh")
    key = box.home / "keys" / "demo"
    key.parent.mkdir()
    key.write_text("stand-in")
    box.set_config(sshPrivateKeyPath="~/keys/demo")
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    result = box.run("preview")
    assert result.returncode == 0, result.stderr


def test_usage_errors(box):
    assert box.run().returncode == 2
    assert box.run("deploy").returncode == 2
    assert box.run("up", "a", "b").returncode == 2
    assert "usage: scripts/deploy.sh" in box.run("--help").stderr


def test_policy_pack_on_request(box):
    box.complete()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    message = _refused(box, "preview", "--policy")
    assert "python3 -m venv policy/venv && policy/venv/bin/pip install -r policy/requirements.txt" in message

    python = box.project / "policy" / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    _executable(python, "#!/bin/sh\n")
    assert box.run("preview", "--policy").returncode == 0
    assert box.pulumi_calls()[-1] == ["preview", "--stack", "test", "--policy-pack", f"{box.project}/policy"]
    assert box.run("up", "--yes").returncode == 0
    assert box.pulumi_calls()[-1] == ["up", "--stack", "test", "--yes"]


# ---------------------------------------------------------------------------------------------
# The region of a new stack


@pytest.mark.parametrize("stack", ["test", "dev"])
def test_a_stack_without_a_region_is_offered_the_aws_clis_own(box, stack):
    box.complete()
    (box.stub / "config" / "aws:region").unlink()
    box.env.update(STUB_LOGGED_IN="1", PULUMI_CONFIG_PASSPHRASE="pass")
    box.make_stack(stack)
    box.env["STUB_AWS_REGION"] = "eu-west-3"
    listed = box.run("up", stack, "--yes")
    assert listed.returncode != 0
    assert f"pulumi config set --stack {stack} aws:region eu-west-3" in listed.stderr
    asked = box.run("up", stack, "--yes", answers=[""])
    assert asked.returncode == 0, asked.stderr
    assert box.config("aws:region") == ["eu-west-3"]


def test_aws_region_in_the_environment_comes_before_the_cli_configuration(box):
    box.complete()
    (box.stub / "config" / "aws:region").unlink()
    box.env.update(STUB_LOGGED_IN="1", PULUMI_CONFIG_PASSPHRASE="pass", AWS_REGION="ap-south-1",
                   STUB_AWS_REGION="eu-west-3")
    assert "aws:region ap-south-1" in box.run("up", "--yes").stderr


# ---------------------------------------------------------------------------------------------
# `check`: the prerequisites alone, what make up runs before it builds ./venv


def test_check_stops_at_the_prerequisites(box):
    box.complete()
    box.env["PULUMI_CONFIG_PASSPHRASE"] = "pass"
    assert box.run("check").returncode == 0
    assert box.calls() == []  # no backend, no stack: nothing but the tools were asked
    box.without("pulumi")
    failed = box.run("check")
    assert failed.returncode == 1 and "Pulumi CLI is not on PATH" in failed.stderr


# ---------------------------------------------------------------------------------------------
# make up: the prerequisites before the 650 MB of test tools, and only the runtime after them


def _with_makefile(box: Sandbox) -> None:
    for name in ("Makefile", "requirements.txt", "requirements-test.txt", "ops/requirements.txt"):
        (box.project / name).parent.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, box.project / name)
    (box.bin / "make").symlink_to(shutil.which("make"))


def _make(box: Sandbox, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=box.project, env=box.env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def test_make_up_without_the_pulumi_cli_stops_before_building_anything(box):
    _with_makefile(box)
    box.complete()
    box.without("pulumi")
    result = _make(box, "up")
    assert result.returncode != 0
    assert "Pulumi CLI is not on PATH" in result.stderr
    assert not (box.project / "venv").exists()


def test_make_up_builds_the_runtime_only_after_the_check(box):
    _with_makefile(box)
    # -n: what make would run, in order (the sub-make's own plan included)
    planned = [line.rstrip() for line in _make(box, "-n", "up").stdout.splitlines()]
    assert planned == [
        "scripts/deploy.sh check",
        "make -s --no-print-directory venv/.runtime",
        "echo \"building venv from requirements.txt and ops/requirements.txt\" >&2",
        "python3 -m venv venv",
        "venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r ops/requirements.txt",
        "touch venv/.runtime",
        "scripts/deploy.sh up test",
    ]
    # The operator tools get the same runtime and this project's backend.
    verify = [line.rstrip() for line in _make(box, "-n", "verify").stdout.splitlines()]
    assert verify[-1] == "scripts/pulumi-backend.sh venv/bin/python -m ops.verify --stack test"
    assert "requirements-test.txt" not in " ".join(verify)


# ---------------------------------------------------------------------------------------------
# Where per-user settings live: the stack's own file, which git ignores


@pytest.mark.skipif(not (ROOT / ".git").exists() or not shutil.which("git"),
                    reason="needs git and this project as a git checkout")
def test_stack_settings_files_are_never_tracked_and_git_ignores_them():
    """`pulumi config set` (make up's questions) writes the user's IP, key, handles and encrypted
    Datadog keys, and the stack's passphrase salt, into Pulumi.<stack>.yaml."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)

    assert git("ls-files", "--", "Pulumi.*.yaml").stdout == ""
    for stack_file in ("Pulumi.test.yaml", "Pulumi.dev.yaml", "Pulumi.alice-test.yaml"):
        assert git("check-ignore", "--no-index", "-q", stack_file).returncode == 0, stack_file
    assert git("check-ignore", "--no-index", "-q", "Pulumi.yaml").returncode == 1  # the project stays tracked
