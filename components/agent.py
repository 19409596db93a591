"""The Datadog Agent 7 container on one host.

Runs as Datadog documents for Docker (host PID and cgroup namespaces, the Docker socket, /proc
and the cgroup tree mounted read-only), with APM and DogStatsD open to the other containers of
the shared network. Its configuration is the real files under `agent/`, rendered by
`components/agent_files.py` and uploaded before the container starts: editing one shows up in
`pulumi preview` as a replacement of this container.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from components import agent_files
from components.design import CONTAINER_LOG_DRIVER, CONTAINER_LOG_OPTIONS, docker_duration
from components.remote_docker import RemoteDocker

IMAGE_REPOSITORY = "gcr.io/datadoghq/agent"
READ_ONLY_HOST_MOUNTS = (
    ("/var/run/docker.sock", "/var/run/docker.sock"),
    ("/proc/", "/host/proc/"),
    ("/sys/fs/cgroup/", "/host/sys/fs/cgroup/"),
)


def agent_image(version: str) -> str:
    return f"{IMAGE_REPOSITORY}:{version}"


@dataclass(frozen=True)
class DatadogAgentArgs:
    docker_host: RemoteDocker  # where it runs: provider, shared network, replaced with the host
    container_name: str
    version: str
    api_key: pulumi.Output[str]  # secret
    site: str
    host_name: str
    host_tags: Sequence[str]
    env: str
    check_interval_seconds: int
    database_password: pulumi.Output[str]  # secret


class DatadogAgent(pulumi.ComponentResource):
    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: DatadogAgentArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:datadog:Agent", name, None, opts)
        on_host = args.docker_host

        image = docker.RemoteImage(f"{name}-image", name=agent_image(args.version),
                                   keep_locally=True, opts=on_host.resource_options(parent=self))

        postgres_conf = pulumi.Output.secret(args.database_password).apply(
            lambda password: agent_files.render_postgres_conf(
                password=password, reported_hostname=args.host_name, env=args.env,
                tags=list(args.host_tags)))
        container = docker.Container(
            f"{name}-container",
            name=args.container_name,
            image=image.image_id,
            envs=[
                pulumi.Output.concat("DD_API_KEY=", args.api_key),
                f"DD_SITE={args.site}",
                f"DD_HOSTNAME={args.host_name}",
                f"DD_TAGS={' '.join(args.host_tags)}",
                f"DD_ENV={args.env}",
                "DD_APM_ENABLED=true",
                "DD_APM_NON_LOCAL_TRAFFIC=true",  # traces from the app's container
                "DD_DOGSTATSD_NON_LOCAL_TRAFFIC=true",
                "DD_APM_IGNORE_RESOURCES=GET /healthz",  # the app's health check is not traffic
            ],
            volumes=[docker.ContainerVolumeArgs(host_path=host, container_path=inside, read_only=True)
                     for host, inside in READ_ONLY_HOST_MOUNTS],
            pid_mode="host",
            cgroupns_mode="host",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(
                name=on_host.network_name, aliases=[args.container_name])],
            uploads=[
                docker.ContainerUploadArgs(file=agent_files.CHECK_SOURCE_DEST,
                                           content=agent_files.read_check_source()),
                docker.ContainerUploadArgs(
                    file=agent_files.MY_METRIC_CONF_DEST,
                    content=agent_files.render_my_metric_conf(args.check_interval_seconds)),
                docker.ContainerUploadArgs(file=agent_files.POSTGRES_CONF_DEST, content=postgres_conf),
            ],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "agent", "health"], interval=docker_duration(30),
                timeout=docker_duration(10), retries=3, start_period=docker_duration(60)),
            restart="unless-stopped",
            # Its stdout is modest (each check's first runs, then every 500th) but never ends.
            log_driver=CONTAINER_LOG_DRIVER,
            log_opts=CONTAINER_LOG_OPTIONS,
            # The fixed container name would clash with its own replacement.
            opts=on_host.resource_options(parent=self, delete_before_replace=True))

        self.container_name = container.name
        self.register_outputs({"container_name": container.name})
