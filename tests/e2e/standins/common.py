"""A small gRPC ResourceProvider: inputs in, handlers per type token, Terraform-like diffs."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from concurrent import futures
from typing import Any, Callable

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def to_dict(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    return json_format.MessageToDict(struct) if struct is not None else {}


def to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def type_of(urn: str) -> str:
    return urn.split("::")[-2].split("$")[-1]


class Handler:
    """One resource type: what replaces, and how to create, update and delete it."""

    force_new: frozenset[str] = frozenset()  # "*": every change replaces
    delete_before_replace = False

    def create(self, urn: str, inputs: dict) -> tuple[str, dict]:
        raise NotImplementedError

    def update(self, urn: str, resource_id: str, olds: dict, news: dict) -> dict:
        return {**olds, **news}

    def delete(self, urn: str, resource_id: str, state: dict) -> None:
        pass


class Provider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, version: str, handlers: dict[str, Handler]) -> None:
        self.version = version
        self.handlers = handlers
        self.config: dict[str, Any] = {}

    def _handler(self, urn: str, context: Any) -> Handler:
        handler = self.handlers.get(type_of(urn))
        if handler is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"stand-in: {type_of(urn)} is not implemented")
        return handler

    def _guard(self, context: Any, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as error:  # noqa: BLE001  (reported to the engine as the resource's error)
            message = f"{error}"
            print(f"{message}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            context.abort(grpc.StatusCode.UNKNOWN, message)

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=self.version)

    def GetSchema(self, request, context):
        return provider_pb2.GetSchemaResponse(schema="")

    def Cancel(self, request, context):
        return empty_pb2.Empty()

    def CheckConfig(self, request, context):
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request, context):
        olds, news = to_dict(request.olds), to_dict(request.news)
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k))
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME if changed
                                         else provider_pb2.DiffResponse.DIFF_NONE, diffs=changed)

    def Configure(self, request, context):
        self.config = {**{k.split(":config:")[-1]: v for k, v in request.variables.items()}, **to_dict(request.args)}
        return provider_pb2.ConfigureResponse(acceptSecrets=False, supportsPreview=False)

    def Check(self, request, context):
        self._handler(request.urn, context)
        return provider_pb2.CheckResponse(inputs=request.news)

    def Diff(self, request, context):
        handler = self._handler(request.urn, context)
        olds = to_dict(request.old_inputs) if request.HasField("old_inputs") else to_dict(request.olds)
        news = to_dict(request.news)
        ignored = set(request.ignoreChanges)
        diffs = sorted(k for k in set(olds) | set(news)
                       if k not in ignored and not k.startswith("__")
                       and (json.dumps(olds.get(k), sort_keys=True) != json.dumps(news.get(k), sort_keys=True)
                            or UNKNOWN in json.dumps(news.get(k))))
        replaces = diffs if "*" in handler.force_new else [k for k in diffs if k in handler.force_new]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if diffs else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=diffs, replaces=replaces, deleteBeforeReplace=handler.delete_before_replace)

    def Create(self, request, context):
        handler = self._handler(request.urn, context)
        resource_id, outputs = self._guard(context, lambda: handler.create(request.urn, to_dict(request.properties)))
        return provider_pb2.CreateResponse(id=resource_id, properties=to_struct(outputs))

    def Read(self, request, context):
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Update(self, request, context):
        handler = self._handler(request.urn, context)
        outputs = self._guard(context, lambda: handler.update(request.urn, request.id, to_dict(request.olds),
                                                              to_dict(request.news)))
        return provider_pb2.UpdateResponse(properties=to_struct(outputs))

    def Delete(self, request, context):
        handler = self._handler(request.urn, context)
        self._guard(context, lambda: handler.delete(request.urn, request.id, to_dict(request.properties)))
        return empty_pb2.Empty()


def serve(servicer: provider_pb2_grpc.ResourceProviderServicer, argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", nargs="?")
    args, _ = parser.parse_known_args(argv)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()
