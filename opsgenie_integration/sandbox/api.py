"""The OpsGenie v2 read endpoints the sandbox answers: alerts, saved searches, schedules,
users, teams, escalations, the account.

Handlers return the answer without ``took``/``requestId`` (the server adds them) or raise
ApiError. Every route names the access right it needs and its rate-limit domain.

The routes, the request and error types and the parameter checks (422 for bad parameters) are
in routes.py; the alert writes and per-alert reads are in alert_api.py.

Saved searches: ``GET /v2/alerts/saved-searches`` lists them (``{id, name}``),
``GET /v2/alerts/saved-searches/{identifier}?identifierType=id|name`` serves one, and the alert
list and count run one with ``searchIdentifier``/``searchIdentifierType`` (id by default; 404
``Saved search with <type> [<identifier>] does not exist.`` when unknown). A ``query`` sent along
is ANDed with the saved search's query (not confirmed for the live service, which documents the
saved search as applied "instead of" the query).

Team-scoped keys (a team integration's key, ``KeyGrant.team`` set): account-level routes answer
403/40301 (account, users); the alert list, count and get see only alerts whose ``teams`` hold
the key's team (another team's alert answers 403/40301 like OpsGenie); the schedule list and
``/v2/schedules/on-calls`` hold only the schedules the team owns (``ownerTeam``), and any other
schedule (including unowned ones) answers 403/40301 on every schedule route; ``/v2/teams`` holds
the key's team only (another team answers 403); ``/v2/escalations`` holds the escalations the team
owns (another one answers 403); saved searches are those shared with the team (``teams``), others
403.

``GET /v2/request-limits/`` (with or without the trailing slash) answers the configured
per-domain rate limits (``ratelimits.RateLimits.published``); an account-level route, refused to
a team integration's key (403, code 40301) as OpsGenie does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from .alerts import SORT_KEYS
from .auth import FORBIDDEN_CODE, TEAM_KEY_MESSAGE
from .clock import SandboxClock
from .query import BOOL, KEYWORD, KEYWORDS, TEXT, TIME, Field, FieldTable, QueryError, compile_query
from .ratelimits import RateLimits
from .routes import ApiError, ApiRequest, Checker, Route
from .schedules import ScheduleCalculator
from .store import SandboxStore
from .timefmt import TimeFormatError, to_ms

MAX_WINDOW = 20_000  # offset + limit cap of GET /v2/alerts
INT32_MAX = 2**31 - 1  # the contract's int32 parameters


def _user_created(user: dict) -> int | None:
    try:
        return to_ms(user["createdAt"])[0] if user.get("createdAt") else None
    except (TimeFormatError, ValueError):
        return None


USER_FIELDS = FieldTable(
    fields={
        "id": Field(KEYWORD, lambda u: u.get("id")),
        "username": Field(KEYWORD, lambda u: u.get("username")),
        "fullname": Field(TEXT, lambda u: u.get("fullName")),
        "blocked": Field(BOOL, lambda u: u.get("blocked")),
        "verified": Field(BOOL, lambda u: u.get("verified")),
        "role": Field(KEYWORD, lambda u: (u.get("role") or {}).get("name")),
        "locale": Field(KEYWORD, lambda u: u.get("locale")),
        "timezone": Field(KEYWORD, lambda u: u.get("timeZone")),
        "tags": Field(KEYWORDS, lambda u: u.get("tags")),
        "useraddress": Field(KEYWORDS, lambda u: list((u.get("userAddress") or {}).values())),
        "createdat": Field(TIME, _user_created),
    },
    bare=("username", "fullname"),
)
"""Searchable user fields of ``GET /v2/users?query=`` (a bare term: username and fullName)."""

_USER_SORTS = {
    "username": lambda u: str(u.get("username", "")).lower(),
    "fullName": lambda u: str(u.get("fullName", "")).lower(),
    "insertedAt": lambda u: 0,  # creation order = the stable tie-break below
}


def _team_forbidden() -> ApiError:
    return ApiError(403, TEAM_KEY_MESSAGE, FORBIDDEN_CODE)


def _and_queries(parts: list[str]) -> str:
    """Join non-blank queries with AND, each in parentheses when there are several."""
    kept = [p for p in parts if p and p.strip()]
    if len(kept) <= 1:
        return kept[0] if kept else ""
    return " AND ".join(f"({p})" for p in kept)


def _page_links(
    host: str,
    path: str,
    params: list[tuple[str, Any]],
    offset: int,
    limit: int,
    total: int,
    cap: int | None,
    scheme: str = "http",
) -> dict[str, str]:
    """``paging`` with absolute ``first``/``last``/``next`` URLs (``next`` only when a further page
    exists and can be asked for under ``cap``)."""

    def url(at: int) -> str:
        head = [(k, v) for k, v in params if k == "query"]
        tail = [(k, v) for k, v in params if k not in ("query", "offset", "limit")]
        query = urlencode([*head, ("offset", at), ("limit", limit), *tail], quote_via=quote)
        return f"{scheme}://{host}{path}?{query}"

    last = max(0, (total - 1) // limit * limit) if total else 0
    if cap is not None:
        last = max(0, min(last, cap - limit))
    links: dict[str, str] = {}
    nxt = offset + limit
    if nxt < total and (cap is None or nxt + limit <= cap):
        links["next"] = url(nxt)
    links["first"] = url(0)
    links["last"] = url(last)
    return links


class OpsGenieApi:
    """The endpoint handlers over a store, a clock and a schedule calculator."""

    def __init__(
        self, store: SandboxStore, clock: SandboxClock, rate_limits: RateLimits | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.rate_limits = rate_limits if rate_limits is not None else RateLimits()
        self.schedules = ScheduleCalculator(store)
        self.extra: Any = None  # an object with the handlers defined elsewhere (alert_api.py)

    def handle(self, route: Route, req: ApiRequest) -> dict[str, Any]:
        """Run ``route``'s handler. Returns the answer body (without took/requestId)."""
        owner = self if hasattr(self, route.handler) else self.extra
        handler: Callable[[ApiRequest], dict[str, Any]] = getattr(owner, route.handler)
        return handler(req)

    # ------------------------------------------------------------------------------ alerts
    def list_alerts(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts``: ``{data: [alert], paging: {next?, first, last}}``."""
        check = Checker()
        offset = check.integer(req, "offset", 0, 0, INT32_MAX)
        limit = check.integer(req, "limit", 20, 1, 100)
        sort = check.choice(req, "sort", "createdAt", tuple(SORT_KEYS))
        order = check.choice(req, "order", "desc", ("asc", "desc"))
        check.done()
        if offset + limit > MAX_WINDOW:
            raise ApiError(
                422,
                f"offset + limit must not exceed {MAX_WINDOW} (offset={offset}, limit={limit}). "
                "To read further, narrow the query (for example its createdAt or updatedAt window) "
                "instead of paging deeper.",
                errors={"offset": f"offset + limit must not exceed {MAX_WINDOW}"},
            )
        query = req.arg("query", "") or ""
        try:
            page, total = self.store.search(self._alert_query(req), sort, order, offset, limit)
        except QueryError as exc:
            raise ApiError(422, str(exc), errors={"query": str(exc)}) from None
        params: list[tuple[str, Any]] = []
        if req.arg("query") is not None:
            params.append(("query", query))
        if req.arg("searchIdentifier"):
            params.append(("searchIdentifier", req.arg("searchIdentifier")))
            params.append(("searchIdentifierType", req.arg("searchIdentifierType") or "id"))
        params += [("sort", sort), ("order", order)]
        paging = _page_links(
            req.host, "/v2/alerts", params, offset, limit, total, MAX_WINDOW, req.scheme
        )
        return {"data": page, "paging": paging}

    def count_alerts(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/count``: ``{data: {count}}``."""
        query = self._alert_query(req)
        try:
            return {"data": {"count": self.store.count(query)}}
        except QueryError as exc:
            raise ApiError(422, str(exc), errors={"query": str(exc)}) from None

    def _alert_query(self, req: ApiRequest) -> str:
        """The query the alert list and count run: the saved search's (``searchIdentifier``), the
        request's ``query`` and, for a team key, ``teams:<team id>``, ANDed."""
        check = Checker()
        kind = check.choice(req, "searchIdentifierType", "id", ("id", "name"))
        check.done()
        saved = ""
        ident = req.arg("searchIdentifier")
        if ident:
            saved = str(self._saved_search(req, ident, kind).get("query") or "")
        team = f'teams:"{req.team}"' if req.team else ""
        return _and_queries([saved, req.arg("query", "") or "", team])

    def _saved_search(self, req: ApiRequest, ident: str, kind: str) -> dict[str, Any]:
        found = self.store.find_saved_search(ident, kind)
        if found is None:
            raise ApiError(404, f"Saved search with {kind} [{ident}] does not exist.")
        if req.team and req.team not in [t.get("id") for t in found.get("teams") or []]:
            raise _team_forbidden()
        return found

    def list_saved_searches(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/saved-searches``: ``{data: [{id, name}]}`` (a team key: its team's)."""
        data = [
            {"id": s["id"], "name": s["name"]}
            for s in self.store.saved_search_list()
            if not req.team or req.team in [t.get("id") for t in s.get("teams") or []]
        ]
        return {"data": data}

    def get_saved_search(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/saved-searches/{identifier}?identifierType=id|name``: ``{data: {id,
        name, createdAt, updatedAt, owner, teams, description, query}}``."""
        check = Checker()
        kind = check.choice(req, "identifierType", "id", ("id", "name"))
        check.done()
        return {"data": dict(self._saved_search(req, req.params["identifier"], kind))}

    def get_alert(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/{identifier}?identifierType=id|alias|tiny``: ``{data: alert}``."""
        check = Checker()
        kind = check.choice(req, "identifierType", "id", ("id", "alias", "tiny"))
        check.done()
        alert = self.store.get_alert(req.params["identifier"], kind)
        if alert is None:
            raise ApiError(404, "Alert does not exist")
        if req.team and req.team not in [t.get("id") for t in alert.get("teams") or []]:
            raise _team_forbidden()
        return {"data": alert}

    # ------------------------------------------------------------------------------ schedules
    @staticmethod
    def _served_schedule(schedule: dict, rotations: bool) -> dict[str, Any]:
        out = {k: v for k, v in schedule.items() if k not in ("overrides", "rotations")}
        if rotations:
            out["rotations"] = [dict(r) for r in schedule.get("rotations") or []]
        return out

    def _schedule(self, req: ApiRequest, type_param: str) -> dict:
        check = Checker()
        kind = check.choice(req, type_param, "id", ("id", "name"))
        check.done()
        ident = req.params["identifier"]
        schedule = self.store.find_schedule(ident, kind)
        if schedule is None:
            raise ApiError(404, f"Schedule with {kind} [{ident}] does not exist")
        if not self._team_owns(req, schedule):
            raise _team_forbidden()
        return schedule

    @staticmethod
    def _team_owns(req: ApiRequest, schedule: dict) -> bool:
        """True for an account-wide key, or when the team key's team owns ``schedule``."""
        return not req.team or (schedule.get("ownerTeam") or {}).get("id") == req.team

    def _visible_schedules(self, req: ApiRequest) -> list[dict]:
        return [s for s in self.store.schedule_list() if self._team_owns(req, s)]

    def list_schedules(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules[?expand=rotation]``: ``{data: [schedule], expandable: [rotation]}``."""
        rotations = "rotation" in req.list_arg("expand")
        data = [self._served_schedule(s, rotations) for s in self._visible_schedules(req)]
        return {"data": data, "expandable": ["rotation"]}

    def get_schedule(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/{identifier}?identifierType=id|name``: ``{data: schedule}``."""
        return {"data": self._served_schedule(self._schedule(req, "identifierType"), True)}

    def timeline(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/{identifier}/timeline``: see ScheduleCalculator.timeline."""
        schedule = self._schedule(req, "identifierType")
        check = Checker()
        interval = check.integer(req, "interval", 1, 1, 366)
        unit = check.choice(req, "intervalUnit", "weeks", ("days", "weeks", "months"))
        now = self.clock.now_ms()
        date = check.date(req, "date", now)
        check.done()
        expand = set(req.list_arg("expand"))
        data = self.schedules.timeline(schedule, date, interval, unit, expand, now)
        return {"data": data, "expandable": ["base", "forwarding", "override"]}

    def _on_call_args(self, req: ApiRequest) -> tuple[bool, int]:
        check = Checker()
        flat = check.boolean(req, "flat")
        date = check.date(req, "date", self.clock.now_ms())
        check.done()
        return flat, date

    def on_calls(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/{identifier}/on-calls?scheduleIdentifierType=&flat=&date=``."""
        schedule = self._schedule(req, "scheduleIdentifierType")
        flat, date = self._on_call_args(req)
        return {"data": self.schedules.on_calls(schedule, date, flat)}

    def next_on_calls(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/{identifier}/next-on-calls?scheduleIdentifierType=&flat=&date=``."""
        schedule = self._schedule(req, "scheduleIdentifierType")
        flat, date = self._on_call_args(req)
        return {"data": self.schedules.next_on_calls(schedule, date, flat)}

    def all_on_calls(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/on-calls?flat=&date=``: ``{data: [on-call of each schedule]}``."""
        flat, date = self._on_call_args(req)
        return {
            "data": [self.schedules.on_calls(s, date, flat) for s in self._visible_schedules(req)]
        }

    # ------------------------------------------------------------------------------ users, account
    @staticmethod
    def _served_user(user: dict, contacts: bool) -> dict[str, Any]:
        out = {k: v for k, v in user.items() if k != "userContacts"}
        if contacts:
            out["userContacts"] = [dict(c) for c in user.get("userContacts") or []]
        return out

    def get_user(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/users/{id or username}[?expand=contact]``: ``{data: user, expandable: [contact]}``."""
        ident = req.params["identifier"]
        user = self.store.find_user(ident)
        if user is None:
            raise ApiError(404, f"User with identifier [{ident}] does not exist")
        contacts = "contact" in req.list_arg("expand")
        return {"data": self._served_user(user, contacts), "expandable": ["contact"]}

    def list_users(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/users?limit=&offset=&sort=|sortField=&order=&query=``:
        ``{data: [user], totalCount, paging}``."""
        check = Checker()
        limit = check.integer(req, "limit", 100, 1, 500)
        offset = check.integer(req, "offset", 0, 0, INT32_MAX)
        sort_name = "sortField" if req.arg("sortField") else "sort"
        sort = check.choice(req, sort_name, "username", tuple(_USER_SORTS))
        order = check.choice(req, "order", "asc", ("asc", "desc"))
        check.done()
        query = req.arg("query", "") or ""
        try:
            predicate = compile_query(query, USER_FIELDS)
        except QueryError as exc:
            raise ApiError(422, str(exc), errors={"query": str(exc)}) from None
        users = [(i, u) for i, u in enumerate(self.store.user_list()) if predicate(u)]
        key = _USER_SORTS[sort]
        users.sort(key=lambda p: (key(p[1]), p[0]), reverse=order == "desc")
        page = [self._served_user(u, False) for _, u in users[offset : offset + limit]]
        params: list[tuple[str, Any]] = [("query", query)] if req.arg("query") is not None else []
        params += [("sort", sort), ("order", order)]
        paging = _page_links(
            req.host, "/v2/users", params, offset, limit, len(users), None, req.scheme
        )
        return {"data": page, "totalCount": len(users), "paging": paging}

    def list_teams(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/teams``: ``{data: [{id, name, description}], expandable: [member]}``."""
        expand = "member" in req.list_arg("expand")
        data = [
            {k: v for k, v in t.items() if expand or k != "members"}
            for t in self.store.teams
            if not req.team or t.get("id") == req.team
        ]
        return {"data": data, "expandable": ["member"]}

    def get_team(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/teams/{identifier}?identifierType=id|name``: ``{data: {id, name, description,
        members: [{user: {id, username}, role}]}}``. Unknown team: 404."""
        check = Checker()
        kind = check.choice(req, "identifierType", "id", ("id", "name"))
        check.done()
        ident = req.params["identifier"]
        team = (
            self.store.find_team(team_id=ident)
            if kind == "id"
            else self.store.find_team(name=ident)
        )
        if team is None:
            raise ApiError(404, f"No team exists with {kind} [{ident}]")
        if req.team and team.get("id") != req.team:
            raise _team_forbidden()
        return {"data": self._served_team(team)}

    def _served_team(self, team: dict) -> dict[str, Any]:
        members = []
        for member in team.get("members") or []:
            ref = member.get("user") or {}
            user = self.store.find_user(ref.get("id", "")) or self.store.find_user(
                ref.get("username", "")
            )
            if user is None:
                continue
            members.append(
                {
                    "user": {"id": user["id"], "username": user["username"]},
                    "role": member.get("role", "user"),
                }
            )
        out = {k: v for k, v in team.items() if k != "members"}
        out["members"] = members
        return out

    def _served_recipient(self, recipient: dict) -> dict[str, Any]:
        """An escalation rule's recipient as OpsGenie answers it: ``{type, id, username}`` for a
        user, ``{type, id, name}`` for a team, schedule or escalation (names looked up)."""
        kind = recipient.get("type", "")
        out: dict[str, Any] = {"type": kind}
        if kind == "user":
            user = self.store.find_user(recipient.get("id", "")) or self.store.find_user(
                recipient.get("username", "")
            )
            out["id"] = user["id"] if user else recipient.get("id", "")
            out["username"] = user["username"] if user else recipient.get("username", "")
        elif kind in ("team", "schedule", "escalation"):
            found = {
                "team": lambda: self.store.find_team(recipient.get("id", ""), ""),
                "escalation": lambda: self.store.find_escalation(recipient.get("id", ""), ""),
                "schedule": lambda: self.store.find_schedule(recipient.get("id", "")),
            }[kind]()
            if found is None and recipient.get("name"):
                found = {
                    "team": lambda: self.store.find_team("", recipient["name"]),
                    "escalation": lambda: self.store.find_escalation("", recipient["name"]),
                    "schedule": lambda: self.store.find_schedule(recipient["name"], "name"),
                }[kind]()
            out["id"] = found["id"] if found else recipient.get("id", "")
            out["name"] = found["name"] if found else recipient.get("name", "")
        return out

    def _served_escalation(self, escalation: dict) -> dict[str, Any]:
        rules = []
        for rule in escalation.get("rules") or []:
            delay = rule.get("delay") or {}
            rules.append(
                {
                    "condition": rule.get("condition", "if-not-acked"),
                    "notifyType": rule.get("notifyType", "default"),
                    "delay": {
                        "timeAmount": int(delay.get("timeAmount", 0)),
                        "timeUnit": delay.get("timeUnit", "minutes"),
                    },
                    "recipient": self._served_recipient(rule.get("recipient") or {}),
                }
            )
        out: dict[str, Any] = {
            "id": escalation["id"],
            "name": escalation["name"],
            "description": escalation.get("description", ""),
        }
        if escalation.get("ownerTeam"):
            out["ownerTeam"] = dict(escalation["ownerTeam"])
        out["rules"] = rules
        if escalation.get("repeat"):
            out["repeat"] = dict(escalation["repeat"])
        return out

    def list_escalations(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/escalations``: ``{data: [{id, name, description, ownerTeam?, rules:
        [{condition, notifyType, delay: {timeAmount, timeUnit}, recipient}], repeat?}]}`` (a team
        key: the escalations its team owns)."""
        return {
            "data": [
                self._served_escalation(e)
                for e in self.store.escalations
                if self._team_owns_escalation(req, e)
            ]
        }

    @staticmethod
    def _team_owns_escalation(req: ApiRequest, escalation: dict) -> bool:
        """True for an account-wide key, or when the team key's team owns ``escalation``."""
        return not req.team or (escalation.get("ownerTeam") or {}).get("id") == req.team

    def get_escalation(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/escalations/{identifier}?identifierType=id|name``: ``{data: escalation}`` (see
        list_escalations). Unknown escalation: 404."""
        check = Checker()
        kind = check.choice(req, "identifierType", "id", ("id", "name"))
        check.done()
        ident = req.params["identifier"]
        escalation = (
            self.store.find_escalation(esc_id=ident)
            if kind == "id"
            else self.store.find_escalation(name=ident)
        )
        if escalation is None:
            raise ApiError(404, f"Escalation with {kind} [{ident}] does not exist")
        if not self._team_owns_escalation(req, escalation):
            raise _team_forbidden()
        return {"data": self._served_escalation(escalation)}

    def get_account(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/account``: ``{data: {name, userCount, plan: {maxUserCount, name, isYearly}}}``."""
        account = self.store.account
        plan = account.get("plan") or {"maxUserCount": 1500, "name": "Enterprise", "isYearly": True}
        return {
            "data": {
                "name": account.get("name", "opsgenie-sandbox"),
                "userCount": len(self.store.user_list()),
                "plan": dict(plan),
            }
        }

    def request_limits(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/request-limits/``: ``{data: {rateLimits: [{domain, limits: [{limit,
        periodInSeconds}]}]}}``, the configured limits of each throttled domain."""
        return {"data": {"rateLimits": self.rate_limits.published()}}
