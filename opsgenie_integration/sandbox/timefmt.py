"""The sandbox's own ISO 8601 handling (independent of the client side's time parsing).

OpsGenie renders instants as ISO 8601 in UTC with 0 to 9 fraction digits, trailing zeros dropped
(``2021-11-24T12:14:41.03Z``, ``...:02Z``, ``...:40.926Z``, ``...:40.926000501Z``). The sandbox keeps
every instant as epoch milliseconds (UTC) plus an optional sub-millisecond part in nanoseconds
(0..999,999) that only matters for rendering.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_ISO_RE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


class TimeFormatError(ValueError):
    """Raised for a string that is not an ISO 8601 instant the sandbox accepts."""


def format_ts(ms: int, sub_ns: int = 0) -> str:
    """Render epoch milliseconds (UTC) as OpsGenie does: ``YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z``.

    ``sub_ns`` (0..999,999 ns below the millisecond) adds fraction digits 4 to 9; trailing zeros of
    the fraction are dropped, and a whole second has no fraction at all.
    """
    secs, rem = divmod(int(ms), 1000)
    y, mo, d, h, mi, s = time.gmtime(secs)[:6]
    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    frac = f"{rem:03d}{int(sub_ns):06d}".rstrip("0")
    return f"{text}.{frac}Z" if frac else f"{text}Z"


def parse_iso(text: str, *, require_time: bool = False) -> tuple[int, int]:
    """Parse an ISO 8601 instant into ``(epoch ms, sub-ms ns)``.

    Accepts ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS[.f{1,9}]]`` with ``Z``, ``+HH:MM``, ``+HHMM`` or
    no offset (taken as UTC). ``require_time`` refuses a date alone. Raises TimeFormatError.
    """
    m = _ISO_RE.match(text.strip()) if isinstance(text, str) else None
    if not m or (require_time and m.group("h") is None):
        raise TimeFormatError(f"not an ISO 8601 date-time: {text!r}")
    try:
        naive = datetime(
            int(m.group("y")),
            int(m.group("mo")),
            int(m.group("d")),
            int(m.group("h") or 0),
            int(m.group("mi") or 0),
            int(m.group("s") or 0),
        )
    except ValueError as exc:
        raise TimeFormatError(f"not a valid date-time: {text!r} ({exc})") from None
    offset_min = 0
    tz = m.group("tz")
    if tz and tz not in ("Z", "z"):
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise TimeFormatError(f"not a valid UTC offset: {tz!r}")
        offset_min = (hours * 60 + minutes) * (1 if tz[0] == "+" else -1)
    delta = naive.replace(tzinfo=timezone.utc) - _EPOCH
    ms = (delta.days * 86400 + delta.seconds) * 1000 - offset_min * 60_000
    frac = (m.group("f") or "").ljust(9, "0")
    return ms + int(frac[:3]), int(frac[3:])


def to_ms(value: object) -> tuple[int, int]:
    """Epoch ms (int), an ISO 8601 string or an aware/naive (UTC) datetime -> ``(ms, sub-ms ns)``."""
    if isinstance(value, bool):
        raise TimeFormatError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value, 0
    if isinstance(value, float):
        return int(value), 0
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        delta = aware - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000, (
            delta.microseconds % 1000
        ) * 1000
    if isinstance(value, str):
        stripped = value.strip()
        if re.fullmatch(r"-?\d+", stripped):
            return int(stripped), 0
        return parse_iso(stripped)
    raise TimeFormatError(f"not a time: {value!r}")


def ms_to_datetime(ms: int, tz: timezone | None = None) -> datetime:
    """Epoch ms -> aware datetime (UTC unless ``tz`` given)."""
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz or timezone.utc)


def datetime_to_ms(value: datetime) -> int:
    """Aware datetime -> epoch ms (microseconds truncated)."""
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
