"""dd-assessment: a working Datadog demo environment on AWS, in one `pulumi up`."""

import pulumi

from components.host import Host, HostArgs, latest_amazon_linux_2023
from components.network import Network, NetworkArgs, zone_offering
from components.design import AGENT_NETWORK_CIDR, APP_PORT, SUBNET_CIDR, VPC_CIDR
from components.settings import load_settings

# 1. Settings: every key checked before anything is declared.
settings = load_settings()

# 2. The hosts: a network of their own, then one host per `hostCount`.
network = Network(settings.name_prefix, NetworkArgs(
    vpc_cidr=VPC_CIDR, subnet_cidr=SUBNET_CIDR,
    availability_zone=zone_offering(settings.instance_type),
    ssh_allowed_cidrs=settings.ssh_allowed_cidrs, app_allowed_cidrs=settings.app_allowed_cidrs,
    app_port=APP_PORT, tags=settings.tags))

ami_id = settings.ami_id or latest_amazon_linux_2023(settings.instance_type)
hosts = [
    Host(host_name, HostArgs(
        host_name=host_name, instance_type=settings.instance_type, ami_id=ami_id,
        ignore_ami_changes=settings.ami_id is None,
        subnet_id=network.subnet_id, security_group_id=network.security_group_id,
        ssh_public_key=settings.ssh_public_key, region=settings.region,
        parameter_prefix=settings.parameter_prefix, agent_network_cidr=AGENT_NETWORK_CIDR,
        tags=settings.tags))
    for host_name in settings.host_names
]

# 3. What a user needs next: where the hosts are and how to reach them.
pulumi.export("hostNames", [host.host_name for host in hosts])
pulumi.export("publicIps", [host.public_ip for host in hosts])
pulumi.export("sshCommands", [
    host.public_ip.apply(lambda ip: f"ssh -i {settings.ssh_private_key_path} ec2-user@{ip}")
    for host in hosts])
pulumi.export("appUrls", [host.public_ip.apply(lambda ip: f"http://{ip}/") for host in hosts])
