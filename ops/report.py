"""`make report`: the exercise's write-up, generated from the live Datadog org.

    make report [STACK=test] [ARGS="--wait 15" | ARGS="--outputs FILE" | ARGS="--into DIR"]

Writes one self-contained folder, report/<stack>/ (ignored by git): `report.md` and the same
text as `report.html` (one page, no script, no remote resource), and `pictures/*.png`, graph
snapshots downloaded from Datadog so the write-up keeps its pictures when the links expire.
Its sections follow the original write-up (/work/shared/seed): prerequisites, 1 collecting
metrics, 2 visualizing data, 3 monitoring data, 4 APM, the final question; each step says what
was built (from the stack's outputs and the org), links to it in Datadog (the stack's site) and,
where a graph says it best, shows it over the past 5 minutes and the past hour.

`make verify`'s verdict comes first (ops/verify.py's own checks and --wait loop, run here), so a
reader knows whether the pictures show a working system; a failed check is shown as failed.

Datadog renders a snapshot's PNG after answering with its URL (the URL answers 403/404 until
then): the pictures are polled until `--pictures-wait` seconds have passed, and the ones still
missing are named in the report. Exit 0: written, every check passed, every picture present; 1:
written, but a check failed or a picture is missing; 2: cannot (as verify).
"""

from __future__ import annotations

import argparse
import html
import json
import os.path
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from ops import verify
from ops.common import (
    FAILED,
    PASSED,
    ROOT,
    CannotCheck,
    Stack,
    add_stack_arguments,
    datadog_keys,
    environment,
    load_stack,
    minutes_argument,
    run_tool,
)
from ops.verify import Clock, Context, Result, any_host, duration_text, next_window

if TYPE_CHECKING:
    from ops.datadog_api import DatadogApi

REQUIRED_OUTPUTS = verify.REQUIRED_OUTPUTS
EXERCISE = ROOT / "docs" / "EXERCISE.md"
WINDOWS = (("5m", "the past 5 minutes", 5 * 60), ("1h", "the past hour", 60 * 60))
PICTURES_WAIT = 180        # default --pictures-wait (s): Datadog renders a snapshot in seconds to a minute
MAX_PICTURES_WAIT = 1800
FIRST_POLL_PAUSE, MAX_POLL_PAUSE = 1.0, 10.0  # between rounds of picture downloads (s), doubling
DOWNLOAD_TIMEOUT = 10.0    # one picture request (s), never past the bound
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MONITOR_STATES = ("alert", "warning", "no_data", "recovery")
WINDOWS_SHOWN = 3          # upcoming windows listed per downtime
VALUE_BUCKET = 300         # the monitor evaluates avg(last_5m): values are 5-minute averages


# ---- the graphs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Graph:
    """A dashboard widget the report pictures: which dashboard output, and how to find it (one
    of ops/verify.py's expectations of that dashboard, so the picture is of the widget verify
    vouches for)."""

    key: str         # file-name stem
    title: str
    dashboard: str   # "dashboardId" or "serviceDashboardId"
    expectation: str  # the label in verify.dashboard_expectations


GRAPHS = (
    Graph("my-metric-by-host", "my_metric per host", "dashboardId", "my_metric by host"),
    Graph("anomalies", "PostgreSQL connections with anomalies()", "dashboardId",
          "anomalies() over a postgresql.* metric"),
    Graph("hourly-rollup", "my_metric summed per hour (rollup)", "dashboardId",
          "my_metric with .rollup(sum, 3600)"),
    Graph("apm-requests", "APM requests", "serviceDashboardId", "trace.flask.request.hits{%s}"),
    Graph("apm-latency", "APM latency (p50, p95, p99)", "serviceDashboardId",
          "p50/p95/p99:trace.flask.request{%s} latency"),
    Graph("host-cpu", "Host CPU", "serviceDashboardId", "host CPU (system.cpu.*)"),
)


@dataclass
class Picture:
    """One graph over one window: asked of Datadog, then downloaded (or not)."""

    graph: Graph
    window: str          # "5m"
    window_text: str     # "the past 5 minutes"
    lines: list[tuple[str, str]]  # (query, "line" | "bars"), as the widget draws them
    url: str | None = None        # the snapshot's URL, once Datadog gave it
    file: str | None = None       # relative path in the folder, once downloaded
    problem: str | None = None    # why there is no picture (yet)

    @property
    def name(self) -> str:
        return f"{self.graph.title}, {self.window_text}"

    @property
    def path(self) -> str:
        return f"pictures/{self.graph.key}-{self.window}.png"


def widget_requests(node: Any) -> Iterator[tuple[str | None, list[dict]]]:
    """Every widget with requests, at any depth: (its title, its requests)."""
    if isinstance(node, list):
        for item in node:
            yield from widget_requests(item)
    elif isinstance(node, dict):
        definition = node.get("definition") if isinstance(node.get("definition"), dict) else None
        if definition is not None and isinstance(definition.get("requests"), list):
            yield definition.get("title"), definition["requests"]
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from widget_requests(value)


def resolve_scope(expression: str, variables: list[dict]) -> str:
    """A widget's expression as the dashboard shows it on load: template variables at their
    defaults. One default: verify's rule (`$env` -> `env:test`). Several, like `$host` defaulting
    to every host of the stack: `host:a OR host:b`, and in a longer scope the whole scope in
    Datadog's boolean syntax, `{env:test AND (host:a OR host:b)}` (its docs, Metrics > Advanced
    filtering: commas and AND/OR must not be mixed)."""
    expression = verify.with_template_defaults(expression, variables)
    multi = {v["name"]: (v.get("prefix"), v.get("defaults") or []) for v in variables
             if v.get("name") and len(v.get("defaults") or []) > 1}

    def scope(match: re.Match) -> str:
        terms = [term.strip() for term in match.group(1).split(",")]
        resolved = []
        for term in terms:
            if term.startswith("$") and term[1:] in multi:
                prefix, values = multi[term[1:]]
                resolved.append(" OR ".join(f"{prefix}:{value}" for value in values))
            else:
                resolved.append(term)
        if len(resolved) == 1:
            return "{" + resolved[0] + "}"
        return "{" + " AND ".join(f"({term})" if " OR " in term else term for term in resolved) + "}"
    return re.sub(r"\{([^{}]*\$[^{}]*)\}", scope, expression)


def widget_lines(requests: list[dict], variables: list[dict]) -> list[tuple[str, str]]:
    """(expression, display) per line of a widget: each formula with its queries substituted
    (verify's `expressions` yields those first), or the request's queries when it has none."""
    lines = []
    for request in requests:
        display = "bars" if request.get("display_type") == "bars" else "line"
        found = list(verify.expressions([{"formulas": request.get("formulas"),
                                          "queries": request.get("queries"), "q": request.get("q")}]))
        if request.get("formulas"):
            found = found[:len(request["formulas"])]
        lines += [(resolve_scope(expression, variables), display) for expression in found]
    return list(dict.fromkeys(lines))


def plan_pictures(stack: Stack, dashboards: Mapping[str, dict | None]) -> list[Picture]:
    """Every graph over every window, with the lines of the live widget it shows; a graph whose
    dashboard or widget is missing gets its pictures marked missing at once (verify says why)."""
    expectations = {output: dict(wanted) for output, (_, wanted)
                    in verify.dashboard_expectations(stack["service"]).items()}
    scope = f"service:{stack['service']}"
    pictures = []
    for graph in GRAPHS:
        label = graph.expectation.replace("%s", scope) if "%s" in graph.expectation else graph.expectation
        present = expectations[graph.dashboard][label]
        dashboard = dashboards.get(graph.dashboard)
        lines: list[tuple[str, str]] = []
        problem = None
        if dashboard is None:
            problem = f"no dashboard {stack.get(graph.dashboard) or '(' + graph.dashboard + ' not in the outputs)'}"
        else:
            variables = dashboard.get("template_variables") or []
            for _, requests in widget_requests(dashboard.get("widgets") or []):
                found = widget_lines(requests, variables)
                if any(present(verify.with_template_defaults(e, variables)) or present(e)
                       for e, _ in found):
                    lines = found
                    break
            else:
                problem = f"the dashboard has no widget with {label}"
        for window, text, _ in WINDOWS:
            pictures.append(Picture(graph, window, text, lines, problem=problem))
    return pictures


def graph_def(picture: Picture) -> str:
    """The graph JSON grammar Datadog's snapshot API takes (`graph_def`), on one line."""
    return json.dumps({"viz": "timeseries",
                       "requests": [{"q": query, "type": display} for query, display in picture.lines]},
                      separators=(",", ":"))


def request_snapshots(api: DatadogApi, pictures: list[Picture], stack: Stack, now: float) -> None:
    seconds = {window: length for window, _, length in WINDOWS}
    for picture in pictures:
        if picture.problem is None:
            picture.url = api.graph_snapshot(None, now - seconds[picture.window], now,
                                             f"{picture.name} (stack {stack.name})",
                                             graph_def=graph_def(picture))


def _download(url: str, timeout: float) -> tuple[int | None, bytes, str]:
    """(HTTP status or None, body, a word on what happened). No keys go to the picture's host."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as answer:
            return answer.status, answer.read(), ""
    except urllib.error.HTTPError as error:
        return error.code, b"", f"{error.code} {error.reason}"
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return None, b"", f"unreachable ({reason})"


def fetch_pictures(pictures: list[Picture], folder: Path, bound: float, clock: Clock,
                   download: Callable[[str, float], tuple[int | None, bytes, str]] = _download) -> None:
    """Download every requested snapshot into `folder`, retrying those Datadog has not rendered
    yet (403/404, or not a PNG yet) until `bound` seconds have passed; each picture still
    missing then keeps, as its problem, what its URL last answered."""
    pending = []
    for picture in pictures:
        if picture.url is None:
            continue
        if urlsplit(picture.url).scheme not in ("https", "http"):
            picture.problem = f"Datadog gave a snapshot URL that is not http(s): {picture.url}"
            continue
        pending.append(picture)
    deadline = clock.monotonic() + bound
    pause = FIRST_POLL_PAUSE
    while pending:
        for picture in list(pending):
            left = deadline - clock.monotonic()
            status, body, what = download(picture.url, max(0.5, min(DOWNLOAD_TIMEOUT, left)))
            if status == 200 and body.startswith(PNG_SIGNATURE):
                target = folder / picture.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
                picture.file, picture.problem = picture.path, None
                pending.remove(picture)
            else:
                picture.problem = what or f"{status}: not a PNG yet"
        left = deadline - clock.monotonic()
        if not pending or left <= 0:
            break
        clock.sleep(min(pause, left))
        pause = min(pause * 2, MAX_POLL_PAUSE)
    for picture in pending:
        picture.problem = (f"not rendered within {duration_text(bound)} (its URL last answered "
                           f"{picture.problem})")


# ---- facts from the org ----------------------------------------------------------------------

@dataclass
class Facts:
    """What the report shows besides verify's results, read from the org once."""

    monitor: dict | None
    dashboards: dict[str, dict | None]
    downtimes: dict[str, dict | None]
    hosts: dict[str, dict]
    values: dict[str, list[tuple[float, float]]]  # host -> 5-minute averages of my_metric, last hour
    pictures: list[Picture] = field(default_factory=list)


def gather(api: DatadogApi, stack: Stack, now: float) -> Facts:
    dashboards = {output: api.dashboard(stack[output]) if stack.get(output) else None
                  for output in ("dashboardId", "serviceDashboardId")}
    downtimes = {name: api.downtime(str(downtime_id))
                 for name, downtime_id in sorted((stack["downtimeIds"] or {}).items())}
    listed = api.hosts(os.path.commonprefix(stack["hostNames"]), metadata=True)
    hosts = {h.get("name") or h.get("host_name"): h for h in listed}
    series = api.timeseries(f"avg:my_metric{{{any_host(stack['hostNames'])}}} by {{host}}",
                            now - 3600, now, interval_seconds=VALUE_BUCKET)
    values = {verify.host_of(group): sorted(points) for group, points in series.items()}
    return Facts(api.monitor(stack["monitorId"]), dashboards, downtimes, hosts, values)


def host_ip(info: Mapping[str, Any] | None) -> str | None:
    """The IP Datadog knows a host by: the Agent's gohai metadata, `network.ipaddress` (gohai's
    network collector, DataDog/gohai), which is what `{{host.ip}}` renders."""
    gohai = ((info or {}).get("meta") or {}).get("gohai")
    try:
        address = (json.loads(gohai).get("network") or {}).get("ipaddress") if gohai else None
    except (ValueError, AttributeError):
        return None
    return address if isinstance(address, str) and address else None


# ---- the monitor's message -------------------------------------------------------------------

@dataclass(frozen=True)
class Rendered:
    state: str
    text: str
    value: float | None
    when: float | None
    note: str


def state_value(state: str, averages: list[tuple[float, float]], warning: float,
                critical: float) -> tuple[float | None, float | None, str]:
    """The value a notification of `state` would carry: the latest 5-minute average of the past
    hour in that state's range (Datadog's comparator is `>`), else the latest one, said so."""
    if state == "no_data":
        return None, None, "no value: there was no data"
    in_range = {"alert": lambda v: v > critical,
                "warning": lambda v: warning < v <= critical,
                "recovery": lambda v: v <= warning}[state]
    matching = [(t, v) for t, v in averages if in_range(v)]
    if matching:
        when, value = matching[-1]
        return value, when, "this host's latest 5-minute average in this state's range"
    if averages:
        when, value = averages[-1]
        return value, when, ("no 5-minute average of this host was in this state's range in the "
                             "past hour: shown with its latest one, so this notification was not "
                             "sent, but its numbers are real")
    return None, None, "no my_metric value in the past hour"


def render_messages(message: str, host: str, ip: str, averages: list[tuple[float, float]],
                    warning: float, critical: float) -> list[Rendered]:
    """The monitor's message as Datadog renders it for each state: its Mustache sections and
    variables (`{{#is_alert}}`, `{{host.name}}`, `{{value}}`...) filled for one real host."""
    import chevron  # loaded only here: the one Mustache renderer ops needs

    rendered = []
    for state in MONITOR_STATES:
        value, when, note = state_value(state, averages, warning, critical)
        context = {f"is_{s}": s == state for s in MONITOR_STATES}
        context.update(host={"name": host, "ip": ip}, threshold=f"{critical:g}",
                       warn_threshold=f"{warning:g}",
                       value="" if value is None else f"{round(value, 3):g}")
        text = chevron.render(message, context)
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        rendered.append(Rendered(state, text, value, when, note))
    return rendered


# ---- the bonus answers -----------------------------------------------------------------------

BONUS = (
    ("1d", "Can you change the collection interval without modifying the Python check file?",
     "Bonus answer: ", "\n`make verify`"),
    ("2", "What is the anomaly graph displaying?",
     "**Bonus: what is the anomaly graph displaying?**\n", "\n## "),
    ("4", "What is the difference between a service and a resource?",
     "**Bonus: what is the difference between a service and a resource?**\n", "\n## "),
    ("final", "Is there anything creative you would use Datadog for?",
     "## Final question: is there anything creative you would use Datadog for?\n", "\n## "),
)


def bonus_answers(text: str) -> dict[str, str]:
    """The answers docs/EXERCISE.md gives, by step; a missing one says so."""
    answers = {}
    for step, _, start, end in BONUS:
        at = text.find(start)
        if at < 0:
            answers[step] = f"(docs/EXERCISE.md has no answer starting {start.strip()!r})"
            continue
        body = text[at + len(start):]
        stop = body.find(end)
        answers[step] = (body if stop < 0 else body[:stop]).strip()
    return answers


# ---- Markdown --------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|!])")


def t(value: Any) -> str:
    """Text from Datadog or the outputs, inert in Markdown (raw HTML is off in the HTML build)."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else t(value)


def code(value: Any) -> str:
    text = str(value).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def link(text: str, url: str) -> str:
    return f"[{t(text)}](<{url}>)"


def table(header: list[str], rows: list[list[str]]) -> str:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("\n", " ") or " " for cell in cells) + " |"
    return "\n".join([row(header), row(["---"] * len(header)), *map(row, rows)])


def fenced(text: str) -> str:
    fence = "~~~~" if "```" in text or "~~~" in text else "```"
    return f"{fence}text\n{text}\n{fence}"


# ---- the write-up ----------------------------------------------------------------------------

@dataclass
class Writeup:
    stack: Stack
    ctx: Context
    results: list[Result]
    checked_at: float
    facts: Facts
    bonus: dict[str, str]

    @property
    def app(self) -> str:
        return self.ctx.app

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.stack["timezone"])

    def when(self, ts: float) -> str:
        moment = datetime.fromtimestamp(ts, UTC)
        return (f"{moment.astimezone(self.zone):%a %d %b %Y %H:%M %Z} "
                f"({moment:%H:%M} UTC)")

    def results_of(self, *checks: str) -> list[Result]:
        return [r for r in self.results if r.check in checks]

    def verdict_rows(self, *checks: str) -> str:
        found = self.results_of(*checks)
        if not found:
            return "_No `make verify` check for this step._"
        return table(["verify", "check", "seen"], [
            ["PASS" if r.ok else "**FAIL**", t(r.check + (f" [{r.host}]" if r.host else "")), t(r.seen)]
            for r in found])

    def pictures_of(self, key: str) -> str:
        blocks = []
        for picture in (p for p in self.facts.pictures if p.graph.key == key):
            if picture.file:
                blocks.append(f"![{t(picture.name)}]({picture.file})\n\n"
                              f"_{t(picture.name)}_" + (f" ({link('snapshot', picture.url)})" if picture.url else ""))
            else:
                blocks.append(f"> **Picture missing:** {t(picture.name)}: {t(picture.problem)}")
        queries = next((p.lines for p in self.facts.pictures if p.graph.key == key and p.lines), [])
        if queries:
            blocks.append("Query: " + "; ".join(code(q) for q, _ in queries))
        return "\n\n".join(blocks)

    # -- sections --

    def header(self) -> Iterator[str]:
        failing = [r for r in self.results if not r.ok]
        missing = [p for p in self.facts.pictures if not p.file]
        yield f"# The Datadog exercise, stack {t(self.stack.name)}"
        yield (f"Generated by `make report` from the live Datadog org ({link(self.app, self.app)}, "
               f"site {code(self.stack.site)}) on {self.when(self.checked_at)}. Times are in the "
               f"stack's time zone, {code(self.stack['timezone'])}.")
        yield "## Verdict: `make verify`"
        if failing:
            yield (f"**{len(self.results) - len(failing)} of {len(self.results)} checks passed; "
                   f"{len(failing)} FAILED** at {self.when(self.checked_at)}. Failed: "
                   + ", ".join(t(r.check + (f" [{r.host}]" if r.host else "")) for r in failing) + ".")
        else:
            yield (f"**All {len(self.results)} checks passed** at {self.when(self.checked_at)}: "
                   "the pictures below show a working system.")
        yield table(["result", "check", "expected", "seen", "in Datadog"], [
            ["PASS" if r.ok else "**FAIL**", t(r.check + (f" [{r.host}]" if r.host else "")),
             t(r.expected), t(r.seen), link("open", r.link) if r.link else ""]
            for r in self.results])
        if missing:
            yield "### Pictures missing"
            yield "\n".join(f"- {t(p.name)}: {t(p.problem)}" for p in missing)
        # Anchors as GitHub and Python-Markdown's toc both derive them from the headings.
        yield ("Contents: [Prerequisites](#prerequisites-set-up-the-environment) · "
               "[1. Collecting metrics](#section-1-collecting-metrics) · "
               "[2. Visualizing data](#section-2-visualizing-data) · "
               "[3. Monitoring data](#section-3-monitoring-data) · "
               "[4. Collecting APM data](#section-4-collecting-apm-data) · "
               "[Final question](#final-question-is-there-anything-creative-you-would-use-datadog-for)")

    def prerequisites(self) -> Iterator[str]:
        stack = self.stack
        yield "## Prerequisites: set up the environment"
        ips = stack.get("publicIps") or []
        rows = []
        for n, host in enumerate(stack["hostNames"]):
            info = self.facts.hosts.get(host) or {}
            meta = info.get("meta") or {}
            rows.append([t(host), t(ips[n]) if n < len(ips) else "", t(host_ip(info) or "not known to Datadog"),
                         t(stack["launchTimes"].get(host, "")), t(meta.get("agent_version") or ""),
                         t(meta.get("platform") or "")])
        yield (f"`make up` built {len(stack['hostNames'])} EC2 host(s) (Amazon Linux 2023), each with "
               "Docker, PostgreSQL and the Datadog Agent 7 in a container (`components/host.py`, "
               "`components/agent.py`). What the stack's outputs and Datadog say about them:")
        yield table(["host", "public IP", "IP in Datadog", "launched", "Agent", "platform"], rows)
        yield (f"In Datadog: {link('Infrastructure > Host Map', self.app + '/infrastructure/map')}, "
               f"{link('host list', self.app + '/infrastructure')}.")
        yield self.verdict_rows("host")

    def metrics(self) -> Iterator[str]:
        stack = self.stack
        yield "## Section 1: Collecting metrics"
        yield "#### 1a. Tags in the Agent's config; the host and its tags on the Host Map"
        yield (f"The Agent sends the host tags {', '.join(code(tag) for tag in stack['hostTags'])} "
               "(`hostTags`, as `DD_TAGS`). The tags Datadog holds for each host:")
        yield table(["host", "source", "tags"], [
            [t(host), t(source), " ".join(code(tag) for tag in tags or [])]
            for host in stack["hostNames"]
            for source, tags in sorted(((self.facts.hosts.get(host) or {}).get("tags_by_source") or {}).items())]
            or [["", "", "no host in Datadog yet"]])
        yield f"In Datadog: {link('Host Map', self.app + '/infrastructure/map')}."
        yield "#### 1b. A database and its integration"
        yield ("PostgreSQL 15 on each host, with a `datadog` role (`pg_monitor`), reached by the Agent "
               "at the Docker network's gateway; `reported_hostname` keeps its metrics on the EC2 host "
               "(README, \"How the Agent reaches PostgreSQL\").")
        yield "In Datadog: " + ", ".join(
            link(f"{metric} on {host}", self.ctx.explorer(metric, f"host:{host}"))
            for metric in ("postgresql.connections",) for host in stack["hostNames"]) + "."
        yield self.verdict_rows("postgresql.percent_usage_connections", "postgresql.connections")
        yield "#### 1c. A custom Agent check submitting my_metric, a random value 0..1000"
        yield ("`agent/checks.d/my_metric.py` submits `random.randint(0, 1000)`; in Datadog: "
               + link("Metrics > Explorer, my_metric by host",
                      self.ctx.explorer("my_metric", any_host(stack["hostNames"]))) + ".")
        yield self.pictures_of("my-metric-by-host")
        yield self.verdict_rows("my_metric", "first my_metric")
        yield "#### 1d. Submit it once every 45 seconds"
        yield (f"`checkIntervalSeconds` is {stack['checkIntervalSeconds']}: the check instance's "
               "`min_collection_interval` (the `my_metric` check above measures the median gap).")
        yield f"**Bonus: {BONUS[0][1]}** {self.bonus['1d']}"

    def visualizing(self) -> Iterator[str]:
        stack = self.stack
        yield "## Section 2: Visualizing data"
        yield "#### 2a. A timeboard created through the API"
        timeboard = self.facts.dashboards.get("dashboardId")
        url = stack.get("dashboardUrl") or f"{self.app}/dashboard/{quote(stack['dashboardId'])}"
        if timeboard is None:
            yield f"**The timeboard {code(stack['dashboardId'])} was not found in Datadog.**"
        else:
            yield (f"{link(timeboard.get('title') or 'the timeboard', url)}, declared by "
                   "`components/dashboard.py` (the script is the Pulumi program: `make preview` "
                   "shows its definition). Its widgets:")
            yield "\n".join(f"- {t(title or '(untitled)')}: "
                            + "; ".join(code(q) for q, _ in widget_lines(requests, timeboard.get("template_variables") or []))
                            for title, requests in widget_requests(timeboard.get("widgets") or []))
        yield self.verdict_rows("timeboard")
        yield "#### 2b. The timeboard over the past 5 minutes and the past hour"
        yield ("Each widget as Datadog's graph snapshot API draws it (`make snapshot` sends the "
               "5-minute my_metric snapshot to the notify handles with an @-mention, step 2b).")
        yield "##### my_metric per host"
        yield self.pictures_of("my-metric-by-host")
        yield "##### PostgreSQL connections with anomalies()"
        yield self.pictures_of("anomalies")
        yield "##### my_metric summed per hour (rollup)"
        yield self.pictures_of("hourly-rollup")
        yield f"**Bonus: {BONUS[1][1]}**\n\n{self.bonus['2']}"

    def monitoring(self) -> Iterator[str]:
        stack = self.stack
        options = stack["monitorOptions"]
        yield "## Section 3: Monitoring data"
        monitor = self.facts.monitor
        monitor_url = f"{self.app}/monitors/{stack['monitorId']}"
        if monitor is None:
            yield f"**Monitor {stack['monitorId']} was not found in Datadog.**"
        else:
            thresholds = (monitor.get("options") or {}).get("thresholds") or {}
            yield (f"{link(monitor.get('name') or 'the monitor', monitor_url)}: query "
                   f"{code(monitor.get('query'))}, warning {number(thresholds.get('warning'))}, alert "
                   f"{number(thresholds.get('critical'))}, no data after "
                   f"{number((monitor.get('options') or {}).get('no_data_timeframe'))} minutes "
                   f"(configured: {number(options.get('warningThreshold'))} / "
                   f"{number(options.get('criticalThreshold'))} / {number(options.get('noDataMinutes'))}).")
            groups = (monitor.get("state") or {}).get("groups") or {}
            yield table(["host", "state now"], [[t(h), t((groups.get(f"host:{h}") or {}).get("status") or "none")]
                                                for h in stack["hostNames"]])
        yield self.verdict_rows("monitor", "monitor state")
        yield "#### The message, as each state sends it"
        if monitor is not None and monitor.get("message"):
            host = next((h for h in stack["hostNames"] if self.facts.values.get(h)), stack["hostNames"][0])
            ip = host_ip(self.facts.hosts.get(host))
            ip_note = "its IP as Datadog knows it"
            if ip is None:
                ips = stack.get("publicIps") or []
                index = stack["hostNames"].index(host)
                ip = ips[index] if index < len(ips) else "(unknown)"
                ip_note = "Datadog has no IP for it yet: its public IP from the outputs"
            thresholds = (monitor.get("options") or {}).get("thresholds") or {}
            warning = float(thresholds.get("warning", options.get("warningThreshold", 0)))
            critical = float(thresholds.get("critical", options.get("criticalThreshold", 0)))
            yield (f"Rendered for host {code(host)} ({code(ip)}, {t(ip_note)}) from the monitor's "
                   "message in Datadog (`monitors/my_metric.message.md`), with this host's real "
                   "5-minute averages of my_metric:")
            for shown in render_messages(monitor["message"], host, ip, self.facts.values.get(host) or [],
                                         warning, critical):
                value = "" if shown.value is None else f"value {shown.value:g}"
                when = f" at {self.when(shown.when)}" if shown.when else ""
                yield (f"**{shown.state.replace('_', ' ').title()}**: "
                       + "; ".join(part for part in (value + when, t(shown.note)) if part))
                yield fenced(shown.text)
        else:
            yield "_No monitor message to render._"
        yield "#### Bonus: two scheduled downtimes (weeknights 7pm to 9am, all weekend)"
        yield from self.downtimes()

    def downtimes(self) -> Iterator[str]:
        stack = self.stack
        now = datetime.fromtimestamp(self.checked_at, UTC)
        for name, downtime in self.facts.downtimes.items():
            downtime_id = stack["downtimeIds"][name]
            url = f"{self.app}/monitors/downtimes?" + urlencode({"id": downtime_id})
            if downtime is None:
                yield f"**Downtime {t(name)} ({code(downtime_id)}) was not found in Datadog.**"
                continue
            attributes = downtime.get("attributes") or {}
            schedule = attributes.get("schedule") or {}
            zone = schedule.get("timezone") or stack["timezone"]
            rules = "; ".join(f"{code(r.get('rrule'))} from {code(r.get('start'))} for {code(r.get('duration'))}"
                              for r in schedule.get("recurrences") or [])
            yield (f"{link('Downtime ' + name, url)} ({t(attributes.get('status'))}, in {code(zone)}): "
                   f"{rules}; message: {t(attributes.get('message') or '')}")
            windows = upcoming_windows(schedule.get("recurrences") or [], zone, now, WINDOWS_SHOWN)
            yield table(["window", f"opens ({t(stack['timezone'])})", "closes"], [
                [str(n), f"{opens.astimezone(self.zone):%a %d %b %Y %H:%M %Z}",
                 f"{closes.astimezone(self.zone):%a %d %b %Y %H:%M %Z}"]
                for n, (opens, closes) in enumerate(windows, 1)] or [["", "no window ahead", ""]])
        yield self.verdict_rows("downtime weeknights", "downtime weekend")

    def apm(self) -> Iterator[str]:
        stack = self.stack
        service, env = stack["service"], stack["env"]
        yield "## Section 4: Collecting APM data"
        yield (f"The Flask app runs under `ddtrace-run` as service {code(service)} in env {code(env)} "
               "(`app/`, `components/app.py`); demo traffic requests `/`, `/api/apm` and "
               "`/api/trace`. In Datadog: "
               + link(f"APM > Services > {service}",
                      f"{self.app}/apm/services/{quote(service)}?" + urlencode({"env": env})) + ".")
        yield self.verdict_rows("apm")
        yield "#### A dashboard with APM and infrastructure metrics"
        board = self.facts.dashboards.get("serviceDashboardId")
        board_id = stack.get("serviceDashboardId")
        if board is None:
            yield f"**The service dashboard {code(board_id or '(not in the outputs)')} was not found.**"
        else:
            url = stack.get("serviceDashboardUrl") or f"{self.app}/dashboard/{quote(board_id)}"
            yield f"{link(board.get('title') or 'the service dashboard', url)} (`components/service_dashboard.py`)."
        yield self.verdict_rows("service dashboard")
        for key, title in (("apm-requests", "Requests"), ("apm-latency", "Latency"), ("host-cpu", "Host CPU")):
            yield f"##### {title}"
            yield self.pictures_of(key)
        yield f"**Bonus: {BONUS[2][1]}**\n\n{self.bonus['4']}"

    def final(self) -> Iterator[str]:
        yield "## Final question: is there anything creative you would use Datadog for?"
        yield self.bonus["final"]

    def markdown(self) -> str:
        parts = [*self.header(), *self.prerequisites(), *self.metrics(), *self.visualizing(),
                 *self.monitoring(), *self.apm(), *self.final()]
        return "\n\n".join(part for part in parts if part) + "\n"


def upcoming_windows(recurrences: list[dict], zone: str, now: datetime,
                     count: int) -> list[tuple[datetime, datetime]]:
    """The next `count` windows of a schedule (the open one first), by verify's next_window."""
    windows: list[tuple[datetime, datetime]] = []
    for recurrence in recurrences:
        moment = now
        for _ in range(count):
            try:
                window = next_window(recurrence, zone, moment)
            except (KeyError, ValueError):
                break
            if window is None:
                break
            windows.append(window)
            moment = window[1] + timedelta(seconds=1)
    return sorted(set(windows))[:count]


# ---- HTML ------------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
code { background: #f3f3f3; padding: 0 3px; }
pre { background: #f6f6f6; padding: 8px; white-space: pre-wrap; }
img { max-width: 100%; border: 1px solid #ddd; }
blockquote { border-left: 4px solid #c33; margin: 1em 0; padding: 0 1em; color: #822; }
"""


def to_html(markdown_text: str, title: str) -> str:
    """The same write-up as one HTML page: Python-Markdown, with raw HTML switched off so text
    from Datadog stays text; images stay relative (the folder is the unit)."""
    import markdown  # loaded only here

    converter = markdown.Markdown(extensions=["tables", "fenced_code", "toc"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    body = converter.convert(markdown_text)
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            f"{body}\n</body></html>\n")


# ---- the command -----------------------------------------------------------------------------

def seconds_argument(maximum: int) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(
                f"'{raw}' is out of range; use a number of seconds above 0 and at most {maximum}")
        return value
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.report",
        description="Write the exercise's write-up from the live Datadog org into report/<stack>/ "
                    "(make report STACK=... ARGS=\"...\"). Exit 0: written, all checks passed, every "
                    "picture present; 1: written with failures or missing pictures; 2: cannot.")
    add_stack_arguments(parser)
    parser.add_argument("--wait", type=minutes_argument(verify.MAX_WAIT_MINUTES), metavar="MINUTES",
                        help="first wait until make verify's checks pass, or MINUTES run out")
    parser.add_argument("--pictures-wait", type=seconds_argument(MAX_PICTURES_WAIT),
                        default=PICTURES_WAIT, metavar="SECONDS",
                        help=f"how long to wait for Datadog to render the graphs (default {PICTURES_WAIT})")
    parser.add_argument("--into", type=Path, metavar="DIR",
                        help="the folder to write (default: report/<stack>)")
    args = parser.parse_args(argv)
    # verify's --wait loop reads its pause from --interval: verify's own default.
    args.interval = verify.parse_args([]).interval
    return args


def write_report(folder: Path, writeup: Writeup) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    text = writeup.markdown()
    md, page = folder / "report.md", folder / "report.html"
    md.write_text(text, encoding="utf-8")
    page.write_text(to_html(text, f"The Datadog exercise, stack {writeup.stack.name}"), encoding="utf-8")
    return md, page


def main(argv: list[str] | None = None, *, env: Mapping[str, str] | None = None,
         clock: Clock = Clock(), download: Callable[[str, float], tuple[int | None, bytes, str]] = _download) -> int:
    args = parse_args(argv)

    def run() -> int:
        environ = environment(env)
        stack = load_stack(args, REQUIRED_OUTPUTS, env=environ)
        api_key, app_key = datadog_keys(stack, environ)
        from ops.datadog_api import DatadogApi
        folder = args.into or ROOT / "report" / stack.name
        with DatadogApi(site=stack.site, api_key=api_key, app_key=app_key, env=environ) as api:
            api.validate()
            # verify's lines then print times in the stack's zone, as the rest of the report.
            zone = ZoneInfo(stack["timezone"])
            ctx, results = verify.check_until_done(
                args, lambda: Context(stack, api, clock.now(), zone), clock)
            checked_at = ctx.now
            facts = gather(api, stack, checked_at)
            facts.pictures = plan_pictures(stack, facts.dashboards)
            request_snapshots(api, facts.pictures, stack, checked_at)
        stale = folder / "pictures"
        if stale.is_dir():  # pictures of an earlier run must not pass for this one's
            for old in stale.glob("*.png"):
                old.unlink()
        fetch_pictures(facts.pictures, folder, args.pictures_wait, clock, download)
        try:
            bonus = bonus_answers(EXERCISE.read_text(encoding="utf-8"))
        except OSError as error:
            raise CannotCheck(f"cannot read {EXERCISE}: {error.strerror or error}") from None
        md, page = write_report(folder, Writeup(stack, ctx, results, checked_at, facts, bonus))
        failing = [r for r in results if not r.ok]
        missing = [p for p in facts.pictures if not p.file]
        print(f"report: {md}")
        print(f"report: {page}")
        print(f"report: {len(results) - len(failing)} of {len(results)} checks passed; "
              f"{len(facts.pictures) - len(missing)} of {len(facts.pictures)} pictures")
        for picture in missing:
            print(f"report: missing picture: {picture.name}: {picture.problem}", file=sys.stderr)
        return FAILED if failing or missing else PASSED

    return run_tool("report", run)


if __name__ == "__main__":
    sys.exit(main())
