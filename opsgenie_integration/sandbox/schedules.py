"""On-calls and timelines computed from a schedule's rotations.

Rotations: ``type`` hourly (``length`` hours, absolute time), daily or weekly (``length`` days or
weeks of wall-clock time in the schedule's ``timezone``, so hand-offs keep their local hour across
DST); ``startDate`` and optional ``endDate``; participants of type user, team, escalation or none
(an empty slot). ``timeRestriction`` is honoured, evaluated in the schedule's time zone: type
``time-of-day`` (``restriction`` or ``restrictions`` with startHour/startMin/endHour/endMin; an end
before the start wraps past midnight) and ``weekday-and-time-of-day`` (``restrictions`` with
startDay/endDay as well). Schedule ``overrides`` (``{user, startDate, endDate, rotations?}``) replace a
rotation's recipient; user ``forwardings`` (``{fromUser, toUser, startDate, endDate}``) re-route a
user. All instants are epoch milliseconds (UTC). A disabled schedule still answers (as OpsGenie).

A rotation's own periods (hand-offs, time restrictions) are computed in rotations.py; this module
layers overrides and forwardings on them and answers the timeline and on-call questions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .rotations import DAY_MS, Period, local_midnight, rotation_periods, wall_to_ms, zone
from .store import SandboxStore
from .timefmt import format_ts, to_ms

_NEXT_HORIZON_MS = 70 * DAY_MS


def _cut(
    periods: list[tuple[int, int, dict, str]], a: int, b: int
) -> list[tuple[int, int, dict, str]]:
    out = []
    for s, e, p, kind in periods:
        if e <= a or s >= b:
            out.append((s, e, p, kind))
            continue
        if s < a:
            out.append((s, a, p, kind))
        if e > b:
            out.append((b, e, p, kind))
    return out


class ScheduleCalculator:
    """Answers on-call and timeline questions for the schedules of a SandboxStore."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    # ------------------------------------------------------------------------------ shapes
    @staticmethod
    def parent(schedule: dict) -> dict:
        """``_parent``: ``{id, name, enabled}``."""
        return {
            "id": schedule["id"],
            "name": schedule["name"],
            "enabled": bool(schedule.get("enabled", True)),
        }

    def _name_of(self, participant: dict) -> str:
        kind = participant.get("type")
        if kind == "user":
            user = self.store.find_user(participant.get("id", "")) or self.store.find_user(
                participant.get("username", "")
            )
            return user["username"] if user else participant.get("username", "")
        if kind == "team":
            team = self.store.find_team(participant.get("id", ""), participant.get("name", ""))
            return team["name"] if team else participant.get("name", "")
        if kind == "escalation":
            esc = self.store.find_escalation(participant.get("id", ""), participant.get("name", ""))
            return esc["name"] if esc else participant.get("name", "")
        if kind == "schedule":
            sched = self.store.find_schedule(participant.get("id", "")) or self.store.find_schedule(
                participant.get("name", ""), "name"
            )
            return sched["name"] if sched else participant.get("name", "")
        return participant.get("name", "")

    def _ident(self, participant: dict) -> dict:
        return {
            "id": participant.get("id", ""),
            "name": self._name_of(participant),
            "type": participant["type"],
        }

    def _recipient(self, participant: dict) -> dict:
        return {
            "id": participant.get("id", ""),
            "type": participant["type"],
            "name": self._name_of(participant),
        }

    # ------------------------------------------------------------------------------ timeline
    def _forwardings(self, lo: int, hi: int) -> list[tuple[int, int, dict, dict]]:
        out = []
        for f in self.store.forwardings:
            s = to_ms(f["startDate"])[0] if f.get("startDate") else lo
            e = to_ms(f["endDate"])[0] if f.get("endDate") else hi
            if max(s, lo) < min(e, hi):
                out.append((max(s, lo), min(e, hi), f["fromUser"], f["toUser"]))
        return out

    def _overrides(
        self, schedule: dict, rotation: dict, lo: int, hi: int
    ) -> list[tuple[int, int, dict]]:
        out = []
        for o in schedule.get("overrides") or []:
            targets = [r.get("id") for r in o.get("rotations") or []]
            if targets and rotation.get("id") not in targets:
                continue
            s, e = to_ms(o["startDate"])[0], to_ms(o["endDate"])[0]
            if max(s, lo) < min(e, hi):
                user = dict(o["user"], type=o["user"].get("type", "user"))
                out.append((max(s, lo), min(e, hi), user))
        return out

    def rotation_timelines(
        self, schedule: dict, lo: int, hi: int
    ) -> list[tuple[dict, list[Period], list[Period], list[tuple[int, int, dict, str, str]]]]:
        """Per rotation: ``(rotation, base periods, override periods, final periods)``; a final
        period is ``(start, end, participant, type, fromUser)`` with type default|override|forwarding."""
        tz = zone(schedule.get("timezone"))
        forwardings = self._forwardings(lo, hi)
        out = []
        for rotation in schedule.get("rotations") or []:
            base = rotation_periods(rotation, tz, lo, hi)
            overrides = self._overrides(schedule, rotation, lo, hi)
            merged: list[tuple[int, int, dict, str]] = [(s, e, p, "default") for s, e, p in base]
            for s, e, user in overrides:
                merged = _cut(merged, s, e)
                merged.append((s, e, user, "override"))
            merged.sort(key=lambda t: (t[0], t[1]))
            final: list[tuple[int, int, dict, str, str]] = []
            for s, e, p, kind in merged:
                pieces = [(s, e, p, kind, "")]
                if p.get("type") == "user":
                    for fs, fe, from_user, to_user in forwardings:
                        if from_user.get("id") != p.get("id"):
                            continue
                        next_pieces = []
                        for ps, pe, pp, pk, pf in pieces:
                            if pe <= fs or ps >= fe or pk == "forwarding":
                                next_pieces.append((ps, pe, pp, pk, pf))
                                continue
                            if ps < fs:
                                next_pieces.append((ps, fs, pp, pk, pf))
                            to = dict(to_user, type="user")
                            next_pieces.append(
                                (max(ps, fs), min(pe, fe), to, "forwarding", self._name_of(pp))
                            )
                            if pe > fe:
                                next_pieces.append((fe, pe, pp, pk, pf))
                        pieces = next_pieces
                final.extend(pieces)
            out.append((rotation, base, overrides, final))
        return out

    def timeline_window(
        self, schedule: dict, date_ms: int, interval: int, unit: str
    ) -> tuple[int, int]:
        """The timeline's ``[start, end)``: ``date`` truncated to the start of its day (days), its
        Monday (weeks) or the 1st of its month (months) in the schedule's time zone, plus
        ``interval`` units of wall-clock time."""
        tz = zone(schedule.get("timezone"))
        day = local_midnight(date_ms, tz)
        if unit == "weeks":
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(weeks=interval)
        elif unit == "months":
            start = day.replace(day=1)
            months = start.month - 1 + interval
            end = start.replace(year=start.year + months // 12, month=months % 12 + 1)
        else:
            start = day
            end = start + timedelta(days=interval)
        return wall_to_ms(start, tz), wall_to_ms(end, tz)

    def _flattened(self, participant: dict, at_ms: int) -> list[dict]:
        return [
            {"id": u["id"], "type": "user", "name": u["username"]}
            for u in (self.store.find_user(n) for n in self._flat(participant, at_ms, set()))
            if u
        ]

    def timeline(
        self, schedule: dict, date_ms: int, interval: int, unit: str, expand: set[str], now_ms: int
    ) -> dict:
        """``GET /v2/schedules/{id}/timeline`` data: ``{_parent, startDate, endDate, finalTimeline,
        baseTimeline?, overrideTimeline?, forwardingTimeline?}``. Final periods that ended before
        ``now_ms`` are of type ``historical`` and carry ``flattenedRecipients``."""
        lo, hi = self.timeline_window(schedule, date_ms, interval, unit)
        rows = self.rotation_timelines(schedule, lo, hi)

        def rotation_shape(i: int, rotation: dict, periods: list[dict]) -> dict:
            return {
                "id": rotation.get("id", ""),
                "name": rotation.get("name", ""),
                "order": float(i + 1),
                "periods": periods,
            }

        def period(s: int, e: int, p: dict, kind: str) -> dict:
            return {
                "startDate": format_ts(s),
                "endDate": format_ts(e),
                "type": kind,
                "recipient": self._recipient(p),
            }

        final_rotations, base_rotations, override_rotations, forwarding_rotations = [], [], [], []
        for i, (rotation, base, overrides, final) in enumerate(rows):
            final_periods = []
            for s, e, p, kind, from_user in final:
                item = period(s, e, p, kind)
                if kind == "forwarding":
                    item["fromUser"] = from_user
                if e <= now_ms:
                    item["type"] = "historical"
                    item["flattenedRecipients"] = self._flattened(p, s)
                final_periods.append(item)
            final_rotations.append(rotation_shape(i, rotation, final_periods))
            base_rotations.append(
                rotation_shape(i, rotation, [period(s, e, p, "default") for s, e, p in base])
            )
            override_rotations.append(
                rotation_shape(i, rotation, [period(s, e, p, "override") for s, e, p in overrides])
            )
            forwarded = []
            for s, e, p, kind, from_user in final:
                if kind == "forwarding":
                    item = period(s, e, p, "forwarding")
                    item["fromUser"] = from_user
                    forwarded.append(item)
            forwarding_rotations.append(rotation_shape(i, rotation, forwarded))
        data: dict[str, Any] = {
            "_parent": self.parent(schedule),
            "startDate": format_ts(lo),
            "endDate": format_ts(hi),
            "finalTimeline": {"rotations": final_rotations},
        }
        if "base" in expand:
            data["baseTimeline"] = {"rotations": base_rotations}
        if "override" in expand:
            data["overrideTimeline"] = {"rotations": override_rotations}
        if "forwarding" in expand:
            data["forwardingTimeline"] = {"rotations": forwarding_rotations}
        return data

    # ------------------------------------------------------------------------------ on-calls
    @staticmethod
    def _on_call_in(rows: list, at_ms: int) -> list[tuple[dict, str]]:
        """``(participant, forwarded-from username)`` on call at ``at_ms`` in timeline ``rows``,
        in rotation order, each participant once."""
        seen: set[tuple[str, str]] = set()
        out = []
        for _rotation, _base, _ovr, final in rows:
            for s, e, p, _kind, from_user in final:
                key = (p.get("type", ""), p.get("id", ""))
                if s <= at_ms < e and key not in seen:
                    seen.add(key)
                    out.append((p, from_user))
        return out

    def _at(self, schedule: dict, at_ms: int) -> list[tuple[dict, str]]:
        """Who is on call at ``at_ms`` (see ``_on_call_in``)."""
        return self._on_call_in(self.rotation_timelines(schedule, at_ms, at_ms + 1), at_ms)

    def _node(self, participant: dict, from_user: str = "") -> dict:
        node = self._ident(participant)
        if from_user:
            user = self.store.find_user(from_user)
            node["forwardedFrom"] = {
                "id": user["id"] if user else "",
                "name": from_user,
                "type": "user",
            }
        if participant.get("type") == "escalation":
            esc = self.store.find_escalation(participant.get("id", ""), participant.get("name", ""))
            children = []
            for rule in (esc or {}).get("rules") or []:
                recipient = rule.get("recipient") or {}
                child = self._ident(recipient)
                if recipient.get("type") == "team":
                    child["onCallParticipants"] = self._team_members(recipient)
                child["escalationTime"] = int((rule.get("delay") or {}).get("timeAmount", 0))
                child["notifyType"] = rule.get("notifyType", "default")
                children.append(child)
            node["onCallParticipants"] = children
        return node

    def _team_members(self, participant: dict) -> list[dict]:
        team = self.store.find_team(participant.get("id", ""), participant.get("name", ""))
        members = []
        for member in (team or {}).get("members") or []:
            ref = member.get("user") or {}
            user = self.store.find_user(ref.get("id", "")) or self.store.find_user(
                ref.get("username", "")
            )
            if user:
                members.append({"id": user["id"], "name": user["username"], "type": "user"})
        return members

    def _flat(self, participant: dict, at_ms: int, visiting: set[str]) -> list[str]:
        kind = participant.get("type")
        if kind == "user":
            return [self._name_of(participant)]
        if kind == "team":
            return [m["name"] for m in self._team_members(participant)]
        if kind == "escalation":
            esc = self.store.find_escalation(participant.get("id", ""), participant.get("name", ""))
            names: list[str] = []
            for rule in (esc or {}).get("rules") or []:
                names.extend(self._flat(rule.get("recipient") or {}, at_ms, visiting))
            return names
        if kind == "schedule":
            sched = self.store.find_schedule(participant.get("id", ""))
            if not sched or sched["id"] in visiting:
                return []
            return self.flat_on_call(sched, at_ms, visiting | {sched["id"]})
        return []

    def flat_on_call(
        self, schedule: dict, at_ms: int, visiting: set[str] | None = None
    ) -> list[str]:
        """Usernames on call at ``at_ms``, flattened through teams, escalations and schedules."""
        visiting = visiting or {schedule["id"]}
        names: list[str] = []
        for participant, _from in self._at(schedule, at_ms):
            for name in self._flat(participant, at_ms, visiting):
                if name not in names:
                    names.append(name)
        return names

    def on_calls(self, schedule: dict, at_ms: int, flat: bool) -> dict:
        """``GET /v2/schedules/{id}/on-calls`` data: ``{_parent, onCallParticipants}`` (tree of
        ``{id, name, type, onCallParticipants?, escalationTime?, notifyType?}``) or, flat,
        ``{_parent, onCallRecipients: [username]}``."""
        data: dict[str, Any] = {"_parent": self.parent(schedule)}
        if flat:
            data["onCallRecipients"] = self.flat_on_call(schedule, at_ms)
        else:
            data["onCallParticipants"] = [self._node(p, f) for p, f in self._at(schedule, at_ms)]
        return data

    def next_on_calls(self, schedule: dict, at_ms: int, flat: bool) -> dict:
        """``GET /v2/schedules/{id}/next-on-calls`` data. ``exactNext...``: who is on call at the
        first instant after ``at_ms`` where the on-call set changes; ``next...``: per rotation, the
        next recipient different from the current one. Flat: ``nextOnCallParticipants`` and
        ``exactNextOnCallParticipants`` (usernames); else ``nextOnCallRecipients`` and
        ``exactNextOnCallRecipients`` (participant trees). Looks 70 days ahead."""
        hi = at_ms + _NEXT_HORIZON_MS
        rows = self.rotation_timelines(schedule, at_ms, hi)
        current = {(p.get("type"), p.get("id")) for p, _ in self._on_call_in(rows, at_ms)}
        boundaries = sorted(
            {t for *_x, final in rows for s, e, *_y in final for t in (s, e) if at_ms < t < hi}
        )
        exact: list[tuple[dict, str]] = []
        exact_at = None
        for t in boundaries:
            now_on = self._on_call_in(rows, t)
            if {(p.get("type"), p.get("id")) for p, _ in now_on} != current:
                exact, exact_at = now_on, t
                break
        upcoming: list[tuple[dict, str, int]] = []
        seen: set[tuple[str, str]] = set()
        for _rotation, _base, _ovr, final in rows:
            now_p = next(
                ((p.get("type"), p.get("id")) for s, e, p, _k, _f in final if s <= at_ms < e), None
            )
            for s, _e, p, _k, from_user in final:
                key = (p.get("type", ""), p.get("id", ""))
                if s > at_ms and key != now_p:
                    if key not in seen:
                        seen.add(key)
                        upcoming.append((p, from_user, s))
                    break
        data: dict[str, Any] = {"_parent": self.parent(schedule)}
        if flat:
            next_names: list[str] = []
            for p, _f, s in upcoming:
                next_names.extend(
                    n for n in self._flat(p, s, {schedule["id"]}) if n not in next_names
                )
            exact_names: list[str] = []
            for p, _f in exact:
                exact_names.extend(
                    n
                    for n in self._flat(p, exact_at or at_ms, {schedule["id"]})
                    if n not in exact_names
                )
            data["nextOnCallParticipants"] = next_names
            data["exactNextOnCallParticipants"] = exact_names
        else:
            data["nextOnCallRecipients"] = [self._node(p, f) for p, f, _s in upcoming]
            data["exactNextOnCallRecipients"] = [self._node(p, f) for p, f in exact]
        return data
