#!/usr/bin/env bash
# Makes the host's PostgreSQL ready for the Datadog Agent container. Run by cloud-init at first
# boot; safe to run again (every step checks before it changes anything).
#
# How the Agent connects, decided here and relied on by the Agent's postgres conf: the Agent
# container sits on the Docker network AGENT_NETWORK_CIDR and reaches PostgreSQL at that
# network's gateway address (the host), port 5432, as role `datadog` with a password
# (scram-sha-256). PostgreSQL listens on all addresses, pg_hba.conf admits `datadog` from that
# subnet only, and the security group never opens 5432.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/dd-assessment/host.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${AWS_REGION:?}" "${DATADOG_PASSWORD_PARAMETER:?}" "${AGENT_NETWORK_CIDR:?}"
PGDATA=${PGDATA:-/var/lib/pgsql/data}
SQL_FILE=${SQL_FILE:-/usr/local/share/dd-assessment/datadog-role.sql}
HBA_LINE="host postgres datadog $AGENT_NETWORK_CIDR scram-sha-256  # dd-assessment: Datadog Agent"

log() { echo "dd-assessment-prepare-postgres: $*" >&2; }

as_postgres() { runuser -u postgres -- "$@"; }

# The instance role may take a few seconds to be usable after launch: retry, then fail loudly.
read_password() {
  local attempt
  for attempt in $(seq 1 30); do
    if aws ssm get-parameter --region "$AWS_REGION" --name "$DATADOG_PASSWORD_PARAMETER" \
        --with-decryption --query Parameter.Value --output text; then
      return 0
    fi
    log "SSM parameter not readable yet (attempt $attempt); retrying"
    sleep 5
  done
  log "could not read $DATADOG_PASSWORD_PARAMETER from SSM"
  return 1
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "initialising the cluster in $PGDATA"
  postgresql-setup --initdb
fi
systemctl enable --now postgresql.service

HBA_FILE="$PGDATA/pg_hba.conf"
hba_changed=false
if ! grep -qxF "$HBA_LINE" "$HBA_FILE"; then
  log "admitting datadog from $AGENT_NETWORK_CIDR in $HBA_FILE"
  printf '%s\n' "$HBA_LINE" >>"$HBA_FILE"
  hba_changed=true
fi

password=$(read_password)
DATADOG_PASSWORD=$password as_postgres psql --no-psqlrc --quiet --dbname postgres --file "$SQL_FILE"
unset password

# The SQL set listen_addresses to '*' (ALTER SYSTEM); it takes effect only on a restart.
listening_on=$(as_postgres psql --no-psqlrc --quiet --tuples-only --no-align --dbname postgres \
  --command "SHOW listen_addresses")
if [ "$listening_on" != "*" ]; then
  log "restarting PostgreSQL to apply listen_addresses"
  systemctl restart postgresql.service
elif [ "$hba_changed" = true ]; then
  systemctl reload postgresql.service
fi
log "ready"
