"""Run Pulumi code under the SDK's mocks and record everything it declares.

`evaluate(config)` runs the real `__main__.py`; `declare(fn)` runs any function (a single
component, say). Both return a `Declared`: the registered resources with their inputs (camelCase,
the same shape a CrossGuard policy sees as `props`) and resource options, the invokes made, and
the resolved stack outputs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.settings import set_root_resource

ROOT = Path(__file__).resolve().parent.parent
# Settings insist that the SSH private key file exists; a stand-in file is enough under mocks.
PRIVATE_KEY_FILE = Path(tempfile.mkdtemp(prefix="dd-assessment-tests-")) / "id_ed25519"
PRIVATE_KEY_FILE.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nstand-in\n-----END OPENSSH PRIVATE KEY-----\n")
PROJECT = "dd-assessment"
MAIN = ROOT / "__main__.py"
# How a secret value reaches a mock: the SDK's wire signature for secrets.
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"

# A valid test configuration: every required key, nothing else.
BASE_CONFIG: dict[str, Any] = {
    "aws:region": "us-east-2",
    "sshAllowedCidrs": ["203.0.113.10/32"],
    "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHn7ZK2pQyYl6GgSyJ7cTi8tCqSoxX5pn2ZwK9bpXnxK test@example",
    "sshPrivateKeyPath": str(PRIVATE_KEY_FILE),
    "amiId": "ami-0a1b2c3d4e5f67890",
    "notifyHandles": ["@ops@example.com"],
    "datadog:apiKey": "0123456789abcdef0123456789abcdef",
    "datadog:appKey": "0123456789abcdef0123456789abcdef01234567",
}
SECRET_KEYS = ("datadog:apiKey", "datadog:appKey")
# What a mocked readiness gate prints: the host's SSH key, learnt over Session Manager or the console.
GATE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDRg2evrC+djGryTA+0+EvNBKFCE8GJQTJP9OO3P1m+1"
# What a mocked pulumiverse-time Static reports as its creation instant (a Monday, 10:00 in New York).
STATIC_TIME = "2026-10-26T14:00:00Z"
# What the mocked `aws.ec2.getInstance` reports as an instance's launch time (the provider's
# RFC 3339 format, whole seconds).
LAUNCH_TIME = "2026-10-26T14:01:07Z"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unwrap(value: Any) -> Any:
    """The plain value, secrets unwrapped, at any depth."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@dataclass
class Resource:
    typ: str
    name: str
    inputs: dict  # as sent, secrets still wrapped
    custom: bool
    parent: str = ""
    provider: str = ""
    options: dict = field(default_factory=dict)

    @property
    def props(self) -> dict:
        return unwrap(self.inputs)


@dataclass
class Declared:
    resources: list[Resource]
    calls: list[tuple[str, dict]]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str) -> Resource:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Resource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, got {len(found)}"
        return found[0]


def mocked_image_id(name: str) -> str:
    """The image id the mocks report for a RemoteImage named `name`."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


# Outputs a provider would compute, per type, beyond echoing the inputs.
def _computed(typ: str, name: str, inputs: dict) -> dict:
    if typ == "aws:ec2/instance:Instance":
        index = sum(map(ord, name)) % 200 + 10
        return {"publicIp": f"198.51.100.{index}", "privateIp": f"10.42.1.{index}",
                "arn": f"arn:aws:ec2:us-east-2:123456789012:instance/i-{name}"}
    if typ == "random:index/randomPassword:RandomPassword":
        return {"result": "GeneratedPassw0rdForTestsOnly123"}
    if typ == "datadog:index/dashboard:Dashboard":
        return {"url": f"/dashboard/abc-def-{name}/{name}"}
    if typ == "time:index/static:Static":
        # The provider records "now" at create time; a fixed instant keeps mocked runs repeatable.
        stamp = inputs.get("rfc3339") or STATIC_TIME
        return {"rfc3339": stamp, "unix": int(datetime.fromisoformat(stamp).timestamp())}
    if typ == "docker:index/remoteImage:RemoteImage":
        return {"imageId": mocked_image_id(inputs["name"]),
                "repoDigest": inputs["name"]}
    if typ == "command:local:Command":
        return {"stdout": GATE_HOST_KEY}
    if typ == "aws:ec2/keyPair:KeyPair":
        return {"keyName": f"{name}-1a2b3c", "arn": f"arn:aws:ec2:us-east-2:123456789012:key-pair/{name}"}
    if typ.startswith("aws:"):
        service = typ.split(":")[1].split("/")[0]
        return {"arn": f"arn:aws:{service}:us-east-2:123456789012:{name}", "name": inputs.get("name", name)}
    return {}


_IDS = {"datadog:index/monitor:Monitor": "4242424"}


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Resource] = []
        self.calls: list[tuple[str, dict]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = {**args.inputs, **_computed(args.typ, args.name, args.inputs)}
        return [_IDS.get(args.typ, f"{args.name}-id"), outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0fedcba9876543210", "imageId": "ami-0fedcba9876543210",
                    "architecture": "x86_64", "name": "al2023-ami-2023.9.20251117.1-kernel-6.1-x86_64"}
        if args.token == "aws:ec2/getInstance:getInstance":
            return {"id": args.args["instanceId"], "instanceId": args.args["instanceId"],
                    "launchTime": LAUNCH_TIME}
        if args.token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
            return {"id": "us-east-2", "locations": ["us-east-2c", "us-east-2a", "us-east-2b"],
                    "locationTypes": ["availability-zone"] * 3, "instanceTypes": ["t3.micro"] * 3}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's parent and options."""

    mocks: RecordingMocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.mocks.resources.append(Resource(
                typ=request.type,
                name=request.name,
                inputs=rpc.deserialize_properties(request.object),
                custom=request.custom,
                parent=request.parent,
                provider=request.provider,
                options={
                    "ignoreChanges": list(request.ignoreChanges),
                    "deleteBeforeReplace": request.deleteBeforeReplace,
                    "replaceOnChanges": list(request.replaceOnChanges),
                    "dependencies": list(request.dependencies),
                    "additionalSecretOutputs": list(request.additionalSecretOutputs),
                    "protect": request.protect,
                    # The engine replaces the resource when this value changes (None: unset).
                    "replacementTrigger": (rpc.deserialize_property(
                        json_format.MessageToDict(request.replacement_trigger))
                        if request.HasField("replacement_trigger") else None),
                },
            ))
        return response


class ProgramFailed(Exception):
    """The program raised; `resources` is what it had declared by then."""

    def __init__(self, message: str, resources: list[Resource]) -> None:
        super().__init__(message)
        self.resources = resources


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def declare(fn: Callable[[], Any], config: dict[str, Any] | None = None, *, stack: str = "test",
            preview: bool = False, mocks: RecordingMocks | None = None) -> Declared:
    """Run `fn` under mocks with `config` (bare keys belong to this project); record it all.

    `mocks`: a RecordingMocks of the caller's, answering some resources differently."""
    mocks = mocks or RecordingMocks()
    set_root_resource(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                             monitor=RecordingMonitor(mocks))
    full = {(k if ":" in k else f"{PROJECT}:{k}"): _config_value(v) for k, v in (config or {}).items()}
    pulumi.runtime.set_all_config(full, [k for k in full if k in SECRET_KEYS])

    exported: dict[str, pulumi.Output] = {}
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def run():
        fn()
        exported.update({name: pulumi.Output.from_input(value)
                         for name, value in pulumi.runtime.get_root_resource().outputs.items()})

        async def resolve() -> None:
            for name, output in exported.items():
                outputs[name] = await output.future()
                if await output.is_secret():
                    secret_outputs.add(name)

        return asyncio.ensure_future(resolve())

    secret_outputs: set[str] = set()
    try:
        run()
    except Exception as error:
        raise ProgramFailed(str(error), mocks.resources) from error
    return Declared(mocks.resources, mocks.calls, outputs, secret_outputs)


def evaluate(config: dict[str, Any] | None = None, **kwargs) -> Declared:
    """Run the real program with BASE_CONFIG updated by `config` (a None value removes a key)."""
    merged = {**BASE_CONFIG, **(config or {})}
    merged = {k: v for k, v in merged.items() if v is not None}
    return declare(lambda: runpy.run_path(str(MAIN), run_name="__main__"), merged, **kwargs)


def rejected(config: dict[str, Any]) -> tuple[str, list[Resource]]:
    """Evaluate a configuration expected to fail: its error message and what was declared."""
    try:
        evaluate(config)
    except ProgramFailed as failure:
        return str(failure), failure.resources
    raise AssertionError(f"configuration {config} was accepted")
