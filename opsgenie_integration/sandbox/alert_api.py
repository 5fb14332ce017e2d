"""The alert write endpoints and the per-alert reads (notes, logs, recipients, request status).

A write checks its request at once (a bad body or parameter answers 422, 400 where the contract
declares no 422) and otherwise answers 202 ``{"result": "Request will be processed", "took",
"requestId"}``; what it did is read later from ``GET /v2/alerts/requests/{requestId}`` (see
writes.py). The alert is looked up when the write is processed, so an unknown id or alias is a
failed request (``isSuccess: false``), not a 404.

Limits refused with 422 (OpsGenie documents them; its OpenAPI description carries none): message
130, alias 512, description 15000, entity 512, at most 20 tags of 50 characters, at most 10 actions
of 50 characters, details 8000 characters in all (keys and values); and, from third-party copies
of the documentation (unconfirmed), user 100, source 100, note 25000.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import quote, urlencode

from .alert_actions import RESPONDER_TYPES, AlertActions
from .clock import SandboxClock
from .routes import ApiError, ApiRequest, Checker
from .store import SandboxStore
from .timefmt import TimeFormatError, parse_iso
from .writes import NOT_PROCESSED_HEADER, NOT_PROCESSED_TYPE, Outcome, WriteQueue

ACCEPTED = "Request will be processed"
NOT_PROCESSABLE = "Request body is not processable. Please check the errors."
TEXT_LIMITS = {
    "message": 130,
    "alias": 512,
    "description": 15000,
    "entity": 512,
    "user": 100,
    "source": 100,
    "note": 25000,
}
MAX_TAGS, MAX_TAG_LENGTH = 20, 50
MAX_ACTIONS, MAX_ACTION_LENGTH = 10, 50
MAX_DETAILS_CHARS = 8000
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
IDENTIFIER_TYPES = ("id", "alias", "tiny")
VISIBLE_TO_TYPES = ("team", "user")

# POST /v2/alerts/{identifier}/<segment> -> (action name, request status action, body check)
_ACTIONS: dict[str, tuple[str, str]] = {
    "acknowledge": ("acknowledge", "Acknowledge"),
    "unacknowledge": ("unacknowledge", "UnAcknowledge"),
    "close": ("close", "Close"),
    "snooze": ("snooze", "Snooze"),
    "escalate": ("escalate", "EscalateToNext"),
    "assign": ("assign", "Assign"),
    "responders": ("add_responder", "AddResponder"),
    "notes": ("add_note", "AddNote"),
    "tags": ("add_tags", "AddTags"),
    "details": ("add_details", "AddDetails"),
}


class _BodyCheck:
    """Collects body problems; ``done`` raises one 422 naming each field."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.errors: dict[str, str] = {}

    def fail(self, name: str, problem: str) -> None:
        self.errors.setdefault(name, problem)

    def absent(self, name: str, required: bool) -> bool:
        """True when ``name`` is not in the body (a failure when required); null is present."""
        if name in self.body:
            return False
        if required:
            self.fail(name, f"{name} is required")
        return True

    def text(self, name: str, required: bool = False) -> str | None:
        if self.absent(name, required):
            return None
        value = self.body[name]
        if not isinstance(value, str):
            self.fail(name, f"{name} must be a string")
            return None
        if required and not value.strip():
            self.fail(name, f"{name} must not be empty")
            return None
        limit = TEXT_LIMITS.get(name)
        if limit is not None and len(value) > limit:
            self.fail(name, f"{name} must be at most {limit} characters, not {len(value)}")
            return None
        return value

    def strings(self, name: str, most: int, longest: int, required: bool = False) -> list | None:
        if self.absent(name, required):
            return None
        value = self.body[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, f"{name} must be a list of strings")
            return None
        if required and not value:
            self.fail(name, f"{name} must not be empty")
        elif len(value) > most:
            self.fail(name, f"at most {most} {name} are allowed, not {len(value)}")
        elif any(not v.strip() for v in value):
            self.fail(name, f"{name} must not hold an empty value")
        elif any(len(v) > longest for v in value):
            self.fail(name, f"each of {name} must be at most {longest} characters")
        else:
            return value
        return None

    def details(self, name: str, required: bool = False) -> dict | None:
        if self.absent(name, required):
            return None
        value = self.body[name]
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail(name, f"{name} must be an object of string values")
            return None
        if required and not value:
            self.fail(name, f"{name} must not be empty")
            return None
        size = sum(len(k) + len(v) for k, v in value.items())
        if size > MAX_DETAILS_CHARS:
            self.fail(name, f"{name} must be at most {MAX_DETAILS_CHARS} characters in all")
            return None
        return value

    def recipient(self, name: str, value: Any, types: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(name, f"{name} must be an object with type and id, name or username")
            return None
        kind = value.get("type")
        if kind not in types:
            self.fail(f"{name}#type", f"Invalid recipient type '{kind}'")
            return None
        keys = ("id", "username") if kind == "user" else ("id", "name")
        if not any(isinstance(value.get(k), str) and value[k].strip() for k in keys):
            self.fail(name, f"a {kind} recipient needs {' or '.join(keys)}")
            return None
        return value

    def recipients(self, name: str, types: tuple[str, ...]) -> list | None:
        if self.absent(name, False):
            return None
        value = self.body[name]
        if not isinstance(value, list):
            self.fail(name, f"{name} must be a list of recipients")
            return None
        found = [self.recipient(name, item, types) for item in value]
        return None if None in found else found

    def done(self) -> None:
        if self.errors:
            raise ApiError(422, NOT_PROCESSABLE, errors=dict(self.errors))


def _json_body(req: ApiRequest, required: bool) -> dict[str, Any]:
    raw = req.body
    if not raw or not raw.strip():
        if required:
            raise ApiError(422, NOT_PROCESSABLE, errors={"body": "a JSON object is required"})
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(422, NOT_PROCESSABLE, errors={"body": "the body must be a JSON object"})
    return body


def _common(check: _BodyCheck) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("user", "source", "note"):
        value = check.text(name)
        if value is not None:
            out[name] = value
    return out


class AlertEndpoints:
    """Handlers of the alert write routes and the per-alert reads (see api.ROUTES)."""

    def __init__(
        self, store: SandboxStore, clock: SandboxClock, writes: WriteQueue, actions: AlertActions
    ) -> None:
        self.store = store
        self.clock = clock
        self.writes = writes
        self.actions = actions

    def _queue(self, req: ApiRequest, action: str, run: Callable[[], Outcome]) -> dict[str, Any]:
        self.writes.submit(req.request_id, action, run)
        return {"result": ACCEPTED}

    @staticmethod
    def _identifier_type(req: ApiRequest, status: int = 422) -> str:
        check = Checker()
        kind = check.choice(req, "identifierType", "id", IDENTIFIER_TYPES)
        check.done(status)
        return kind

    # ------------------------------------------------------------------------------ writes
    def create_alert(self, req: ApiRequest) -> dict[str, Any]:
        """``POST /v2/alerts``: 202; processed: a new alert, or the open alert with the same alias
        has its count raised."""
        body = _json_body(req, required=True)
        check = _BodyCheck(body)
        payload = _common(check)
        payload["message"] = check.text("message", required=True)
        for name in ("alias", "description", "entity"):
            value = check.text(name)
            if value is not None:
                payload[name] = value
        payload["responders"] = check.recipients("responders", RESPONDER_TYPES)
        payload["visibleTo"] = check.recipients("visibleTo", VISIBLE_TO_TYPES)
        payload["tags"] = check.strings("tags", MAX_TAGS, MAX_TAG_LENGTH)
        payload["actions"] = check.strings("actions", MAX_ACTIONS, MAX_ACTION_LENGTH)
        payload["details"] = check.details("details")
        priority = body.get("priority")
        if "priority" in body and priority not in PRIORITIES:
            check.fail("priority", f"priority must be one of {', '.join(PRIORITIES)}")
        payload["priority"] = priority
        check.done()
        caller = req.client or "127.0.0.1"
        return self._queue(req, "Create", lambda: self.actions.create(payload, caller))

    def delete_alert(self, req: ApiRequest) -> dict[str, Any]:
        """``DELETE /v2/alerts/{identifier}?identifierType=&user=&source=``: 202."""
        kind = self._identifier_type(req, 400)
        ident, user = req.params["identifier"], req.arg("user")
        return self._queue(req, "Delete", lambda: self.actions.delete(ident, kind, user))

    def alert_action(self, req: ApiRequest) -> dict[str, Any]:
        """``POST /v2/alerts/{identifier}/<action>?identifierType=``: 202."""
        kind = self._identifier_type(req)
        action, label = _ACTIONS[req.segments[3]]
        body = _json_body(req, required=action not in ("acknowledge", "unacknowledge", "close"))
        check = _BodyCheck(body)
        payload = _common(check)
        if action == "snooze":
            payload["endTime"] = self._end_time(check, body.get("endTime"))
        elif action == "escalate":
            esc = body.get("escalation")
            if check.absent("escalation", True):
                pass
            elif isinstance(esc, dict):
                payload["escalation"] = check.recipient(
                    "escalation", dict(esc, type=esc.get("type", "escalation")), ("escalation",)
                )
            else:
                check.fail("escalation", "escalation must be an object with id or name")
        elif action == "assign":
            owner = body.get("owner")
            if check.absent("owner", True):
                pass
            elif isinstance(owner, dict):
                payload["owner"] = check.recipient(
                    "owner", dict(owner, type=owner.get("type", "user")), ("user",)
                )
            else:
                check.fail("owner", "owner must be an object with id or username")
        elif action == "add_responder":
            if not check.absent("responder", True):
                payload["responder"] = check.recipient(
                    "responder", body["responder"], RESPONDER_TYPES
                )
        elif action == "add_note":
            payload["note"] = check.text("note", required=True)
        elif action == "add_tags":
            payload["tags"] = check.strings("tags", MAX_TAGS, MAX_TAG_LENGTH, required=True)
        elif action == "add_details":
            payload["details"] = check.details("details", required=True)
        check.done()
        ident = req.params["identifier"]
        return self._queue(req, label, lambda: self.actions.act(action, ident, kind, payload))

    def _end_time(self, check: _BodyCheck, value: Any) -> int | None:
        if check.absent("endTime", True):
            return None
        try:
            ms = parse_iso(value, require_time=True)[0] if isinstance(value, str) else None
        except TimeFormatError:
            ms = None
        if ms is None:
            check.fail("endTime", "endTime must be a date-time like 2017-04-03T20:32:35Z")
        elif ms <= self.clock.now_ms():
            check.fail("endTime", "endTime must be in the future")
        return ms

    def remove_from_alert(self, req: ApiRequest) -> dict[str, Any]:
        """``DELETE /v2/alerts/{identifier}/tags?tags=`` and ``.../details?keys=``: 202."""
        check = Checker()
        kind = check.choice(req, "identifierType", "id", IDENTIFIER_TYPES)
        name, action, label = (
            ("tags", "remove_tags", "RemoveTags")
            if req.segments[3] == "tags"
            else ("keys", "remove_details", "RemoveDetails")
        )
        values = req.list_arg(name)
        if not values:
            check.fail(
                name, f"at least one value is required (comma-separated), not [{req.arg(name)}]"
            )
        payload: dict[str, Any] = {name: values}
        for param in ("user", "source", "note"):
            value = req.arg(param)
            if value is not None and len(value) > TEXT_LIMITS[param]:
                check.fail(param, f"must be at most {TEXT_LIMITS[param]} characters")
            elif value:
                payload[param] = value
        check.done()
        ident = req.params["identifier"]
        return self._queue(req, label, lambda: self.actions.act(action, ident, kind, payload))

    # ------------------------------------------------------------------------------ reads
    def request_status(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/requests/{requestId}``: ``{data: {success, action, processedAt,
        integrationId, isSuccess, status, alertId, alias}}``; 404 with ``X-Opsgenie-Errortype:
        RequestNotProcessed`` while queued; 404 without it for an unknown id."""
        found = self.writes.status(req.params["requestId"])
        if found == "pending":
            raise ApiError(
                404,
                "Request not processed yet",
                headers={NOT_PROCESSED_HEADER: NOT_PROCESSED_TYPE},
            )
        if found is None:
            raise ApiError(404, "Request not found")
        return {"data": found}

    def _alert(self, req: ApiRequest, kind: str) -> Any:
        alert = self.store.find_alert(req.params["identifier"], kind)
        if alert is None:
            raise ApiError(404, "Alert does not exist")
        return alert

    def _cursor_page(self, req: ApiRequest, name: str) -> dict[str, Any]:
        check = Checker()
        kind = check.choice(req, "identifierType", "id", IDENTIFIER_TYPES)
        direction = check.choice(req, "direction", "next", ("next", "prev"))
        limit = check.integer(req, "limit", 20, 1, 100)
        order = check.choice(req, "order", "desc", ("asc", "desc"))
        check.done()
        with self.store.lock:
            act = self.actions.activity(self._alert(req, kind))
            items = [dict(i) for i in (act.logs if name == "logs" else act.notes)]
        if order == "desc":
            items.reverse()
        offset = req.arg("offset")
        if offset:
            at = [i for i, item in enumerate(items) if item["offset"] == offset]
            if direction == "next":
                items = items[at[0] + 1 :] if at else [i for i in items if _after(i, offset, order)]
            else:
                items = items[: at[0]] if at else [i for i in items if _after(offset, i, order)]
                items = items[-limit:]
        page = items[:limit]
        base = f"http://{req.host}{'/'.join([''] + [quote(s, safe='') for s in req.segments])}"

        def url(extra: list[tuple[str, Any]]) -> str:
            query = [("identifierType", kind), *extra, ("limit", limit), ("order", order)]
            return f"{base}?{urlencode(query, quote_via=quote)}"

        paging = {"first": url([])}
        if len(items) > limit:
            paging["next"] = url([("offset", page[-1]["offset"]), ("direction", "next")])
        return {"data": page, "paging": paging}

    def list_notes(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/{identifier}/notes``: ``{data: [{note, owner, createdAt, offset}],
        paging: {first, next?}}`` (cursor paging: offset, direction, limit, order)."""
        return self._cursor_page(req, "notes")

    def list_logs(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/{identifier}/logs``: ``{data: [{log, type, owner, createdAt,
        offset}], paging: {first, next?}}``."""
        return self._cursor_page(req, "logs")

    def list_recipients(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/{identifier}/recipients``: ``{data: [{user: {id, username}, state,
        method, createdAt, updatedAt}]}``."""
        kind = self._identifier_type(req)
        with self.store.lock:
            act = self.actions.activity(self._alert(req, kind))
            return {"data": [dict(r) for r in act.recipients.values()]}


def _after(a: Any, b: Any, order: str) -> bool:
    """Whether ``a`` comes after ``b`` in ``order`` (each an entry or an offset string)."""
    ka = a["offset"] if isinstance(a, dict) else str(a)
    kb = b["offset"] if isinstance(b, dict) else str(b)
    return ka > kb if order == "asc" else ka < kb
