"""The aws stand-in provider judges and answers as pulumi-aws 7.51.1 over real AWS would.

Run by `make e2e` (in its venv, against a moto server of its own) before the real `pulumi up`:
if the stand-in accepted what pulumi-aws refuses, replaced less than Terraform replaces, or
reported moto's invented public addresses, the end-to-end run would prove nothing.
The provider's gRPC methods are called in-process with the engine's own request messages.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pulumi.runtime.proto import provider_pb2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.e2e.aws_standin.server import AwsStandIn, to_dict, to_struct  # noqa: E402

REGION = "us-east-2"
INSTANCE = "aws:ec2/instance:Instance"
KEY_PAIR = "aws:ec2/keyPair:KeyPair"
PARAMETER = "aws:ssm/parameter:Parameter"


class Aborted(Exception):
    pass


class Context:
    def abort(self, code, message):
        raise Aborted(message)


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture
def provider(moto_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DD_E2E_DIR", str(tmp_path))
    monkeypatch.setenv("DD_E2E_HOSTS", "none")
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST"))
    standin = AwsStandIn()
    standin.Configure(provider_pb2.ConfigureRequest(variables={
        "aws:config:region": REGION,
        "aws:config:endpoints": json.dumps([{s: moto_url for s in ("ec2", "iam", "ssm", "sts")}])}), Context())
    return standin


def urn(token: str, name: str) -> str:
    return f"urn:pulumi:e2e::dd-assessment::{token}::{name}"


def check(provider, token, news, olds=None, seed=b"seed"):
    response = provider.Check(provider_pb2.CheckRequest(urn=urn(token, "r"), news=to_struct(news),
                                                        olds=to_struct(olds or {}), randomSeed=seed), Context())
    return to_dict(response.inputs), {f.property: f.reason for f in response.failures}


def create(provider, token, news):
    inputs, failures = check(provider, token, news)
    assert failures == {}
    response = provider.Create(provider_pb2.CreateRequest(urn=urn(token, "r"), properties=to_struct(inputs)), Context())
    return response.id, inputs, to_dict(response.properties)


def diff(provider, token, resource_id, inputs, outputs, news):
    response = provider.Diff(provider_pb2.DiffRequest(urn=urn(token, "r"), id=resource_id, olds=to_struct(outputs),
                                                      old_inputs=to_struct(inputs), news=to_struct(news)), Context())
    return sorted(response.diffs), sorted(response.replaces)


def invoke(provider, token, args):
    response = provider.Invoke(provider_pb2.InvokeRequest(tok=token, args=to_struct(args)), Context())
    return to_dict(getattr(response, "return"))


def public_key(tmp_path, kind="ed25519"):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(tmp_path / kind)], check=True)
    return (tmp_path / f"{kind}.pub").read_text().strip()


def test_a_misspelt_input_is_refused_with_the_known_names(provider):
    # Bug caught: a typo (`instanceTyp`) silently ignored, so the default would be deployed.
    _, failures = check(provider, INSTANCE, {"ami": "ami-1", "instanceTyp": "t3.micro"})
    assert set(failures) == {"instanceTyp"}
    assert "pulumi-aws 7.51.1 has no such input" in failures["instanceTyp"]
    assert "instanceType" in failures["instanceTyp"]


def test_required_inputs_types_and_enums_are_checked(provider):
    _, failures = check(provider, PARAMETER, {"name": "/x", "value": "v", "tags": {"n": 1}})
    assert failures["type"] == "required by pulumi-aws 7.51.1 but missing"
    assert failures["tags.n"].startswith("expected a string")
    _, failures = check(provider, PARAMETER, {"name": "/x", "value": "v", "type": "Secure"})
    assert "'Secure' is not one of the schema's values: SecureString, String, StringList" == failures["type"]
    _, failures = check(provider, "aws:ec2/securityGroup:SecurityGroup",
                        {"ingress": [{"protocol": "tcp", "fromPort": 80, "toPort": "80"}]})
    assert failures == {"ingress[0].toPort": "expected a number, got '80'"}


def test_names_are_made_once_and_kept_on_update(provider):
    first, _ = check(provider, KEY_PAIR, {"publicKey": "k"}, seed=b"one")
    assert first["keyName"].startswith("r-") and len(first["keyName"]) == len("r-") + 7
    again, _ = check(provider, KEY_PAIR, {"publicKey": "k2"}, olds=first, seed=b"two")
    assert again["keyName"] == first["keyName"]
    fresh, _ = check(provider, KEY_PAIR, {"publicKey": "k2"}, seed=b"two")  # a replacement: no olds
    assert fresh["keyName"] != first["keyName"]


def test_ecdsa_keys_are_refused_as_ec2_refuses_them(provider, tmp_path):
    with pytest.raises(Aborted, match="InvalidKeyPair.Format"):
        create(provider, KEY_PAIR, {"publicKey": public_key(tmp_path, "ecdsa")})


def test_read_back_agrees_and_a_new_key_replaces(provider, tmp_path):
    key_id, inputs, outputs = create(provider, KEY_PAIR, {"publicKey": public_key(tmp_path), "tags": {"a": "1"}})
    assert diff(provider, KEY_PAIR, key_id, inputs, outputs, inputs) == ([], [])
    assert diff(provider, KEY_PAIR, key_id, inputs, outputs, {**inputs, "tags": {"a": "2"}}) == (["tags"], [])
    assert diff(provider, KEY_PAIR, key_id, inputs, outputs, {**inputs, "publicKey": "ssh-ed25519 AAAA x"}) \
        == (["publicKey"], ["publicKey"])


def instance_inputs(provider, tmp_path):
    ami = invoke(provider, "aws:ec2/getAmi:getAmi", {
        "mostRecent": True, "owners": ["amazon"],
        "filters": [{"name": "name", "values": ["al2023-ami-2023.*-kernel-*-x86_64"]}]})["id"]
    _, _, key = create(provider, KEY_PAIR, {"publicKey": public_key(tmp_path)})
    return {"ami": ami, "instanceType": "t3.micro", "keyName": key["keyName"], "userData": "#cloud-config\n",
            "userDataReplaceOnChange": True, "tags": {"Name": "h"},
            "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2},
            "rootBlockDevice": {"volumeSize": 20, "volumeType": "gp3", "encrypted": True}}


def test_instance_replacement_rules(provider, tmp_path):
    instance_id, inputs, outputs = create(provider, INSTANCE, instance_inputs(provider, tmp_path))
    assert diff(provider, INSTANCE, instance_id, inputs, outputs, inputs) == ([], [])
    changed = {**inputs, "userData": "#cloud-config\nhostname: x\n"}
    assert diff(provider, INSTANCE, instance_id, inputs, outputs, changed) == (["userData"], ["userData"])
    in_place = {**changed, "userDataReplaceOnChange": False}
    assert diff(provider, INSTANCE, instance_id, inputs, outputs, in_place)[1] == []
    assert diff(provider, INSTANCE, instance_id, inputs, outputs, {**inputs, "instanceType": "t3.small"}) \
        == (["instanceType"], [])
    unencrypted = {**inputs, "rootBlockDevice": {**inputs["rootBlockDevice"], "encrypted": False}}
    assert diff(provider, INSTANCE, instance_id, inputs, outputs, unencrypted) == (["rootBlockDevice"], ["rootBlockDevice"])
    bigger = {**inputs, "rootBlockDevice": {**inputs["rootBlockDevice"], "volumeSize": 30}}
    assert diff(provider, INSTANCE, instance_id, inputs, outputs, bigger) == (["rootBlockDevice"], [])


def test_an_instance_reports_its_test_host_not_moto_s_address(provider, tmp_path):
    instance_id, _, outputs = create(provider, INSTANCE, instance_inputs(provider, tmp_path))
    assert outputs["publicIp"] == "192.0.2.10"  # hosts.NoHosts: TEST-NET-1, index 0
    assert outputs["metadataOptions"]["httpPutResponseHopLimit"] == 2
    looked_up = invoke(provider, "aws:ec2/getInstance:getInstance", {"instanceId": instance_id})
    assert looked_up["publicIp"] == "192.0.2.10"
    assert len(looked_up["launchTime"]) == len("2026-01-01T00:00:00Z")


def test_an_unknown_invoke_argument_is_refused(provider):
    response = provider.Invoke(provider_pb2.InvokeRequest(tok="aws:ec2/getAmi:getAmi",
                                                          args=to_struct({"mostRecnt": True})), Context())
    assert [f.property for f in response.failures] == ["mostRecnt"]
