#!/usr/bin/env bash
# The write-up's PostgreSQL connection burst, on one host: pgbench holds CLIENTS connections
# open for SECONDS, so postgresql.percent_usage_connections jumps toward CLIENTS/max_connections
# and the dashboard's anomaly band flags it.
#
# Run as root on the host. `make load` streams it over the ssh session
# (`sudo bash -s -- ARGS < this file`), so nothing is installed on the host for it.
#   --clients N   connections to hold, 1..max_connections-5 (max_connections read from the server)
#   --seconds D   how long, 1..600
#   --stop-when-stdin-closes   stop when standard input reaches end of file: the operator's ssh
#                 session went away (Ctrl-C in `make load`, or a dropped connection)
#
# It works only in a database of its own (BURST_DB, default dd_assessment_load): created and
# filled by `pgbench -i` at the start, dropped at the end however the burst ends, so nothing it
# made outlives it and `postgres` is never touched. One burst per host at a time (a lock).
# Exit status: 0 done, 2 bad arguments, 3 another burst is running, 129/130/143 stopped by
# SIGHUP/SIGINT/SIGTERM, 1 anything else.
set -euo pipefail

# The whole script is one function, called on the last line: bash parses all of it before
# running any of it, so reading standard input later never eats the script's own text.
main() {
  local lock_file=${BURST_LOCK_FILE:-/run/lock/dd-assessment-load.lock}
  local database=${BURST_DB:-dd_assessment_load}
  local clients="" seconds="" watch_stdin=false
  [[ $database =~ ^[a-z_][a-z0-9_]{0,62}$ ]] && [ "$database" != postgres ] &&
    [[ $database != template* ]] || usage "BURST_DB '$database' must be a plain name of its own"
  while [ $# -gt 0 ]; do
    case "$1" in
      --clients) clients=${2-}; shift 2 || usage "--clients needs a value" ;;
      --seconds) seconds=${2-}; shift 2 || usage "--seconds needs a value" ;;
      --stop-when-stdin-closes) watch_stdin=true; shift ;;
      *) usage "unknown argument '$1'" ;;
    esac
  done
  whole_number "$clients" || usage "--clients '$clients' is not a whole number"
  whole_number "$seconds" || usage "--seconds '$seconds' is not a whole number"
  if [ "$seconds" -lt 1 ] || [ "$seconds" -gt 600 ]; then
    usage "--seconds $seconds is out of range; use 1..600 (at most 10 minutes)"
  fi
  [ "$(id -u)" -eq 0 ] || fail 1 "run me as root (the burst runs as the postgres user)"
  command -v pgbench >/dev/null || fail 1 "pgbench is not installed; the host's user-data" \
    "installs it (postgresql15-contrib): on an older host, sudo dnf install -y postgresql15-contrib"

  # The lock lives as long as this shell and pgbench (which inherits it) hold descriptor 9.
  exec 9>>"$lock_file"
  flock --nonblock 9 || fail 3 "another burst is running on this host (lock $lock_file);" \
    "wait for it to end or stop it first"

  local max_connections limit
  max_connections=$(sql postgres "SHOW max_connections")
  limit=$((max_connections - 5))
  if [ "$clients" -lt 1 ] || [ "$clients" -gt "$limit" ]; then
    usage "--clients $clients is out of range; use 1..$limit (max_connections $max_connections" \
      "minus 5 left for the Agent and an administrator)"
  fi

  PGBENCH_PID="" WATCHER_PID=""
  BURST_DATABASE=$database
  trap 'stop 129 SIGHUP' HUP
  trap 'stop 130 SIGINT' INT
  trap 'stop 143 SIGTERM' TERM
  trap drop_database EXIT

  log "preparing database $database (pgbench -i, scale 1)"
  sql postgres "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
  sql postgres "CREATE DATABASE $database" >/dev/null
  as_postgres pgbench --initialize --scale 1 --quiet "$database" 2>&1 | tail -n 1

  if [ "$watch_stdin" = true ]; then
    # End of file on standard input means the operator's session is gone: stop the burst.
    # Builtins only, so killing this one process ends the watch; through descriptor 8, as a
    # background job's own standard input is /dev/null; without the lock's descriptor 9.
    exec 8<&0
    (
      exec 9>&-
      while read -r -u 8 _; do :; done
      kill -TERM $$
    ) >/dev/null 2>&1 &
    WATCHER_PID=$!
  fi
  log "holding $clients connections for $seconds s (max_connections $max_connections)"
  # Select-only at a throttled 50 transactions per second: the connections are what the
  # metric counts, so keep the host's CPU and disk out of it.
  # Not through as_postgres: a backgrounded function is a subshell, and $! must be runuser.
  runuser -u postgres -- pgbench --client "$clients" --jobs 2 --time "$seconds" --select-only \
    --rate 50 --progress 30 --no-vacuum "$database" </dev/null 8<&- &
  PGBENCH_PID=$!
  wait "$PGBENCH_PID"
  PGBENCH_PID=""
  log "done"
}

usage() { echo "connection-burst: $*" >&2; exit 2; }
fail() { local status=$1; shift; echo "connection-burst: $*" >&2; exit "$status"; }
log() { echo "connection-burst: $*"; }
whole_number() { [[ $1 =~ ^[0-9]{1,6}$ ]]; }
as_postgres() { runuser -u postgres -- "$@" </dev/null; }
sql() {
  PGOPTIONS="-c client_min_messages=warning" as_postgres psql --no-psqlrc --quiet --tuples-only \
    --no-align -v ON_ERROR_STOP=1 --dbname "$1" --command "$2"
}

# shellcheck disable=SC2329  # called by the traps above
stop() {
  trap '' HUP INT TERM
  log "$2: stopping the burst"
  if [ -n "${PGBENCH_PID:-}" ]; then
    # pgbench itself, runuser's child: runuser then exits at once (signalled, it would
    # pass the signal on but linger two seconds before exiting).
    pkill -TERM --parent "$PGBENCH_PID" pgbench 2>/dev/null ||
      kill -TERM "$PGBENCH_PID" 2>/dev/null || true
    wait "$PGBENCH_PID" 2>/dev/null || true
  fi
  exit "$1"
}

# On every exit: FORCE also ends any connection pgbench left behind. The stdin watcher goes
# too: while it lived it would hold the ssh session open.
# shellcheck disable=SC2329
drop_database() {
  local status=$?
  if [ -n "${WATCHER_PID:-}" ]; then
    kill "$WATCHER_PID" 2>/dev/null || true
  fi
  if [ -n "${BURST_DATABASE:-}" ]; then
    if sql postgres "DROP DATABASE IF EXISTS $BURST_DATABASE WITH (FORCE)" >/dev/null; then
      log "dropped database $BURST_DATABASE"
    else
      echo "connection-burst: could not drop database $BURST_DATABASE; drop it by hand" >&2
    fi
  fi
  exit "$status"
}

main "$@"; exit
