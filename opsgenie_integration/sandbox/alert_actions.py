"""What each alert write does once processed, and each alert's log, notes and recipients.

Every method here runs on the write queue (see writes.py) with already-checked payloads and returns
an Outcome; failures that OpsGenie reports in the request status (an unknown alert, acknowledging a
closed alert, a responder that does not exist, ...) are ``Outcome(False, status)``. Every change
sets the alert's ``updatedAt`` to the clock's now, or 1 ms after its previous value when the clock
has not moved past it (so a reader ordering by updatedAt always sees the change as new).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .alerts import Alert
from .clock import SandboxClock
from .schedules import ScheduleCalculator
from .store import SandboxStore
from .timefmt import format_ts
from .writes import Outcome

DEFAULT_ACTOR = "System"  # log owner when the request names no user
RESPONDER_TYPES = ("user", "team", "escalation", "schedule")
_Result = Union[tuple[str, Optional[dict[str, Any]]], str]


@dataclass
class Activity:
    """One alert's history: ``logs`` and ``notes`` (each ``{..., createdAt, offset}``, oldest first)
    and ``recipients`` (username -> ``{user: {id, username}, state, method, createdAt, updatedAt}``)."""

    logs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    recipients: dict[str, dict[str, Any]] = field(default_factory=dict)


class AlertActions:
    """The alert writes over a store (all under the store's lock)."""

    def __init__(
        self,
        store: SandboxStore,
        clock: SandboxClock,
        schedules: ScheduleCalculator,
        integration_id: str,
    ) -> None:
        self.store = store
        self.clock = clock
        self.schedules = schedules
        self.integration_id = integration_id
        self._activity: dict[str, Activity] = {}
        self._offsets = itertools.count(1)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------ history
    def activity(self, alert: Alert) -> Activity:
        """The alert's history (a seeded alert starts with its creation log entry)."""
        with self._lock:
            found = self._activity.get(alert.id)
            if found is None:
                found = Activity()
                self._activity[alert.id] = found
                self._log(found, "Alert created", DEFAULT_ACTOR, alert.createdAt)
            return found

    def _entry(self, ms: int) -> dict[str, Any]:
        return {"createdAt": format_ts(ms), "offset": f"{ms:013d}_{next(self._offsets):09d}"}

    def _log(self, act: Activity, text: str, owner: str, ms: int | None = None) -> None:
        ms = self.clock.now_ms() if ms is None else ms
        act.logs.append({"log": text, "type": "system", "owner": owner, **self._entry(ms)})

    def _note(self, act: Activity, text: str, owner: str) -> None:
        act.notes.append({"note": text, "owner": owner, **self._entry(self.clock.now_ms())})

    def _changed_at(self, alert: Alert) -> int:
        return max(self.clock.now_ms(), alert.updatedAt + 1)

    # ------------------------------------------------------------------------------ responders
    def resolve(self, recipient: dict[str, Any]) -> tuple[dict[str, str], str] | str:
        """A recipient ``{type, id | name | username}`` -> (``{id, type}``, display name), or the
        status text saying it does not exist."""
        kind = recipient.get("type")
        ident = str(recipient.get("id") or "")
        name = str(recipient.get("username") or recipient.get("name") or "")
        found: dict[str, Any] | None = None
        if kind == "user":
            found = self.store.find_user(ident) if ident else None
            found = found or (self.store.find_user(name) if name else None)
            shown = found["username"] if found else ""
        elif kind == "team":
            found = self.store.find_team(ident, name)
            shown = found["name"] if found else ""
        elif kind == "escalation":
            found = self.store.find_escalation(ident, name)
            shown = found["name"] if found else ""
        elif kind == "schedule":
            found = self.store.find_schedule(ident, "id") if ident else None
            found = found or (self.store.find_schedule(name, "name") if name else None)
            shown = found["name"] if found else ""
        if found is None:
            what = f"id [{ident}]" if ident else f"name [{name}]"
            return f"{str(kind).capitalize()} with {what} does not exist"
        return {"id": found["id"], "type": str(kind)}, shown

    def _notify(self, alert: Alert, act: Activity, responder: dict[str, str]) -> None:
        now = format_ts(self.clock.now_ms())
        for user in self.schedules._flattened(responder, self.clock.now_ms()):
            act.recipients.setdefault(
                user["name"],
                {
                    "user": {"id": user["id"], "username": user["name"]},
                    "state": "active",
                    "method": "",
                    "createdAt": now,
                    "updatedAt": now,
                },
            )

    def _recipient_did(self, act: Activity, username: str, method: str) -> None:
        found = act.recipients.get(username)
        if found is not None:
            found.update(state="action", method=method, updatedAt=format_ts(self.clock.now_ms()))

    # ------------------------------------------------------------------------------ create, delete
    def create(self, payload: dict[str, Any], caller: str) -> Outcome:
        """Create an alert, or raise the count of the open alert with the same alias."""
        with self.store.lock:
            user = payload.get("user") or DEFAULT_ACTOR
            alias = payload.get("alias")
            existing = self.store.find_alert(alias, "alias") if alias else None
            if existing is not None and existing.status == "open":
                now = self.clock.now_ms()
                self.store.update_alert(
                    existing.id,
                    updated_at=self._changed_at(existing),
                    count=existing.count + 1,
                    lastOccurredAt=now,
                )
                act = self.activity(existing)
                self._log(act, f"Alert occurred again; count is now {existing.count}", user)
                if payload.get("note"):
                    self._note(act, payload["note"], user)
                return Outcome(True, "Alert is deduplicated", existing.id, existing.alias)
            responders: list[dict[str, str]] = []
            for recipient in payload.get("responders") or []:
                found = self.resolve(recipient)
                if isinstance(found, str):
                    return Outcome(False, found)
                if found[0] not in responders:
                    responders.append(found[0])
            for recipient in payload.get("visibleTo") or []:
                found = self.resolve(recipient)
                if isinstance(found, str):
                    return Outcome(False, found)
            now = self.clock.now_ms()
            fields = {
                k: payload[k]
                for k in ("message", "alias", "description", "actions", "tags", "details")
                if payload.get(k) is not None
            }
            fields.update(
                tinyId=self.store.next_tiny_id(),
                entity=payload.get("entity", ""),
                source=payload.get("source") or caller,
                priority=payload.get("priority") or "P3",
                responders=responders,
                teams=[r["id"] for r in responders if r["type"] == "team"],
                integration={"id": self.integration_id, "name": "API", "type": "API"},
                createdAt=now,
                updatedAt=now,
            )
            served = self.store.add_alert(**fields)
            alert = self.store.find_alert(served["id"])
            assert alert is not None
            act = Activity()
            with self._lock:
                self._activity[alert.id] = act
            self._log(act, "Alert created via API", user)
            for responder in responders:
                self._notify(alert, act, responder)
            if payload.get("note"):
                self._note(act, payload["note"], user)
            return Outcome(True, "Created alert", alert.id, alert.alias)

    def delete(self, identifier: str, kind: str, user: str | None) -> Outcome:
        """Delete the alert."""
        with self.store.lock:
            alert = self.store.find_alert(identifier, kind)
            if alert is None:
                return Outcome(False, "Alert does not exist")
            self.store.remove_alert(alert.id)
            with self._lock:
                self._activity.pop(alert.id, None)
            return Outcome(True, "Deleted alert", alert.id, alert.alias)

    # ------------------------------------------------------------------------------ actions
    def act(self, action: str, identifier: str, kind: str, payload: dict[str, Any]) -> Outcome:
        """Run ``action`` (acknowledge, unacknowledge, close, snooze, escalate, assign,
        add_responder, add_note, add_tags, remove_tags, add_details, remove_details) on the alert
        named by ``identifier`` of ``kind`` (id, alias, tiny)."""
        with self.store.lock:
            alert = self.store.find_alert(identifier, kind)
            if alert is None:
                return Outcome(False, "Alert does not exist")
            user = payload.get("user") or DEFAULT_ACTOR
            act = self.activity(alert)
            result = getattr(self, "_" + action)(alert, act, user, payload)
            if isinstance(result, str):
                return Outcome(False, result, alert.id, alert.alias)
            text, changes = result
            if changes is not None:
                self.store.update_alert(alert.id, updated_at=self._changed_at(alert), **changes)
                self._log(act, text, user)
            if payload.get("note") and action != "add_note":
                self._note(act, payload["note"], user)
            return Outcome(True, text, alert.id, alert.alias)

    # Each returns the status text and the changes (None: nothing changed), or a failure text.
    def _ms_since_created(self, alert: Alert) -> int:
        return max(0, self.clock.now_ms() - alert.createdAt)

    def _acknowledge(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        if alert.status == "closed":
            return "Alert is closed; a closed alert cannot be acknowledged"
        if alert.acknowledged:
            return "Alert is already acknowledged", None
        report = dict(alert.report or {})
        report.update(ackTime=self._ms_since_created(alert), acknowledgedBy=user)
        self._recipient_did(act, user, "Acknowledge")
        return "Acknowledged alert", {"acknowledged": True, "report": report}

    def _unacknowledge(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        if alert.status == "closed":
            return "Alert is closed; a closed alert cannot be unacknowledged"
        if not alert.acknowledged:
            return "Alert is not acknowledged", None
        return "Unacknowledged alert", {"acknowledged": False}

    def _close(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        if alert.status == "closed":
            return "Alert is already closed"
        report = dict(alert.report or {})
        report.update(closeTime=self._ms_since_created(alert), closedBy=user)
        self._recipient_did(act, user, "Close")
        changes = {"status": "closed", "snoozed": False, "snoozedUntil": None, "report": report}
        return "Closed alert", changes

    def _snooze(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        if alert.status == "closed":
            return "Alert is closed; a closed alert cannot be snoozed"
        until = p["endTime"]
        return f"Snoozed alert until {format_ts(until)}", {"snoozed": True, "snoozedUntil": until}

    def _escalate(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        if alert.status == "closed":
            return "Alert is closed; a closed alert cannot be escalated"
        found = self.resolve(dict(p["escalation"], type="escalation"))
        if isinstance(found, str):
            return found
        responder, name = found
        self._notify(alert, act, responder)
        responders = list(alert.responders)
        if responder not in responders:
            responders.append(responder)
        return f"Escalated alert to {name}", {"responders": responders}

    def _assign(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        found = self.resolve(dict(p["owner"], type="user"))
        if isinstance(found, str):
            return found
        _, username = found
        if alert.owner == username:
            return f"Alert is already owned by {username}", None
        return f"Assigned alert to {username}", {"owner": username}

    def _add_responder(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        found = self.resolve(p["responder"])
        if isinstance(found, str):
            return found
        responder, name = found
        responders = list(alert.responders)
        if responder in responders:
            return f"{responder['type'].capitalize()} {name} is already a responder", None
        responders.append(responder)
        changes: dict[str, Any] = {"responders": responders}
        if responder["type"] == "team" and responder["id"] not in alert.teams:
            changes["teams"] = [*alert.teams, responder["id"]]
        self._notify(alert, act, responder)
        return f"Added {responder['type']} {name} as responder", changes

    def _add_note(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        self._note(act, p["note"], user)
        return "Added note", {}

    def _add_tags(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        new = [t for t in dict.fromkeys(p["tags"]) if t not in alert.tags]
        if not new:
            return "Tags are already on the alert", None
        return f"Added tags {', '.join(new)}", {"tags": [*alert.tags, *new]}

    def _remove_tags(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        gone = [t for t in alert.tags if t in p["tags"]]
        if not gone:
            return "The alert has none of these tags", None
        kept = [t for t in alert.tags if t not in p["tags"]]
        return f"Removed tags {', '.join(gone)}", {"tags": kept}

    def _add_details(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        details = dict(alert.details)
        details.update(p["details"])
        if details == alert.details:
            return "Details are already on the alert", None
        return f"Added details {', '.join(p['details'])}", {"details": details}

    def _remove_details(self, alert: Alert, act: Activity, user: str, p: dict) -> _Result:
        gone = [k for k in alert.details if k in p["keys"]]
        if not gone:
            return "The alert has none of these details", None
        details = {k: v for k, v in alert.details.items() if k not in p["keys"]}
        return f"Removed details {', '.join(gone)}", {"details": details}
