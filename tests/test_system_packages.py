"""tests/system-packages.sh, the first step of `make test` on a fresh machine, with stand-ins for
`id` (who runs it) and `apt-get` (what it installs)."""

import os
import subprocess

import pytest

from tests.harness import ROOT

SCRIPT = ROOT / "tests" / "system-packages.sh"
# A stand-in apt-get: records each call; "installs" a package by creating the file its probe checks.
FAKE_APT_GET = """#!/usr/bin/env bash
echo "apt-get $*" >>"$CALLS"
for arg in "$@"; do [[ $arg == -* || $arg == update || $arg == install ]] || touch "$INSTALLED/$arg"; done
"""


@pytest.fixture
def machine(tmp_path):
    """Run the script against a list of three packages, one of them installed; `uid` picks the user."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "installed").mkdir()
    (tmp_path / "installed" / "present").touch()
    (tmp_path / "bin" / "apt-get").write_text(FAKE_APT_GET)
    (tmp_path / "packages.txt").write_text(
        "# comment line\n\n"
        "present      test -e \"$INSTALLED/present\"   # a comment after the probe\n"
        "absent-one   test -e \"$INSTALLED/absent-one\"\n"
        "absent-two   test -e \"$INSTALLED/absent-two\"\n")
    calls = tmp_path / "calls"
    calls.touch()

    def run(uid: int) -> tuple[subprocess.CompletedProcess, list[str]]:
        (tmp_path / "bin" / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        for tool in ("id", "apt-get"):
            (tmp_path / "bin" / tool).chmod(0o755)
        env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
               "SYSTEM_PACKAGES_LIST": str(tmp_path / "packages.txt"),
               "INSTALLED": str(tmp_path / "installed"), "CALLS": str(calls)}
        result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
        return result, calls.read_text().splitlines()

    return run


def test_without_root_it_names_every_missing_package_and_the_command(machine):
    result, apt_calls = machine(uid=1000)
    assert result.returncode == 1
    assert result.stderr == (
        "make test needs system packages that are not installed: absent-one absent-two\n"
        "Install them, then run make test again (on Debian or Ubuntu):\n"
        "  sudo apt-get update && sudo apt-get install -y --no-install-recommends "
        "absent-one absent-two\n")
    assert apt_calls == []


def test_as_root_it_installs_exactly_the_missing_packages(machine):
    result, apt_calls = machine(uid=0)
    assert result.returncode == 0, result.stderr
    assert apt_calls == ["apt-get update -qq",
                         "apt-get install -y -qq --no-install-recommends absent-one absent-two"]
    # Everything present now: the next run does nothing.
    result, apt_calls_after = machine(uid=0)
    assert (result.returncode, result.stderr) == (0, "")
    assert apt_calls_after == apt_calls


def test_a_package_that_installs_but_still_fails_its_check_stops_the_run(machine, tmp_path):
    (tmp_path / "bin" / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    result, _ = machine(uid=0)
    assert result.returncode == 1
    assert "still not usable: absent-one absent-two" in result.stderr


def test_the_real_list_is_well_formed():
    lines = [line for line in (ROOT / "tests" / "system-packages.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    packages = [line.split()[0] for line in lines]
    assert len(packages) == len(set(packages))
    assert all(len(line.split()) >= 2 for line in lines), "each package needs a probe command"


def test_make_test_checks_the_system_packages_before_anything_else():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0].strip().splitlines()
    assert recipe[0].strip() == "bash tests/system-packages.sh"
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", " "))]
    # make test first, then only the slower suites' make targets (which install their own packages).
    assert "make test" in commands
    assert all(command.startswith("make ") for command in commands[commands.index("make test"):]), commands
    assert "apt-get" not in ci
