"""Every resource the real program declares, with the provider that would receive it.

Runs `__main__.py` under Pulumi's mocks (tests/harness.py) for a `hostCount` and keeps, for each
custom resource: its type token, name, inputs exactly as the Python SDK sends them to the engine
(camelCase, secrets unwrapped), and its provider: an explicit one (`pulumi:providers:docker`
per host, `pulumi:providers:datadog`) with that provider's own inputs, or the package's default
provider, which the engine configures from stack config (none is set for command, random, time).

Values that are other resources' outputs come from the harness's mocks, which answer with
realistic values (instance ids, an image id, the gate's host key, the monitor's id). One answer
differs here: a pulumiverse-time `Static` reports the moment of evaluation, as the real one does
when it is created, so the downtimes' `start` lies in the future, as the real API requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tests import harness

# The five providers the toolchain builds; aws:* resources are skipped on purpose: pulumi-aws
# cannot be built here (its provider carries dozens of patches to upstream internals, kept only
# in its GitHub repository, see the field notes), so no real AWS plugin exists to judge them.
PROVIDERS = ("command", "random", "time", "datadog", "docker")
SKIPPED_PACKAGES = {"aws": "pulumi-aws is not buildable from Go modules here (field notes)"}


@dataclass(frozen=True)
class Provider:
    package: str
    name: str  # "default" for the package's default provider
    inputs: dict

    @property
    def key(self) -> tuple[str, str]:
        return self.package, self.name


@dataclass(frozen=True)
class Declared:
    typ: str
    name: str
    inputs: dict
    provider: Provider

    @property
    def package(self) -> str:
        return self.typ.split(":", 1)[0]


class _NowMocks(harness.RecordingMocks):
    """The harness's mocks, except that a time `Static` is created now, as the real one is."""

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now

    def new_resource(self, args):
        resource_id, outputs = super().new_resource(args)
        if args.typ == "time:index/static:Static" and not args.inputs.get("rfc3339"):
            stamp = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
            outputs = {**outputs, "rfc3339": stamp, "unix": int(self.now.timestamp())}
        return resource_id, outputs


def _provider_of(reference: str) -> tuple[str, str]:
    """(package, name) of a provider reference `<urn>::<id>`."""
    provider_urn = reference.rsplit("::", 1)[0]
    *_, qualified_type, name = provider_urn.split("::")
    return qualified_type.split("$")[-1].removeprefix("pulumi:providers:"), name


def declared_resources(host_count: int, now: datetime | None = None) -> tuple[list[Declared], list[str]]:
    """(resources for the five providers, names of the resources skipped with the reason)."""
    recorded = harness.evaluate({"hostCount": str(host_count)},
                                mocks=_NowMocks(now or datetime.now(UTC).replace(microsecond=0)))
    providers = {(r.typ.removeprefix("pulumi:providers:"), r.name): Provider(
        r.typ.removeprefix("pulumi:providers:"), r.name, r.props)
        for r in recorded.resources if r.typ.startswith("pulumi:providers:")}
    found, skipped = [], []
    for resource in recorded.resources:
        if not resource.custom or resource.typ.startswith("pulumi:providers:"):
            continue
        package = resource.typ.split(":", 1)[0]
        if package in SKIPPED_PACKAGES:
            skipped.append(f"{resource.typ} {resource.name}: {SKIPPED_PACKAGES[package]}")
            continue
        assert package in PROVIDERS, f"{resource.typ}: a provider this suite does not know"
        provider = providers[_provider_of(resource.provider)] if resource.provider \
            else Provider(package, "default", {})
        assert provider.package == package, (resource.typ, provider)
        found.append(Declared(resource.typ, resource.name, resource.props, provider))
    return found, skipped
