"""user_data/prepare-postgres.sh and datadog-role.sql, run for real against PostgreSQL."""

import re

import pytest
import yaml

from components.agent_files import render_postgres_conf
from components.design import POSTGRES_PORT

# On the worker of the throwaway cluster's other tests (see tests/test_connection_burst.py).
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
    "SELECT count(*) >= 1 FROM pg_stat_activity WHERE query IS NOT NULL",
    "SELECT setting::int > 0 FROM pg_settings WHERE name = 'max_connections'",
    "SELECT current_setting('max_connections')::int > 0",
])
def test_datadog_reads_what_the_postgres_check_queries(prepared_postgres, query):
    result = prepared_postgres.as_agent(query)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "t"


def test_datadog_sees_other_sessions_queries_through_pg_monitor(prepared_postgres):
    prepared_postgres.superuser("SELECT 1")  # another role's session exists while we look
    members = prepared_postgres.superuser(
        "SELECT string_agg(b.rolname, ',' ORDER BY b.rolname) FROM pg_auth_members m "
        "JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles r ON r.oid = m.member "
        "WHERE r.rolname = 'datadog'")
    assert members == "pg_monitor"
    privilege = prepared_postgres.superuser(
        "SELECT has_table_privilege('datadog', 'pg_stat_database', 'SELECT')")
    assert privilege == "t"


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


def test_the_password_never_reaches_a_command_line_or_the_log(prepared_postgres):
    result = prepared_postgres.prepare()
    assert prepared_postgres.password not in result.stdout + result.stderr
    log = (prepared_postgres.workdir / "run" / "postgres.log").read_text()
    assert prepared_postgres.password not in log


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
