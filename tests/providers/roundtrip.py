"""The engine's steps for one resource: Check, Create, Read (a refresh), then Check and Diff of the
same declared inputs against the read-back state, as the next `pulumi up` after a refresh does.

A provider that rewrites an input on the way back (a duration, a start time, a number) shows
here as a diff; one that rejects an input fails in Check or Create.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi.runtime.proto import provider_pb2

from tests.providers.plugin import Plugin, ProviderError, describe_diff


@dataclass
class Created:
    typ: str
    name: str
    id: str
    state: dict
    inputs: dict


def check_or_fail(plugin: Plugin, typ: str, name: str, inputs: dict, olds: dict | None = None) -> dict:
    checked, failures = plugin.check(typ, name, inputs, olds)
    if failures:
        raise AssertionError(f"{plugin.name} Check of {typ} {name} failed: {failures}")
    return checked


def create_read_diff(plugin: Plugin, typ: str, name: str, inputs: dict) -> tuple[Created, str | None]:
    """Create the resource, read it back, diff the same inputs against what was read:
    (the created resource, None when there is no diff, else the diff described)."""
    checked = check_or_fail(plugin, typ, name, inputs)
    resource_id, state = plugin.create(typ, name, checked)
    read_id, read_state, _ = plugin.read(typ, name, resource_id, state, checked)
    assert read_id == resource_id, f"{typ} {name}: Read answered id {read_id!r}, not {resource_id!r}"
    rechecked = check_or_fail(plugin, typ, name, inputs, olds=checked)
    diff = plugin.diff(typ, name, resource_id, read_state, checked, rechecked)
    created = Created(typ, name, resource_id, read_state, checked)
    none = diff.changes == provider_pb2.DiffResponse.DIFF_NONE and not diff.diffs and not diff.replaces
    return created, None if none else describe_diff(diff)


def delete_all(plugin: Plugin, created: list[Created]) -> list[str]:
    """Delete in reverse order of creation; the errors, if any."""
    errors = []
    for resource in reversed(created):
        try:
            plugin.delete(resource.typ, resource.name, resource.id, resource.state, resource.inputs)
        except ProviderError as error:
            errors.append(str(error))
    return errors
