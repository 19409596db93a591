#!/usr/bin/env bash
# Makes sure the system packages listed in tests/system-packages.txt are installed, before
# `make test` builds anything. As root with apt-get: installs the missing ones. Otherwise: one
# message naming every missing package and the command that installs it, and exit status 1.
#   SYSTEM_PACKAGES_LIST  another list to check (make conformance's, and the tests of this script)
#   SYSTEM_PACKAGES_FOR   what needs them, for the message (default: make test)
set -euo pipefail

list=${SYSTEM_PACKAGES_LIST:-"$(dirname "${BASH_SOURCE[0]}")/system-packages.txt"}

missing_packages() {
  local package probe
  while read -r package probe; do
    [[ -z $package || $package == \#* ]] && continue
    (eval "$probe") >/dev/null 2>&1 || echo "$package"
  done <"$list"
}

mapfile -t missing < <(missing_packages)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  cat >&2 <<MESSAGE
${SYSTEM_PACKAGES_FOR:-make test} needs system packages that are not installed: ${missing[*]}
Install them, then run ${SYSTEM_PACKAGES_FOR:-make test} again (on Debian or Ubuntu):
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}
MESSAGE
  exit 1
fi

echo "system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

mapfile -t still_missing < <(missing_packages)
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "system-packages: installed, but still not usable: ${still_missing[*]} (see $list)" >&2
  exit 1
fi
