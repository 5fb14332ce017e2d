"""Time values: what users type, what OpsGenie sends, what is sent back.

- User inputs (Start Time, Datetime...) accept ``2020-06-03 00:00``, ISO 8601 with ``Z`` or an
  offset, a date alone, epoch milliseconds, ``now`` and ``<N> <unit>(s) ago``, and day/month
  ordered dates (``03/04/2026 10:00``) read by the Date Format setting (``date_formats.py``). A
  time without an offset is in the Time Zone setting's zone, else UTC; never the host's zone.
- OpsGenie timestamps are ISO 8601 with 0 to 9 fraction digits and ``Z`` or an offset.
- Everything internal is an aware ``datetime`` in UTC or an int of epoch milliseconds.

Parsing is python-dateutil's ISO 8601 parser; this module only adds the defaults above.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .date_formats import TimeInputSettings, looks_numeric_date, parse_numeric_date

#: Accepted examples, quoted in every time error message.
TIME_FORMATS_HELP = (
    "a time such as 2020-06-03 00:00, 2020-06-03T00:00:00Z, 2020-06-03T02:00:00+02:00, "
    "2020-06-03, epoch milliseconds, now, 3 days ago, or 03/04/2026 10:00 in the Date Format "
    "setting's order"
)

_EPOCH_MS = re.compile(r"^\s*([0-9]{11,15})\s*$")
_RELATIVE = re.compile(
    r"^\s*([0-9]{1,6})\s*(second|minute|hour|day|week)s?(\s+ago)?\s*$", re.IGNORECASE
)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_MIN_MS = 0
_MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


def utc_now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(timezone.utc)


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of a datetime, exactly (timedelta floor division is integer arithmetic).
    A naive datetime is UTC, never the host's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _ONE_MS


def from_epoch_ms(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


def parse_user_time(
    value: str | int,
    *,
    now: datetime | None = None,
    settings: TimeInputSettings | None = None,
) -> datetime:
    """Parse a time typed by a user into an aware UTC datetime.

    Args:
        value: see the module docstring for the accepted forms. An ``int`` is epoch ms.
        now: the reference for ``now`` and relative forms (default: the current time).
        settings: the connection's Date Format and Time Zone (None: neither set).

    Raises:
        ValueError: the value is none of the accepted forms (the message lists them), or a
            day/month-ordered date that is ambiguous or does not follow the Date Format
            (``date_formats.DateFormatError``, a ValueError naming the setting).
    """
    settings = settings or TimeInputSettings()
    zone = settings.zone or timezone.utc
    if isinstance(value, bool):
        raise ValueError(f"expected {TIME_FORMATS_HELP}")
    if isinstance(value, int):
        return _from_ms_checked(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected {TIME_FORMATS_HELP}")
    text = value.strip()
    match = _EPOCH_MS.match(text)
    if match:
        return _from_ms_checked(int(match.group(1)))
    reference = now or utc_now()
    if text.lower() == "now":
        return reference
    match = _RELATIVE.match(text)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        try:
            return _checked(reference - timedelta(seconds=seconds))
        except OverflowError:
            raise ValueError(f"{value!r} is before the year 1") from None
    numeric = parse_numeric_date(text, settings)  # DateFormatError names the setting
    if numeric is not None:
        return _checked(_localize(numeric, zone))
    from dateutil.parser import isoparse  # lazy: start-up (dateutil costs import time)

    try:
        parsed = isoparse(text)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"expected {TIME_FORMATS_HELP}, got {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = _localize(parsed, zone)
    try:
        return _checked(parsed.astimezone(timezone.utc))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"expected {TIME_FORMATS_HELP}, got {value!r}") from exc


def _localize(naive: datetime, zone: object) -> datetime:
    """``naive`` read in ``zone`` (a tzinfo), as UTC. A time skipped by a DST change moves
    forward; a repeated one is its first occurrence (``fold=0``)."""
    aware = naive.replace(tzinfo=zone)  # type: ignore[arg-type]
    try:
        return aware.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{naive.isoformat()} is outside 1970-01-01 .. 9999-12-31") from exc


def _checked(moment: datetime) -> datetime:
    """The moment, if it lies between 1970 and 9999 (what epoch milliseconds can carry here)."""
    if not _MIN_MS <= to_epoch_ms(moment) <= _MAX_MS:
        raise ValueError(f"{moment.isoformat()} is outside 1970-01-01 .. 9999-12-31")
    return moment


def _from_ms_checked(ms: int) -> datetime:
    if not _MIN_MS <= ms <= _MAX_MS:
        raise ValueError(f"epoch milliseconds out of range: {ms}")
    return from_epoch_ms(ms)


def is_user_time(value: object) -> bool:
    """True when ``parse_user_time`` accepts the value (used as a JSON Schema format check).
    A day/month-ordered date passes here whatever its order: the command reads it with the
    connection's Date Format, which the input check does not know."""
    if isinstance(value, str) and looks_numeric_date(value):
        return True
    try:
        parse_user_time(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def format_query_date(moment: datetime) -> str:
    """Render a time for OpsGenie's ``date`` query parameters: ``yyyy-MM-ddTHH:mm:ss+00:00`` (UTC).

    Passed as a query parameter, the HTTP library encodes the ``+`` as ``%2B``.
    """
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_server_timestamp(value: str) -> int:
    """Epoch milliseconds (UTC) of an OpsGenie timestamp.

    Accepts 0 to 9 fraction digits (``...41.03Z``, ``...02Z``, ``...926Z``, nanoseconds) and ``Z``
    or a numeric offset.

    Raises:
        ValueError: not an ISO 8601 timestamp.
    """
    try:
        parsed = datetime.fromisoformat(value)  # C speed on Python 3.11+, which reads all of these
    except (ValueError, TypeError):
        from dateutil.parser import isoparse  # lazy: start-up

        parsed = isoparse(value)  # older Pythons: no "Z", at most 6 fraction digits
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return to_epoch_ms(parsed)
