#!/usr/bin/env bash
# Readiness gate for a new host, run by Pulumi (pulumi-command) on the deploying machine before
# anything talks to the host's Docker daemon:
#   1. learn the host's SSH key over a channel AWS authenticates (never trust on first use):
#      - ssm: the Session Manager session to that instance id (AWS connects it to that instance's
#        port 22 and nothing else), so the key it presents is the host's;
#      - ssh: the instance's console output, which only the instance and AWS write: cloud-init
#        prints the host keys there (keys_to_console) near the end of the boot;
#   2. over SSH pinned to that key, wait for cloud-init and fail on a failed boot;
#   3. print how long the boot took, by cloud-init's own clock (/run/cloud-init/status.json).
# Its only stdout is the host key (`ssh-ed25519 <base64>`): Pulumi keeps it in the state and the
# Docker provider, the stack outputs and every teammate pin exactly that key.
# Environment: HOST_ACCESS (ssm|ssh), DESTINATION (ec2-user@<instance id or ip>), INSTANCE_ID,
# AWS_REGION, SSH_OPTIONS (the transport's ssh options, one per line: key, ProxyCommand).
set -euo pipefail
: "${HOST_ACCESS:?}" "${DESTINATION:?}" "${INSTANCE_ID:?}" "${AWS_REGION:?}" "${SSH_OPTIONS:?}"
attempts=${SSH_ATTEMPTS:-60}  # 60 x (up to 10 s + 5 s pause): an EC2 boot takes 1-3 minutes
pause=${SSH_PAUSE:-5}
connect_timeout=${SSH_CONNECT_TIMEOUT:-10}
host_key_type=ssh-ed25519

transport=()
while IFS= read -r option; do transport+=("$option"); done <<<"$SSH_OPTIONS"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
known_hosts=$workdir/known_hosts
touch "$known_hosts"

say() { echo "$INSTANCE_ID: $*" >&2; }

# retry WHAT COMMAND...: COMMAND until it succeeds, $attempts times at most.
retry() {
  local what=$1 attempt
  shift
  for attempt in $(seq 1 "$attempts"); do
    if "$@" 2>"$workdir/last-error"; then
      return 0
    fi
    if [ "$attempt" -lt "$attempts" ]; then sleep "$pause"; fi
  done
  say "$what after $attempts attempts; last error: $(tail -n 3 "$workdir/last-error")"
  exit 1
}

ssh_to_host() {
  ssh "${transport[@]}" -o BatchMode=yes -o ConnectTimeout="$connect_timeout" \
    -o GlobalKnownHostsFile=/dev/null -o UserKnownHostsFile="$known_hosts" "$@"
}

key_from_console() {
  local key
  key=$(aws ec2 get-console-output --instance-id "$INSTANCE_ID" --region "$AWS_REGION" --latest \
    --query Output --output text | tr -d '\r' \
    | sed -n '/-----BEGIN SSH HOST KEY KEYS-----/,/-----END SSH HOST KEY KEYS-----/p' \
    | awk -v type="$host_key_type" '{ for (i = 1; i < NF; i++) if ($i == type) { print $i, $(i + 1); exit } }')
  [ -n "$key" ] || { echo "no $host_key_type key in the console output yet" >&2; return 1; }
  printf '%s %s\n' "${DESTINATION#*@}" "$key" >"$known_hosts"
}

case "$HOST_ACCESS" in
  ssm)
    retry "no SSH session through Session Manager" ssh_to_host -o StrictHostKeyChecking=accept-new \
      -o HashKnownHosts=no -o HostKeyAlgorithms="$host_key_type" "$DESTINATION" true
    ;;
  ssh)
    retry "no host key in the console output" key_from_console
    retry "no SSH answer with the host key from the console" \
      ssh_to_host -o StrictHostKeyChecking=yes "$DESTINATION" true
    ;;
  *)
    say "HOST_ACCESS must be ssm or ssh, not '$HOST_ACCESS'"
    exit 2
    ;;
esac
host_key=$(awk 'NR == 1 { print $2, $3 }' "$known_hosts")
say "host key pinned: $host_key"

# `cloud-init status --wait` exits 0 when done, 2 (newer cloud-init) when done with recoverable
# errors: user-data ran either way. 255 is ssh's own failure; anything else is a failed boot.
status=0
# shellcheck disable=SC2016  # expanded by the host's shell
timings=$(ssh_to_host -o StrictHostKeyChecking=yes "$DESTINATION" \
  'cloud-init status --wait >/dev/null; status=$?; cat /run/cloud-init/status.json 2>/dev/null; exit $status' \
  2>"$workdir/last-error") || status=$?
if [ "$status" -eq 255 ]; then
  say "lost the SSH connection while waiting for cloud-init: $(tail -n 3 "$workdir/last-error")"
  exit 1
elif [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  say "cloud-init failed (exit $status): see /var/log/cloud-init-output.log on the host"
  exit 1
fi

boot_line=$(printf '%s' "$timings" | python3 -c '
import json, sys
v1 = json.load(sys.stdin)["v1"]
stages = [(name, v1[name]["start"], v1[name]["finished"])
          for name in ("init-local", "init", "modules-config", "modules-final")
          if (v1.get(name) or {}).get("start") and (v1.get(name) or {}).get("finished")]
parts = ", ".join("%s %.0f s" % (name, end - start) for name, start, end in stages)
print("first boot: cloud-init ran %.0f s (%s)" % (stages[-1][2] - stages[0][1], parts))
' 2>/dev/null) || boot_line="first boot: done (no timings in /run/cloud-init/status.json)"
say "$boot_line"
printf '%s\n' "$host_key"
