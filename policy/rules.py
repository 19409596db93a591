"""The dd-assessment guard rules, as plain functions.

Every rule is `validate_x(resource_type, props) -> list[str]`: the violation messages for one
resource, empty when it complies. `props` are the resource's inputs in camelCase, exactly what a
CrossGuard policy sees and what Pulumi's mocks record (`metadataOptions.httpTokens`), so the same
functions run in the policy pack (`policy/__main__.py`) and in the tests (`tests/test_policy.py`)
against the inputs the real program declares.

This module never builds a `PolicyPack`: doing so starts a gRPC server and blocks. It only builds
`ResourceValidationPolicy` objects (`policies()`), which is inert.

Enforcement levels
------------------
- MANDATORY, the security rules: a violation blocks `pulumi preview`/`up`. Each guards against a
  concrete way to lose the host or a credential (IMDSv1 credential theft, unencrypted disks,
  admin ports open to the internet, secrets readable in user-data, static keys on a host without
  a role, a writable host mount in the Agent container, which runs with the host's PID namespace).
  None of them has a legitimate exception in this program, so none should be overridable.
- MANDATORY, the monitor rule: an alert that reaches nobody, or stays silent when the host dies,
  is the failure this whole demo exists to prevent, and the fix is one argument.
- ADVISORY, the hygiene rules: `project`/`stack` tags, rule descriptions and the deprecated
  Downtime resource. A missing tag or description makes cost reports and audits worse but exposes
  nothing; blocking a deployment (possibly a fix in a hurry) on it would cost more than it saves.
  They still print on every preview and fail the tests, so they do not rot.
- ADVISORY, no port 22 when hosts are reached through Session Manager: an SSH rule there is an
  unused door (SSH from anywhere stays blocked by the mandatory rule above), worth a warning on
  every preview, not a blocked fix. A rule sees one resource, so it learns the access mode from
  the security group's own `hostAccess` tag, which the program sets from its `hostAccess` setting.

Unknown values
--------------
During a preview, inputs computed from other resources are unknown. The SDK hands them over as
sentinel strings (`pulumi_policy.proxy`). `_plain()` unwraps the SDK's proxies so the rules see
those sentinels; a rule that only needs to know that a value is *set* treats unknown as set
(`iamInstanceProfile` from a profile created in the same run), and a rule that needs the value
itself raises `UnknownValueError`, which the SDK reports as "can't run policy during preview"
(advisory); the rule runs for real during `pulumi up`, when the value is known.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

Props = Mapping[str, Any]
Validator = Callable[[str, Props], list[str]]

INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CONTAINER = "docker:index/container:Container"
MONITOR = "datadog:index/monitor:Monitor"
DOWNTIME = "datadog:index/downtime:Downtime"

# Ports that must never be reachable from anywhere: SSH, PostgreSQL, the Docker API (plain and
# TLS: either is root on the host) and the Agent's trace intake.
ADMIN_PORTS: Mapping[int, str] = {22: "SSH", 5432: "PostgreSQL", 2375: "the Docker API",
                                  2376: "the Docker API (TLS)", 8126: "the Datadog trace intake"}
REQUIRED_TAGS = ("project", "stack")
SSH_PORT = 22
ACCESS_TAG = "hostAccess"  # on the hosts' security group: "ssm" or "ssh" (components/network.py)

# Types this program (and backend/) declares that accept `tags`. A resource of these types with
# no `tags` at all is a violation; the generic half of the rule (any `aws:` resource whose inputs
# carry `tags`) cannot see a tags argument that was never passed, which is the likely mistake
# when a new resource is added. Types that do not accept tags (route table associations, policy
# attachments, inline role policies, KMS aliases, the S3 bucket's sub-resources,
# aws:ec2/securityGroupRule) are absent on purpose. Keep in step with the program:
# tests/test_policy.py fails when the program tags a type missing here.
TAGGABLE_TYPES = frozenset({
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    SECURITY_GROUP,
    INGRESS_RULE,
    EGRESS_RULE,
    "aws:ec2/keyPair:KeyPair",
    INSTANCE,
    EBS_VOLUME,
    "aws:ssm/parameter:Parameter",
    "aws:iam/role:Role",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
})

# Monitor types for which "no data" means something (a metric or check stopped reporting).
# Composite, log, event, synthetics... monitors only need a recipient.
NO_DATA_MONITOR_TYPES = frozenset({"metric alert", "query alert", "service check"})

_UNKNOWNS = frozenset({UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE,
                       UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE,
                       UNKNOWN_STRING_VALUE})


# ---------------------------------------------------------------------------------------------
# Helpers


def is_unknown(value: Any) -> bool:
    """True for the SDK's "not known during preview" sentinels."""
    return isinstance(value, str) and value in _UNKNOWNS


def _known(value: Any, *path: str) -> Any:
    """`value`, or UnknownValueError (the SDK's "can't run during preview") if it is unknown."""
    if is_unknown(value):
        raise UnknownValueError(value, list(path))
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _items(props: Props, key: str) -> list[Mapping[str, Any]]:
    """The entries of a list-of-objects input (absent or null -> [])."""
    value = _known(props.get(key), key)
    if value is None:
        return []
    if not _is_list(value):
        return []
    return [_known(item, key, str(index)) for index, item in enumerate(value)
            if isinstance(item, Mapping) or is_unknown(item)]


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _plain(value: Any) -> Any:
    """Plain dicts/lists from the SDK's unknown-checking proxies, unknowns kept as sentinels.

    The proxies raise on reading an unknown value; `"__target"` is the escape hatch the SDK
    itself uses to serialize them (pulumi_policy.deserialize._serialize_property).
    """
    if isinstance(value, Mapping):
        raw = value if isinstance(value, dict) else value["__target"]
        return {key: _plain(raw[key]) for key in raw}
    if _is_list(value):
        raw = value if isinstance(value, list) else value["__target"]
        return [_plain(item) for item in raw]
    return value


def _port(value: Any, *path: str) -> int | None:
    value = _known(value, *path)
    if value is None or value == "":
        return None
    return int(float(value))


def _open_cidrs(entry: Mapping[str, Any], *keys: str) -> list[str]:
    """The CIDRs among `keys` (lists or single strings) that mean "anywhere" (prefix length 0)."""
    found = []
    for key in keys:
        value = _known(entry.get(key), key)
        values = value if _is_list(value) else [value]
        for cidr in values:
            cidr = _known(cidr, key)
            if not isinstance(cidr, str) or not cidr:
                continue
            try:
                if ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
                    found.append(cidr)
            except ValueError:
                continue
    return found


def _exposed_admin_ports(protocol: Any, from_port: int | None, to_port: int | None) -> list[int]:
    """Admin ports (all TCP) that a rule with this protocol and port range admits."""
    protocol = str(protocol).lower() if protocol is not None else ""
    if protocol in ("-1", "all"):
        return sorted(ADMIN_PORTS)
    if protocol not in ("tcp", "6"):
        return []
    if from_port is None and to_port is None:
        return sorted(ADMIN_PORTS)
    low = from_port if from_port is not None else to_port
    high = to_port if to_port is not None else from_port
    assert low is not None and high is not None
    return [port for port in sorted(ADMIN_PORTS) if low <= port <= high]


def _describe_ports(ports: list[int]) -> str:
    return ", ".join(f"{port} ({ADMIN_PORTS[port]})" for port in ports)


# ---------------------------------------------------------------------------------------------
# Security rules (mandatory)


def validate_imdsv2(resource_type: str, props: Props) -> list[str]:
    """EC2 instances require IMDSv2 session tokens (or have the metadata service switched off)."""
    if resource_type != INSTANCE:
        return []
    options = _known(props.get("metadataOptions"), "metadataOptions") or {}
    if _known(options.get("httpEndpoint"), "metadataOptions", "httpEndpoint") == "disabled":
        return []  # no metadata service at all: nothing for IMDSv1 to leak
    tokens = _known(options.get("httpTokens"), "metadataOptions", "httpTokens")
    if tokens == "required":
        return []
    return [(f"metadataOptions.httpTokens is {tokens!r}: require IMDSv2 session tokens "
             "(metadata_options=InstanceMetadataOptionsArgs(http_tokens=\"required\")); IMDSv1 "
             "lets any SSRF or proxy bug read the instance role's credentials")]


def validate_encrypted_volumes(resource_type: str, props: Props) -> list[str]:
    """Instance root and EBS block devices, and standalone EBS volumes, are encrypted."""
    if resource_type == EBS_VOLUME:
        if _is_true(_known(props.get("encrypted"), "encrypted")):
            return []
        return ["the EBS volume is not encrypted: set encrypted=True"]
    if resource_type != INSTANCE:
        return []
    problems = []
    root = _known(props.get("rootBlockDevice"), "rootBlockDevice")
    if not isinstance(root, Mapping) or not _is_true(
            _known(root.get("encrypted"), "rootBlockDevice", "encrypted")):
        problems.append("the root volume is not encrypted: set root_block_device="
                        "InstanceRootBlockDeviceArgs(encrypted=True, ...) (without it, the root "
                        "volume is encrypted only if the account's EBS default encryption is on)")
    for device in _items(props, "ebsBlockDevices"):
        if not _is_true(_known(device.get("encrypted"), "ebsBlockDevices", "encrypted")):
            problems.append(f"EBS block device {device.get('deviceName', '?')!r} is not "
                            "encrypted: set encrypted=True")
    return problems


def _ingress_violations(where: str, entry: Mapping[str, Any], protocol_key: str,
                        cidr_keys: tuple[str, ...]) -> list[str]:
    open_to = _open_cidrs(entry, *cidr_keys)
    if not open_to:
        return []
    ports = _exposed_admin_ports(_known(entry.get(protocol_key), protocol_key),
                                 _port(entry.get("fromPort"), "fromPort"),
                                 _port(entry.get("toPort"), "toPort"))
    if not ports:
        return []
    return [(f"{where} admits {' and '.join(open_to)} to {_describe_ports(ports)}: allow only "
             "known CIDRs (sshAllowedCidrs) and never expose these ports to the internet")]


def validate_no_open_admin_ports(resource_type: str, props: Props) -> list[str]:
    """No ingress from 0.0.0.0/0 or ::/0 to SSH, PostgreSQL, the Docker API or the trace port."""
    if resource_type == SECURITY_GROUP:
        problems = []
        for index, entry in enumerate(_items(props, "ingress")):
            problems += _ingress_violations(f"ingress[{index}]", entry, "protocol",
                                            ("cidrBlocks", "ipv6CidrBlocks"))
        return problems
    if resource_type == SECURITY_GROUP_RULE:
        if _known(props.get("type"), "type") != "ingress":
            return []
        return _ingress_violations("the ingress rule", props, "protocol",
                                   ("cidrBlocks", "ipv6CidrBlocks"))
    if resource_type == INGRESS_RULE:
        return _ingress_violations("the ingress rule", props, "ipProtocol",
                                   ("cidrIpv4", "cidrIpv6"))
    return []


# Secret-looking content. Each pattern names what it found; the value itself is never echoed.
# `key=value` / `key: value` forms skip values that are references ($VAR, $(cmd), ${...}, {{ }},
# <placeholder>, a psql :'variable'), booleans and empty values: that is how a script
# legitimately names a secret it fetches at run time (`DATADOG_PASSWORD=$password`), and how
# cloud-config spells settings like `lock_passwd: true`. A separator `:` must follow the key
# directly (YAML/JSON), so psql's `PASSWORD :'var'` is not an assignment.
_SEPARATOR = r"[\"']?(?:[ \t]*=|:)[ \t]*[\"']?"
_LITERAL = r"(?!\$|\{\{|<|%|\(|:'|(?:true|false|yes|no|null|none)\b)[^\s\"'$;]"
_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"PRIVATE KEY")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("an AWS secret access key", re.compile(
        r"(?i)aws_?secret_?(?:access_?)?key" + _SEPARATOR + r"[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")),
    ("a Datadog API or application key", re.compile(
        r"(?i)\bDD_(?:API|APP|APPLICATION)_KEY" + _SEPARATOR + _LITERAL + "+")),
    ("a password, token or key assignment", re.compile(
        r"(?i)(?:password|passwd|secret|token|api_?key|app_?key)" + _SEPARATOR + _LITERAL + "{4,}")),
    ("a 32-hex-digit key (the shape of a Datadog API key)", re.compile(r"\b[0-9a-fA-F]{32}\b")),
)


def secrets_in(text: str) -> list[str]:
    """What secret-looking things `text` contains (names of the patterns, never the values)."""
    return [name for name, pattern in _SECRET_PATTERNS if pattern.search(text)]


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value


def validate_no_secrets_in_user_data(resource_type: str, props: Props) -> list[str]:
    """User-data is readable with ec2:DescribeInstanceAttribute: no secret belongs in it."""
    if resource_type == INSTANCE:
        texts = {"userData": props.get("userData"), "userDataBase64": props.get("userDataBase64")}
    elif resource_type == LAUNCH_TEMPLATE:
        texts = {"userData": props.get("userData")}  # base64 by the API's definition
    else:
        return []
    problems = []
    for key, value in texts.items():
        value = _known(value, key)
        if not isinstance(value, str) or not value:
            continue
        text = value if key == "userData" and resource_type == INSTANCE else _decoded(value)
        for found in secrets_in(text):
            problems.append(f"{key} contains {found}: anyone with ec2:DescribeInstanceAttribute "
                            "can read user-data; keep the secret in SSM Parameter Store "
                            "(SecureString) and read it at boot with the instance role")
    return problems


def validate_instance_role(resource_type: str, props: Props) -> list[str]:
    """Instances run with an IAM role (instance profile), so nothing needs static keys."""
    if resource_type != INSTANCE:
        return []
    profile = props.get("iamInstanceProfile")
    if is_unknown(profile) or (isinstance(profile, str) and profile.strip()):
        return []  # unknown during preview = set from a profile created in the same run
    return [("the instance has no IAM instance profile: give it a role "
             "(iam_instance_profile=...) so software on it never needs static AWS keys")]


_AGENT_IMAGE = re.compile(r"(?:^|/)(?:datadog|datadoghq)/agent(?:[:@]|$)")


def is_datadog_agent(props: Props) -> bool:
    """By image name, or by its DD_API_KEY: the image is often a RemoteImage's sha256 id."""
    image = props.get("image")
    if isinstance(image, str) and _AGENT_IMAGE.search(image):
        return True
    envs = props.get("envs")
    return _is_list(envs) and any(isinstance(env, str) and env.startswith("DD_API_KEY=")
                                  for env in envs)


def validate_agent_mounts_read_only(resource_type: str, props: Props) -> list[str]:
    """The Datadog Agent's host paths are mounted read-only."""
    if resource_type != CONTAINER or not is_datadog_agent(props):
        return []
    problems = []
    for volume in _items(props, "volumes"):
        host_path = _known(volume.get("hostPath"), "volumes", "hostPath")
        if host_path and not _is_true(_known(volume.get("readOnly"), "volumes", "readOnly")):
            problems.append(f"host path {host_path!r} is mounted read-write into the Datadog "
                            "Agent: set read_only=True (the Agent only reads the host)")
    for mount in _items(props, "mounts"):
        if _known(mount.get("type"), "mounts", "type") != "bind":
            continue
        if not _is_true(_known(mount.get("readOnly"), "mounts", "readOnly")):
            problems.append(f"bind mount of {mount.get('source')!r} into the Datadog Agent is "
                            "read-write: set read_only=True")
    return problems


# ---------------------------------------------------------------------------------------------
# Monitoring rules


_HANDLE = re.compile(r"(?<![\w.+-])@[A-Za-z0-9_][\w.+-]*")


def validate_monitor_notifies(resource_type: str, props: Props) -> list[str]:
    """Monitors notify on missing data and name at least one recipient."""
    if resource_type != MONITOR:
        return []
    problems = []
    monitor_type = _known(props.get("type"), "type")
    if monitor_type in NO_DATA_MONITOR_TYPES or monitor_type is None:
        if not _is_true(_known(props.get("notifyNoData"), "notifyNoData")):
            problems.append("notify_no_data is not true: a host or check that stops reporting "
                            "would never alert; set notify_no_data=True")
        timeframe = _known(props.get("noDataTimeframe"), "noDataTimeframe")
        try:
            has_timeframe = timeframe is not None and float(timeframe) > 0
        except (TypeError, ValueError):
            has_timeframe = False
        if not has_timeframe:
            problems.append("no_data_timeframe is not set: give the minutes of silence after "
                            "which the monitor alerts (e.g. no_data_timeframe=10)")
    message = _known(props.get("message"), "message")
    if not isinstance(message, str) or not _HANDLE.search(message):
        problems.append("the message names no recipient: add an @-handle "
                        "(@you@example.com, @slack-channel, @pagerduty-service)")
    return problems


def validate_no_ssh_under_session_manager(resource_type: str, props: Props) -> list[str]:
    """A security group tagged hostAccess=ssm admits nothing, from anywhere, on port 22."""
    if resource_type == SECURITY_GROUP:
        entries = [(f"ingress[{index}]", entry, "protocol")
                   for index, entry in enumerate(_items(props, "ingress"))]
    elif resource_type == INGRESS_RULE:
        entries = [("the ingress rule", props, "ipProtocol")]
    else:
        return []
    tags = _known(props.get("tags"), "tags")
    if not isinstance(tags, Mapping) or tags.get(ACCESS_TAG) != "ssm":
        return []
    return [(f"{where} admits port 22 although hosts are reached through Session Manager "
             f"({ACCESS_TAG}=ssm): remove it, no SSH port needs to be open")
            for where, entry, protocol_key in entries
            if SSH_PORT in _exposed_admin_ports(_known(entry.get(protocol_key), protocol_key),
                                                _port(entry.get("fromPort"), "fromPort"),
                                                _port(entry.get("toPort"), "toPort"))]


# ---------------------------------------------------------------------------------------------
# Hygiene rules (advisory)


def _rule_description_missing(entry: Mapping[str, Any], key: str = "description") -> bool:
    description = _known(entry.get(key), key)
    return not (isinstance(description, str) and description.strip())


def validate_rules_described(resource_type: str, props: Props) -> list[str]:
    """Every security-group rule says why it exists."""
    if resource_type == SECURITY_GROUP:
        return [f"{direction}[{index}] has no description: say who or what it admits"
                for direction in ("ingress", "egress")
                for index, entry in enumerate(_items(props, direction))
                if _rule_description_missing(entry)]
    if resource_type in (SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE) \
            and _rule_description_missing(props):
        return ["the security-group rule has no description: say who or what it admits"]
    return []


def validate_tags(resource_type: str, props: Props) -> list[str]:
    """`project` and `stack` tags on every taggable AWS resource."""
    if not resource_type.startswith("aws:"):
        return []
    tags = _known(props.get("tags"), "tags")
    if tags is None:
        if resource_type in TAGGABLE_TYPES:
            return [f"no tags: add {' and '.join(REQUIRED_TAGS)} tags (e.g. tags=settings.tags(name))"]
        return []
    if not isinstance(tags, Mapping):
        return []
    missing = [key for key in REQUIRED_TAGS
               if not (isinstance(tags.get(key), str) and tags[key].strip())
               and not is_unknown(tags.get(key))]
    if missing:
        return [(f"missing tag(s) {', '.join(missing)}: every AWS resource carries project and "
                 "stack tags, so costs and leftovers can be traced to their stack")]
    return []


def validate_no_deprecated_downtime(resource_type: str, props: Props) -> list[str]:
    """`datadog.Downtime` (API v1) is deprecated."""
    if resource_type != DOWNTIME:
        return []
    return [("datadog.Downtime is deprecated: use datadog.DowntimeSchedule "
             "(monitor_identifier + recurring_schedule)")]


# ---------------------------------------------------------------------------------------------
# The rule set


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    validate: Validator
    enforcement: EnforcementLevel
    severity: Severity


RULES: tuple[Rule, ...] = (
    Rule("ec2-imdsv2-required", "EC2 instances require IMDSv2 session tokens.",
         validate_imdsv2, EnforcementLevel.MANDATORY, Severity.HIGH),
    Rule("ebs-volumes-encrypted", "Instance root/EBS block devices and EBS volumes are encrypted.",
         validate_encrypted_volumes, EnforcementLevel.MANDATORY, Severity.HIGH),
    Rule("no-admin-ports-from-anywhere",
         "No ingress from 0.0.0.0/0 or ::/0 to SSH, PostgreSQL, the Docker API or the trace port.",
         validate_no_open_admin_ports, EnforcementLevel.MANDATORY, Severity.CRITICAL),
    Rule("no-secrets-in-user-data", "User-data holds no secret-looking value.",
         validate_no_secrets_in_user_data, EnforcementLevel.MANDATORY, Severity.CRITICAL),
    Rule("ec2-instance-has-role", "EC2 instances have an IAM instance profile.",
         validate_instance_role, EnforcementLevel.MANDATORY, Severity.MEDIUM),
    Rule("datadog-agent-mounts-read-only",
         "The Datadog Agent container mounts host paths read-only.",
         validate_agent_mounts_read_only, EnforcementLevel.MANDATORY, Severity.HIGH),
    Rule("monitor-notifies-on-no-data",
         "Datadog monitors notify on missing data and name a recipient.",
         validate_monitor_notifies, EnforcementLevel.MANDATORY, Severity.MEDIUM),
    Rule("no-ssh-ingress-under-session-manager",
         "Hosts reached through Session Manager (security group tag hostAccess=ssm) admit nothing on port 22.",
         validate_no_ssh_under_session_manager, EnforcementLevel.ADVISORY, Severity.MEDIUM),
    Rule("security-group-rules-described", "Every security-group rule has a description.",
         validate_rules_described, EnforcementLevel.ADVISORY, Severity.LOW),
    Rule("aws-project-stack-tags", "Taggable AWS resources carry `project` and `stack` tags.",
         validate_tags, EnforcementLevel.ADVISORY, Severity.LOW),
    Rule("no-deprecated-datadog-downtime", "datadog.Downtime is deprecated; use DowntimeSchedule.",
         validate_no_deprecated_downtime, EnforcementLevel.ADVISORY, Severity.LOW),
)


def violations(resource_type: str, props: Props) -> list[tuple[str, str]]:
    """Every rule's violations for one resource, as (rule name, message)."""
    return [(rule.name, message) for rule in RULES for message in rule.validate(resource_type, props)]


def to_policy(rule: Rule) -> ResourceValidationPolicy:
    """`rule` as a CrossGuard policy; its validator sees plain data, unknowns as sentinels."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.validate(args.resource_type, _plain(args.props)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=rule.enforcement,
        severity=rule.severity,
    )


def policies() -> list[ResourceValidationPolicy]:
    return [to_policy(rule) for rule in RULES]
