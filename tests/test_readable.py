"""The readable part of a result: times, sentences and tables, checked on fixed values."""

from __future__ import annotations

from opsgenie_integration.readable import (
    cell,
    format_time,
    format_until,
    join_names,
    markdown_table,
    markdown_to_text,
    summarize,
    text_table,
    zone_label,
)

T = 1709542800000  # 2024-03-04T09:00:00Z
H = 3_600_000
COLUMNS = [("person", "Person"), ("rotation", "Rotation"), ("until", "Until")]
ROWS = [
    {"person": "jane.smith@example.com", "rotation": "Primary", "until": "17:00"},
    {"person": "ops", "rotation": "Backup | night", "until": None},
    {"person": "李小龍", "rotation": ["a", "b"], "until": True},
]


def test_times_name_their_zone():
    assert format_time(T) == "2024-03-04 09:00 UTC"
    assert format_time(T + 30_000) == "2024-03-04 09:00:30 UTC"
    assert format_time(T, "Europe/Berlin") == "2024-03-04 10:00 Europe/Berlin"
    assert format_time(T, "Mars/Olympus") == "2024-03-04 09:00 UTC"
    assert zone_label("UTC") == zone_label(None) == "UTC"


def test_until_is_a_clock_on_the_same_day_else_a_full_time():
    assert format_until(T, T + 8 * H) == "17:00"
    assert format_until(T, T + 16 * H) == "2024-03-05 01:00 UTC"
    # in Berlin 09:00Z + 13 h is 23:00 the same day
    assert format_until(T, T + 13 * H, "Europe/Berlin") == "23:00"


def test_markdown_table_escapes_pipes_and_shows_every_value():
    assert markdown_table(ROWS, COLUMNS, title="On call") == "\n".join(
        [
            "### On call",
            "",
            "| Person | Rotation | Until |",
            "|---|---|---|",
            "| jane.smith@example.com | Primary | 17:00 |",
            "| ops | Backup \\| night |  |",
            "| 李小龍 | a, b | yes |",
        ]
    )
    assert markdown_table([], COLUMNS) == "No results."


def test_text_table_aligns_columns_and_counts_wide_characters():
    assert text_table(ROWS, COLUMNS) == "\n".join(
        [
            "Person                  Rotation        Until",
            "----------------------  --------------  -----",
            "jane.smith@example.com  Primary         17:00",
            "ops                     Backup | night",
            "李小龍                  a, b            yes",
        ]
    )


def test_markdown_renders_as_the_text_table_for_a_terminal():
    readable = "On call now.\n\n" + markdown_table(ROWS, COLUMNS, title="On call")
    assert markdown_to_text(readable) == "On call now.\n\nOn call\n\n" + text_table(ROWS, COLUMNS)


def test_cells_are_one_line_and_bounded():
    assert cell("a\nb\tc") == "a b c"
    assert cell({"id": 1}) == '{"id":1}'
    assert len(cell("x" * 500)) == 200 and cell("x" * 500).endswith("…")


def test_join_names():
    assert join_names([]) == "nobody"
    assert join_names(["a"]) == "a"
    assert join_names(["a", "b", "c"]) == "a, b and c"


def test_summarize_gives_any_command_a_readable_part():
    outputs = {
        "schedules": [{"name": "Ops", "enabled": True, "rotations": [{"x": 1}]}, {"name": "A|B"}],
        "account": {"name": "acme", "plan": {"name": "Enterprise"}, "userCount": 3},
        "count": 2,
        "tags": ["a", "b"],
        "nothing": None,
    }
    assert summarize("Get Things", outputs) == "\n".join(
        [
            "Get Things succeeded.",
            "",
            "### schedules",
            "",
            "| name | enabled |",
            "|---|---|",
            "| Ops | yes |",
            "| A\\|B |  |",
            "",
            "### account",
            "",
            "| Field | Value |",
            "|---|---|",
            "| name | acme |",
            "| userCount | 3 |",
            "",
            "count: 2",
            "",
            "tags: a, b",
        ]
    )
    many = summarize("X", {"rows": [{"i": i} for i in range(60)]}, max_rows=50)
    assert many.endswith("… and 10 more.") and many.count("\n| ") == 51
