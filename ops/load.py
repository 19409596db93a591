"""`make load`: the write-up's PostgreSQL connection burst on one host of a deployed stack.

Streams ops/connection-burst.sh into `sudo bash -s` over the host's own ssh command (the
stack's `sshCommands` output, read through ops/common.py like every operator tool, whatever
access path it holds), so pgbench holds --clients connections for --minutes and
`postgresql.percent_usage_connections` jumps on the dashboard's anomaly widget. The session's input stays open while the burst runs: Ctrl-C closes it, and the host
stops pgbench and drops the burst's database (so does a lost connection).

    python -m ops.load [--host N] [--clients N] [--minutes M] [--stack S | --outputs FILE]

Exit status: 0 done, 2 bad input (here, in the stack's outputs, or refused by the host), 3 a
burst already runs on that host, 130 stopped by Ctrl-C, 1 anything else. Standard library
only; never imports the Pulumi SDK.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from components import host_access
from ops.common import (
    CannotCheck,
    add_stack_arguments,
    environment,
    load_stack,
    minutes_argument,
)

BURST_SCRIPT = Path(__file__).resolve().with_name("connection-burst.sh")
DEFAULT_CLIENTS = 90
DEFAULT_MINUTES = 3.0
MAX_MINUTES = 10
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_STOPPED = 1, 2, 3, 130
WIDGET = "postgresql.percent_usage_connections with anomalies (basic, 2)"
REQUIRED_OUTPUTS = ("hostNames", "sshCommands", "dashboardUrl")


# --- Arguments --------------------------------------------------------------------------------


def _whole_number(low: int):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{raw}' is not a whole number; use a whole number >= {low}") from None
        if value < low:
            raise argparse.ArgumentTypeError(
                f"{value} is out of range; use a whole number >= {low}")
        return value
    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with the message, never a traceback
        self.print_usage(sys.stderr)
        print(f"make load: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="make load", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", type=_whole_number(0), default=0,
                        help="which host, 0..hostCount-1 (make: HOST; default 0)")
    parser.add_argument("--clients", type=_whole_number(1), default=DEFAULT_CLIENTS,
                        help=f"connections to hold, at most max_connections - 5 on the host "
                             f"(default {DEFAULT_CLIENTS})")
    parser.add_argument("--minutes", type=minutes_argument(MAX_MINUTES), default=DEFAULT_MINUTES,
                        help=f"how long, above 0 and at most {MAX_MINUTES}; decimals allowed "
                             f"(default {DEFAULT_MINUTES:g})")
    add_stack_arguments(parser)  # --stack (make: STACK), --outputs FILE
    return parser.parse_args(argv)


# --- The burst --------------------------------------------------------------------------------


def remote_command(clients: int, seconds: int) -> str:
    return shlex.join(["sudo", "bash", "-s", "--", "--clients", str(clients), "--seconds",
                       str(seconds), "--stop-when-stdin-closes"])


def with_timeouts(ssh_argv: list[str]) -> list[str]:
    """The stack's ssh command with the project's timeouts first (ssh keeps the first value it is
    given), so a stack deployed before sshCommands carried them cannot hang either."""
    return ssh_argv[:1] + host_access.connection_options() + ssh_argv[1:]


def what_to_look_at(host_name: str, dashboard_url: str) -> str:
    return (f"In Datadog: the dashboard {dashboard_url}\n"
            f"  widget \"{WIDGET}\", host {host_name} (the $host template variable):\n"
            "  the line climbs toward clients/max_connections within a minute or two (the "
            "Agent's check runs every 15 s) and leaves the gray band, which the anomaly "
            "function draws in red; it falls back when the burst ends.")


def run_burst(argv: list[str], script: bytes) -> int:
    """Run ssh with the script on its input, kept open until the burst ends or we stop it."""
    # Its own session: a Ctrl-C in the terminal reaches only us, and we end the burst in order.
    ssh = subprocess.Popen(argv, stdin=subprocess.PIPE, start_new_session=True)
    stop_requested = False

    def request_stop(signum, _frame):
        raise KeyboardInterrupt

    # SIGINT too, explicitly: Python leaves it ignored when it starts ignored (a job started in
    # the background), and Ctrl-C must stop the burst however `make load` was started.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    try:
        ssh.stdin.write(script)
        ssh.stdin.flush()
        status = ssh.wait()
    except (KeyboardInterrupt, BrokenPipeError):
        stop_requested = True
        print("\nmake load: stopping the burst on the host ...", file=sys.stderr, flush=True)
        try:
            ssh.stdin.close()  # end of input: the host stops pgbench and cleans up
        except BrokenPipeError:
            pass
        try:
            status = ssh.wait(timeout=60)
        except subprocess.TimeoutExpired:
            ssh.terminate()
            status = ssh.wait()
    return EXIT_STOPPED if stop_requested else status


def main(argv: list[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        stack = load_stack(args, REQUIRED_OUTPUTS, env=environment(env))
        host_names, ssh_commands = stack["hostNames"], stack["sshCommands"]
        if len(host_names) != len(ssh_commands):
            raise CannotCheck("the outputs hostNames and sshCommands differ in length; "
                              f"run `make up STACK={args.stack}`")
        if args.host >= len(host_names):
            raise CannotCheck(f"--host (HOST) {args.host} is out of range: stack {args.stack} has "
                              f"hostCount {len(host_names)}, so use 0..{len(host_names) - 1}")
    except CannotCheck as reason:
        print(f"make load: {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT

    host_name, ssh_command, dashboard_url = (host_names[args.host], ssh_commands[args.host],
                                             stack["dashboardUrl"])
    seconds = max(1, round(args.minutes * 60))
    ssh_argv = with_timeouts(shlex.split(ssh_command)) + [remote_command(args.clients, seconds)]
    ends = time.strftime("%H:%M:%S", time.localtime(time.time() + seconds))
    print(f"make load: {args.clients} connections to PostgreSQL on {host_name} for "
          f"{seconds} s (until about {ends}); Ctrl-C stops it and cleans up.\n"
          f"{what_to_look_at(host_name, dashboard_url)}", flush=True)

    status = run_burst(ssh_argv, BURST_SCRIPT.read_bytes())
    if status == 0:
        print(f"make load: done; the burst on {host_name} ended and its database is gone. "
              f"The spike stays on the widget for the graph's time frame: {dashboard_url}")
    elif status == EXIT_STOPPED:
        print("make load: stopped; the host's last lines above say what it cleaned up.",
              file=sys.stderr)
    elif status in (EXIT_BAD_INPUT, EXIT_BUSY):
        pass  # the host said why
    elif status == 255:
        print(f"make load: ssh could not reach {host_name} (`{ssh_command}`)", file=sys.stderr)
        status = EXIT_FAILED
    else:
        print(f"make load: the burst on {host_name} failed (exit {status})", file=sys.stderr)
        status = EXIT_FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
