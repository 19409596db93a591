"""The stack's settings: every config key read, checked and typed in one place.

`load_settings()` runs before any resource is declared. Every bad or missing value is collected
and reported together in one `SettingsError` that names the key and says how to fix it, so a
user fixes their config in one pass and nothing half-exists in the cloud.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi

from components.design import DATADOG_SITES
from components.host_access import ACCESS_MODES

DEFAULT_AGENT_VERSION = "7.83.1"
# What EC2 ImportKeyPair takes: RSA and ED25519 only (AWS EC2 API reference, ImportKeyPair; moto's
# ImportKeyPair refuses ECDSA with InvalidKeyPair.Format, as EC2 does).
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa")
# Valid OpenSSH key types EC2 refuses: named in the error, with the fix.
EC2_REFUSED_KEY_TYPES = ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                         "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
MAX_HOSTS = 10
MIN_CHECK_INTERVAL = 15  # the Agent's scheduler runs checks every 15 s at most
MAX_DEMO_TRAFFIC = 600  # requests per minute: enough to fill APM graphs, far from a load test


class SettingsError(pulumi.RunError):
    """Bad stack configuration; the message lists every problem and its fix."""


@dataclass(frozen=True)
class QuietWindow:
    """The nightly window, Monday to Friday, in which the monitor is silenced."""

    start: time
    end: time


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    region: str
    # Access
    host_access: str  # "ssm" (through Session Manager, no open port) or "ssh" (port 22)
    ssh_allowed_cidrs: tuple[str, ...]  # empty under ssm unless set (then appAllowedCidrs' default)
    app_allowed_cidrs: tuple[str, ...]
    ssh_public_key: str
    ssh_private_key_path: str
    # Hosts
    host_count: int
    instance_type: str
    ami_id: Optional[str]
    host_tags: tuple[str, ...]
    # Datadog
    datadog_api_key: pulumi.Output
    datadog_app_key: pulumi.Output
    datadog_site: str
    datadog_api_url: Optional[str]  # `datadog:apiUrl`: a Datadog-compatible API instead of the site's
    agent_version: str
    check_interval_seconds: int
    warning_threshold: float
    critical_threshold: float
    no_data_minutes: int
    notify_handles: tuple[str, ...]
    timezone: str
    quiet_hours: QuietWindow
    # Demo traffic: requests per minute from each host's traffic container to its app (0: none)
    demo_traffic: int

    @property
    def name_prefix(self) -> str:
        return f"{self.project}-{self.stack}"

    @property
    def host_names(self) -> tuple[str, ...]:
        """Deterministic, so Datadog scopes can name a host before it exists."""
        return tuple(f"{self.name_prefix}-{index}" for index in range(self.host_count))

    @property
    def env(self) -> str:
        """Datadog's `env`: the `env:` host tag, else the stack name."""
        return next((t.split(":", 1)[1] for t in self.host_tags if t.startswith("env:")), self.stack)

    @property
    def parameter_prefix(self) -> str:
        """This stack's own SSM parameter path; the hosts may read under it and nowhere else."""
        return f"/{self.project}/{self.stack}"

    def tags(self, name: str) -> dict[str, str]:
        """AWS tags for a resource: what it is, and which project and stack own it."""
        return {"Name": name, "project": self.project, "stack": self.stack}


# ---------------------------------------------------------------------------------------------
# Parsing helpers: each returns a value or raises ValueError with the fix in its message.


# Where Pulumi keeps a stack's settings, each user's own file (Pulumi.yaml's stackConfigDir,
# gitignored): a hint never sends a personal value towards the tracked Pulumi.<stack>.yaml.
OWN_SETTINGS_FILE = ".pulumi-user/Pulumi.{stack}.yaml"


def _set_hint(key: str, example: str, stack: str, secret: bool = False) -> str:
    """How to set a per-user `key`: make up, which asks, or the command (into the user's own file).

    A list key's example carries its own `--path 'key[0]'`. A secret is never on the command line
    (shell history, the process list): `pulumi config set --secret KEY` asks for it, hidden.
    """
    make_up = "`make up`" if stack == "test" else f"`make up STACK={stack}`"
    if secret:
        command = f"`pulumi config set --stack {stack} --secret {key}` (asks for it, hidden)"
    else:
        args = example if example.startswith("--path") else f"{key} {example}"
        command = f"`pulumi config set --stack {stack} {args}`"
    return f"{make_up}, which asks for it, or {command}; either writes {OWN_SETTINGS_FILE.format(stack=stack)}"


def _parse_list(raw: str) -> list:
    """A config list: a YAML/JSON list (as `--path 'key[0]'` writes), or a comma/space string."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, str):
        value = [v for v in re.split(r"[\s,]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")
    return value


def _parse_cidrs(raw: str, *, allow_open: bool) -> tuple[str, ...]:
    cidrs = _parse_list(raw)
    if not cidrs:
        raise ValueError("must name at least one CIDR")
    for cidr in cidrs:
        if "/" not in cidr:
            raise ValueError(f"'{cidr}' has no prefix length; write '{cidr}/32' for one IPv4 "
                             f"address or '{cidr}/128' for one IPv6 address")
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as error:
            hint = ""
            try:
                hint = f"; did you mean '{ipaddress.ip_network(cidr, strict=False)}'?"
            except ValueError:
                pass
            raise ValueError(f"'{cidr}' is not a valid CIDR ({error}){hint}") from None
        if network.prefixlen == 0 and not allow_open:
            raise ValueError(f"'{cidr}' opens SSH to the whole internet; list only your own "
                             "addresses (e.g. 'x.x.x.x/32' from `curl -s https://checkip.amazonaws.com`)")
    return tuple(cidrs)


def _parse_host_access(raw: str) -> str:
    if raw not in ACCESS_MODES:
        raise ValueError(f"'{raw}' is neither 'ssm' (through AWS Systems Manager, no open port; the "
                         "default) nor 'ssh' (port 22 open to sshAllowedCidrs); e.g. "
                         "`pulumi config set hostAccess ssm`")
    return raw


def _parse_public_key(raw: str) -> str:
    line = raw.strip()
    if "PRIVATE KEY" in line:
        raise ValueError("holds a PRIVATE key; set the public key instead, e.g. "
                         "`pulumi config set sshPublicKey \"$(cat ~/.ssh/id_ed25519.pub)\"`")
    parts = line.split()
    if parts and parts[0] in EC2_REFUSED_KEY_TYPES:
        raise ValueError(f"is a '{parts[0]}' key, which EC2 cannot import (ImportKeyPair takes RSA "
                         "and ED25519 keys only); create an ed25519 pair with "
                         "`ssh-keygen -t ed25519` and set its `.pub` line")
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValueError(f"is not an OpenSSH public key line ('<type> <base64> [comment]' with type "
                         f"one of {', '.join(SSH_KEY_TYPES)}); use the contents of your `.pub` file")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ValueError("has a key body that is not valid base64; copy the whole `.pub` line") from None
    declared_type = blob[4:4 + int.from_bytes(blob[:4], "big")] if len(blob) > 4 else b""
    if declared_type != parts[0].encode():
        raise ValueError(f"has a key body that does not match its type '{parts[0]}'; "
                         "copy the whole `.pub` line unchanged")
    return line


def _parse_private_key_path(raw: str) -> str:
    """The path as written (`~` kept, so it reads the same on every operator's machine)."""
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ValueError(f"'{path}' does not exist; point it at the private key matching "
                         "sshPublicKey (pulumi-docker reaches each host over SSH with it), or create "
                         "a pair with `ssh-keygen -t ed25519`")
    return raw


def _parse_int(raw: str, low: int, high: int, meaning: str = "") -> int:
    """A whole number in low..high; `meaning` (e.g. " requests per minute") ends the hint."""
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a whole number; use {low}..{high}{meaning}") from None
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range; use {low}..{high}{meaning}")
    return value


def _parse_number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"'{raw}' is not a finite number")
    return value


def _parse_pattern(pattern: str, what: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not re.fullmatch(pattern, raw):
            raise ValueError(f"'{raw}' is not {what}")
        return raw
    return parse


_TAG = re.compile(r"[a-zA-Z][\w\-./]*:[\w\-./:]+")


def _parse_tags(raw: str) -> tuple[str, ...]:
    tags = _parse_list(raw)
    for tag in tags:
        if not _TAG.fullmatch(tag) or len(tag) > 200:
            raise ValueError(f"'{tag}' is not a Datadog 'key:value' tag (key starts with a letter; "
                             "letters, digits, '_', '-', '.', '/' and ':' only)")
    return tuple(tags)


def _parse_timezone(raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{raw}' is not an IANA time zone; use a name like "
                         "'America/New_York' or 'Europe/Paris'") from None
    return raw


def _parse_handles(raw: str) -> tuple[str, ...]:
    handles = _parse_list(raw)
    if not handles:
        raise ValueError("must name at least one recipient")
    for handle in handles:
        if not re.fullmatch(r"@\S+", handle):
            raise ValueError(f"'{handle}' is not a Datadog notification handle; each starts with "
                             "'@', e.g. '@you@example.com' or '@slack-ops'")
    return tuple(handles)


def _parse_quiet_hours(raw: str) -> QuietWindow:
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", raw.strip())
    if not match:
        raise ValueError(f"'{raw}' is not 'HH:MM-HH:MM' (24-hour clock), e.g. '19:00-09:00'")
    h1, m1, h2, m2 = map(int, match.groups())
    if (h1, m1) == (h2, m2):
        raise ValueError(f"'{raw}' starts and ends at the same minute; give a real window")
    return QuietWindow(time(h1, m1), time(h2, m2))


# ---------------------------------------------------------------------------------------------

KNOWN_KEYS = (
    "hostAccess", "sshAllowedCidrs", "sshPublicKey", "sshPrivateKeyPath", "appAllowedCidrs",
    "hostCount", "instanceType", "amiId", "hostTags", "timezone", "datadogSite", "agentVersion",
    "checkIntervalSeconds", "warningThreshold", "criticalThreshold", "noDataMinutes",
    "notifyHandles", "quietHours", "demoTraffic",
)


def load_settings() -> Settings:
    """Read and check all configuration; raise one SettingsError listing every problem."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    config = pulumi.Config()
    problems: list[str] = []

    def read(key: str, parse: Callable[[str], Any], *, default: Any = None, example: str = "",
             required: bool = False, why: str = "", default_raw: Optional[str] = None) -> Any:
        """The parsed value of `key`; a problem is recorded (and `default` returned) if bad."""
        raw = config.get(key)
        if raw is None and default_raw is None:
            if required:
                problems.append(f"{key}: required{why}; set it with {_set_hint(key, example, stack)}")
            return default
        try:
            return parse(default_raw if raw is None else raw)
        except ValueError as error:
            unset = f" (unset, so the default '{default_raw}' was used)" if raw is None else ""
            problems.append(f"{key}{unset}: {error}")
            return default

    region = pulumi.Config("aws").get("region") or os.environ.get("AWS_REGION") \
        or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        problems.append(f"aws:region: required; set it with {_set_hint('aws:region', 'us-east-2', stack)}")
    elif not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        problems.append(f"aws:region: '{region}' is not an AWS region name like 'us-east-2'")

    host_access = read("hostAccess", _parse_host_access, default_raw="ssm")
    # Under ssm no port 22 is open: the SSH CIDRs then only serve as the app's default, if set.
    ssh_cidrs = read("sshAllowedCidrs", lambda raw: _parse_cidrs(raw, allow_open=False),
                     required=host_access == "ssh", why=" when hostAccess is 'ssh'", default=(),
                     example="--path 'sshAllowedCidrs[0]' 203.0.113.10/32")
    app_cidrs = read("appAllowedCidrs", lambda raw: _parse_cidrs(raw, allow_open=True),
                     default=ssh_cidrs,
                     required=host_access == "ssm" and config.get("sshAllowedCidrs") is None,
                     why=" (who may reach the demo app on port 80) unless sshAllowedCidrs is set",
                     example="--path 'appAllowedCidrs[0]' 203.0.113.10/32")
    public_key = read("sshPublicKey", _parse_public_key, required=True,
                      example="\"$(cat ~/.ssh/id_ed25519.pub)\"")
    private_key_path = read("sshPrivateKeyPath", _parse_private_key_path,
                            default_raw="~/.ssh/id_ed25519")
    host_count = read("hostCount", lambda raw: _parse_int(raw, 1, MAX_HOSTS), default=1)
    instance_type = read("instanceType", _parse_pattern(
        r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type like 't3.micro'"), default="t3.micro")
    ami_id = read("amiId", _parse_pattern(
        r"ami-[0-9a-f]{8}([0-9a-f]{9})?", "an AMI id like 'ami-0123456789abcdef0'"))
    default_tags = ("tier:database", f"env:{stack}", f"region:{region}", "role:database",
                    f"name:{project}-{stack}")
    host_tags = read("hostTags", _parse_tags, default=default_tags)
    timezone = read("timezone", _parse_timezone, default="America/New_York")

    site = read("datadogSite", _parse_pattern(
        "|".join(map(re.escape, DATADOG_SITES)), f"a Datadog site ({', '.join(DATADOG_SITES)})"),
        default="datadoghq.com")
    agent_version = read("agentVersion", _parse_pattern(
        r"7\.\d{1,3}\.\d{1,3}", "an exact Agent 7 version like '7.83.1' (no 'latest': a pinned "
        "image never changes under a running host)"), default=DEFAULT_AGENT_VERSION)
    check_interval = read("checkIntervalSeconds",
                          lambda raw: _parse_int(raw, MIN_CHECK_INTERVAL, 3600), default=45)
    warning = read("warningThreshold", _parse_number, default=500.0)
    critical = read("criticalThreshold", _parse_number, default=800.0)
    if warning is not None and critical is not None and not warning < critical:
        problems.append(f"warningThreshold: {warning:g} must be below criticalThreshold "
                        f"({critical:g}); lower warningThreshold or raise criticalThreshold")
    no_data = read("noDataMinutes", lambda raw: _parse_int(raw, 2, 1440), default=10)
    handles = read("notifyHandles", _parse_handles, required=True, default=(),
                   example="--path 'notifyHandles[0]' @you@example.com")
    quiet_hours = read("quietHours", _parse_quiet_hours, default=QuietWindow(time(19), time(9)))
    demo_traffic = read("demoTraffic", lambda raw: _parse_int(
        raw, 0, MAX_DEMO_TRAFFIC, " requests per minute (0: no traffic container)"), default=30)

    datadog_api_url = None
    raw_api_url = pulumi.Config("datadog").get("apiUrl")
    if raw_api_url is not None:
        if re.fullmatch(r"https?://[^/\s]+/", raw_api_url):
            datadog_api_url = raw_api_url
        else:
            problems.append(f"datadog:apiUrl: '{raw_api_url}' must be a base URL like "
                            "https://api.datadoghq.com/ (scheme, host, trailing slash, no path); "
                            "or remove it to use datadogSite's API")

    api_key = _datadog_key(config_key="apiKey", env="DD_API_KEY", stack=stack, problems=problems)
    app_key = _datadog_key(config_key="appKey", env="DD_APP_KEY", stack=stack, problems=problems)

    problems.extend(_unknown_keys(project))
    if problems:
        raise SettingsError(
            f"Stack '{stack}' of {project} has configuration problems; nothing was created:\n"
            + "\n".join(f"  - {p}" for p in problems))

    return Settings(
        project=project, stack=stack, region=region, host_access=host_access,
        ssh_allowed_cidrs=ssh_cidrs, app_allowed_cidrs=app_cidrs,
        ssh_public_key=public_key, ssh_private_key_path=private_key_path,
        host_count=host_count, instance_type=instance_type, ami_id=ami_id, host_tags=host_tags,
        datadog_api_key=api_key, datadog_app_key=app_key, datadog_site=site,
        datadog_api_url=datadog_api_url,
        agent_version=agent_version, check_interval_seconds=check_interval,
        warning_threshold=warning, critical_threshold=critical, no_data_minutes=no_data,
        notify_handles=handles, timezone=timezone, quiet_hours=quiet_hours,
        demo_traffic=demo_traffic,
    )


def _datadog_key(*, config_key: str, env: str, stack: str, problems: list[str]) -> Optional[pulumi.Output]:
    """A Datadog key as a Pulumi secret: `datadog:<key>` config, else the environment."""
    value = pulumi.Config("datadog").get_secret(config_key)
    if value is not None:
        return value
    if os.environ.get(env):
        return pulumi.Output.secret(os.environ[env])
    problems.append(f"datadog:{config_key}: required; set it with "
                    f"{_set_hint('datadog:' + config_key, '', stack, secret=True)}, or export {env}")
    return None


def _unknown_keys(project: str) -> list[str]:
    """Catch typos: a misspelt key would otherwise be silently ignored."""
    from pulumi.runtime.config import CONFIG, get_config_env

    problems = []
    for full_key in {**get_config_env(), **CONFIG.get()}:
        namespace, _, key = full_key.partition(":")
        if namespace == project and key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"{key}: not a setting of this project{hint} Remove it with "
                            f"`pulumi config rm {key}`")
    return problems
