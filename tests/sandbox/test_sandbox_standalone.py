"""The sandbox stands alone (no import from the rest of the package) and has its own time format."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import opsgenie_integration.sandbox as sandbox_package
from opsgenie_integration.sandbox.timefmt import TimeFormatError, format_ts, parse_iso

PACKAGE = Path(sandbox_package.__file__).resolve().parent


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_sandbox_imports_nothing_from_the_rest_of_the_package(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level <= 1, f"{path.name}: relative import out of the sandbox"
            module = node.module or ""
            assert (
                node.level == 1
                or not module.startswith("opsgenie_integration")
                or module.startswith("opsgenie_integration.sandbox")
            ), f"{path.name}: imports {module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("opsgenie_integration") or alias.name.startswith(
                    "opsgenie_integration.sandbox"
                ), f"{path.name}: imports {alias.name}"


@given(ms=st.integers(0, 4_102_444_800_000), sub=st.integers(0, 999_999))
def test_format_and_parse_round_trip(ms, sub):
    text = format_ts(ms, sub)
    assert parse_iso(text) == (ms, sub)
    assert text.endswith("Z") and len(text.partition(".")[2].rstrip("Z")) <= 9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-11-24T12:14:41.03Z", "2021-11-24T12:14:41.03Z"),
        ("2021-11-24T12:14:42.000Z", "2021-11-24T12:14:42Z"),
        ("2017-01-15T08:00:00+02:00", "2017-01-15T06:00:00Z"),
        ("2017-01-15T08:00:00-0530", "2017-01-15T13:30:00Z"),
        ("2024-03-06T12:00:00.123456789Z", "2024-03-06T12:00:00.123456789Z"),
    ],
)
def test_known_renderings(text, expected):
    assert format_ts(*parse_iso(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-01T00:00:00Z",
        "yesterday",
        "2024-03-06T12:00:00+25:00",
        "2024-03-06T12:00:00.1234567890Z",
    ],
)
def test_bad_times_are_refused(text):
    with pytest.raises(TimeFormatError):
        parse_iso(text)
