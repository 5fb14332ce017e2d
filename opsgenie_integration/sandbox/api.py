"""The OpsGenie v2 endpoints the sandbox answers: routing, parameter checks, answers.

Handlers return the answer without ``took``/``requestId`` (the server adds them) or raise
ApiError. Every route names the access right it needs and its rate-limit domain.

Answers for bad parameters are 422 ``{"message": "<param>: <problem>", "errors": {param: problem}}``
(several problems: the message joins them with ``; ``); a saved search (``searchIdentifier``) is
never found (404); unknown paths answer 404 JSON ``{"message": "Requested resource does not
exist!"}``; a method other than GET on a known path answers 405.

``GET /v2/request-limits/`` (with or without the trailing slash) answers the configured
per-domain rate limits (see ``ratelimits.RateLimits.published``); it is an account-level route:
OpsGenie refuses it to a team integration's key (403, code 40301), which the key check does for
every route marked ``account_level``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from .alerts import SORT_KEYS
from .clock import SandboxClock
from .query import BOOL, KEYWORD, KEYWORDS, TEXT, TIME, Field, FieldTable, QueryError, compile_query
from .ratelimits import RateLimits
from .schedules import ScheduleCalculator
from .store import SandboxStore
from .timefmt import TimeFormatError, parse_iso, to_ms

MAX_WINDOW = 20_000  # offset + limit cap of GET /v2/alerts


class ApiError(Exception):
    """An OpsGenie error answer: HTTP ``status``, ``message``, optional ``code`` and ``errors``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors
        self.headers = headers or {}


@dataclass
class ApiRequest:
    """A request as the endpoints see it: decoded path ``segments`` (each percent-decoded on its
    own, ``+`` kept), ``query`` (form-decoded: ``%2B`` is ``+``, ``+`` is a space), ``host``."""

    method: str
    segments: list[str]
    query: dict[str, list[str]]
    host: str
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name`` (``default`` when absent)."""
        values = self.query.get(name)
        return values[0] if values else default

    def list_arg(self, name: str) -> list[str]:
        """Comma-separated and/or repeated parameter values, stripped, empties dropped."""
        return [v.strip() for raw in self.query.get(name, []) for v in raw.split(",") if v.strip()]


@dataclass(frozen=True)
class Route:
    """``pattern`` segments (``{name}`` captures one), access ``right`` (None: any valid key),
    rate-limit ``domain``; ``account_level``: refused (403/40301) to a team integration's key."""

    pattern: tuple[str, ...]
    right: str | None
    domain: str | None
    handler: str
    account_level: bool = False


ROUTES = (
    Route(("v2", "alerts"), "read", "search", "list_alerts"),
    Route(("v2", "alerts", "count"), "read", "search", "count_alerts"),
    Route(("v2", "alerts", "{identifier}"), "read", None, "get_alert"),
    Route(("v2", "schedules"), "configuration", "configuration", "list_schedules"),
    Route(("v2", "schedules", "on-calls"), "configuration", "schedule_oncalls", "all_on_calls"),
    Route(("v2", "schedules", "{identifier}"), "configuration", "configuration", "get_schedule"),
    Route(
        ("v2", "schedules", "{identifier}", "timeline"),
        "configuration",
        "configuration",
        "timeline",
    ),
    Route(
        ("v2", "schedules", "{identifier}", "on-calls"),
        "configuration",
        "schedule_oncalls",
        "on_calls",
    ),
    Route(
        ("v2", "schedules", "{identifier}", "next-on-calls"),
        "configuration",
        "schedule_oncalls",
        "next_on_calls",
    ),
    Route(("v2", "users"), "configuration", "search", "list_users"),
    Route(("v2", "users", "{identifier}"), "configuration", "configuration", "get_user"),
    Route(("v2", "teams"), "configuration", "configuration", "list_teams"),
    Route(("v2", "account"), "configuration", "configuration", "get_account"),
    Route(("v2", "request-limits", ""), None, None, "request_limits", account_level=True),
    Route(("v2", "request-limits"), None, None, "request_limits", account_level=True),
)


def match_route(segments: list[str]) -> tuple[Route, dict[str, str]] | None:
    """The first route matching the decoded ``segments`` and its captured parameters."""
    for route in ROUTES:
        if len(route.pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for want, have in zip(route.pattern, segments):
            if want.startswith("{"):
                if not have:
                    break
                params[want[1:-1]] = have
            elif want != have:
                break
        else:
            return route, params
    return None


class _Checker:
    """Collects parameter problems and raises one 422 with all of them."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, name: str, problem: str) -> None:
        self.errors.setdefault(name, problem)

    def integer(
        self, req: ApiRequest, name: str, default: int, lo: int, hi: int | None = None
    ) -> int:
        raw = req.arg(name)
        if raw is None or raw == "":
            return default
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            self.fail(name, f"must be an integer, not [{raw}]")
            return default
        value = int(raw)
        if value < lo or (hi is not None and value > hi):
            span = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            self.fail(name, f"must be {span}, not {value}")
            return default
        return value

    def choice(self, req: ApiRequest, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = req.arg(name)
        if raw is None or raw == "":
            return default
        if raw not in allowed:
            self.fail(name, f"must be one of {', '.join(allowed)}, not [{raw}]")
            return default
        return raw

    def boolean(self, req: ApiRequest, name: str) -> bool:
        raw = req.arg(name)
        if raw is None or raw == "":
            return False
        if raw.lower() not in ("true", "false"):
            self.fail(name, f"must be true or false, not [{raw}]")
            return False
        return raw.lower() == "true"

    def date(self, req: ApiRequest, name: str, default: int) -> int:
        raw = req.arg(name)
        if raw is None or raw == "":
            return default
        try:
            return parse_iso(raw, require_time=True)[0]
        except TimeFormatError:
            self.fail(
                name,
                f"must be a date-time like 2017-01-15T08:00:00Z or 2017-01-15T08:00:00+02:00, "
                f"not [{raw}] (send '+' as %2B)",
            )
            return default

    def done(self) -> None:
        if self.errors:
            message = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
            raise ApiError(422, message, errors=dict(self.errors))


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


def _page_links(
    host: str,
    path: str,
    params: list[tuple[str, Any]],
    offset: int,
    limit: int,
    total: int,
    cap: int | None,
) -> dict[str, str]:
    """``paging`` with absolute ``first``/``last``/``next`` URLs (``next`` only when a further page
    exists and can be asked for under ``cap``)."""

    def url(at: int) -> str:
        head = [(k, v) for k, v in params if k == "query"]
        tail = [(k, v) for k, v in params if k not in ("query", "offset", "limit")]
        query = urlencode([*head, ("offset", at), ("limit", limit), *tail], quote_via=quote)
        return f"http://{host}{path}?{query}"

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

    def handle(self, route: Route, req: ApiRequest) -> dict[str, Any]:
        """Run ``route``'s handler. Returns the answer body (without took/requestId)."""
        handler: Callable[[ApiRequest], dict[str, Any]] = getattr(self, route.handler)
        return handler(req)

    # ------------------------------------------------------------------------------ alerts
    def list_alerts(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts``: ``{data: [alert], paging: {next?, first, last}}``."""
        self._no_saved_search(req)
        check = _Checker()
        offset = check.integer(req, "offset", 0, 0)
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
            page, total = self.store.search(query, sort, order, offset, limit)
        except QueryError as exc:
            raise ApiError(422, str(exc), errors={"query": str(exc)}) from None
        params: list[tuple[str, Any]] = []
        if req.arg("query") is not None:
            params.append(("query", query))
        params += [("sort", sort), ("order", order)]
        return {
            "data": page,
            "paging": _page_links(req.host, "/v2/alerts", params, offset, limit, total, MAX_WINDOW),
        }

    def count_alerts(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/count``: ``{data: {count}}``."""
        self._no_saved_search(req)
        try:
            return {"data": {"count": self.store.count(req.arg("query", "") or "")}}
        except QueryError as exc:
            raise ApiError(422, str(exc), errors={"query": str(exc)}) from None

    @staticmethod
    def _no_saved_search(req: ApiRequest) -> None:
        check = _Checker()
        kind = check.choice(req, "searchIdentifierType", "id", ("id", "name"))
        check.done()
        ident = req.arg("searchIdentifier")
        if ident:
            raise ApiError(404, f"Saved search with {kind} [{ident}] does not exist.")

    def get_alert(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/alerts/{identifier}?identifierType=id|alias|tiny``: ``{data: alert}``."""
        check = _Checker()
        kind = check.choice(req, "identifierType", "id", ("id", "alias", "tiny"))
        check.done()
        alert = self.store.get_alert(req.params["identifier"], kind)
        if alert is None:
            raise ApiError(404, "Alert does not exist")
        return {"data": alert}

    # ------------------------------------------------------------------------------ schedules
    @staticmethod
    def _served_schedule(schedule: dict, rotations: bool) -> dict[str, Any]:
        out = {k: v for k, v in schedule.items() if k not in ("overrides", "rotations")}
        if rotations:
            out["rotations"] = [dict(r) for r in schedule.get("rotations") or []]
        return out

    def _schedule(self, req: ApiRequest, type_param: str) -> dict:
        check = _Checker()
        kind = check.choice(req, type_param, "id", ("id", "name"))
        check.done()
        ident = req.params["identifier"]
        schedule = self.store.find_schedule(ident, kind)
        if schedule is None:
            raise ApiError(404, f"Schedule with {kind} [{ident}] does not exist")
        return schedule

    def list_schedules(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules[?expand=rotation]``: ``{data: [schedule], expandable: [rotation]}``."""
        rotations = "rotation" in req.list_arg("expand")
        data = [self._served_schedule(s, rotations) for s in self.store.schedule_list()]
        return {"data": data, "expandable": ["rotation"]}

    def get_schedule(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/{identifier}?identifierType=id|name``: ``{data: schedule}``."""
        return {"data": self._served_schedule(self._schedule(req, "identifierType"), True)}

    def timeline(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/schedules/{identifier}/timeline``: see ScheduleCalculator.timeline."""
        schedule = self._schedule(req, "identifierType")
        check = _Checker()
        interval = check.integer(req, "interval", 1, 1, 366)
        unit = check.choice(req, "intervalUnit", "weeks", ("days", "weeks", "months"))
        now = self.clock.now_ms()
        date = check.date(req, "date", now)
        check.done()
        expand = set(req.list_arg("expand"))
        data = self.schedules.timeline(schedule, date, interval, unit, expand, now)
        return {"data": data, "expandable": ["base", "forwarding", "override"]}

    def _on_call_args(self, req: ApiRequest) -> tuple[bool, int]:
        check = _Checker()
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
            "data": [self.schedules.on_calls(s, date, flat) for s in self.store.schedule_list()]
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
        check = _Checker()
        limit = check.integer(req, "limit", 100, 1, 500)
        offset = check.integer(req, "offset", 0, 0)
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
        paging = _page_links(req.host, "/v2/users", params, offset, limit, len(users), None)
        return {"data": page, "totalCount": len(users), "paging": paging}

    def list_teams(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2/teams``: ``{data: [{id, name, description}], expandable: [member]}``."""
        expand = "member" in req.list_arg("expand")
        data = [{k: v for k, v in t.items() if expand or k != "members"} for t in self.store.teams]
        return {"data": data, "expandable": ["member"]}

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
