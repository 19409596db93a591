"""Bad input: each rule fails with one clear message naming the key, and nothing is declared."""

import pytest

from tests.harness import BASE_CONFIG, PRIVATE_KEY_FILE, evaluate, is_secret, rejected

BAD_INPUTS = [
    # (config change, key named in the error, words of the fix)
    ({"hostAccess": "vpn"}, "hostAccess", "neither 'ssm'"),
    ({"hostAccess": "ssh", "sshAllowedCidrs": None}, "sshAllowedCidrs",
     "required when hostAccess is 'ssh'; set it with `pulumi config set --path 'sshAllowedCidrs[0]'"),
    ({"sshAllowedCidrs": None}, "appAllowedCidrs",
     "unless sshAllowedCidrs is set; set it with `pulumi config set --path 'appAllowedCidrs[0]'"),
    ({"sshAllowedCidrs": []}, "sshAllowedCidrs", "at least one CIDR"),
    ({"sshAllowedCidrs": ["203.0.113.300/32"]}, "sshAllowedCidrs", "not a valid CIDR"),
    ({"sshAllowedCidrs": ["203.0.113.10/24"]}, "sshAllowedCidrs", "did you mean '203.0.113.0/24'"),
    ({"sshAllowedCidrs": ["203.0.113.10"]}, "sshAllowedCidrs", "'203.0.113.10/32'"),
    ({"sshAllowedCidrs": ["0.0.0.0/0"]}, "sshAllowedCidrs", "whole internet"),
    ({"sshAllowedCidrs": ["::/0"]}, "sshAllowedCidrs", "whole internet"),
    ({"sshAllowedCidrs": "not-a-list-item"}, "sshAllowedCidrs", "no prefix length"),
    ({"appAllowedCidrs": ["10.0.0.1/8"]}, "appAllowedCidrs", "did you mean '10.0.0.0/8'"),
    ({"sshPublicKey": None}, "sshPublicKey", "pulumi config set sshPublicKey"),
    ({"sshPublicKey": "ssh-ed25519"}, "sshPublicKey", "not an OpenSSH public key"),
    ({"sshPublicKey": "ssh-ed25519 AAAA!!notbase64"}, "sshPublicKey", "not valid base64"),
    ({"sshPublicKey": "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHn7ZK2pQyYl6GgSyJ7cTi8tCqSoxX5pn2ZwK9bpXnxK"},
     "sshPublicKey", "does not match its type"),
    ({"sshPublicKey": "-----BEGIN OPENSSH PRIVATE KEY----- abc"}, "sshPublicKey", "PRIVATE key"),
    # A valid OpenSSH key EC2 cannot import: ImportKeyPair takes RSA and ED25519 only (EC2 API
    # reference, ImportKeyPair; moto answers InvalidKeyPair.Format, as EC2 does).
    ({"sshPublicKey": "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHB1NTHVTwGljyQY"
                      "+bEK8W9odtdAt/0lxEwB4VIAAq3j3hpxHBDqcSctCd1zhtuUk8FCjOGSP5xqwF0SAWeasWU= test@example"},
     "sshPublicKey", "EC2 cannot import (ImportKeyPair takes RSA and ED25519 keys only); create an "
                     "ed25519 pair with `ssh-keygen -t ed25519`"),
    ({"sshPrivateKeyPath": "/nonexistent/id_ed25519"}, "sshPrivateKeyPath", "ssh-keygen"),
    ({"hostCount": "0"}, "hostCount", "1..10"),
    ({"hostCount": "11"}, "hostCount", "1..10"),
    ({"hostCount": "two"}, "hostCount", "not a whole number"),
    ({"instanceType": "t3 micro"}, "instanceType", "EC2 instance type"),
    ({"amiId": "ami-xyz"}, "amiId", "AMI id"),
    ({"hostTags": ["env test"]}, "hostTags", "'key:value'"),
    ({"hostTags": ["1env:test"]}, "hostTags", "key starts with a letter"),
    ({"timezone": "America/Nowhere"}, "timezone", "IANA time zone"),
    ({"datadogSite": "datadoghq.org"}, "datadogSite", "datadoghq.eu"),
    ({"agentVersion": "latest"}, "agentVersion", "exact Agent 7 version"),
    ({"agentVersion": "6.50.0"}, "agentVersion", "exact Agent 7 version"),
    ({"checkIntervalSeconds": "10"}, "checkIntervalSeconds", "15..3600"),
    ({"warningThreshold": "900"}, "warningThreshold", "must be below criticalThreshold"),
    ({"criticalThreshold": "lots"}, "criticalThreshold", "not a number"),
    ({"noDataMinutes": "1"}, "noDataMinutes", "2..1440"),
    ({"notifyHandles": None}, "notifyHandles", "pulumi config set --path 'notifyHandles[0]'"),
    ({"notifyHandles": ["ops@example.com"]}, "notifyHandles", "starts with '@'"),
    ({"quietHours": "7pm-9am"}, "quietHours", "'HH:MM-HH:MM'"),
    ({"quietHours": "19:00-19:00"}, "quietHours", "same minute"),
    ({"demoTraffic": "601"}, "demoTraffic", "601 is out of range; use 0..600 requests per minute"),
    ({"demoTraffic": "-1"}, "demoTraffic", "use 0..600 requests per minute (0: no traffic container)"),
    ({"demoTraffic": "2.5"}, "demoTraffic", "'2.5' is not a whole number; use 0..600"),
    ({"demoTraffic": "lots"}, "demoTraffic", "'lots' is not a whole number; use 0..600"),
    ({"datadog:apiKey": None}, "datadog:apiKey", "pulumi config set --secret datadog:apiKey"),
    ({"datadog:appKey": None}, "datadog:appKey", "DD_APP_KEY"),
    ({"aws:region": None}, "aws:region", "pulumi config set aws:region"),
    ({"sshAlowedCidrs": ["203.0.113.10/32"]}, "sshAlowedCidrs", "did you mean 'sshAllowedCidrs'"),
]


@pytest.mark.parametrize("change,key,fix", BAD_INPUTS, ids=[f"{k}:{f}" for _, k, f in BAD_INPUTS])
def test_bad_input_names_the_key_and_the_fix_and_declares_nothing(change, key, fix, monkeypatch):
    for variable in ("DD_API_KEY", "DD_APP_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    message, declared = rejected(change)
    problem_lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(problem_lines) == 1, message
    assert problem_lines[0].startswith(f"  - {key}"), message
    assert fix in problem_lines[0], message
    assert "nothing was created" in message
    assert declared == []


def test_every_problem_is_reported_at_once():
    message, declared = rejected({"hostCount": "0", "timezone": "Mars/Olympus", "notifyHandles": None})
    assert [line.split(":")[0].strip(" -") for line in message.splitlines()[1:]] == [
        "hostCount", "timezone", "notifyHandles"]
    assert declared == []


def test_lists_may_be_given_as_a_plain_string():
    declared = evaluate({"hostAccess": "ssh", "sshAllowedCidrs": "203.0.113.10/32, 2001:db8::/48"})
    ingress = declared.one("aws:ec2/securityGroup:SecurityGroup").props["ingress"]
    ssh = next(rule for rule in ingress if rule["fromPort"] == 22)
    assert ssh["cidrBlocks"] == ["203.0.113.10/32"]
    assert ssh["ipv6CidrBlocks"] == ["2001:db8::/48"]


@pytest.mark.parametrize(("config", "api_key", "app_key"), [
    ({"datadog:apiKey": None, "datadog:appKey": None}, "api-key-from-env", "app-key-from-env"),
    ({}, BASE_CONFIG["datadog:apiKey"], BASE_CONFIG["datadog:appKey"]),  # config wins
], ids=["unset-keys-come-from-the-environment", "config-keys-win"])
def test_datadog_keys_fall_back_to_the_environment_each_to_its_own(monkeypatch, config, api_key,
                                                                    app_key):
    monkeypatch.setenv("DD_API_KEY", "api-key-from-env")
    monkeypatch.setenv("DD_APP_KEY", "app-key-from-env")
    declared = evaluate(config)
    provider = declared.one("pulumi:providers:datadog")
    assert is_secret(provider.inputs["apiKey"]) and is_secret(provider.inputs["appKey"])
    assert (provider.props["apiKey"], provider.props["appKey"]) == (api_key, app_key)
    agent = declared.named("dd-assessment-test-0-agent-container").props
    assert f"DD_API_KEY={api_key}" in agent["envs"]


def test_the_default_private_key_path_is_checked_too(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    message, _ = rejected({"sshPrivateKeyPath": None})
    assert "sshPrivateKeyPath (unset, so the default '~/.ssh/id_ed25519' was used)" in message
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519").write_text(PRIVATE_KEY_FILE.read_text())
    evaluate({"sshPrivateKeyPath": None})


def test_base_config_is_valid():
    assert evaluate(BASE_CONFIG).resources
