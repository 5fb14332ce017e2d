"""The alert record as the sandbox keeps it, its JSON shapes, its search fields and sort keys.

Times are epoch milliseconds (UTC) with an optional sub-millisecond part (ns) kept only to render
the 4th to 9th fraction digits. ``seq`` is the creation sequence: the stable tie-breaker of sorts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Callable

from .query import BOOL, KEYWORD, KEYWORDS, NUMBER, TEXT, TIME, Field, FieldTable
from .timefmt import format_ts, to_ms

TIME_FIELDS = ("createdAt", "updatedAt", "lastOccurredAt", "snoozedUntil")
_KNOWN = {
    "id", "tinyId", "alias", "message", "status", "acknowledged", "isSeen", "seen", "tags",
    "snoozed", "snoozedUntil", "count", "lastOccurredAt", "createdAt", "updatedAt", "source",
    "owner", "priority", "responders", "integration", "report", "teams", "entity", "description",
    "details", "actions", "ownerTeamId",
}  # fmt: skip


class Alert:
    """One alert. Attribute names are OpsGenie's (times as epoch ms ints, UTC)."""

    __slots__ = (
        "_full_json",
        "_list_json",
        "acknowledged",
        "actions",
        "alias",
        "count",
        "createdAt",
        "description",
        "details",
        "entity",
        "extra",
        "id",
        "integration",
        "isSeen",
        "lastOccurredAt",
        "message",
        "owner",
        "ownerTeamId",
        "priority",
        "report",
        "responders",
        "seq",
        "snoozed",
        "snoozedUntil",
        "source",
        "status",
        "sub_ns",
        "tags",
        "team_keys",
        "teams",
        "tinyId",
        "updatedAt",
    )  # fmt: skip

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
        self.sub_ns = self.sub_ns or {}
        self.team_keys = self.team_keys or ()

    @classmethod
    def from_dict(cls, data: dict[str, Any], seq: int, now_ms: int) -> Alert:
        """Build an alert from an OpsGenie-shaped dict (times as epoch ms or ISO 8601 strings).

        Missing fields get OpsGenie's defaults (open, unacknowledged, count 1, owner "", P3,
        created now; an acknowledged alert without ``report.ackTime`` gets one, see
        ``ensure_ack_time``); unknown keys are kept and served as they are.
        """
        sub: dict[str, int] = {}
        times: dict[str, int | None] = {}
        for name in TIME_FIELDS:
            value = data.get(name)
            if value is None or value == "":
                times[name] = None
                continue
            ms, ns = to_ms(value)
            times[name] = ms
            if ns:
                sub[name] = ns
        created = times["createdAt"] if times["createdAt"] is not None else now_ms
        updated = times["updatedAt"] if times["updatedAt"] is not None else created
        alert_id = str(data.get("id") or uuid.uuid4())
        teams = [t["id"] if isinstance(t, dict) else str(t) for t in data.get("teams") or []]
        alert = cls(
            seq=seq,
            id=alert_id,
            tinyId=str(data.get("tinyId") or seq + 1),
            alias=str(data["alias"]) if data.get("alias") is not None else alert_id,
            message=str(data.get("message", "")),
            status=str(data.get("status", "open")),
            acknowledged=bool(data.get("acknowledged", False)),
            isSeen=bool(data.get("isSeen", data.get("seen", False))),
            tags=list(data.get("tags") or []),
            snoozed=bool(data.get("snoozed", False)),
            snoozedUntil=times["snoozedUntil"],
            count=int(data.get("count", 1)),
            lastOccurredAt=times["lastOccurredAt"]
            if times["lastOccurredAt"] is not None
            else created,
            createdAt=created,
            updatedAt=updated,
            source=str(data.get("source", "")),
            owner=str(data.get("owner", "") or ""),
            priority=data.get("priority", "P3"),
            responders=list(data.get("responders") or []),
            integration=dict(data.get("integration") or {"id": "", "name": "API", "type": "API"}),
            report=dict(data["report"]) if isinstance(data.get("report"), dict) else None,
            teams=teams,
            entity=str(data.get("entity", "")),
            description=str(data.get("description", "")),
            details=dict(data.get("details") or {}),
            actions=list(data.get("actions") or []),
            ownerTeamId=str(data.get("ownerTeamId", "")),
            sub_ns=sub,
            extra={k: v for k, v in data.items() if k not in _KNOWN} or None,
        )
        alert.ensure_ack_time()
        return alert

    def ensure_ack_time(self) -> None:
        """Give an acknowledged alert ``report.ackTime`` (ms from creation to acknowledgement, as
        OpsGenie reports it) when it lacks one: the time up to its last update."""
        if self.acknowledged and not (self.report and "ackTime" in self.report):
            self.report = dict(self.report or {}, ackTime=max(0, self.updatedAt - self.createdAt))

    def invalidate(self) -> None:
        """Forget the rendered JSON (call after changing a field)."""
        self._list_json = None
        self._full_json = None

    def _ts(self, name: str) -> str:
        return format_ts(getattr(self, name), self.sub_ns.get(name, 0))

    def render(self) -> dict[str, Any]:
        """The alert as the list endpoint serves it (cached until ``invalidate``)."""
        cached = self._list_json
        if cached is not None:
            return cached
        out: dict[str, Any] = {
            "seen": self.isSeen,
            "id": self.id,
            "tinyId": self.tinyId,
            "alias": self.alias,
            "message": self.message,
            "status": self.status,
            "acknowledged": self.acknowledged,
            "isSeen": self.isSeen,
            "tags": list(self.tags),
            "snoozed": self.snoozed,
        }
        if self.snoozedUntil is not None:
            out["snoozedUntil"] = self._ts("snoozedUntil")
        out.update(
            count=self.count,
            lastOccurredAt=self._ts("lastOccurredAt"),
            createdAt=self._ts("createdAt"),
            updatedAt=self._ts("updatedAt"),
            source=self.source,
            owner=self.owner,
            priority=self.priority,
            teams=[{"id": t} for t in self.teams],
            responders=[dict(r) for r in self.responders],
            integration=dict(self.integration),
        )
        if self.report is not None:
            out["report"] = dict(self.report)
        out["ownerTeamId"] = self.ownerTeamId
        if self.extra:
            out.update(self.extra)
        self._list_json = out
        return out

    def render_full(self) -> dict[str, Any]:
        """The alert as ``GET /v2/alerts/{identifier}`` serves it (list shape + details)."""
        cached = self._full_json
        if cached is not None:
            return cached
        out = dict(self.render())
        out.update(
            actions=list(self.actions),
            entity=self.entity,
            description=self.description,
            details=dict(self.details),
        )
        self._full_json = out
        return out


def _report(name: str) -> Callable[[Alert], Any]:
    return lambda a: a.report.get(name) if a.report else None


def _details_field(name: str) -> Field | None:
    if name.lower().startswith("details.") and len(name) > 8:
        key = name[8:]
        return Field(KEYWORD, lambda a: a.details.get(key))
    return None


ALERT_FIELDS = FieldTable(
    fields={
        "id": Field(KEYWORD, lambda a: a.id),
        "tinyid": Field(KEYWORD, lambda a: a.tinyId, numeric_keyword=True),
        "alias": Field(KEYWORD, lambda a: a.alias),
        "message": Field(TEXT, lambda a: a.message),
        "description": Field(TEXT, lambda a: a.description),
        "status": Field(KEYWORD, lambda a: a.status),
        "acknowledged": Field(BOOL, lambda a: a.acknowledged),
        "isseen": Field(BOOL, lambda a: a.isSeen),
        "seen": Field(BOOL, lambda a: a.isSeen),
        "snoozed": Field(BOOL, lambda a: a.snoozed),
        "snoozeduntil": Field(TIME, lambda a: a.snoozedUntil),
        "priority": Field(KEYWORD, lambda a: a.priority),
        "tag": Field(KEYWORDS, lambda a: a.tags),
        "tags": Field(KEYWORDS, lambda a: a.tags),
        "teams": Field(KEYWORDS, lambda a: a.team_keys),
        "team": Field(KEYWORDS, lambda a: a.team_keys),
        "ownerteamid": Field(KEYWORD, lambda a: a.ownerTeamId),
        "owner": Field(KEYWORD, lambda a: a.owner),
        "source": Field(KEYWORD, lambda a: a.source),
        "entity": Field(KEYWORD, lambda a: a.entity),
        "count": Field(NUMBER, lambda a: a.count),
        "createdat": Field(TIME, lambda a: a.createdAt),
        "updatedat": Field(TIME, lambda a: a.updatedAt),
        "lastoccurredat": Field(TIME, lambda a: a.lastOccurredAt),
        "integration.name": Field(KEYWORD, lambda a: a.integration.get("name")),
        "integration.type": Field(KEYWORD, lambda a: a.integration.get("type")),
        "integration.id": Field(KEYWORD, lambda a: a.integration.get("id")),
        "responders": Field(KEYWORDS, lambda a: [r.get("id") for r in a.responders]),
        "actions": Field(KEYWORDS, lambda a: a.actions),
        "report.acktime": Field(NUMBER, _report("ackTime")),
        "report.closetime": Field(NUMBER, _report("closeTime")),
        "report.acknowledgedby": Field(KEYWORD, _report("acknowledgedBy")),
        "report.closedby": Field(KEYWORD, _report("closedBy")),
        "acknowledgedby": Field(KEYWORD, _report("acknowledgedBy")),
        "closedby": Field(KEYWORD, _report("closedBy")),
    },
    bare=("message", "description", "alias", "tags", "source", "entity"),
    dynamic=_details_field,
)
"""Searchable alert fields. A bare term searches message, description, alias, tags, source and
entity; ``teams`` matches a team's id or name; ``details.<key>`` a details value."""


def _tiny_key(a: Alert) -> tuple[int, Any]:
    return (0, int(a.tinyId)) if a.tinyId.isdigit() else (1, a.tinyId)


SORT_KEYS: dict[str, Callable[[Alert], Any]] = {
    "createdAt": lambda a: a.createdAt,
    "updatedAt": lambda a: a.updatedAt,
    "tinyId": _tiny_key,
    "alias": lambda a: a.alias,
    "message": lambda a: a.message,
    "status": lambda a: a.status,
    "acknowledged": lambda a: a.acknowledged,
    "isSeen": lambda a: a.isSeen,
    "snoozed": lambda a: a.snoozed,
    "snoozedUntil": lambda a: a.snoozedUntil,
    "count": lambda a: a.count,
    "lastOccurredAt": lambda a: a.lastOccurredAt,
    "source": lambda a: a.source,
    "owner": lambda a: a.owner,
    "integration.name": lambda a: str(a.integration.get("name", "")),
    "integration.type": lambda a: str(a.integration.get("type", "")),
    "report.ackTime": _report("ackTime"),
    "report.closeTime": _report("closeTime"),
    "report.acknowledgedBy": _report("acknowledgedBy"),
    "report.closedBy": _report("closedBy"),
}
"""The documented sort fields of ``GET /v2/alerts`` -> key (None = missing: sorted last)."""


def sort_alerts(alerts: Iterable[Alert], sort: str, descending: bool) -> list[Alert]:
    """Sort by ``sort`` (a SORT_KEYS name), ties by creation sequence; missing values last."""
    key = SORT_KEYS[sort]
    present: list[tuple[Any, int, Alert]] = []
    missing: list[Alert] = []
    for alert in alerts:
        value = key(alert)
        if value is None:
            missing.append(alert)
        else:
            present.append((value, alert.seq, alert))
    present.sort(key=lambda t: (t[0], t[1]), reverse=descending)
    missing.sort(key=lambda a: a.seq, reverse=descending)
    return [t[2] for t in present] + missing
