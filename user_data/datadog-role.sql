-- The Datadog Agent's login role: monitoring views only, no writes, no user data.
-- Idempotent: running it again changes nothing. The password arrives in the environment
-- (DATADOG_PASSWORD), never on a command line or in this file.
\set ON_ERROR_STOP on
\getenv datadog_password DATADOG_PASSWORD
\if :{?datadog_password}
\else
  \set datadog_password ''
\endif
SELECT :'datadog_password' = '' AS missing_password \gset
\if :missing_password
  DO $$ BEGIN RAISE EXCEPTION 'DATADOG_PASSWORD is empty or unset'; END $$;
\endif

SELECT 'CREATE ROLE datadog LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'datadog') \gexec
ALTER ROLE datadog WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'datadog_password';
GRANT pg_monitor TO datadog;
GRANT SELECT ON pg_stat_database TO datadog;

-- The Agent connects over the Docker bridge, not the loopback: listen beyond localhost.
-- pg_hba.conf admits only the datadog role from the Agent's subnet, and the security group
-- never opens 5432, so this exposes nothing outside the host.
ALTER SYSTEM SET listen_addresses = '*';
