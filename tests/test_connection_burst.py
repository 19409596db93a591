"""ops/connection-burst.sh (`make load`'s host side) for real, against the throwaway PostgreSQL
cluster of tests/postgres_host.py with Debian's pgbench: the connections rise while it runs,
nothing it made survives it, one burst at a time, a clean stop on a signal or a closed session."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness import ROOT

SCRIPT = ROOT / "ops" / "connection-burst.sh"
BASH = shutil.which("bash")
DATABASE = "dd_assessment_load"
# With every test of the throwaway cluster on one xdist worker (--dist loadgroup), a run builds
# one cluster: two at once put two veths on 172.30.0.1/24 (tests/postgres_host.py).
pytestmark = pytest.mark.xdist_group("agent-network")
# The query the Agent's postgres check runs for postgresql.percent_usage_connections
# (integrations-core postgres/datadog_checks/postgres/util.py, CONNECTION_METRICS).
PERCENT_USAGE_CONNECTIONS = (
    "WITH max_con AS (SELECT setting::float FROM pg_settings WHERE name = 'max_connections') "
    "SELECT SUM(numbackends)/MAX(setting) FROM pg_stat_database, max_con")


@pytest.fixture
def lock_file(tmp_path) -> Path:
    return tmp_path / "burst.lock"


def _default_signals() -> None:
    """On the host the script starts from sshd and sudo with every signal at its default. A test
    run started in the background (`make test &`, nohup) would hand it SIGINT or SIGHUP ignored,
    and a non-interactive bash may not trap a signal ignored on entry: put them back."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


_STARTED: list[subprocess.Popen] = []  # the bursts the running test started


@pytest.fixture(autouse=True)
def _no_burst_outlives_its_test():
    """A failed test must not leave its burst holding connections and the lock for the next."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        for pid in _descendants(process.pid) | {process.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)


def _start(pg, lock_file, *args, stdin=subprocess.DEVNULL, **env) -> subprocess.Popen:
    """The script as `make load` runs it on the host: streamed into `bash -s` as root."""
    process = subprocess.Popen(
        [BASH, "-s", "--", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=_default_signals,
        env={**pg.env, "BURST_LOCK_FILE": str(lock_file), **env})
    _STARTED.append(process)
    process.stdin.write(SCRIPT.read_text())
    process.stdin.flush()
    if stdin is subprocess.DEVNULL:  # the whole script given, then end of input
        _close_input(process)
    return process


def _close_input(process: subprocess.Popen) -> None:
    process.stdin.close()
    process.stdin = None  # so communicate() does not flush it


def _run(pg, lock_file, *args, **env) -> subprocess.CompletedProcess:
    process = _start(pg, lock_file, *args, **env)
    output, _ = process.communicate(timeout=60)
    return subprocess.CompletedProcess(args, process.returncode, output)


def _connections(pg) -> int:
    return int(pg.superuser(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{DATABASE}'"))


def _databases(pg) -> list[str]:
    return pg.superuser("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"
                        ).split(",")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child its parent has yet to reap holds nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_connections(pg, process, count: int) -> set[int]:
    """Wait until the burst holds `count` connections; its process tree at that moment."""
    deadline = time.monotonic() + 30
    while _connections(pg) < count:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"the burst never reached {count} connections"
        time.sleep(0.1)
    return _descendants(process.pid)


def _assert_nothing_left(pg, lock_file, databases_before, tree) -> None:
    assert _databases(pg) == databases_before  # its database dropped, `postgres` untouched
    assert pg.superuser("SELECT count(*) FROM pg_class WHERE relname LIKE 'pgbench_%'") == "0"
    assert _connections(pg) == 0
    alive = [pid for pid in tree if _running(pid)]
    assert not alive, f"left running: {[Path(f'/proc/{p}/cmdline').read_bytes() for p in alive]}"
    # The lock is free again.
    assert subprocess.run(["flock", "--nonblock", str(lock_file), "true"], check=False
                          ).returncode == 0


def test_a_short_burst_raises_the_connections_then_leaves_nothing(prepared_postgres, lock_file):
    pg = prepared_postgres
    before = _databases(pg)
    idle_usage = float(pg.as_agent(PERCENT_USAGE_CONNECTIONS).stdout)
    burst = _start(pg, lock_file, "--clients", "10", "--seconds", "3")
    tree = _wait_for_connections(pg, burst, 10)
    # What the Agent reads while it runs: ten more of max_connections 100.
    usage = pg.as_agent(PERCENT_USAGE_CONNECTIONS)
    assert usage.returncode == 0, usage.stderr
    assert float(usage.stdout) >= idle_usage + 10 / int(pg.superuser("SHOW max_connections"))
    output, _ = burst.communicate(timeout=30)
    assert burst.returncode == 0, output
    assert "holding 10 connections for 3 s (max_connections 100)" in output
    assert "number of clients: 10" in output  # pgbench's own report
    assert output.rstrip().endswith(f"dropped database {DATABASE}"), output
    _assert_nothing_left(pg, lock_file, before, tree)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_one_burst_at_a_time_and_a_signal_stops_it_cleanly(prepared_postgres, lock_file, signum):
    pg = prepared_postgres
    before = _databases(pg)
    burst = _start(pg, lock_file, "--clients", "3", "--seconds", "120")
    tree = _wait_for_connections(pg, burst, 3)

    second = _run(pg, lock_file, "--clients", "3", "--seconds", "5")
    assert second.returncode == 3
    assert "another burst is running on this host" in second.stdout
    assert _connections(pg) == 3  # the refused one touched nothing

    started = time.monotonic()
    burst.send_signal(signum)
    output, _ = burst.communicate(timeout=30)
    assert burst.returncode == 128 + signum, output
    assert time.monotonic() - started < 10
    assert f"{signal.Signals(signum).name}: stopping the burst" in output
    # pgbench ended by the signal, not by the DROP DATABASE (FORCE) that follows as a safety net.
    assert "terminating connection due to administrator command" not in output
    assert f"dropped database {DATABASE}" in output
    _assert_nothing_left(pg, lock_file, before, tree)


def test_a_closed_session_stops_the_burst(prepared_postgres, lock_file):
    """`make load` keeps the ssh session's input open; it closes on Ctrl-C or a lost link."""
    pg = prepared_postgres
    before = _databases(pg)
    burst = _start(pg, lock_file, "--clients", "2", "--seconds", "120", "--stop-when-stdin-closes",
                   stdin=subprocess.PIPE)
    tree = _wait_for_connections(pg, burst, 2)
    time.sleep(0.5)
    assert burst.poll() is None  # an open session keeps it running
    _close_input(burst)
    output, _ = burst.communicate(timeout=30)
    assert burst.returncode == 128 + signal.SIGTERM, output
    _assert_nothing_left(pg, lock_file, before, tree)


@pytest.mark.parametrize("args,env,message", [
    (["--clients", "96", "--seconds", "5"], {},
     "--clients 96 is out of range; use 1..95 (max_connections 100 minus 5"),
    (["--clients", "0", "--seconds", "5"], {}, "--clients 0 is out of range; use 1..95"),
    (["--clients", "ninety", "--seconds", "5"], {}, "--clients 'ninety' is not a whole number"),
    (["--clients", "10", "--seconds", "601"], {}, "--seconds 601 is out of range; use 1..600"),
    (["--clients", "10", "--seconds", "0"], {}, "use 1..600 (at most 10 minutes)"),
    (["--clients", "10"], {}, "--seconds '' is not a whole number"),
    (["--clients", "10", "--seconds", "5", "--forever"], {}, "unknown argument '--forever'"),
    (["--clients", "10", "--seconds", "5"], {"BURST_DB": "postgres"}, "must be a plain name"),
])
def test_bad_arguments_are_refused_before_anything_is_created(prepared_postgres, lock_file, args,
                                                              env, message):
    before = _databases(prepared_postgres)
    result = _run(prepared_postgres, lock_file, *args, **env)
    assert result.returncode == 2, result.stdout
    assert message in result.stdout
    assert _databases(prepared_postgres) == before


def test_without_pgbench_it_says_how_to_install_it(prepared_postgres, lock_file, tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "id").symlink_to(shutil.which("id"))
    result = _run(prepared_postgres, lock_file, "--clients", "5", "--seconds", "5",
                  PATH=str(tmp_path / "bin"))
    assert result.returncode == 1
    assert "sudo dnf install -y postgresql15-contrib" in result.stdout
