"""The CrossGuard pack's rules (policy/rules.py): each rule passes and fails where it should, and
the program as declared (under mocks) violates none of them.

Only `policy/rules.py` is imported: building the PolicyPack itself starts a gRPC server and
blocks, so `policy/__main__.py` runs here with `PolicyPack` replaced by a recorder.
"""

from __future__ import annotations

import base64
import re
import runpy
from pathlib import Path

import pulumi_policy
import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationArgs
from pulumi_policy.proxy import (
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from policy import rules
from tests.harness import ROOT, Declared, evaluate

# ---------------------------------------------------------------------------------------------
# Each rule: resource type, props, and the fragment its violation message must contain (None =
# must pass). Props are camelCase, as the mocks and CrossGuard see them.

SAFE_USER_DATA = """#cloud-config
users:
- name: ec2-user
  lock_passwd: true
write_files:
- path: /etc/dd-assessment/host.env
  content: |
    DATADOG_PASSWORD_PARAMETER=/dd-assessment/test/host-0/postgres-datadog-password
runcmd:
- - bash
  - -c
  - |
    TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")
    password=$(aws ssm get-parameter --name "$DATADOG_PASSWORD_PARAMETER" --with-decryption)
    DATADOG_PASSWORD=$password psql --command "ALTER ROLE datadog PASSWORD :'datadog_password'"
    export DD_API_KEY=${DD_API_KEY}
"""
AGENT_IMAGE = "gcr.io/datadoghq/agent:7.72.1"
RO_AGENT_VOLUMES = [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock",
                     "readOnly": True},
                    {"hostPath": "/proc/", "containerPath": "/host/proc/", "readOnly": True}]
GOOD_MONITOR = {"type": "metric alert", "notifyNoData": True, "noDataTimeframe": 10,
                "message": "{{#is_alert}}my_metric is high on {{host.name}}{{/is_alert}} @ops@example.com"}
TAGS = {"Name": "x", "project": "dd-assessment", "stack": "test"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def sg_in(port: int, *, cidrs=(), v6=(), protocol="tcp", to_port=None, description="why"):
    return {"protocol": protocol, "fromPort": port, "toPort": to_port if to_port is not None else port,
            "cidrBlocks": list(cidrs), "ipv6CidrBlocks": list(v6), "description": description}


I, SG, SGR = rules.INSTANCE, rules.SECURITY_GROUP, rules.SECURITY_GROUP_RULE
VPC_IN, VPC_OUT = rules.INGRESS_RULE, rules.EGRESS_RULE

CASES = [
    # IMDSv2
    (rules.validate_imdsv2, I, {"metadataOptions": {"httpTokens": "required"}}, None),
    (rules.validate_imdsv2, I, {"metadataOptions": {"httpEndpoint": "disabled"}}, None),
    (rules.validate_imdsv2, I, {"metadataOptions": {"httpTokens": "optional"}}, "IMDSv2"),
    (rules.validate_imdsv2, I, {}, "httpTokens is None"),
    # Encryption
    (rules.validate_encrypted_volumes, I,
     {"rootBlockDevice": {"encrypted": True},
      "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True}]}, None),
    (rules.validate_encrypted_volumes, I, {"rootBlockDevice": {"encrypted": False}},
     "root volume is not encrypted"),
    (rules.validate_encrypted_volumes, I, {}, "root volume is not encrypted"),
    (rules.validate_encrypted_volumes, I,
     {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"deviceName": "/dev/sdf"}]},
     "'/dev/sdf' is not encrypted"),
    (rules.validate_encrypted_volumes, rules.EBS_VOLUME, {"encrypted": True, "size": 10}, None),
    (rules.validate_encrypted_volumes, rules.EBS_VOLUME, {"size": 10}, "EBS volume is not encrypted"),
    # Admin ports from anywhere
    (rules.validate_no_open_admin_ports, SG,
     {"ingress": [sg_in(22, cidrs=["203.0.113.10/32"]), sg_in(80, cidrs=["0.0.0.0/0"], v6=["::/0"]),
                  sg_in(22, cidrs=["0.0.0.0/0"], protocol="udp")]}, None),
    (rules.validate_no_open_admin_ports, SG, {"ingress": [sg_in(22, cidrs=["0.0.0.0/0"])]},
     "admits 0.0.0.0/0 to 22 (SSH)"),
    (rules.validate_no_open_admin_ports, SG, {"ingress": [sg_in(5432, v6=["::/0"])]},
     "admits ::/0 to 5432 (PostgreSQL)"),
    (rules.validate_no_open_admin_ports, SG,
     {"ingress": [sg_in(2000, to_port=3000, cidrs=["0.0.0.0/0"])]}, "2375 (the Docker API)"),
    (rules.validate_no_open_admin_ports, SG,
     {"ingress": [sg_in(0, protocol="-1", cidrs=["0.0.0.0/0"])]}, "8126 (the Datadog trace intake)"),
    (rules.validate_no_open_admin_ports, SGR,
     {"type": "egress", "protocol": "tcp", "fromPort": 8126, "toPort": 8126,
      "cidrBlocks": ["0.0.0.0/0"]}, None),
    (rules.validate_no_open_admin_ports, SGR,
     {"type": "ingress", "protocol": "tcp", "fromPort": 8126, "toPort": 8126,
      "cidrBlocks": ["0.0.0.0/0"]}, "8126"),
    (rules.validate_no_open_admin_ports, VPC_IN,
     {"ipProtocol": "tcp", "fromPort": 2376, "toPort": 2376, "cidrIpv4": "10.0.0.0/8"}, None),
    (rules.validate_no_open_admin_ports, VPC_IN,
     {"ipProtocol": "tcp", "fromPort": 2376, "toPort": 2376, "cidrIpv4": "0.0.0.0/0"},
     "2376 (the Docker API (TLS))"),
    (rules.validate_no_open_admin_ports, VPC_IN, {"ipProtocol": "-1", "cidrIpv6": "::/0"}, "22 (SSH)"),
    # No SSH port under Session Manager access
    (rules.validate_no_ssh_under_session_manager, SG,
     {"ingress": [sg_in(80, cidrs=["0.0.0.0/0"])], "tags": {**TAGS, "hostAccess": "ssm"}}, None),
    (rules.validate_no_ssh_under_session_manager, SG,
     {"ingress": [sg_in(22, cidrs=["203.0.113.10/32"])], "tags": {**TAGS, "hostAccess": "ssh"}}, None),
    (rules.validate_no_ssh_under_session_manager, SG,
     {"ingress": [sg_in(80, cidrs=["0.0.0.0/0"]), sg_in(22, cidrs=["203.0.113.10/32"])],
      "tags": {**TAGS, "hostAccess": "ssm"}},
     "ingress[1] admits port 22 although hosts are reached through Session Manager"),
    (rules.validate_no_ssh_under_session_manager, SG,
     {"ingress": [sg_in(0, protocol="-1", cidrs=["10.0.0.0/8"])], "tags": {"hostAccess": "ssm"}},
     "ingress[0] admits port 22"),
    (rules.validate_no_ssh_under_session_manager, VPC_IN,
     {"ipProtocol": "tcp", "fromPort": 20, "toPort": 30, "cidrIpv4": "10.0.0.0/8",
      "tags": {"hostAccess": "ssm"}}, "the ingress rule admits port 22"),
    # Secrets in user-data
    (rules.validate_no_secrets_in_user_data, I, {"userData": SAFE_USER_DATA}, None),
    (rules.validate_no_secrets_in_user_data, I, {"userData": "#!/bin/bash\nDB_PASSWORD=hunter22\n"},
     "password, token or key assignment"),
    (rules.validate_no_secrets_in_user_data, I,
     {"userData": "#cloud-config\nwrite_files:\n- content: 0123456789abcdef0123456789abcdef\n"},
     "32-hex-digit key"),
    (rules.validate_no_secrets_in_user_data, I,
     {"userData": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"}, "AWS access key id"),
    (rules.validate_no_secrets_in_user_data, I,
     {"userData": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"},
     "AWS secret access key"),
    (rules.validate_no_secrets_in_user_data, I,
     {"userData": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"},
     "a private key"),
    (rules.validate_no_secrets_in_user_data, I, {"userData": "docker run -e DD_API_KEY=abc123 agent\n"},
     "Datadog API or application key"),
    (rules.validate_no_secrets_in_user_data, I, {"userDataBase64": b64("password: hunter22\n")},
     "userDataBase64 contains"),
    (rules.validate_no_secrets_in_user_data, rules.LAUNCH_TEMPLATE,
     {"userData": b64(SAFE_USER_DATA)}, None),
    (rules.validate_no_secrets_in_user_data, rules.LAUNCH_TEMPLATE,
     {"userData": b64("DD_APP_KEY: abcdef\n")}, "Datadog API or application key"),
    # Instance role
    (rules.validate_instance_role, I, {"iamInstanceProfile": "host-0-instance"}, None),
    (rules.validate_instance_role, I, {"iamInstanceProfile": UNKNOWN_STRING_VALUE}, None),
    (rules.validate_instance_role, I, {}, "no IAM instance profile"),
    (rules.validate_instance_role, I, {"iamInstanceProfile": ""}, "no IAM instance profile"),
    # The Datadog Agent's host mounts
    (rules.validate_agent_mounts_read_only, rules.CONTAINER,
     {"image": AGENT_IMAGE, "volumes": RO_AGENT_VOLUMES + [{"volumeName": "dd-run",
                                                            "containerPath": "/opt/datadog-agent/run"}]},
     None),
    (rules.validate_agent_mounts_read_only, rules.CONTAINER,
     {"image": "datadog/agent:7", "volumes": [{"hostPath": "/proc/", "containerPath": "/host/proc/"}]},
     "'/proc/' is mounted read-write"),
    (rules.validate_agent_mounts_read_only, rules.CONTAINER,
     {"image": "public.ecr.aws/datadog/agent:7",
      "mounts": [{"type": "bind", "source": "/sys/fs/cgroup", "target": "/host/sys/fs/cgroup"}]},
     "bind mount of '/sys/fs/cgroup'"),
    # An Agent known only by its DD_API_KEY: its image is a RemoteImage's sha256 id.
    (rules.validate_agent_mounts_read_only, rules.CONTAINER,
     {"image": "sha256:" + "ab" * 32, "envs": ["DD_API_KEY=x", "DD_SITE=datadoghq.com"],
      "volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock",
                   "readOnly": False}]}, "'/var/run/docker.sock' is mounted read-write"),
    # Not the Agent: the rule is about the Agent only.
    (rules.validate_agent_mounts_read_only, rules.CONTAINER,
     {"image": "python:3.12-slim", "volumes": [{"hostPath": "/srv/app", "containerPath": "/app"}]}, None),
    # Monitors
    (rules.validate_monitor_notifies, rules.MONITOR, GOOD_MONITOR, None),
    (rules.validate_monitor_notifies, rules.MONITOR, {**GOOD_MONITOR, "notifyNoData": False},
     "notify_no_data is not true"),
    (rules.validate_monitor_notifies, rules.MONITOR,
     {k: v for k, v in GOOD_MONITOR.items() if k != "noDataTimeframe"}, "no_data_timeframe is not set"),
    (rules.validate_monitor_notifies, rules.MONITOR,
     {**GOOD_MONITOR, "message": "my_metric is high (mail ops@example.com)"}, "names no recipient"),
    (rules.validate_monitor_notifies, rules.MONITOR,
     {"type": "composite", "message": "both failed @slack-ops"}, None),
    # Rule descriptions
    (rules.validate_rules_described, SG,
     {"ingress": [sg_in(22, cidrs=["203.0.113.10/32"])],
      "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"],
                  "description": "outbound"}]}, None),
    (rules.validate_rules_described, SG,
     {"ingress": [sg_in(22, cidrs=["203.0.113.10/32"])],
      "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]},
     "egress[0] has no description"),
    (rules.validate_rules_described, SG, {"ingress": [sg_in(22, cidrs=["10.0.0.0/8"], description=" ")]},
     "ingress[0] has no description"),
    (rules.validate_rules_described, SGR, {"type": "ingress", "description": "SSH from the VPN"}, None),
    (rules.validate_rules_described, VPC_OUT, {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"},
     "rule has no description"),
    # Tags
    (rules.validate_tags, "aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "tags": TAGS}, None),
    (rules.validate_tags, "aws:ec2/vpc:Vpc", {"tags": {"Name": "x", "project": "dd-assessment"}},
     "missing tag(s) stack"),
    (rules.validate_tags, "aws:iam/role:Role", {"assumeRolePolicy": "{}"}, "no tags"),
    # Not taggable, no tags: fine.
    (rules.validate_tags, "aws:ec2/routeTableAssociation:RouteTableAssociation", {"subnetId": "s"}, None),
    # A type not on the explicit list: the generic half of the rule still checks its tags.
    (rules.validate_tags, "aws:sqs/queue:Queue", {"tags": {"stack": "test"}}, "missing tag(s) project"),
    (rules.validate_tags, "datadog:index/monitor:Monitor", {"tags": ["env:test"]}, None),
    # Deprecated Downtime
    (rules.validate_no_deprecated_downtime, "datadog:index/downtimeSchedule:DowntimeSchedule", {}, None),
    (rules.validate_no_deprecated_downtime, rules.DOWNTIME, {"scope": ["*"]}, "DowntimeSchedule"),
]


def _case_id(case) -> str:
    validate, typ, _, expected = case
    return f"{validate.__name__}-{typ.rsplit(':', 1)[-1]}-{'pass' if expected is None else 'violate'}"


@pytest.mark.parametrize("validate, typ, props, expected", CASES, ids=[_case_id(c) for c in CASES])
def test_rule(validate, typ, props, expected):
    messages = validate(typ, props)
    if expected is None:
        assert messages == []
    else:
        assert messages, f"{validate.__name__} accepted {props}"
        assert any(expected in message for message in messages), messages
    # A rule never fires on a type it is not about.
    assert validate("random:index/randomPassword:RandomPassword", props) == []


def test_every_rule_has_a_passing_and_a_violating_case():
    for rule in rules.RULES:
        outcomes = {expected is None for validate, _, _, expected in CASES if validate is rule.validate}
        assert outcomes == {True, False}, rule.name


def test_messages_never_echo_the_secret():
    secret = "hunter2hunter2"
    (message,) = rules.validate_no_secrets_in_user_data(rules.INSTANCE, {"userData": f"password={secret}"})
    assert secret not in message


# ---------------------------------------------------------------------------------------------
# The program as declared


@pytest.fixture(scope="module")
def one_host() -> Declared:
    return evaluate()


@pytest.fixture(scope="module")
def three_open_hosts() -> Declared:
    # The widest legitimate configuration: several hosts, a looked-up AMI, the app open to all.
    return evaluate({"hostCount": "3", "amiId": None, "appAllowedCidrs": ["0.0.0.0/0", "::/0"]})


def _all_violations(declared: Declared) -> list[str]:
    return [f"{resource.typ} {resource.name}: [{name}] {message}"
            for resource in declared.resources
            for name, message in rules.violations(resource.typ, resource.props)]


def test_the_program_violates_no_rule(one_host, three_open_hosts):
    # Whatever the program declares today (containers and monitors included once it has them).
    assert one_host.resources
    assert _all_violations(one_host) == []
    assert _all_violations(three_open_hosts) == []
    assert _all_violations(evaluate({"hostAccess": "ssh"})) == []


def test_the_rules_see_the_programs_resources(three_open_hosts):
    # Guard against a vacuous pass: the rules' target types are really there.
    types = {resource.typ for resource in three_open_hosts.resources}
    assert {rules.INSTANCE, rules.SECURITY_GROUP} <= types
    # ...and a broken copy of the program's own instance is caught.
    instance = three_open_hosts.of_type(rules.INSTANCE)[0].props
    broken = {**instance, "metadataOptions": {**instance["metadataOptions"], "httpTokens": "optional"},
              "userData": instance["userData"] + "\nDD_API_KEY=0123456789abcdef0123456789abcdef\n"}
    names = {name for name, _ in rules.violations(rules.INSTANCE, broken)}
    assert names == {"ec2-imdsv2-required", "no-secrets-in-user-data"}

    # The Agent container is recognised (its image is a RemoteImage id; its DD_API_KEY gives it
    # away) and a writable mount in it would be caught; so would a monitor that tells no one.
    agents = [c for c in three_open_hosts.of_type(rules.CONTAINER) if rules.is_datadog_agent(c.props)]
    assert len(agents) == 3, "one Datadog Agent per host, and nothing else taken for one"
    agent = agents[0]
    writable = {**agent.props, "volumes": [{**v, "readOnly": False} for v in agent.props["volumes"]]}
    assert rules.validate_agent_mounts_read_only(rules.CONTAINER, writable)
    monitor = three_open_hosts.of_type(rules.MONITOR)[0].props
    silent = {**monitor, "message": re.sub(r"@\S+", "", monitor["message"])}
    assert rules.validate_monitor_notifies(rules.MONITOR, silent)

    # The hosts' security group says it is reached through Session Manager, and an SSH rule
    # slipped into it would be reported.
    group = three_open_hosts.one(rules.SECURITY_GROUP).props
    assert group["tags"][rules.ACCESS_TAG] == "ssm"
    ssh = {**group["ingress"][0], "fromPort": 22, "toPort": 22, "cidrBlocks": ["203.0.113.10/32"],
           "ipv6CidrBlocks": []}
    with_ssh = {**group, "ingress": [*group["ingress"], ssh]}
    assert {name for name, _ in rules.violations(rules.SECURITY_GROUP, with_ssh)} == {
        "no-ssh-ingress-under-session-manager"}


def test_every_type_the_program_tags_is_on_the_taggable_list(three_open_hosts):
    tagged = {r.typ for r in three_open_hosts.resources if r.typ.startswith("aws:") and "tags" in r.props}
    assert tagged <= rules.TAGGABLE_TYPES, "add these types to TAGGABLE_TYPES in policy/rules.py"


# ---------------------------------------------------------------------------------------------
# The pack itself


def test_the_pack_builds_every_rule_with_its_enforcement_level(monkeypatch):
    built = {}

    def recorder(name, policies, enforcement_level=None, **kwargs):
        built.update(name=name, policies=policies, enforcement_level=enforcement_level)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", recorder)
    runpy.run_path(str(ROOT / "policy"), run_name="__main__")

    assert built["name"] == "dd-assessment-guards"
    assert built["enforcement_level"] == EnforcementLevel.MANDATORY
    names = [policy.name for policy in built["policies"]]
    assert names == [rule.name for rule in rules.RULES] and len(set(names)) == len(names)
    levels = {policy.name: policy.enforcement_level for policy in built["policies"]}
    advisory = {"aws-project-stack-tags", "security-group-rules-described",
                "no-deprecated-datadog-downtime", "no-ssh-ingress-under-session-manager"}
    assert {name for name, level in levels.items() if level == EnforcementLevel.ADVISORY} == advisory
    assert all(level == EnforcementLevel.MANDATORY for name, level in levels.items()
               if name not in advisory)


def _args(typ: str, props: dict) -> ResourceValidationArgs:
    return ResourceValidationArgs(typ, unknown_checking_proxy(props), f"urn:pulumi:test::p::{typ}::r",
                                  "r", None, None)


def test_policies_read_the_sdks_proxied_props():
    reported: list[str] = []
    by_name = {policy.name: policy for policy in rules.policies()}
    props = {"metadataOptions": {"httpTokens": "optional"}, "iamInstanceProfile": UNKNOWN_STRING_VALUE,
             "rootBlockDevice": {"encrypted": True}, "tags": {"project": "p", "stack": "s"}}
    for name in ("ec2-imdsv2-required", "ec2-instance-has-role", "ebs-volumes-encrypted",
                 "aws-project-stack-tags"):
        by_name[name].validate(_args(rules.INSTANCE, props), lambda message, urn=None: reported.append(message))
    assert len(reported) == 1 and "IMDSv2" in reported[0]


def test_a_value_unknown_during_preview_defers_the_rule():
    # The SDK turns UnknownValueError into "can't run policy during preview" (advisory).
    policy = {p.name: p for p in rules.policies()}["ec2-imdsv2-required"]
    props = {"metadataOptions": {"httpTokens": UNKNOWN_STRING_VALUE}}
    with pytest.raises(UnknownValueError):
        policy.validate(_args(rules.INSTANCE, props), lambda message, urn=None: None)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_the_pack_runs_with_the_same_pinned_sdks_as_the_program():
    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    pack = _pins(ROOT / "policy" / "requirements.txt")
    assert pack["pulumi"] == _pins(ROOT / "requirements.txt")["pulumi"]
    assert pack["pulumi-policy"] == _pins(ROOT / "requirements-test.txt")["pulumi-policy"]
