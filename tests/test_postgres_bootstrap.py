"""user_data/prepare-postgres.sh and datadog-role.sql, run for real against PostgreSQL.

Correct under any `-n`: one cluster and one Agent namespace at a time, per machine.
- The cluster and namespace (tests/postgres_host.py) put the gateway 172.30.0.1/24 on a veth;
  two at once give two routes to 172.30.0.0/24 and replies go astray (this module once failed
  1 run in 5 that way). So `postgres_host.start()` takes a machine-wide flock that `stop()`
  releases: it serialises pytest-xdist workers, the host-side venv's tests that use the same
  setup, and another checkout's `make test`. A lock rather than one shared namespace, because
  those users live in different processes and venvs and none can own the others' lifetime.
- All tests here form one xdist group (`--dist loadgroup` in pytest.ini), so a run builds one
  cluster, on one worker, and no worker waits on another's lock while holding tests of its own.
  Without that option the lock alone still keeps every run correct, only slower.
"""

import os
import re
import subprocess
import time

import pytest
import yaml

from components.agent_files import render_postgres_conf
from components.design import POSTGRES_PORT

pytestmark = pytest.mark.xdist_group("agent-network")


def test_datadog_logs_in_from_the_agent_network_with_its_password(prepared_postgres):
    result = prepared_postgres.as_agent("SELECT current_user, inet_client_addr()")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "datadog|172.30.0.2"


def test_a_wrong_password_is_refused(prepared_postgres):
    result = prepared_postgres.as_agent("SELECT 1", password="not-the-password")
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr


def test_only_the_datadog_role_is_admitted_from_the_agent_network(prepared_postgres):
    result = prepared_postgres.as_agent("SELECT 1", user="postgres")
    assert result.returncode != 0
    assert "no pg_hba.conf entry" in result.stderr


@pytest.mark.parametrize("query", [
    "SELECT count(*) >= 1 FROM pg_stat_database",
    "SELECT setting::int > 0 FROM pg_settings WHERE name = 'max_connections'",
    "SELECT current_setting('max_connections')::int > 0",
])
def test_datadog_reads_the_database_statistics_and_settings(prepared_postgres, query):
    """Readable by any role: they prove the connection and the views, not pg_monitor."""
    result = prepared_postgres.as_agent(query)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "t"


@pytest.fixture
def busy_session(prepared_postgres):
    """Another role's session, running a query: its backend's pid."""
    marker = "dd-assessment-busy-session"
    busy = subprocess.Popen(["runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-qtAX",
                             "-d", "postgres", "-c", f"SELECT pg_sleep(60), '{marker}'"],
                            env=prepared_postgres.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    find = (f"SELECT pid FROM pg_stat_activity WHERE query LIKE '%{marker}%' "
            "AND pid <> pg_backend_pid()")
    try:
        deadline = time.monotonic() + 10
        while not (pid := prepared_postgres.superuser(find)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid, "the busy session never showed up"
        yield int(pid)
        prepared_postgres.superuser(f"SELECT pg_terminate_backend({pid})")
    finally:
        busy.kill()
        busy.wait()


# What the check's activity metrics read of other sessions (integrations-core
# postgres/datadog_checks/postgres/util.py, ACTIVITY_METRICS_10: xact_start, state, wait_event),
# and the query text. PostgreSQL shows them for another role's session only to members of
# pg_read_all_stats, which pg_monitor includes; to anyone else they are NULL and
# '<insufficient privilege>'.
ACTIVITY = ("SELECT coalesce(state, 'NULL'), xact_start IS NOT NULL, query FROM pg_stat_activity "
            "WHERE pid = {pid}")


def test_datadog_sees_another_sessions_activity_through_pg_monitor(prepared_postgres, busy_session):
    result = prepared_postgres.as_agent(ACTIVITY.format(pid=busy_session))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "active|t|SELECT pg_sleep(60), 'dd-assessment-busy-session'"
    # The same look by a role without pg_monitor: what datadog would see without the grant.
    plain = prepared_postgres.superuser(
        "BEGIN; CREATE ROLE dd_assessment_plain_role; SET ROLE dd_assessment_plain_role; "
        f"{ACTIVITY.format(pid=busy_session)}; ROLLBACK")
    assert plain == "NULL|f|<insufficient privilege>"


def test_datadog_cannot_create_tables(prepared_postgres):
    result = prepared_postgres.as_agent("CREATE TABLE public.intruder (id int)")
    assert result.returncode != 0
    assert "permission denied" in result.stderr


def test_datadog_cannot_read_a_user_table(prepared_postgres):
    prepared_postgres.superuser("CREATE TABLE IF NOT EXISTS public.customers (name text); "
                                "INSERT INTO public.customers VALUES ('Ada')")
    result = prepared_postgres.as_agent("SELECT * FROM public.customers")
    assert result.returncode != 0
    assert "permission denied" in result.stderr


def test_datadog_is_an_unprivileged_login_role(prepared_postgres):
    attributes = prepared_postgres.superuser(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = 'datadog'")
    assert attributes == "t|f|f|f|f|f"


def _state(prepared) -> dict:
    """Everything the preparation may change, but the password's salted hash."""
    return {
        name: (prepared.pgdata / name).read_text()
        for name in ("pg_hba.conf", "postgresql.conf", "postgresql.auto.conf")
    } | {
        "role": prepared.superuser("SELECT row(r.*) FROM pg_roles r WHERE rolname = 'datadog'"),
        "grants": prepared.superuser("SELECT relacl FROM pg_class WHERE relname = 'pg_stat_database'"),
        "members": prepared.superuser("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r "
                                      "ON r.oid = m.member WHERE r.rolname = 'datadog'"),
        "listen": prepared.superuser("SHOW listen_addresses"),
    }


def test_the_boot_script_configured_what_the_agent_relies_on(prepared_postgres):
    hba = (prepared_postgres.pgdata / "pg_hba.conf").read_text()
    assert re.search(r"^host\s+postgres\s+datadog\s+172\.30\.0\.0/24\s+scram-sha-256", hba, re.M)
    assert prepared_postgres.superuser("SHOW listen_addresses") == "*"
    # First boot: initialised the cluster, started it, restarted once for listen_addresses.
    assert prepared_postgres.systemctl_calls()[:2] == ["enable --now postgresql.service",
                                                       "restart postgresql.service"]


def test_running_the_preparation_again_changes_nothing(prepared_postgres):
    before = _state(prepared_postgres)
    calls_before = len(prepared_postgres.systemctl_calls())
    result = prepared_postgres.prepare()
    assert result.returncode == 0, result.stderr
    assert _state(prepared_postgres) == before
    # No restart or reload the second time: nothing needed applying.
    assert prepared_postgres.systemctl_calls()[calls_before:] == ["enable --now postgresql.service"]
    assert prepared_postgres.as_agent("SELECT 1").returncode == 0


def test_the_password_never_reaches_a_process_argument_or_a_log(prepared_postgres, tmp_path):
    """Every process the preparation starts, with its arguments, as the kernel saw them (strace):
    arguments are public to every user of the host (`ps`), the environment is not."""
    trace = tmp_path / "execve.trace"
    result = prepared_postgres.prepare(
        wrapper=["strace", "--follow-forks", "--quiet=all", "--trace=execve", "--string-limit=4096",
                 f"--output={trace}"], timeout=60)
    assert result.returncode == 0, result.stderr
    started = trace.read_text()
    # The trace saw the commands that carry the password: the SSM read and psql.
    assert '["aws", "ssm", "get-parameter"' in started
    assert '["psql", "--no-psqlrc", "--quiet", "--dbname", "postgres", "--file"' in started
    assert prepared_postgres.password not in started
    assert prepared_postgres.password not in result.stdout + result.stderr
    log = (prepared_postgres.workdir / "run" / "postgres.log").read_text()
    assert prepared_postgres.password not in log


def _prepare_while_ssm_fails(prepared, directory, failures: int):
    """prepare() while the first `failures` SSM reads fail, with a `sleep` that returns at once:
    the result, how many SSM reads it made, and the pauses it asked for."""
    (directory / "sleep").write_text('#!/bin/sh\necho "$*" >>"$(dirname "$0")/sleep.calls"\n')
    (directory / "sleep").chmod(0o755)
    result = prepared.prepare(env={"PATH": f"{directory}:{prepared.env['PATH']}",
                                   "STUB_AWS_CALLS": str(directory / "aws.calls"),
                                   "STUB_AWS_FAILURES": str(failures)})
    sleeps = directory / "sleep.calls"
    return (result, len((directory / "aws.calls").read_text().splitlines()),
            sleeps.read_text().splitlines() if sleeps.exists() else [])


def test_the_password_read_retries_while_the_instance_role_is_not_ready(prepared_postgres, tmp_path):
    result, reads, pauses = _prepare_while_ssm_fails(prepared_postgres, tmp_path, failures=2)
    assert result.returncode == 0, result.stderr
    assert (reads, pauses) == (3, ["5", "5"])
    assert "SSM parameter not readable yet (attempt 2); retrying" in result.stderr
    assert prepared_postgres.as_agent("SELECT 1").returncode == 0


def test_the_password_read_gives_up_loudly_after_30_attempts(prepared_postgres, tmp_path):
    result, reads, _ = _prepare_while_ssm_fails(prepared_postgres, tmp_path, failures=1000)
    assert (result.returncode, reads) == (1, 30)
    assert result.stderr.splitlines()[-1] == (
        "dd-assessment-prepare-postgres: could not read "
        "/dd-assessment/test/dd-assessment-test-0/postgres-datadog-password from SSM")
    assert prepared_postgres.as_agent("SELECT 1").returncode == 0  # the role was left as it was


def test_the_agents_postgres_integration_config_logs_in(prepared_postgres):
    """The rendered conf.d/postgres.d/conf.yaml, used as the Agent uses it."""
    conf = yaml.safe_load(render_postgres_conf(password=prepared_postgres.password,
                                               reported_hostname="dd-assessment-test-0",
                                               env="test", tags=["env:test"]))
    (instance,) = conf["instances"]
    assert instance["port"] == POSTGRES_PORT  # the throwaway cluster listens on a private port
    result = prepared_postgres.as_agent(
        "SELECT current_user, count(*) > 0 FROM pg_stat_database", host=instance["host"],
        user=instance["username"], password=instance["password"], dbname=instance["dbname"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "datadog|t"


def test_the_agent_network_tests_share_one_worker(request):
    """pytest-xdist groups them by suffixing their node ids with "@<group>"; with pytest 9.2 the
    suffix silently no longer takes (pytest-xdist#1386), each worker then builds its own cluster
    and waits for the other's lock. requirements-test.txt pins a pytest where grouping works."""
    if os.environ.get("PYTEST_XDIST_WORKER") and request.config.getvalue("loadgroup"):
        assert request.node.nodeid.endswith("@agent-network"), request.node.nodeid


def test_no_second_agent_network_can_exist_while_this_one_is_in_use(prepared_postgres):
    """Another process (a worker, another checkout's run) cannot build a second one meanwhile."""
    from tests.postgres_host import LOCK_FILE

    assert subprocess.run(["flock", "--nonblock", str(LOCK_FILE), "true"]).returncode == 1
    gateways = subprocess.run(["ip", "-o", "-4", "addr", "show", "to", "172.30.0.0/24"],
                              capture_output=True, text=True, check=True).stdout.splitlines()
    assert [line.split()[1] for line in gateways] == [prepared_postgres.host_link]
