"""The contract between what a host sends to Datadog and what our dashboards and monitor look for.

A `Series` is what Datadog stores for one metric context: the metric name, the host name it was
submitted under, and its own tags. Datadog also lets a query match a series by its host's tags
(the Agent's host tags: `DD_TAGS` plus `env:<DD_ENV>`, datadog-agent
comp/metadata/host/hostimpl/hosttags/tags.go) and by `host:<name>`; `Intake.queryable_tags`
models that, and only for host names an Agent reports: a series under another host name (the
phantom `172.30.0.1`) gets none of them.

`MetricQuery.parse` reads the query syntax our dashboards and monitor use:
    [<time_agg>(<window>):]<space_agg>:<metric>{<scope>}[ by {<tag>,...}][.<fn>(...)]...[ <op> <number>]
where scope is `*` or comma-separated terms (AND): `key:value` (glob `*` allowed), `!key:value`,
or `$variable` (a dashboard template variable: its defaults, ORed, as `<prefix>:<value>`).
This is a reader for our own queries, not a full grammar: anything else is refused loudly.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_QUERY = re.compile(
    r"^(?:(?P<time_agg>[a-z]+)\((?P<window>[^)]+)\):)?"
    r"(?P<space_agg>avg|sum|min|max|p\d{2}):(?P<metric>[A-Za-z][\w.]*)"
    r"\{(?P<scope>[^{}]*)\}"
    r"(?: by \{(?P<by>[^{}]*)\})?"
    r"(?P<functions>(?:\.[a-z_]+\([^()]*\))*)"
    r"(?: (?P<op>[<>]=?) (?P<threshold>-?[\d.]+))?$")


@dataclass(frozen=True)
class Series:
    metric: str
    host: str
    tags: frozenset[str] = frozenset()
    source: str = ""  # which real component this series was derived from

    def tag_values(self, key: str, extra: Iterable[str] = ()) -> set[str]:
        prefix = f"{key}:"
        return {t[len(prefix):] for t in (*self.tags, *extra) if t.startswith(prefix)}


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    prefix: str
    defaults: tuple[str, ...]

    @classmethod
    def from_declared(cls, declared: Mapping) -> TemplateVariable:
        defaults = declared.get("defaults") or ([declared["default"]] if declared.get("default") else [])
        return cls(declared["name"], declared.get("prefix") or "", tuple(defaults))


@dataclass(frozen=True)
class MetricQuery:
    text: str
    metric: str
    scope: tuple[str, ...]  # AND of terms; () means `*`
    group_by: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> MetricQuery:
        match = _QUERY.match(text.strip())
        if not match:
            raise ValueError(f"not a query this reader understands: {text!r}")
        scope = match.group("scope").strip()
        if not scope:
            raise ValueError(f"empty scope in {text!r} (Datadog wants '*')")
        terms = () if scope == "*" else tuple(term.strip() for term in scope.split(","))
        for term in terms:
            if not re.fullmatch(r"\$[\w-]+|!?[\w.\-/]+:[^\s,]+", term):
                raise ValueError(f"scope term {term!r} of {text!r} is not key:value, !key:value or $var")
        group_by = tuple(g.strip() for g in (match.group("by") or "").split(",") if g.strip())
        return cls(text, match.group("metric"), terms, group_by)


@dataclass
class Intake:
    """What Datadog would hold: the series, and the host tags each Agent reports for its host."""

    series: list[Series] = field(default_factory=list)
    host_tags: dict[str, frozenset[str]] = field(default_factory=dict)

    def queryable_tags(self, series: Series) -> frozenset[str]:
        if series.host in self.host_tags:
            return series.tags | self.host_tags[series.host] | {f"host:{series.host}"}
        return series.tags | {f"host:{series.host}"} if series.host else series.tags

    def select(self, query: MetricQuery,
               variables: Sequence[TemplateVariable] = ()) -> list[Series]:
        """The series `query` selects with every template variable at its defaults."""
        by_name = {variable.name: variable for variable in variables}
        for term in query.scope:
            if term.startswith("$") and term[1:] not in by_name:
                raise ValueError(f"{query.text!r} uses ${term[1:]}, which the dashboard lacks")

        def term_holds(term: str, tags: frozenset[str]) -> bool:
            if term.startswith("$"):
                variable = by_name[term[1:]]
                if not variable.defaults or "*" in variable.defaults:
                    return True
                return any(_tag_matches(f"{variable.prefix}:{value}", tags)
                           for value in variable.defaults)
            if term.startswith("!"):
                return not _tag_matches(term[1:], tags)
            return _tag_matches(term, tags)

        return [s for s in self.series if s.metric == query.metric
                and all(term_holds(term, self.queryable_tags(s)) for term in query.scope)]

    def groups(self, selected: Sequence[Series], key: str) -> set[str]:
        """The values of `key` the selected series form groups by (`by {key}`)."""
        values: set[str] = set()
        for series in selected:
            values |= series.tag_values(key, self.queryable_tags(series))
        return values


def _tag_matches(wanted: str, tags: frozenset[str]) -> bool:
    return any(fnmatch.fnmatchcase(tag, wanted) for tag in tags)


def problems(intake: Intake, query_text: str, variables: Sequence[TemplateVariable],
             hosts: Sequence[str]) -> list[str]:
    """Why `query_text` would show nothing, or miss a host; empty when it is satisfied.

    Every query must select at least one series; one grouped `by {host}` must form a group for
    every host of the stack.
    """
    query = MetricQuery.parse(query_text)
    selected = intake.select(query, variables)
    if not selected:
        sent = sorted({(s.host, *sorted(s.tags)) for s in intake.series if s.metric == query.metric})
        return [f"{query_text!r} selects no series; {query.metric} is sent as {sent or 'nothing'}"]
    found = []
    if "host" in query.group_by:
        missing = set(hosts) - intake.groups(selected, "host")
        if missing:
            found.append(f"{query_text!r} has no group for host(s) {sorted(missing)}")
    for key in query.group_by:
        if not intake.groups(selected, key):
            found.append(f"{query_text!r} groups by {key}, which none of its series carries")
    return found
