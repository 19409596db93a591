"""A stack's shared settings into your own settings file, before Pulumi reads it.

    venv/bin/python scripts/stack_settings.py STACK

Pulumi reads and writes each stack's settings in <stackConfigDir>/Pulumi.<stack>.yaml
(Pulumi.yaml sets stackConfigDir: .pulumi-user, gitignored): your CIDRs, SSH key, notify
handles, encrypted Datadog keys, and the passphrase salt or KMS data key. The tracked
Pulumi.<stack>.yaml beside Pulumi.yaml holds the settings everyone shares. This copies every
shared key your file lacks into it (so a key added to the shared file reaches everyone on their
next `make up`). On a conflict your value wins: it is what you chose for your deployment (e.g.
hostAccess ssh); each run names the keys where the two differ, with the command that takes the
shared value instead.

A shared file that holds a secrets provider or a secret is no shared file: it is personal
settings Pulumi wrote there before stackConfigDir (the older layout). If you have no settings
file yet, it becomes yours (its secrets stay readable: same salt or key); either way nothing is
copied from it. scripts/deploy.sh and the pull-request preview run this; operator tools never
import the Pulumi SDK, and neither does this (PyYAML only, a dependency of that SDK).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# What Pulumi writes for a stack's secrets provider (sdk/go/common/workspace/project.go, ProjectStack).
PROVIDER_KEYS = ("encryptionsalt", "secretsprovider", "encryptedkey")


def settings_dir(root: Path = ROOT) -> Path:
    """Where Pulumi keeps stack settings files: Pulumi.yaml's stackConfigDir, else beside it."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    return root / project.get("stackConfigDir", ".")


def _secret_keys(config: dict) -> list[str]:
    return [key for key, value in config.items() if isinstance(value, dict) and "secure" in value]


def merge(stack: str, root: Path = ROOT) -> list[str]:
    """Copy shared keys into the stack's own settings file; return the lines to tell the user."""
    shared_path = root / f"Pulumi.{stack}.yaml"
    own_path = settings_dir(root) / f"Pulumi.{stack}.yaml"
    if not shared_path.is_file() or shared_path.resolve() == own_path.resolve():
        return []
    shared_name, own_name = shared_path.relative_to(root), own_path.relative_to(root)
    shared = yaml.safe_load(shared_path.read_text()) or {}
    own = (yaml.safe_load(own_path.read_text()) or {}) if own_path.is_file() else None

    personal = [key for key in PROVIDER_KEYS if shared.get(key)]
    personal += _secret_keys(shared.get("config") or {})
    if personal:
        undo = (f"`git checkout -- {shared_name}` restores the shared file" if shared_name.name == "Pulumi.test.yaml"
                else f"delete {shared_name}")
        if own is None:
            own_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write(own_path, shared)
            return [f"{shared_name} held your personal settings ({', '.join(personal)}; the older "
                    f"layout): they are now in {own_name}, where Pulumi reads them; {undo}"]
        return [f"{shared_name} holds personal settings ({', '.join(personal)}; the older layout), "
                f"so nothing was copied from it; yours are in {own_name}: {undo}"]

    own = own or {}
    own_config = own.get("config") or {}
    added, differ = [], []
    for key, value in (shared.get("config") or {}).items():
        if key not in own_config:
            own_config[key] = value
            added.append(key)
        elif own_config[key] != value:
            differ.append(key)
    lines = []
    if added:
        own["config"] = own_config
        own_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write(own_path, own)
        lines.append(f"shared settings of {shared_name} copied into {own_name}: {', '.join(added)}")
    for key in differ:
        lines.append(f"{key}: your {own_name} says {_show(own_config[key])}, the shared {shared_name} "
                     f"{_show(shared['config'][key])}; yours is used (`pulumi config rm --stack {stack} "
                     f"{key}`, then make up, takes the shared one)")
    return lines


def _show(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...")


def _write(path: Path, data: dict) -> None:
    """The whole file at once, readable by you alone (it holds the salt and encrypted keys)."""
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    partial.replace(path)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: stack_settings.py STACK", file=sys.stderr)
        return 2
    try:
        lines = merge(argv[0])
    except yaml.YAMLError as error:
        print(f"deploy: cannot read a settings file of stack '{argv[0]}': {error}", file=sys.stderr)
        return 1
    for line in lines:
        print(f"deploy: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
