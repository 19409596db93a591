"""One EC2 host: Amazon Linux 2023 with Docker and a PostgreSQL ready for the Datadog Agent.

The host boots from the real files in `user_data/`, pulling the container images it will run
(named by its tags) while PostgreSQL installs. The Agent's database password is made here
(pulumi-random), kept as an SSM SecureString and read at boot by the instance role, which may
read that one parameter and nothing else: no secret is ever part of user-data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Optional

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.user_data import AGENT_IMAGE_TAG, APP_BASE_IMAGE_TAG, render_user_data

ROOT_VOLUME_GB = 20  # room for the Agent and app images beside the OS
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def architecture_of(instance_type: str) -> str:
    """Graviton families carry a 'g' after the generation digit (t4g, m7gd, c7gn)."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if re.fullmatch(r"[a-z]+\d+[a-z]*g[a-z]*", family) else "x86_64"


def docker_platform_of(instance_type: str) -> str:
    """The Docker build platform matching the instance's CPU."""
    return "linux/arm64" if architecture_of(instance_type) == "arm64" else "linux/amd64"


def latest_amazon_linux_2023(instance_type: str) -> pulumi.Output[str]:
    """The newest AL2023 AMI for the instance type's architecture (used when amiId is unset)."""
    architecture = architecture_of(instance_type)
    return aws.ec2.get_ami_output(
        most_recent=True, owners=["amazon"],
        filters=[aws.ec2.GetAmiFilterArgs(name="name",
                                          values=[f"al2023-ami-2023.*-kernel-*-{architecture}"]),
                 aws.ec2.GetAmiFilterArgs(name="architecture", values=[architecture])],
    ).id


@dataclass(frozen=True)
class HostArgs:
    host_name: str  # deterministic; becomes the OS host name and the Datadog host name
    instance_type: str
    ami_id: pulumi.Input[str]
    # True when the AMI was looked up: a newly published image must not replace a running host.
    ignore_ami_changes: bool
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    ssh_public_key: str
    region: str
    parameter_prefix: str  # this stack's SSM path
    agent_network_cidr: str
    agent_image: str  # pulled at first boot, before Pulumi asks for it
    app_base_image: str  # likewise: the app's Dockerfile starts FROM it
    tags: Callable[[str], dict[str, str]]  # AWS tags for a resource name


class Host(pulumi.ComponentResource):
    host_name: str
    public_ip: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    # When EC2 last launched the instance (RFC 3339, whole seconds): the `aws_instance` resource
    # has no such attribute, its data source does (DescribeInstances' LaunchTime).
    launch_time: pulumi.Output[str]
    database_password: pulumi.Output[str]  # secret: the `datadog` PostgreSQL role's password

    def __init__(self, name: str, args: HostArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dd-assessment:host:Host", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        key_pair = aws.ec2.KeyPair(f"{name}-ssh", public_key=args.ssh_public_key,
                                   tags=args.tags(f"{name}-ssh"), opts=child)

        password = random.RandomPassword(f"{name}-postgres-datadog", length=32, special=False,
                                         opts=child)
        parameter = aws.ssm.Parameter(
            f"{name}-postgres-datadog", type="SecureString", value=password.result,
            name=f"{args.parameter_prefix}/{args.host_name}/postgres-datadog-password",
            description=f"Password of the datadog PostgreSQL role on {args.host_name}",
            tags=args.tags(f"{name}-postgres-datadog"), opts=child)

        role = aws.iam.Role(
            f"{name}-instance",
            description=f"Instance role of {args.host_name}",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "ec2.amazonaws.com"}}]}),
            tags=args.tags(f"{name}-instance"), opts=child)
        # Session Manager access: a way in that needs no open port.
        aws.iam.RolePolicyAttachment(f"{name}-ssm-core", role=role.name,
                                     policy_arn=SSM_CORE_POLICY, opts=child)
        read_password = aws.iam.RolePolicy(
            f"{name}-read-own-parameters", role=role.id,
            policy=parameter.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arn}]})),
            opts=child)
        profile = aws.iam.InstanceProfile(f"{name}-instance", role=role.name,
                                          tags=args.tags(f"{name}-instance"), opts=child)

        user_data = render_user_data(
            host_name=args.host_name, region=args.region,
            password_parameter=f"{args.parameter_prefix}/{args.host_name}/postgres-datadog-password",
            agent_network_cidr=args.agent_network_cidr)
        instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=args.ami_id,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[args.security_group_id],
            associate_public_ip_address=True,
            key_name=key_pair.key_name,
            iam_instance_profile=profile.name,
            user_data=user_data,
            # cloud-init runs user-data once; a changed one only takes effect on a new host.
            user_data_replace_on_change=True,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required",
                # 2 hops: the Agent in a bridged container must reach IMDS to detect EC2.
                http_put_response_hop_limit=2,
                # The boot reads which images to pull from the instance's own tags.
                instance_metadata_tags="enabled"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3", volume_size=ROOT_VOLUME_GB, encrypted=True,
                delete_on_termination=True),
            volume_tags=args.tags(f"{name}-root"),
            # Changing a tag updates the instance in place; a changed user-data would replace it.
            tags={**args.tags(args.host_name), AGENT_IMAGE_TAG: args.agent_image,
                  APP_BASE_IMAGE_TAG: args.app_base_image},
            opts=pulumi.ResourceOptions(
                parent=self,
                # The boot script reads the password: the parameter and the right to read it
                # must exist before the host starts.
                depends_on=[parameter, read_password],
                ignore_changes=["ami"] if args.ignore_ami_changes else None))

        self.host_name = args.host_name
        self.public_ip = instance.public_ip
        self.instance_id = instance.id
        self.launch_time = aws.ec2.get_instance_output(
            instance_id=instance.id, opts=pulumi.InvokeOutputOptions(parent=self)).launch_time
        self.database_password = password.result
        self.register_outputs({"host_name": args.host_name, "public_ip": instance.public_ip,
                               "instance_id": instance.id, "launch_time": self.launch_time})
