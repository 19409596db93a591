#!/usr/bin/env bash
# Makes sure the system packages listed in tests/system-packages.txt are installed, before
# `make test` builds anything. As root with apt-get: installs the missing ones. Otherwise: one
# message naming every missing package and the command that installs it, and exit status 1.
#
# An install changes no service on the machine: the tests run the packages' programs (sshd,
# `cloud-init schema`, initdb) themselves and need none of their services.
#  - While apt runs, /usr/sbin/policy-rc.d answers 101 ("forbidden") to every start: maintainer
#    scripts start services through invoke-rc.d or deb-systemd-invoke, which both ask it. It is
#    placed only when the machine has none (an existing one is the administrator's) and removed
#    afterwards.
#  - policy-rc.d does not stop deb-systemd-helper from enabling a new package's units at once
#    (openssh-server's ssh.service, cloud-init's five units): every unit the install enabled is
#    disabled again with `systemctl disable`. deb-systemd-helper then finds it "was disabled", so
#    a later upgrade leaves it disabled too.
#   SYSTEM_PACKAGES_LIST  another list to check (make conformance's, make e2e's, the tests of this script)
#   SYSTEM_PACKAGES_FOR   what needs them, for the message (default: make test)
#   SYSTEM_PACKAGES_ROOT  a directory standing for / (policy-rc.d, /etc/systemd/system): the
#                         tests' scratch root; unset on a real machine
set -euo pipefail

list=${SYSTEM_PACKAGES_LIST:-"$(dirname "${BASH_SOURCE[0]}")/system-packages.txt"}
root=${SYSTEM_PACKAGES_ROOT:-}
policy="$root/usr/sbin/policy-rc.d"
units_dir="$root/etc/systemd/system"

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
(${SYSTEM_PACKAGES_FOR:-make test} run as root installs them itself, without starting or enabling their services.)
MESSAGE
  exit 1
fi

# The unit links under /etc/systemd/system, one per line: what is enabled.
enabled_links() { [[ ! -d $units_dir ]] || find "$units_dir" -type l | LC_ALL=C sort; }

placed_policy=false
remove_policy() { [[ $placed_policy == false ]] || rm -f "$policy"; }
trap remove_policy EXIT
trap "exit 130" INT TERM HUP
if [[ ! -e $policy ]]; then
  mkdir -p "$(dirname "$policy")"
  printf '#!/bin/sh\n# Placed by dd-assessment tests/system-packages.sh while it installs packages.\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  placed_policy=true
fi
mapfile -t links_before < <(enabled_links)

echo "system-packages: installing ${missing[*]} (their services are neither started nor enabled)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The units behind every new link (a unit's aliases and wants links all point at its file).
mapfile -t new_units < <(comm -13 <(printf '%s\n' "${links_before[@]}") <(enabled_links) \
  | while read -r link; do [[ -z $link ]] || basename "$(readlink "$link")"; done | LC_ALL=C sort -u)
if ((${#new_units[@]})); then
  echo "system-packages: disabling what the install enabled: ${new_units[*]}" >&2
  if command -v systemctl >/dev/null; then
    systemctl ${root:+--root="$root"} --no-reload --quiet disable "${new_units[@]}"
  else
    comm -13 <(printf '%s\n' "${links_before[@]}") <(enabled_links) | xargs -r rm -f
  fi
fi
remove_policy
placed_policy=false

mapfile -t still_missing < <(missing_packages)
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "system-packages: installed, but still not usable: ${still_missing[*]} (see $list)" >&2
  exit 1
fi
