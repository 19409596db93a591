"""The assessment's metric monitor (section 3) on the custom check's metric.

- Query `avg(last_5m):avg:my_metric{<scope>} by {host} > <critical>`: grouped by host, so each
  host alerts on its own and `{{host.name}}`/`{{host.ip}}` resolve in the message.
- The critical number in the query must equal `monitor_thresholds.critical` or the API rejects
  the monitor; both come from one formatter (`800`, never `800.0` against `800`), and the
  component re-checks the pair before declaring anything.
- `require_full_window=False`: the metric arrives every 45 s, a sparse metric by Datadog's
  measure. The provider's doc: "Datadog strongly recommends you set this to `false` for sparse
  metrics, otherwise some evaluations may be skipped." With the default (true) a window whose
  first point falls a few seconds late is not evaluated at all.
- The message is rendered from `monitors/my_metric.message.md`, a Datadog (Mustache-style)
  template. Python fills only its `${...}` placeholders (string.Template), so Datadog's own
  `{{...}}` variables and sections reach Datadog untouched.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pulumi
import pulumi_datadog as datadog

MESSAGE_TEMPLATE = Path(__file__).resolve().parent.parent / "monitors" / "my_metric.message.md"

_WINDOW = re.compile(r"^last_(\d+)([mhdw])$")
_UNITS = {"m": ("minute", 1), "h": ("hour", 60), "d": ("day", 1440), "w": ("week", 10080)}
_QUERY_CRITICAL = re.compile(r"\s>\s(\S+)$")
_HANDLE = re.compile(r"^@\S+$")


def format_number(value: float) -> str:
    """A threshold as Datadog shows it and as the query must carry it: `800`, `0.5`, `1250.75`.

    Integral values lose their `.0`; others keep their shortest exact repr, never an exponent.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"threshold must be a finite number, got {value!r}")
    if float(value).is_integer():
        return str(int(value))
    return format(Decimal(repr(float(value))).normalize(), "f")


def window_minutes(window: str) -> int:
    match = _WINDOW.match(window)
    if not match:
        raise ValueError(f"evaluation window must look like last_5m / last_1h, got {window!r}")
    return int(match.group(1)) * _UNITS[match.group(2)][1]


def _window_text(window: str) -> str:
    match = _WINDOW.match(window)
    assert match, window
    count, (unit, _) = int(match.group(1)), _UNITS[match.group(2)]
    return f"{count} {unit}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class MonitorArgs:
    name: str
    notify_handles: Sequence[str]
    warning_threshold: float = 500
    critical_threshold: float = 800
    no_data_minutes: int = 10
    metric: str = "my_metric"
    scope: str = "*"  # or a tag filter such as "host:dd-assessment-host"
    evaluation_window: str = "last_5m"
    time_aggregation: str = "avg"
    require_full_window: bool = False
    tags: Sequence[str] = ()
    message_template: Path = MESSAGE_TEMPLATE

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("monitor name is empty")
        if isinstance(self.notify_handles, str) or not self.notify_handles:
            raise ValueError("notify_handles must list at least one @handle")
        for handle in self.notify_handles:
            if not _HANDLE.match(handle):
                raise ValueError(f"notify handle must look like @someone@example.com or @slack-x: {handle!r}")
        format_number(self.warning_threshold)
        format_number(self.critical_threshold)
        # The query alerts above the threshold, so the warning must come first.
        if not self.warning_threshold < self.critical_threshold:
            raise ValueError(f"warning threshold {self.warning_threshold} must be below critical "
                             f"{self.critical_threshold}")
        if isinstance(self.no_data_minutes, bool) or not isinstance(self.no_data_minutes, int) \
                or self.no_data_minutes <= 0:
            raise ValueError(f"no_data_minutes must be a positive integer, got {self.no_data_minutes!r}")
        window_minutes(self.evaluation_window)
        if self.time_aggregation not in ("avg", "min", "max", "sum"):
            raise ValueError(f"time aggregation must be avg, min, max or sum, got {self.time_aggregation!r}")
        if not self.scope.strip() or any(c in self.scope for c in "{}"):
            raise ValueError(f"scope must be '*' or a tag filter without braces, got {self.scope!r}")
        if not re.match(r"^[A-Za-z][A-Za-z0-9_.]*$", self.metric):
            raise ValueError(f"not a metric name: {self.metric!r}")


def build_query(args: MonitorArgs) -> str:
    return (f"{args.time_aggregation}({args.evaluation_window}):avg:{args.metric}{{{args.scope}}} by {{host}}"
            f" > {format_number(args.critical_threshold)}")


def build_thresholds(args: MonitorArgs) -> dict[str, str]:
    # The provider types these as strings; the same formatter as the query keeps them equal.
    return {"warning": format_number(args.warning_threshold), "critical": format_number(args.critical_threshold)}


def check_thresholds(query: str, thresholds: dict[str, str]) -> None:
    """Raise unless the query's critical number is the same number, spelled the same way."""
    match = _QUERY_CRITICAL.search(query)
    if not match:
        raise ValueError(f"query has no '> <critical>' comparison: {query!r}")
    if match.group(1) != thresholds.get("critical"):
        raise ValueError(f"query critical {match.group(1)!r} differs from monitor_thresholds.critical "
                         f"{thresholds.get('critical')!r}")
    if "warning" in thresholds and not float(thresholds["warning"]) < float(thresholds["critical"]):
        raise ValueError(f"warning {thresholds['warning']} is not below critical {thresholds['critical']}")


def render_message(args: MonitorArgs) -> str:
    """The template with this monitor's facts filled in; Datadog's `{{...}}` stay as they are.

    `substitute` (not `safe_substitute`): a placeholder left unfilled is a bug, not text to send.
    """
    template = string.Template(args.message_template.read_text(encoding="utf-8"))
    return template.substitute(
        metric=args.metric,
        window=_window_text(args.evaluation_window),
        no_data_minutes=args.no_data_minutes,
        handles=" ".join(args.notify_handles),
    )


class MetricMonitor(pulumi.ComponentResource):
    """A `metric alert` monitor grouped by host; exposes `monitor_id` as an int."""

    monitor_id: pulumi.Output[int]

    def __init__(self, name: str, args: MonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dd-assessment:datadog:MetricMonitor", name, None, opts)
        query = build_query(args)
        thresholds = build_thresholds(args)
        check_thresholds(query, thresholds)
        self.monitor = datadog.Monitor(
            f"{name}-monitor",
            name=args.name,
            type="metric alert",
            query=query,
            monitor_thresholds=thresholds,
            message=render_message(args),
            notify_no_data=True,
            no_data_timeframe=args.no_data_minutes,
            require_full_window=args.require_full_window,
            include_tags=True,
            tags=list(args.tags) or None,
            # Parenting is what hands the caller's provider down to the monitor.
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The provider keeps ids as strings; downtimes want the monitor id as a number.
        self.monitor_id = self.monitor.id.apply(int)
        self.register_outputs({"monitor_id": self.monitor_id})
