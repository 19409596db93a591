"""The gRPC ResourceProvider service the Pulumi engine talks to, in place of pulumi-aws 7.51.1.

Check validates against the pinned SDK's schema (schema.py) and fills auto-names; Diff compares
the declared inputs with the state read back from moto and names the replacing properties
(rules.py); Create/Update/Delete/Read/Invoke go to moto (resources.py).

Secrets: Configure answers acceptSecrets=false, so the engine strips secrets before each call and
marks as secret every output whose input was one (the engine's own bookkeeping for providers
without secret support).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import traceback
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from tests.e2e.aws_standin import rules, schema
from tests.e2e.aws_standin.hosts import host_factory
from tests.e2e.aws_standin.resources import Aws, HostLedger, ProviderError, handlers, invokes
from tests.e2e.standins.common import to_dict, to_struct, type_of  # one copy of the wire helpers

VERSION = "7.51.1"
UNKNOWN = schema.UNKNOWN


def _name_of(urn: str) -> str:
    return urn.split("::")[-1]


def _normalize(value: Any, key: str = "") -> Any:
    """Comparable form: integral floats as ints, set-typed lists sorted, nulls dropped."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        items = [_normalize(v) for v in value]
        if key in rules.SET_INPUTS:
            items = sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return value


def _contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _declared_differs(new: Any, old: Any) -> bool:
    """Does the declared `new` differ from the state's `old`? Attributes the declaration leaves
    out of an object are AWS's to choose (Terraform's Optional+Computed), so they never differ."""
    if isinstance(new, dict) and isinstance(old, dict):
        return any(_declared_differs(v, old.get(k)) for k, v in new.items())
    if isinstance(new, list) and isinstance(old, list):
        return len(new) != len(old) or any(_declared_differs(n, o) for n, o in zip(new, old))
    return new != old


class AwsStandIn(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self) -> None:
        self.aws: Aws | None = None
        state = Path(os.environ.get("DD_E2E_DIR", "/tmp/dd-e2e")) / "aws-standin-hosts.json"
        self.ledger = HostLedger(state)
        self.hosts = host_factory()

    # ---- plumbing ----------------------------------------------------------------------------

    def _fail(self, context: grpc.ServicerContext, error: Exception) -> None:
        message = str(error) if isinstance(error, ProviderError) else \
            f"aws stand-in: {error}\n{traceback.format_exc()}"
        print(message, file=sys.stderr, flush=True)
        context.abort(grpc.StatusCode.UNKNOWN, message)

    def GetPluginInfo(self, request: empty_pb2.Empty, context: Any) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetSchema(self, request: Any, context: Any) -> provider_pb2.GetSchemaResponse:
        return provider_pb2.GetSchemaResponse(schema="")

    def Cancel(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    def Attach(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    def CheckConfig(self, request: provider_pb2.CheckRequest, context: Any) -> provider_pb2.CheckResponse:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: provider_pb2.DiffRequest, context: Any) -> provider_pb2.DiffResponse:
        olds, news = _normalize(to_dict(request.olds)), _normalize(to_dict(request.news))
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k))
        # Nothing in this stand-in's configuration forces a new provider (pulumi-aws: none does).
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed)

    def Configure(self, request: provider_pb2.ConfigureRequest, context: Any) -> provider_pb2.ConfigureResponse:
        args = to_dict(request.args)
        variables = dict(request.variables)
        region = args.get("region") or variables.get("aws:config:region") or os.environ.get("AWS_REGION")
        endpoints = args.get("endpoints") or variables.get("aws:config:endpoints") or []
        if isinstance(endpoints, str):
            endpoints = json.loads(endpoints)
        urls = {v for entry in endpoints for k, v in entry.items() if k in ("ec2", "iam", "ssm", "sts") and v}
        if not region:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "aws:region is required")
        if len(urls) != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "aws stand-in: set aws:endpoints with ec2, iam, ssm and sts all pointing at the "
                          f"moto server (got {sorted(urls) or 'none'})")
        try:
            self.aws = Aws(urls.pop(), region, self.hosts, self.ledger)
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return provider_pb2.ConfigureResponse(acceptSecrets=False, supportsPreview=False,
                                              acceptResources=False, acceptOutputs=False)

    # ---- resources ---------------------------------------------------------------------------

    def Check(self, request: provider_pb2.CheckRequest, context: Any) -> provider_pb2.CheckResponse:
        token = type_of(request.urn)
        news = to_dict(request.news)
        olds = to_dict(request.olds)
        if token not in rules.FORCE_NEW:
            context.abort(grpc.StatusCode.UNIMPLEMENTED,
                          f"aws stand-in: resource type {token} is not implemented (tests/e2e/aws_standin)")
        name_key = rules.AUTO_NAMED.get(token)
        if name_key and not news.get(name_key) and not news.get(name_key + "Prefix"):
            if olds.get(name_key):
                news[name_key] = olds[name_key]  # an update keeps its name
            elif request.HasField("autonaming") and request.autonaming.proposed_name:
                news[name_key] = request.autonaming.proposed_name
            else:
                suffix = hashlib.sha256(request.randomSeed or os.urandom(16)).hexdigest()[:7]
                news[name_key] = f"{_name_of(request.urn)}-{suffix}"
        failures = [provider_pb2.CheckFailure(property=p, reason=r)
                    for p, r in schema.check_inputs(token, news)]
        return provider_pb2.CheckResponse(inputs=to_struct(news), failures=failures)

    def Diff(self, request: provider_pb2.DiffRequest, context: Any) -> provider_pb2.DiffResponse:
        token = type_of(request.urn)
        olds = _normalize(to_dict(request.olds))
        # What was declared last time: a property declared then and not now is a deletion.
        old_inputs = _normalize(to_dict(request.old_inputs)) if request.HasField("old_inputs") else {}
        news = _normalize(to_dict(request.news))
        ignored = set(request.ignoreChanges)
        force_new = rules.FORCE_NEW.get(token, set())
        diffs, replaces, detailed = [], [], {}
        for key in sorted(set(news) | set(old_inputs)):
            if key in ignored or key.startswith("__"):
                continue
            if key in news:
                new = news[key]
                if key not in olds and key not in old_inputs:
                    kind = "ADD"
                elif _contains_unknown(new) or _declared_differs(new, olds.get(key)):
                    kind = "UPDATE"
                else:
                    continue
            else:
                kind = "DELETE"
            replace = key in force_new or any(
                path.startswith(key + ".") and path.split(".", 1)[1] in (news.get(key) or {})
                and _declared_differs((news.get(key) or {}).get(path.split(".", 1)[1]),
                                      (olds.get(key) or {}).get(path.split(".", 1)[1]))
                for path in force_new)
            if token == "aws:ec2/instance:Instance" and key == "userData" and news.get("userDataReplaceOnChange"):
                replace = True
            diffs.append(key)
            if replace:
                replaces.append(key)
            detailed[key] = provider_pb2.PropertyDiff(
                kind=getattr(provider_pb2.PropertyDiff, kind + ("_REPLACE" if replace else "")), inputDiff=True)
        if token in ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",) and diffs:
            replaces = list(diffs)  # no update exists: every change replaces
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if diffs else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=diffs, replaces=replaces, detailedDiff=detailed, hasDetailedDiff=True,
            deleteBeforeReplace=False)

    def Create(self, request: provider_pb2.CreateRequest, context: Any) -> provider_pb2.CreateResponse:
        try:
            create = handlers(self.aws)[type_of(request.urn)][0]
            resource_id, outputs = create(to_dict(request.properties))
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return provider_pb2.CreateResponse(id=resource_id, properties=to_struct(outputs))

    def Read(self, request: provider_pb2.ReadRequest, context: Any) -> provider_pb2.ReadResponse:
        read = handlers(self.aws)[type_of(request.urn)][1]
        inputs = to_dict(request.inputs)
        if read is None:
            return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)
        try:
            outputs = read(request.id, inputs or to_dict(request.properties))
        except (ProviderError, IndexError, KeyError):
            return provider_pb2.ReadResponse(id="")  # gone
        return provider_pb2.ReadResponse(id=request.id, properties=to_struct(outputs), inputs=request.inputs)

    def Update(self, request: provider_pb2.UpdateRequest, context: Any) -> provider_pb2.UpdateResponse:
        try:
            update = handlers(self.aws)[type_of(request.urn)][2]
            if update is None:
                raise ProviderError(f"{type_of(request.urn)} has no in-place update")
            outputs = update(request.id, to_dict(request.olds), to_dict(request.news))
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return provider_pb2.UpdateResponse(properties=to_struct(outputs))

    def Delete(self, request: provider_pb2.DeleteRequest, context: Any) -> empty_pb2.Empty:
        try:
            handlers(self.aws)[type_of(request.urn)][3](request.id, to_dict(request.properties))
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return empty_pb2.Empty()

    def Invoke(self, request: provider_pb2.InvokeRequest, context: Any) -> provider_pb2.InvokeResponse:
        args = to_dict(request.args)
        function = invokes(self.aws).get(request.tok) if self.aws else None
        if function is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED,
                          f"aws stand-in: function {request.tok} is not implemented (tests/e2e/aws_standin)")
        failures = schema.check_invoke(request.tok, args)
        if failures:
            return provider_pb2.InvokeResponse(
                failures=[provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures])
        try:
            result = function(args)
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return provider_pb2.InvokeResponse(**{"return": to_struct(result)})


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="pulumi-aws 7.51.1 stand-in over moto (gRPC provider)")
    parser.add_argument("engine", nargs="?", help="the engine's address (passed by Pulumi)")
    parser.add_argument("--port", type=int, default=0, help="listen here (PULUMI_DEBUG_PROVIDERS=aws:PORT)")
    args, _ = parser.parse_known_args(argv)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(AwsStandIn(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()
