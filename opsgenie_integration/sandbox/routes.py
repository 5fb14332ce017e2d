"""The routes of the sandbox's OpsGenie v2 API and the types every endpoint handler shares.

``ROUTES`` lists each endpoint: its path pattern, HTTP method, the access right it needs, its
rate-limit domain and the name of its handler (``api.OpsGenieApi`` or ``alert_api.AlertEndpoints``);
``match_route`` finds the route of a decoded path (literal segments before captures) and
``allowed_methods`` the methods a path serves (none: unknown, answered 404 JSON ``{"message":
"Requested resource does not exist!"}``; a method not among them: 405 with ``Allow``).
``ApiRequest`` is the request as handlers see it, ``ApiError`` an error answer (HTTP status,
message, optional code, ``errors`` and headers). ``Checker`` checks query parameters and raises
one 422 ``{"message": "<param>: <problem>", "errors": {param: problem}}`` for all of them (several
problems: the message joins them with ``; ``); an empty value of a typed parameter (``order=``,
``identifierType=``, ``limit=``, ...) is refused like any other bad value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .timefmt import TimeFormatError, parse_iso


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
    body: bytes = b""
    request_id: str = ""
    client: str = ""
    team: str | None = None  # the team id a team integration's key is limited to
    scheme: str = "http"

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
    rate-limit ``domain``, the ``handler`` method's name and the HTTP ``method`` (a write, any method but GET, answers
    202); ``account_level``: refused (403/40301) to a team integration's key."""

    pattern: tuple[str, ...]
    right: str | None
    domain: str | None
    handler: str
    method: str = "GET"
    account_level: bool = False


ROUTES = (
    Route(("v2", "alerts"), "read", "search", "list_alerts"),
    Route(("v2", "alerts"), "create_update", "alert", "create_alert", "POST"),
    Route(("v2", "alerts", "count"), "read", "search", "count_alerts"),
    Route(("v2", "alerts", "requests", "{requestId}"), "read", None, "request_status"),
    Route(("v2", "alerts", "saved-searches"), "read", "search", "list_saved_searches"),
    Route(("v2", "alerts", "saved-searches", "{identifier}"), "read", "search", "get_saved_search"),
    Route(("v2", "alerts", "{identifier}"), "read", None, "get_alert"),
    Route(("v2", "alerts", "{identifier}"), "delete", "alert", "delete_alert", "DELETE"),
    *(
        Route(
            ("v2", "alerts", "{identifier}", action),
            "create_update",
            "alert",
            "alert_action",
            "POST",
        )
        for action in (
            "acknowledge",
            "unacknowledge",
            "close",
            "snooze",
            "escalate",
            "assign",
            "responders",
            "notes",
            "tags",
            "details",
        )
    ),  # fmt: skip
    Route(("v2", "alerts", "{identifier}", "notes"), "read", "alert", "list_notes"),
    Route(("v2", "alerts", "{identifier}", "logs"), "read", "alert", "list_logs"),
    Route(("v2", "alerts", "{identifier}", "recipients"), "read", "alert", "list_recipients"),
    *(
        Route(
            ("v2", "alerts", "{identifier}", what),
            "create_update",
            "alert",
            "remove_from_alert",
            "DELETE",
        )
        for what in ("tags", "details")
    ),  # fmt: skip
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
    Route(("v2", "users"), "configuration", "search", "list_users", account_level=True),
    Route(
        ("v2", "users", "{identifier}"),
        "configuration",
        "configuration",
        "get_user",
        account_level=True,
    ),
    Route(("v2", "teams"), "configuration", "configuration", "list_teams"),
    Route(("v2", "teams", "{identifier}"), "configuration", "configuration", "get_team"),
    Route(("v2", "escalations"), "configuration", "configuration", "list_escalations"),
    Route(
        ("v2", "escalations", "{identifier}"), "configuration", "configuration", "get_escalation"
    ),
    Route(("v2", "account"), "configuration", "configuration", "get_account", account_level=True),
    Route(("v2", "request-limits", ""), None, None, "request_limits", account_level=True),
    Route(("v2", "request-limits"), None, None, "request_limits", account_level=True),
)


def match_route(
    segments: list[str], method: str | None = None
) -> tuple[Route, dict[str, str]] | None:
    """The route for ``method`` (None: any) on the path of the decoded ``segments``, and its
    captured parameters. The path is the first pattern in ROUTES that matches (literal segments
    before captures: ``/v2/alerts/count`` is never the alert ``count``)."""
    found = _match_pattern(segments)
    if found is None:
        return None
    pattern, params = found
    for route in ROUTES:
        if route.pattern == pattern and (method is None or route.method == method):
            return route, params
    return None


def _match_pattern(segments: list[str]) -> tuple[tuple[str, ...], dict[str, str]] | None:
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
            return route.pattern, params
    return None


def allowed_methods(segments: list[str]) -> list[str]:
    """The methods served on the path of ``segments`` (empty: an unknown path)."""
    found: list[str] = []
    for method in ("GET", "POST", "DELETE"):
        if match_route(segments, method) is not None:
            found.append(method)
    return found


class Checker:
    """Collects parameter problems and raises one 422 (or ``done``'s status) with all of them.
    An empty value is a bad value (only an absent parameter takes the default)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, name: str, problem: str) -> None:
        self.errors.setdefault(name, problem)

    def integer(
        self, req: ApiRequest, name: str, default: int, lo: int, hi: int | None = None
    ) -> int:
        raw = req.arg(name)
        if raw is None:
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
        if raw is None:
            return default
        if raw not in allowed:
            self.fail(name, f"must be one of {', '.join(allowed)}, not [{raw}]")
            return default
        return raw

    def boolean(self, req: ApiRequest, name: str) -> bool:
        raw = req.arg(name)
        if raw is None:
            return False
        if raw.lower() not in ("true", "false"):
            self.fail(name, f"must be true or false, not [{raw}]")
            return False
        return raw.lower() == "true"

    def date(self, req: ApiRequest, name: str, default: int) -> int:
        raw = req.arg(name)
        if raw is None:
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

    def done(self, status: int = 422) -> None:
        if self.errors:
            message = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
            raise ApiError(status, message, errors=dict(self.errors))


_Checker = Checker  # the name other modules and branches use
