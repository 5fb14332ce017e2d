"""The schedule picture in a real browser: headless Chromium lays it out and screenshots it.

Needs a Chromium binary (``apt-get install -y chromium``); skipped without one, unless
``OPSGENIE_REQUIRE_BROWSER=1`` makes that a failure. To look at the picture yourself::

    python -c "from tests.test_picture_browser import main; main('picture.svg')"
    chromium --headless --no-sandbox --disable-gpu --screenshot=picture.png picture.svg

1. Layout, measured by the browser (``getBBox``): every name shown on a bar fits inside its bar,
   no two labels overlap, every text is inside the picture, and the now line lies between the
   window's first and last instants on the time axis.
2. Pixels: the screenshot (decoded here, PNG) shows the now line's red at the line's column and
   the bars' colours.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from oncall_data import NOW_MS, timeline_data

from opsgenie_integration.picture import render_timeline_svg
from opsgenie_integration.shifts import rotation_names, shifts_from_timeline, timeline_window

pytest.importorskip("drawsvg")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]

LAYOUT_CHECK = """
<script>
const svg = document.querySelector('svg');
const problems = [];
const box = (e) => e.getBBox();
const inside = (a, b, slack) => a.x >= b.x - slack && a.y >= b.y - slack &&
  a.x + a.width <= b.x + b.width + slack && a.y + a.height <= b.y + b.height + slack;
const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width &&
  a.y < b.y + b.height && b.y < a.y + a.height;
const view = {x: 0, y: 0, width: svg.viewBox.baseVal.width, height: svg.viewBox.baseVal.height};
const labels = [];
for (const g of svg.querySelectorAll('g.shift')) {
  const bar = box(g.querySelector('rect.bar'));
  const label = g.querySelector('text.label');
  const lb = box(label);
  labels.push([g.dataset.person, lb]);
  if (!label.classList.contains('marker') && !inside(lb, bar, 0.5)) {
    problems.push('label outside its bar: ' + g.dataset.person);
  }
  if (lb.height < 10) problems.push('label too small: ' + g.dataset.person);
}
for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
  if (overlap(labels[i][1], labels[j][1])) {
    problems.push('labels overlap: ' + labels[i][0] + ' / ' + labels[j][0]);
  }
}
for (const t of svg.querySelectorAll('text')) {
  if (!inside(box(t), view, 0.5)) problems.push('text outside the picture: ' + t.textContent);
}
const now = svg.querySelector('.now');
const nb = now ? box(now) : null;
const ticks = [...svg.querySelectorAll('g.shift rect.bar')].map(box);
document.getElementById('result').textContent = JSON.stringify({
  problems, shifts: labels.length, now: nb && {x: nb.x},
  left: Math.min(...ticks.map(b => b.x)), right: Math.max(...ticks.map(b => b.x + b.width)),
  width: view.width, height: view.height,
});
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("OPSGENIE_REQUIRE_BROWSER") == "1":
        pytest.fail("no Chromium binary (apt-get install -y chromium)")
    pytest.skip("no Chromium binary (apt-get install -y chromium)")


def svg_text() -> str:
    data = timeline_data()
    return render_timeline_svg(
        shifts_from_timeline(data),
        rotation_names(data),
        timeline_window(data),
        NOW_MS,
        "Europe/Berlin",
        "Ops Team/EU #1",
    )


def main(path: str) -> None:
    """Write the fixed picture to ``path`` (to look at it by hand)."""
    Path(path).write_text(svg_text(), encoding="utf-8")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """``(width, height, rows)`` of an 8-bit RGB or RGBA PNG; each row is raw RGB(A) bytes."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(blob):
        (length,), kind = struct.unpack(">I", blob[pos : pos + 4]), blob[pos + 4 : pos + 8]
        chunk = blob[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) if bpp == 3 else _rgb(r) for r in rows]


def _rgb(row: bytes) -> bytes:
    return b"".join(row[i : i + 3] for i in range(0, len(row), 4))


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory):
    binary = chromium()
    folder = tmp_path_factory.mktemp("picture")
    svg = svg_text()
    (folder / "picture.svg").write_text(svg, encoding="utf-8")
    body = svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg
    page = f'<!doctype html><html><body style="margin:0">{body}<pre id="result"></pre>'
    (folder / "page.html").write_text(page + LAYOUT_CHECK + "</body></html>", encoding="utf-8")
    dom = run_chromium(
        binary,
        folder / "profile-dom",
        "--virtual-time-budget=5000",
        "--dump-dom",
        (folder / "page.html").as_uri(),
    )
    match = re.search(r'<pre id="result">(.*?)</pre>', dom.stdout, re.S)
    assert match and match.group(1), dom.stderr[-2000:]
    layout = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    shot = run_chromium(
        binary,
        folder / "profile-shot",
        f"--screenshot={folder / 'picture.png'}",
        f"--window-size={int(layout['width'])},{int(layout['height'])}",
        (folder / "picture.svg").as_uri(),
    )
    assert (folder / "picture.png").is_file(), shot.stderr[-2000:]
    return layout, folder / "picture.png"


def test_the_browser_lays_every_label_out_readably(browser_run):
    layout, _ = browser_run
    assert layout["problems"] == []
    assert layout["shifts"] == len(shifts_from_timeline(timeline_data()))
    assert layout["left"] <= layout["now"]["x"] <= layout["right"]


def test_the_screenshot_shows_the_now_line_and_the_bars(browser_run):
    layout, png = browser_run
    width, height, rows = png_pixels(png)
    assert (width, height) == (int(layout["width"]), int(layout["height"]))
    column = int(layout["now"]["x"])  # the line is 2 px wide, centred on its x

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        return tuple(rows[y][x * 3 : x * 3 + 3])

    red = [y for y in range(height) if _near(pixel(column, y), (0xD6, 0x27, 0x28))]
    assert len(red) >= 50, "the now line is not drawn"
    colours = {pixel(x, y) for y in range(0, height, 3) for x in range(0, width, 3)}
    assert len(colours) >= 8, "the picture looks blank"


def _near(a: tuple[int, ...], b: tuple[int, ...], slack: int = 40) -> bool:
    return all(abs(x - y) <= slack for x, y in zip(a, b))
