"""Quiet-hours downtimes: what they declare, when they silence, and that they stay stable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pulumi
import pytest
from dateutil.rrule import rrulestr

import components.downtimes as downtimes_module
from components.datadog_provider import datadog_provider
from components.downtimes import (
    LEAD,
    Downtimes,
    DowntimesArgs,
    QuietHours,
    Recurrence,
    check_rrule,
    first_start,
    weekend_recurrence,
    weeknight_recurrence,
)
from components.monitor import MetricMonitor, MonitorArgs
from tests import harness
from tests.harness import declare

SCHEDULE = "datadog:index/downtimeSchedule:DowntimeSchedule"
ANCHOR = "time:index/static:Static"
NEW_YORK = ZoneInfo("America/New_York")
KEYS = {"datadog:apiKey": "0123456789abcdef0123456789abcdef",
        "datadog:appKey": "0123456789abcdef0123456789abcdef01234567"}
# Anchors (the instant a time.Static is created) around the two DST switches in reach:
# Mon 2026-10-26 10:00 EDT (clocks go back Sun 2026-11-01) and Mon 2027-03-08 10:00 EST
# (clocks go forward Sun 2027-03-14).
FALL_ANCHOR = "2026-10-26T14:00:00Z"
SPRING_ANCHOR = "2027-03-08T15:00:00Z"
# terraform-provider-datadog validates recurrence.start with Go's time.Parse layout
# "2006-01-02T15:04:05" (datadog/fwprovider/resource_datadog_downtime_schedule.go,
# validators.TimeFormatValidator): exactly date, T, hours, minutes and seconds, nothing after.
# The provider's Check runs it in `pulumi up` (a preview skips it while the start is unknown).
PROVIDER_START_LAYOUT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _declare(monkeypatch, anchor: str = FALL_ANCHOR, quiet: QuietHours | None = None):
    """The monitor and its downtimes, as __main__ wires them, with the anchor the mock reports."""
    monkeypatch.setattr(harness, "STATIC_TIME", anchor)

    def program() -> None:
        keys = pulumi.Config("datadog")
        provider = datadog_provider("dd", api_key=keys.require_secret("apiKey"),
                                    app_key=keys.require_secret("appKey"), site="datadoghq.com")
        opts = pulumi.ResourceOptions(providers=[provider])
        monitor = MetricMonitor("my-metric", MonitorArgs(name="my_metric", notify_handles=["@ops@example.com"]),
                                opts=opts)
        Downtimes("quiet", DowntimesArgs(monitor_id=monitor.monitor_id, quiet_hours=quiet or QuietHours()),
                  opts=opts)
    return declare(program, KEYS)


# --- what is declared -------------------------------------------------------------------------------

def test_two_downtime_schedules_and_no_deprecated_downtime(monkeypatch):
    declared = _declare(monkeypatch)
    assert sorted(r.name for r in declared.of_type(SCHEDULE)) == ["quiet-weekend", "quiet-weeknights"]
    assert not declared.of_type("datadog:index/downtime:Downtime")


def test_weeknights_and_weekend_recurrences(monkeypatch):
    declared = _declare(monkeypatch)
    weeknights = declared.named("quiet-weeknights").props
    weekend = declared.named("quiet-weekend").props
    assert weeknights["recurringSchedule"] == {"timezone": "America/New_York", "recurrences": [{
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU,MO,TU,WE,TH,FR",
        "start": "2026-10-26T19:00:00", "duration": "14h"}]}
    assert weekend["recurringSchedule"] == {"timezone": "America/New_York", "recurrences": [{
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=SA", "start": "2026-10-31T00:00:00", "duration": "2d"}]}
    for props in (weeknights, weekend):
        assert props["displayTimezone"] == "America/New_York"
        assert props["scope"] == "*"
        assert props["muteFirstRecoveryNotification"] is True
        assert props["message"]
        assert set(props["notifyEndStates"]) == {"alert", "no data", "warn"}


def test_the_monitor_id_reaches_both_downtimes_as_a_number(monkeypatch):
    declared = _declare(monkeypatch)
    for name in ("quiet-weeknights", "quiet-weekend"):
        monitor_id = declared.named(name).props["monitorIdentifier"]["monitorId"]
        # The wire format carries numbers as doubles; a string id would arrive as "4242424".
        assert isinstance(monitor_id, (int, float)) and not isinstance(monitor_id, bool)
        assert monitor_id == 4242424
        assert declared.named(f"{name}-anchor").props["triggers"]["monitor_id"] == "4242424"


def test_children_are_parented_and_the_datadog_ones_use_the_callers_provider(monkeypatch):
    declared = _declare(monkeypatch)
    component = declared.named("quiet")
    assert component.typ == "dd-assessment:datadog:Downtimes" and not component.custom
    for name in ("quiet-weeknights", "quiet-weekend", "quiet-weeknights-anchor", "quiet-weekend-anchor"):
        assert declared.named(name).parent.endswith("dd-assessment:datadog:Downtimes::quiet")
    for name in ("quiet-weeknights", "quiet-weekend"):
        assert declared.named(name).provider.rsplit("::", 1)[0].endswith("$pulumi:providers:datadog::dd")
    for anchor in declared.of_type(ANCHOR):
        assert "providers:datadog" not in anchor.provider


def test_rules_are_ones_datadog_accepts(monkeypatch):
    declared = _declare(monkeypatch)
    for schedule in declared.of_type(SCHEDULE):
        (recurrence,) = schedule.props["recurringSchedule"]["recurrences"]
        assert not re.search(r"DTSTART|DTEND|DURATION", recurrence["rrule"])
        assert re.fullmatch(r"[1-9]\d*[mhdw]", recurrence["duration"])
        # Local wall time, no UTC offset, minute precision, as in Datadog's own examples.
        assert PROVIDER_START_LAYOUT.fullmatch(recurrence["start"]), recurrence["start"]


@pytest.mark.parametrize("rule", ["DTSTART=20260101T000000;FREQ=DAILY", "FREQ=DAILY;DTEND=20260102",
                                  "FREQ=DAILY;DURATION=PT1H", "BYDAY=MO"])
def test_rules_datadog_rejects_are_refused(rule):
    with pytest.raises(ValueError):
        check_rrule(rule)
    with pytest.raises(ValueError):
        Recurrence(rrule=rule, opens_at=time(19), duration="1h")


@pytest.mark.parametrize("duration", ["14", "0h", "1.5h", "14 h", "90s"])
def test_durations_datadog_rejects_are_refused(duration):
    with pytest.raises(ValueError):
        Recurrence(rrule="FREQ=DAILY", opens_at=time(19), duration=duration)


@pytest.mark.parametrize("overrides", [
    {"timezone": "Eastern"}, {"timezone": "Mars/Olympus"},
    {"evening": time(9), "morning": time(19)}, {"evening": time(19, 0, 30)},
    {"weeknight_days": ()}, {"weeknight_days": ("MO", "MO")}, {"weeknight_days": ("MON",)},
])
def test_bad_quiet_hours_are_refused(overrides):
    with pytest.raises(ValueError):
        QuietHours(**overrides)


# --- the start: future when created, stable afterwards -------------------------------------------------

@pytest.mark.parametrize("anchor", [FALL_ANCHOR, SPRING_ANCHOR, "2026-11-28T00:36:48Z", "2026-12-31T23:59:59Z"])
def test_start_is_the_first_occurrence_after_the_anchor(monkeypatch, anchor):
    declared = _declare(monkeypatch, anchor)
    created = datetime.fromisoformat(anchor)
    for schedule in declared.of_type(SCHEDULE):
        (recurrence,) = schedule.props["recurringSchedule"]["recurrences"]
        start = datetime.strptime(recurrence["start"], "%Y-%m-%dT%H:%M:%S")
        # Not in the past when Datadog receives it...
        assert start.replace(tzinfo=NEW_YORK) >= created + LEAD
        # ...an occurrence of its own rule (Datadog: start matches the rule's first day)...
        assert start in rrulestr(recurrence["rrule"], dtstart=start - timedelta(days=7)).between(
            start - timedelta(minutes=1), start + timedelta(minutes=1))
        # ...and the first one: none is skipped between the anchor and the start.
        earlier = rrulestr(recurrence["rrule"], dtstart=start - timedelta(days=8)).between(
            created.astimezone(NEW_YORK).replace(tzinfo=None) + LEAD, start)
        assert earlier == []


def test_start_skips_an_occurrence_too_close_to_the_anchor():
    weeknights = weeknight_recurrence(QuietHours())
    # Tue 2026-11-03 18:50 EST: 19:00 the same evening is still ahead.
    assert first_start(weeknights, "America/New_York", datetime(2026, 11, 3, 23, 50, tzinfo=UTC)) == "2026-11-03T19:00:00"
    # Tue 18:59: 19:00 is inside the lead, so the next evening.
    assert first_start(weeknights, "America/New_York", datetime(2026, 11, 3, 23, 59, tzinfo=UTC)) == "2026-11-04T19:00:00"
    # Sat 12:00: Saturday is no weeknight start; Sunday 19:00 is.
    assert first_start(weeknights, "America/New_York", datetime(2026, 11, 7, 17, 0, tzinfo=UTC)) == "2026-11-08T19:00:00"
    with pytest.raises(ValueError):
        first_start(weeknights, "America/New_York", datetime(2026, 11, 3, 18, 50))


def test_start_skips_a_wall_time_that_dst_removes():
    nightly = Recurrence(rrule="FREQ=DAILY;INTERVAL=1", opens_at=time(2, 30), duration="1h")
    # 2027-03-14 02:30 does not exist in New York (02:00 EST jumps to 03:00 EDT).
    assert first_start(nightly, "America/New_York", datetime(2027, 3, 14, 6, 0, tzinfo=UTC)) == "2027-03-15T02:30:00"


class _Clock(datetime):
    """A `datetime` whose "now" the test sets: proof that the code never reads the real clock."""

    instant = datetime(2026, 1, 1, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.instant if tz is None else cls.instant.astimezone(tz)

    @classmethod
    def utcnow(cls):
        return cls.instant.replace(tzinfo=None)

    @classmethod
    def today(cls):
        return cls.utcnow()


def _inputs(declared) -> list[tuple[str, str, dict]]:
    # Registration order is not part of the contract (components register concurrently).
    return sorted(((r.typ, r.name, r.inputs) for r in declared.resources), key=lambda item: item[:2])


def test_two_evaluations_at_different_times_declare_identical_inputs(monkeypatch):
    monkeypatch.setattr(downtimes_module, "datetime", _Clock)
    monkeypatch.setattr(_Clock, "instant", datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    first = _inputs(_declare(monkeypatch))
    monkeypatch.setattr(_Clock, "instant", datetime(2027, 2, 3, 17, 45, tzinfo=UTC))
    second = _inputs(_declare(monkeypatch))
    assert first == second
    # The anchor is the one thing that moves the start: a different create time, a new start.
    moved = {name: inputs for typ, name, inputs in _inputs(_declare(monkeypatch, SPRING_ANCHOR)) if typ == SCHEDULE}
    assert moved["quiet-weeknights"]["recurringSchedule"]["recurrences"][0]["start"] == "2027-03-08T19:00:00"


def _schedule_inputs_but_start(props: dict) -> dict[str, object]:
    """Every input of a declared schedule except `start`, flattened to the anchor's trigger keys."""
    flat = {key: value for key, value in props.items()
            if key not in ("recurringSchedule", "monitorIdentifier")}
    flat["monitorId"] = props["monitorIdentifier"]["monitorId"]
    flat["timezone"] = props["recurringSchedule"]["timezone"]
    (recurrence,) = props["recurringSchedule"]["recurrences"]
    flat.update({key: value for key, value in recurrence.items() if key != "start"})
    return flat


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_input_whose_change_replaces_the_schedule_is_a_trigger_of_its_anchor(monkeypatch):
    # The schedule is replaced on any change (replace_on_changes=["*"]); an input missing from the
    # anchor's triggers would replace it with the old, by then past, start (rejected by the API).
    declared = _declare(monkeypatch)
    for name in ("quiet-weeknights", "quiet-weekend"):
        triggers = declared.named(f"{name}-anchor").props["triggers"]
        inputs = _schedule_inputs_but_start(declared.named(name).props)
        assert {"notifyEndStates", "notifyEndTypes", "displayTimezone"} <= set(inputs)
        for key, value in inputs.items():
            expected = (",".join(value) if isinstance(value, list) else
                        str(value).lower() if isinstance(value, bool) else
                        str(int(value)) if isinstance(value, float) else str(value))  # ids are numbers
            assert triggers.get(_snake(key)) == expected, (name, key)


def test_any_change_repins_the_anchor_and_replaces_instead_of_patching(monkeypatch):
    declared = _declare(monkeypatch)
    for name in ("quiet-weeknights", "quiet-weekend"):
        schedule, anchor = declared.named(name), declared.named(f"{name}-anchor")
        assert schedule.options["replaceOnChanges"] == ["*"]
        assert schedule.options["deleteBeforeReplace"] is True
        triggers = anchor.props["triggers"]
        (recurrence,) = schedule.props["recurringSchedule"]["recurrences"]
        assert {triggers["rrule"], triggers["duration"], triggers["timezone"]} == \
            {recurrence["rrule"], recurrence["duration"], schedule.props["recurringSchedule"]["timezone"]}
        assert triggers["message"] == schedule.props["message"]
        assert triggers["scope"] == schedule.props["scope"]
        assert "rfc3339" not in anchor.props  # the provider, not the program, supplies "now"
    changed = _declare(monkeypatch, quiet=QuietHours(evening=time(20, 0)))
    assert changed.named("quiet-weeknights-anchor").props["triggers"] != \
        declared.named("quiet-weeknights-anchor").props["triggers"]


# --- when the monitor is silenced, across DST ---------------------------------------------------------

def _duration(text: str) -> timedelta:
    number, unit = int(text[:-1]), text[-1]
    return timedelta(minutes=number * {"m": 1, "h": 60, "d": 1440, "w": 10080}[unit])


def _windows(declared, until: datetime, *, wall_clock: bool) -> list[tuple[datetime, datetime]]:
    """Every silenced interval (UTC) the declared schedules produce up to `until`.

    Datadog does not say whether `14h` across a DST switch is elapsed or wall-clock time, so both
    readings are checked: the schedule must be right either way.
    """
    windows = []
    for schedule in declared.of_type(SCHEDULE):
        zone = ZoneInfo(schedule.props["recurringSchedule"]["timezone"])
        for recurrence in schedule.props["recurringSchedule"]["recurrences"]:
            start = datetime.strptime(recurrence["start"], "%Y-%m-%dT%H:%M:%S")
            length = _duration(recurrence["duration"])
            for occurrence in rrulestr(recurrence["rrule"], dtstart=start):
                opens = occurrence.replace(tzinfo=zone).astimezone(UTC)
                if opens > until:
                    break
                closes = ((occurrence + length).replace(tzinfo=zone).astimezone(UTC) if wall_clock
                          else opens + length)
                windows.append((opens, closes))
    return windows


def _silenced(windows, instant: datetime) -> bool:
    return any(opens <= instant < closes for opens, closes in windows)


def _business_hours(instant: datetime) -> bool:
    local = instant.astimezone(NEW_YORK)
    return local.weekday() < 5 and time(9) <= local.time() < time(19)


@pytest.mark.parametrize("anchor", [FALL_ANCHOR, SPRING_ANCHOR])
@pytest.mark.parametrize("wall_clock", [False, True])
def test_silenced_exactly_outside_weekday_business_hours(monkeypatch, anchor, wall_clock):
    declared = _declare(monkeypatch, anchor)
    begin = datetime.fromisoformat(anchor)
    end = begin + timedelta(weeks=3)
    windows = _windows(declared, end, wall_clock=wall_clock)
    instant, wrong = begin, []
    while instant < end:
        if _silenced(windows, instant) == _business_hours(instant):
            wrong.append(instant.astimezone(NEW_YORK).isoformat())
        instant += timedelta(minutes=5)
    assert wrong == []


@pytest.mark.parametrize("wall_clock", [False, True])
def test_around_the_november_2026_switch(monkeypatch, wall_clock):
    windows = _windows(_declare(monkeypatch, FALL_ANCHOR), datetime(2026, 11, 10, tzinfo=UTC), wall_clock=wall_clock)

    def silenced(*wall, fold=0):
        return _silenced(windows, datetime(*wall, tzinfo=NEW_YORK, fold=fold).astimezone(UTC))

    assert silenced(2026, 10, 30, 19, 0) and not silenced(2026, 10, 30, 18, 59)   # Friday evening
    assert silenced(2026, 10, 31, 12, 0)                                            # Saturday
    assert silenced(2026, 11, 1, 1, 30, fold=0) and silenced(2026, 11, 1, 1, 30, fold=1)  # the repeated hour
    assert silenced(2026, 11, 1, 23, 30)             # Sunday night, past 48 h after Saturday 00:00 EDT
    assert silenced(2026, 11, 2, 8, 59) and not silenced(2026, 11, 2, 9, 0)        # Monday morning, EST
    assert not silenced(2026, 11, 2, 18, 59) and silenced(2026, 11, 2, 19, 0)      # Monday evening


@pytest.mark.parametrize("wall_clock", [False, True])
def test_around_the_march_2027_switch(monkeypatch, wall_clock):
    windows = _windows(_declare(monkeypatch, SPRING_ANCHOR), datetime(2027, 3, 20, tzinfo=UTC),
                       wall_clock=wall_clock)

    def silenced(*wall):
        return _silenced(windows, datetime(*wall, tzinfo=NEW_YORK).astimezone(UTC))

    assert silenced(2027, 3, 13, 12, 0)                                             # Saturday
    assert silenced(2027, 3, 14, 1, 59) and silenced(2027, 3, 14, 3, 0)           # either side of the jump
    assert silenced(2027, 3, 15, 0, 30)                                             # Monday, small hours
    assert silenced(2027, 3, 15, 8, 59) and not silenced(2027, 3, 15, 9, 0)        # Monday morning, EDT
    assert not silenced(2027, 3, 15, 18, 59) and silenced(2027, 3, 15, 19, 0)      # Monday evening


def test_without_sunday_nights_monday_small_hours_would_page(monkeypatch):
    # Why the default weeknights start on Sunday: the weekend window ends at Monday 00:00.
    literal = QuietHours(weeknight_days=("MO", "TU", "WE", "TH", "FR"))
    assert weeknight_recurrence(literal).rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR"
    windows = _windows(_declare(monkeypatch, FALL_ANCHOR, literal), datetime(2026, 11, 10, tzinfo=UTC),
                       wall_clock=False)
    assert not _silenced(windows, datetime(2026, 11, 2, 3, 0, tzinfo=NEW_YORK).astimezone(UTC))


def test_weekend_recurrence_does_not_depend_on_the_weeknight_settings():
    assert weekend_recurrence(QuietHours(evening=time(22), morning=time(6))) == weekend_recurrence(QuietHours())
    assert weeknight_recurrence(QuietHours(evening=time(22), morning=time(6, 30))).duration == "510m"


@pytest.mark.parametrize("handles", [("ops@example.com",), "@ops@example.com", ("@a b",)])
def test_notify_handles_must_be_handles(handles):
    with pytest.raises(ValueError, match="notify_handles"):
        DowntimesArgs(monitor_id=1, notify_handles=handles)
