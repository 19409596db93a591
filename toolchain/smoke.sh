#!/usr/bin/env bash
# End-to-end check of the built toolchain: a throwaway Pulumi Python project (pip, virtualenv
# venv, as the project's own Pulumi.yaml) with a random.RandomPassword and a time.Static, on a
# file backend, goes through `pulumi up` and `pulumi destroy`: the CLI, our language host (venv
# creation, program run) and the real random and time plugins all take part. The docker plugin
# (whose resources need a Docker engine) serves its schema through the CLI. Run by build.sh; on its own it needs
# `source toolchain/env.sh` first (or runs it).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z "${DD_TOOLCHAIN_DIR:-}" ]]; then
    # shellcheck source=/dev/null
    source "$HERE/env.sh"
fi
pin() { grep -E "^$1==" "$HERE/../requirements.txt"; }

work=$(mktemp -d /tmp/dd-toolchain-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project" "$work/state"
cd "$work/project"
cat > Pulumi.yaml <<'YAML'
name: toolchain-smoke
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
YAML
printf '%s\n' "$(pin pulumi)" "$(pin pulumi-random)" "$(pin pulumiverse-time)" > requirements.txt
cat > __main__.py <<'PY'
import pulumi
import pulumi_random as random
import pulumiverse_time as time

password = random.RandomPassword("smoke", length=24, special=False)
pulumi.export("length", password.length)
pulumi.export("result_length", password.result.apply(len))
pulumi.export("year", time.Static("smoke", rfc3339="2026-12-01T12:00:00Z").year)
PY
export PULUMI_CONFIG_PASSPHRASE=smoke
export PULUMI_BACKEND_URL="file://$work/state"
t0=$(date +%s)
pulumi stack init smoke --non-interactive >/dev/null
pulumi up --yes --non-interactive --skip-preview > "$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
length=$(pulumi stack output length)
result_len=$(pulumi stack output result_length --show-secrets)
year=$(pulumi stack output year)
if [[ "$length" != 24 || "$result_len" != 24 || "$year" != 2026 ]]; then
    echo "smoke: expected a 24-character password and the year 2026, got length=$length result=$result_len year=$year" >&2
    cat "$work/up.log" >&2
    exit 1
fi
pulumi destroy --yes --non-interactive > "$work/destroy.log" 2>&1 || { cat "$work/destroy.log" >&2; exit 1; }
left=$(pulumi stack export | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["deployment"].get("resources") or []))')
if [[ "$left" != 0 ]]; then
    echo "smoke: $left resources left after destroy" >&2
    exit 1
fi
schema=$(pulumi package get-schema "docker@$(pin pulumi-docker | cut -d= -f3)")
if ! grep -q '"docker:index/container:Container"' <<<"$schema"; then
    echo "smoke: the docker plugin's schema lacks docker:index/container:Container" >&2
    exit 1
fi
echo "smoke: pulumi up + destroy of a random.RandomPassword and a time.Static with the real random and time plugins, and the docker plugin's schema: ok ($(( $(date +%s) - t0 ))s)" >&2
