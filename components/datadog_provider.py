"""The explicit Datadog provider and the facts about Datadog sites the other components need.

Sites and URLs are from Datadog's "Getting Started with Datadog Sites" table (site parameter ->
site URL). The API host is `api.<site>` everywhere, but the web app is not `app.<site>` everywhere:
US3, US5, AP1, AP2 and UK1 serve the app on the site host itself (`https://us5.datadoghq.com`),
only US1, EU1 and US1-FED carry the `app.` label. Links built as `https://app.<site>` would be
dead on half the sites, hence `app_url`.
"""

from __future__ import annotations

import pulumi
import pulumi_datadog as datadog

from components.design import DATADOG_SITES

# The sites whose web app lives under an `app.` host; the others serve it on the site host.
_APP_PREFIXED = frozenset({"datadoghq.com", "datadoghq.eu", "ddog-gov.com"})


def _check_site(site: str) -> str:
    if site not in DATADOG_SITES:
        raise ValueError(f"unknown Datadog site {site!r}; expected one of {', '.join(DATADOG_SITES)}")
    return site


def api_url(site: str) -> str:
    """The provider's `api_url` for a site, e.g. `https://api.datadoghq.com/`.

    The trailing slash and no `/api/` path are what the provider documents as correct.
    """
    return f"https://api.{_check_site(site)}/"


def app_url(site: str) -> str:
    """The web app's base URL for a site, without a trailing slash (`https://us5.datadoghq.com`)."""
    host = f"app.{site}" if _check_site(site) in _APP_PREFIXED else site
    return f"https://{host}"


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
