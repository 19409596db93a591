#!/usr/bin/env bash
# `make toolchain`: the Pulumi CLI, a Python language host and the provider plugins this project
# can have here, built into ${DD_ASSESSMENT_CACHE:-$HOME/.cache/dd-assessment}/toolchain/<key>
# with a PULUMI_HOME of its own there (never ~/.pulumi). `source toolchain/env.sh` then puts
# them on PATH. Each step leaves a stamp: a second run, or one after an interrupted build,
# redoes nothing already done.
#
#   bash toolchain/build.sh              build (or say it is up to date)
#   bash toolchain/build.sh --print-key  the cache key (env.sh uses it)
#   bash toolchain/build.sh --smoke      build, then run toolchain/smoke.sh again
#
# Where a Pulumi CLI is already installed and Pulumi's download site answers, that CLI and
# `pulumi plugin install` of the pinned plugins are used instead of building.
# Knobs: DD_TOOLCHAIN_GO_JOBS (go build -p, default 1: other work shares the 2 cores),
# DD_TOOLCHAIN_NICE (default 10).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The pins (requirements.txt: pulumi==3.272.0 and the provider SDKs).
SDK_PIN=3.272.0
# The CLI is the nearest github.com/pulumi/pulumi/pkg/v3 release at or above the SDK pin that the
# Go module proxy serves: v3.272.0 and v3.273.0 are not served (pkg/vX tags are pushed by a
# separate job). A newer CLI runs an older SDK.
PULUMI_VERSION=3.274.0
COMMAND_VERSION=1.2.1
RANDOM_VERSION=4.21.4
TIME_VERSION=0.1.1
DOCKER_VERSION=5.2.0
DATADOG_VERSION=5.17.0

# What cannot be built here, and why (printed at every run, written to $DIR/NOT-BUILT).
NOT_BUILT=(
    "command $COMMAND_VERSION: its only source, the Go module github.com/pulumi/pulumi-command/provider, is not served by the Go module proxy here (pseudo-versions only, none served); it is a native provider (pulumi-go-provider), so there is no upstream to bridge instead"
    "datadog $DATADOG_VERSION: the Go module proxy refuses the paths github.com/DataDog/terraform-provider-datadog and github.com/DataDog/datadog-api-client-go/v2 ('This path is not available'), and pulumi-datadog's provider module is not served either"
)

# What is built differently from the pins (printed at every run, written to $DIR/DIFFERS).
# The bridge for random, time and docker: pulumi-terraform-bridge v3.137.0, the newest the
# proxy serves; the pinned providers' own provider modules (their ProviderInfo, bridge
# metadata, native code) are not served, so toolchain/providers has our own bridgings.
DIFFERS=(
    "pulumi CLI v$PULUMI_VERSION for the $SDK_PIN SDK pin: pkg/v3 v$SDK_PIN is not served"
    "pulumi-language-python: our own host (toolchain/cli/pulumi-language-python): upstream's module is not served; no typechecker option, no pulumi new prompts, no debugger"
    "random $RANDOM_VERSION: our bridging of terraform-provider-random v1.3.2-0.20260824155315-e1092b0cfc07 with pulumi-terraform-bridge v3.137.0 (pulumi-random's provider module is not served)"
    "time $TIME_VERSION: our bridging of hashicorp/terraform-provider-time v0.12.1 (the upstream pulumiverse-time $TIME_VERSION bridges) with pulumi-terraform-bridge v3.137.0"
    "docker $DOCKER_VERSION: our bridging of kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4 with pulumi-terraform-bridge v3.137.0: no docker.Image (pulumi-docker's native resource), no registry TLS patch"
)

toolchain_key() {
    local sum
    sum=$(cd "$HERE" && find . -type f ! -name env.sh ! -name smoke.sh ! -name '*.md' ! -path './tests/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
    echo "pulumi-${PULUMI_VERSION}-${sum}"
}

case "${1:-}" in
    --print-key) toolchain_key; exit 0 ;;
    --smoke|"") ;;
    *) echo "usage: $0 [--print-key|--smoke]" >&2; exit 2 ;;
esac

CACHE="${DD_ASSESSMENT_CACHE:-$HOME/.cache/dd-assessment}"
KEY=$(toolchain_key)
DIR="$CACHE/toolchain/$KEY"
BIN="$DIR/bin"
BUILD="$DIR/build"
STAMPS="$DIR/stamps"
TIMES="$DIR/step-times.txt"
export DD_TOOLCHAIN_DIR="$DIR"
export PULUMI_HOME="$DIR/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PATH="$BIN:$PATH"
JOBS="${DD_TOOLCHAIN_GO_JOBS:-1}"
NICE="${DD_TOOLCHAIN_NICE:-10}"

say() { echo "toolchain: $*" >&2; }

print_not_built() {
    local item
    for item in "${DIFFERS[@]}"; do say "DIFFERS: $item"; done
    for item in "${NOT_BUILT[@]}"; do say "NOT BUILT: $item"; done
}

if [[ -f "$DIR/.complete" && "${1:-}" != --smoke ]]; then
    say "up to date: $DIR ($(cat "$DIR/.complete"))"
    print_not_built
    exit 0
fi

mkdir -p "$BIN" "$BUILD" "$STAMPS" "$PULUMI_HOME"
run_start=$(date +%s)

# step NAME FUNCTION: runs FUNCTION once; its stamp and duration are kept.
step() {
    local name=$1 fn=$2 t0 t1
    if [[ -f "$STAMPS/$name" ]]; then
        say "$name: done before ($(cat "$STAMPS/$name")s)"
        return 0
    fi
    say "$name: building..."
    t0=$(date +%s)
    "$fn"
    t1=$(date +%s)
    echo $((t1 - t0)) > "$STAMPS/$name"
    echo "$name $((t1 - t0))" >> "$TIMES"
    say "$name: done in $((t1 - t0))s"
}

gobuild() { # gobuild MODULE_DIR go-build-args...
    local mod=$1
    shift
    (cd "$mod" && nice -n "$NICE" go build -p "$JOBS" -trimpath -buildvcs=false "$@")
}

# --- A user's own CLI, when downloads work -------------------------------------------------
use_existing_cli() {
    local cli
    cli=$(PATH="${PATH#"$BIN:"}" command -v pulumi 2>/dev/null) || return 1
    # A CLI from this cache (an older key's bin on PATH) is ours, not the user's: build.
    [[ "$cli" == "$CACHE"/* ]] && return 1
    curl -fsS --max-time 5 -o /dev/null https://get.pulumi.com/ 2>/dev/null || return 1
    say "using the installed Pulumi CLI $cli (downloads work: plugins by pulumi plugin install)"
    local f
    for f in "$(dirname "$cli")"/pulumi "$(dirname "$cli")"/pulumi-language-python*; do
        [[ -e "$f" ]] && ln -sf "$f" "$BIN/$(basename "$f")"
    done
    pulumi plugin install resource command "$COMMAND_VERSION"
    pulumi plugin install resource random "$RANDOM_VERSION"
    pulumi plugin install resource time "$TIME_VERSION" \
        --server github://api.github.com/pulumiverse/pulumi-time
    pulumi plugin install resource docker "$DOCKER_VERSION"
    pulumi plugin install resource datadog "$DATADOG_VERSION"
    NOT_BUILT=()
    DIFFERS=()
}

# --- Building from Go modules --------------------------------------------------------------
build_cli() {
    gobuild "$HERE/cli" -tags osusergo,grpcnotrace \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
        -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    "$BIN/pulumi" version
}

build_language_host() {
    gobuild "$HERE/cli" -ldflags "-s -w -X main.version=$PULUMI_VERSION" \
        -o "$BIN/pulumi-language-python" ./pulumi-language-python
    # The script that runs the program ships in the sdk/v3 module zip.
    local sdk
    sdk=$(cd "$HERE/cli" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
}

# Our bridgings embed a schema generated into the build directory: build from a copy of
# toolchain/providers there.
PROVIDERS_SRC="$BUILD/providers-src"
copy_providers() {
    rm -rf "$PROVIDERS_SRC"
    cp -r "$HERE/providers" "$PROVIDERS_SRC"
}

build_tfgen() {
    gobuild "$PROVIDERS_SRC" -ldflags "-s -w" -o "$BUILD/tfgen" ./tfgen
}

# bridged_provider NAME VERSION
bridged_provider() {
    local name=$1 version=$2 out="$BUILD/plugins/$1"
    mkdir -p "$out"
    (cd "$PROVIDERS_SRC" && "$BUILD/tfgen" "$name" schema --out "$out" > "$out/tfgen.log" 2>&1) || {
        tail -20 "$out/tfgen.log" >&2
        return 1
    }
    cp "$out/schema.json" "$PROVIDERS_SRC/$name/cmd/schema.json"
    # The generator writes bridge-metadata.json only when it has something to record.
    if [[ -f "$out/bridge-metadata.json" ]]; then
        cp "$out/bridge-metadata.json" "$PROVIDERS_SRC/$name/cmd/bridge-metadata.json"
    else
        echo '{}' > "$PROVIDERS_SRC/$name/cmd/bridge-metadata.json"
    fi
    gobuild "$PROVIDERS_SRC" \
        -ldflags "-s -w -X dd-assessment/toolchain/providers/$name.Version=$version" \
        -o "$out/pulumi-resource-$name" "./$name/cmd"
    pulumi plugin install resource "$name" "$version" -f "$out/pulumi-resource-$name" --reinstall
}
build_random() { bridged_provider random "$RANDOM_VERSION"; }
build_time() { bridged_provider time "$TIME_VERSION"; }
build_docker() { bridged_provider docker "$DOCKER_VERSION"; }

if use_existing_cli; then
    :
else
    # The providers' modules download in the background while the CLI compiles.
    (cd "$HERE/providers" && go mod download > "$DIR/providers-download.log" 2>&1) &
    download_pid=$!
    step cli build_cli
    step language-host build_language_host
    wait "$download_pid" || { cat "$DIR/providers-download.log" >&2; exit 1; }
    copy_providers
    step tfgen build_tfgen
    step random build_random
    step time build_time
    step docker build_docker
fi

printf '%s\n' "${NOT_BUILT[@]}" > "$DIR/NOT-BUILT"
printf '%s\n' "${DIFFERS[@]}" > "$DIR/DIFFERS"
say "plugins under $PULUMI_HOME:"
pulumi plugin ls >&2
step smoke "$HERE/smoke.sh"
if [[ "${1:-}" == --smoke ]]; then "$HERE/smoke.sh"; fi

cold=$(awk '{s += $2} END {print s}' "$TIMES" 2>/dev/null || echo "?")
echo "pulumi v$PULUMI_VERSION (SDK pin $SDK_PIN), language host (ours), random $RANDOM_VERSION, time $TIME_VERSION, docker $DOCKER_VERSION" > "$DIR/.complete"
say "ready: $DIR"
# With empty Go caches the steps take about 10 minutes here; with warm ones about 1 (README).
say "this run: $(($(date +%s) - run_start))s; this key's build steps: ${cold}s; disk: $(du -sh "$DIR" | cut -f1) here, plus Go's caches ($(go env GOCACHE), $(go env GOMODCACHE))"
print_not_built
