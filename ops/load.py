"""`make load`: the write-up's PostgreSQL connection burst on one host of a deployed stack.

Streams ops/connection-burst.sh into `sudo bash -s` over the stack's own ssh command (its
`sshCommands` output, whatever access path that is), so pgbench holds --clients connections
for --minutes and `postgresql.percent_usage_connections` jumps on the dashboard's anomaly
widget. The session's input stays open while the burst runs: Ctrl-C closes it, and the host
stops pgbench and drops the burst's database (so does a lost connection).

    python -m ops.load [--host N] [--clients N] [--minutes M] [--stack S | --outputs FILE]

Exit status: 0 done, 2 bad input (here or refused by the host), 3 a burst already runs on
that host, 130 stopped by Ctrl-C, 1 anything else. Standard library only; never imports the
Pulumi SDK.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BURST_SCRIPT = Path(__file__).resolve().with_name("connection-burst.sh")
DEFAULT_CLIENTS = 90
DEFAULT_MINUTES = 3.0
MAX_MINUTES = 10
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_STOPPED = 1, 2, 3, 130
WIDGET = "postgresql.percent_usage_connections with anomalies (basic, 2)"


class Refused(Exception):
    """Bad input or an unusable stack: the message says what and how to fix it."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


# --- Stack outputs ----------------------------------------------------------------------------
# A small reader of `pulumi stack output --json`, kept apart so it can move into a module of
# ops/ shared with the other operator tools.


@dataclass(frozen=True)
class StackOutputs:
    host_names: list[str]
    ssh_commands: list[str]
    dashboard_url: str


def read_stack_outputs(stack: str, outputs_file: str | None) -> StackOutputs:
    """From FILE (the JSON `pulumi stack output --json` prints), else from the Pulumi CLI."""
    if outputs_file:
        try:
            text = Path(outputs_file).read_text()
        except OSError as error:
            raise Refused(f"--outputs: cannot read {outputs_file} ({error.strerror})") from None
        source = outputs_file
    else:
        command = ["pulumi", "stack", "output", "--json", "--stack", stack]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False,
                                    stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise Refused("the Pulumi CLI is not installed; install it, or pass --outputs FILE "
                          "holding `pulumi stack output --json` of the stack",
                          EXIT_FAILED) from None
        if result.returncode != 0:
            raise Refused(f"`{shlex.join(command)}` failed: {result.stderr.strip()}\n"
                          "Is the stack deployed (`make up`) and its backend logged in? Secrets "
                          "on a file backend need PULUMI_CONFIG_PASSPHRASE.", EXIT_FAILED)
        text, source = result.stdout, f"stack {stack}"
    try:
        outputs = json.loads(text)
    except ValueError:
        raise Refused(f"{source}: not the JSON of `pulumi stack output --json`") from None
    if not isinstance(outputs, dict):
        raise Refused(f"{source}: not the JSON of `pulumi stack output --json`")

    def strings(key: str) -> list[str]:
        value = outputs.get(key)
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise Refused(f"{source}: output {key} is missing or not a list of strings; "
                          "deploy the stack with `make up` first")
        return value

    host_names, ssh_commands = strings("hostNames"), strings("sshCommands")
    if len(host_names) != len(ssh_commands):
        raise Refused(f"{source}: hostNames and sshCommands differ in length")
    dashboard_url = outputs.get("dashboardUrl")
    if not isinstance(dashboard_url, str):
        raise Refused(f"{source}: output dashboardUrl is missing; deploy with `make up` first")
    return StackOutputs(host_names, ssh_commands, dashboard_url)


# --- Arguments --------------------------------------------------------------------------------


def _whole_number(name: str, low: int, high: int | None = None):
    def parse(raw: str) -> int:
        allowed = f"{low}..{high}" if high is not None else f"a whole number >= {low}"
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{raw}' is not a whole number; use {allowed}") \
                from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; use {allowed}")
        return value
    parse.__name__ = name
    return parse


def _minutes(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_MINUTES:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"'{raw}' is out of range; use a number of minutes above 0 and at most {MAX_MINUTES}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with the message, never a traceback
        self.print_usage(sys.stderr)
        print(f"make load: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="make load", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", type=_whole_number("host", 0), default=0,
                        help="which host, 0..hostCount-1 (make: HOST; default 0)")
    parser.add_argument("--clients", type=_whole_number("clients", 1), default=DEFAULT_CLIENTS,
                        help=f"connections to hold, at most max_connections - 5 on the host "
                             f"(default {DEFAULT_CLIENTS})")
    parser.add_argument("--minutes", type=_minutes, default=DEFAULT_MINUTES,
                        help=f"how long, above 0 and at most {MAX_MINUTES}; decimals allowed "
                             f"(default {DEFAULT_MINUTES:g})")
    parser.add_argument("--stack", default="test", help="the stack (make: STACK; default test)")
    parser.add_argument("--outputs", metavar="FILE",
                        help="`pulumi stack output --json` saved in FILE, instead of asking the "
                             "Pulumi CLI")
    return parser.parse_args(argv)


# --- The burst --------------------------------------------------------------------------------


def remote_command(clients: int, seconds: int) -> str:
    return shlex.join(["sudo", "bash", "-s", "--", "--clients", str(clients), "--seconds",
                       str(seconds), "--stop-when-stdin-closes"])


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

    for signum in (signal.SIGTERM, signal.SIGHUP):
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        outputs = read_stack_outputs(args.stack, args.outputs)
        host_count = len(outputs.host_names)
        if args.host >= host_count:
            raise Refused(f"--host (HOST) {args.host} is out of range: stack {args.stack} has "
                          f"hostCount {host_count}, so use 0..{host_count - 1}")
    except Refused as refusal:
        print(f"make load: {refusal}", file=sys.stderr)
        return refusal.status

    host_name = outputs.host_names[args.host]
    seconds = max(1, round(args.minutes * 60))
    ssh_argv = shlex.split(outputs.ssh_commands[args.host]) + [remote_command(args.clients,
                                                                               seconds)]
    ends = time.strftime("%H:%M:%S", time.localtime(time.time() + seconds))
    print(f"make load: {args.clients} connections to PostgreSQL on {host_name} for "
          f"{seconds} s (until about {ends}); Ctrl-C stops it and cleans up.\n"
          f"{what_to_look_at(host_name, outputs.dashboard_url)}", flush=True)

    status = run_burst(ssh_argv, BURST_SCRIPT.read_bytes())
    if status == 0:
        print(f"make load: done; the burst on {host_name} ended and its database is gone. "
              f"The spike stays on the widget for the graph's time frame: "
              f"{outputs.dashboard_url}")
    elif status == EXIT_STOPPED:
        print("make load: stopped; the host's last lines above say what it cleaned up.",
              file=sys.stderr)
    elif status in (EXIT_BAD_INPUT, EXIT_BUSY):
        pass  # the host said why
    elif status == 255:
        print(f"make load: ssh could not reach {host_name} (`{outputs.ssh_commands[args.host]}`)",
              file=sys.stderr)
        status = EXIT_FAILED
    else:
        print(f"make load: the burst on {host_name} failed (exit {status})", file=sys.stderr)
        status = EXIT_FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
