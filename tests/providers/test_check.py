"""Every resource the program declares for command, random, time, datadog and docker, for 1 and 3
hosts, passes its real provider's CheckConfig, Configure and Check.

Catches: an input a provider's schema or validators refuse (a downtime `start` without seconds,
refused by terraform-provider-datadog's `validators.TimeFormatValidator` with layout
`2006-01-02T15:04:05` in datadog/fwprovider/resource_datadog_downtime_schedule.go; a wrong type,
an unknown property, a missing required one), and a provider configuration it refuses.

Each provider resource gets a plugin process of its own, as the engine does. CheckConfig sees
the provider inputs exactly as declared; Configure gets them with what must point at this
machine replaced: the Datadog provider's `apiUrl` -> the stand-in API
(tests/providers/datadog_api_standin.py), the Docker provider's `host` -> a private dockerd
(it pings its daemon when configured) without `sshOpts` (nothing to SSH to).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.providers.declared import PROVIDERS
from tests.providers.plugin import ProviderError


def configured_inputs(provider, standin_url: str, docker_host: str) -> dict:
    inputs = dict(provider.inputs)
    if provider.package == "datadog":
        inputs["apiUrl"] = standin_url
    if provider.package == "docker":
        inputs["host"] = docker_host
        inputs.pop("sshOpts", None)
    return inputs


@pytest.mark.parametrize("package", PROVIDERS)
def test_every_declared_resource_passes_its_providers_checks(package, program, plugins, datadog_api, dockerd):
    count, resources, _ = program
    mine = [r for r in resources if r.package == package]
    assert mine, f"the program declares no {package} resource for {count} host(s)"
    by_provider = defaultdict(list)
    for resource in mine:
        by_provider[resource.provider.key].append(resource)
    if package == "docker":
        assert len(by_provider) == count, f"one Docker provider per host: {sorted(by_provider)}"

    failures = []
    for provider_key, declared in by_provider.items():
        provider = declared[0].provider
        plugin = plugins(package)
        _, config_failures = plugin.check_config(provider.inputs, provider.name)
        if config_failures:
            failures.append(f"CheckConfig of provider {provider_key}: {config_failures}")
            continue
        try:
            plugin.configure(configured_inputs(provider, datadog_api.url, dockerd.host), provider.name)
        except ProviderError as error:
            failures.append(f"Configure of provider {provider_key}: {error}")
            continue
        for resource in declared:
            _, check_failures = plugin.check(resource.typ, resource.name, resource.inputs)
            if check_failures:
                failures.append(f"Check of {resource.typ} {resource.name}: {check_failures}")
    assert not failures, "\n".join(failures)
    assert datadog_api.api.rejected == [], datadog_api.api.rejected


def test_aws_resources_are_skipped_by_name_and_nothing_else(program):
    """The only resources this suite does not judge are aws:* (no buildable plugin): listed."""
    _, resources, skipped = program
    assert skipped and all(line.startswith("aws:") for line in skipped), skipped
    assert {r.package for r in resources} == set(PROVIDERS)
