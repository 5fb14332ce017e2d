"""The ``date_format`` / ``time_zone`` settings: each documented format x ambiguous and
unambiguous inputs (``date_formats.py``)."""

from __future__ import annotations

from datetime import datetime

import pytest

from opsgenie_integration.date_formats import (
    DATE_FORMATS,
    DateFormatError,
    parse_numeric_date,
    time_input_settings,
)

REFUSED = "refused"

# input -> expected per format (None = no date_format set)
TABLE = {
    "03/04/2026 10:00": {
        None: REFUSED,  # ambiguous
        "YYYY-MM-DD HH:mm": REFUSED,
        "MM/DD/YYYY HH:mm": datetime(2026, 3, 4, 10, 0),
        "DD/MM/YYYY HH:mm": datetime(2026, 4, 3, 10, 0),
        "DD.MM.YYYY HH:mm": REFUSED,  # dots expected
    },
    "13/04/2026 10:00": {
        None: datetime(2026, 4, 13, 10, 0),  # unambiguous: 13 is no month
        "YYYY-MM-DD HH:mm": REFUSED,
        "MM/DD/YYYY HH:mm": REFUSED,  # month 13
        "DD/MM/YYYY HH:mm": datetime(2026, 4, 13, 10, 0),
        "DD.MM.YYYY HH:mm": REFUSED,
    },
    "04/13/2026 10:00": {
        None: datetime(2026, 4, 13, 10, 0),
        "YYYY-MM-DD HH:mm": REFUSED,
        "MM/DD/YYYY HH:mm": datetime(2026, 4, 13, 10, 0),
        "DD/MM/YYYY HH:mm": REFUSED,
        "DD.MM.YYYY HH:mm": REFUSED,
    },
    "03.04.2026 10:00:30": {
        None: REFUSED,
        "YYYY-MM-DD HH:mm": REFUSED,
        "MM/DD/YYYY HH:mm": REFUSED,  # slashes expected
        "DD/MM/YYYY HH:mm": REFUSED,
        "DD.MM.YYYY HH:mm": datetime(2026, 4, 3, 10, 0, 30),
    },
    "07/07/2026": {
        None: datetime(2026, 7, 7),  # same either way
        "YYYY-MM-DD HH:mm": REFUSED,
        "MM/DD/YYYY HH:mm": datetime(2026, 7, 7),
        "DD/MM/YYYY HH:mm": datetime(2026, 7, 7),
        "DD.MM.YYYY HH:mm": REFUSED,
    },
    "31/02/2026 10:00": {None: REFUSED, "DD/MM/YYYY HH:mm": REFUSED},  # no such day
    "2026-04-03 10:00": dict.fromkeys([None, *DATE_FORMATS], None),  # ISO: not this module's
}


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [(text, fmt, want) for text, row in TABLE.items() for fmt, want in row.items()],
)
def test_table(text, fmt, expected):
    settings = time_input_settings(fmt)
    if expected == REFUSED:
        with pytest.raises(DateFormatError) as caught:
            parse_numeric_date(text, settings)
        assert "date_format" in str(caught.value) or "not a real date" in str(caught.value)
    else:
        assert parse_numeric_date(text, settings) == expected


def test_ambiguity_message_names_the_setting_and_the_formats():
    with pytest.raises(DateFormatError) as caught:
        parse_numeric_date("03/04/2026 10:00", time_input_settings())
    text = str(caught.value)
    assert "ambiguous" in text and "date_format" in text and "DD.MM.YYYY HH:mm" in text


def test_settings_are_checked():
    assert time_input_settings(" DD/MM/YYYY  HH:mm ").date_format == "DD/MM/YYYY HH:mm"
    with pytest.raises(DateFormatError, match="date_format: expected one of"):
        time_input_settings("dd/mm/yyyy")
    assert time_input_settings(None, "Europe/Berlin").zone is not None
    for bad in ("Mars/Olympus", "../etc/passwd", "", 5):
        if bad == "":
            assert time_input_settings(None, bad).zone is None
            continue
        with pytest.raises(DateFormatError, match="time_zone"):
            time_input_settings(None, bad)
