"""The explicit Datadog provider. Site facts (`api_url`, `app_url`) live in components/design.py,
which the operator tools read too; they are re-exported here for the components."""

from __future__ import annotations

import pulumi
import pulumi_datadog as datadog

from components.design import DATADOG_SITES, api_url, app_url

__all__ = ["DATADOG_SITES", "api_url", "app_url", "datadog_provider"]


def datadog_provider(name: str, *, api_key: pulumi.Input[str], app_key: pulumi.Input[str], site: str,
                     opts: pulumi.ResourceOptions | None = None) -> datadog.Provider:
    """An explicit provider for `site`, so nothing falls back to ambient DD_* variables.

    The keys are wrapped as secrets again even if the caller already passed secrets: a plain
    string handed in by mistake must not land in the state in clear text.
    """
    return datadog.Provider(
        name,
        api_key=pulumi.Output.secret(api_key),
        app_key=pulumi.Output.secret(app_key),
        api_url=api_url(site),
        opts=opts,
    )
