"""A host's Docker daemon, reached by pulumi-docker over SSH once the host is ready.

Layering as the system runs: host -> readiness gate -> Docker provider -> network. The gate
(pulumi-command running scripts/wait-for-cloud-init.sh locally) waits for SSH and cloud-init,
and pins the host's SSH key; the provider's host address is derived from the gate's output, so
no Docker call happens before the gate has passed. The private key stays a file on the
operator's machine (`ssh -i`): it is never read into Pulumi state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_docker as docker

KNOWN_HOSTS = "~/.ssh/dd-assessment_known_hosts"
GATE_SCRIPT = "scripts/wait-for-cloud-init.sh"  # relative: Pulumi runs in the project directory


@dataclass(frozen=True)
class RemoteDockerArgs:
    public_ip: pulumi.Input[str]
    instance_id: pulumi.Input[str]  # a new instance re-runs the gate
    ssh_private_key_path: str
    network_name: str
    network_cidr: str
    network_gateway: str


class RemoteDocker(pulumi.ComponentResource):
    provider: docker.Provider
    network_name: pulumi.Output[str]

    def __init__(self, name: str, args: RemoteDockerArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:docker:RemoteDocker", name, None, opts)

        gate = command.local.Command(
            f"{name}-ready",
            create=f"bash {GATE_SCRIPT}",
            environment={"HOST": args.public_ip, "SSH_KEY": args.ssh_private_key_path,
                         "KNOWN_HOSTS": KNOWN_HOSTS},
            triggers=[args.instance_id],
            opts=pulumi.ResourceOptions(parent=self))

        self.provider = docker.Provider(
            f"{name}-docker",
            host=pulumi.Output.all(gate.stdout, args.public_ip).apply(
                lambda values: f"ssh://ec2-user@{values[1]}"),
            ssh_opts=["-i", args.ssh_private_key_path, "-o", "IdentitiesOnly=yes",
                      "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                      "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "ConnectTimeout=20"],
            opts=pulumi.ResourceOptions(parent=self))

        network = docker.Network(
            f"{name}-network", name=args.network_name, driver="bridge",
            # A fixed subnet: PostgreSQL's pg_hba.conf admits the Agent from exactly this range.
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.network_cidr,
                                                       gateway=args.network_gateway)],
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider))

        self.network_name = network.name
        self.register_outputs({"network_name": network.name})
