"""A real Pulumi resource plugin, driven over Pulumi's provider gRPC protocol as the engine does.

`Plugin.start(name)` runs `$PULUMI_HOME/plugins/resource-<name>-v<version>/pulumi-resource-<name>`
(what `make toolchain` installs) with the address of a small engine of ours as its argument,
reads the port it prints, and talks to it with the stubs the Pulumi Python SDK ships
(`pulumi.runtime.proto.provider_pb2_grpc.ResourceProviderStub`). The engine side is the part of
Pulumi's Engine service a provider calls back (pulumi/pulumi proto/pulumi/engine.proto: Log,
GetRootResource, SetRootResource, ...): it keeps the provider's log lines, which a failing test
prints.

Property maps travel as google.protobuf Structs, as the engine sends them: plain JSON values,
secrets unwrapped (the tests send no secret markers), an output of another resource that is not
known yet as the engine's computed sentinel `UNKNOWN`.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
)

# The value the engine sends for an input whose value is not known yet (pulumi/pulumi
# sdk/go/common/resource/plugin/rpc.go: UnknownStringValue).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK, PROJECT = "test", "dd-assessment"
# The pinned plugins (requirements.txt pins their SDKs at the same versions).
VERSIONS = {"command": "1.2.1", "random": "4.21.4", "time": "0.1.1", "docker": "5.2.0",
            "datadog": "5.17.0"}
TOOLCHAIN_MISSING = "run make toolchain"


class ToolchainMissing(Exception):
    pass


def plugin_path(name: str) -> Path:
    """Where `make toolchain` installed the pinned plugin `name`, or ToolchainMissing."""
    home = os.environ.get("PULUMI_HOME")
    if not home:
        raise ToolchainMissing(f"PULUMI_HOME is not set (source toolchain/env.sh): {TOOLCHAIN_MISSING}")
    path = Path(home) / "plugins" / f"resource-{name}-v{VERSIONS[name]}" / f"pulumi-resource-{name}"
    if not os.access(path, os.X_OK):
        raise ToolchainMissing(f"no plugin {name} {VERSIONS[name]} at {path}: {TOOLCHAIN_MISSING}")
    return path


def urn(typ: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{typ}::{name}"


def to_struct(value: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict:
    return json_format.MessageToDict(struct)


class _Engine(engine_pb2_grpc.EngineServicer):
    """The engine's half a provider calls back: it logs, and asks for the root resource."""

    def __init__(self) -> None:
        self.logs: list[str] = []
        self.root = ""

    def Log(self, request, context):
        self.logs.append(f"{engine_pb2.LogSeverity.Name(request.severity)} {request.urn} {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):
        return engine_pb2.GetRootResourceResponse(urn=self.root)

    def SetRootResource(self, request, context):
        self.root = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(self, request, context):
        return engine_pb2.RequirePulumiVersionResponse()


class ProviderError(Exception):
    """A gRPC call failed: the provider's own message, with its recent log lines."""


@dataclass
class Plugin:
    name: str
    process: subprocess.Popen
    stub: provider_pb2_grpc.ResourceProviderStub
    engine: _Engine
    server: grpc.Server
    channel: grpc.Channel
    stderr: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # call name -> seconds spent in it

    @classmethod
    def start(cls, name: str, env: dict[str, str] | None = None) -> Plugin:
        path = plugin_path(name)
        engine = _Engine()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
        engine_port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        process = subprocess.Popen([str(path), f"127.0.0.1:{engine_port}"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        port_line = process.stdout.readline().strip()
        if not port_line.isdigit():
            rest = process.stderr.read() if process.poll() is not None else ""
            process.kill()
            server.stop(0)
            raise ProviderError(f"{path} printed {port_line!r} instead of its port: {rest[-2000:]}")
        stderr: list[str] = []
        threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True).start()
        channel = grpc.insecure_channel(f"127.0.0.1:{port_line}", options=[
            ("grpc.max_receive_message_length", 400 * 1024 * 1024)])
        grpc.channel_ready_future(channel).result(timeout=30)
        return cls(name, process, provider_pb2_grpc.ResourceProviderStub(channel), engine, server,
                   channel, stderr)

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.server.stop(0)

    def _call(self, method: str, request):
        began = time.monotonic()
        try:
            return getattr(self.stub, method)(request, timeout=300)
        except grpc.RpcError as error:
            logs = "\n".join(self.engine.logs[-20:] + self.stderr[-20:])
            raise ProviderError(f"{self.name} {method}: {error.code().name}: {error.details()}"
                                + (f"\n--- provider log ---\n{logs}" if logs else "")) from None
        finally:
            self.timings[method] = self.timings.get(method, 0.0) + time.monotonic() - began

    # ---- the calls, in the order the engine makes them ------------------------------------

    def version(self) -> str:
        return self._call("GetPluginInfo", empty_pb2.Empty()).version

    def check_config(self, inputs: dict, provider_name: str = "default") -> tuple[dict, list[str]]:
        """CheckConfig: the provider's own validation of its configuration."""
        typ = f"pulumi:providers:{self.name}"
        response = self._call("CheckConfig", provider_pb2.CheckRequest(
            urn=urn(typ, provider_name), name=provider_name, type=typ, olds=to_struct({}),
            news=to_struct(inputs)))
        return from_struct(response.inputs), [f"{f.property}: {f.reason}" for f in response.failures]

    def configure(self, inputs: dict, provider_name: str = "default") -> None:
        typ = f"pulumi:providers:{self.name}"
        self._call("Configure", provider_pb2.ConfigureRequest(
            args=to_struct(inputs), acceptSecrets=False, acceptResources=True,
            urn=urn(typ, provider_name), name=provider_name, type=typ))

    def check(self, typ: str, name: str, news: dict, olds: dict | None = None) -> tuple[dict, list[str]]:
        response = self._call("Check", provider_pb2.CheckRequest(
            urn=urn(typ, name), name=name, type=typ, olds=to_struct(olds or {}), news=to_struct(news),
            randomSeed=name.encode().ljust(32, b"\0")[:32]))
        return from_struct(response.inputs), [f"{f.property}: {f.reason}" for f in response.failures]

    def create(self, typ: str, name: str, checked: dict) -> tuple[str, dict]:
        response = self._call("Create", provider_pb2.CreateRequest(
            urn=urn(typ, name), name=name, type=typ, properties=to_struct(checked), timeout=300))
        return response.id, from_struct(response.properties)

    def read(self, typ: str, name: str, resource_id: str, state: dict, inputs: dict) -> tuple[str, dict, dict]:
        response = self._call("Read", provider_pb2.ReadRequest(
            id=resource_id, urn=urn(typ, name), name=name, type=typ, properties=to_struct(state),
            inputs=to_struct(inputs)))
        return response.id, from_struct(response.properties), from_struct(response.inputs)

    def diff(self, typ: str, name: str, resource_id: str, state: dict, old_inputs: dict,
             news: dict) -> provider_pb2.DiffResponse:
        return self._call("Diff", provider_pb2.DiffRequest(
            id=resource_id, urn=urn(typ, name), name=name, type=typ, olds=to_struct(state),
            old_inputs=to_struct(old_inputs), news=to_struct(news)))

    def delete(self, typ: str, name: str, resource_id: str, state: dict, inputs: dict) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(
            id=resource_id, urn=urn(typ, name), name=name, type=typ, properties=to_struct(state),
            old_inputs=to_struct(inputs), timeout=300))


def describe_diff(response: provider_pb2.DiffResponse) -> str:
    """A diff as a person reads it: what changes, what replaces."""
    kinds = {value: name for name, value in provider_pb2.PropertyDiff.Kind.items()}
    details = {key: kinds[value.kind] for key, value in response.detailedDiff.items()}
    return (f"changes={provider_pb2.DiffResponse.DiffChanges.Name(response.changes)} "
            f"diffs={list(response.diffs)} replaces={list(response.replaces)} detailed={details}")


__all__ = [
    "UNKNOWN",
    "Plugin",
    "ProviderError",
    "ToolchainMissing",
    "describe_diff",
    "plugin_path",
    "urn",
]
