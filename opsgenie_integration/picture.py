"""The on-call picture: a schedule timeline as an SVG chart a responder reads at a glance.

Rotations are rows; each shift is a bar labelled with the person (or team, escalation) on call;
a red line marks "now" when it falls inside the window; the time axis is in the schedule's time
zone, which the caption names. Built with drawsvg (an optional extra:
``pip install 'opsgenie-integration[picture]'``); without it ``render_timeline_svg`` raises
``PictureUnavailableError`` whose message says what to install, and callers go on without the
picture.

Markup contract (what tests and readers can rely on): the root ``<svg>`` carries
``data-window-start``/``data-window-end`` (epoch ms); each shift is one ``<g class="shift">`` with
``data-person``, ``data-rotation``, ``data-start``, ``data-end`` (epoch ms) and ``data-type``,
holding a ``<rect class="bar">`` with a ``<title>`` (the full sentence) and a ``<text
class="label">`` (the name, cut with an ellipsis when the bar is short; on a shorter bar the
person's initials, ``class="label short"``, which a ``<g class="legend">`` under the axis pairs
with the name and colour; on a bar too short even for those, ``class="label marker"``: a number
above the bar whose ``<text class="note">`` says who and when); ``data-full`` on every label holds
the whole name; each person keeps one colour (grey for past, historical shifts);
each rotation row has a ``<text class="rotation">``; the now line is ``<path class="now">`` with
``data-now`` (epoch ms).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any

from .readable import format_time, zone, zone_label
from .shifts import Shift

INSTALL_HINT = (
    "The schedule picture needs the drawsvg package: "
    "pip install 'opsgenie-integration[picture]' (or pip install drawsvg)."
)

WIDTH = 1000  # px, the whole picture
LABEL_WIDTH = 190  # px, the rotation names' column
ROW_HEIGHT = 34  # px, one rotation
BAR_HEIGHT = 24  # px
HEADER = 62  # px, title, caption and the now label
NOTE_HEIGHT = 15  # px, one line of the notes under the axis (names of narrow shifts)
AXIS = 34  # px, the time axis under the rows
FONT_SIZE = 12  # px, labels (readable at 100 % zoom)
CHAR_WIDTH = 7.8  # px, a generous average glyph width at FONT_SIZE (DejaVu Sans, Arial)
_PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#e45756",
    "#72b7b2",
    "#9d755d",
    "#eeca3b",
    "#8e6c8a",
    "#2f7ebc",
)
_DARK_TEXT = {"#eeca3b", "#72b7b2", "#f58518"}  # light fills get dark labels


class PictureUnavailableError(RuntimeError):
    """The picture cannot be drawn because drawsvg is not installed (see INSTALL_HINT)."""


def _drawsvg() -> Any:
    try:
        import drawsvg
    except ImportError:
        raise PictureUnavailableError(INSTALL_HINT) from None
    return drawsvg


def available() -> bool:
    """True when drawsvg can be imported (the picture can be drawn)."""
    try:
        _drawsvg()
    except PictureUnavailableError:
        return False
    return True


def _attr(value: Any) -> str:
    """An attribute value made safe (drawsvg writes attribute values as given)."""
    return escape(str(value), quote=True)


def _fit(text: str, width_px: float) -> str:
    """``text`` cut (with an ellipsis) to fit ``width_px`` at FONT_SIZE; empty when nothing fits."""
    room = int((width_px - 8) // CHAR_WIDTH)
    if room <= 0:
        return ""
    if len(text) <= room:
        return text
    return text[: room - 1] + "…" if room > 1 else ""


def initials(person: str) -> str:
    """A short name for a bar too short for the whole one: the initials of the name's words
    (of a username's local part: ``sara.berg@example.com`` -> ``SB``), at most 3 letters."""
    local = person.split("@", 1)[0]
    words = [w for w in re.split(r"[\s._\-+]+", local) if w]
    letters = "".join(w[0] for w in words[:3]).upper()
    return letters or person[:2].upper() or "?"


def _bar_label(shift: Shift, width_px: float, short: str) -> tuple[str, str, str]:
    """``(text shown on the bar, full label, kind)``: the full label (``name (team)`` for a team
    or escalation) when it fits, else the bare name, else the name cut with an ellipsis when
    eight characters fit (kind ``label``); else the person's ``short`` name (kind ``label
    short``, explained by the legend); else ``""`` (kind ``label marker``: a numbered marker and a
    note are drawn instead)."""
    full = shift.person if shift.person_type == "user" else f"{shift.person} ({shift.person_type})"
    for candidate in (full, shift.person):
        if _fit(candidate, width_px) == candidate:
            return candidate, full, "label"
    if width_px >= 8 + 8 * CHAR_WIDTH:
        return _fit(shift.person, width_px), full, "label"
    if _fit(short, width_px) == short:
        return short, full, "label short"
    return "", full, "label marker"


def _short_names(people: list[str]) -> dict[str, str]:
    """Each person's initials, made unique with a digit where two people share them."""
    out: dict[str, str] = {}
    used: dict[str, int] = {}
    for person in people:
        short = initials(person)
        used[short] = used.get(short, 0) + 1
        out[person] = short if used[short] == 1 else f"{short}{used[short]}"
    return out


def _ticks(lo: int, hi: int, tz_name: str | None) -> list[tuple[int, str]]:
    """Axis ticks ``(epoch ms, label)`` on local hour, day or week boundaries in ``tz_name``."""
    span_h = (hi - lo) / 3_600_000
    tz = zone(tz_name)
    if span_h <= 36:
        step, fmt = timedelta(hours=3), "%H:%M"
    elif span_h <= 24 * 4:
        step, fmt = timedelta(hours=12), "%a %d %H:%M"
    elif span_h <= 24 * 16:
        step, fmt = timedelta(days=1), "%a %d"
    else:
        step, fmt = timedelta(days=7), "%b %d"
    start = datetime.fromtimestamp(lo / 1000, tz=tz)
    if step >= timedelta(days=1):
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        hours = int(step.total_seconds() // 3600)
        first = start.replace(
            hour=start.hour - start.hour % hours, minute=0, second=0, microsecond=0
        )
    ticks: list[tuple[int, str]] = []
    wall = first.replace(tzinfo=None)
    while True:
        moment = wall.replace(tzinfo=tz)
        ms = int(moment.timestamp() * 1000)
        if ms > hi:
            break
        if ms >= lo:
            ticks.append((ms, moment.strftime(fmt)))
        wall += step  # wall-clock steps: ticks stay on local midnight across DST
    return ticks


def render_timeline_svg(
    shifts: Sequence[Shift],
    rotations: Sequence[str],
    window: tuple[int, int],
    now_ms: int | None,
    tz_name: str | None,
    title: str,
) -> str:
    """The picture as SVG text (UTF-8, standalone).

    Args:
        shifts: the merged shifts (``shifts.shifts_from_timeline``); a shift is clipped to the
            window; a shift whose rotation is not in ``rotations`` gets a row of its own.
        rotations: rotation names, one row each, top to bottom (rows with no shift are drawn).
        window: ``(start, end)`` epoch ms of the timeline (``data.startDate``/``endDate``).
        now_ms: "now" in epoch ms; the now line is drawn only when it is inside the window.
        tz_name: the schedule's IANA time zone (axis and caption); UTC when None or unknown.
        title: the picture's heading (the schedule name, for example).

    Raises:
        PictureUnavailableError: drawsvg is not installed.
        ValueError: the window is empty or inverted.
    """
    dw = _drawsvg()
    lo, hi = window
    if hi <= lo:
        raise ValueError("the picture's window must end after it starts")
    rows = list(rotations)

    def row_of(shift: Shift) -> int:
        """The shift's row: its rotation's position (two rotations may share a name), else a row
        of its own rotation name, added at the bottom."""
        order = shift.rotation_order
        if 0 <= order < len(rotations) and rotations[order] == shift.rotation:
            return order
        if shift.rotation not in rows[len(rotations) :]:
            rows.append(shift.rotation)
        return len(rotations) + rows[len(rotations) :].index(shift.rotation)

    placed = [row_of(s) for s in shifts]
    chart_w = WIDTH - LABEL_WIDTH - 32

    def x_of(ms: int) -> float:
        return LABEL_WIDTH + (min(max(ms, lo), hi) - lo) / (hi - lo) * chart_w

    shown = [(s, r) for s, r in zip(shifts, placed) if s.end_ms > lo and s.start_ms < hi]
    people = list(dict.fromkeys(s.person for s, _ in shown))
    colours = {person: _PALETTE[i % len(_PALETTE)] for i, person in enumerate(people)}
    shorts = _short_names(people)
    labels = [_bar_label(s, x_of(s.end_ms) - x_of(s.start_ms), shorts[s.person]) for s, _ in shown]
    legend = list(
        dict.fromkeys(s.person for (s, _), lab in zip(shown, labels) if lab[2] == "label short")
    )
    narrow = sum(1 for _, _, kind in labels if kind == "label marker")
    extra = (len(legend) + narrow) * NOTE_HEIGHT
    height = HEADER + max(1, len(rows)) * ROW_HEIGHT + AXIS + extra + 6

    label = zone_label(tz_name)
    drawing = dw.Drawing(
        WIDTH,
        height,
        font_family="DejaVu Sans, Arial, Helvetica, sans-serif",
        data_window_start=str(lo),
        data_window_end=str(hi),
        data_time_zone=_attr(label),
    )
    drawing.append(dw.Rectangle(0, 0, WIDTH, height, fill="#ffffff"))
    drawing.append(dw.Text(title, 16, 10, 20, font_weight="bold", class_="title"))
    caption = f"{format_time(lo, tz_name)} to {format_time(hi, tz_name)} (times in {label})"
    drawing.append(dw.Text(caption, FONT_SIZE, 10, 36, fill="#333333", class_="caption"))

    top = HEADER
    bottom = HEADER + len(rows) * ROW_HEIGHT
    for i, name in enumerate(rows):
        y = top + i * ROW_HEIGHT
        if i % 2 == 0:
            drawing.append(dw.Rectangle(0, y, WIDTH, ROW_HEIGHT, fill="#f4f6f8", class_="row-band"))
        drawing.append(
            dw.Text(
                _fit(name, LABEL_WIDTH - 4) or name[:1],
                FONT_SIZE,
                8,
                y + ROW_HEIGHT / 2,
                dominant_baseline="central",
                class_="rotation",
                data_rotation=_attr(name),
            )
        )
    for ms, text in _ticks(lo, hi, tz_name):
        x = x_of(ms)
        drawing.append(dw.Line(x, top, x, bottom, stroke="#d0d4d9", stroke_width=1))
        drawing.append(
            dw.Text(text, 11, x, bottom + 16, text_anchor="middle", fill="#333333", class_="tick")
        )

    notes: list[str] = []
    for (shift, row), (text, full, kind) in zip(shown, labels):
        x0, x1 = x_of(shift.start_ms), x_of(shift.end_ms)
        y = top + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        fill = "#9aa0a6" if shift.type == "historical" else colours[shift.person]
        sentence = (
            f"{shift.person} ({shift.person_type}, {shift.type}) in {shift.rotation}: "
            f"{format_time(shift.start_ms, tz_name)} to {format_time(shift.end_ms, tz_name)}"
        )
        if shift.forwarded_from:
            sentence += f", forwarded from {shift.forwarded_from}"
        group = dw.Group(
            class_="shift",
            data_person=_attr(shift.person),
            data_rotation=_attr(shift.rotation),
            data_start=str(shift.start_ms),
            data_end=str(shift.end_ms),
            data_type=_attr(shift.type),
        )
        bar = dw.Rectangle(
            x0,
            y,
            max(x1 - x0, 1.0),
            BAR_HEIGHT,
            rx=3,
            fill=fill,
            stroke="#1f2937" if shift.type in ("override", "forwarding") else "#ffffff",
            stroke_width=1.5 if shift.type in ("override", "forwarding") else 1,
            stroke_dasharray="4 2" if shift.type == "forwarding" else None,
            class_="bar",
        )
        bar.append_title(sentence)
        group.append(bar)
        colour = "#111111" if fill in _DARK_TEXT else "#ffffff"
        on_bar = kind != "label marker"
        x_text, anchor = x0 + 4, "start"
        if not on_bar:  # too short even for initials: a numbered marker above, a note below
            notes.append(f"{len(notes) + 1}: {sentence}")
            text, x_text, anchor, colour = str(len(notes)), (x0 + x1) / 2, "middle", "#111111"
        group.append(
            dw.Text(
                text,
                FONT_SIZE if on_bar else 10,
                x_text,
                y + BAR_HEIGHT / 2 if on_bar else y - 1,
                dominant_baseline="central" if on_bar else "auto",
                text_anchor=anchor,
                fill=colour,
                class_=kind,
                data_full=_attr(full),
            )
        )
        drawing.append(group)
    for i, person in enumerate(legend):
        y = bottom + AXIS - 6 + i * NOTE_HEIGHT
        entry = dw.Group(class_="legend", data_person=_attr(person))
        entry.append(dw.Rectangle(10, y, 26, 12, rx=2, fill=colours[person]))
        entry.append(
            dw.Text(
                shorts[person],
                9,
                13,
                y + 9.5,
                fill="#111111" if colours[person] in _DARK_TEXT else "#ffffff",
            )
        )
        entry.append(dw.Text(person, 11, 42, y + 10, fill="#333333", class_="legend-name"))
        drawing.append(entry)
    for i, note in enumerate(notes):
        y = bottom + AXIS + 4 + (len(legend) + i) * NOTE_HEIGHT
        drawing.append(dw.Text(note, 11, 10, y, fill="#333333", class_="note"))

    if now_ms is not None and lo <= now_ms <= hi:
        x = x_of(now_ms)
        drawing.append(
            dw.Line(
                x,
                top - 4,
                x,
                bottom + 2,
                stroke="#d62728",
                stroke_width=2,
                class_="now",
                data_now=str(now_ms),
            )
        )
        drawing.append(
            dw.Text(
                f"now {format_time(now_ms, tz_name)[11:]}",
                11,
                min(x + 3, WIDTH - 120),
                top - 5,
                fill="#d62728",
                class_="now-label",
            )
        )
    drawing.append(dw.Title(f"{title}: on-call timeline, times in {label}"))
    return drawing.as_svg()
