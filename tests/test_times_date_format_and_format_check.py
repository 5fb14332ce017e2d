"""Day/month-ordered dates read in the Date Format's order and the Time Zone setting's zone, and
``is_user_time`` (a JSON Schema format check) answering exactly True or False."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from opsgenie_integration.date_formats import TimeInputSettings
from opsgenie_integration.times import is_user_time, parse_user_time

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    "date_format, expected",
    [
        ("DD/MM/YYYY HH:mm", datetime(2026, 4, 3, 10, 0, tzinfo=timezone.utc)),
        ("MM/DD/YYYY HH:mm", datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)),
    ],
)
def test_a_day_month_date_is_read_in_the_date_formats_order(date_format, expected):
    settings = TimeInputSettings(date_format=date_format)
    assert parse_user_time("03/04/2026 10:00", settings=settings) == expected


def test_a_day_month_date_is_read_in_the_time_zone_setting():
    settings = TimeInputSettings(
        date_format="DD.MM.YYYY HH:mm", time_zone="Europe/Berlin", zone=BERLIN
    )
    # 10:00 in Berlin in summer (UTC+2) is 08:00 UTC
    got = parse_user_time("03.07.2026 10:00", settings=settings)
    assert got == datetime(2026, 7, 3, 8, 0, tzinfo=timezone.utc)
    assert got.utcoffset().total_seconds() == 0


def test_an_iso_time_without_offset_is_read_in_the_time_zone_setting():
    settings = TimeInputSettings(time_zone="Europe/Berlin", zone=BERLIN)
    got = parse_user_time("2026-01-15 10:00", settings=settings)
    assert got == datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)  # UTC+1 in winter


@pytest.mark.parametrize(
    "value",
    ["03/04/2026 10:00", "31/12/2026", "12/31/2026", "now", "2 hours ago", "2020-06-03", 0],
)
def test_accepted_user_times_are_exactly_true(value):
    assert is_user_time(value) is True


@pytest.mark.parametrize("value", ["13/13/2026", "", "tomorrow", True, None, -1, 2.5])
def test_refused_user_times_are_exactly_false(value):
    assert is_user_time(value) is False
