"""A host's Docker daemon, reached by pulumi-docker over SSH once the host is ready.

Layering as the system runs: host -> readiness gate -> Docker provider -> network. The gate
(pulumi-command running scripts/wait-for-cloud-init.sh locally) learns the host's SSH key over a
channel AWS authenticates and waits for cloud-init; its output, that key, is kept in the state and
pinned in the provider's SSH options, so no Docker call happens before the gate has passed and no
client ever trusts a key on first use (components/host_access.py). The private key stays a file on
the operator's machine (`ssh -i`): it is never read into Pulumi state.

Every Docker resource of a host lives and dies with that host's instance: `resource_options`
gives each one `replacement_trigger=<instance id>`. A changed `host` only updates the Docker
provider in place (pulumi-docker `provider/resources.go` marks none of its config
ForcesProviderReplace), so without the trigger a replaced instance (new `sshPublicKey`,
user-data, pinned `amiId`) would come up empty while `pulumi up` reports the network, images
and containers unchanged. The engine replaces a resource whose trigger changed, and treats an
unknown trigger (a preview of a new instance) as changed (pulumi/pulumi
pkg/resource/deploy/step_generator.go, shouldTriggerReplace); an id that changed through
`pulumi refresh` after the instance vanished counts too, which `replace_with` would miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import host_access

GATE_SCRIPT = "scripts/wait-for-cloud-init.sh"  # relative: Pulumi runs in the project directory


@dataclass(frozen=True)
class RemoteDockerArgs:
    host_access: str  # "ssm" or "ssh"
    instance_id: pulumi.Output[str]  # a new instance re-runs the gate
    public_ip: pulumi.Output[str]
    region: str
    ssh_private_key_path: str
    network_name: str
    network_cidr: str
    network_gateway: str


class RemoteDocker(pulumi.ComponentResource):
    provider: docker.Provider
    host_id: pulumi.Output[str]  # the instance: a new one replaces every Docker resource here
    network_name: pulumi.Output[str]
    host_key: pulumi.Output[str]  # the pinned SSH host key, `ssh-ed25519 <base64>`
    ssh_command: pulumi.Output[str]  # how a person reaches the host, key pinned

    def __init__(self, name: str, args: RemoteDockerArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:docker:RemoteDocker", name, None, opts)
        access, key_path, region = args.host_access, args.ssh_private_key_path, args.region
        self.host_id = args.instance_id
        where = pulumi.Output.all(args.instance_id, args.public_ip)

        gate = command.local.Command(
            f"{name}-ready",
            create=f"bash {GATE_SCRIPT}",
            environment={
                "HOST_ACCESS": access,
                "INSTANCE_ID": args.instance_id,
                "AWS_REGION": region,
                "DESTINATION": where.apply(lambda v: host_access.destination(access, v[0], v[1])),
                "SSH_OPTIONS": args.instance_id.apply(lambda instance_id: "\n".join(
                    host_access.transport_options(access, key_path, instance_id, region))),
            },
            triggers=[args.instance_id],
            opts=pulumi.ResourceOptions(parent=self))
        self.host_key = gate.stdout.apply(host_access.parse_host_key)

        known = pulumi.Output.all(args.instance_id, args.public_ip, self.host_key)
        self.ssh_command = known.apply(lambda v: host_access.ssh_command(
            access, key_path, v[0], v[1], region, v[2]))
        self.provider = docker.Provider(
            f"{name}-docker",
            host=known.apply(lambda v: f"ssh://{host_access.destination(access, v[0], v[1])}"),
            ssh_opts=known.apply(lambda v: host_access.docker_ssh_options(
                access, key_path, v[0], region, v[2])),
            # Replaced with the instance too: the old host's resources are then deleted through
            # the provider that reaches the old host. An updated provider would send those deletes
            # to the new host, where they remove what was just created there (make e2e saw the
            # old app image's delete refused by the new host: its new container uses that tag).
            opts=pulumi.ResourceOptions(parent=self, replacement_trigger=args.instance_id))

        network = docker.Network(
            f"{name}-network", name=args.network_name, driver="bridge",
            # A fixed subnet: PostgreSQL's pg_hba.conf admits the Agent from exactly this range.
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.network_cidr,
                                                       gateway=args.network_gateway)],
            opts=self.resource_options(parent=self))

        self.network_name = network.name
        self.register_outputs({"network_name": network.name, "host_key": self.host_key,
                               "ssh_command": self.ssh_command})

    def resource_options(self, parent: pulumi.Resource, **options) -> pulumi.ResourceOptions:
        """Options for a Docker resource on this host: its provider, and replaced with the host."""
        return pulumi.ResourceOptions(parent=parent, provider=self.provider,
                                      replacement_trigger=self.host_id, **options)
