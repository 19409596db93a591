"""The explicit Datadog provider. Site facts (`api_url`, `app_url`) live in components/design.py,
which the operator tools read too; they are re-exported here for the components."""

from __future__ import annotations

import pulumi
import pulumi_datadog as datadog

from components.design import DATADOG_SITES, api_url, app_url

__all__ = ["DATADOG_SITES", "api_url", "app_url", "datadog_provider"]


def datadog_provider(name: str, *, api_key: pulumi.Input[str], app_key: pulumi.Input[str], site: str,
                     api_url_override: str | None = None,
                     opts: pulumi.ResourceOptions | None = None) -> datadog.Provider:
    """An explicit provider for `site`, so nothing falls back to ambient DD_* variables.

    The keys are wrapped as secrets again even if the caller already passed secrets: a plain
    string handed in by mistake must not land in the state in clear text.

    `api_url_override` (stack config `datadog:apiUrl`, checked by settings), when set, replaces
    the site's API URL: an explicit per-stack choice for a Datadog-compatible endpoint (`make e2e`
    points it at its local stand-in of the API). The provider's own DD_HOST fallback is not used:
    an ambient variable would redirect the keys without the stack saying so.
    """
    return datadog.Provider(
        name,
        api_key=pulumi.Output.secret(api_key),
        app_key=pulumi.Output.secret(app_key),
        api_url=api_url_override or api_url(site),
        opts=opts,
    )

