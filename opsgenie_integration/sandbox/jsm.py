"""The sandbox's Jira Service Management (JSM) Operations mode: the same seeded accounts served
through JSM's paths, shapes, Basic authentication and errors.

Served paths (``{cloudId}`` is the sandbox's cloud id; any other answers 404):

- ``GET /_edge/tenant_info`` (no authentication): ``{"cloudId"}``, as a site answers it;
- ``GET /jsm/ops/api/{cloudId}/v1/alerts`` (``size`` 1..100, ``offset``, ``sort`` createdAt |
  insertedAt | lastOccurredAt | priority, ``order``, ``query``, ``from``/``to`` int32):
  ``{values, count, links: {next?}}``; ``offset + size`` must stay below 20,000;
- ``GET /jsm/ops/api/{cloudId}/v1/alerts/{id}``: the alert itself;
- ``GET /jsm/ops/api/{cloudId}/v1/schedules`` (``query`` exact, or prefix with a trailing ``*``,
  case-insensitive; ``size`` 1..50; ``offset``; ``expand=rotation``): ``{values, links, _expands}``;
- ``GET .../v1/schedules/{id}``, ``.../on-calls``, ``.../next-on-calls``, ``.../timeline``: by id only;
- ``GET .../v1/teams``: ``{platformTeams: [{teamId, teamName}]}``;
- the Jira user API, at ``/rest/api/3/...`` and ``/ex/jira/{cloudId}/rest/api/3/...``:
  ``user?accountId=``, ``user/bulk?accountId=...&startAt=&maxResults=`` (``{values, startAt,
  maxResults, total, isLast}``) and ``user/search?query=`` (a list).

People are Atlassian accounts: a seeded user's id ``U`` is served as the account id ``712020:U``;
on-call answers, rotations and timelines carry account ids and no names. The last seeded user
hides their e-mail address (profile visibility), as Atlassian accounts may.

Authentication is ``Authorization: Basic base64(email:api_token)``. A missing or wrong credential
answers 401 ``{"code": 401, "message": ...}``; an account without the alert (``read:ops-alert``) or
configuration (``read:ops-config``) scope answers 403 in JSM's shape ``{"errors": [{"title",
"code"}]}``. Parameter problems answer 422 in the same shape. The alert endpoints keep OpsGenie's
style for what they inherited from it: an unknown alert (404) and a malformed search query (422)
answer ``{"message", "took", "requestId"}``. The Jira user API answers ``{"errorMessages": [...],
"errors": {}}``. A rate limit answers 429 with ``Retry-After`` and the JSM error shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from .clock import SandboxClock
from .faults import Fault, FaultSet
from .query import QueryError
from .ratelimits import RateLimits
from .schedules import ScheduleCalculator
from .server import JSON_TYPE, Reply, RequestInfo, RequestPipeline, fault_reply
from .store import SandboxStore
from .timefmt import TimeFormatError, format_ts, parse_iso, to_ms

JSM_SORTS = ("createdAt", "insertedAt", "lastOccurredAt", "priority")
MAX_WINDOW = 20_000
ACCOUNT_PREFIX = "712020:"
SCOPES = ("alert", "config")
SCOPE_NAMES = {
    "alert": "read:ops-alert:jira-service-management",
    "config": "read:ops-config:jira-service-management",
}
UNAUTHORIZED_MESSAGE = "Client must be authenticated to access this resource."
INT32_MAX = 2**31 - 1


class JsmError(Exception):
    """An error answer. ``shape`` is ``errors`` (``{"errors": [{title, code}]}``), ``unauthorized``
    (``{code, message}``), ``opsgenie`` (``{message, took, requestId}``) or ``jira``
    (``{errorMessages, errors}``)."""

    def __init__(
        self,
        status: int,
        title: str,
        code: str = "",
        shape: str = "errors",
        headers: dict[str, str] | None = None,
        titles: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.code = code or {
            400: "BAD_REQUEST",
            403: "FORBIDDEN",
            404: "NOT_FOUND",
            422: "INVALID_PARAMETER",
            429: "TOO_MANY_REQUESTS",
        }.get(status, "ERROR")
        self.shape = shape
        self.headers = headers or {}
        self.titles = titles

    def body(self, request_id: str, started: float) -> dict[str, Any]:
        if self.shape == "unauthorized":
            return {"code": self.status, "message": self.title}
        if self.shape == "opsgenie":
            return {
                "message": self.title,
                "took": round(time.perf_counter() - started, 3),
                "requestId": request_id,
            }
        if self.shape == "jira":
            return {"errorMessages": [self.title], "errors": {}}
        items = self.titles or [(self.title, self.code)]
        return {"errors": [{"title": t, "code": c} for t, c in items]}


@dataclass(frozen=True)
class JsmAccount:
    email: str
    token: str
    scopes: frozenset[str]


class JsmAccounts:
    """The Atlassian accounts (e-mail + API token) the JSM mode accepts, with their scopes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, JsmAccount] = {}

    def add(self, email: str, token: str, scopes: Iterable[str] = SCOPES) -> None:
        """Accept ``email``/``token`` with ``scopes`` (any of ``alert``, ``config``)."""
        found = frozenset(scopes)
        if found - set(SCOPES):
            raise ValueError(f"unknown scope(s) {sorted(found - set(SCOPES))}; scopes are {SCOPES}")
        if not email or ":" in email or not token:
            raise ValueError("an account needs an e-mail without ':' and a non-empty token")
        with self._lock:
            self._accounts[email.lower()] = JsmAccount(email, token, found)

    def set_scopes(self, email: str, scopes: Iterable[str]) -> None:
        """Change a known account's scopes (KeyError when unknown)."""
        with self._lock:
            account = self._accounts[email.lower()]
            self._accounts[email.lower()] = JsmAccount(
                account.email, account.token, frozenset(scopes)
            )

    def check(self, header: str | None, scope: str | None) -> JsmError | None:
        """None when ``header`` (the Authorization value) is a known account with ``scope``."""
        match = re.match(r"^\s*Basic\s+(\S+)\s*$", header or "", re.IGNORECASE)
        if not match:
            return JsmError(401, UNAUTHORIZED_MESSAGE, shape="unauthorized")
        try:
            decoded = base64.b64decode(match.group(1), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return JsmError(401, UNAUTHORIZED_MESSAGE, shape="unauthorized")
        email, sep, token = decoded.partition(":")
        with self._lock:
            account = self._accounts.get(email.lower())
        if not sep or account is None or account.token != token:
            return JsmError(401, UNAUTHORIZED_MESSAGE, shape="unauthorized")
        if scope is not None and scope not in account.scopes:
            what = "alerts" if scope == "alert" else "operations configuration"
            return JsmError(
                403,
                f"The user is not allowed to read {what}: the {SCOPE_NAMES[scope]} "
                "permission is missing.",
                "FORBIDDEN",
            )
        return None


@dataclass(frozen=True)
class JsmRoute:
    pattern: tuple[str, ...]
    scope: str | None  # None: no authentication (tenant_info); "user": any account
    domain: str | None
    handler: str


_OPS = ("jsm", "ops", "api", "{cloudId}", "v1")
JSM_ROUTES = (
    JsmRoute(("_edge", "tenant_info"), None, None, "tenant_info"),
    JsmRoute((*_OPS, "alerts"), "alert", "search", "list_alerts"),
    JsmRoute((*_OPS, "alerts", "{id}"), "alert", None, "get_alert"),
    JsmRoute((*_OPS, "schedules"), "config", "configuration", "list_schedules"),
    JsmRoute((*_OPS, "schedules", "{id}"), "config", "configuration", "get_schedule"),
    JsmRoute((*_OPS, "schedules", "{id}", "on-calls"), "config", "schedule_oncalls", "on_calls"),
    JsmRoute(
        (*_OPS, "schedules", "{id}", "next-on-calls"), "config", "schedule_oncalls", "next_on_calls"
    ),
    JsmRoute((*_OPS, "schedules", "{id}", "timeline"), "config", "configuration", "timeline"),
    JsmRoute((*_OPS, "teams"), "config", "configuration", "teams"),
    JsmRoute(("rest", "api", "3", "user"), "user", None, "jira_user"),
    JsmRoute(("rest", "api", "3", "user", "bulk"), "user", None, "jira_user_bulk"),
    JsmRoute(("rest", "api", "3", "user", "search"), "user", None, "jira_user_search"),
    JsmRoute(("ex", "jira", "{cloudId}", "rest", "api", "3", "user"), "user", None, "jira_user"),
    JsmRoute(
        ("ex", "jira", "{cloudId}", "rest", "api", "3", "user", "bulk"),
        "user",
        None,
        "jira_user_bulk",
    ),
    JsmRoute(
        ("ex", "jira", "{cloudId}", "rest", "api", "3", "user", "search"),
        "user",
        None,
        "jira_user_search",
    ),
)


def match_jsm_route(segments: list[str]) -> tuple[JsmRoute, dict[str, str]] | None:
    """The JSM route matching decoded path ``segments``, and its captured parameters."""
    for route in JSM_ROUTES:
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


class _Args:
    """Query-parameter checks that collect every problem, answered as one 422 (JSM's shape)."""

    def __init__(self, query: dict[str, list[str]]) -> None:
        self.query = query
        self.problems: list[tuple[str, str]] = []

    def text(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def integer(self, name: str, default: int, lo: int, hi: int | None = None) -> int:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            self.problems.append((f"{name}: must be an integer, not [{raw}]", "INVALID_PARAMETER"))
            return default
        value = int(raw)
        if value < lo or (hi is not None and value > hi):
            span = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            self.problems.append((f"{name}: must be {span}, not {value}", "INVALID_PARAMETER"))
            return default
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        if raw not in allowed:
            self.problems.append(
                (f"{name}: must be one of {', '.join(allowed)}, not [{raw}]", "INVALID_PARAMETER")
            )
            return default
        return raw

    def boolean(self, name: str) -> bool:
        raw = self.text(name)
        if raw is None or raw == "":
            return False
        if raw not in ("true", "false"):
            self.problems.append(
                (f"{name}: must be true or false, not [{raw}]", "INVALID_PARAMETER")
            )
            return False
        return raw == "true"

    def date(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        try:
            return parse_iso(raw, require_time=True)[0]
        except TimeFormatError:
            self.problems.append(
                (
                    f"{name}: must be a date-time like 2024-01-15T08:00:00Z, not [{raw}]",
                    "INVALID_PARAMETER",
                )
            )
            return default

    def listed(self, name: str) -> list[str]:
        return [v.strip() for raw in self.query.get(name, []) for v in raw.split(",") if v.strip()]

    def done(self) -> None:
        if self.problems:
            raise JsmError(422, self.problems[0][0], titles=list(self.problems))


def account_id(user_id: str) -> str:
    """The Atlassian account id under which a seeded user is served."""
    return ACCOUNT_PREFIX + user_id


class JsmApi:
    """JSM Operations and Jira user endpoints over the sandbox's store."""

    def __init__(self, store: SandboxStore, clock: SandboxClock, cloud_id: str) -> None:
        self.store = store
        self.clock = clock
        self.cloud_id = cloud_id
        self.schedules = ScheduleCalculator(store)
        users = store.user_list()
        #: account ids whose e-mail is hidden (profile visibility)
        self.hidden_emails: set[str] = {account_id(users[-1]["id"])} if users else set()

    def handle(self, route: JsmRoute, params: dict[str, str], query: dict[str, list[str]]) -> Any:
        if "cloudId" in params and params["cloudId"] != self.cloud_id:
            raise JsmError(
                404, f"No site with cloud id [{params['cloudId']}] was found.", "NOT_FOUND"
            )
        handler: Callable[[dict[str, str], _Args], Any] = getattr(self, route.handler)
        return handler(params, _Args(query))

    # ------------------------------------------------------------------------------ people
    def _user_by_account(self, acct: str) -> dict | None:
        if not acct.startswith(ACCOUNT_PREFIX):
            return None
        user = self.store.find_user(acct[len(ACCOUNT_PREFIX) :])
        return user if user and user["id"] == acct[len(ACCOUNT_PREFIX) :] else None

    def _acct_of(self, ident: str, kind: str | None) -> str:
        """Account id of a user referred to by OpsGenie id or username; other ids unchanged."""
        if kind != "user":
            return ident
        user = self.store.find_user(ident)
        return account_id(user["id"]) if user else ident

    def jira_user_shape(self, user: dict) -> dict[str, Any]:
        acct = account_id(user["id"])
        out: dict[str, Any] = {
            "self": f"/rest/api/3/user?accountId={quote(acct, safe='')}",
            "accountId": acct,
            "accountType": "atlassian",
            "displayName": user.get("fullName") or user.get("username"),
            "active": not user.get("blocked", False),
            "timeZone": user.get("timeZone"),
            "locale": user.get("locale"),
        }
        if acct not in self.hidden_emails:
            out["emailAddress"] = user.get("username")
        return out

    def jira_user(self, params: dict[str, str], args: _Args) -> Any:
        acct = args.text("accountId")
        if not acct:
            raise JsmError(400, "The accountId query parameter needs to be provided.", shape="jira")
        user = self._user_by_account(acct)
        if user is None:
            raise JsmError(
                404,
                "Specified user does not exist or you do not have required permissions",
                shape="jira",
            )
        return self.jira_user_shape(user)

    def jira_user_bulk(self, params: dict[str, str], args: _Args) -> Any:
        ids = args.query.get("accountId", [])
        start = args.integer("startAt", 0, 0)
        size = args.integer("maxResults", 10, 1, 200)
        if args.problems:
            raise JsmError(400, args.problems[0][0], shape="jira")
        if not ids:
            raise JsmError(400, "At least one accountId must be provided.", shape="jira")
        found = [u for u in (self._user_by_account(a) for a in dict.fromkeys(ids)) if u]
        page = found[start : start + size]
        return {
            "self": "/rest/api/3/user/bulk",
            "maxResults": size,
            "startAt": start,
            "total": len(found),
            "isLast": start + size >= len(found),
            "values": [self.jira_user_shape(u) for u in page],
        }

    def jira_user_search(self, params: dict[str, str], args: _Args) -> Any:
        text = (args.text("query") or "").strip().lower()
        start = args.integer("startAt", 0, 0)
        size = args.integer("maxResults", 50, 1, 1000)
        if args.problems:
            raise JsmError(400, args.problems[0][0], shape="jira")
        if not text:
            raise JsmError(400, "The query parameter 'query' is mandatory.", shape="jira")
        out = []
        for user in self.store.user_list():
            email = str(user.get("username", "")).lower()
            shown_email = account_id(user["id"]) not in self.hidden_emails
            name = str(user.get("fullName", "")).lower()
            if (
                (shown_email and email.startswith(text))
                or any(part.startswith(text) for part in name.split())
                or name.startswith(text)
            ):
                out.append(self.jira_user_shape(user))
        return out[start : start + size]

    # ------------------------------------------------------------------------------ site
    def tenant_info(self, params: dict[str, str], args: _Args) -> Any:
        return {"cloudId": self.cloud_id}

    # ------------------------------------------------------------------------------ alerts
    def alert_shape(self, og: dict[str, Any]) -> dict[str, Any]:
        """An OpsGenie-shaped alert (as the store renders it) in JSM's ``AlertResponse`` shape."""
        status = og.get("status", "open")
        if status == "open" and og.get("snoozed"):
            status = "snoozed"
        elif status == "open" and og.get("acknowledged"):
            status = "acked"
        out: dict[str, Any] = {
            "id": og.get("id"),
            "tinyId": og.get("tinyId"),
            "alias": og.get("alias"),
            "message": og.get("message"),
            "status": status,
            "acknowledged": og.get("acknowledged"),
            "seen": og.get("isSeen", og.get("seen")),
            "tags": og.get("tags") or [],
            "snoozed": og.get("snoozed"),
            "count": og.get("count"),
            "lastOccuredAt": og.get("lastOccurredAt"),
            "createdAt": og.get("createdAt"),
            "updatedAt": og.get("updatedAt"),
            "source": og.get("source"),
            "owner": og.get("owner"),
            "priority": og.get("priority"),
            "responders": [
                {"id": self._acct_of(r.get("id", ""), r.get("type")), "type": r.get("type")}
                for r in og.get("responders") or []
                if isinstance(r, dict)
            ],
            "integrationType": (og.get("integration") or {}).get("type"),
            "integrationName": (og.get("integration") or {}).get("name"),
            "actions": og.get("actions") or [],
        }
        if og.get("snoozedUntil"):
            out["snoozedUntil"] = og["snoozedUntil"]
        for key in ("entity", "description"):
            if key in og:
                out[key] = og[key]
        if "details" in og:
            out["extraProperties"] = {k: str(v) for k, v in (og.get("details") or {}).items()}
        report = og.get("report") or {}
        try:
            created = to_ms(og.get("createdAt"))[0]
        except (TimeFormatError, ValueError, TypeError):
            created = None
        for src, dst in (("ackTime", "ackTime"), ("closeTime", "closeTime")):
            if created is not None and isinstance(report.get(src), int):
                out[dst] = format_ts(created + report[src])
        return out

    def list_alerts(self, params: dict[str, str], args: _Args) -> Any:
        offset = args.integer("offset", 0, 0)
        size = args.integer("size", 20, 1, 100)
        sort = args.choice("sort", "insertedAt", JSM_SORTS)
        order = args.choice("order", "desc", ("asc", "desc"))
        for name in ("from", "to"):  # int32 in the description; accepted, not applied
            args.integer(name, 0, -INT32_MAX - 1, INT32_MAX)
        args.done()
        if offset + size >= MAX_WINDOW:
            raise JsmError(
                422,
                f"Sum of offset and size should be lower than {MAX_WINDOW} "
                f"(offset={offset}, size={size}).",
            )
        query = args.text("query") or ""
        store_sort = "createdAt" if sort == "insertedAt" else sort
        try:
            page, total = self.store.search(query, store_sort, order, offset, size)
        except QueryError as exc:
            raise JsmError(422, str(exc), shape="opsgenie") from None
        links: dict[str, str] = {}
        if offset + size < total and offset + 2 * size < MAX_WINDOW:
            pairs: list[tuple[str, Any]] = [("offset", offset + size), ("size", size)]
            pairs += [(k, v) for k, v in (("sort", sort), ("order", order)) if args.text(k)]
            if args.text("query") is not None:
                pairs.append(("query", query))
            links["next"] = "/v1/alerts?" + urlencode(pairs, quote_via=quote)
        return {"values": [self.alert_shape(a) for a in page], "count": total, "links": links}

    def get_alert(self, params: dict[str, str], args: _Args) -> Any:
        alert = self.store.get_alert(params["id"], "id")
        if alert is None:
            raise JsmError(404, "Alert does not exist", shape="opsgenie")
        return self.alert_shape(alert)

    # ------------------------------------------------------------------------------ schedules
    def _schedule(self, ident: str) -> dict:
        schedule = self.store.find_schedule(ident, "id")
        if schedule is None:
            raise JsmError(404, f"Schedule with id [{ident}] does not exist.", "NOT_FOUND")
        return schedule

    def _participant(self, p: dict) -> dict[str, Any]:
        kind = p.get("type", "user")
        ident = p.get("id") or p.get("username") or p.get("name") or ""
        if kind == "user":
            return {"type": "user", "id": self._acct_of(ident, "user")}
        if kind == "team" and not p.get("id"):
            team = self.store.find_team(name=p.get("name", ""))
            ident = team["id"] if team else ident
        if kind == "none":
            return {"type": "noone"}
        return {"type": kind, "id": ident}

    def schedule_shape(self, schedule: dict, rotations: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": schedule["id"],
            "name": schedule["name"],
            "description": schedule.get("description", ""),
            "timezone": schedule.get("timezone"),
            "enabled": bool(schedule.get("enabled", True)),
        }
        if schedule.get("ownerTeam"):
            out["teamId"] = schedule["ownerTeam"].get("id")
        if rotations:
            out["rotations"] = [
                {
                    k: v
                    for k, v in {
                        "id": r.get("id"),
                        "name": r.get("name"),
                        "startDate": r.get("startDate"),
                        "endDate": r.get("endDate"),
                        "type": r.get("type"),
                        "length": r.get("length"),
                        "participants": [self._participant(p) for p in r.get("participants") or []],
                        "timeRestriction": r.get("timeRestriction"),
                    }.items()
                    if v is not None
                }
                for r in schedule.get("rotations") or []
            ]
        return out

    def list_schedules(self, params: dict[str, str], args: _Args) -> Any:
        size = args.integer("size", 25, 1, 50)
        offset = args.integer("offset", 0, 0)
        expand = args.listed("expand")
        args.done()
        text = args.text("query")
        found = list(self.store.schedule_list())
        if text:
            want = text.lower()
            if want.endswith("*"):
                found = [s for s in found if s["name"].lower().startswith(want[:-1])]
            else:
                found = [s for s in found if s["name"].lower() == want]
        page = found[offset : offset + size]
        links: dict[str, str] = {}
        if offset + size < len(found):
            pairs: list[tuple[str, Any]] = [("offset", offset + size), ("size", size)]
            if text is not None:
                pairs.append(("query", text))
            links["next"] = "/v1/schedules?" + urlencode(pairs, quote_via=quote)
        return {
            "values": [self.schedule_shape(s, "rotation" in expand) for s in page],
            "links": links,
            "_expands": ["rotation"],
        }

    def get_schedule(self, params: dict[str, str], args: _Args) -> Any:
        return self.schedule_shape(self._schedule(params["id"]), True)

    def _node(self, node: dict, child_key: str = "onCallParticipants") -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self._acct_of(node.get("id", ""), node.get("type")),
            "type": node.get("type"),
        }
        if isinstance(node.get("forwardedFrom"), dict):
            source = node["forwardedFrom"]
            out["forwardedFrom"] = {
                "id": self._acct_of(source.get("id", ""), "user"),
                "type": "user",
            }
        children = node.get("onCallParticipants")
        if isinstance(children, list) and children:
            out[child_key] = [self._node(c, child_key) for c in children]
        return out

    def _usernames_to_accounts(self, names: list[str]) -> list[str]:
        return [self._acct_of(n, "user") for n in names]

    def on_calls(self, params: dict[str, str], args: _Args) -> Any:
        schedule = self._schedule(params["id"])
        flat = args.boolean("flat")
        date = args.date("date", self.clock.now_ms())
        args.done()
        data = self.schedules.on_calls(schedule, date, flat)
        if flat:
            return {"onCallUsers": self._usernames_to_accounts(data.get("onCallRecipients") or [])}
        return {"onCallParticipants": [self._node(n) for n in data.get("onCallParticipants") or []]}

    def next_on_calls(self, params: dict[str, str], args: _Args) -> Any:
        schedule = self._schedule(params["id"])
        flat = args.boolean("flat")
        date = args.date("date", self.clock.now_ms())
        args.done()
        data = self.schedules.next_on_calls(schedule, date, flat)
        if flat:
            return {
                "nextOnCallUsers": self._usernames_to_accounts(
                    data.get("exactNextOnCallParticipants") or []
                )
            }
        return {
            "nextOnCallParticipants": [
                self._node(n, "nextOnCallParticipants")
                for n in data.get("exactNextOnCallRecipients") or []
            ]
        }

    def _responder(self, recipient: dict) -> dict[str, Any]:
        kind = recipient.get("type")
        if kind in (None, "none", "noone") or not recipient.get("id"):
            return {"type": "noone"}
        return {"id": self._acct_of(recipient.get("id", ""), kind), "type": kind}

    def _layer(self, layer: dict) -> dict[str, Any]:
        rotations = []
        for rotation in layer.get("rotations") or []:
            periods = []
            for period in rotation.get("periods") or []:
                kind = period.get("type")
                item: dict[str, Any] = {
                    "startDate": period.get("startDate"),
                    "endDate": period.get("endDate"),
                    "type": "base" if kind == "default" else kind,
                    "responder": self._responder(period.get("recipient") or {}),
                }
                if period.get("fromUser"):
                    item["from"] = {
                        "id": self._acct_of(period["fromUser"], "user"),
                        "type": "user",
                        "deleted": False,
                    }
                if "flattenedRecipients" in period:
                    item["flattenedResponders"] = [
                        self._responder(r) for r in period.get("flattenedRecipients") or []
                    ]
                periods.append(item)
            rotations.append(
                {
                    "id": rotation.get("id"),
                    "name": rotation.get("name"),
                    "order": rotation.get("order"),
                    "deleted": False,
                    "periods": periods,
                }
            )
        return {"rotations": rotations}

    def timeline(self, params: dict[str, str], args: _Args) -> Any:
        schedule = self._schedule(params["id"])
        interval = args.integer("interval", 1, 1, 366)
        unit = args.choice("intervalUnit", "weeks", ("days", "weeks", "months"))
        now = self.clock.now_ms()
        date = args.date("date", now)
        expand = set(args.listed("expand"))
        args.done()
        data = self.schedules.timeline(schedule, date, interval, unit, expand, now)
        out: dict[str, Any] = {"startDate": data["startDate"], "endDate": data["endDate"]}
        for key in ("finalTimeline", "baseTimeline", "overrideTimeline", "forwardingTimeline"):
            if key in data:
                out[key] = self._layer(data[key])
        out["_expands"] = ["base", "forwarding", "override"]
        return out

    def teams(self, params: dict[str, str], args: _Args) -> Any:
        return {
            "platformTeams": [{"teamId": t["id"], "teamName": t["name"]} for t in self.store.teams]
        }


class JsmPipeline:
    """Turns a received request into a JSM-mode answer (the RegionServer calls ``serve``)."""

    def __init__(
        self,
        api: JsmApi,
        accounts: JsmAccounts,
        faults: FaultSet,
        rate_limits: RateLimits,
        before_answer: Callable[[str], None],
        requests: list[RequestInfo] | None,
        log: IO[str] | None = None,
    ) -> None:
        self.api = api
        self.accounts = accounts
        self.faults = faults
        self.rate_limits = rate_limits
        self.before_answer = before_answer
        self.requests = requests
        self.log = log
        self.on_request: Callable[[RequestInfo], None] | None = None

    def serve(self, handler: BaseHTTPRequestHandler, region: str) -> None:
        started = time.perf_counter()
        target = handler.path
        raw_path, _, raw_query = target.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        if length > 0:
            handler.rfile.read(length)
        info = RequestInfo(
            method=handler.command,
            path=raw_path,
            query=parse_qs(raw_query, keep_blank_values=True),
            headers={k: v for k, v in handler.headers.items() if k.lower() != "authorization"},
            region=region,
            target=target,
            received_ms=self.api.clock.now_ms(),
            client=(str(handler.client_address[0]), int(handler.client_address[1])),
        )
        if self.requests is not None:
            self.requests.append(info)
        request_id = str(uuid.uuid4())
        body_fault: Fault | None = None
        try:
            if self.on_request is not None:
                self.on_request(info)
            plan = self.faults.draw(raw_path)
            body_fault = plan.body
            if plan.latency:
                time.sleep(plan.latency)
            if plan.replace is not None:
                reply = fault_reply(plan.replace)
            else:
                reply = self._answer(handler, raw_path, info.query, request_id, started)
        except Exception as exc:  # noqa: BLE001 - any failure must still answer, as a 500
            if self.log is not None:
                traceback.print_exc(file=self.log)
            error = JsmError(
                500, f"Internal sandbox error: {type(exc).__name__}: {exc}", "INTERNAL"
            )
            reply = self._error(error, request_id, started)
        if body_fault is None or body_fault.kind != "reset":
            info.status = reply.status
        RequestPipeline._send(handler, reply, body_fault)

    @staticmethod
    def _json(
        status: int, body: Any, request_id: str, headers: dict[str, str] | None = None
    ) -> Reply:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        out = {"Content-Type": JSON_TYPE, "X-Request-ID": request_id}
        out.update(headers or {})
        return Reply(status, data, out)

    def _error(self, error: JsmError, request_id: str, started: float) -> Reply:
        return self._json(error.status, error.body(request_id, started), request_id, error.headers)

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        raw_path: str,
        query: dict[str, list[str]],
        request_id: str,
        started: float,
    ) -> Reply:
        segments = [unquote(s, errors="replace") for s in raw_path.split("/")[1:]]
        found = match_jsm_route(segments)
        if found is None:
            return self._error(
                JsmError(404, "Resource not found.", "NOT_FOUND"), request_id, started
            )
        route, params = found
        if handler.command != "GET":
            error = JsmError(
                405, f"Method {handler.command} is not supported here", "METHOD_NOT_ALLOWED"
            )
            error.headers = {"Allow": "GET"}
            return self._error(error, request_id, started)
        if route.scope is not None:
            failure = self.accounts.check(
                handler.headers.get("Authorization"), None if route.scope == "user" else route.scope
            )
            if failure is not None:
                return self._error(failure, request_id, started)
        if route.domain is not None:
            period = self.rate_limits.acquire(route.domain)
            if period is not None:
                error = JsmError(
                    429,
                    "Too many requests: the rate limit of this site was reached.",
                    headers={"Retry-After": str(period), "X-RateLimit-Reason": "jsm-ops"},
                )
                return self._error(error, request_id, started)
        self.before_answer(raw_path)
        try:
            body = self.api.handle(route, params, query)
        except JsmError as error:
            return self._error(error, request_id, started)
        return self._json(200, body, request_id)


__all__ = [
    "ACCOUNT_PREFIX",
    "JSM_ROUTES",
    "JsmAccounts",
    "JsmApi",
    "JsmError",
    "JsmPipeline",
    "account_id",
]
