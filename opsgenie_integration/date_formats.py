"""Day/month-ordered time inputs: the ``date_format`` and ``time_zone`` connection settings.

OpsGenie's own screens follow the account's Date/Time format; people paste times in that form.
``date_format`` names the order used to read a numeric date such as ``03/04/2026 10:00``:

============================  ==========================  =====================
``date_format``               example                     ``03/04/2026`` is
============================  ==========================  =====================
``YYYY-MM-DD HH:mm``          ``2026-04-03 10:00``        refused (not this format)
``MM/DD/YYYY HH:mm``          ``04/03/2026 10:00``        March 4
``DD/MM/YYYY HH:mm``          ``03/04/2026 10:00``        April 3
``DD.MM.YYYY HH:mm``          ``03.04.2026 10:00``        refused (dots expected)
============================  ==========================  =====================

The time part is optional (midnight), seconds are accepted (``HH:mm:ss``), and one-digit days,
months and hours are accepted. Without ``date_format`` a numeric date whose day and month could
be swapped (both 12 or less, and different) is refused with a message naming the setting; never
guessed. ISO 8601, epoch milliseconds and the relative forms (``now``, ``3 days ago``) are read
the same in every format.

``time_zone`` (an IANA name such as ``Europe/Berlin``) is the zone of inputs written without an
offset; without it they are UTC. Outputs are always ISO 8601 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache

#: The documented formats: name -> (field order, separator).
DATE_FORMATS: dict[str, tuple[str, str]] = {
    "YYYY-MM-DD HH:mm": ("ymd", "-"),
    "MM/DD/YYYY HH:mm": ("mdy", "/"),
    "DD/MM/YYYY HH:mm": ("dmy", "/"),
    "DD.MM.YYYY HH:mm": ("dmy", "."),
}

_NUMERIC_DATE = re.compile(
    r"^(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4})"
    r"(?:(?:\s+|T)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$"
)


class DateFormatError(ValueError):
    """A time input or setting that cannot be read; the message names the setting involved."""


@dataclass(frozen=True)
class TimeInputSettings:
    """How to read time inputs: ``date_format`` (a DATE_FORMATS name or None) and ``time_zone``
    (an IANA name or None = UTC) with its ``zone`` object."""

    date_format: str | None = None
    time_zone: str | None = None
    zone: tzinfo | None = None


def check_date_format(value: object, setting: str = "date_format") -> str:
    """The ``date_format`` value if documented (case and spaces as listed). Raises
    DateFormatError listing the formats."""
    if isinstance(value, str):
        wanted = " ".join(value.split())
        for name in DATE_FORMATS:
            if wanted == name:
                return name
    listed = ", ".join(DATE_FORMATS)
    raise DateFormatError(f"{setting}: expected one of {listed}, got {str(value)[:60]!r}")


@lru_cache(maxsize=1)
def iana_zone_names() -> frozenset[str]:
    """The IANA time zone names: the ``tzdata`` package's list (the IANA database's own zones
    and links), else the system's zones without ``localtime`` (a link to the host's zone,
    ``/etc/localtime``, that IANA does not define)."""
    try:
        from importlib.resources import files

        listed = files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    except (ImportError, OSError, ValueError):
        listed = []
    if listed:
        return frozenset(listed)
    from zoneinfo import available_timezones

    return frozenset(available_timezones() - {"localtime", "posixrules"})


def check_time_zone(value: object, setting: str = "time_zone") -> tzinfo:
    """The zone of an IANA name (``Europe/Berlin``, ``UTC``). Names that only a host's zone
    folder holds (``localtime``: the host's own zone; ``posix/...``, ``right/...``) are refused:
    the host's zone is never used. Raises DateFormatError."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise DateFormatError(f"{setting}: expected an IANA time zone name such as Europe/Berlin")
    name = value.strip()
    if ".." in name or name.startswith("/") or "\\" in name:
        raise DateFormatError(f"{setting}: {name!r} is not an IANA time zone name")
    if name not in iana_zone_names():
        host = " (it names the host's own zone, which is never used)" if name == "localtime" else ""
        raise DateFormatError(
            f"{setting}: {name!r} is not an IANA time zone name{host}; give one such as "
            "Europe/Berlin or UTC"
        )
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # lazy: only when a zone is set

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise DateFormatError(
            f"{setting}: unknown time zone {name!r} (an IANA name such as Europe/Berlin expected)"
        ) from None


def time_input_settings(date_format: object = None, time_zone: object = None) -> TimeInputSettings:
    """Checked settings (None or "" = not set). Raises DateFormatError naming the setting."""
    fmt = check_date_format(date_format) if date_format not in (None, "") else None
    zone = check_time_zone(time_zone) if time_zone not in (None, "") else None
    return TimeInputSettings(fmt, str(time_zone).strip() if zone else None, zone)


def parse_numeric_date(text: str, settings: TimeInputSettings) -> datetime | None:
    """Read ``text`` as a day/month-ordered numeric date (``03/04/2026 10:00``).

    Returns a naive datetime (the caller applies the time zone), or None when ``text`` is not of
    that shape (ISO 8601 and the other forms are the caller's).

    Raises:
        DateFormatError: the date does not follow ``date_format``, is ambiguous without it, or
            is not a real date or time.
    """
    match = _NUMERIC_DATE.match(text.strip())
    if not match:
        return None
    a, b, year = int(match["a"]), int(match["b"]), int(match["year"])
    sep = match["sep"]
    hour = int(match["hour"] or 0)
    minute = int(match["minute"] or 0)
    second = int(match["second"] or 0)
    if settings.date_format is not None:
        order, want_sep = DATE_FORMATS[settings.date_format]
        if order == "ymd" or sep != want_sep:
            raise DateFormatError(
                f"{text.strip()!r} does not follow the Date Format setting (date_format) "
                f"{settings.date_format}; write it like {_example(settings.date_format)}, "
                "or in ISO 8601 (2026-04-03T10:00:00Z)"
            )
        month, day = (a, b) if order == "mdy" else (b, a)
    else:
        if a <= 12 and b <= 12 and a != b:
            raise DateFormatError(
                f"{text.strip()!r} is ambiguous: day and month could be either way. Set the Date "
                f"Format connection setting (date_format: one of {', '.join(DATE_FORMATS)}), "
                "or write the time in ISO 8601 (2026-04-03T10:00:00Z)"
            )
        if a > 12 and b > 12:
            raise DateFormatError(f"{text.strip()!r} is not a date: no month in it")
        month, day = (a, b) if b > 12 else (b, a)
        if a == b:
            month = day = a
    if settings.date_format is not None:
        try:
            datetime(year, month, day)
        except ValueError as exc:  # the date itself, in the order the setting chose
            raise DateFormatError(_not_a_date(text.strip(), settings.date_format, exc)) from None
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise DateFormatError(f"{text.strip()!r} is not a real date or time ({exc})") from None


def _not_a_date(text: str, date_format: str, exc: ValueError) -> str:
    """Why ``text`` is no date in ``date_format``'s order, naming the setting, and what it is
    read the other way round when that is a real date."""
    order = DATE_FORMATS[date_format][0]
    match = _NUMERIC_DATE.match(text)
    said = (
        f"{text!r} is not a real date read as {date_format}, the Date Format setting "
        f"(date_format): {exc}"
    )
    if match is None:  # pragma: no cover - the caller matched it
        return said
    a, b, year = int(match["a"]), int(match["b"]), int(match["year"])
    day, month = (a, b) if order == "mdy" else (b, a)  # the other way round
    try:
        other = datetime(year, month, day)
    except ValueError:
        return (
            f"{said}; write it like {_example(date_format)}, or in ISO 8601 (2026-04-03T10:00:00Z)"
        )
    return (
        f"{said}. Read the other way round it would be {other:%Y-%m-%d} (day {day}, month "
        f"{month}): check the Date Format setting, or write the time in ISO 8601 "
        "(2026-04-03T10:00:00Z)"
    )


def _example(name: str) -> str:
    return {
        "YYYY-MM-DD HH:mm": "2026-04-03 10:00",
        "MM/DD/YYYY HH:mm": "04/03/2026 10:00",
        "DD/MM/YYYY HH:mm": "03/04/2026 10:00",
        "DD.MM.YYYY HH:mm": "03.04.2026 10:00",
    }[name]


def looks_numeric_date(text: str) -> bool:
    """True when ``text`` is a day/month-ordered date (``03/04/2026 10:00``) that is a real date
    and time in at least one order (the Date Format decides which when the command runs)."""
    match = _NUMERIC_DATE.match(text.strip())
    if not match:
        return False
    a, b, year = int(match["a"]), int(match["b"]), int(match["year"])
    clock = (int(match["hour"] or 0), int(match["minute"] or 0), int(match["second"] or 0))
    for month, day in ((a, b), (b, a)):
        try:
            datetime(year, month, day, *clock)
        except ValueError:
            continue
        return True
    return False
