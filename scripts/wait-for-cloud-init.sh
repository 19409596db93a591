#!/usr/bin/env bash
# Readiness gate for a new host, run by Pulumi (pulumi-command) before anything talks to its
# Docker daemon: wait until the host answers SSH, then until cloud-init has finished.
# Host keys: trust on first use, per host. The new host's key is recorded in KNOWN_HOSTS (after
# removing any key an earlier host on the same recycled IP left there); pulumi-docker then
# connects with StrictHostKeyChecking=yes against that file.
# Environment: HOST (public IP), SSH_KEY (private key path), KNOWN_HOSTS (file).
set -euo pipefail
: "${HOST:?}" "${SSH_KEY:?}" "${KNOWN_HOSTS:?}"
key=${SSH_KEY/#\~/$HOME}
known_hosts=${KNOWN_HOSTS/#\~/$HOME}
attempts=${SSH_ATTEMPTS:-60}  # 60 x (10 s timeout + 5 s pause): an EC2 boot takes 1-3 minutes
pause=${SSH_PAUSE:-5}

mkdir -p "$(dirname "$known_hosts")"
touch "$known_hosts"
ssh-keygen -R "$HOST" -f "$known_hosts" >/dev/null 2>&1 || true

ssh_to_host() {
  ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$known_hosts" \
    "ec2-user@$HOST" "$@"
}

for attempt in $(seq 1 "$attempts"); do
  if ssh_to_host true 2>/dev/null; then
    break
  fi
  if [ "$attempt" -eq "$attempts" ]; then
    echo "$HOST did not accept SSH with $key after $attempts attempts" >&2
    exit 1
  fi
  sleep "$pause"
done

# `cloud-init status --wait` exits 0 when done, 2 when done with recoverable errors; either way
# user-data ran. Anything else is a failed boot.
status=0
ssh_to_host cloud-init status --wait >/dev/null || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  echo "cloud-init failed on $HOST (exit $status): see /var/log/cloud-init-output.log there" >&2
  exit 1
fi
echo "ready"
