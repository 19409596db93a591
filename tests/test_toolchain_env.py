"""toolchain/env.sh, the interface other scripts source: with no build it fails saying
"run make toolchain" and exports nothing; with a finished build under the cache key that
toolchain/build.sh computes, it exports exactly the agreed variables, cache bin first on PATH.
(The build itself is `make toolchain`, not part of this fast suite.)"""

import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parent.parent
ENV_SH = REPO / "toolchain" / "env.sh"
BUILD_SH = REPO / "toolchain" / "build.sh"

SHOW = 'source "$1"; rc=$?; echo "rc=$rc"; env | grep -E "^(PULUMI_|DD_TOOLCHAIN_DIR=|PATH=)" | sort'


def _source(cache):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cache / "home"), "DD_ASSESSMENT_CACHE": str(cache)}
    return subprocess.run(["bash", "-c", SHOW, "x", str(ENV_SH)], env=env,
                          capture_output=True, text=True, timeout=60)


def _key():
    return subprocess.run(["bash", str(BUILD_SH), "--print-key"], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()


def test_without_a_build_it_fails_and_says_run_make_toolchain(tmp_path):
    run = _source(tmp_path)
    assert "rc=1" in run.stdout
    assert "run make toolchain" in run.stderr
    assert "PULUMI_HOME" not in run.stdout
    assert "PATH=/usr/bin:/bin\n" in run.stdout


def test_with_a_finished_build_it_exports_the_agreed_interface(tmp_path):
    key = _key()
    assert key.startswith("pulumi-3.274.0-")
    build = tmp_path / "toolchain" / key
    (build / "bin").mkdir(parents=True)
    (build / ".complete").write_text("test\n")
    lines = _source(tmp_path).stdout.splitlines()
    assert lines[0] == "rc=0"
    assert sorted(lines[1:]) == sorted([
        f"DD_TOOLCHAIN_DIR={build}",
        f"PATH={build}/bin:/usr/bin:/bin",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
        f"PULUMI_HOME={build}/pulumi-home",
        "PULUMI_SKIP_UPDATE_CHECK=true",
    ])


def test_the_key_changes_with_the_build_inputs(tmp_path):
    # A changed go.mod or main.go must build afresh, not reuse a stale build.
    copy = tmp_path / "toolchain"
    subprocess.run(["cp", "-r", str(REPO / "toolchain"), str(copy)], check=True)
    run = lambda: subprocess.run(["bash", str(copy / "build.sh"), "--print-key"],
                                 capture_output=True, text=True, check=True).stdout
    before = run()
    go_mod = copy / "cli" / "go.mod"
    original = go_mod.read_text()
    go_mod.write_text(original + "\n// changed\n")
    assert run() != before
    go_mod.write_text(original)
    (copy / "README.md").write_text("docs do not count\n")
    (copy / "env.sh").write_text("# neither does env.sh\n")
    assert run() == before
