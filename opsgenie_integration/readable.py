"""The human-readable part of a result: short sentences, times and tables a responder reads.

Two table forms of the same rows: ``markdown_table`` (for the envelope's ``readable`` field, shown
by SOAR platforms) and ``text_table`` (aligned plain text for a terminal, the CLI's
``--output table``). Times are shown as ``2024-03-06 09:00 UTC`` (minutes; seconds only when not
zero), in UTC unless a time zone is named. Nothing here does I/O or raises for odd values: a cell
shows whatever it is given (None as empty, lists joined with ", ", objects as compact JSON).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any

#: A table column: the row key it shows and its title.
Column = tuple[str, str]

#: The longest cell shown; longer text ends with an ellipsis.
MAX_CELL = 200


def zone(name: str | None) -> tzinfo:
    """The IANA time zone ``name``; UTC when None, empty or unknown."""
    if not name:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # on first use: start-up stays short

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def zone_label(name: str | None) -> str:
    """How a time zone is named next to a time: ``UTC`` or the IANA name (``Europe/Berlin``)."""
    return name if name and zone(name) is not timezone.utc and name != "UTC" else "UTC"


def format_time(ms: int, tz_name: str | None = None) -> str:
    """Epoch milliseconds as ``2024-03-06 09:00 UTC`` (``09:00:30`` when seconds are not zero),
    in ``tz_name`` when given (``2024-03-06 10:00 Europe/Berlin``)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=zone(tz_name))
    clock = "%H:%M:%S" if moment.second else "%H:%M"
    return f"{moment.strftime('%Y-%m-%d ' + clock)} {zone_label(tz_name)}"


def format_until(start_ms: int, end_ms: int, tz_name: str | None = None) -> str:
    """The end of a stretch that began at ``start_ms``: only the clock (``17:00``) when it ends on
    the same day, else the full time (``2024-03-07 17:00 UTC``). Epoch ms."""
    tz = zone(tz_name)
    start = datetime.fromtimestamp(start_ms / 1000, tz=tz)
    end = datetime.fromtimestamp(end_ms / 1000, tz=tz)
    if start.date() == end.date():
        return end.strftime("%H:%M:%S" if end.second else "%H:%M")
    return format_time(end_ms, tz_name)


def cell(value: Any) -> str:
    """One value as table text: None empty, booleans ``yes``/``no``, lists joined with ``, ``,
    objects as compact JSON, newlines as spaces, at most MAX_CELL characters."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(cell(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def markdown_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], title: str | None = None
) -> str:
    """A Markdown table of ``rows`` (one line each) with ``columns`` ``[(key, title)]``; ``|`` in
    cells escaped. With ``title``, a ``### title`` line first. No rows: the header and a line
    ``No results.`` instead of an empty table."""
    lines = [f"### {title}", ""] if title else []
    rows = list(rows)
    if not rows:
        return "\n".join([*lines, "No results."])
    lines.append("| " + " | ".join(_md(t) for _, t in columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_md(cell(row.get(k))) for k, _ in columns) + " |")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Terminal columns ``text`` takes (East Asian wide characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], title: str | None = None
) -> str:
    """The same table as plain text: a header, a rule of ``-``, one line per row, columns padded
    to their widest cell and separated by two spaces. No rows: ``No results.``"""
    rows = list(rows)
    head = [title, ""] if title else []
    if not rows:
        return "\n".join([*head, "No results."])
    grid = [[t for _, t in columns]] + [[cell(row.get(k)) for k, _ in columns] for row in rows]
    widths = [max(_width(line[i]) for line in grid) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        padded = [v + " " * (w - _width(v)) for v, w in zip(values, widths)]
        return "  ".join(padded).rstrip()

    out = [line(grid[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(values) for values in grid[1:])
    return "\n".join([*head, *out])


def markdown_to_text(readable: str) -> str:
    """Render a ``readable`` Markdown text (as built here) for a terminal: ``### title`` lines lose
    their hashes and every Markdown table becomes an aligned text table; other lines stay."""
    out: list[str] = []
    lines = readable.splitlines()
    i = 0
    while i < len(lines):
        current = lines[i]
        if current.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = _split_row(current)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                values = _split_row(lines[i])
                rows.append({str(n): v for n, v in enumerate(values)})
                i += 1
            out.append(text_table(rows, [(str(n), t) for n, t in enumerate(header)]))
            continue
        out.append(current.removeprefix("### "))
        i += 1
    return "\n".join(out)


def _split_row(line: str) -> list[str]:
    """The cells of a Markdown table line built by ``markdown_table`` (escapes undone)."""
    cells, buf, escaped = [], [], False
    for ch in line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]:
        if escaped:
            buf.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            cells.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    cells.append("".join(buf).strip())
    return cells


def join_names(names: Iterable[str], empty: str = "nobody") -> str:
    """``a``, ``a and b``, ``a, b and c``; ``empty`` when there is none."""
    names = [n for n in names if n]
    if not names:
        return empty
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def summarize(command: str, outputs: Mapping[str, Any], max_rows: int = 50) -> str:
    """A readable part for a command that wrote none: ``<command> succeeded.``, then each output
    that is a list of objects as a Markdown table (the columns: the scalar keys of its first
    rows, at most 6; at most ``max_rows`` rows, the rest counted), each object as a two-column
    table of its scalar fields, and scalars as ``key: value`` lines."""
    parts = [f"{command} succeeded."]
    for key, value in outputs.items():
        if isinstance(value, list):
            rows = [v for v in value if isinstance(v, Mapping)]
            if not rows:
                parts.append(f"{key}: {cell(value) or 'none'}")
                continue
            columns: list[str] = []
            for row in rows[:10]:
                columns.extend(k for k, v in row.items() if _scalar(v) and k not in columns)
            columns = columns[:6] or list(rows[0])[:6]
            table = markdown_table(rows[:max_rows], [(c, c) for c in columns], title=key)
            if len(rows) > max_rows:
                table += f"\n\n… and {len(rows) - max_rows} more."
            parts.append(table)
        elif isinstance(value, Mapping):
            fields = [{"field": k, "value": v} for k, v in value.items() if _scalar(v)]
            if fields:
                parts.append(markdown_table(fields, [("field", "Field"), ("value", "Value")], key))
        elif value is not None:
            parts.append(f"{key}: {cell(value)}")
    return "\n\n".join(parts)
