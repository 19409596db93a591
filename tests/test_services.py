"""The services on each host under mocks: readiness gate, Docker over SSH, Agent and app."""

import json
import subprocess

import pytest
import yaml

from components import agent_files
from components.app import content_version
from tests.harness import BASE_CONFIG, ROOT, Declared, evaluate, is_secret

CONTAINER = "docker:index/container:Container"
PASSWORD = "GeneratedPassw0rdForTestsOnly123"
ROTATED_JSON_LOGS = ("json-file", {"max-size": "10m", "max-file": "3"})


@pytest.fixture(scope="module")
def two_hosts() -> Declared:
    return evaluate({"hostCount": "2", "checkIntervalSeconds": "60"})


def _envs(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.props["envs"])


@pytest.mark.parametrize("index", [0, 1])
def test_readiness_gate_runs_before_anything_talks_to_docker(two_hosts, index):
    host = f"dd-assessment-test-{index}"
    gate = two_hosts.named(f"{host}-ready")
    assert gate.typ == "command:local:Command"
    assert gate.props["create"] == "bash scripts/wait-for-cloud-init.sh"
    assert gate.props["environment"]["SSH_KEY"] == BASE_CONFIG["sshPrivateKeyPath"]
    assert gate.props["triggers"] == [f"{host}-instance-id"]  # a new instance is waited for again
    provider = two_hosts.named(f"{host}-docker")
    assert provider.typ == "pulumi:providers:docker"
    assert provider.inputs["host"] == f"ssh://ec2-user@{gate.props['environment']['HOST']}"
    assert any(dep.endswith(f"::{host}-ready") for dep in provider.options["dependencies"])
    ssh_opts = json.loads(provider.inputs["sshOpts"])
    assert ssh_opts[:2] == ["-i", BASE_CONFIG["sshPrivateKeyPath"]]
    assert "StrictHostKeyChecking=yes" in ssh_opts
    assert "UserKnownHostsFile=~/.ssh/dd-assessment_known_hosts" in ssh_opts
    # Every Docker resource of this host goes through this provider.
    for typ in (CONTAINER, "docker:index/network:Network", "docker:index/image:Image",
                "docker:index/remoteImage:RemoteImage"):
        mine = [r for r in two_hosts.of_type(typ) if r.name.startswith(f"{host}-")]
        assert mine and all(r.provider.split("::")[-1].startswith(f"{host}-docker") for r in mine)


def test_shared_network_has_the_subnet_postgres_trusts(two_hosts):
    for network in two_hosts.of_type("docker:index/network:Network"):
        assert network.props["name"] == "dd-assessment"
        assert network.props["ipamConfigs"] == [{"subnet": "172.30.0.0/24", "gateway": "172.30.0.1"}]


@pytest.mark.parametrize("index", [0, 1])
def test_agent_container(two_hosts, index):
    host = f"dd-assessment-test-{index}"
    agent = two_hosts.named(f"{host}-agent-container")
    props = agent.props
    image = two_hosts.named(f"{host}-agent-image").props
    assert image["name"] == "gcr.io/datadoghq/agent:7.83.1"
    assert props["name"] == "datadog-agent"
    envs = _envs(agent)
    assert envs["DD_API_KEY"] == BASE_CONFIG["datadog:apiKey"]
    assert envs["DD_SITE"] == "datadoghq.com"
    assert envs["DD_HOSTNAME"] == host
    assert envs["DD_TAGS"] == ("tier:database env:test region:us-east-2 role:database "
                               "name:dd-assessment-test")
    assert envs["DD_ENV"] == "test"
    for flag in ("DD_APM_ENABLED", "DD_APM_NON_LOCAL_TRAFFIC", "DD_DOGSTATSD_NON_LOCAL_TRAFFIC"):
        assert envs[flag] == "true"
    assert sorted((v["hostPath"], v["containerPath"], v["readOnly"]) for v in props["volumes"]) == [
        ("/proc/", "/host/proc/", True), ("/sys/fs/cgroup/", "/host/sys/fs/cgroup/", True),
        ("/var/run/docker.sock", "/var/run/docker.sock", True)]
    assert (props["pidMode"], props["cgroupnsMode"], props["restart"]) == ("host", "host", "unless-stopped")
    assert props["networksAdvanced"] == [{"name": "dd-assessment", "aliases": ["datadog-agent"]}]
    assert props["healthcheck"]["tests"] == ["CMD", "agent", "health"]
    assert (props["logDriver"], props["logOpts"]) == ROTATED_JSON_LOGS
    assert agent.options["deleteBeforeReplace"] is True


def test_agent_configuration_files_are_the_repo_files(two_hosts):
    agent = two_hosts.named("dd-assessment-test-0-agent-container")
    uploads = {u["file"]: u["content"] for u in agent.props["uploads"]}
    assert uploads[agent_files.CHECK_SOURCE_DEST] == (ROOT / "agent/checks.d/my_metric.py").read_text()
    my_metric = yaml.safe_load(uploads[agent_files.MY_METRIC_CONF_DEST])
    assert my_metric["instances"][0]["min_collection_interval"] == 60  # checkIntervalSeconds
    postgres = yaml.safe_load(uploads[agent_files.POSTGRES_CONF_DEST])["instances"][0]
    assert (postgres["host"], postgres["port"], postgres["username"], postgres["password"]) == (
        "172.30.0.1", 5432, "datadog", PASSWORD)
    assert "env:test" in postgres["tags"]


@pytest.mark.parametrize("index", [0, 1])
def test_each_hosts_postgres_metrics_carry_its_own_host_name(two_hosts, index):
    host = f"dd-assessment-test-{index}"
    agent = two_hosts.named(f"{host}-agent-container")
    uploads = {u["file"]: u["content"] for u in agent.props["uploads"]}
    postgres = yaml.safe_load(uploads[agent_files.POSTGRES_CONF_DEST])["instances"][0]
    assert postgres["reported_hostname"] == host == _envs(agent)["DD_HOSTNAME"]


def test_postgres_metrics_get_the_stacks_env_when_host_tags_have_none():
    declared = evaluate({"hostTags": ["role:database", "tier:database"]})
    agent = declared.named("dd-assessment-test-0-agent-container")
    uploads = {u["file"]: u["content"] for u in agent.props["uploads"]}
    postgres = yaml.safe_load(uploads[agent_files.POSTGRES_CONF_DEST])["instances"][0]
    assert postgres["tags"] == ["role:database", "tier:database", "env:test"]
    assert _envs(agent)["DD_ENV"] == "test"


def test_secrets_reach_the_agent_only_as_secrets(two_hosts):
    for agent in [r for r in two_hosts.of_type(CONTAINER) if r.props["name"] == "datadog-agent"]:
        # The API key (env) and the database password (postgres conf upload) travel as secrets.
        assert _plain_parts(agent.inputs["envs"]) != agent.inputs["envs"]
        assert _plain_parts(agent.inputs["uploads"]) != agent.inputs["uploads"]
    for resource in two_hosts.resources:
        if resource.typ.startswith(("docker:", "command:", "pulumi:providers")):
            flat = json.dumps(_plain_parts(resource.inputs))
            assert BASE_CONFIG["datadog:apiKey"] not in flat, resource.name
            assert PASSWORD not in flat, resource.name


def _plain_parts(value):
    """The value with every secret removed: what would be stored or shown in clear."""
    if is_secret(value):
        return None
    if isinstance(value, dict):
        return {k: _plain_parts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_parts(v) for v in value]
    return value


@pytest.mark.parametrize("index", [0, 1])
def test_app_container(two_hosts, index):
    host = f"dd-assessment-test-{index}"
    version = content_version()
    image = two_hosts.named(f"{host}-app-image").props
    assert image["imageName"] == f"dd-assessment-app:{version}"
    assert image["build"]["context"] == "app"
    assert image["build"]["platform"] == "linux/amd64"
    assert image["skipPush"] is True
    app = two_hosts.named(f"{host}-app-container")
    assert app.props["image"] == f"dd-assessment-app:{version}"
    envs = _envs(app)
    assert envs == {"DD_SERVICE": "my-flask-app", "DD_ENV": "test", "DD_VERSION": version,
                    "DD_AGENT_HOST": "datadog-agent"}
    labels = {item["label"]: item["value"] for item in app.props["labels"]}
    assert labels == {"com.datadoghq.tags.service": "my-flask-app",
                      "com.datadoghq.tags.env": "test", "com.datadoghq.tags.version": version}
    assert app.props["ports"] == [{"internal": 8080, "external": 80}]
    assert app.props["networksAdvanced"] == [{"name": "dd-assessment"}]
    assert app.props["restart"] == "unless-stopped"
    # gunicorn logs a line per request: rotated, not unbounded.
    assert (app.props["logDriver"], app.props["logOpts"]) == ROTATED_JSON_LOGS
    assert app.options["deleteBeforeReplace"] is True


@pytest.mark.parametrize("index", [0, 1])
def test_demo_traffic_runs_the_apps_image_against_its_own_hosts_app(two_hosts, index):
    host = f"dd-assessment-test-{index}"
    assert two_hosts.named(f"{host}-traffic").typ == "dd-assessment:app:DemoTraffic"
    traffic = two_hosts.named(f"{host}-traffic-container")
    props = traffic.props
    assert props["name"] == "my-flask-app-traffic"
    assert props["image"] == f"dd-assessment-app:{content_version()}"  # nothing else to pull
    assert props["command"] == ["python", "/app/traffic.py"]  # not ddtrace-run gunicorn
    assert _envs(traffic) == {"TRAFFIC_TARGET": "http://my-flask-app:8080",
                              "TRAFFIC_REQUESTS_PER_MINUTE": "30"}
    assert props["networksAdvanced"] == [{"name": "dd-assessment"}]
    assert props["restart"] == "unless-stopped"
    assert props["healthcheck"] == {"tests": ["CMD", "python", "/app/traffic.py", "--check"],
                                    "interval": "30s", "timeout": "5s", "startPeriod": "30s",
                                    "retries": 3}
    assert (props["logDriver"], props["logOpts"]) == ROTATED_JSON_LOGS
    assert "ports" not in props  # nothing published
    assert traffic.options["deleteBeforeReplace"] is True
    assert traffic.provider.split("::")[-1].startswith(f"{host}-docker")
    # Created after this host's app container (its URL comes from that container).
    assert any(dep.endswith(f"::{host}-app-container") for dep in traffic.options["dependencies"])


def test_demo_traffic_rate_comes_from_config():
    declared = evaluate({"demoTraffic": "600"})
    traffic = declared.named("dd-assessment-test-0-traffic-container")
    assert _envs(traffic)["TRAFFIC_REQUESTS_PER_MINUTE"] == "600"


def test_demo_traffic_zero_declares_no_traffic_container():
    declared = evaluate({"demoTraffic": "0"})
    names = [r.name for r in declared.resources]
    assert not [name for name in names if "traffic" in name], names
    assert [r.props["name"] for r in declared.of_type(CONTAINER)] == ["datadog-agent", "my-flask-app"]


def test_app_version_follows_content_only(tmp_path):
    (tmp_path / "app.py").write_text("print('a')\n")
    first = content_version(tmp_path)
    assert content_version(tmp_path) == first
    (tmp_path / "app.py").write_text("print('b')\n")
    assert content_version(tmp_path) != first


def test_the_image_listens_where_the_container_publishes():
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    assert "EXPOSE 8080" in dockerfile and "0.0.0.0:8080" in dockerfile


def test_the_image_holds_the_traffic_script_where_the_traffic_container_runs_it():
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    assert "WORKDIR /app\n" in dockerfile and "COPY app.py traffic.py ./\n" in dockerfile


def test_graviton_hosts_build_arm64_images():
    declared = evaluate({"instanceType": "t4g.small"})
    assert declared.named("dd-assessment-test-0-app-image").props["build"]["platform"] == "linux/arm64"


# The gate script itself, with a stand-in `ssh` (no SSH server can be reached here).
FAKE_SSH = """#!/usr/bin/env bash
echo "$*" >>"$CALLS"
n=$(wc -l <"$CALLS")
if [ "$n" -le "${FAIL_FIRST:-0}" ]; then exit 255; fi
case "$*" in *"cloud-init status --wait"*) exit "${CLOUD_INIT_EXIT:-0}";; esac
exit 0
"""


def _gate(tmp_path, **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "wait-for-cloud-init.sh")], capture_output=True, text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "HOST": "198.51.100.7",
             "SSH_KEY": "~/.ssh/id", "KNOWN_HOSTS": "~/.ssh/kh", "CALLS": str(calls),
             "SSH_PAUSE": "0", "SSH_ATTEMPTS": "5", **env})
    return result, calls.read_text().splitlines()


def test_gate_retries_until_ssh_answers_then_waits_for_cloud_init(tmp_path):
    result, calls = _gate(tmp_path, FAIL_FIRST="3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"
    assert len(calls) == 5 and calls[-1].endswith("ec2-user@198.51.100.7 cloud-init status --wait")
    assert f"-i {tmp_path}/.ssh/id" in calls[0]
    assert f"UserKnownHostsFile={tmp_path}/.ssh/kh" in calls[0]
    assert "StrictHostKeyChecking=accept-new" in calls[0]


def test_gate_accepts_degraded_cloud_init_and_fails_on_a_failed_boot(tmp_path):
    assert _gate(tmp_path, CLOUD_INIT_EXIT="2")[0].returncode == 0
    failed, _ = _gate(tmp_path, CLOUD_INIT_EXIT="1")
    assert failed.returncode == 1 and "cloud-init failed" in failed.stderr


def test_gate_gives_up_when_the_host_never_answers(tmp_path):
    result, calls = _gate(tmp_path, FAIL_FIRST="99")
    assert result.returncode == 1 and "did not accept SSH" in result.stderr
    assert len(calls) == 5
