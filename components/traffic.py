"""Demo traffic on one host: a small container that keeps requesting the app.

Without it APM stays empty until someone clicks the app. It runs `app/traffic.py` from the
app's own image (nothing else to pull or build) with a command override, so it is not traced
itself; its requests are real requests to the app container over the shared Docker network,
so the app's traces and trace metrics flow minutes after `pulumi up`. The script logs only a
periodic summary, and its health check passes only while its requests succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker

from components.design import CONTAINER_LOG_DRIVER, CONTAINER_LOG_OPTIONS, docker_duration
from components.remote_docker import RemoteDocker

SCRIPT = "/app/traffic.py"  # where app/Dockerfile copies it


@dataclass(frozen=True)
class DemoTrafficArgs:
    docker_host: RemoteDocker  # where it runs: provider, shared network, replaced with the host
    image: pulumi.Input[str]  # the app's image
    app_url: pulumi.Input[str]  # the app as the network reaches it (by its container's name)
    container_name: str
    requests_per_minute: int  # > 0; a stack with demoTraffic 0 declares no DemoTraffic
    # Started after the app's container, by depends_on only: see components/app.py, internal_url.
    app_container: pulumi.Resource


class DemoTraffic(pulumi.ComponentResource):
    def __init__(self, name: str, args: DemoTrafficArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:app:DemoTraffic", name, None, opts)
        container = docker.Container(
            f"{name}-container",
            name=args.container_name,
            image=args.image,
            command=["python", SCRIPT],
            envs=[pulumi.Output.concat("TRAFFIC_TARGET=", args.app_url),
                  f"TRAFFIC_REQUESTS_PER_MINUTE={args.requests_per_minute}"],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.docker_host.network_name)],
            restart="unless-stopped",
            # Replaces the image's check (the app's /healthz, which this container does not serve).
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "python", SCRIPT, "--check"], interval=docker_duration(30),
                timeout=docker_duration(5), retries=3, start_period=docker_duration(30)),
            log_driver=CONTAINER_LOG_DRIVER,
            log_opts=CONTAINER_LOG_OPTIONS,
            # The fixed name would clash with its own replacement.
            opts=args.docker_host.resource_options(parent=self, delete_before_replace=True,
                                                   depends_on=[args.app_container]))
        self.register_outputs({"container_name": container.name})
