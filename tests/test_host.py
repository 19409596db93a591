"""The foundation under mocks: network, firewall, IAM, instances, names, tags, outputs."""

import json

import pytest

from tests.harness import BASE_CONFIG, GATE_HOST_KEY, Declared, evaluate

INSTANCE = "aws:ec2/instance:Instance"
SECRET_VALUES = ("GeneratedPassw0rdForTestsOnly123", BASE_CONFIG["datadog:apiKey"],
                 BASE_CONFIG["datadog:appKey"])


@pytest.fixture(scope="module")
def one_host() -> Declared:
    return evaluate()


@pytest.fixture(scope="module")
def three_hosts() -> Declared:
    return evaluate({"hostCount": "3", "amiId": None, "appAllowedCidrs": ["0.0.0.0/0", "::/0"]})


@pytest.fixture(scope="module")
def ssh_access() -> Declared:
    return evaluate({"hostAccess": "ssh", "hostCount": "2"})


def test_a_host_per_host_count_with_deterministic_names(one_host, three_hosts):
    assert [r.props["tags"]["Name"] for r in one_host.of_type(INSTANCE)] == ["dd-assessment-test-0"]
    names = ["dd-assessment-test-0", "dd-assessment-test-1", "dd-assessment-test-2"]
    assert sorted(r.props["tags"]["Name"] for r in three_hosts.of_type(INSTANCE)) == names
    assert three_hosts.outputs["hostNames"] == names
    # The OS host name is the same name: Datadog reports the host under it.
    for name in names:
        assert f"\nhostname: {name}\n" in _instance(three_hosts, name).props["userData"]


def test_one_network_shared_by_all_hosts(three_hosts):
    for typ in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
                "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup"):
        assert len(three_hosts.of_type(typ)) == 1, typ
    routes = three_hosts.one("aws:ec2/routeTable:RouteTable").props["routes"]
    assert routes == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "dd-assessment-test-igw-id"}]
    association = three_hosts.one("aws:ec2/routeTableAssociation:RouteTableAssociation").props
    assert association == {"subnetId": "dd-assessment-test-public-id",
                           "routeTableId": "dd-assessment-test-public-id"}
    for instance in three_hosts.of_type(INSTANCE):
        assert instance.props["subnetId"] == "dd-assessment-test-public-id"
        assert instance.props["associatePublicIpAddress"] is True


def test_subnet_sits_in_a_zone_that_offers_the_type_and_never_moves(one_host):
    subnet = one_host.one("aws:ec2/subnet:Subnet")
    assert subnet.props["availabilityZone"] == "us-east-2a"  # first of the offered zones, by name
    assert subnet.options["ignoreChanges"] == ["availabilityZone"]
    token, args = one_host.calls[0]
    assert token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
    assert args["filters"] == [{"name": "instance-type", "values": ["t3.micro"]}]


def _instance(declared: Declared, host_name: str):
    (instance,) = [r for r in declared.of_type(INSTANCE) if r.props["tags"]["Name"] == host_name]
    return instance


def _rules(declared: Declared, direction: str) -> list[dict]:
    return declared.one("aws:ec2/securityGroup:SecurityGroup").props[direction]


def test_by_default_the_firewall_admits_http_only_and_no_ssh_at_all(one_host, three_hosts):
    (http,) = _rules(one_host, "ingress")
    assert (http["fromPort"], http["toPort"], http["protocol"]) == (80, 80, "tcp")
    assert (http["cidrBlocks"], http["ipv6CidrBlocks"]) == (["203.0.113.10/32"], [])  # sshAllowedCidrs
    (http,) = _rules(three_hosts, "ingress")
    assert (http["cidrBlocks"], http["ipv6CidrBlocks"]) == (["0.0.0.0/0"], ["::/0"])
    group = one_host.one("aws:ec2/securityGroup:SecurityGroup").props
    assert group["tags"]["hostAccess"] == "ssm"  # what the policy pack holds the group to


def test_the_app_alone_may_be_configured_under_session_manager():
    declared = evaluate({"sshAllowedCidrs": None, "appAllowedCidrs": ["198.51.100.0/24"]})
    (http,) = _rules(declared, "ingress")
    assert (http["fromPort"], http["cidrBlocks"]) == (80, ["198.51.100.0/24"])


def test_with_ssh_access_the_firewall_admits_ssh_from_its_cidrs(ssh_access):
    ingress = _rules(ssh_access, "ingress")
    assert sorted((r["fromPort"], r["toPort"], r["protocol"]) for r in ingress) == [
        (22, 22, "tcp"), (80, 80, "tcp")]
    for rule in ingress:
        assert rule["cidrBlocks"] == ["203.0.113.10/32"]  # app CIDRs default to the SSH ones
        assert rule["ipv6CidrBlocks"] == []
    assert ssh_access.one("aws:ec2/securityGroup:SecurityGroup").props["tags"]["hostAccess"] == "ssh"


def test_postgres_docker_api_and_trace_port_are_never_exposed(three_hosts, ssh_access):
    for rule in _rules(three_hosts, "ingress") + _rules(ssh_access, "ingress"):
        for port in (5432, 2375, 2376, 8125, 8126):
            assert not rule["fromPort"] <= port <= rule["toPort"]


def test_every_rule_is_described(one_host, ssh_access):
    for declared in (one_host, ssh_access):
        for rule in _rules(declared, "ingress") + _rules(declared, "egress"):
            assert rule["description"].strip()
        assert declared.one("aws:ec2/securityGroup:SecurityGroup").props["description"].strip()


def test_instance_is_hardened(three_hosts):
    for instance in three_hosts.of_type(INSTANCE):
        props = instance.props
        assert props["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                            "httpPutResponseHopLimit": 2,
                                            "instanceMetadataTags": "enabled"}
        root = props["rootBlockDevice"]
        assert (root["volumeType"], root["encrypted"], root["deleteOnTermination"]) == ("gp3", True, True)
        assert props["instanceType"] == "t3.micro"
        assert props["iamInstanceProfile"].endswith("-instance")
        assert props["keyName"]
        assert props["userDataReplaceOnChange"] is True


def test_looked_up_ami_never_replaces_a_running_host(one_host, three_hosts):
    pinned = one_host.one(INSTANCE)
    assert pinned.props["ami"] == "ami-0a1b2c3d4e5f67890"
    assert pinned.options["ignoreChanges"] == []
    assert not [token for token, _ in one_host.calls if token == "aws:ec2/getAmi:getAmi"]
    for instance in three_hosts.of_type(INSTANCE):
        assert instance.props["ami"] == "ami-0fedcba9876543210"
        assert instance.options["ignoreChanges"] == ["ami"]
    lookups = [args for token, args in three_hosts.calls if token == "aws:ec2/getAmi:getAmi"]
    assert len(lookups) == 1  # one lookup serves every host
    assert lookups[0]["owners"] == ["amazon"]
    assert {"name": "name", "values": ["al2023-ami-2023.*-kernel-*-x86_64"]} in lookups[0]["filters"]


def test_graviton_types_get_an_arm64_image():
    declared = evaluate({"amiId": None, "instanceType": "t4g.small"})
    (lookup,) = [args for token, args in declared.calls if token == "aws:ec2/getAmi:getAmi"]
    assert {"name": "architecture", "values": ["arm64"]} in lookup["filters"]


def test_key_pair_from_the_configured_public_key(three_hosts):
    for key_pair in three_hosts.of_type("aws:ec2/keyPair:KeyPair"):
        assert key_pair.props["publicKey"] == BASE_CONFIG["sshPublicKey"]


def test_database_password_is_generated_kept_in_ssm_and_readable_only_by_its_host(three_hosts):
    passwords = three_hosts.of_type("random:index/randomPassword:RandomPassword")
    parameters = three_hosts.of_type("aws:ssm/parameter:Parameter")
    assert len(passwords) == len(parameters) == 3
    for index, parameter in enumerate(sorted(parameters, key=lambda p: p.name)):
        host = f"dd-assessment-test-{index}"
        assert parameter.props["type"] == "SecureString"
        assert parameter.props["name"] == f"/dd-assessment/test/{host}/postgres-datadog-password"
        assert parameter.props["value"] == "GeneratedPassw0rdForTestsOnly123"
        policy = json.loads(three_hosts.named(f"{host}-read-own-parameters").props["policy"])
        (statement,) = policy["Statement"]
        assert statement == {"Effect": "Allow", "Action": ["ssm:GetParameter"],
                             "Resource": f"arn:aws:ssm:us-east-2:123456789012:{host}-postgres-datadog"}
        # The host boots only once the parameter and the right to read it exist.
        instance = _instance(three_hosts, host)
        assert any(dep.endswith(f"::{host}-postgres-datadog") for dep in instance.options["dependencies"])
        assert any(dep.endswith(f"::{host}-read-own-parameters") for dep in instance.options["dependencies"])
    for password in passwords:
        assert password.props["length"] >= 32


def test_instance_role_is_for_ec2_with_session_manager(one_host):
    role = one_host.one("aws:iam/role:Role")
    assume = json.loads(role.props["assumeRolePolicy"])
    assert assume["Statement"] == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                    "Principal": {"Service": "ec2.amazonaws.com"}}]
    attachment = one_host.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.props["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def test_no_secret_in_user_data(three_hosts):
    for instance in three_hosts.of_type(INSTANCE):
        user_data = instance.props["userData"]
        assert "/postgres-datadog-password" in user_data  # the parameter's name, not its value
        for secret in SECRET_VALUES:
            assert secret not in user_data


def test_no_secret_in_plain_outputs(three_hosts):
    flat = json.dumps(three_hosts.outputs)
    for secret in SECRET_VALUES:
        assert secret not in flat


def test_tags_on_everything_taggable(three_hosts):
    taggable = [r for r in three_hosts.resources if r.typ.startswith("aws:") and "tags" in r.props]
    assert {r.typ for r in taggable} >= {
        "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/keyPair:KeyPair", "aws:ssm/parameter:Parameter", "aws:iam/role:Role",
        "aws:iam/instanceProfile:InstanceProfile", INSTANCE}
    for resource in taggable:
        tags = resource.props["tags"]
        assert tags["project"] == "dd-assessment" and tags["stack"] == "test", resource.name
        assert tags["Name"], resource.name
    for instance in three_hosts.of_type(INSTANCE):
        assert instance.props["volumeTags"]["project"] == "dd-assessment"


def test_children_are_parented_to_their_component(three_hosts):
    for resource in three_hosts.resources:
        if resource.custom and not resource.typ.startswith("pulumi:providers:"):
            assert "$dd-assessment:" in resource.parent, resource.name


def test_the_images_the_host_pulls_at_boot_are_named_by_its_tags(one_host, three_hosts):
    for instance in three_hosts.of_type(INSTANCE):
        tags = instance.props["tags"]
        assert tags["agentImage"] == "gcr.io/datadoghq/agent:7.83.1"
        assert tags["appBaseImage"] == "python:3.12.14-slim-trixie"  # app/Dockerfile's FROM
    # A new Agent version changes a tag, never the user-data (which would replace the host).
    newer = evaluate({"agentVersion": "7.84.0"}).one(INSTANCE).props
    assert newer["tags"]["agentImage"] == "gcr.io/datadoghq/agent:7.84.0"
    assert newer["userData"] == one_host.one(INSTANCE).props["userData"]


def test_outputs_tell_the_user_how_to_reach_each_host(three_hosts):
    ips = three_hosts.outputs["publicIps"]
    assert len(ips) == 3 and all(ips)
    assert three_hosts.outputs["instanceIds"] == [f"dd-assessment-test-{n}-instance-id" for n in range(3)]
    assert three_hosts.outputs["sshHostKeys"] == [GATE_HOST_KEY] * 3
    key = BASE_CONFIG["sshPrivateKeyPath"]
    assert three_hosts.outputs["sshCommands"] == [
        f"ssh -i {key} -o IdentitiesOnly=yes -o 'ProxyCommand=aws ssm start-session --target "
        f"dd-assessment-test-{n}-instance-id --document-name AWS-StartSSHSession --parameters "
        "portNumber=%p --region us-east-2' -o ConnectTimeout=20 -o ServerAliveInterval=15 "
        "-o ServerAliveCountMax=4 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null "
        f"-o GlobalKnownHostsFile=/dev/null -o 'KnownHostsCommand=/bin/echo %H {GATE_HOST_KEY}' "
        f"ec2-user@dd-assessment-test-{n}-instance-id" for n in range(3)]
    assert three_hosts.outputs["appUrls"] == [f"http://{ip}/" for ip in ips]


def test_with_ssh_access_the_commands_go_to_the_public_address(ssh_access):
    key = BASE_CONFIG["sshPrivateKeyPath"]
    assert ssh_access.outputs["sshCommands"] == [
        f"ssh -i {key} -o IdentitiesOnly=yes -o ConnectTimeout=20 -o ServerAliveInterval=15 "
        "-o ServerAliveCountMax=4 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null "
        f"-o GlobalKnownHostsFile=/dev/null -o 'KnownHostsCommand=/bin/echo %H {GATE_HOST_KEY}' "
        f"ec2-user@{ip}" for ip in ssh_access.outputs["publicIps"]]
