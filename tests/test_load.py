"""`make load` (ops/load.py) with stand-ins for `ssh`, `sudo` and `pulumi` on PATH, no network.

The recording ssh proves what would cross the wire; the running ssh executes the remote command
here, so the real burst script runs against the throwaway PostgreSQL cluster and a Ctrl-C is
followed all the way to the host's clean-up."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests.harness import ROOT

SCRIPT = ROOT / "ops" / "connection-burst.sh"
OUTPUTS = {
    "hostNames": ["dd-assessment-test-0", "dd-assessment-test-1"],
    "sshCommands": ["ssh -i ~/.ssh/id_ed25519 ec2-user@198.51.100.10",
                    ("ssh -i '/keys/my key' -o ProxyCommand='aws ssm start-session --target %h' "
                     "ec2-user@i-0123456789abcdef0")],
    "dashboardUrl": "https://app.datadoghq.com/dashboard/abc-def-ghi/dd-assessment-test",
    "monitorId": 4242424,
}
# Records its argv (JSON) and its input up to the script's last line, where bash, reading the
# script from its input, stops reading; answers like a finished burst. (make load keeps the
# input open while the burst runs, so reading to the end would wait forever.)
RECORDING_SSH = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["SSH_CALLS"], "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
with open(os.environ["SSH_CALLS"] + ".stdin", "wb") as given:
    for line in sys.stdin.buffer:
        given.write(line)
        if line == b'main "$@"; exit\\n':
            break
sys.exit(int(os.environ.get("SSH_EXIT", "0")))
"""
# Runs the remote command (its last argument) here, as sshd would run it on the host.
RUNNING_SSH = """#!/usr/bin/env bash
exec bash -c "${@: -1}"
"""
# Written out: ConnectTimeout bounds the connect and the banner exchange, the keep-alives a dead
# session (components/host_access.py).
TIMEOUTS = ["-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
SUDO = """#!/usr/bin/env bash
exec "$@"
"""


@pytest.fixture
def stand_ins(tmp_path):
    """A bin directory for stand-ins, the outputs file and the ssh call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()

    def add(name: str, text: str) -> None:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    return bin_dir, add, outputs, tmp_path / "ssh-calls"


def _load(bin_dir, *args, env=None, **popen) -> subprocess.Popen:
    environment = {**(env or os.environ), "PATH": f"{bin_dir}:{(env or os.environ)['PATH']}"}
    return subprocess.Popen([sys.executable, "-m", "ops.load", *args], cwd=ROOT, text=True,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)


def _finish(process) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def _calls(calls_file) -> list[list[str]]:
    return [json.loads(line) for line in calls_file.read_text().splitlines()] \
        if calls_file.exists() else []


def test_it_streams_the_burst_script_over_the_hosts_own_ssh_command(stand_ins):
    bin_dir, add, outputs, calls = stand_ins
    add("ssh", RECORDING_SSH)
    status, out, err = _finish(_load(bin_dir, "--outputs", str(outputs), "--host", "1",
                                     "--clients", "80", "--minutes", "2.5",
                                     env={**os.environ, "SSH_CALLS": str(calls)}))
    assert status == 0, err
    # The stack's ssh command as given (here with an SSM ProxyCommand), after the timeouts that
    # keep an unreachable host from hanging it, then the remote command.
    assert _calls(calls) == [[
        *TIMEOUTS, "-i", "/keys/my key", "-o", "ProxyCommand=aws ssm start-session --target %h",
        "ec2-user@i-0123456789abcdef0",
        "sudo bash -s -- --clients 80 --seconds 150 --stop-when-stdin-closes"]]
    assert (calls.parent / "ssh-calls.stdin").read_bytes() == SCRIPT.read_bytes()
    assert "80 connections to PostgreSQL on dd-assessment-test-1 for 150 s" in out
    assert OUTPUTS["dashboardUrl"] in out
    assert 'widget "postgresql.percent_usage_connections with anomalies (basic, 2)"' in out
    assert "host dd-assessment-test-1" in out
    assert "done; the burst on dd-assessment-test-1 ended" in out


def test_the_tool_never_imports_pulumi(stand_ins):
    bin_dir, add, outputs, calls = stand_ins
    add("ssh", RECORDING_SSH)
    load = subprocess.run([sys.executable, "-X", "importtime", "-m", "ops.load", "--outputs",
                           str(outputs)], cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
                               "SSH_CALLS": str(calls)})
    assert load.returncode == 0, load.stderr
    imported = {line.split("|")[-1].strip() for line in load.stderr.splitlines()
                if line.startswith("import time:")}
    assert "ops.common" in imported
    assert not [m for m in imported if m.split(".")[0].startswith("pulumi")]


def test_defaults_are_host_0_90_clients_3_minutes(stand_ins):
    bin_dir, add, outputs, calls = stand_ins
    add("ssh", RECORDING_SSH)
    status, _, err = _finish(_load(bin_dir, "--outputs", str(outputs),
                                   env={**os.environ, "SSH_CALLS": str(calls)}))
    assert status == 0, err
    assert _calls(calls) == [TIMEOUTS + shlex.split(OUTPUTS["sshCommands"][0])[1:] + [
        "sudo bash -s -- --clients 90 --seconds 180 --stop-when-stdin-closes"]]


def test_outputs_come_from_the_pulumi_cli_without_a_file(stand_ins):
    bin_dir, add, _, calls = stand_ins
    add("ssh", RECORDING_SSH)
    add("pulumi", f"#!/usr/bin/env bash\necho \"$*\" >{calls}.pulumi\n"
                  f"echo '{json.dumps(OUTPUTS)}'\n")
    status, _, err = _finish(_load(bin_dir, "--stack", "demo", "--minutes", "1",
                                   env={**os.environ, "SSH_CALLS": str(calls)}))
    assert status == 0, err
    assert (calls.parent / "ssh-calls.pulumi").read_text() == (
        "stack output --json --show-secrets --stack demo --non-interactive\n")
    assert _calls(calls)[0][-1].endswith("--seconds 60 --stop-when-stdin-closes")


@pytest.mark.parametrize("args,message", [
    (["--clients", "0"], "argument --clients: 0 is out of range; use a whole number >= 1"),
    (["--clients", "lots"], "argument --clients: 'lots' is not a whole number"),
    (["--minutes", "0"],
     "argument --minutes: '0' is out of range; use a number of minutes above 0 and at most 10"),
    (["--minutes", "11"], "argument --minutes: '11' is out of range"),
    (["--minutes", "nan"], "argument --minutes: 'nan' is out of range"),
    (["--minutes", "three"], "argument --minutes: 'three' is out of range"),
    (["--host", "2"], "--host (HOST) 2 is out of range: stack test has hostCount 2, so use 0..1"),
    (["--host", "-1"], "argument --host: -1 is out of range; use a whole number >= 0"),
    (["--host", "one"], "argument --host: 'one' is not a whole number"),
    (["--seconds", "5"], "unrecognized arguments: --seconds 5"),
])
def test_bad_arguments_exit_2_naming_the_argument_and_range_before_any_ssh(stand_ins, args,
                                                                           message):
    bin_dir, add, outputs, calls = stand_ins
    add("ssh", RECORDING_SSH)
    status, _, err = _finish(_load(bin_dir, "--outputs", str(outputs), *args,
                                     env={**os.environ, "SSH_CALLS": str(calls)}))
    assert status == 2
    assert message in err and "Traceback" not in err
    assert _calls(calls) == []


@pytest.mark.parametrize("content,message", [
    (None, "cannot read the outputs file"),
    ("not json", "is not JSON"),
    (json.dumps({**OUTPUTS, "sshCommands": "ssh host"}), "sshCommands is not a list"),
    (json.dumps({**OUTPUTS, "sshCommands": OUTPUTS["sshCommands"][:1]}),
     "the outputs hostNames and sshCommands differ in length"),
    (json.dumps({k: v for k, v in OUTPUTS.items() if k != "dashboardUrl"}), "no dashboardUrl"),
])
def test_unusable_outputs_are_refused_naming_what_is_wrong(stand_ins, content, message):
    bin_dir, add, outputs, calls = stand_ins
    add("ssh", RECORDING_SSH)
    if content is None:
        outputs.unlink()
    else:
        outputs.write_text(content)
    status, _, err = _finish(_load(bin_dir, "--outputs", str(outputs),
                                   env={**os.environ, "SSH_CALLS": str(calls)}))
    assert status == 2
    assert message in err and "Traceback" not in err
    assert _calls(calls) == []


def test_an_unreachable_host_is_named(stand_ins):
    bin_dir, add, outputs, calls = stand_ins
    add("ssh", RECORDING_SSH)
    status, _, err = _finish(_load(bin_dir, "--outputs", str(outputs),
                                   env={**os.environ, "SSH_CALLS": str(calls), "SSH_EXIT": "255"}))
    assert status == 1
    assert "ssh could not reach dd-assessment-test-0" in err


# --- Through to a real PostgreSQL: the stand-in ssh runs the remote command right here. ---------


# The cluster's tests share one xdist worker (see tests/test_connection_burst.py).
ON_THE_CLUSTERS_WORKER = pytest.mark.xdist_group("agent-network")


@pytest.fixture
def on_the_host(stand_ins, prepared_postgres, tmp_path):
    bin_dir, add, outputs, _ = stand_ins
    add("ssh", RUNNING_SSH)
    add("sudo", SUDO)
    env = {**prepared_postgres.env, "BURST_LOCK_FILE": str(tmp_path / "burst.lock")}
    return bin_dir, outputs, env


def _connections(pg) -> int:
    return int(pg.superuser("SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = 'dd_assessment_load'"))


def _sigint(disposition):
    return lambda: signal.signal(signal.SIGINT, disposition)


@ON_THE_CLUSTERS_WORKER
@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["sigint-default",
                                                                          "sigint-ignored"])
def test_ctrl_c_stops_the_burst_on_the_host_cleanly(on_the_host, prepared_postgres, inherited):
    """Ignored is what a job started in the background inherits: Python would then leave Ctrl-C
    ignored, unless the tool takes SIGINT itself."""
    bin_dir, outputs, env = on_the_host
    # Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    load = _load(bin_dir, "--outputs", str(outputs), "--clients", "3", "--minutes", "2", env=env,
                 start_new_session=True, preexec_fn=_sigint(inherited))
    deadline = time.monotonic() + 30
    while _connections(prepared_postgres) < 3:
        assert load.poll() is None, load.communicate()
        assert time.monotonic() < deadline, "the burst never started"
        time.sleep(0.1)
    started = time.monotonic()
    os.killpg(load.pid, signal.SIGINT)
    status, out, err = _finish(load)
    assert status == 130, out + err
    assert time.monotonic() - started < 15
    assert "SIGTERM: stopping the burst" in out  # the host saw its input close
    assert "dropped database dd_assessment_load" in out
    assert _connections(prepared_postgres) == 0
    assert "dd_assessment_load" not in prepared_postgres.superuser(
        "SELECT string_agg(datname, ',') FROM pg_database")


@ON_THE_CLUSTERS_WORKER
def test_the_hosts_own_limit_on_clients_comes_back_as_bad_input(on_the_host):
    bin_dir, outputs, env = on_the_host
    status, out, err = _finish(_load(bin_dir, "--outputs", str(outputs), "--clients", "96",
                                     env=env))
    assert status == 2, out + err
    assert "--clients 96 is out of range; use 1..95 (max_connections 100" in err
