"""The contract: every dashboard and monitor query selects series the hosts really send.

What each host sends is built from the real components that run here, fed exactly what the
program declares for that host (tests/program_facts.py runs the program under Pulumi's mocks):

- `my_metric`: the uploaded check source and conf, run through datadog_checks.base with its
  aggregator stub; the stub Agent's host name is the container's DD_HOSTNAME, and a submission
  without a host name is the Agent's (as the Go aggregator treats "", see datadog-agent
  pkg/collector/corechecks/containers/generic/processor.go sending "" for its own host).
- PostgreSQL: the uploaded conf.d/postgres.d/conf.yaml. The host name follows the check's rule
  (integrations-core postgres/datadog_checks/postgres/postgres.py, `reported_hostname` and
  `resolved_hostname`): `exclude_hostname` -> none (the Agent's); else `reported_hostname`;
  else datadog_checks.base's own `resolve_db_host(host)`, run inside the Agent's network
  namespace with the name resolution a container on a user-defined Docker network has. Tags:
  the instance's tags through datadog_checks.base's own tag normalisation (which renames generic
  tags when `disable_generic_tags` is on), plus the `server:`/`port:`/`db:` tags the check adds
  (postgres/config.py `build_tags`). Metric names: only those whose queries our prepared
  database really answers for the `datadog` role, logged in with the conf's credentials from the
  Agent's subnet.
- APM: the app run as its image runs it, with the declared DD_SERVICE/DD_ENV/DD_VERSION, sent
  the demo traffic's requests; the spans ddapm-test-agent received imply the trace metrics
  trace.<span>.hits/.errors and the trace.<span> distribution, tagged service, env, version,
  resource_name, under the Agent's host name.
- The Agent's core checks (system.*, container.*): not runnable here. Their names and tags are
  facts from their sources (integrations-core container/metadata.csv; datadog-agent's generic
  container check tags at high cardinality, so container_name is present): see AGENT_CORE.

Not covered: whether Datadog's backend keeps a zero-valued trace.*.errors series (assumed, as
for every APM service page), the values of any metric, and anything about timing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("datadog_checks.base", reason="host tests: run tests/host/run.sh")

from contract import Intake, MetricQuery, Series, TemplateVariable, problems
from datadog_checks.base import AgentCheck
from datadog_checks.base.stubs import aggregator as aggregator_stub
from datadog_checks.base.stubs import datadog_agent
from hostlib import REPO, agent_spans, flask_app, http_get, wait_until

from tests import program_facts

PROGRAM_PYTHON = REPO / "venv" / "bin" / "python"
CONFIG = program_facts.CONTRACT_CONFIG
# The password the mocked RandomPassword yields (tests/harness.py): the conf carries it.
MOCK_PASSWORD = "GeneratedPassw0rdForTestsOnly123"
POSTGRES_CONF = "/conf.d/postgres.d/conf.yaml"
MY_METRIC_CONF = "/conf.d/my_metric.d/conf.yaml"
MY_METRIC_CHECK = "/checks.d/my_metric.py"

# Core Agent checks, per host, as (metric, extra tags): host name "" (the Agent's), no tags of
# their own but what is listed. Sources: datadog-agent pkg/collector/corechecks/system (cpu,
# memory, load, network: system.net.* carry device:<interface>).
AGENT_CORE = (
    ("system.cpu.user", ()), ("system.cpu.system", ()), ("system.mem.used", ()),
    ("system.load.1", ()), ("system.net.bytes_rcvd", ("device:eth0",)),
    ("system.net.bytes_sent", ("device:eth0",)),
)
CONTAINER_METRICS = ("container.cpu.usage", "container.memory.usage")


def _demo_paths() -> tuple[str, ...]:
    """What the demo traffic container requests (app/traffic.py): the APM widgets' series."""
    spec = importlib.util.spec_from_file_location("demo_traffic", REPO / "app" / "traffic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PATHS


DEMO_PATHS = _demo_paths()


# --- what the program declares -------------------------------------------------------------------


@pytest.fixture(scope="module")
def program_run() -> dict | subprocess.Popen:
    """The program's declarations: as the Pulumi suite wrote them (tests/program_facts.py) while
    they still describe the program, else its evaluation under mocks (several seconds: the Pulumi
    SDKs load), started in the background while PostgreSQL and the app start."""
    facts = program_facts.cached(CONFIG)
    if facts is not None:
        yield facts
        return
    if not PROGRAM_PYTHON.exists():
        pytest.fail(f"{PROGRAM_PYTHON} is missing: the program's venv comes from `make test` "
                    "(it runs the Pulumi tests first)")
    process = subprocess.Popen([str(PROGRAM_PYTHON), "-m", "tests.program_facts"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield process
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def declared(program_run) -> dict:
    if isinstance(program_run, dict):
        return program_run
    out, err = program_run.communicate(timeout=120)
    assert program_run.returncode == 0, err[-4000:]
    return json.loads(out)


def _container(host: dict, name: str) -> dict:
    (container,) = [c for c in host["containers"] if c["name"] == name]
    return container


def _agent(host: dict) -> dict:
    (agent,) = [c for c in host["containers"] if c["env"].get("DD_HOSTNAME")]
    return agent


def _host_tags(agent: dict) -> frozenset[str]:
    """The Agent's host tags: DD_TAGS plus env:<DD_ENV> (datadog-agent hosttags/tags.go)."""
    env = agent["env"]
    return frozenset(env.get("DD_TAGS", "").split()) | (
        {f"env:{env['DD_ENV']}"} if env.get("DD_ENV") else set())


# --- my_metric through datadog_checks.base --------------------------------------------------------


def my_metric_series(agent: dict, tmp_path: Path) -> list[Series]:
    source = tmp_path / "my_metric.py"
    source.write_text(agent["uploads"][MY_METRIC_CHECK])
    spec = importlib.util.spec_from_file_location(f"my_metric_{id(agent)}", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (check_class,) = [c for c in vars(module).values() if isinstance(c, type)
                      and issubclass(c, AgentCheck) and c is not AgentCheck]
    conf = yaml.safe_load(agent["uploads"][MY_METRIC_CONF])
    datadog_agent.set_hostname(agent["env"]["DD_HOSTNAME"])
    aggregator_stub.reset()
    check = check_class("my_metric", conf["init_config"], conf["instances"])
    assert check.run() == ""
    return [Series(m.name, m.hostname or datadog_agent.get_hostname(), frozenset(m.tags), "my_metric")
            for m in aggregator_stub.metrics("my_metric")]


# --- PostgreSQL: host-name rule, tags, and what the prepared database answers ----------------------


@pytest.fixture(scope="module")
def agent_network(program_run):
    """A real PostgreSQL prepared by the host's boot script, and the Agent's network namespace
    with a Docker container's name resolution (hosts file of its own, Docker's embedded DNS
    address, which nothing answers here as nothing in Docker's would for an EC2 host name)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: a PostgreSQL cluster run as `postgres` and a network namespace "
                    "(.ci/run runs as root)")
    from tests import postgres_host

    prepared = postgres_host.start(password=MOCK_PASSWORD)
    netns_etc = Path("/etc/netns") / prepared.namespace
    try:
        result = prepared.prepare()
        assert result.returncode == 0, result.stderr
        netns_etc.mkdir(parents=True)
        (netns_etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
                                         "172.30.0.2\t0123456789ab\n")
        (netns_etc / "resolv.conf").write_text("nameserver 127.0.0.11\noptions ndots:0\n")
        yield prepared
    finally:
        shutil.rmtree(netns_etc, ignore_errors=True)
        postgres_host.stop(prepared)


def resolve_db_host_in_agent_network(namespace: str, db_host: str, agent_hostname: str) -> str:
    """datadog_checks.base's resolve_db_host, run where the Agent container resolves names."""
    code = ("import sys\n"
            "from datadog_checks.base.stubs import datadog_agent\n"
            "from datadog_checks.base.utils.db.utils import resolve_db_host\n"
            "datadog_agent.set_hostname(sys.argv[2])\n"
            "print(resolve_db_host(sys.argv[1]))\n")
    result = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", code,
                             db_host, agent_hostname],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def postgres_host_name(instance: dict, agent_hostname: str, namespace: str) -> str:
    if instance.get("exclude_hostname"):
        return agent_hostname  # no host name: the Agent's own applies
    if instance.get("reported_hostname"):
        return instance["reported_hostname"]
    return resolve_db_host_in_agent_network(namespace, instance["host"], agent_hostname)


def postgres_tags(instance: dict) -> frozenset[str]:
    tags = list(instance.get("tags", []))
    if not instance.get("disable_generic_tags"):
        tags.append(f"server:{instance['host']}")
    tags += [f"port:{instance.get('port', 5432)}", f"db:{instance['dbname']}"]
    # datadog_checks.base's own normalisation: with disable_generic_tags, env -> postgres_env.
    check = AgentCheck("postgres", {}, [instance])
    return frozenset(check._normalize_tags_type(tags))


def _answer(prepared, instance: dict, sql: str) -> list[list[str]]:
    """Rows the `datadog` role gets for `sql`, logged in with the conf, from the Agent's subnet."""
    result = prepared.as_agent(sql, user=instance["username"], password=instance["password"],
                               dbname=instance["dbname"], host=instance["host"])
    assert result.returncode == 0, result.stderr
    return [line.split("|") for line in result.stdout.splitlines() if line]


def postgres_series(instance: dict, agent_hostname: str, prepared) -> list[Series]:
    host = postgres_host_name(instance, agent_hostname, prepared.namespace)
    tags = postgres_tags(instance)
    ignored = ["template%", "rdsadmin", "azure_maintenance"] + (
        [] if instance.get("collect_default_database") else ["postgres"])
    per_database = _answer(prepared, instance, (
        "SELECT psd.datname, psd.numbackends FROM pg_stat_database psd "
        "JOIN pg_database pd ON psd.datname = pd.datname WHERE "
        + " AND ".join(f"psd.datname NOT ILIKE '{name}'" for name in ignored)))
    series = [Series("postgresql.connections", host,
                     frozenset(t for t in tags if not t.startswith("db:")) | {f"db:{datname}"},
                     "postgres") for datname, _ in per_database]
    (connections,) = _answer(prepared, instance, (
        "WITH max_con AS (SELECT setting::float FROM pg_settings WHERE name = 'max_connections') "
        "SELECT MAX(setting), SUM(numbackends)/MAX(setting) FROM pg_stat_database, max_con"))
    if all(connections):
        series += [Series("postgresql.max_connections", host, tags, "postgres"),
                   Series("postgresql.percent_usage_connections", host, tags, "postgres")]
    return series


# --- APM: the app's real spans and the trace metrics they imply -----------------------------------


@pytest.fixture(scope="module")
def app_spans(declared, apm_agent, tmp_path_factory, clean_env) -> list[dict]:
    """Spans of the app run with the program's own service tags, sent the demo traffic's paths
    (the shared test agent also holds other tests' spans: only this version's are kept)."""
    app = _container(declared["hosts"][0], "my-flask-app")
    tags = {key: app["env"][key] for key in ("DD_SERVICE", "DD_ENV", "DD_VERSION")}
    agent_port, agent_url, _ = apm_agent
    with flask_app(agent_port, tags, tmp_path_factory.mktemp("app"), clean_env) as (_, url, _):
        for path in DEMO_PATHS:
            assert http_get(f"{url}{path}")[0] == 200, path
        wanted = {f"GET {path}" for path in DEMO_PATHS}

        def ours() -> list[dict]:
            return [s for s in agent_spans(agent_url)
                    if s.get("meta", {}).get("version") == tags["DD_VERSION"]]

        return wait_until(lambda: wanted <= {s.get("resource") for s in ours()} and ours(),
                          timeout=30, interval=0.3, what="the demo paths' spans")


def _tag_value(value: str) -> str:
    """Datadog's tag normalisation, as far as our values need it: lower case, spaces to '_'."""
    return value.lower().replace(" ", "_")


def trace_metric_series(spans: list[dict], agent_hostname: str) -> list[Series]:
    series = []
    for span in spans:
        if span.get("parent_id") not in (0, None):
            continue  # trace metrics come from service-entry spans
        meta = span.get("meta", {})
        tags = frozenset({f"service:{span['service']}", f"env:{meta['env']}",
                          f"version:{meta['version']}",
                          f"resource_name:{_tag_value(span['resource'])}"})
        name = f"trace.{span['name']}"
        series += [Series(f"{name}.hits", agent_hostname, tags, "apm"),
                   Series(f"{name}.errors", agent_hostname, tags, "apm"),
                   Series(name, agent_hostname, tags, "apm")]
    return series


# --- the intake --------------------------------------------------------------------------------


def core_series(host: dict, agent_hostname: str) -> list[Series]:
    series = [Series(metric, agent_hostname, frozenset(tags), "agent core") for metric, tags in AGENT_CORE]
    for container in host["containers"]:
        labels = container["labels"]
        tags = {f"container_name:{container['name']}"} | {
            f"{key.rsplit('.', 1)[1]}:{value}" for key, value in labels.items()
            if key.startswith("com.datadoghq.tags.")}
        series += [Series(metric, agent_hostname, frozenset(tags), "agent core")
                   for metric in CONTAINER_METRICS]
    return series


def build_intake(declared: dict, agent_network, spans: list[dict], tmp_path: Path,
                 postgres_instance=lambda instance: instance) -> Intake:
    intake = Intake()
    for host in declared["hosts"]:
        agent = _agent(host)
        hostname = agent["env"]["DD_HOSTNAME"]
        intake.host_tags[hostname] = _host_tags(agent)
        instance = postgres_instance(yaml.safe_load(agent["uploads"][POSTGRES_CONF])["instances"][0])
        intake.series += my_metric_series(agent, tmp_path)
        intake.series += postgres_series(instance, hostname, agent_network)
        intake.series += trace_metric_series(spans, hostname)
        intake.series += core_series(host, hostname)
    return intake


@pytest.fixture(scope="module")
def intake(program_run, agent_network, declared, app_spans, tmp_path_factory) -> Intake:
    return build_intake(declared, agent_network, app_spans, tmp_path_factory.mktemp("checks"))


def _host_names(declared: dict) -> list[str]:
    return [host["name"] for host in declared["hosts"]]


def _dashboard_queries(declared: dict):
    for dashboard in declared["dashboards"]:
        variables = [TemplateVariable.from_declared(v) for v in dashboard["template_variables"]]
        for query in dashboard["queries"]:
            yield dashboard["name"], query["widget"], query["query"], variables


# --- the contract ------------------------------------------------------------------------------


def test_every_host_sends_under_its_own_name(intake, declared):
    hosts = _host_names(declared)
    assert len(hosts) == 2 and len(set(hosts)) == 2
    by_source = {}
    for series in intake.series:
        by_source.setdefault(series.source, set()).add(series.host)
    # Every source, my_metric and PostgreSQL included, reports under exactly the stack's hosts.
    assert by_source == {source: set(hosts)
                         for source in ("my_metric", "postgres", "apm", "agent core")}


def test_postgres_metrics_carry_the_host_and_env(intake, declared):
    for host in _host_names(declared):
        connections = [s for s in intake.series if s.metric == "postgresql.percent_usage_connections"
                       and s.host == host]
        assert len(connections) == 1, host
        assert "env:test" in connections[0].tags and "db:postgres" in connections[0].tags
        assert not {t for t in connections[0].tags if t.startswith("postgres_")}
    can_connect_hosts = {s.host for s in intake.series if s.source == "postgres"}
    assert can_connect_hosts == set(_host_names(declared))


def test_every_dashboard_query_selects_what_the_hosts_send(intake, declared):
    queries = list(_dashboard_queries(declared))
    assert len({name for name, *_ in queries}) == 2, "the timeboard and the service dashboard"
    found = [f"{name} / {widget}: {problem}" for name, widget, query, variables in queries
             for problem in problems(intake, query, variables, _host_names(declared))]
    assert found == []


def test_the_monitor_query_selects_every_host(intake, declared):
    (monitor,) = declared["monitors"]
    assert MetricQuery.parse(monitor["query"]).group_by == ("host",)
    assert problems(intake, monitor["query"], [], _host_names(declared)) == []


# --- the contract catches what it is for ---------------------------------------------------------


def test_the_contract_catches_the_phantom_postgres_host(declared, agent_network, app_spans, tmp_path):
    """The conf before the fix (no reported_hostname, generic tags disabled) sends every
    postgresql.* series under 172.30.0.1: the anomaly widget must then be reported empty."""
    def before_the_fix(instance: dict) -> dict:
        return {**{k: v for k, v in instance.items() if k != "reported_hostname"},
                "disable_generic_tags": True}

    intake = build_intake(declared, agent_network, app_spans, tmp_path, before_the_fix)
    assert {s.host for s in intake.series if s.source == "postgres"} == {"172.30.0.1"}
    anomaly = [q for name, widget, q, variables in _dashboard_queries(declared)
               if "percent_usage_connections" in q]
    variables = [TemplateVariable.from_declared(v)
                 for v in declared["dashboards"][0]["template_variables"]]
    (found,) = problems(intake, anomaly[0], variables, _host_names(declared))
    assert "selects no series" in found and "172.30.0.1" in found


def test_the_contract_catches_a_scope_no_host_sends(intake, declared):
    hosts = _host_names(declared)
    assert problems(intake, "avg:my_metric{team:nobody} by {host}", [], hosts)
    assert problems(intake, "avg:postgresql.connections{env:prod} by {host}", [], hosts)
    stale = [TemplateVariable("host", "host", ("dd-assessment-old-0",))]
    assert problems(intake, "avg:my_metric{$host} by {host}", stale, hosts)
    # ...and one host missing from a `by {host}` query is caught too.
    one = [TemplateVariable("host", "host", (hosts[0],))]
    (found,) = problems(intake, "avg:my_metric{$host} by {host}", one, hosts)
    assert hosts[1] in found


def test_the_query_reader_refuses_what_it_does_not_understand():
    for text in ("my_metric{*}", "avg:my_metric{host:a OR host:b}", "avg:my_metric{}",
                 "avg:my_metric{*} by {host} and more"):
        with pytest.raises(ValueError):
            MetricQuery.parse(text)
    query = MetricQuery.parse("avg(last_5m):avg:my_metric{!host:a,role:db} by {host,env} > 800")
    assert (query.metric, query.scope, query.group_by) == ("my_metric", ("!host:a", "role:db"),
                                                          ("host", "env"))
