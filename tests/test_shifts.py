"""Shifts read from a timeline: merged per rotation, one list across rotations, who is on call
when, and until when (fixed data: oncall_data)."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from datetime import timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oncall_data import END_MS, NOW_MS, START_MS, timeline_data

from opsgenie_integration.picture import render_timeline_svg
from opsgenie_integration.shifts import (
    TimelineShapeError,
    on_call_until,
    rotation_names,
    shifts_at,
    shifts_from_timeline,
    timeline_window,
)

H = 3_600_000


def test_touching_periods_merge_and_rotations_interleave_by_start():
    shifts = [s.as_dict() for s in shifts_from_timeline(timeline_data())]
    assert [
        (s["person"], s["rotation"], s["start"], s["end"], s["type"], s["forwarded_from"])
        for s in shifts
    ] == [
        ("jane.smith@example.com", "Primary", "2024-03-04T00:00:00Z", "2024-03-04T17:00:00Z",
         "default", None),
        ("bob@example.com", "Backup | night", "2024-03-04T00:00:00Z", "2024-03-04T06:00:00Z",
         "historical", None),
        ("carl@example.com", "Primary", "2024-03-04T17:00:00Z", "2024-03-04T18:00:00Z",
         "override", None),
        ("jane.smith@example.com", "Primary", "2024-03-04T18:00:00Z", "2024-03-05T00:00:00Z",
         "default", None),
        ("ops", "Backup | night", "2024-03-04T20:00:00Z", "2024-03-05T06:00:00Z", "default", None),
        ("omar@example.com", "Primary", "2024-03-05T00:00:00Z", "2024-03-05T12:00:00Z",
         "forwarding", "jane.smith@example.com"),
        ("jane.smith@example.com", "Primary", "2024-03-05T12:00:00Z", "2024-03-06T00:00:00Z",
         "default", None),
    ]  # fmt: skip
    assert shifts[4]["person_type"] == "team" and shifts[4]["person_id"] == "t-ops"


def test_window_and_rotation_names():
    data = timeline_data()
    assert timeline_window(data) == (START_MS, END_MS)
    assert rotation_names(data) == ["Primary", "Backup | night", "Empty"]


def test_who_is_on_call_at_an_instant_and_until_when():
    shifts = shifts_from_timeline(timeline_data())
    assert [s.person for s in shifts_at(shifts, NOW_MS)] == ["jane.smith@example.com"]
    jane = lambda s: s.person == "jane.smith@example.com"  # noqa: E731
    # jane's stretch ends at the override, 17:00Z, although she is back at 18:00Z
    assert on_call_until(shifts, NOW_MS, jane) == START_MS + 17 * H
    assert on_call_until(shifts, START_MS + 17 * H + 1, jane) is None
    # at 23:00Z: jane (primary) and the team (backup) are on call
    late = START_MS + 23 * H
    assert {s.person for s in shifts_at(shifts, late)} == {"jane.smith@example.com", "ops"}
    # the forwarding hands the shift to omar at midnight: jane's stretch ends there
    assert on_call_until(shifts, late, jane) == START_MS + 24 * H
    # a stretch continued by another rotation: anyone on call runs to the end of the window
    assert on_call_until(shifts, late, lambda s: True) == END_MS


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("finalTimeline"), "data.finalTimeline.rotations is not a list"),
        (
            lambda d: d["finalTimeline"]["rotations"][0]["periods"][0].update(startDate="soon"),
            "data.finalTimeline.rotations[0].periods[0].startDate is not a timestamp",
        ),
        (
            lambda d: d["finalTimeline"]["rotations"][1].update(periods={"a": 1}),
            "data.finalTimeline.rotations[1].periods is not a list",
        ),
    ],
)
def test_a_timeline_not_shaped_as_documented_names_the_field(mutate, message):
    data = timeline_data()
    mutate(data)
    with pytest.raises(TimelineShapeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        shifts_from_timeline(data)


def test_odd_but_valid_periods_are_tolerated():
    data = timeline_data()
    periods = data["finalTimeline"]["rotations"][0]["periods"]
    periods.append("not a period")
    periods.append(
        {"startDate": "2024-03-06T00:00:00Z", "endDate": "2024-03-06T00:00:00Z", "type": "x"}
    )  # zero length: left out
    periods.append(
        {"startDate": "2024-03-06T00:00:00.123456789Z", "endDate": "2024-03-06T01:00:00+01:00"}
    )  # ends before it starts (same instant minus): left out
    assert len(shifts_from_timeline(data)) == 7


# -- any timeline: a list of shifts or TimelineShapeError, and a picture of whatever was read ----

_text = st.text(max_size=8)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), _text)
_stamp = st.one_of(
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["2024-03-04T00:00:00Z", "2024-03-04T08:00:00.123456789Z", "9999-12-31T23:59:59Z"]
    ),
    _scalar,
)
_period = st.dictionaries(
    st.sampled_from(["startDate", "endDate", "type", "recipient", "fromUser"]),
    st.one_of(
        _stamp, st.dictionaries(st.sampled_from(["id", "name", "type", "forwardedFrom"]), _scalar)
    ),
)
_timeline = st.fixed_dictionaries(
    {
        "startDate": _stamp,
        "endDate": _stamp,
        "finalTimeline": st.one_of(
            _scalar,
            st.fixed_dictionaries(
                {
                    "rotations": st.one_of(
                        _scalar,
                        st.lists(
                            st.dictionaries(
                                st.sampled_from(["id", "name", "periods"]),
                                st.one_of(
                                    _scalar, st.lists(st.one_of(_period, _scalar), max_size=4)
                                ),
                            ),
                            max_size=3,
                        ),
                    )
                }
            ),
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(data=_timeline)
def test_any_timeline_gives_shifts_or_a_shape_error(data):
    try:
        shifts = shifts_from_timeline(data)
    except TimelineShapeError as exc:
        assert str(exc).startswith("data")
        return
    assert all(s.start_ms < s.end_ms for s in shifts)
    assert [s.start_ms for s in shifts] == sorted(s.start_ms for s in shifts)
    try:
        window = timeline_window(data)
    except TimelineShapeError:
        return
    if window[0] < window[1] and importlib.util.find_spec("drawsvg"):
        svg = render_timeline_svg(
            shifts, rotation_names(data), window, window[0], "Asia/Tokyo", "x"
        )
        ET.fromstring(svg)
