"""Fixed facts of the design that several pieces must agree on (no Pulumi import: the host-side
tests' environment and the operator tools in ops/ read them too)."""

VPC_CIDR = "10.42.0.0/16"
SUBNET_CIDR = "10.42.1.0/24"
# The user-defined Docker network the Agent and app containers share. PostgreSQL on the host
# trusts the Agent's connections from this subnet only, reached at its gateway address.
AGENT_NETWORK_NAME = "dd-assessment"
AGENT_NETWORK_CIDR = "172.30.0.0/24"
AGENT_NETWORK_GATEWAY = "172.30.0.1"
AGENT_CONTAINER_NAME = "datadog-agent"  # the app's tracer finds the Agent by this name
TRACE_PORT = 8126
POSTGRES_PORT = 5432
APP_PORT = 80
# Every container we run logs to Docker's json-file driver, rotated: at most 3 x 10 MB each on
# the host's disk, whatever the daemon's default (json-file never rotates by default).
CONTAINER_LOG_DRIVER = "json-file"
CONTAINER_LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
# Every site parameter Datadog documents ("Getting Started with Datadog Sites").
DATADOG_SITES = (
    "datadoghq.com",       # US1
    "us3.datadoghq.com",   # US3
    "us5.datadoghq.com",   # US5
    "datadoghq.eu",        # EU1
    "ap1.datadoghq.com",   # AP1
    "ap2.datadoghq.com",   # AP2
    "ddog-gov.com",        # US1-FED
    "us2.ddog-gov.com",    # US2-FED
    "uk1.datadoghq.com",   # UK1
)

# The sites whose web app lives under an `app.` host; the others serve it on the site host.
# From Datadog's "Getting Started with Datadog Sites" table (site parameter -> site URL): the API
# host is `api.<site>` everywhere, but only US1, EU1 and US1-FED carry the `app.` label; US3, US5,
# AP1, AP2 and UK1 serve the app on the site host itself (`https://us5.datadoghq.com`).
_APP_PREFIXED = frozenset({"datadoghq.com", "datadoghq.eu", "ddog-gov.com"})


def check_site(site: str) -> str:
    if site not in DATADOG_SITES:
        raise ValueError(f"unknown Datadog site {site!r}; expected one of {', '.join(DATADOG_SITES)}")
    return site


def api_url(site: str) -> str:
    """The provider's `api_url` for a site, e.g. `https://api.datadoghq.com/`.

    The trailing slash and no `/api/` path are what the provider documents as correct.
    """
    return f"https://api.{check_site(site)}/"


def app_url(site: str) -> str:
    """The web app's base URL for a site, without a trailing slash (`https://us5.datadoghq.com`)."""
    host = f"app.{site}" if check_site(site) in _APP_PREFIXED else site
    return f"https://{host}"


def docker_duration(seconds: int) -> str:
    """A whole-second duration in the one form the Docker provider reads back.

    pulumi-docker (kreuzwerker/terraform-provider-docker underneath) parses a container's
    healthcheck durations with Go's time.ParseDuration and stores what it reads from Docker as
    time.Duration.String() (internal/provider/resource_docker_container_funcs.go, the
    `healthcheck` flattening): `60s` comes back `1m0s`, a diff after every `up`. Declared in
    that form, read-back and declaration agree.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ValueError(f"a duration is a whole, non-negative number of seconds, got {seconds!r}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
