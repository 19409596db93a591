#!/usr/bin/env bash
# This project's Pulumi backend, chosen for each command, never with `pulumi login` (which would
# switch every other project on the machine to it, and point nowhere once .pulumi-state is gone):
#   1. PULUMI_BACKEND_URL, when set;
#   2. else the backend you are logged in to (`pulumi whoami`), as it is;
#   3. else this project's own file backend, file://<project>/.pulumi-state (gitignored), exported
#      as PULUMI_BACKEND_URL to the command only: another clone has its own.
#
#   scripts/pulumi-backend.sh COMMAND [ARGS...]  run COMMAND with it (make verify, snapshot, load;
#                                                or `scripts/pulumi-backend.sh pulumi stack output`)
#   source scripts/pulumi-backend.sh             defines choose_backend (scripts/deploy.sh), which
#                                                sets BACKEND and BACKEND_FROM (env, login, project)

PROJECT_STATE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.pulumi-state"

# shellcheck disable=SC2034  # BACKEND and BACKEND_FROM are for the script that sources this one
choose_backend() {
  if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
    BACKEND=$PULUMI_BACKEND_URL BACKEND_FROM=env
  elif pulumi whoami --non-interactive </dev/null >/dev/null 2>&1; then
    BACKEND=$(pulumi whoami --verbose --non-interactive </dev/null 2>/dev/null \
      | sed -n 's/^Backend URL: *//p' | head -n 1 || true)
    BACKEND_FROM=login
  else
    BACKEND="file://$PROJECT_STATE_DIR" BACKEND_FROM=project
    export PULUMI_BACKEND_URL=$BACKEND
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  (($#)) || { echo "usage: scripts/pulumi-backend.sh COMMAND [ARGS...]" >&2; exit 2; }
  choose_backend
  exec "$@"
fi
