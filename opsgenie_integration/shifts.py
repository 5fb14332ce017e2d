"""Shifts: a schedule timeline's periods read as "who is on call, in which rotation, from when to
when", merged and put in one list across rotations.

Input is the ``data`` of ``GET /v2/schedules/{identifier}/timeline`` (as answered; nothing is
requested here): ``{_parent, startDate, endDate, finalTimeline: {rotations: [{id, name, order,
periods: [{startDate, endDate, type, recipient: {id, type, name, forwardedFrom?}, fromUser?}]}]}}``.

Within a rotation, periods that touch (one ends where the next starts) and name the same recipient
with the same type and the same forwarded-from are one shift. Every instant is epoch milliseconds,
UTC. Nothing here does I/O; a timeline that is not shaped as OpsGenie documents raises
``TimelineShapeError`` (a ValueError) naming the offending field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from .times import parse_server_timestamp

_MIN_MS = 0  # 1970-01-01T00:00:00Z
_MAX_MS = 253_370_678_400_000  # 9998-12-31T00:00:00Z: a day of slack for any time zone


class TimelineShapeError(ValueError):
    """The timeline is not shaped as OpsGenie documents it (the message names the field)."""


@dataclass(frozen=True)
class Shift:
    """One person (or team, escalation, schedule) on call in one rotation, ``[start_ms, end_ms)``.

    Attributes:
        person: the recipient's name (a username for a user; a name for a team or escalation).
        person_type: ``user``, ``team``, ``escalation``, ``schedule`` (as OpsGenie names it).
        person_id: the recipient's id, or None when OpsGenie sent none.
        rotation: the rotation's name; ``rotation_id`` its id (None when absent).
        rotation_order: the rotation's position in the timeline (0 for the first).
        start_ms, end_ms: epoch milliseconds, UTC, ``start_ms < end_ms``.
        type: the period type as answered: default, override, forwarding, historical, ...
        forwarded_from: the username the shift was forwarded from, or None.
    """

    person: str
    person_type: str
    person_id: str | None
    rotation: str
    rotation_id: str | None
    rotation_order: int
    start_ms: int
    end_ms: int
    type: str
    forwarded_from: str | None = None

    def covers(self, at_ms: int) -> bool:
        """True when ``at_ms`` (epoch ms) lies in ``[start_ms, end_ms)``."""
        return self.start_ms <= at_ms < self.end_ms

    def as_dict(self) -> dict[str, Any]:
        """``{person, person_type, person_id, rotation, rotation_id, start, end, type,
        forwarded_from}`` with ``start``/``end`` as ISO 8601 UTC (``2024-03-06T09:00:00Z``)."""
        return {
            "person": self.person,
            "person_type": self.person_type,
            "person_id": self.person_id,
            "rotation": self.rotation,
            "rotation_id": self.rotation_id,
            "start": iso_utc(self.start_ms),
            "end": iso_utc(self.end_ms),
            "type": self.type,
            "forwarded_from": self.forwarded_from,
        }


def iso_utc(ms: int) -> str:
    """Epoch milliseconds as ``yyyy-MM-ddTHH:mm:ssZ`` (milliseconds added only when not zero)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    if ms % 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _instant(period: dict, key: str, where: str) -> int:
    value = period.get(key)
    if not isinstance(value, str):
        raise TimelineShapeError(f"{where}.{key} is not a timestamp: {value!r}")
    try:
        ms = parse_server_timestamp(value)
    except (ValueError, OverflowError) as exc:
        raise TimelineShapeError(f"{where}.{key} is not a timestamp: {value!r} ({exc})") from None
    if not _MIN_MS <= ms <= _MAX_MS:
        raise TimelineShapeError(f"{where}.{key} is outside 1970..9998: {value!r}")
    return ms


def timeline_rotations(data: Any, which: str = "finalTimeline") -> list[dict]:
    """The rotations of ``data[which]`` (default the final timeline). Raises TimelineShapeError
    when ``data`` is not an object or ``data[which].rotations`` is not a list."""
    if not isinstance(data, dict):
        raise TimelineShapeError("data is not an object")
    timeline = data.get(which)
    rotations = timeline.get("rotations") if isinstance(timeline, dict) else None
    if not isinstance(rotations, list):
        raise TimelineShapeError(f"data.{which}.rotations is not a list")
    return [r for r in rotations if isinstance(r, dict)]


def timeline_window(data: Any) -> tuple[int, int]:
    """The timeline's ``(startDate, endDate)`` as epoch ms. Raises TimelineShapeError."""
    if not isinstance(data, dict):
        raise TimelineShapeError("data is not an object")
    start, end = _instant(data, "startDate", "data"), _instant(data, "endDate", "data")
    if end < start:
        raise TimelineShapeError("data.endDate is before data.startDate")
    return start, end


def _period_shift(period: dict, rotation: dict, order: int, where: str) -> Shift | None:
    start, end = _instant(period, "startDate", where), _instant(period, "endDate", where)
    if end <= start:
        return None
    recipient = period.get("recipient")
    if not isinstance(recipient, dict):
        recipient = {}
    kind = _text(recipient.get("type")) or "user"
    if kind == "none":
        return None
    forwarded = _text(period.get("fromUser")) or _text(recipient.get("forwardedFrom"))
    return Shift(
        person=_text(recipient.get("name")) or _text(recipient.get("id")) or "(unnamed)",
        person_type=kind,
        person_id=_text(recipient.get("id")),
        rotation=_text(rotation.get("name")) or _text(rotation.get("id")) or f"#{order + 1}",
        rotation_id=_text(rotation.get("id")),
        rotation_order=order,
        start_ms=start,
        end_ms=end,
        type=_text(period.get("type")) or "default",
        forwarded_from=forwarded,
    )


def _same_holder(a: Shift, b: Shift) -> bool:
    return (a.person_type, a.person_id or a.person, a.type, a.forwarded_from) == (
        b.person_type,
        b.person_id or b.person,
        b.type,
        b.forwarded_from,
    )


def merge_shifts(shifts: Iterable[Shift]) -> list[Shift]:
    """Merge, per rotation, shifts that touch or overlap and have the same holder, type and
    forwarded-from; return them sorted by (start, rotation order, person)."""
    by_rotation: dict[int, list[Shift]] = {}
    for shift in shifts:
        by_rotation.setdefault(shift.rotation_order, []).append(shift)
    merged: list[Shift] = []
    for items in by_rotation.values():
        items.sort(key=lambda s: (s.start_ms, s.end_ms))
        run: list[Shift] = []
        for shift in items:
            last = run[-1] if run else None
            if last and _same_holder(last, shift) and shift.start_ms <= last.end_ms:
                run[-1] = replace(last, end_ms=max(last.end_ms, shift.end_ms))
            else:
                run.append(shift)
        merged.extend(run)
    merged.sort(key=lambda s: (s.start_ms, s.rotation_order, s.person, s.end_ms))
    return merged


def shifts_from_timeline(
    data: Any, which: str = "finalTimeline", *, strict: bool = True
) -> list[Shift]:
    """The merged shifts of a timeline ``data`` (see the module docstring), across rotations,
    sorted by start. Periods with nobody (``type: none`` recipients) or of zero length are left
    out. A period without valid dates raises TimelineShapeError, or, with ``strict=False``, is
    left out too (the rotations list must still be a list)."""
    shifts: list[Shift] = []
    for order, rotation in enumerate(timeline_rotations(data, which)):
        periods = rotation.get("periods") or []
        if not isinstance(periods, list):
            if not strict:
                continue
            raise TimelineShapeError(f"data.{which}.rotations[{order}].periods is not a list")
        for i, period in enumerate(periods):
            if not isinstance(period, dict):
                continue
            where = f"data.{which}.rotations[{order}].periods[{i}]"
            try:
                shift = _period_shift(period, rotation, order, where)
            except TimelineShapeError:
                if strict:
                    raise
                continue
            if shift is not None:
                shifts.append(shift)
    return merge_shifts(shifts)


def shifts_at(shifts: Iterable[Shift], at_ms: int) -> list[Shift]:
    """The shifts covering ``at_ms`` (epoch ms), in the given order."""
    return [s for s in shifts if s.covers(at_ms)]


def on_call_until(
    shifts: Iterable[Shift], at_ms: int, holds: Callable[[Shift], bool]
) -> int | None:
    """When the on-call stretch covering ``at_ms`` of those shifts ``holds`` accepts ends (epoch
    ms), following shifts that start before the stretch ends (a hand-over from one rotation to
    another of the same person continues the stretch). None when no accepted shift covers
    ``at_ms``."""
    mine = sorted((s for s in shifts if holds(s)), key=lambda s: s.start_ms)
    ends = [s.end_ms for s in mine if s.covers(at_ms)]
    if not ends:
        return None
    end = max(ends)
    for shift in mine:
        if shift.start_ms <= end < shift.end_ms:
            end = shift.end_ms
    return end


def rotation_names(data: Any, which: str = "finalTimeline") -> list[str]:
    """The rotations' names in timeline order (the id, or ``#n``, when a name is missing)."""
    return [
        _text(r.get("name")) or _text(r.get("id")) or f"#{i + 1}"
        for i, r in enumerate(timeline_rotations(data, which))
    ]
