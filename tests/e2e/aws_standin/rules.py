"""Which input changes replace a resource, and which physical names pulumi-aws makes up.

Replacement: the bridge replaces a resource when a changed attribute is `ForceNew` in the
Terraform schema of hashicorp/terraform-provider-aws (read there, per resource file):
- internal/service/ec2/ec2_instance.go: ami, associate_public_ip_address, availability_zone,
  key_name, subnet_id, private_ip, placement_group, tenancy, root_block_device.encrypted and
  .kms_key_id are ForceNew; instance_type, iam_instance_profile, metadata_options,
  vpc_security_group_ids, tags and the root volume's size/type/delete_on_termination update in
  place; user_data replaces only when user_data_replace_on_change is true (its CustomizeDiff).
- ec2_key_pair.go: key_name, key_name_prefix, public_key.
- vpc_.go: cidr_block, instance_tenancy (others update).  vpc_subnet.go: vpc_id, cidr_block,
  availability_zone.  vpc_route_table.go: vpc_id.  vpc_route_table_association.go: subnet_id,
  gateway_id (route_table_id updates via ReplaceRouteTableAssociation).
  vpc_internet_gateway.go: none (vpc_id re-attaches).  vpc_security_group.go: name,
  name_prefix, description, vpc_id.
- internal/service/ssm/parameter.go: name.
- internal/service/iam/role.go: name, name_prefix, path.  role_policy.go: name, name_prefix,
  role.  role_policy_attachment.go: role, policy_arn.  instance_profile.go: name, name_prefix,
  path.

Auto-naming: pulumi-aws names a resource whose name input is unset `<logical name>-<7 hex
characters>` (the bridge's default auto-naming, pulumi-terraform-bridge `AutoName`), keeps that
name on later updates, and makes a new one when the resource is replaced.
"""

FORCE_NEW = {
    "aws:ec2/instance:Instance": {
        "ami", "associatePublicIpAddress", "availabilityZone", "keyName", "subnetId", "privateIp",
        "placementGroup", "tenancy", "rootBlockDevice.encrypted", "rootBlockDevice.kmsKeyId",
    },
    "aws:ec2/keyPair:KeyPair": {"keyName", "keyNamePrefix", "publicKey"},
    "aws:ec2/vpc:Vpc": {"cidrBlock", "instanceTenancy"},
    "aws:ec2/subnet:Subnet": {"vpcId", "cidrBlock", "availabilityZone"},
    "aws:ec2/routeTable:RouteTable": {"vpcId"},
    "aws:ec2/routeTableAssociation:RouteTableAssociation": {"subnetId", "gatewayId"},
    "aws:ec2/internetGateway:InternetGateway": set(),
    "aws:ec2/securityGroup:SecurityGroup": {"name", "namePrefix", "description", "vpcId"},
    "aws:ssm/parameter:Parameter": {"name"},
    "aws:iam/role:Role": {"name", "namePrefix", "path"},
    "aws:iam/rolePolicy:RolePolicy": {"name", "namePrefix", "role"},
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {"role", "policyArn"},
    "aws:iam/instanceProfile:InstanceProfile": {"name", "namePrefix", "path"},
}

# The input pulumi-aws fills with an auto-name when it is unset.
AUTO_NAMED = {
    "aws:ec2/keyPair:KeyPair": "keyName",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
}

# Inputs compared as sets (Terraform TypeSet): order carries no meaning.
SET_INPUTS = {
    "vpcSecurityGroupIds", "cidrBlocks", "ipv6CidrBlocks", "ingress", "egress", "routes",
    "securityGroups",
}
