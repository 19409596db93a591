"""The services on each host under mocks: readiness gate, Docker over SSH, Agent and app."""

import hashlib
import json
import re

import pytest
import yaml

from components import agent_files, host_access
from components.app import content_version
from components.design import docker_duration
from tests.harness import (
    BASE_CONFIG,
    GATE_HOST_KEY,
    ROOT,
    Declared,
    evaluate,
    is_secret,
)

CONTAINER = "docker:index/container:Container"
PASSWORD = "GeneratedPassw0rdForTestsOnly123"
ROTATED_JSON_LOGS = ("json-file", {"max-size": "10m", "max-file": "3"})


@pytest.fixture(scope="module")
def two_hosts() -> Declared:
    return evaluate({"hostCount": "2", "checkIntervalSeconds": "60"})


def _image_id(name: str) -> str:
    """The id the mocked RemoteImage reports for an image name (tests/harness.py)."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def _envs(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.props["envs"])


@pytest.mark.parametrize("index", [0, 1])
def test_readiness_gate_runs_before_anything_talks_to_docker(two_hosts, index):
    host = f"dd-assessment-test-{index}"
    instance_id = f"{host}-instance-id"
    key = BASE_CONFIG["sshPrivateKeyPath"]
    proxy = (f"ProxyCommand=aws ssm start-session --target {instance_id} --document-name "
             "AWS-StartSSHSession --parameters portNumber=%p --region us-east-2")
    gate = two_hosts.named(f"{host}-ready")
    assert gate.typ == "command:local:Command"
    assert gate.props["create"] == "bash scripts/wait-for-cloud-init.sh"
    assert gate.props["environment"] == {
        "HOST_ACCESS": "ssm", "INSTANCE_ID": instance_id, "AWS_REGION": "us-east-2",
        "DESTINATION": f"ec2-user@{instance_id}",
        "SSH_OPTIONS": f"-i\n{key}\n-o\nIdentitiesOnly=yes\n-o\n{proxy}"}
    assert gate.props["triggers"] == [instance_id]  # a new instance is waited for again
    provider = two_hosts.named(f"{host}-docker")
    assert provider.typ == "pulumi:providers:docker"
    assert provider.inputs["host"] == f"ssh://ec2-user@{instance_id}"
    assert any(dep.endswith(f"::{host}-ready") for dep in provider.options["dependencies"])
    # Exactly what pulumi-docker hands to ssh: through Session Manager, only the gate's key.
    assert json.loads(provider.inputs["sshOpts"]) == [
        "-i", key, "-o", "IdentitiesOnly=yes", "-o", proxy, "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", f"KnownHostsCommand=/bin/echo %H {GATE_HOST_KEY}"]
    # Every Docker resource of this host goes through this provider.
    for typ in (CONTAINER, "docker:index/network:Network", "docker:index/remoteImage:RemoteImage"):
        mine = [r for r in two_hosts.of_type(typ) if r.name.startswith(f"{host}-")]
        assert mine and all(r.provider.split("::")[-1].startswith(f"{host}-docker") for r in mine)


def test_with_ssh_access_docker_goes_to_the_public_address_with_the_key_pinned():
    declared = evaluate({"hostAccess": "ssh"})
    ip = declared.outputs["publicIps"][0]
    gate = declared.one("command:local:Command").props["environment"]
    assert (gate["HOST_ACCESS"], gate["DESTINATION"]) == ("ssh", f"ec2-user@{ip}")
    assert "ProxyCommand" not in gate["SSH_OPTIONS"]
    provider = declared.one("pulumi:providers:docker").inputs
    assert provider["host"] == f"ssh://ec2-user@{ip}"
    assert json.loads(provider["sshOpts"]) == [
        "-i", BASE_CONFIG["sshPrivateKeyPath"], "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", f"KnownHostsCommand=/bin/echo %H {GATE_HOST_KEY}"]


def test_a_gate_that_prints_no_host_key_stops_the_deployment():
    # Whatever reaches KnownHostsCommand must be a key line: anything else is a broken gate.
    with pytest.raises(ValueError, match="printed 'ready' instead of the host's ssh-ed25519 public key"):
        host_access.parse_host_key("ready")
    with pytest.raises(ValueError):
        host_access.parse_host_key(GATE_HOST_KEY + " %H")
    assert host_access.parse_host_key(GATE_HOST_KEY + "\n") == GATE_HOST_KEY


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
    assert _envs(agent) == {
        "DD_API_KEY": BASE_CONFIG["datadog:apiKey"],
        "DD_SITE": "datadoghq.com",
        "DD_HOSTNAME": host,
        "DD_TAGS": "tier:database env:test region:us-east-2 role:database name:dd-assessment-test",
        "DD_ENV": "test",
        "DD_APM_ENABLED": "true",
        "DD_APM_NON_LOCAL_TRAFFIC": "true",  # traces from the app's container
        "DD_DOGSTATSD_NON_LOCAL_TRAFFIC": "true",
        # The trace agent drops the app's health checks: tests/host/test_apm.py shows this
        # pattern matches the real /healthz spans and no other route's.
        "DD_APM_IGNORE_RESOURCES": "GET /healthz",
    }
    assert sorted((v["hostPath"], v["containerPath"], v["readOnly"]) for v in props["volumes"]) == [
        ("/proc/", "/host/proc/", True), ("/sys/fs/cgroup/", "/host/sys/fs/cgroup/", True),
        ("/var/run/docker.sock", "/var/run/docker.sock", True)]
    assert (props["pidMode"], props["cgroupnsMode"], props["restart"]) == ("host", "host", "unless-stopped")
    assert props["networksAdvanced"] == [{"name": "dd-assessment", "aliases": ["datadog-agent"]}]
    # Durations as the Docker provider reads them back (Go's Duration.String(): 60s is 1m0s).
    assert props["healthcheck"] == {"tests": ["CMD", "agent", "health"], "interval": "30s",
                                    "timeout": "10s", "startPeriod": "1m0s", "retries": 3}
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
    image = two_hosts.named(f"{host}-app-image")
    # Terraform's docker_image with a build (the provider reads it back from the host, so a
    # refresh notices a missing image), not pulumi-docker's native docker.Image (no Read).
    assert image.typ == "docker:index/remoteImage:RemoteImage"
    assert image.props["name"] == f"dd-assessment-app:{version}"
    # The legacy builder: buildx would build on this machine's Docker context, not the host's.
    assert image.props["build"] == {"context": "app", "platform": "linux/amd64", "useLegacyBuilder": True}
    assert not two_hosts.of_type("docker:index/image:Image")
    app = two_hosts.named(f"{host}-app-container")
    assert app.props["image"] == _image_id(f"dd-assessment-app:{version}")  # the built image's id
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
    assert props["image"] == _image_id(f"dd-assessment-app:{content_version()}")  # nothing else to pull
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
    # Sorted: components register concurrently, so their order is not part of the contract.
    assert sorted(r.props["name"] for r in declared.of_type(CONTAINER)) == ["datadog-agent", "my-flask-app"]


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


# --- durations: declared exactly as the Docker provider reads them back ----------------------------
# kreuzwerker/terraform-provider-docker (under pulumi-docker 5.2.0) stores a container's
# healthcheck durations as Go's time.Duration.String() of what Docker reports
# (internal/provider/resource_docker_container_funcs.go): any other spelling of the same duration
# (`60s`, `1m`, `90s`) is a change on the next preview. Go's form for whole seconds, written out:
# hours, then minutes and seconds always after a larger unit, no leading zeros, minutes and
# seconds below 60; `0s` for zero.
_GO_DURATION = re.compile(r"(?:(?P<h>[1-9]\d*)h)?(?:(?P<m>\d+)m)?(?P<s>\d+)s")


def _is_go_duration_string(text: str) -> bool:
    match = _GO_DURATION.fullmatch(text)
    if not match:
        return False
    hours, minutes, seconds = match["h"], match["m"], match["s"]
    if hours and minutes is None:
        return False  # Go writes 1h0m0s, never 1h0s
    for part, ceiling in ((minutes, 60), (seconds, 60)):
        if part is not None and (int(part) >= ceiling or (len(part) > 1 and part[0] == "0")):
            return False
    if minutes == "0" and not hours:
        return False  # 0m30s is written 30s
    return True


def test_the_go_duration_rule_itself():
    assert [t for t in ("0s", "5s", "59s", "1m0s", "1m30s", "1h0m0s", "2h5m9s") if not _is_go_duration_string(t)] == []
    assert [t for t in ("60s", "1m", "90s", "1h", "1h30s", "0m30s", "01s", "1m60s", "30") if _is_go_duration_string(t)] == []


@pytest.mark.parametrize("seconds,expected", [(0, "0s"), (5, "5s"), (59, "59s"), (60, "1m0s"),
                                              (90, "1m30s"), (3600, "1h0m0s"), (3725, "1h2m5s")])
def test_docker_duration_writes_what_go_prints(seconds, expected):
    assert docker_duration(seconds) == expected


def test_every_duration_handed_to_the_docker_provider_is_in_its_read_back_form(two_hosts):
    durations = [(container.name, key, value)
                 for container in two_hosts.of_type(CONTAINER)
                 for key, value in container.props.get("healthcheck", {}).items()
                 if key in ("interval", "timeout", "startPeriod", "startInterval")]
    assert len(durations) >= 6  # the Agent's and the traffic's, on each host
    assert [item for item in durations if not _is_go_duration_string(item[2])] == []


# --- a replaced instance takes its Docker resources with it -------------------------------------------

def test_every_docker_resource_is_replaced_with_its_hosts_instance(two_hosts):
    # A new instance only updates the Docker provider in place (pulumi-docker provider/resources.go
    # marks no config field ForcesProviderReplace): without a trigger the new host would stay
    # empty while `pulumi up` reports its network, images and containers unchanged. The engine
    # replaces a resource whose replacement trigger changes (pulumi/pulumi
    # pkg/resource/deploy/step_generator.go, shouldTriggerReplace).
    docker_resources = [r for r in two_hosts.resources if r.typ.startswith("docker:index/")]
    by_host = {f"dd-assessment-test-{n}": sorted(r.name for r in docker_resources
                                                  if r.name.startswith(f"dd-assessment-test-{n}-"))
               for n in (0, 1)}
    assert sum(map(len, by_host.values())) == len(docker_resources)
    for host, names in by_host.items():
        assert names == [f"{host}-{part}" for part in (
            "agent-container", "agent-image", "app-container", "app-image", "network",
            "traffic-container")]
        for name in names:
            assert two_hosts.named(name).options["replacementTrigger"] == f"{host}-instance-id", name
    # The gate (and so the pinned host key) is re-run for a new instance too.
    for host in by_host:
        assert two_hosts.named(f"{host}-ready").props["triggers"] == [f"{host}-instance-id"]
