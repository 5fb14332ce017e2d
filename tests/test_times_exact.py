"""Relative times and range bounds are exact: an hour is 3600 s, a week 604800 s."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opsgenie_integration.times import (
    from_epoch_ms,
    is_user_time,
    parse_user_time,
    to_epoch_ms,
)

UTC = timezone.utc
NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("1 second ago", 1),
        ("1 seconds ago", 1),
        ("59 seconds", 59),
        ("2 hours ago", 7200),
        ("1 minute ago", 60),
        ("3 days ago", 3 * 86400),
        ("1 week ago", 604800),
        ("2 weeks ago", 2 * 604800),
        ("  2 HOURS AGO ", 7200),
        ("0 days ago", 0),
        ("999999 seconds ago", 999999),
    ],
)
def test_relative_times_are_exact(text, seconds):
    assert NOW - parse_user_time(text, now=NOW) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["2 hour agoo", "1000000 seconds ago", "-1 day ago", "2 months ago", "ago"]
)
def test_relative_forms_outside_the_grammar_are_refused(text):
    with pytest.raises(ValueError):
        parse_user_time(text, now=NOW)


def test_now_is_the_reference_itself():
    assert parse_user_time("now", now=NOW) is NOW
    assert parse_user_time(" NOW ", now=NOW) is NOW


@pytest.mark.parametrize(
    "value, ms",
    [
        (0, 0),
        ("10000000000", 10_000_000_000),  # 11 digits: the shortest epoch ms accepted as text
        (253402300799999, 253402300799999),
    ],
)
def test_epoch_ms_bounds(value, ms):
    assert to_epoch_ms(parse_user_time(value)) == ms


@pytest.mark.parametrize("value", [-1, 253402300799999 + 1, "1000000000000000"])
def test_epoch_ms_out_of_range_is_refused(value):
    with pytest.raises(ValueError):
        parse_user_time(value)
    assert not is_user_time(value)


def test_relative_time_before_1970_is_refused():
    early = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="outside 1970-01-01"):
        parse_user_time("2 seconds ago", now=early)
    assert parse_user_time("1 second ago", now=early) == datetime(1970, 1, 1, tzinfo=UTC)


def test_epoch_ms_conversions_are_inverse_to_the_millisecond():
    for ms in (0, 1, 999, 1_637_756_081_926, 253402300799999):
        assert to_epoch_ms(from_epoch_ms(ms)) == ms
    assert to_epoch_ms(datetime(2020, 1, 1)) == 1_577_836_800_000  # naive is UTC
