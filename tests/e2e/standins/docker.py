"""pulumi-docker 5.2.0 for `make e2e`: the toolchain's real bridged plugin answers every call
except those for `docker:index/image:Image`, which that bridging lacks (see __init__.py).

The Image is built as pulumi-docker builds it for `skip_push=True`: the build context is read on
this machine (the project directory) and sent to the provider's daemon, which builds and tags it
(`docker build -t <imageName> --platform <platform> -`, the context as a tar on stdin, through
`ssh <sshOpts> <host> docker ...`, the same transport pulumi-docker's connection helper uses).
A change of the context's files (their hash, as pulumi-docker hashes them) rebuilds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.e2e.standins.common import UNKNOWN, serve, to_dict, to_struct, type_of

IMAGE = "docker:index/image:Image"
METHODS = [name for name in dir(provider_pb2_grpc.ResourceProviderServicer) if name[0].isupper()]


def context_hash(context: Path, dockerfile: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0")
        digest.update(oct(path.stat().st_mode).encode() + path.read_bytes())
    digest.update(dockerfile.encode())
    return digest.hexdigest()


class DockerProxy(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, engine: str) -> None:
        real = os.environ["DD_E2E_REAL_DOCKER"]
        self.plugin = subprocess.Popen([real, engine], stdout=subprocess.PIPE, text=True)
        port = self.plugin.stdout.readline().strip()
        self.stub = provider_pb2_grpc.ResourceProviderStub(grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)]))
        self.config: dict = {}

    # -- the Image -------------------------------------------------------------------------

    def _ssh(self) -> list[str]:
        host = self.config.get("host", "")
        options = self.config.get("sshOpts") or []
        if isinstance(options, str):
            options = json.loads(options)
        if not host.startswith("ssh://"):
            raise RuntimeError(f"docker stand-in: the Image needs an ssh:// host, not {host!r}")
        return ["ssh", *options, "-T", "--", host.removeprefix("ssh://")]

    def _build(self, inputs: dict) -> dict:
        build = inputs.get("build") or {}
        context = Path(build.get("context", "."))
        dockerfile = build.get("dockerfile") or "Dockerfile"
        archive = io.BytesIO()
        # GNU headers: the CLI sniffs the first 512 bytes for a tar header, and a leading PAX
        # header makes it take the stream for a plain Dockerfile.
        with tarfile.open(fileobj=archive, mode="w", format=tarfile.GNU_FORMAT) as tar:
            tar.add(context, arcname=".")
        command = ["docker", "build", "--quiet", "-t", inputs["imageName"], "-f", dockerfile]
        if build.get("platform"):
            command += ["--platform", build["platform"]]
        for key, value in (build.get("args") or {}).items():
            command += ["--build-arg", f"{key}={value}"]
        result = subprocess.run([*self._ssh(), " ".join(command + ["-"])], input=archive.getvalue(),
                                capture_output=True, timeout=1500)
        if result.returncode != 0:
            raise RuntimeError(f"docker build of {inputs['imageName']} failed: {result.stderr.decode()[-3000:]}")
        return {**inputs, "repoDigest": "", "baseImageName": inputs["imageName"],
                "imageId": result.stdout.decode().strip(), "dockerfile": str(context / dockerfile),
                "context": str(context), "platform": build.get("platform", "")}

    def _image_call(self, method: str, request, context):
        try:
            if method == "Check":
                news = to_dict(request.news)
                build = news.get("build") or {}
                if build.get("context") and build.get("context") != UNKNOWN:
                    news["buildContextHash"] = context_hash(Path(build["context"]), build.get("dockerfile") or "Dockerfile")
                return provider_pb2.CheckResponse(inputs=to_struct(news))
            if method == "Diff":
                olds = to_dict(request.old_inputs) if request.HasField("old_inputs") else to_dict(request.olds)
                news = to_dict(request.news)
                diffs = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k))
                return provider_pb2.DiffResponse(
                    changes=provider_pb2.DiffResponse.DIFF_SOME if diffs else provider_pb2.DiffResponse.DIFF_NONE,
                    diffs=diffs, replaces=[k for k in diffs if k in ("imageName", "build", "buildContextHash")])
            if method == "Create":
                outputs = self._build(to_dict(request.properties))
                return provider_pb2.CreateResponse(id=outputs["imageName"], properties=to_struct(outputs))
            if method == "Update":
                return provider_pb2.UpdateResponse(properties=to_struct(self._build(to_dict(request.news))))
            if method == "Read":
                return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)
            if method == "Delete":  # pulumi-docker leaves a built image where it is
                return empty_pb2.Empty()
        except Exception as error:  # noqa: BLE001
            print(f"docker stand-in: {error}", file=sys.stderr, flush=True)
            context.abort(grpc.StatusCode.UNKNOWN, str(error))
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"docker stand-in: {method} for {IMAGE}")


def _forwarder(method: str):
    def call(self, request, context):
        if method == "Configure":
            self.config = {**{k.split(":config:")[-1]: v for k, v in request.variables.items()},
                           **to_dict(request.args)}
        urn = getattr(request, "urn", "")
        if urn and type_of(urn) == IMAGE and method in ("Check", "Diff", "Create", "Update", "Read", "Delete"):
            return self._image_call(method, request, context)
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as error:
            context.abort(error.code(), error.details())
    return call


for _method in METHODS:
    setattr(DockerProxy, _method, _forwarder(_method))


if __name__ == "__main__":
    engine = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    proxy = DockerProxy(engine)
    try:
        serve(proxy, sys.argv[1:])
    finally:
        proxy.plugin.terminate()
