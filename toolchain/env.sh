# shellcheck shell=bash
# Source this (`source toolchain/env.sh`) to use the Pulumi toolchain `make toolchain` built:
# the CLI, the Python language host and the pinned provider plugins, all under a PULUMI_HOME in
# the cache, never ~/.pulumi. Exports PATH (cache bin first), PULUMI_HOME,
# PULUMI_SKIP_UPDATE_CHECK, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION and DD_TOOLCHAIN_DIR.
# Returns non-zero, saying "run make toolchain", when that build is absent.

_dd_toolchain_env() {
    local here key dir
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
    # The same key build.sh builds under: versions + a hash of toolchain/'s inputs.
    key=$(bash "$here/build.sh" --print-key) || {
        echo "toolchain/env.sh: cannot compute the toolchain key: run make toolchain" >&2
        return 1
    }
    dir="${DD_ASSESSMENT_CACHE:-$HOME/.cache/dd-assessment}/toolchain/$key"
    if [[ ! -f "$dir/.complete" ]]; then
        echo "toolchain/env.sh: no Pulumi toolchain at $dir: run make toolchain" >&2
        return 1
    fi
    export DD_TOOLCHAIN_DIR="$dir"
    export PULUMI_HOME="$dir/pulumi-home"
    export PULUMI_SKIP_UPDATE_CHECK=true
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
    case ":$PATH:" in
        "$dir/bin:"*) ;;
        *) export PATH="$dir/bin:$PATH" ;;
    esac
}
_dd_toolchain_env
_dd_toolchain_rc=$?
unset -f _dd_toolchain_env
# `return` when sourced; a plain `bash env.sh` exits with the same status.
# shellcheck disable=SC2317
return "$_dd_toolchain_rc" 2>/dev/null || exit "$_dd_toolchain_rc"
