"""Times: user inputs (UTC unless an offset is given) and OpsGenie timestamps (0-9 fraction digits)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from opsgenie_integration.times import (
    format_query_date,
    parse_server_timestamp,
    parse_user_time,
    to_epoch_ms,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2020-06-03 00:00", datetime(2020, 6, 3, tzinfo=UTC)),
        ("2020-06-03", datetime(2020, 6, 3, tzinfo=UTC)),
        ("2020-06-03T10:20:30Z", datetime(2020, 6, 3, 10, 20, 30, tzinfo=UTC)),
        ("2020-06-03T10:20:30+02:00", datetime(2020, 6, 3, 8, 20, 30, tzinfo=UTC)),
        ("2020-06-03T10:20:30.123-05:30", datetime(2020, 6, 3, 15, 50, 30, 123000, tzinfo=UTC)),
        ("1591142400000", datetime(2020, 6, 3, tzinfo=UTC)),
        (1591142400000, datetime(2020, 6, 3, tzinfo=UTC)),
    ],
)
def test_user_times(text, expected):
    assert parse_user_time(text) == expected


def test_time_without_offset_is_utc_whatever_the_host_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    if hasattr(time, "tzset"):
        time.tzset()
    try:
        assert parse_user_time("2020-06-03 00:00") == datetime(2020, 6, 3, tzinfo=UTC)
    finally:
        monkeypatch.delenv("TZ")
        if hasattr(time, "tzset"):
            time.tzset()
    assert os.environ.get("TZ") is None


def test_relative_times():
    now = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert parse_user_time("now", now=now) == now
    assert parse_user_time("3 days ago", now=now) == datetime(2024, 2, 27, 12, tzinfo=UTC)
    assert parse_user_time("90 minutes", now=now) == datetime(2024, 3, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad", ["", "soon", "2020-13-01", "31/02/2024", "2020-06-03T25:00", True, None, 10**20]
)
def test_bad_user_times(bad):
    with pytest.raises((ValueError, TypeError)):
        parse_user_time(bad)


@pytest.mark.parametrize(
    "stamp, ms",
    [
        ("2021-11-24T12:14:41.03Z", 1637756081030),
        ("2021-11-24T12:14:41Z", 1637756081000),
        ("2021-11-24T12:14:41.926Z", 1637756081926),
        ("2021-11-24T12:14:41.9269Z", 1637756081926),
        ("2021-11-24T12:14:41.926999999Z", 1637756081926),
        ("2021-11-24T14:14:41.5+02:00", 1637756081500),
        ("2021-11-24T12:14:41", 1637756081000),
    ],
)
def test_server_timestamps(stamp, ms):
    assert parse_server_timestamp(stamp) == ms


def test_query_date_is_utc_with_offset():
    assert (
        format_query_date(datetime(2024, 3, 1, 8, tzinfo=timezone.utc))
        == "2024-03-01T08:00:00+00:00"
    )
    assert to_epoch_ms(datetime(1970, 1, 1, 0, 0, 0, 1999, tzinfo=UTC)) == 1
