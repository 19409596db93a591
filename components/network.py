"""The hosts' network: a VPC of its own and the firewall in front of every host.

A dedicated VPC means the program works in accounts without a default VPC and leaves nothing
behind on `pulumi destroy`. The security group admits HTTP to the app from its CIDRs and, only with
`hostAccess: ssh`, SSH from its own; under `ssm` (the default) hosts are reached through Session
Manager and port 22 is closed. PostgreSQL, the Docker API and the Agent's trace port are never
exposed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import pulumi
import pulumi_aws as aws

SSH_PORT = 22
# The security group's tag naming how hosts are reached: the policy pack reads it (a rule sees one
# resource at a time) to hold the group to "no port 22 under ssm".
ACCESS_TAG = "hostAccess"


def split_by_family(cidrs: Sequence[str]) -> dict[str, list[str]]:
    """Security-group rule fields for a CIDR list: IPv4 and IPv6 go to different keys."""
    v4 = [c for c in cidrs if ipaddress.ip_network(c).version == 4]
    v6 = [c for c in cidrs if ipaddress.ip_network(c).version == 6]
    return {"cidr_blocks": v4, "ipv6_cidr_blocks": v6}


@dataclass(frozen=True)
class NetworkArgs:
    vpc_cidr: str
    subnet_cidr: str
    availability_zone: pulumi.Input[str]
    host_access: str  # "ssm": no SSH ingress at all; "ssh": port 22 from ssh_allowed_cidrs
    ssh_allowed_cidrs: Sequence[str]
    app_allowed_cidrs: Sequence[str]
    app_port: int
    tags: Callable[[str], dict[str, str]]  # AWS tags for a resource name


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.vpc_cidr, enable_dns_support=True,
                          enable_dns_hostnames=True, tags=args.tags(f"{name}-vpc"), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id,
                                          tags=args.tags(f"{name}-igw"), opts=child)
        subnet = aws.ec2.Subnet(
            f"{name}-public", vpc_id=vpc.id, cidr_block=args.subnet_cidr,
            availability_zone=args.availability_zone, tags=args.tags(f"{name}-public"),
            # The zone is chosen once, where the instance type is offered; a later change in
            # AWS's offerings must not move (replace) the subnet and every host in it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["availabilityZone"]))
        routes = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=args.tags(f"{name}-public"), opts=child)
        aws.ec2.RouteTableAssociation(f"{name}-public", subnet_id=subnet.id,
                                      route_table_id=routes.id, opts=child)

        ingress = [aws.ec2.SecurityGroupIngressArgs(
            description="HTTP to the demo Flask app", protocol="tcp",
            from_port=args.app_port, to_port=args.app_port, **split_by_family(args.app_allowed_cidrs))]
        if args.host_access == "ssh":
            ingress.insert(0, aws.ec2.SecurityGroupIngressArgs(
                description="SSH for operators and pulumi-docker", protocol="tcp",
                from_port=SSH_PORT, to_port=SSH_PORT, **split_by_family(args.ssh_allowed_cidrs)))
        security_group = aws.ec2.SecurityGroup(
            f"{name}-hosts", vpc_id=vpc.id,
            description=("dd-assessment hosts: SSH and the demo app only" if args.host_access == "ssh"
                         else "dd-assessment hosts: the demo app only (SSH via Session Manager)"),
            ingress=ingress,
            egress=[aws.ec2.SecurityGroupEgressArgs(
                description="Outbound: packages, container images, Datadog intake, SSM",
                protocol="-1", from_port=0, to_port=0,
                cidr_blocks=["0.0.0.0/0"], ipv6_cidr_blocks=["::/0"])],
            tags={**args.tags(f"{name}-hosts"), ACCESS_TAG: args.host_access}, opts=child)

        self.vpc_id = vpc.id
        self.subnet_id = subnet.id
        self.security_group_id = security_group.id
        self.register_outputs({"vpc_id": vpc.id, "subnet_id": subnet.id,
                               "security_group_id": security_group.id})


def zone_offering(instance_type: str) -> pulumi.Output[str]:
    """The first availability zone (by name) of the region that offers the instance type.

    Not every zone offers every type (t3 is missing from some us-east-1 zones), and a subnet
    left to AWS's choice could land in one of those.
    """
    offerings = aws.ec2.get_instance_type_offerings_output(
        location_type="availability-zone",
        filters=[aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="instance-type",
                                                            values=[instance_type])])
    def first(zones: Optional[list[str]]) -> str:
        if not zones:
            raise pulumi.RunError(f"instanceType: '{instance_type}' is not offered in this region; "
                                  "choose another type (e.g. t3.micro) or region")
        return sorted(zones)[0]

    return offerings.locations.apply(first)
