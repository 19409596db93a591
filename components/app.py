"""The demo Flask app, built from `app/` on the host's own Docker daemon and run beside the Agent.

Built through the Docker provider (the build context is read here and sent over SSH): no
registry to create, authenticate or pay for, and nothing to push. The image tag is a hash of
`app/`, so an unchanged app never replaces anything, and it doubles as DD_VERSION.

Built as a `docker.RemoteImage` with `build` (Terraform's `docker_image`,
kreuzwerker/terraform-provider-docker internal/provider/resource_docker_image_funcs.go), not
pulumi-docker's native `docker.Image`: its Read looks the image up on the host, so after a
`pulumi refresh` a missing image is built again (`docker.Image` does no reconciliation on Read,
pulumi-docker provider/provider.go), and it is the part of pulumi-docker the real plugin here is
built from (the native provider module is in no Go module the proxy serves).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_docker as docker

from components.design import CONTAINER_LOG_DRIVER, CONTAINER_LOG_OPTIONS
from components.remote_docker import RemoteDocker

APP_DIR = Path(__file__).resolve().parent.parent / "app"
CONTAINER_PORT = 8080  # the image runs as a non-root user, which cannot bind 80


def base_image(directory: Path = APP_DIR) -> str:
    """The image the app's Dockerfile builds FROM (the host pulls it ahead of the build)."""
    for line in (directory / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            return next(word for word in words[1:] if not word.startswith("--"))
    raise ValueError(f"{directory / 'Dockerfile'} has no FROM line")


def content_version(directory: Path = APP_DIR) -> str:
    """A short hash of every file in the app's directory: its version and image tag."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class FlaskAppArgs:
    docker_host: RemoteDocker  # where it runs: provider, shared network, replaced with the host
    agent_host: str  # the Agent container's name on the shared network
    service: str
    env: str
    platform: str  # linux/amd64 or linux/arm64, the host's
    published_port: int


class FlaskApp(pulumi.ComponentResource):
    version: str
    image_id: pulumi.Output[str]  # what containers run (the provider documents `image_id` for it)
    container: docker.Container
    internal_url: str  # the app as other containers of the network reach it

    def __init__(self, name: str, args: FlaskAppArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:app:FlaskApp", name, None, opts)
        version = content_version()

        image = docker.RemoteImage(
            f"{name}-image",
            name=f"dd-assessment-app:{version}",
            # The legacy builder talks to the provider's daemon (ssh://). The buildx path resolves
            # its builder from the local Docker context instead and fails against a remote host
            # ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock", seen in
            # make e2e): kreuzwerker/terraform-provider-docker internal/provider/
            # resource_docker_image_funcs.go `buildImage` -> docker_cli.go `createAndInitDockerCli`.
            build=docker.RemoteImageBuildArgs(context="app", platform=args.platform,
                                              use_legacy_builder=True),
            # Replaced with the host, so a new instance builds it too.
            opts=args.docker_host.resource_options(parent=self))

        tags = {"env": args.env, "service": args.service, "version": version}
        container = docker.Container(
            f"{name}-container",
            name=args.service,
            image=image.image_id,
            envs=[f"DD_{key.upper()}={value}" for key, value in tags.items()]
            + [f"DD_AGENT_HOST={args.agent_host}"],
            labels=[docker.ContainerLabelArgs(label=f"com.datadoghq.tags.{key}", value=value)
                    for key, value in tags.items()],
            ports=[docker.ContainerPortArgs(internal=CONTAINER_PORT, external=args.published_port)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.docker_host.network_name)],
            restart="unless-stopped",
            # gunicorn's access log writes a line per request (demo traffic included): rotate it.
            log_driver=CONTAINER_LOG_DRIVER,
            log_opts=CONTAINER_LOG_OPTIONS,
            # The published port and fixed name would clash with the replacement.
            opts=args.docker_host.resource_options(parent=self, delete_before_replace=True))

        self.version = version
        self.image_id = image.image_id
        self.container = container
        # A plain string, not derived from the container: when a host is replaced, the engine
        # diffs every resource whose inputs depend on a delete-before-replace container with that
        # resource's provider, and the new host's Docker provider is not configured during the
        # preview, which fails the whole `up` (pulumi/pulumi pkg/resource/deploy/step_generator.go
        # calculateDependentReplacements: a DiffUnavailable error is not tolerated there; seen in
        # make e2e). Users of the URL start after the app with depends_on=[the container].
        self.internal_url = f"http://{args.service}:{CONTAINER_PORT}"
        self.register_outputs({"version": version, "image_name": image.name,
                               "internal_url": self.internal_url})
