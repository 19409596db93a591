"""What the operator tools share: the stack's outputs and Datadog keys, exit codes, one-line errors.

Exit codes, for every tool: 0 done (all checks passed), 1 something checked failed, 2 the tool
could not do its job (no keys, unknown stack, API unreachable, bad outputs file). A code-2 exit
prints one line saying why and what to do, never a traceback.

The stack's outputs come from `pulumi stack output --json --show-secrets`, or from `--outputs
FILE` holding that same JSON, so a tool runs where there is no Pulumi CLI (CI, a colleague's
laptop). Keys come from DD_API_KEY / DD_APP_KEY, else from the stack's `datadog:apiKey` /
`datadog:appKey` (through the CLI only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.design import DATADOG_SITES

ROOT = Path(__file__).resolve().parent.parent
PASSED, FAILED, CANNOT_CHECK = 0, 1, 2
PULUMI_TIMEOUT_SECONDS = 120

# Every output a tool reads, with its JSON type as `pulumi stack output --json` prints it.
OUTPUT_TYPES: dict[str, type] = {
    "hostNames": list,
    "launchTimes": dict,
    "datadogSite": str,
    "env": str,
    "service": str,
    "hostTags": list,
    "checkIntervalSeconds": int,
    "monitorId": int,
    "monitorOptions": dict,
    "dashboardId": str,
    "serviceDashboardId": str,
    "downtimeIds": dict,
    "timezone": str,
    "notifyHandles": list,
    "sshCommands": list,
    "dashboardUrl": str,
}


class CannotCheck(Exception):
    """The tool cannot do its job; the message is the one-line reason and the fix (exit 2)."""


@dataclass(frozen=True)
class Stack:
    """A deployed stack as the tools see it: its name and its outputs."""

    name: str
    outputs: Mapping[str, Any]
    # Where the outputs came from, for messages: `--outputs FILE`, or None for the Pulumi CLI.
    outputs_file: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.outputs[key]

    def get(self, key: str) -> Any:
        """An optional output: None when absent (an older deployment)."""
        return self.outputs.get(key)

    @property
    def site(self) -> str:
        return self.outputs["datadogSite"]


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="test", help="the stack to check (default: test)")
    parser.add_argument("--outputs", metavar="FILE", type=Path,
                        help="read the stack's outputs from FILE (the JSON of `pulumi stack output "
                             "--json --show-secrets`) instead of running the Pulumi CLI")


def number_argument(unit: str, maximum: float, *, above: float | None = None,
                    at_least: float | None = None) -> Callable[[str], float]:
    """An argparse type: a number of `unit` (decimals allowed) above `above`, or at least
    `at_least`, and at most `maximum`; anything else is refused naming the range."""
    low = (f"above {above:g}" if above is not None else f"at least {at_least:g}")

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        in_range = value <= maximum and (value > above if above is not None else value >= at_least)
        if not in_range:  # also refuses nan
            raise argparse.ArgumentTypeError(
                f"'{raw}' is out of range; use a number of {unit} {low} and at most {maximum:g}")
        return value
    return parse


def minutes_argument(maximum: float) -> Callable[[str], float]:
    """An argparse type: a number of minutes above 0 and at most `maximum` (decimals allowed)."""
    return number_argument("minutes", maximum, above=0)


def pulumi_json(arguments: list[str], stack: str, env: Mapping[str, str]) -> Any:
    """Run `pulumi <arguments> --stack <stack>` in the project and parse what it prints."""
    command = ["pulumi", *arguments, "--stack", stack, "--non-interactive"]
    shown = "pulumi " + " ".join(arguments)
    try:
        done = subprocess.run(command, check=False, cwd=ROOT, env={**env, "PULUMI_SKIP_UPDATE_CHECK": "true"},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=PULUMI_TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise CannotCheck("the Pulumi CLI is not on PATH: install it "
                          "(https://www.pulumi.com/docs/iac/download-install/), or pass --outputs "
                          "FILE holding the JSON of `pulumi stack output --json --show-secrets`") from None
    except subprocess.TimeoutExpired:
        raise CannotCheck(f"`{shown}` did not finish within {PULUMI_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("error: ") if lines else f"exit code {done.returncode}"
        hint = "; `pulumi stack ls` lists this project's stacks" if "no stack named" in reason else ""
        raise CannotCheck(f"cannot read stack '{stack}': `{shown}` failed: {reason}{hint}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise CannotCheck(f"`{shown}` printed something that is not JSON") from None


def _read_outputs_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CannotCheck(f"cannot read the outputs file {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise CannotCheck(f"the outputs file {path} is not JSON ({error}); write it with "
                          f"`pulumi stack output --json --show-secrets > {path}`") from None


def _type_problem(key: str, value: Any) -> str | None:
    expected = OUTPUT_TYPES[key]
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{key} is not a whole number"
    if not isinstance(value, expected):
        return f"{key} is not a {'list' if expected is list else 'mapping' if expected is dict else 'string'}"
    if expected is list and not all(isinstance(item, str) for item in value):
        return f"{key} is not a list of strings"
    return None


def load_stack(args: argparse.Namespace, required: Iterable[str], *,
               env: Mapping[str, str]) -> Stack:
    """The stack's outputs, with every `required` output present and of its type.

    Optional outputs a tool reads (see OUTPUT_TYPES) are type-checked when present. All problems
    are reported in one line, so one `make up` (or one new outputs file) fixes them all.
    """
    if args.outputs is not None:
        outputs = _read_outputs_file(args.outputs)
        source = f"the outputs file {args.outputs}"
        refresh = (f"after `make up`, rewrite it with `pulumi stack output --json --show-secrets "
                   f"> {args.outputs}`")
    else:
        outputs = pulumi_json(["stack", "output", "--json", "--show-secrets"], args.stack, env)
        source = f"the outputs of stack '{args.stack}'"
        refresh = f"run `make up STACK={args.stack}` to deploy it with this version of the program"
    if not isinstance(outputs, dict):
        raise CannotCheck(f"{source} is not a JSON object of outputs; {refresh}")
    if not outputs:
        raise CannotCheck(f"{source} is empty: the stack is not deployed; {refresh}")

    problems = [f"no {key}" for key in required if key not in outputs]
    problems += [problem for key, value in outputs.items()
                 if key in OUTPUT_TYPES and (problem := _type_problem(key, value))]
    if problems:
        raise CannotCheck(f"{source}: {', '.join(problems)}; {refresh}")
    if outputs.get("datadogSite", DATADOG_SITES[0]) not in DATADOG_SITES:
        raise CannotCheck(f"{source}: datadogSite {outputs['datadogSite']!r} is not a Datadog site "
                          f"({', '.join(DATADOG_SITES)})")
    return Stack(name=args.stack, outputs=outputs, outputs_file=args.outputs)


def datadog_keys(stack: Stack, env: Mapping[str, str]) -> tuple[str, str]:
    """(API key, application key): DD_API_KEY / DD_APP_KEY, else the stack's secrets."""
    keys = {"apiKey": env.get("DD_API_KEY", ""), "appKey": env.get("DD_APP_KEY", "")}
    if not all(keys.values()) and stack.outputs_file is None:
        config = pulumi_json(["config", "--json", "--show-secrets"], stack.name, env)
        for name in keys:
            entry = config.get(f"datadog:{name}") if isinstance(config, dict) else None
            if not keys[name] and isinstance(entry, dict) and isinstance(entry.get("value"), str):
                keys[name] = entry["value"]
    missing = [f"{variable} (or the stack's datadog:{name})"
               for name, variable in (("apiKey", "DD_API_KEY"), ("appKey", "DD_APP_KEY"))
               if not keys[name]]
    if missing:
        fix = ("export them (with --outputs the stack's config is not read)"
               if stack.outputs_file is not None else
               "export them, or `pulumi config set --secret datadog:apiKey` (and appKey)")
        raise CannotCheck(f"no Datadog key: {' and '.join(missing)} not set; {fix}; the keys are "
                          "in Organization Settings > API Keys / Application Keys")
    return keys["apiKey"], keys["appKey"]


def run_tool(prog: str, main: Callable[[], int]) -> int:
    """Run a tool's main; CannotCheck becomes its one-line reason on stderr and exit code 2."""
    try:
        return main()
    except CannotCheck as reason:
        print(f"{prog}: cannot check: {reason}", file=sys.stderr)
        return CANNOT_CHECK
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env
