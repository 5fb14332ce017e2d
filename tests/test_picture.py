"""The schedule picture's content: every shift of the timeline once, readable labels, the now line
inside the window, the time zone named, well-formed markup for any name (fixed data:
oncall_data)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest
from oncall_data import END_MS, NOW_MS, START_MS, timeline_data

from opsgenie_integration import picture
from opsgenie_integration.picture import (
    INSTALL_HINT,
    LABEL_WIDTH,
    WIDTH,
    PictureUnavailableError,
    initials,
    render_timeline_svg,
)
from opsgenie_integration.shifts import rotation_names, shifts_from_timeline, timeline_window

pytest.importorskip("drawsvg")

NS = {"svg": "http://www.w3.org/2000/svg"}


def render(data=None, now_ms=NOW_MS, tz="Europe/Berlin", title="Ops Team/EU #1") -> str:
    data = data or timeline_data()
    return render_timeline_svg(
        shifts_from_timeline(data), rotation_names(data), timeline_window(data), now_ms, tz, title
    )


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def shift_groups(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if "shift" in classes(g)]


def test_every_shift_of_the_timeline_appears_once():
    root = ET.fromstring(render())
    drawn = [
        (g.get("data-person"), g.get("data-rotation"), int(g.get("data-start")), int(g.get("data-end")))
        for g in shift_groups(root)
    ]  # fmt: skip
    expected = [
        (s.person, s.rotation, s.start_ms, s.end_ms) for s in shifts_from_timeline(timeline_data())
    ]
    assert sorted(drawn) == sorted(expected) and len(drawn) == len(set(drawn)) == 7
    rows = [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "rotation" in classes(t)
    ]
    assert rows == ["Primary", "Backup | night", "Empty"]


def test_bars_sit_on_the_time_axis_in_order():
    root = ET.fromstring(render())
    for g in shift_groups(root):
        bar = g.find("svg:rect", NS)
        x, w = float(bar.get("x")), float(bar.get("width"))
        assert LABEL_WIDTH <= x and x + w <= WIDTH
        fraction = (int(g.get("data-start")) - START_MS) / (END_MS - START_MS)
        assert x == pytest.approx(LABEL_WIDTH + fraction * (WIDTH - LABEL_WIDTH - 32), abs=0.01)
        assert "forwarded from jane.smith@example.com" in bar.find("svg:title", NS).text or (
            g.get("data-type") != "forwarding"
        )


def test_labels_name_the_person_and_are_readable():
    root = ET.fromstring(render())
    notes = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "note" in classes(t)]
    legend = [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "legend-name" in classes(t)
    ]
    for g in shift_groups(root):
        label = g.find("svg:text", NS)
        assert "label" in classes(label) and float(label.get("font-size")) >= 10
        full, shown = label.get("data-full"), label.text
        if "marker" in classes(label):  # a bar too short for a name: a number and a note
            note = notes[int(shown) - 1]
            assert note.startswith(f"{shown}: {g.get('data-person')} ")
        elif "short" in classes(label):  # initials, explained by the legend
            assert shown == initials(g.get("data-person"))
            assert g.get("data-person") in legend
        else:
            assert (
                shown == full
                or shown == g.get("data-person")
                or (shown.endswith("…") and g.get("data-person").startswith(shown[:-1]))
            )
    labels = {t.get("data-full"): t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert labels["ops (team)"] == "ops (team)"  # a team says it is one
    assert labels["jane.smith@example.com"] == "jane.smith@example.com"


def test_the_now_line_is_inside_the_window_and_the_time_zone_is_named():
    svg = render()
    root = ET.fromstring(svg)
    (now,) = [e for e in root.iter() if "now" in classes(e)]
    assert int(now.get("data-now")) == NOW_MS
    x = float(now.get("d").split(",")[0][1:])
    fraction = (NOW_MS - START_MS) / (END_MS - START_MS)
    assert x == pytest.approx(LABEL_WIDTH + fraction * (WIDTH - LABEL_WIDTH - 32), abs=0.01)
    assert int(root.get("data-window-start")) < NOW_MS < int(root.get("data-window-end"))
    assert root.get("data-time-zone") == "Europe/Berlin"
    (caption,) = [
        t for t in root.iter("{http://www.w3.org/2000/svg}text") if "caption" in classes(t)
    ]
    assert caption.text == (
        "2024-03-04 01:00 Europe/Berlin to 2024-03-06 01:00 Europe/Berlin (times in Europe/Berlin)"
    )
    ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "tick" in classes(t)]
    assert ticks[:2] == ["Mon 04 12:00", "Tue 05 00:00"]  # local midnight and noon


def test_no_now_line_when_now_is_outside_the_window():
    root = ET.fromstring(render(now_ms=END_MS + 1))
    assert not [e for e in root.iter() if "now" in classes(e)]


def test_hostile_names_keep_the_markup_well_formed():
    data = timeline_data()
    rotation = data["finalTimeline"]["rotations"][0]
    rotation["name"] = 'Primary "A" & <B>'
    rotation["periods"][0]["recipient"]["name"] = "<script>alert('x')</script>&\"q\""
    root = ET.fromstring(render(data, title="<svg onload=alert(1)>"))
    people = {g.get("data-person") for g in shift_groups(root)}
    assert "<script>alert('x')</script>&\"q\"" in people
    assert not [e for e in root.iter() if e.tag.endswith("script")]


def test_without_drawsvg_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "drawsvg", None)
    assert not picture.available()
    with pytest.raises(PictureUnavailableError) as info:
        render()
    assert str(info.value) == INSTALL_HINT
    assert "pip install 'opsgenie-integration[picture]'" in INSTALL_HINT


def test_two_rotations_with_one_name_keep_their_own_rows():
    data = timeline_data()
    rotations = data["finalTimeline"]["rotations"]
    rotations[1]["name"] = "Primary"
    root = ET.fromstring(render(data))
    rows = [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "rotation" in classes(t)
    ]
    assert rows == ["Primary", "Primary", "Empty"]
    ys = {g.get("data-person"): float(g.find("svg:rect", NS).get("y")) for g in shift_groups(root)}
    assert ys["bob@example.com"] > ys["carl@example.com"]  # bob stays in the second row


def test_short_bars_show_initials_explained_by_a_legend():
    data = timeline_data()
    # a two-hour override in a two-day window: too short for carl's name, long enough for "C"
    data["finalTimeline"]["rotations"][0]["periods"][2]["endDate"] = "2024-03-04T19:00:00Z"
    root = ET.fromstring(render(data))
    (carl,) = [g for g in shift_groups(root) if g.get("data-person") == "carl@example.com"]
    label = carl.find("svg:text", NS)
    assert classes(label) == {"label", "short"} and label.text == "C"
    legend = [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "legend-name" in classes(t)
    ]
    assert legend == ["carl@example.com"]
    assert [initials(p) for p in ("sara.berg@example.com", "Night Owls", "x", "@")] == [
        "SB",
        "NO",
        "X",
        "@",
    ]
