"""A rotation's on-call periods: who holds each slot of a rotation, in a time window.

``rotation_periods(rotation, tz, lo, hi)`` gives the base periods of one rotation within
``[lo, hi)`` as ``Period`` tuples ``(start ms, end ms, participant)``, in time order, ``none``
slots left out. Rotation ``type`` hourly hands off every ``length`` hours of absolute time; daily
and weekly every ``length`` days or weeks of wall-clock time in the schedule's time zone ``tz``
(``zone(name)``), so hand-offs keep their local hour across DST. ``timeRestriction`` of type
``time-of-day`` (``restriction`` or ``restrictions`` with startHour/startMin/endHour/endMin; an end
before the start wraps past midnight) or ``weekday-and-time-of-day`` (startDay/endDay as well)
cuts the periods to the allowed windows. All instants are epoch milliseconds (UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .timefmt import datetime_to_ms, ms_to_datetime, to_ms

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

Period = tuple[int, int, dict]  # (start ms, end ms, participant) with start < end


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo:
    """The time zone called ``name`` (UTC when unknown or missing)."""
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def wall_to_ms(wall: datetime, tz: tzinfo) -> int:
    return datetime_to_ms(wall.replace(tzinfo=tz))


def local_midnight(ms: int, tz: tzinfo) -> datetime:
    local = ms_to_datetime(ms, tz)
    return datetime(local.year, local.month, local.day)


def _boundary(rotation: dict, start_ms: int, tz: tzinfo, k: int) -> int:
    length = max(1, int(rotation.get("length") or 1))
    if rotation.get("type") == "hourly":
        return start_ms + k * length * HOUR_MS
    days = length * (7 if rotation.get("type") == "weekly" else 1)
    wall = ms_to_datetime(start_ms, tz).replace(tzinfo=None) + timedelta(days=k * days)
    return wall_to_ms(wall, tz)


def _approx_step(rotation: dict) -> int:
    length = max(1, int(rotation.get("length") or 1))
    unit = {"hourly": HOUR_MS, "weekly": 7 * DAY_MS}.get(rotation.get("type", ""), DAY_MS)
    return length * unit


def _restriction_windows(
    rotation: dict, tz: tzinfo, lo: int, hi: int
) -> list[tuple[int, int]] | None:
    """The allowed intervals within [lo, hi), or None when the rotation has no restriction."""
    spec = rotation.get("timeRestriction")
    if not spec:
        return None
    items = spec.get("restrictions") or ([spec["restriction"]] if spec.get("restriction") else [])
    weekly = spec.get("type") == "weekday-and-time-of-day"
    windows: list[tuple[int, int]] = []
    day = local_midnight(lo, tz) - timedelta(days=8)
    last = local_midnight(hi, tz) + timedelta(days=1)
    while day <= last:
        for r in items:
            sh, sm = int(r.get("startHour", 0)), int(r.get("startMin", 0))
            eh, em = int(r.get("endHour", 0)), int(r.get("endMin", 0))
            if weekly:
                if day.weekday() != 0:
                    continue
                s_day = _DAYS.index(str(r.get("startDay", "monday")).lower())
                e_day = _DAYS.index(str(r.get("endDay", "monday")).lower())
                start = day + timedelta(days=s_day, hours=sh, minutes=sm)
                end = day + timedelta(days=e_day, hours=eh, minutes=em)
                if end <= start:
                    end += timedelta(days=7)
            else:
                start = day + timedelta(hours=sh, minutes=sm)
                end = day + timedelta(hours=eh, minutes=em)
                if end <= start:
                    end += timedelta(days=1)
            a, b = max(lo, wall_to_ms(start, tz)), min(hi, wall_to_ms(end, tz))
            if a < b:
                windows.append((a, b))
        day += timedelta(days=1)
    windows.sort()
    merged: list[tuple[int, int]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def rotation_periods(rotation: dict, tz: tzinfo, lo: int, hi: int) -> list[Period]:
    """The rotation's base periods within [lo, hi) (``none`` slots left out), in time order."""
    participants = rotation.get("participants") or []
    if not participants or not rotation.get("startDate"):
        return []
    start_ms = to_ms(rotation["startDate"])[0]
    end_ms = to_ms(rotation["endDate"])[0] if rotation.get("endDate") else None
    a, b = max(lo, start_ms), hi if end_ms is None else min(hi, end_ms)
    if a >= b:
        return []
    k = max(0, (a - start_ms) // _approx_step(rotation) - 1)
    while k > 0 and _boundary(rotation, start_ms, tz, k) > a:
        k -= 1
    while _boundary(rotation, start_ms, tz, k + 1) <= a:
        k += 1
    slots: list[Period] = []
    while True:
        s, e = _boundary(rotation, start_ms, tz, k), _boundary(rotation, start_ms, tz, k + 1)
        if s >= b:
            break
        participant = participants[k % len(participants)]
        if participant.get("type") != "none" and max(s, a) < min(e, b):
            slots.append((max(s, a), min(e, b), participant))
        k += 1
    windows = _restriction_windows(rotation, tz, a, b)
    if windows is None:
        return slots
    return [
        (max(s, ws), min(e, we), p)
        for s, e, p in slots
        for ws, we in windows
        if max(s, ws) < min(e, we)
    ]
