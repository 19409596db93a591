#!/usr/bin/env bash
# `make toolchain`: the Pulumi CLI, the Python language host and the pinned provider plugins,
# built into ${DD_ASSESSMENT_CACHE:-$HOME/.cache/dd-assessment}/toolchain/<key>, with a
# PULUMI_HOME of its own there. `source toolchain/env.sh` then puts them on PATH.
# (work in progress: the build steps follow)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What we build. The CLI is the nearest pkg/v3 release the Go proxy serves at or above the SDK
# pin (pulumi==3.272.0 in requirements.txt): pkg/v3 v3.272.0 and v3.273.0 are not served.
PULUMI_VERSION=3.274.0
COMMAND_VERSION=1.2.1
RANDOM_VERSION=4.21.4
TIME_VERSION=0.1.1
DOCKER_VERSION=5.2.0
DATADOG_VERSION=5.17.0

# The key: versions, plus a hash of every input of the build in toolchain/ (not env.sh, not docs),
# so a changed go.mod, main.go or this script builds afresh next to the old one.
toolchain_key() {
    local sum
    sum=$(cd "$HERE" && find . -type f ! -name env.sh ! -name '*.md' ! -path './tests/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
    echo "pulumi-${PULUMI_VERSION}-${sum}"
}

if [[ "${1:-}" == --print-key ]]; then
    toolchain_key
    exit 0
fi

echo "toolchain/build.sh: not finished yet" >&2
exit 1
