"""The explicit Datadog provider. Site facts (`api_url`, `app_url`) live in components/design.py,
which the operator tools read too; they are re-exported here for the components."""

from __future__ import annotations

import re

import pulumi
import pulumi_datadog as datadog

from components.design import DATADOG_SITES, api_url, app_url

__all__ = ["DATADOG_SITES", "api_url", "app_url", "datadog_provider"]


def datadog_provider(name: str, *, api_key: pulumi.Input[str], app_key: pulumi.Input[str], site: str,
                     opts: pulumi.ResourceOptions | None = None) -> datadog.Provider:
    """An explicit provider for `site`, so nothing falls back to ambient DD_* variables.

    The keys are wrapped as secrets again even if the caller already passed secrets: a plain
    string handed in by mistake must not land in the state in clear text.

    Stack config `datadog:apiUrl`, when set, replaces the site's API URL: an explicit per-stack
    choice for a Datadog-compatible endpoint (`make e2e` points it at its local stand-in of the
    API). The provider's own DD_HOST fallback is not used: an ambient variable would redirect the
    keys without the stack saying so.
    """
    return datadog.Provider(
        name,
        api_key=pulumi.Output.secret(api_key),
        app_key=pulumi.Output.secret(app_key),
        api_url=endpoint_override() or api_url(site),
        opts=opts,
    )


def endpoint_override() -> str | None:
    """`datadog:apiUrl` from stack config, checked: an http(s) URL ending in `/`."""
    url = pulumi.Config("datadog").get("apiUrl")
    if url is None:
        return None
    if not re.fullmatch(r"https?://[^/\s]+/", url):
        raise pulumi.RunError(f"datadog:apiUrl: '{url}' must be a base URL like https://api.datadoghq.com/ "
                              "(scheme, host, trailing slash, no path); or remove it to use datadogSite's API")
    return url
