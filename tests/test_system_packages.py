"""tests/system-packages.sh, the first step of `make test` on a fresh machine, with stand-ins for
`id` (who runs it) and `apt-get` (what it installs), in a scratch root standing for `/`
(SYSTEM_PACKAGES_ROOT): this machine's /usr/sbin/policy-rc.d and units are never touched.

The stand-in apt-get does what a package's postinst does to its services, with Debian's own tools:
deb-systemd-helper enables the unit (it does so on every first install, whatever policy-rc.d says)
and the start is asked of policy-rc.d the way deb-systemd-invoke asks it
(init-system-helpers, script/deb-systemd-invoke: `policy-rc.d <unit> start`, 101 = do not run).
Checked once for real, beyond these tests: in a debootstrap'd Debian 12 chroot with systemd and no
policy-rc.d, as on a laptop, the script installed openssh-server and cloud-init with no unit left
enabled (ssh.service and cloud-init's five: `systemctl is-enabled` says disabled), no sshd
started and no policy-rc.d left behind.
"""

import os
import shutil
import subprocess

import pytest

from tests.harness import ROOT

SCRIPT = ROOT / "tests" / "system-packages.sh"
# A stand-in apt-get: records each call; "installs" a package by creating the file its probe checks
# and, when the package has a unit in the scratch root, runs what its postinst would.
FAKE_APT_GET = """#!/usr/bin/env bash
echo "apt-get $*" >>"$CALLS"
for arg in "$@"; do
  [[ $arg == -* || $arg == update || $arg == install ]] && continue
  touch "$INSTALLED/$arg"
  unit="$arg.service"
  [[ -f $SYSTEM_PACKAGES_ROOT/lib/systemd/system/$unit ]] || continue
  DPKG_ROOT=$SYSTEM_PACKAGES_ROOT DPKG_MAINTSCRIPT_PACKAGE=$arg DPKG_MAINTSCRIPT_NAME=postinst \
    deb-systemd-helper enable "$unit"
  policy=$SYSTEM_PACKAGES_ROOT/usr/sbin/policy-rc.d
  verdict=none
  if [[ -x $policy ]]; then "$policy" "$unit" start; verdict=$?; fi
  echo "start $unit: policy-rc.d $verdict" >>"$CALLS"
done
"""
# Debian's default PATH for users other than root (/etc/login.defs ENV_PATH): no sbin.
USER_PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture
def machine(tmp_path):
    """Run the script against a list of three packages, one of them installed; `uid` picks the user."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "root").mkdir()
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
               "SYSTEM_PACKAGES_ROOT": str(tmp_path / "root"),
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
        "absent-one absent-two\n"
        "(make test run as root installs them itself, without starting or enabling their services.)\n")
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


def _unit(root, name: str) -> None:
    """A service unit as a package ships it: enabled for multi-user.target, with an alias (as
    openssh-server's ssh.service has sshd.service)."""
    path = root / "lib" / "systemd" / "system" / f"{name}.service"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[Unit]\nDescription={name}\n[Service]\nExecStart=/bin/true\n"
                    f"[Install]\nWantedBy=multi-user.target\nAlias={name}-alias.service\n")


def _links(root) -> list[str]:
    units = root / "etc" / "systemd" / "system"
    return sorted(str(p.relative_to(units)) for p in units.rglob("*") if p.is_symlink())


def _was_enabled(root, unit: str) -> bool:
    """What a later upgrade's postinst asks before it enables the unit again."""
    return subprocess.run(["deb-systemd-helper", "was-enabled", unit], capture_output=True,
                          env={**os.environ, "DPKG_ROOT": str(root), "DPKG_MAINTSCRIPT_PACKAGE": "x",
                               "DPKG_MAINTSCRIPT_NAME": "postinst"}).returncode == 0


needs_debian_helpers = pytest.mark.skipif(
    not (shutil.which("deb-systemd-helper") and shutil.which("systemctl")),
    reason="needs Debian's deb-systemd-helper and systemctl (init-system-helpers, systemd): "
           "the stand-in apt-get enables units with them as a postinst does")


@needs_debian_helpers
def test_an_install_neither_starts_nor_leaves_enabled_any_service(machine, tmp_path):
    root = tmp_path / "root"
    _unit(root, "absent-one")
    _unit(root, "present")  # enabled before the run: the machine's own, left alone
    subprocess.run(["deb-systemd-helper", "enable", "present.service"], check=True, capture_output=True,
                   env={**os.environ, "DPKG_ROOT": str(root), "DPKG_MAINTSCRIPT_PACKAGE": "present",
                        "DPKG_MAINTSCRIPT_NAME": "postinst"})
    before = _links(root)
    assert before == ["multi-user.target.wants/present.service", "present-alias.service"]

    result, calls = machine(uid=0)
    assert result.returncode == 0, result.stderr
    # The postinst asked to start the service while apt ran: policy-rc.d said 101, do not run.
    assert "start absent-one.service: policy-rc.d 101" in calls
    # What the install enabled is disabled again; what was enabled before stays.
    assert _links(root) == before
    assert "disabling what the install enabled: absent-one.service" in result.stderr
    assert not _was_enabled(root, "absent-one.service")  # so an upgrade leaves it disabled
    # The policy was ours for the install only.
    assert not (root / "usr" / "sbin" / "policy-rc.d").exists()


@needs_debian_helpers
def test_an_administrators_policy_rc_d_is_used_and_left_as_it_was(machine, tmp_path):
    root = tmp_path / "root"
    _unit(root, "absent-one")
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.parent.mkdir(parents=True)
    policy.write_text("#!/bin/sh\n# the administrator's\nexit 101\n")
    policy.chmod(0o755)
    result, calls = machine(uid=0)
    assert result.returncode == 0, result.stderr
    assert "start absent-one.service: policy-rc.d 101" in calls
    assert policy.read_text() == "#!/bin/sh\n# the administrator's\nexit 101\n"
    assert _links(root) == []


def test_the_policy_is_removed_when_the_install_fails(machine, tmp_path):
    (tmp_path / "bin" / "apt-get").write_text("#!/bin/sh\necho 'E: Unable to locate package' >&2\nexit 100\n")
    result, _ = machine(uid=0)
    assert result.returncode == 100
    assert not (tmp_path / "root" / "usr" / "sbin" / "policy-rc.d").exists()


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs dpkg-query: a Debian or Ubuntu machine")
def test_every_installed_package_passes_its_probe_on_a_non_root_users_path():
    """A probe must find what is installed, for a user too (util-linux's runuser is in /usr/sbin)."""
    failing = []
    for line in (ROOT / "tests" / "system-packages.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        package, probe = line.split(maxsplit=1)
        status = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True)
        if status.stdout != "install ok installed":
            continue
        probed = subprocess.run(["bash", "-c", probe], env={"PATH": USER_PATH}, capture_output=True)
        if probed.returncode != 0:
            failing.append(package)
    assert failing == []
