"""`make verify`: prove every item of the exercise live in the Datadog org, one line per check.

    make verify [STACK=test] [ARGS="--wait 15" | ARGS=--json | ARGS="--outputs FILE"]

Reads the stack's outputs, asks Datadog (ops/datadog_api.py) and prints PASS or FAIL per check,
per host where it applies, with what was expected, what was seen and a link into the app. The
checks are listed in `checks()`; README.md ("Verifying a deployment") says what each one means and
what to do when it fails. Exit 0 when all pass, 1 when some fail, 2 when it cannot check.
`--wait MINUTES` re-checks every 30 s until all pass or the time runs out (right after `make up`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os.path
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from components.design import app_url
from ops.common import (
    FAILED,
    PASSED,
    Stack,
    add_stack_arguments,
    datadog_keys,
    environment,
    load_stack,
    minutes_argument,
    number_argument,
    run_tool,
)

if TYPE_CHECKING:
    from ops.datadog_api import DatadogApi

REQUIRED_OUTPUTS = ("hostNames", "launchTimes", "datadogSite", "env", "service", "hostTags",
                    "checkIntervalSeconds", "monitorId", "monitorOptions", "dashboardId",
                    "downtimeIds", "timezone")
REPORT_WITHIN = 300          # a host is "reporting" when its last report is this recent (s)
RECENT = 15 * 60             # the window the metric and APM checks look at (s)
GAP_TOLERANCE = 0.2          # my_metric's median gap may differ this much from its interval
MY_METRIC_RANGE = (0, 1000)  # what the custom check submits (agent/checks.d/my_metric.py)
BUCKET = 5                   # query bucket (s): fine enough to see each my_metric point
FIRST_METRIC_WINDOW = 2 * 3600  # how long after launch the first my_metric point is looked for
MAX_WAIT_MINUTES = 180  # --wait
# --interval: a round asks 4 + hostCount timeseries queries (and about 8 other calls). Datadog
# documented 1600 timeseries queries an hour per organization (docs.datadoghq.com/api/latest/
# rate-limits; today's limits come in each answer's X-RateLimit-* headers). 3 s per query keeps
# the rounds at 1200 queries an hour, leaving room for the dashboards someone is watching: 15 s
# with one host, and rounds are spaced further apart with more. 0 sent a thousand requests in
# six seconds.
SECONDS_PER_QUERY = 3


def round_floor(host_count: int) -> int:
    """The shortest pause between rounds that keeps them within the query budget."""
    return SECONDS_PER_QUERY * (4 + host_count)


MIN_INTERVAL_SECONDS = round_floor(1)
MAX_INTERVAL_SECONDS = 600
EVALUATED = ("OK", "Warn", "Alert")  # monitor group states meaning "this host is evaluated"


@dataclass(frozen=True)
class Result:
    check: str
    host: str | None
    ok: bool
    expected: str
    seen: str
    link: str | None = None

    def line(self) -> str:
        where = f" [{self.host}]" if self.host else ""
        link = f"  {self.link}" if self.link else ""
        return (f"{'PASS' if self.ok else 'FAIL'}  {self.check}{where}: expected {self.expected}; "
                f"seen {self.seen}{link}")


@dataclass(frozen=True)
class Clock:
    """Time as verify sees it; tests pass their own."""

    now: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    local_zone: tzinfo | None = None  # where "local time" is; None: this machine's zone


@dataclass
class Context:
    stack: Stack
    api: DatadogApi
    now: float
    local_zone: tzinfo | None
    app: str = field(init=False)

    def __post_init__(self) -> None:
        self.app = app_url(self.stack.site)

    @property
    def hosts(self) -> list[str]:
        return self.stack["hostNames"]

    def explorer(self, metric: str, scope: str) -> str:
        return f"{self.app}/metric/explorer?" + urlencode({"exp_metric": metric, "exp_scope": scope})

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.local_zone).strftime("%a %d %b %H:%M %Z")


# ---- small helpers ---------------------------------------------------------------------------

def duration_text(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def host_of(group: tuple[str, ...]) -> str | None:
    return next((tag.split(":", 1)[1] for tag in group if tag.startswith("host:")), None)


def any_host(hosts: list[str]) -> str:
    """A metric-query scope matching any of `hosts` (Datadog's boolean filter syntax)."""
    return " OR ".join(f"host:{host}" for host in hosts)


_DURATION = re.compile(r"^(\d+)([mhdw])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """A downtime duration as the API writes it: `14h`, `645m`, `2d`, `1w`."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"not a downtime duration: {text!r}")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def next_window(recurrence: Mapping[str, Any], timezone: str,
                now: datetime) -> tuple[datetime, datetime] | None:
    """The window of a recurring downtime that is open at `now`, else the next one to open.

    Computed as Datadog documents it: `start` is a wall time in the schedule's `timezone` (no
    offset) that anchors the RRULE, each occurrence opens at that wall time and lasts `duration`
    (taken as elapsed time: across a DST change the printed end may be an hour off Datadog's).
    """
    from dateutil.rrule import rrulestr

    zone = ZoneInfo(timezone)
    start = datetime.fromisoformat(recurrence["start"])
    if start.tzinfo is not None:
        start = start.astimezone(zone).replace(tzinfo=None)
    length = parse_duration(recurrence["duration"])
    rule = rrulestr(recurrence["rrule"], dtstart=start)
    # Occurrences are naive local wall times; step from one window-length before now.
    occurrence = rule.after(now.astimezone(zone).replace(tzinfo=None) - length, inc=True)
    while occurrence is not None:
        opens = occurrence.replace(tzinfo=zone)
        closes = (opens.astimezone(UTC) + length).astimezone(zone)
        if closes > now:
            return opens, closes
        occurrence = rule.after(occurrence)
    return None


def expressions(node: Any) -> Iterator[str]:
    """Every metric expression of a dashboard: formulas with their queries substituted
    (`anomalies(query1, ...)` -> `anomalies(avg:postgresql...{...}, ...)`), bare queries, and
    legacy `q` strings, from any widget type at any depth (group widgets included)."""
    if isinstance(node, list):
        for item in node:
            yield from expressions(item)
    elif isinstance(node, dict):
        queries = {q.get("name"): q["query"] for q in node.get("queries") or []
                   if isinstance(q, dict) and isinstance(q.get("query"), str)}
        for formula in node.get("formulas") or []:
            text = formula.get("formula", "") if isinstance(formula, dict) else ""
            yield re.sub(r"[A-Za-z_]\w*", lambda m: queries.get(m.group(0), m.group(0)), text)
        yield from queries.values()
        if isinstance(node.get("q"), str):
            yield node["q"]
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from expressions(value)


# ---- the checks ------------------------------------------------------------------------------

def check_hosts(ctx: Context) -> Iterator[Result]:
    listed = ctx.api.hosts(os.path.commonprefix(ctx.hosts))
    by_name = {h.get("name") or h.get("host_name"): h for h in listed}
    wanted_tags = list(ctx.stack["hostTags"])
    expected = f"a report within {REPORT_WITHIN // 60} min, with tags {' '.join(wanted_tags)}"
    for host in ctx.hosts:
        info = by_name.get(host)
        if info is None:
            yield Result("host", host, False, expected, "not in Datadog's host list (is the Agent "
                         "running and its API key right? `docker logs datadog-agent` on the host)",
                         f"{ctx.app}/infrastructure")
            continue
        reported = info.get("last_reported_time")
        age = ctx.now - reported if reported else math.inf
        tags = {tag for source in (info.get("tags_by_source") or {}).values() for tag in source or ()}
        missing = [tag for tag in wanted_tags if tag not in tags]
        seen = (f"last report {duration_text(age)} ago, " if reported else "no report time, ") + (
            f"missing tags {' '.join(missing)}" if missing else f"all {len(wanted_tags)} tags")
        yield Result("host", host, age <= REPORT_WITHIN and not missing, expected, seen,
                     f"{ctx.app}/infrastructure")


def check_my_metric(ctx: Context) -> Iterator[Result]:
    interval = ctx.stack["checkIntervalSeconds"]
    low, high = interval * (1 - GAP_TOLERANCE), interval * (1 + GAP_TOLERANCE)
    series = ctx.api.timeseries(f"avg:my_metric{{{any_host(ctx.hosts)}}} by {{host}}",
                                ctx.now - RECENT, ctx.now, interval_seconds=BUCKET)
    by_host = {host_of(group): points for group, points in series.items()}
    expected = (f"values {MY_METRIC_RANGE[0]}..{MY_METRIC_RANGE[1]} every {interval} s "
                f"(median gap {low:g}..{high:g} s, latest within {duration_text(3 * interval)})")
    for host in ctx.hosts:
        points = sorted(by_host.get(host) or [])
        link = ctx.explorer("my_metric", f"host:{host}")
        if len(points) < 3:
            yield Result("my_metric", host, False, expected,
                         f"{len(points)} point(s) in the last {RECENT // 60} min", link)
            continue
        values = [value for _, value in points]
        gap = statistics.median(b[0] - a[0] for a, b in itertools.pairwise(points))
        age = ctx.now - points[-1][0]
        ok = (MY_METRIC_RANGE[0] <= min(values) and max(values) <= MY_METRIC_RANGE[1]
              and low <= gap <= high and age <= 3 * interval)
        yield Result("my_metric", host, ok, expected,
                     f"{len(points)} points, values {min(values):g}..{max(values):g}, median gap "
                     f"{gap:g} s, latest {duration_text(age)} ago", link)


def check_postgres(ctx: Context) -> Iterator[Result]:
    for metric in ("postgresql.percent_usage_connections", "postgresql.connections"):
        series = ctx.api.timeseries(f"avg:{metric}{{*}} by {{host}}", ctx.now - RECENT, ctx.now)
        reporting = sorted({host_of(group) or "(no host)" for group, points in series.items() if points})
        for host in ctx.hosts:
            if host in reporting:
                seen = f"points under {host}"
            elif reporting:
                seen = f"no points under {host}; only under {', '.join(reporting[:5])}"
            else:
                seen = f"no points under any host in the last {RECENT // 60} min"
            yield Result(metric, host, host in reporting, f"points under host {host}", seen,
                         ctx.explorer(metric, f"host:{host}"))


def check_apm(ctx: Context) -> Iterator[Result]:
    scope = f"service:{ctx.stack['service']},env:{ctx.stack['env']}"
    series = ctx.api.timeseries(f"sum:trace.flask.request.hits{{{scope}}} by {{host}}.as_count()",
                                ctx.now - RECENT, ctx.now)
    per_host = {host_of(group) or "(no host)": sum(v for _, v in points)
                for group, points in series.items()}
    total = sum(per_host.values())
    seen = f"{total:g} hits" + (
        " (" + ", ".join(f"{host}: {hits:g}" for host, hits in sorted(per_host.items())) + ")"
        if per_host else "")
    yield Result("apm", None, total > 0,
                 f"trace.flask.request.hits{{{scope}}} above 0 over the last {RECENT // 60} min",
                 seen, ctx.explorer("trace.flask.request.hits", scope))


Expectation = tuple[str, Callable[[str], bool]]  # (what to look for, does an expression have it)


def dashboard_expectations(service: str) -> dict[str, tuple[str, list[Expectation]]]:
    """Per dashboard output: its name in the report and the queries the exercise needs on it."""
    scope = f"service:{service}"
    return {
        "dashboardId": ("timeboard", [
            ("my_metric by host", lambda e: "my_metric" in e and "by {host}" in e),
            ("anomalies() over a postgresql.* metric",
             lambda e: re.search(r"anomalies\(.*postgresql\.", e) is not None),
            ("my_metric with .rollup(sum, 3600)",
             lambda e: "my_metric" in e and ".rollup(sum,3600)" in e.replace(" ", "")),
        ]),
        "serviceDashboardId": ("service dashboard", [
            (f"trace.flask.request.hits{{{scope}}}",
             lambda e: "trace.flask.request.hits" in e and scope in e),
            (f"trace.flask.request.errors{{{scope}}}",
             lambda e: "trace.flask.request.errors" in e and scope in e),
            (f"p50/p95/p99:trace.flask.request{{{scope}}} latency",
             lambda e: re.search(r"p(50|75|90|95|99):trace\.flask\.request\{", e) is not None
             and scope in e),
            ("host CPU (system.cpu.*)", lambda e: "system.cpu." in e),
        ]),
    }


def with_template_defaults(expression: str, variables: list[dict]) -> str:
    """`{$service,$env}` as the dashboard shows it on load (`{service:my-flask-app,env:test}`):
    each template variable with one default value is replaced by `prefix:default`."""
    for variable in variables:
        defaults = variable.get("defaults") or ([variable["default"]] if variable.get("default") else [])
        name, prefix = variable.get("name"), variable.get("prefix")
        if name and prefix and len(defaults) == 1 and defaults[0] != "*":
            expression = re.sub(rf"\${re.escape(name)}(?![\w.])", f"{prefix}:{defaults[0]}", expression)
    return expression


def missing_queries(dashboard: Mapping[str, Any], wanted: list[Expectation]) -> list[str]:
    """What of `wanted` no expression of `dashboard` (API shape) has."""
    variables = dashboard.get("template_variables") or []
    found = [with_template_defaults(e, variables) for e in expressions(dashboard.get("widgets") or [])]
    return [label for label, present in wanted if not any(present(e) for e in found)]


def check_dashboards(ctx: Context) -> Iterator[Result]:
    for output, (name, wanted) in dashboard_expectations(ctx.stack["service"]).items():
        expected = "queries: " + "; ".join(label for label, _ in wanted)
        dashboard_id = ctx.stack.get(output)
        if dashboard_id is None:
            yield Result(name, None, False, expected,
                         f"no {output} in the stack's outputs (deployed before this dashboard "
                         "existed? `make up` adds it)")
            continue
        link = f"{ctx.app}/dashboard/{quote(dashboard_id)}"
        dashboard = ctx.api.dashboard(dashboard_id)
        if dashboard is None:
            yield Result(name, None, False, expected, f"no dashboard {dashboard_id} (deleted by "
                         "hand? `pulumi refresh` then `make up` recreates it)", link)
            continue
        missing = missing_queries(dashboard, wanted)
        seen = (f"missing {'; '.join(missing)}" if missing
                else f"all {len(wanted)} in {len(dashboard.get('widgets') or [])} widgets")
        yield Result(name, None, not missing, expected, f"'{dashboard.get('title')}': {seen}", link)


def check_monitor(ctx: Context) -> Iterator[Result]:
    monitor_id = ctx.stack["monitorId"]
    wanted = ctx.stack["monitorOptions"]
    link = f"{ctx.app}/monitors/{monitor_id}"
    expected = (f"a metric alert on my_metric by {{host}}, warning "
                f"{_number(wanted.get('warningThreshold'))}, critical "
                f"{_number(wanted.get('criticalThreshold'))}, no data after "
                f"{wanted.get('noDataMinutes')} min")
    monitor = ctx.api.monitor(monitor_id)
    if monitor is None:
        yield Result("monitor", None, False, expected, f"no monitor {monitor_id} (deleted by hand? "
                     "`pulumi refresh` then `make up` recreates it)", link)
        for host in ctx.hosts:
            yield Result("monitor state", host, False, "evaluated for this host",
                         "no monitor", link)
        return
    options = monitor.get("options") or {}
    thresholds = options.get("thresholds") or {}
    query = monitor.get("query") or ""
    problems = [problem for problem, bad in (
        (f"type {monitor.get('type')}", monitor.get("type") != "metric alert"),
        ("query not on my_metric", "my_metric" not in query),
        ("not grouped by {host}", "by {host}" not in query),
        (f"warning {_number(thresholds.get('warning'))}",
         thresholds.get("warning") != wanted.get("warningThreshold")),
        (f"critical {_number(thresholds.get('critical'))}",
         thresholds.get("critical") != wanted.get("criticalThreshold")),
        ("no-data notification off", not options.get("notify_no_data")),
        (f"no data after {options.get('no_data_timeframe')} min",
         options.get("no_data_timeframe") != wanted.get("noDataMinutes")),
    ) if bad]
    seen = f"'{query}'" + (f": {', '.join(problems)}" if problems else ", as expected")
    yield Result("monitor", None, not problems, expected, seen, link)

    groups = (monitor.get("state") or {}).get("groups") or {}
    for host in ctx.hosts:
        status = (groups.get(f"host:{host}") or {}).get("status")
        seen = (f"state {status}" if status else
                "no state for this host yet (the monitor evaluates a host once its my_metric "
                "points arrive; allow a few minutes)")
        yield Result("monitor state", host, status in EVALUATED,
                     f"evaluated for this host ({', '.join(EVALUATED)})", seen, link)


def check_downtimes(ctx: Context) -> Iterator[Result]:
    monitor_id, timezone = ctx.stack["monitorId"], ctx.stack["timezone"]
    now = datetime.fromtimestamp(ctx.now, UTC)
    expected = f"active or scheduled, on monitor {monitor_id}, in {timezone}"
    for name, downtime_id in sorted((ctx.stack["downtimeIds"] or {}).items()):
        link = f"{ctx.app}/monitors/downtimes?" + urlencode({"id": downtime_id})
        check = f"downtime {name}"
        downtime = ctx.api.downtime(str(downtime_id))
        if downtime is None:
            yield Result(check, None, False, expected, f"no downtime {downtime_id} (deleted or "
                         "canceled by hand? `pulumi refresh` then `make up` recreates it)", link)
            continue
        attributes = downtime.get("attributes") or {}
        schedule = attributes.get("schedule") or {}
        target = (attributes.get("monitor_identifier") or {}).get("monitor_id")
        problems = [problem for problem, bad in (
            (f"status {attributes.get('status')}", attributes.get("status") not in ("active", "scheduled")),
            (f"on monitor {target}", target != monitor_id),
            (f"timezone {schedule.get('timezone')}", schedule.get("timezone") != timezone),
        ) if bad]
        windows = []
        try:
            windows = [w for r in schedule.get("recurrences") or []
                       if (w := next_window(r, schedule.get("timezone") or timezone, now))]
        except (KeyError, ValueError, ZoneInfoNotFoundError) as error:
            problems.append(f"unreadable schedule ({error})")
        if windows:
            opens, closes = min(windows)
            when = (f"in a window now, until {ctx.local(closes)}" if opens <= now
                    else f"next window {ctx.local(opens)} to {ctx.local(closes)}")
        else:
            when = "no upcoming window"
            problems.append("no recurrence ahead")
        seen = (", ".join(problems) + "; " if problems else "") + when
        yield Result(check, None, not problems, expected, seen, link)


def check_first_metric(ctx: Context) -> Iterator[Result]:
    launches = ctx.stack["launchTimes"]
    for host in ctx.hosts:
        link = ctx.explorer("my_metric", f"host:{host}")
        try:
            launched = datetime.fromisoformat(launches[host]).timestamp()
        except (KeyError, TypeError, ValueError):
            yield Result("first my_metric", host, False, "a launch time in the outputs",
                         f"launchTimes has {launches.get(host)!r} for this host", link)
            continue
        end = min(ctx.now, launched + FIRST_METRIC_WINDOW)
        # Fine buckets, within the API's point limit: the measurement is good to one bucket.
        bucket = max(BUCKET, math.ceil((end - launched) / 1000))
        expected = (f"a my_metric point within {duration_text(FIRST_METRIC_WINDOW)} of launch "
                    f"({ctx.local(datetime.fromtimestamp(launched, UTC))})")
        points = [] if end <= launched else sorted(
            point for series in ctx.api.timeseries(f"avg:my_metric{{host:{host}}}", launched, end,
                                                    interval_seconds=bucket).values()
            for point in series)
        if not points:
            yield Result("first my_metric", host, False, expected, "no point yet", link)
            continue
        after = max(0.0, points[0][0] - launched)
        yield Result("first my_metric", host, True, expected,
                     f"first point {duration_text(after)} after launch (to within {bucket} s)", link)


def checks() -> list[Callable[[Context], Iterator[Result]]]:
    return [check_hosts, check_my_metric, check_postgres, check_apm, check_first_metric,
            check_dashboards, check_monitor, check_downtimes]


def run_checks(ctx: Context) -> list[Result]:
    return [result for check in checks() for result in check(ctx)]


# ---- the command -----------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.verify",
        description="Check every item of the exercise in the live Datadog org "
                    "(make verify STACK=... ARGS=\"...\"). Exit 0: all pass; 1: some fail; 2: "
                    "cannot check.")
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--wait", type=minutes_argument(MAX_WAIT_MINUTES), metavar="MINUTES",
                        help="re-check until all pass or MINUTES run out (after `make up`)")
    parser.add_argument("--interval", type=number_argument("seconds", MAX_INTERVAL_SECONDS,
                                                            at_least=MIN_INTERVAL_SECONDS),
                        default=30, metavar="SECONDS",
                        help=f"seconds between rounds with --wait, {MIN_INTERVAL_SECONDS}.."
                             f"{MAX_INTERVAL_SECONDS} (default: 30); with many hosts, at least "
                             f"{SECONDS_PER_QUERY} s per query a round (4 + hosts), for Datadog's "
                             "rate limits")
    return parser.parse_args(argv)


def check_until_done(args: argparse.Namespace, ctx_for: Callable[[], Context],
                     clock: Clock) -> tuple[Context, list[Result]]:
    """Every check once; with `args.wait`, again every `args.interval` s until all pass or the
    minutes run out. The last round's context and results (make report shows them too)."""
    deadline = None if args.wait is None else clock.monotonic() + args.wait * 60
    stretched = False
    while True:
        ctx = ctx_for()
        results = run_checks(ctx)
        failing = [r for r in results if not r.ok]
        left = None if deadline is None else deadline - clock.monotonic()
        if not failing or left is None or left <= 0:
            break
        interval = max(args.interval, round_floor(len(ctx.hosts)))
        if interval > args.interval and not stretched:
            stretched = True
            print(f"verify: every {interval} s instead of --interval {args.interval:g}: "
                  f"{len(ctx.hosts)} hosts make {4 + len(ctx.hosts)} timeseries queries a round, "
                  f"and Datadog limits them per hour", file=sys.stderr)
        pause = min(interval, left)
        print(f"verify: {len(failing)} of {len(results)} checks still failing; looking again in "
              f"{duration_text(pause)} ({duration_text(left)} left):", file=sys.stderr)
        for result in failing:
            print(f"  {result.line()}", file=sys.stderr)
        clock.sleep(pause)
    return ctx, results


def verify(args: argparse.Namespace, ctx_for: Callable[[], Context], clock: Clock) -> int:
    ctx, results = check_until_done(args, ctx_for, clock)
    failing = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps({"stack": ctx.stack.name, "passed": not failing,
                          "checks": [asdict(r) for r in results]}, indent=2))
    else:
        for result in results:
            print(result.line())
        print(f"{len(results) - len(failing)} of {len(results)} checks passed"
              + (f"; {len(failing)} failed" if failing else ""))
    return FAILED if failing else PASSED


def main(argv: list[str] | None = None, *, env: Mapping[str, str] | None = None,
         clock: Clock = Clock()) -> int:
    args = parse_args(argv)

    def run() -> int:
        environ = environment(env)
        stack = load_stack(args, REQUIRED_OUTPUTS, env=environ)
        api_key, app_key = datadog_keys(stack, environ)
        from ops.datadog_api import (
            DatadogApi,  # the client loads only when there is work for it
        )
        with DatadogApi(site=stack.site, api_key=api_key, app_key=app_key, env=environ) as api:
            api.validate()
            return verify(args, lambda: Context(stack, api, clock.now(), clock.local_zone), clock)

    return run_tool("verify", run)


if __name__ == "__main__":
    sys.exit(main())
