"""Create, read, update and delete of each AWS resource the program declares, done in moto.

Every handler takes the resource's checked inputs (Pulumi names) and returns its outputs: the
inputs as declared plus what AWS (moto) answers, read back after the call: the ids, ARNs and the
attributes the program uses (`keyName`, `arn`, `name`, `publicIp`, ...).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

import boto3

from tests.e2e.aws_standin.hosts import HostFactory


class ProviderError(Exception):
    """An AWS refusal, reported to the engine as the resource's error."""


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def _tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


class HostLedger:
    """Which test host stands behind which instance, kept beside the e2e state so that a later
    `pulumi` command (a new provider process) still reports the same address."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"next_index": 0, "instances": {}}

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)

    def next_index(self) -> int:
        with self.lock:
            data = self._load()
            index = data["next_index"]
            data["next_index"] = index + 1
            self._save(data)
            return index

    def record(self, instance_id: str, host: dict[str, Any]) -> None:
        with self.lock:
            data = self._load()
            data["instances"][instance_id] = host
            self._save(data)

    def get(self, instance_id: str) -> dict[str, Any] | None:
        return self._load()["instances"].get(instance_id)

    def forget(self, instance_id: str) -> None:
        with self.lock:
            data = self._load()
            data["instances"].pop(instance_id, None)
            self._save(data)


class Aws:
    """boto3 clients for moto, and the resource handlers."""

    def __init__(self, endpoint: str, region: str, hosts: HostFactory, ledger: HostLedger) -> None:
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=region)
        self.region = region
        self.ec2 = session.client("ec2", endpoint_url=endpoint)
        self.iam = session.client("iam", endpoint_url=endpoint)
        self.ssm = session.client("ssm", endpoint_url=endpoint)
        self.sts = session.client("sts", endpoint_url=endpoint)
        self.hosts = hosts
        self.ledger = ledger
        self.account = self.sts.get_caller_identity()["Account"]

    def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**{k: v for k, v in kwargs.items() if v is not None})
        except self.ec2.exceptions.ClientError as error:
            raise ProviderError(f"{fn.__name__}: {error}") from None

    def _ec2_tags(self, resource_id: str, old: dict[str, str] | None, new: dict[str, str] | None) -> None:
        old, new = old or {}, new or {}
        gone = [{"Key": k} for k in old if k not in new]
        if gone:
            self._call(self.ec2.delete_tags, Resources=[resource_id], Tags=gone)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            self._call(self.ec2.create_tags, Resources=[resource_id], Tags=_tag_list(changed))

    # ---- ec2: network ----------------------------------------------------------------------

    def vpc_create(self, p: dict) -> tuple[str, dict]:
        vpc = self._call(self.ec2.create_vpc, CidrBlock=p["cidrBlock"],
                         TagSpecifications=[{"ResourceType": "vpc", "Tags": _tag_list(p.get("tags"))}]
                         if p.get("tags") else None)["Vpc"]
        vpc_id = vpc["VpcId"]
        self._vpc_attributes(vpc_id, p)
        return vpc_id, self.vpc_read(vpc_id, p)

    def _vpc_attributes(self, vpc_id: str, p: dict) -> None:
        for key, attr in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            if key in p:
                self._call(self.ec2.modify_vpc_attribute, VpcId=vpc_id, **{attr: {"Value": p[key]}})

    def vpc_read(self, vpc_id: str, p: dict) -> dict:
        vpc = self._call(self.ec2.describe_vpcs, VpcIds=[vpc_id])["Vpcs"][0]
        attr = lambda name: self._call(self.ec2.describe_vpc_attribute, VpcId=vpc_id,  # noqa: E731
                                       Attribute=name)
        tables = self._call(self.ec2.describe_route_tables,
                            Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                     {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        return {**p, "id": vpc_id, "cidrBlock": vpc["CidrBlock"],
                "arn": f"arn:aws:ec2:{self.region}:{self.account}:vpc/{vpc_id}",
                "enableDnsSupport": attr("enableDnsSupport")["EnableDnsSupport"]["Value"],
                "enableDnsHostnames": attr("enableDnsHostnames")["EnableDnsHostnames"]["Value"],
                "instanceTenancy": vpc.get("InstanceTenancy", "default"),
                "mainRouteTableId": tables[0]["RouteTableId"] if tables else "",
                "ownerId": vpc.get("OwnerId", self.account),
                "tags": _tag_dict(vpc.get("Tags")) if p.get("tags") is not None else None,
                "tagsAll": _tag_dict(vpc.get("Tags"))}

    def vpc_update(self, vpc_id: str, old: dict, p: dict) -> dict:
        self._vpc_attributes(vpc_id, p)
        self._ec2_tags(vpc_id, old.get("tags"), p.get("tags"))
        return self.vpc_read(vpc_id, p)

    def vpc_delete(self, vpc_id: str, p: dict) -> None:
        self._call(self.ec2.delete_vpc, VpcId=vpc_id)

    def igw_create(self, p: dict) -> tuple[str, dict]:
        igw = self._call(self.ec2.create_internet_gateway,
                         TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": _tag_list(p.get("tags"))}]
                         if p.get("tags") else None)["InternetGateway"]
        igw_id = igw["InternetGatewayId"]
        if p.get("vpcId"):
            self._call(self.ec2.attach_internet_gateway, InternetGatewayId=igw_id, VpcId=p["vpcId"])
        return igw_id, self.igw_read(igw_id, p)

    def igw_read(self, igw_id: str, p: dict) -> dict:
        igw = self._call(self.ec2.describe_internet_gateways, InternetGatewayIds=[igw_id])["InternetGateways"][0]
        attached = [a["VpcId"] for a in igw.get("Attachments", [])]
        return {**p, "id": igw_id, "vpcId": attached[0] if attached else None,
                "arn": f"arn:aws:ec2:{self.region}:{self.account}:internet-gateway/{igw_id}",
                "ownerId": self.account, "tagsAll": _tag_dict(igw.get("Tags"))}

    def igw_update(self, igw_id: str, old: dict, p: dict) -> dict:
        if old.get("vpcId") != p.get("vpcId"):
            if old.get("vpcId"):
                self._call(self.ec2.detach_internet_gateway, InternetGatewayId=igw_id, VpcId=old["vpcId"])
            if p.get("vpcId"):
                self._call(self.ec2.attach_internet_gateway, InternetGatewayId=igw_id, VpcId=p["vpcId"])
        self._ec2_tags(igw_id, old.get("tags"), p.get("tags"))
        return self.igw_read(igw_id, p)

    def igw_delete(self, igw_id: str, p: dict) -> None:
        if p.get("vpcId"):
            self._call(self.ec2.detach_internet_gateway, InternetGatewayId=igw_id, VpcId=p["vpcId"])
        self._call(self.ec2.delete_internet_gateway, InternetGatewayId=igw_id)

    def subnet_create(self, p: dict) -> tuple[str, dict]:
        subnet = self._call(self.ec2.create_subnet, VpcId=p["vpcId"], CidrBlock=p.get("cidrBlock"),
                            AvailabilityZone=p.get("availabilityZone"),
                            TagSpecifications=[{"ResourceType": "subnet", "Tags": _tag_list(p.get("tags"))}]
                            if p.get("tags") else None)["Subnet"]
        subnet_id = subnet["SubnetId"]
        if p.get("mapPublicIpOnLaunch") is not None:
            self._call(self.ec2.modify_subnet_attribute, SubnetId=subnet_id,
                       MapPublicIpOnLaunch={"Value": p["mapPublicIpOnLaunch"]})
        return subnet_id, self.subnet_read(subnet_id, p)

    def subnet_read(self, subnet_id: str, p: dict) -> dict:
        subnet = self._call(self.ec2.describe_subnets, SubnetIds=[subnet_id])["Subnets"][0]
        return {**p, "id": subnet_id, "vpcId": subnet["VpcId"], "cidrBlock": subnet["CidrBlock"],
                "availabilityZone": subnet["AvailabilityZone"],
                "availabilityZoneId": subnet.get("AvailabilityZoneId", ""),
                "mapPublicIpOnLaunch": subnet.get("MapPublicIpOnLaunch", False),
                "arn": subnet.get("SubnetArn", ""), "ownerId": self.account,
                "tagsAll": _tag_dict(subnet.get("Tags"))}

    def subnet_update(self, subnet_id: str, old: dict, p: dict) -> dict:
        if p.get("mapPublicIpOnLaunch") is not None:
            self._call(self.ec2.modify_subnet_attribute, SubnetId=subnet_id,
                       MapPublicIpOnLaunch={"Value": p["mapPublicIpOnLaunch"]})
        self._ec2_tags(subnet_id, old.get("tags"), p.get("tags"))
        return self.subnet_read(subnet_id, p)

    def subnet_delete(self, subnet_id: str, p: dict) -> None:
        self._call(self.ec2.delete_subnet, SubnetId=subnet_id)

    def route_table_create(self, p: dict) -> tuple[str, dict]:
        table = self._call(self.ec2.create_route_table, VpcId=p["vpcId"],
                           TagSpecifications=[{"ResourceType": "route-table", "Tags": _tag_list(p.get("tags"))}]
                           if p.get("tags") else None)["RouteTable"]
        table_id = table["RouteTableId"]
        for route in p.get("routes") or []:
            self._route(self.ec2.create_route, table_id, route)
        return table_id, self.route_table_read(table_id, p)

    def _route(self, fn: Callable[..., Any], table_id: str, route: dict) -> None:
        self._call(fn, RouteTableId=table_id, DestinationCidrBlock=route.get("cidrBlock"),
                   GatewayId=route.get("gatewayId"), NatGatewayId=route.get("natGatewayId"))

    def route_table_read(self, table_id: str, p: dict) -> dict:
        table = self._call(self.ec2.describe_route_tables, RouteTableIds=[table_id])["RouteTables"][0]
        routes = [{"cidrBlock": r["DestinationCidrBlock"], "gatewayId": r["GatewayId"]}
                  for r in table.get("Routes", [])
                  if r.get("GatewayId") and r.get("GatewayId") != "local" and r.get("DestinationCidrBlock")]
        return {**p, "id": table_id, "vpcId": table["VpcId"], "routes": routes,
                "arn": f"arn:aws:ec2:{self.region}:{self.account}:route-table/{table_id}",
                "ownerId": self.account, "tagsAll": _tag_dict(table.get("Tags"))}

    def route_table_update(self, table_id: str, old: dict, p: dict) -> dict:
        key = lambda r: (r.get("cidrBlock"), r.get("gatewayId"))  # noqa: E731
        old_routes = {key(r): r for r in old.get("routes") or []}
        new_routes = {key(r): r for r in p.get("routes") or []}
        for k, route in old_routes.items():
            if k not in new_routes:
                self._call(self.ec2.delete_route, RouteTableId=table_id, DestinationCidrBlock=route["cidrBlock"])
        for k, route in new_routes.items():
            if k not in old_routes:
                self._route(self.ec2.create_route, table_id, route)
        self._ec2_tags(table_id, old.get("tags"), p.get("tags"))
        return self.route_table_read(table_id, p)

    def route_table_delete(self, table_id: str, p: dict) -> None:
        self._call(self.ec2.delete_route_table, RouteTableId=table_id)

    def association_create(self, p: dict) -> tuple[str, dict]:
        result = self._call(self.ec2.associate_route_table, RouteTableId=p["routeTableId"],
                            SubnetId=p.get("subnetId"))
        return result["AssociationId"], {**p, "id": result["AssociationId"]}

    def association_update(self, association_id: str, old: dict, p: dict) -> dict:
        result = self._call(self.ec2.replace_route_table_association, AssociationId=association_id,
                            RouteTableId=p["routeTableId"])
        return {**p, "id": result["NewAssociationId"]}

    def association_delete(self, association_id: str, p: dict) -> None:
        self._call(self.ec2.disassociate_route_table, AssociationId=association_id)

    @staticmethod
    def _permission(rule: dict) -> dict:
        return {"IpProtocol": rule["protocol"], "FromPort": int(rule["fromPort"]),
                "ToPort": int(rule["toPort"]),
                "IpRanges": [{"CidrIp": c, **({"Description": rule["description"]} if rule.get("description") else {})}
                             for c in rule.get("cidrBlocks") or []],
                "Ipv6Ranges": [{"CidrIpv6": c, **({"Description": rule["description"]} if rule.get("description") else {})}
                               for c in rule.get("ipv6CidrBlocks") or []]}

    def security_group_create(self, p: dict) -> tuple[str, dict]:
        group = self._call(self.ec2.create_security_group, GroupName=p["name"],
                           Description=p.get("description", "Managed by Pulumi"), VpcId=p.get("vpcId"),
                           TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(p.get("tags"))}]
                           if p.get("tags") else None)
        group_id = group["GroupId"]
        # As the Terraform resource does: drop AWS's default allow-all egress, then add the declared rules.
        default = self._call(self.ec2.describe_security_groups, GroupIds=[group_id])["SecurityGroups"][0]
        if default.get("IpPermissionsEgress"):
            self._call(self.ec2.revoke_security_group_egress, GroupId=group_id,
                       IpPermissions=default["IpPermissionsEgress"])
        self._authorize(group_id, p)
        return group_id, self.security_group_read(group_id, p)

    def _authorize(self, group_id: str, p: dict) -> None:
        if p.get("ingress"):
            self._call(self.ec2.authorize_security_group_ingress, GroupId=group_id,
                       IpPermissions=[self._permission(r) for r in p["ingress"]])
        if p.get("egress"):
            self._call(self.ec2.authorize_security_group_egress, GroupId=group_id,
                       IpPermissions=[self._permission(r) for r in p["egress"]])

    def security_group_read(self, group_id: str, p: dict) -> dict:
        group = self._call(self.ec2.describe_security_groups, GroupIds=[group_id])["SecurityGroups"][0]

        def rules(permissions: list[dict], declared: list[dict]) -> list[dict]:
            out = []
            for perm in permissions:
                protocol = perm["IpProtocol"]
                from_port = perm.get("FromPort", 0)
                to_port = perm.get("ToPort", 0)
                match = next((r for r in declared if r["protocol"] == protocol
                              and int(r["fromPort"]) == from_port and int(r["toPort"]) == to_port), {})
                out.append({**match, "protocol": protocol, "fromPort": from_port, "toPort": to_port,
                            "cidrBlocks": [r["CidrIp"] for r in perm.get("IpRanges", [])],
                            "ipv6CidrBlocks": [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]})
            return out

        return {**p, "id": group_id, "name": group["GroupName"], "description": group["Description"],
                "vpcId": group.get("VpcId"), "ownerId": group.get("OwnerId", self.account),
                "arn": f"arn:aws:ec2:{self.region}:{self.account}:security-group/{group_id}",
                "ingress": rules(group.get("IpPermissions", []), p.get("ingress") or []),
                "egress": rules(group.get("IpPermissionsEgress", []), p.get("egress") or []),
                "tagsAll": _tag_dict(group.get("Tags"))}

    def security_group_update(self, group_id: str, old: dict, p: dict) -> dict:
        current = self._call(self.ec2.describe_security_groups, GroupIds=[group_id])["SecurityGroups"][0]
        if current.get("IpPermissions"):
            self._call(self.ec2.revoke_security_group_ingress, GroupId=group_id,
                       IpPermissions=current["IpPermissions"])
        if current.get("IpPermissionsEgress"):
            self._call(self.ec2.revoke_security_group_egress, GroupId=group_id,
                       IpPermissions=current["IpPermissionsEgress"])
        self._authorize(group_id, p)
        self._ec2_tags(group_id, old.get("tags"), p.get("tags"))
        return self.security_group_read(group_id, p)

    def security_group_delete(self, group_id: str, p: dict) -> None:
        self._call(self.ec2.delete_security_group, GroupId=group_id)

    # ---- ec2: key pair and instance ------------------------------------------------------

    def key_pair_create(self, p: dict) -> tuple[str, dict]:
        self._call(self.ec2.import_key_pair, KeyName=p["keyName"], PublicKeyMaterial=p["publicKey"].encode(),
                   TagSpecifications=[{"ResourceType": "key-pair", "Tags": _tag_list(p.get("tags"))}]
                   if p.get("tags") else None)
        return p["keyName"], self.key_pair_read(p["keyName"], p)

    def key_pair_read(self, name: str, p: dict) -> dict:
        key = self._call(self.ec2.describe_key_pairs, KeyNames=[name])["KeyPairs"][0]
        return {**p, "id": name, "keyName": name, "keyPairId": key["KeyPairId"],
                "fingerprint": key["KeyFingerprint"], "keyType": key.get("KeyType", ""),
                "arn": f"arn:aws:ec2:{self.region}:{self.account}:key-pair/{name}",
                "tagsAll": _tag_dict(key.get("Tags"))}

    def key_pair_update(self, name: str, old: dict, p: dict) -> dict:
        self._ec2_tags(old["keyPairId"], old.get("tags"), p.get("tags"))
        return self.key_pair_read(name, p)

    def key_pair_delete(self, name: str, p: dict) -> None:
        self._call(self.ec2.delete_key_pair, KeyName=name)

    def instance_create(self, p: dict) -> tuple[str, dict]:
        image = self._call(self.ec2.describe_images, ImageIds=[p["ami"]])["Images"][0]
        root = p.get("rootBlockDevice") or {}
        ebs = {k: v for k, v in {"VolumeSize": int(root["volumeSize"]) if "volumeSize" in root else None,
                                 "VolumeType": root.get("volumeType"), "Encrypted": root.get("encrypted"),
                                 "DeleteOnTermination": root.get("deleteOnTermination", True)}.items()
               if v is not None} if root else {}
        meta = p.get("metadataOptions") or {}
        metadata = {k: v for k, v in {"HttpEndpoint": meta.get("httpEndpoint"), "HttpTokens": meta.get("httpTokens"),
                                      "HttpPutResponseHopLimit": int(meta["httpPutResponseHopLimit"])
                                      if "httpPutResponseHopLimit" in meta else None,
                                      "InstanceMetadataTags": meta.get("instanceMetadataTags")}.items()
                    if v is not None}
        specs = []
        if p.get("tags"):
            specs.append({"ResourceType": "instance", "Tags": _tag_list(p["tags"])})
        if p.get("volumeTags"):
            specs.append({"ResourceType": "volume", "Tags": _tag_list(p["volumeTags"])})
        user_data = p.get("userData") or ""
        reservation = self._call(
            self.ec2.run_instances, ImageId=p["ami"], InstanceType=p.get("instanceType"), MinCount=1, MaxCount=1,
            KeyName=p.get("keyName"), SubnetId=p.get("subnetId"), SecurityGroupIds=p.get("vpcSecurityGroupIds"),
            IamInstanceProfile={"Name": p["iamInstanceProfile"]} if p.get("iamInstanceProfile") else None,
            UserData=user_data or None, MetadataOptions=metadata or None,
            BlockDeviceMappings=[{"DeviceName": image.get("RootDeviceName", "/dev/xvda"), "Ebs": ebs}] if ebs else None,
            TagSpecifications=specs or None)
        instance_id = reservation["Instances"][0]["InstanceId"]
        authorized_key = ""
        if p.get("keyName"):
            authorized_key = self._call(self.ec2.describe_key_pairs, KeyNames=[p["keyName"]],
                                        IncludePublicKey=True)["KeyPairs"][0].get("PublicKey", "").strip()
        try:
            host = self.hosts.create_host(instance_id, user_data, authorized_key, dict(p.get("tags") or {}),
                                          self.ledger.next_index())
        except Exception as error:  # the host could not boot: the instance must not linger
            self._call(self.ec2.terminate_instances, InstanceIds=[instance_id])
            raise ProviderError(f"test host for {instance_id} failed: {error}") from None
        self.ledger.record(instance_id, host)
        return instance_id, self.instance_read(instance_id, p)

    def _instance(self, instance_id: str) -> dict:
        reservations = self._call(self.ec2.describe_instances, InstanceIds=[instance_id])["Reservations"]
        return reservations[0]["Instances"][0]

    def instance_read(self, instance_id: str, p: dict) -> dict:
        instance = self._instance(instance_id)
        host = self.ledger.get(instance_id) or {}
        meta = instance.get("MetadataOptions", {})
        profile_arn = (instance.get("IamInstanceProfile") or {}).get("Arn", "")
        out = {**p, "id": instance_id, "ami": instance["ImageId"], "instanceType": instance["InstanceType"],
               "arn": f"arn:aws:ec2:{self.region}:{self.account}:instance/{instance_id}",
               "instanceState": instance["State"]["Name"], "subnetId": instance.get("SubnetId"),
               "availabilityZone": instance["Placement"]["AvailabilityZone"],
               "privateIp": instance.get("PrivateIpAddress", ""),
               # The test host's address, never moto's invented public IP (see hosts.py).
               "publicIp": host.get("ip", ""), "publicDns": "",
               "primaryNetworkInterfaceId": (instance.get("NetworkInterfaces") or [{}])[0].get("NetworkInterfaceId", ""),
               "keyName": instance.get("KeyName", p.get("keyName")),
               "iamInstanceProfile": profile_arn.rsplit("/", 1)[-1] if profile_arn else p.get("iamInstanceProfile"),
               "vpcSecurityGroupIds": sorted(g["GroupId"] for g in instance.get("SecurityGroups", [])),
               "tagsAll": _tag_dict(instance.get("Tags"))}
        if "metadataOptions" in p:
            out["metadataOptions"] = {**p["metadataOptions"],
                                      "httpEndpoint": meta.get("HttpEndpoint"), "httpTokens": meta.get("HttpTokens"),
                                      "httpPutResponseHopLimit": meta.get("HttpPutResponseHopLimit"),
                                      "instanceMetadataTags": meta.get("InstanceMetadataTags")}
        return out

    def instance_update(self, instance_id: str, old: dict, p: dict) -> dict:
        if p.get("instanceType") != old.get("instanceType"):
            self._call(self.ec2.stop_instances, InstanceIds=[instance_id])
            self._call(self.ec2.modify_instance_attribute, InstanceId=instance_id,
                       InstanceType={"Value": p["instanceType"]})
            self._call(self.ec2.start_instances, InstanceIds=[instance_id])
        if sorted(p.get("vpcSecurityGroupIds") or []) != sorted(old.get("vpcSecurityGroupIds") or []):
            self._call(self.ec2.modify_instance_attribute, InstanceId=instance_id, Groups=p["vpcSecurityGroupIds"])
        if p.get("metadataOptions") != old.get("metadataOptions") and p.get("metadataOptions"):
            meta = p["metadataOptions"]
            self._call(self.ec2.modify_instance_metadata_options, InstanceId=instance_id,
                       HttpTokens=meta.get("httpTokens"), HttpEndpoint=meta.get("httpEndpoint"),
                       HttpPutResponseHopLimit=int(meta["httpPutResponseHopLimit"])
                       if "httpPutResponseHopLimit" in meta else None,
                       InstanceMetadataTags=meta.get("instanceMetadataTags"))
        if p.get("userData") != old.get("userData") and not p.get("userDataReplaceOnChange"):
            self._call(self.ec2.modify_instance_attribute, InstanceId=instance_id,
                       UserData={"Value": (p.get("userData") or "").encode()})
        self._ec2_tags(instance_id, old.get("tags"), p.get("tags"))
        return self.instance_read(instance_id, p)

    def instance_delete(self, instance_id: str, p: dict) -> None:
        self._call(self.ec2.terminate_instances, InstanceIds=[instance_id])
        self.hosts.destroy_host(instance_id)
        self.ledger.forget(instance_id)

    # ---- ssm ---------------------------------------------------------------------------------

    def parameter_create(self, p: dict) -> tuple[str, dict]:
        self._call(self.ssm.put_parameter, Name=p["name"], Value=p["value"], Type=p["type"],
                   Description=p.get("description"), Tags=_tag_list(p.get("tags")) or None)
        return p["name"], self.parameter_read(p["name"], p)

    def parameter_read(self, name: str, p: dict) -> dict:
        found = self._call(self.ssm.get_parameter, Name=name, WithDecryption=True)["Parameter"]
        return {**p, "id": name, "name": name, "arn": found["ARN"], "type": found["Type"],
                "value": found["Value"], "version": found["Version"], "tier": "Standard",
                "dataType": found.get("DataType", "text"), "tagsAll": dict(p.get("tags") or {})}

    def parameter_update(self, name: str, old: dict, p: dict) -> dict:
        self._call(self.ssm.put_parameter, Name=name, Value=p["value"], Type=p["type"],
                   Description=p.get("description"), Overwrite=True)
        gone = [k for k in (old.get("tags") or {}) if k not in (p.get("tags") or {})]
        if gone:
            self._call(self.ssm.remove_tags_from_resource, ResourceType="Parameter", ResourceId=name, TagKeys=gone)
        if p.get("tags"):
            self._call(self.ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId=name,
                       Tags=_tag_list(p["tags"]))
        return self.parameter_read(name, p)

    def parameter_delete(self, name: str, p: dict) -> None:
        self._call(self.ssm.delete_parameter, Name=name)

    # ---- iam ---------------------------------------------------------------------------------

    def role_create(self, p: dict) -> tuple[str, dict]:
        self._call(self.iam.create_role, RoleName=p["name"], AssumeRolePolicyDocument=p["assumeRolePolicy"],
                   Description=p.get("description"), Path=p.get("path"), Tags=_tag_list(p.get("tags")) or None)
        return p["name"], self.role_read(p["name"], p)

    def role_read(self, name: str, p: dict) -> dict:
        role = self._call(self.iam.get_role, RoleName=name)["Role"]
        return {**p, "id": name, "name": name, "arn": role["Arn"], "uniqueId": role["RoleId"],
                "path": role.get("Path", "/"), "createDate": role["CreateDate"].isoformat(),
                "tagsAll": _tag_dict(role.get("Tags"))}

    def role_update(self, name: str, old: dict, p: dict) -> dict:
        if p.get("assumeRolePolicy") != old.get("assumeRolePolicy"):
            self._call(self.iam.update_assume_role_policy, RoleName=name, PolicyDocument=p["assumeRolePolicy"])
        if p.get("description") != old.get("description"):
            self._call(self.iam.update_role, RoleName=name, Description=p.get("description", ""))
        gone = [k for k in (old.get("tags") or {}) if k not in (p.get("tags") or {})]
        if gone:
            self._call(self.iam.untag_role, RoleName=name, TagKeys=gone)
        if p.get("tags"):
            self._call(self.iam.tag_role, RoleName=name, Tags=_tag_list(p["tags"]))
        return self.role_read(name, p)

    def role_delete(self, name: str, p: dict) -> None:
        self._call(self.iam.delete_role, RoleName=name)

    def attachment_create(self, p: dict) -> tuple[str, dict]:
        self._call(self.iam.attach_role_policy, RoleName=p["role"], PolicyArn=p["policyArn"])
        attachment_id = f"{p['role']}/{p['policyArn']}"
        return attachment_id, {**p, "id": attachment_id}

    def attachment_delete(self, attachment_id: str, p: dict) -> None:
        self._call(self.iam.detach_role_policy, RoleName=p["role"], PolicyArn=p["policyArn"])

    def role_policy_create(self, p: dict) -> tuple[str, dict]:
        self._call(self.iam.put_role_policy, RoleName=p["role"], PolicyName=p["name"], PolicyDocument=p["policy"])
        return f"{p['role']}:{p['name']}", {**p, "id": f"{p['role']}:{p['name']}"}

    def role_policy_update(self, policy_id: str, old: dict, p: dict) -> dict:
        self._call(self.iam.put_role_policy, RoleName=p["role"], PolicyName=p["name"], PolicyDocument=p["policy"])
        return {**p, "id": policy_id}

    def role_policy_delete(self, policy_id: str, p: dict) -> None:
        self._call(self.iam.delete_role_policy, RoleName=p["role"], PolicyName=p["name"])

    def profile_create(self, p: dict) -> tuple[str, dict]:
        self._call(self.iam.create_instance_profile, InstanceProfileName=p["name"], Path=p.get("path"),
                   Tags=_tag_list(p.get("tags")) or None)
        if p.get("role"):
            self._call(self.iam.add_role_to_instance_profile, InstanceProfileName=p["name"], RoleName=p["role"])
        return p["name"], self.profile_read(p["name"], p)

    def profile_read(self, name: str, p: dict) -> dict:
        profile = self._call(self.iam.get_instance_profile, InstanceProfileName=name)["InstanceProfile"]
        roles = [r["RoleName"] for r in profile.get("Roles", [])]
        return {**p, "id": name, "name": name, "arn": profile["Arn"], "uniqueId": profile["InstanceProfileId"],
                "role": roles[0] if roles else None, "path": profile.get("Path", "/"),
                "tagsAll": dict(p.get("tags") or {})}

    def profile_update(self, name: str, old: dict, p: dict) -> dict:
        if old.get("role") != p.get("role"):
            if old.get("role"):
                self._call(self.iam.remove_role_from_instance_profile, InstanceProfileName=name, RoleName=old["role"])
            if p.get("role"):
                self._call(self.iam.add_role_to_instance_profile, InstanceProfileName=name, RoleName=p["role"])
        return self.profile_read(name, p)

    def profile_delete(self, name: str, p: dict) -> None:
        if p.get("role"):
            self._call(self.iam.remove_role_from_instance_profile, InstanceProfileName=name, RoleName=p["role"])
        self._call(self.iam.delete_instance_profile, InstanceProfileName=name)

    # ---- invokes -----------------------------------------------------------------------------

    @staticmethod
    def _filters(args: dict) -> list[dict] | None:
        filters = [{"Name": f["name"], "Values": list(f["values"])} for f in args.get("filters") or []]
        return filters or None

    def get_ami(self, args: dict) -> dict:
        images = self._call(self.ec2.describe_images, Owners=args.get("owners"),
                            Filters=self._filters(args))["Images"]
        if not images:
            raise ProviderError("Your query returned no results. Please change your search criteria and try again.")
        if len(images) > 1 and not args.get("mostRecent"):
            raise ProviderError("Your query returned more than one result. Please try a more specific search "
                                "criteria, or set `most_recent` attribute to true.")
        image = max(images, key=lambda i: (i.get("CreationDate", ""), i.get("Name", "")))
        return {"id": image["ImageId"], "imageId": image["ImageId"], "name": image.get("Name", ""),
                "architecture": image.get("Architecture", ""), "ownerId": image.get("OwnerId", ""),
                "rootDeviceName": image.get("RootDeviceName", ""), "creationDate": image.get("CreationDate", ""),
                "mostRecent": bool(args.get("mostRecent")), "owners": args.get("owners"),
                "filters": args.get("filters"), "state": image.get("State", ""),
                "arn": f"arn:aws:ec2:{self.region}::image/{image['ImageId']}", "region": self.region,
                "tags": _tag_dict(image.get("Tags"))}

    def get_instance_type_offerings(self, args: dict) -> dict:
        offerings = self._call(self.ec2.describe_instance_type_offerings, LocationType=args.get("locationType"),
                               Filters=self._filters(args))["InstanceTypeOfferings"]
        return {"id": self.region, "region": self.region, "filters": args.get("filters"),
                "locationType": args.get("locationType"),
                "instanceTypes": [o["InstanceType"] for o in offerings],
                "locations": [o["Location"] for o in offerings],
                "locationTypes": [o["LocationType"] for o in offerings]}

    def get_instance(self, args: dict) -> dict:
        instance = self._instance(args["instanceId"])
        host = self.ledger.get(args["instanceId"]) or {}
        launch = instance["LaunchTime"]
        return {"id": instance["InstanceId"], "instanceId": instance["InstanceId"], "ami": instance["ImageId"],
                "instanceType": instance["InstanceType"], "instanceState": instance["State"]["Name"],
                "launchTime": launch.strftime("%Y-%m-%dT%H:%M:%SZ"), "publicIp": host.get("ip", ""),
                "privateIp": instance.get("PrivateIpAddress", ""), "subnetId": instance.get("SubnetId", ""),
                "tags": _tag_dict(instance.get("Tags")), "region": self.region}


# token -> (create, read, update or None (every change replaces), delete)
def handlers(aws: Aws) -> dict[str, tuple]:
    return {
        "aws:ec2/vpc:Vpc": (aws.vpc_create, aws.vpc_read, aws.vpc_update, aws.vpc_delete),
        "aws:ec2/internetGateway:InternetGateway": (aws.igw_create, aws.igw_read, aws.igw_update, aws.igw_delete),
        "aws:ec2/subnet:Subnet": (aws.subnet_create, aws.subnet_read, aws.subnet_update, aws.subnet_delete),
        "aws:ec2/routeTable:RouteTable": (aws.route_table_create, aws.route_table_read, aws.route_table_update,
                                          aws.route_table_delete),
        "aws:ec2/routeTableAssociation:RouteTableAssociation": (aws.association_create, None, aws.association_update,
                                                                aws.association_delete),
        "aws:ec2/securityGroup:SecurityGroup": (aws.security_group_create, aws.security_group_read,
                                                aws.security_group_update, aws.security_group_delete),
        "aws:ec2/keyPair:KeyPair": (aws.key_pair_create, aws.key_pair_read, aws.key_pair_update, aws.key_pair_delete),
        "aws:ec2/instance:Instance": (aws.instance_create, aws.instance_read, aws.instance_update, aws.instance_delete),
        "aws:ssm/parameter:Parameter": (aws.parameter_create, aws.parameter_read, aws.parameter_update,
                                        aws.parameter_delete),
        "aws:iam/role:Role": (aws.role_create, aws.role_read, aws.role_update, aws.role_delete),
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (aws.attachment_create, None, None, aws.attachment_delete),
        "aws:iam/rolePolicy:RolePolicy": (aws.role_policy_create, None, aws.role_policy_update, aws.role_policy_delete),
        "aws:iam/instanceProfile:InstanceProfile": (aws.profile_create, aws.profile_read, aws.profile_update,
                                                    aws.profile_delete),
    }


def invokes(aws: Aws) -> dict[str, Callable[[dict], dict]]:
    return {
        "aws:ec2/getAmi:getAmi": aws.get_ami,
        "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": aws.get_instance_type_offerings,
        "aws:ec2/getInstance:getInstance": aws.get_instance,
    }
