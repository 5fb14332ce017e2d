"""Jira Service Management (JSM) Operations: the second implementation of the backend seam.

Endpoints (``https://api.atlassian.com`` by default, ``{cloudId}`` read once from the site):

- ``GET {site}/_edge/tenant_info`` -> ``{"cloudId"}`` (when the connection gives ``site``);
- ``GET {api}/jsm/ops/api/{cloudId}/v1/alerts`` (``size``, ``offset``, ``query``, ``sort``,
  ``order``), ``.../v1/schedules`` (``query``, ``size``, ``offset``), ``.../v1/schedules/{id}/
  on-calls|next-on-calls|timeline``, ``.../v1/teams``;
- the Jira user API: ``{site}/rest/api/3/user?accountId=``, ``.../user/bulk?accountId=...``,
  ``.../user/search?query=`` (without a site: ``{api}/ex/jira/{cloudId}/rest/api/3/...``).

Authentication is HTTP Basic with the Atlassian account e-mail and an API token. Answers are
translated to OpsGenie's shapes (see ``base.py``); errors become the exceptions of ``errors.py``
from each of JSM's error bodies: ``{"errors": [{"title", "code"}]}``, 401 ``{"code", "message"}``,
the OpsGenie-style ``{"message", "took", "requestId"}`` its alert endpoints return, and the Jira
user API's ``{"errorMessages": [...], "errors": {...}}``. 429 and 5xx on GET are retried as for
OpsGenie (``retry.py``: ``Retry-After`` honoured, bounded in attempts and time).

Differences from OpsGenie that callers see (documented in the README's migration section):
people are Atlassian account ids (``id``), named by e-mail where the profile shows it, else by
display name; schedules are addressed by id, so a name is looked up first (exact match,
case-insensitive as JSM matches; two schedules with one name is an error); alert ``status`` may be
``acked``, ``snoozed`` or ``resolved``; there is no account endpoint.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import requests

from .. import errors
from ..client import ALERT_PAGING_CAP, OpsGenieClient
from ..network import NetworkSettings
from ..redact import Redactor
from ..urls import encode_segment, normalize_server_url
from .base import NotSupportedError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.atlassian.com"
OPS_PREFIX = ("jsm", "ops", "api")
SCHEDULE_PAGE = 50
USER_BULK_MAX = 100
#: JSM's alert sort fields (no updatedAt).
JSM_ALERT_SORTS = ("createdAt", "insertedAt", "lastOccurredAt", "priority")
ALERT_SCOPE = "read:ops-alert:jira-service-management"
CONFIG_SCOPE = "read:ops-config:jira-service-management"

#: The three bases a path may start from (first element of ``segments`` given to ``get``).
OPS, SITE, JIRA = "@ops", "@site", "@jira"

_HINTS = {
    400: "Check the command inputs.",
    401: "Check Email and API Token (an Atlassian API token of that account, "
    "id.atlassian.com > Security > API tokens) and the Site.",
    403: "The account lacks a Jira Service Management permission this call needs (alerts: "
    f"{ALERT_SCOPE}; schedules, on-calls and teams: {CONFIG_SCOPE}).",
    404: "Check the name or id, and the Site or Cloud ID.",
    422: "Jira Service Management refused a parameter or the search query.",
    429: "Jira Service Management's rate limit was reached and the retries ran out; try again later.",
}


def _error_texts(body: Any) -> tuple[str | None, int | None, Any, str | None]:
    """(message, numeric code, errors, request id) from any of JSM's error bodies."""
    if isinstance(body, dict):
        items = body.get("errors")
        if isinstance(items, list) and items:
            titles = [
                str(i.get("title") or i.get("detail") or i.get("code"))
                for i in items
                if isinstance(i, dict) and (i.get("title") or i.get("detail") or i.get("code"))
            ]
            if titles:
                return "; ".join(titles), None, items, None
        messages = body.get("errorMessages")
        if isinstance(messages, list) and messages:
            field_errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
            text = "; ".join(str(m) for m in messages)
            if field_errors:
                text += "; " + "; ".join(f"{k}: {v}" for k, v in field_errors.items())
            return text, None, field_errors or None, None
        if isinstance(body.get("errors"), dict) and body["errors"]:
            return (
                "; ".join(f"{k}: {v}" for k, v in body["errors"].items()),
                None,
                body["errors"],
                None,
            )
        message = body.get("message") if isinstance(body.get("message"), str) else None
        code = body.get("code") if isinstance(body.get("code"), int) else None
        request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
        return message, code, None, request_id
    return None, None, None, None


def basic_credentials(email: str, api_token: str) -> str:
    """The base64 text of ``Authorization: Basic`` for ``email`` and ``api_token`` (a secret)."""
    return base64.b64encode(f"{email.strip()}:{api_token}".encode()).decode("ascii")


class JsmClient(OpsGenieClient):
    """HTTP transport to one JSM Operations site (the OpsGenie client's transport, timeouts,
    retries and body limits, with Basic authentication and JSM's bases and error bodies).

    Args:
        email: the Atlassian account e-mail; api_token: its API token (the literal).
        site: ``https://<name>.atlassian.net`` (cloud id and Jira user API), or None.
        cloud_id: the cloud id, or None to read it from ``site``.
        api_url: the API gateway, ``https://api.atlassian.com`` (http only for loopback).
        timeout, max_retry_time, session, network, redactor: as for ``OpsGenieClient`` (the
            proxy and CA bundle serve the site too; the redactor hides the token and the Basic
            credentials in quoted answers).

    Raises:
        ValueError: neither site nor cloud id, a bad URL, an empty e-mail or token.
    """

    SERVICE = "Jira Service Management"

    def __init__(
        self,
        *,
        email: str,
        api_token: str,
        site: str | None = None,
        cloud_id: str | None = None,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        max_retry_time: float = 60.0,
        session: requests.Session | None = None,
        network: NetworkSettings | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        if not site and not cloud_id:
            raise ValueError("give the Site (https://<name>.atlassian.net) or the Cloud ID")
        if not email or not isinstance(email, str) or ":" in email or not email.strip():
            raise ValueError("Email must be the Atlassian account's e-mail address")
        if redactor is None:
            redactor = Redactor([api_token, basic_credentials(email, api_token)])
        super().__init__(
            api_url,
            api_token,
            "v1",
            timeout=timeout,
            max_retry_time=max_retry_time,
            session=session,
            network=network,
            redactor=redactor,
        )
        self.email = email.strip()
        self.site = normalize_server_url(site) if site else None
        self._cloud_id = cloud_id.strip() if cloud_id else None
        if self._cloud_id is not None and (not self._cloud_id or "/" in self._cloud_id):
            raise ValueError("Cloud ID must be the site's cloud id (a UUID)")
        credentials = basic_credentials(email, api_token)
        self.session.headers["Authorization"] = f"Basic {credentials}"

    @property
    def cloud_id(self) -> str:
        """The site's cloud id (read once from ``{site}/_edge/tenant_info`` when not given).

        Raises:
            errors.BadResponseError: the site answered without a cloud id.
        """
        if self._cloud_id is None:
            body = self.get([SITE, "_edge", "tenant_info"])
            cloud_id = body.get("cloudId") if isinstance(body, dict) else None
            if not isinstance(cloud_id, str) or not cloud_id.strip() or "/" in cloud_id:
                raise errors.BadResponseError(
                    f"{self.site}/_edge/tenant_info answered without a cloudId.",
                    status_code=200,
                    path="/_edge/tenant_info",
                    hint="Check the Site (https://<name>.atlassian.net), or give the Cloud ID.",
                )
            self._cloud_id = cloud_id.strip()
        return self._cloud_id

    def url_for(self, segments: Iterable[str]) -> str:
        """Absolute URL: the first segment names the base (``@ops``: ``{api}/jsm/ops/api/
        {cloudId}/v1``, ``@site``: the site, ``@jira``: the Jira REST API); the others are each
        percent-encoded as one segment."""
        parts = [str(s) for s in segments]
        base, rest = parts[0], parts[1:]
        path = "/".join(encode_segment(s) for s in rest)
        if base == OPS:
            prefix = "/".join(OPS_PREFIX)
            return f"{self.base_url}/{prefix}/{encode_segment(self.cloud_id)}/v1/{path}"
        if base == SITE:
            if self.site is None:
                raise ValueError("no Site was given")
            return f"{self.site}/{path}"
        if base == JIRA:
            if self.site is not None:
                return f"{self.site}/rest/api/3/{path}"
            return f"{self.base_url}/ex/jira/{encode_segment(self.cloud_id)}/rest/api/3/{path}"
        raise ValueError(f"unknown base {base!r}")

    def get(self, segments: list[str], params: Any = None) -> Any:  # type: ignore[override]
        """GET and decode; a JSON object or list. Raises as ``OpsGenieClient.get``."""
        return super().get(segments, params)

    def _decode(  # type: ignore[override]
        self,
        response: requests.Response,
        raw: bytes,
        path: str,
        retried: int = 0,
        method: str = "GET",
    ) -> Any:
        status = response.status_code
        if status == 407:  # a proxy answering an http:// request in absolute form
            raise self._proxy_error(OSError("Tunnel connection failed: 407"))
        raw = self._hidden(raw)  # the token and the Basic credentials are never quoted
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                body = None
        header_request_id = response.headers.get("X-Request-ID") or response.headers.get(
            "ATL-TraceId"
        )
        if 200 <= status < 300:
            if isinstance(body, (dict, list)):
                return body
            what = "an empty body" if not raw.strip() else "a body that is not JSON"
            raise errors.BadResponseError(
                f"Jira Service Management answered {status} to {method} {path} with {what}.",
                status_code=status,
                request_id=header_request_id,
                path=path,
                hint="A proxy may stand in front of the Site or API URL; check them.",
            )
        cls, _ = errors.error_class_for_status(status)
        message, code, errs, request_id = _error_texts(body)
        if not message:
            text = raw[:200].decode("utf-8", "replace").strip()
            if not text:
                message = f"HTTP {status} {response.reason or 'error'} with an empty body."
            elif "html" in response.headers.get("Content-Type", "").lower() or text.startswith("<"):
                message = (
                    f"HTTP {status} {response.reason or 'error'}: an HTML page instead of "
                    "Jira Service Management's JSON (a proxy or gateway answered)."
                )
            else:
                message = (
                    f"HTTP {status} {response.reason or 'error'}: {' '.join(text.split())[:80]}"
                )
        hint = _HINTS.get(status)
        if 500 <= status <= 599:
            hint = (
                "Jira Service Management or a proxy failed; "
                f"{self._retries_said(retried)} Try again later."
            )
        if 300 <= status < 400:
            message = f"HTTP {status}: Jira Service Management does not redirect this call."
            hint = "Check the Site and the API URL."
        kwargs: dict[str, Any] = {}
        if cls is errors.RateLimitedError:
            value = response.headers.get("Retry-After")
            try:
                kwargs["retry_after"] = float(value) if value else None
            except ValueError:
                kwargs["retry_after"] = None
            kwargs["reason"] = response.headers.get("X-RateLimit-Reason") or None
            hint = self._rate_limit_hint(kwargs["retry_after"], kwargs["reason"], retried)
        raise cls(
            message,
            status_code=status,
            code=code,
            errors=errs,
            request_id=request_id or header_request_id,
            body=body if isinstance(body, dict) else None,
            path=path,
            hint=hint,
            **kwargs,
        )


def _values(body: Any, path: str) -> list:
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise errors.BadResponseError(
            f"Jira Service Management answered GET {path} without a list in values.",
            status_code=200,
            path=path,
        )
    return values


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class JsmBackend:
    """The backend seam over JSM Operations (see the module text). ``client`` is a JsmClient."""

    platform = "jsm"
    credential = "account"
    service = "Jira Service Management"
    #: the rights as JSM names them (its permissions)
    right_labels = {"read": ALERT_SCOPE, "configuration": CONFIG_SCOPE}
    #: what ``list_alerts`` can sort by (no updatedAt: Fetch Event reads its window in passes)
    alert_sort_fields = JSM_ALERT_SORTS
    rights_hint = (
        "Give the Atlassian account the missing Jira Service Management permissions (alerts: "
        f"{ALERT_SCOPE}; schedules, on-calls and teams: {CONFIG_SCOPE}), for example by adding it to "
        "the operations team that owns them."
    )

    def __init__(self, client: JsmClient) -> None:
        self.client = client
        self.base_url = client.base_url
        self._people: dict[str, dict[str, Any]] = {}
        self._schedule_ids: dict[str, dict[str, Any]] = {}
        self._teams: dict[str, str] | None = None
        self._schedule_names: dict[str, Any] | None = None
        self._flat_ahead: dict[tuple, dict] = {}
        #: JSM answers received by the current command, in order (``raw`` of the results).
        self.answers: list[Any] = []

    # -- the seam: housekeeping -----------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        """OpsGenie-only client methods (``get_account``, alert actions...): a call raises
        ``NotSupportedError`` naming it; nothing is sent."""
        if name.startswith("_") or not callable(getattr(OpsGenieClient, name, None)):
            raise AttributeError(name)

        def unsupported(*args: Any, **kwargs: Any) -> Any:
            what = name.replace("_", " ")
            if name == "request" and len(args) >= 2 and isinstance(args[1], (list, tuple)):
                what = f"{args[0]} /v2/{'/'.join(str(s) for s in args[1][:1])}/..."
            raise NotSupportedError(
                f"{what} has no equivalent in the Jira Service Management Operations read API "
                "this module uses (alert writes and OpsGenie-only reads are not available there).",
                hint="Run this command against an OpsGenie connection (platform: opsgenie).",
            )

        return unsupported

    def account(self, body: dict) -> dict[str, Any]:
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        return {"name": data.get("name"), "plan": None}

    def begin_command(self) -> None:
        self._people.clear()
        self._schedule_ids.clear()
        self._teams = None
        self._schedule_names = None
        self._flat_ahead.clear()
        self.answers = []

    def close(self) -> None:
        self.client.close()

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    @property
    def last_rate_limit(self) -> dict[str, str]:
        return self.client.last_rate_limit

    @property
    def network(self) -> Any:
        """The proxy, CA bundle and verification of the connection (``network.NetworkSettings``)."""
        return self.client.network

    def url_for(self, segments: Iterable[str]) -> str:
        return self.client.url_for([OPS, *segments])

    def _get(self, segments: list[str], params: dict[str, Any] | None = None) -> Any:
        body = self.client.get(segments, params)
        self.answers.append(body)
        return body

    def probes(self) -> dict[str, tuple[str, Callable[[], dict]]]:
        """Test Connection's probes (probe -> (request shown, call)): the account by
        ``GET /v1/teams`` (the configuration permission; the cloud id is read first), then
        ``GET /v1/alerts?size=1``, ``GET /v1/schedules?size=1`` and the Jira user search for
        the connection's own e-mail."""
        return {
            "account": ("GET /v1/teams", self._probe_account),
            "alerts": ("GET /v1/alerts?size=1", self._probe_alerts),
            "schedules": ("GET /v1/schedules?size=1", self._probe_schedules),
            "users": ("GET /rest/api/3/user/search", self._probe_users),
        }

    def _probe_account(self) -> dict:
        body = self._get([OPS, "teams"])
        teams = body.get("platformTeams") if isinstance(body, dict) else None
        if not isinstance(teams, list):
            raise errors.BadResponseError(
                "Jira Service Management answered GET /v1/teams without platformTeams.",
                status_code=200,
                path="/v1/teams",
            )
        site = self.client.site or f"cloud id {self.client.cloud_id}"
        return {"data": {"name": site, "cloudId": self.client.cloud_id, "teams": len(teams)}}

    def _probe_alerts(self) -> dict:
        body = self._get([OPS, "alerts"], {"size": 1})
        return {"data": _values(body, "/v1/alerts"), "count": body.get("count")}

    def _probe_schedules(self) -> dict:
        body = self._get([OPS, "schedules"], {"size": 1})
        return {"data": _values(body, "/v1/schedules")}

    def _probe_users(self) -> dict:
        found = self._get([JIRA, "user", "search"], {"query": self.client.email, "maxResults": 1})
        return {"data": found if isinstance(found, list) else []}

    def connection_hint(self, error: errors.OpsGenieIntegrationError, shown: str) -> str | None:
        """What to check when Test Connection's probe ``shown`` met ``error``."""
        where = self.client.site or f"cloud id {self.client._cloud_id}"
        if isinstance(error, errors.AuthenticationError):
            return (
                f"{where} does not accept this Email and API Token: check both (an API token of that "
                "Atlassian account), and that the Site is the one the account belongs to."
            )
        if isinstance(error, errors.NotFoundError):
            return (
                f"{shown} was not found for {where}: check the Site or Cloud ID, and that Jira "
                "Service Management Operations is enabled on the site."
            )
        return None

    # -- alerts ---------------------------------------------------------------------------

    def list_alerts(
        self,
        *,
        query: str | None = None,
        offset: int = 0,
        limit: int = 20,
        sort: str = "createdAt",
        order: str = "desc",
    ) -> dict:
        """``GET /v1/alerts``: ``{"data": [alert as JSM answered it], "count", "links"}``.

        Raises:
            ValueError: ``size`` outside 1..100, ``offset + size`` reaching 20,000.
            NotSupportedError: a sort field JSM does not have (``updatedAt`` among them).
        """
        if not 1 <= limit <= 100 or offset < 0:
            raise ValueError("limit must be 1..100 and offset >= 0")
        if offset + limit >= ALERT_PAGING_CAP:
            raise ValueError(f"offset + size must stay below {ALERT_PAGING_CAP}")
        if order not in ("asc", "desc"):
            raise ValueError("order must be asc or desc")
        if sort not in JSM_ALERT_SORTS:
            raise NotSupportedError(
                f"Jira Service Management sorts alerts only by {', '.join(JSM_ALERT_SORTS)}, "
                f"not by {sort}.",
                hint="Run this command against an OpsGenie connection (platform: opsgenie).",
            )
        params = {
            "query": query or None,
            "offset": offset,
            "size": limit,
            "sort": sort,
            "order": order,
        }
        body = self._get([OPS, "alerts"], params)
        return {
            "data": _values(body, "/v1/alerts"),
            "count": body.get("count"),
            "links": body.get("links"),
        }

    def get_alert(self, identifier: str) -> dict:
        """``GET /v1/alerts/{id}`` (Fetch Event's Enrich): ``{"data": the alert as answered}``."""
        body = self._get([OPS, "alerts", identifier])
        if not isinstance(body, dict):
            raise errors.BadResponseError(
                "Jira Service Management answered GET /v1/alerts/{id} without an alert.",
                status_code=200,
                path="/v1/alerts/{id}",
            )
        return {"data": body}

    # -- people ---------------------------------------------------------------------------

    def resolve_people(self, account_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{account id: {name, displayName, email?}}`` of the people asked for, through one
        ``GET /rest/api/3/user/bulk`` call per 100 ids not resolved yet in this command (ids the
        API does not return stay unresolved: ``name`` is the id)."""
        wanted = [a for a in dict.fromkeys(account_ids) if a and a not in self._people]
        for start in range(0, len(wanted), USER_BULK_MAX):
            chunk = wanted[start : start + USER_BULK_MAX]
            body = self._get(
                [JIRA, "user", "bulk"], {"accountId": chunk, "maxResults": USER_BULK_MAX}
            )
            for user in _values(body, "/rest/api/3/user/bulk"):
                if isinstance(user, dict) and isinstance(user.get("accountId"), str):
                    self._people[user["accountId"]] = self._person(user)
        return {
            a: self._people.get(a, {"name": a, "displayName": None})
            for a in dict.fromkeys(account_ids)
        }

    @staticmethod
    def _person(user: dict) -> dict[str, Any]:
        email = _text(user.get("emailAddress"))
        display = _text(user.get("displayName"))
        person: dict[str, Any] = {
            "name": email or display or user.get("accountId"),
            "displayName": display,
        }
        if email:
            person["email"] = email
        return person

    def get_user(self, identifier: str, *, expand_contacts: bool = False) -> dict:
        """Get Single User through the Jira user API: an e-mail (contains ``@``) by
        ``GET /rest/api/3/user/search?query=`` (exact e-mail match), else an account id by
        ``GET /rest/api/3/user?accountId=``. ``data`` is OpsGenie-shaped: ``{id (account id),
        username (e-mail, when visible), fullName, timeZone, locale, blocked, accountType}``.

        Raises:
            errors.NotFoundError: no such person (or their e-mail is hidden from this account).
        """
        if "@" in identifier:
            found = self._get([JIRA, "user", "search"], {"query": identifier, "maxResults": 50})
            if not isinstance(found, list):
                raise errors.BadResponseError(
                    "The Jira user search answered without a list of users.",
                    status_code=200,
                    path="/rest/api/3/user/search",
                )
            matches = [
                u
                for u in found
                if isinstance(u, dict)
                and str(u.get("emailAddress", "")).lower() == identifier.lower()
            ]
            if not matches:
                raise errors.NotFoundError(
                    f"No Atlassian account with the e-mail address {identifier} is visible to this "
                    "account.",
                    status_code=404,
                    path="/rest/api/3/user/search",
                    hint="Check the address, or give the account id: a person may hide their e-mail.",
                )
            user = matches[0]
        else:
            user = self._get([JIRA, "user"], {"accountId": identifier})
            if not isinstance(user, dict):
                raise errors.BadResponseError(
                    "The Jira user API answered without a user.",
                    status_code=200,
                    path="/rest/api/3/user",
                )
        return {"data": self._user_shape(user)}

    @staticmethod
    def _user_shape(user: dict) -> dict[str, Any]:
        return {
            "id": user.get("accountId"),
            "username": user.get("emailAddress"),
            "fullName": user.get("displayName"),
            "timeZone": user.get("timeZone"),
            "locale": user.get("locale"),
            "blocked": not user.get("active", True),
            "accountType": user.get("accountType"),
        }

    # -- schedules ------------------------------------------------------------------------

    def _all_schedules(self, query: str | None, expand_rotations: bool = False) -> list[dict]:
        found: list[dict] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"size": SCHEDULE_PAGE, "offset": offset}
            if query is not None:
                params["query"] = query
            if expand_rotations:
                params["expand"] = "rotation"
            body = self._get([OPS, "schedules"], params)
            values = _values(body, "/v1/schedules")
            found.extend(v for v in values if isinstance(v, dict))
            links = body.get("links") if isinstance(body.get("links"), dict) else {}
            if not values or not links.get("next") or len(found) > 10_000:
                return found
            offset += len(values)

    def _schedule_shape(self, schedule: dict) -> dict[str, Any]:
        out = {
            "id": schedule.get("id"),
            "name": schedule.get("name"),
            "description": schedule.get("description"),
            "timezone": schedule.get("timezone"),
            "enabled": schedule.get("enabled"),
        }
        if schedule.get("teamId"):
            out["ownerTeam"] = {
                "id": schedule["teamId"],
                "name": self._team_name(schedule["teamId"]),
            }
        if "rotations" in schedule:
            out["rotations"] = schedule["rotations"]
        return out

    def _team_name(self, team_id: str) -> str | None:
        if self._teams is None:
            body = self._get([OPS, "teams"])
            teams = body.get("platformTeams") if isinstance(body, dict) else None
            self._teams = {
                t["teamId"]: t.get("teamName")
                for t in teams or []
                if isinstance(t, dict) and isinstance(t.get("teamId"), str)
            }
        return self._teams.get(team_id)

    def list_schedules(self, *, expand_rotations: bool = False) -> dict:
        """Every schedule (``GET /v1/schedules``, paged by 50), OpsGenie-shaped: ``{id, name,
        description, timezone, enabled, ownerTeam?: {id, name}}``."""
        schedules = self._all_schedules(None, expand_rotations)
        return {"data": [self._schedule_shape(s) for s in schedules]}

    def schedule_by_name(self, name: str) -> dict[str, Any]:
        """The schedule named ``name`` (``GET /v1/schedules?query=<name>``, paged; exact match).

        Raises:
            errors.NotFoundError: no schedule has that name.
            errors.BadRequestError: two or more schedules have that name.
        """
        if name in self._schedule_ids:
            return self._schedule_ids[name]
        if name.endswith("*"):
            raise errors.NotFoundError(
                f"Schedule names ending with '*' cannot be looked up in Jira Service Management "
                f"(it reads a trailing * as a prefix search): {name!r}.",
                status_code=None,
                path="/v1/schedules",
            )
        found = self._all_schedules(name)
        exact = [s for s in found if s.get("name") == name]
        matches = exact or [s for s in found if str(s.get("name", "")).lower() == name.lower()]
        if not matches:
            raise errors.NotFoundError(
                f"Schedule with name [{name}] does not exist.",
                status_code=404,
                path="/v1/schedules",
                hint="Names are matched exactly; Get Schedules lists them.",
            )
        if len(matches) > 1:
            ids = ", ".join(str(s.get("id")) for s in matches)
            raise errors.BadRequestError(
                f"{len(matches)} schedules are named {name!r} (ids {ids}); Jira Service Management "
                "addresses schedules by id, so the name does not say which one.",
                status_code=None,
                path="/v1/schedules",
                hint="Rename one of the schedules in Jira Service Management.",
            )
        self._schedule_ids[name] = matches[0]
        return matches[0]

    def get_schedule(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """A schedule by name (looked up) or id with its rotations: ``GET /v1/schedules/{id}``;
        ``data`` OpsGenie-shaped (``ownerTeam`` from ``teamId``)."""
        schedule_id, _ = self._schedule_id(identifier, identifier_type)
        body = self._get([OPS, "schedules", schedule_id])
        if not isinstance(body, dict):
            raise errors.BadResponseError(
                "Jira Service Management's schedule is not an object.", status_code=200
            )
        return {"data": self._schedule_shape(body)}

    def get_next_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """Next on-calls by schedule name (looked up) or id: ``GET /v1/schedules/{id}/
        next-on-calls``. JSM gives one list (who is on call at the next change), served as both
        of OpsGenie's: ``{_parent, exactNextOnCallRecipients, nextOnCallRecipients}`` (trees,
        people resolved in one bulk call) or, flat, ``{_parent, exactNextOnCallParticipants,
        nextOnCallParticipants}`` (names)."""
        schedule_id, parent = self._schedule_id(identifier, identifier_type)
        params: dict[str, Any] = {
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        body = self._get([OPS, "schedules", schedule_id, "next-on-calls"], params)
        if not isinstance(body, dict):
            raise errors.BadResponseError(
                "Jira Service Management's next on-call answer is not an object.", status_code=200
            )
        if flat:
            ids = [a for a in body.get("nextOnCallUsers") or [] if isinstance(a, str)]
            people = self.resolve_people(ids)
            names = [people[a]["name"] for a in ids]
            data = {"_parent": parent, "exactNextOnCallParticipants": names,
                    "nextOnCallParticipants": list(names)}  # fmt: skip
            return {"data": data}
        tree = body.get("nextOnCallParticipants")
        if tree is not None and not isinstance(tree, list):
            raise errors.BadResponseError(
                "Jira Service Management's next on-call answer has no list of participants.",
                status_code=200,
            )
        people = self.resolve_people(list(self._user_ids(tree or [], "nextOnCallParticipants")))
        nodes = [
            self._participant(n, people, "nextOnCallParticipants")
            for n in tree or []
            if isinstance(n, dict)
        ]
        return {
            "data": {
                "_parent": parent,
                "exactNextOnCallRecipients": nodes,
                "nextOnCallRecipients": [dict(n) for n in nodes],
            }
        }

    def list_on_calls(self, *, flat: bool | None = None, date: str | None = None) -> dict:
        """On-calls of every schedule (JSM has no such endpoint: ``GET /v1/schedules``, then
        ``GET /v1/schedules/{id}/on-calls`` for each), people resolved in one bulk call:
        ``{"data": [{_parent, onCallParticipants}]}`` or, flat, ``[{_parent,
        onCallRecipients}]``."""
        schedules = self._all_schedules(None)
        answers = []
        for schedule in schedules:
            if not schedule.get("id"):
                continue
            parent = {"id": schedule.get("id"), "name": schedule.get("name"),
                      "enabled": schedule.get("enabled")}  # fmt: skip
            answers.append((parent, self._on_calls(str(schedule["id"]), flat, date)))
        ids: list[str] = []
        for _, body in answers:
            if flat:
                ids += self._flat_ids(body)
            else:
                ids += list(
                    self._user_ids(body.get("onCallParticipants") or [], "onCallParticipants")
                )
        people = self.resolve_people(ids)
        data = []
        for parent, body in answers:
            if flat:
                names = [people[a]["name"] for a in self._flat_ids(body)]
                data.append({"_parent": parent, "onCallRecipients": names})
            else:
                tree = body.get("onCallParticipants")
                nodes = [
                    self._participant(n, people, "onCallParticipants")
                    for n in (tree if isinstance(tree, list) else [])
                    if isinstance(n, dict)
                ]
                data.append({"_parent": parent, "onCallParticipants": nodes})
        return {"data": data}

    # -- teams ------------------------------------------------------------------------------

    def list_teams(self) -> dict:
        """``GET /v1/teams``: ``{"data": [{id, name}]}`` (JSM lists no description or members)."""
        self._team_name("")  # reads and caches /v1/teams
        return {"data": [{"id": k, "name": v} for k, v in (self._teams or {}).items()]}

    def get_team(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """A team by name or id from ``GET /v1/teams`` (no members: JSM's read API has none).

        Raises:
            errors.NotFoundError: no such team.
        """
        for team in self.list_teams()["data"]:
            if (identifier_type == "id" and team["id"] == identifier) or (
                identifier_type != "id" and team["name"] == identifier
            ):
                return {"data": team}
        raise errors.NotFoundError(
            f"Team with {identifier_type} [{identifier}] does not exist.",
            status_code=404,
            path="/v1/teams",
        )

    def _schedule_id(self, identifier: str, identifier_type: str) -> tuple[str, dict[str, Any]]:
        if identifier_type == "id":
            return identifier, {"id": identifier, "name": None, "enabled": None}
        schedule = self.schedule_by_name(identifier)
        parent = {
            "id": schedule.get("id"),
            "name": schedule.get("name"),
            "enabled": schedule.get("enabled"),
        }
        return str(schedule.get("id")), parent

    def get_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """On-calls by schedule name (looked up) or id: ``GET /v1/schedules/{id}/on-calls``.

        ``data`` is OpsGenie-shaped: ``{_parent: {id, name, enabled}, onCallParticipants: [{id,
        name, type, onCallParticipants?, forwardedFrom?}]}`` (a user's ``id`` is the account id,
        ``name`` the e-mail or display name from one bulk user call) or, with ``flat``,
        ``{_parent, onCallRecipients: [name], onCallAccountIds: [id]}``.
        """
        schedule_id, parent = self._schedule_id(identifier, identifier_type)
        body = self._on_calls(schedule_id, flat, date)
        if flat:
            ids = self._flat_ids(body)
            people = self.resolve_people(ids)
            data = {
                "_parent": parent,
                "onCallRecipients": [people[a]["name"] for a in ids],
                "onCallAccountIds": ids,
            }
            return {"data": data}
        tree = body.get("onCallParticipants")
        if tree is not None and not isinstance(tree, list):
            raise errors.BadResponseError(
                "Jira Service Management's on-call answer has no list of participants.",
                status_code=200,
            )
        ids = list(self._user_ids(tree or [], "onCallParticipants"))
        if self._lists_groups_without_members(tree or []):
            # a group listed without its members: the flat list is asked for next, so read it
            # now and resolve everybody in one bulk user call for the command
            ids += self._flat_ids(self._on_calls(schedule_id, True, date, ahead=True))
        people = self.resolve_people(ids)
        nodes = [
            self._participant(n, people, "onCallParticipants")
            for n in tree or []
            if isinstance(n, dict)
        ]
        return {"data": {"_parent": parent, "onCallParticipants": nodes}}

    def _on_calls(
        self, schedule_id: str, flat: bool | None, date: str | None, *, ahead: bool = False
    ) -> dict:
        """``GET /v1/schedules/{id}/on-calls``. ``ahead``: a flat answer read before the command
        asks for it, remembered and given once to that request instead of asking again."""
        key = (schedule_id, date)
        if flat and not ahead and key in self._flat_ahead:
            return self._flat_ahead.pop(key)
        params: dict[str, Any] = {
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        body = self._get([OPS, "schedules", schedule_id, "on-calls"], params)
        if not isinstance(body, dict):
            raise errors.BadResponseError(
                "Jira Service Management's on-call answer is not an object.", status_code=200
            )
        if ahead:
            self._flat_ahead[key] = body
        return body

    def _lists_groups_without_members(self, nodes: Any, depth: int = 0) -> bool:
        """Whether the tree names a team, escalation or schedule without its members (at any
        depth): Get On-call User then asks for the flat list too."""
        if not isinstance(nodes, list) or depth > 50:
            return False
        for node in nodes:
            if not isinstance(node, dict):
                continue
            children = node.get("onCallParticipants")
            if isinstance(children, list) and children:
                if self._lists_groups_without_members(children, depth + 1):
                    return True
            elif node.get("type") not in (None, "user", "none", "noone"):
                return True
        return False

    @staticmethod
    def _flat_ids(body: dict) -> list[str]:
        return [a for a in body.get("onCallUsers") or [] if isinstance(a, str)]

    def _user_ids(self, nodes: list, child_key: str, depth: int = 0) -> Iterable[str]:
        if depth > 50:
            raise errors.BadResponseError(
                "Jira Service Management's participant tree is nested too deeply to read.",
                status_code=200,
            )
        for node in nodes:
            if not isinstance(node, dict):
                continue
            if node.get("type") == "user" and isinstance(node.get("id"), str):
                yield node["id"]
            source = node.get("forwardedFrom")
            if isinstance(source, dict) and isinstance(source.get("id"), str):
                yield source["id"]
            children = node.get(child_key) or node.get("onCallParticipants")
            if isinstance(children, list):
                yield from self._user_ids(children, child_key, depth + 1)

    def _participant(self, node: dict, people: dict[str, dict], child_key: str) -> dict[str, Any]:
        kind = _text(node.get("type"))
        ident = _text(node.get("id"))
        out: dict[str, Any] = {"id": ident, "name": self._name(kind, ident, people), "type": kind}
        source = node.get("forwardedFrom")
        if isinstance(source, dict):
            sid = _text(source.get("id"))
            out["forwardedFrom"] = {
                "id": sid,
                "name": self._name("user", sid, people),
                "type": "user",
            }
        children = node.get(child_key) or node.get("onCallParticipants")
        if isinstance(children, list) and children:
            out["onCallParticipants"] = [
                self._participant(c, people, child_key) for c in children if isinstance(c, dict)
            ]
        return out

    def _name(self, kind: str | None, ident: str | None, people: dict[str, dict]) -> str | None:
        if ident is None:
            return None
        if kind == "user":
            return people.get(ident, {}).get("name", ident)
        if kind == "team":
            return self._team_name(ident)
        if kind == "schedule":
            return self._schedule_name(ident)
        return None

    def _schedule_name(self, schedule_id: str) -> str | None:
        if self._schedule_names is None:
            self._schedule_names = {
                str(s.get("id")): s.get("name") for s in self._all_schedules(None) if s.get("id")
            }
        return self._schedule_names.get(schedule_id)

    def get_schedule_timeline(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        interval: int | None = None,
        interval_unit: str | None = None,
        date: str | None = None,
        expand: Sequence[str] | None = None,
    ) -> dict:
        """Timeline by schedule name (looked up) or id: ``GET /v1/schedules/{id}/timeline``.

        ``data`` is OpsGenie-shaped: each period's ``responder`` becomes ``recipient`` ``{id,
        type, name}`` (people resolved by one bulk user call), ``flattenedResponders`` becomes
        ``flattenedRecipients``, ``_parent`` names the schedule.
        """
        schedule_id, parent = self._schedule_id(identifier, identifier_type)
        params: dict[str, Any] = {
            "interval": interval,
            "intervalUnit": interval_unit,
            "date": date,
            "expand": ",".join(expand) if expand else None,
        }
        body = self._get([OPS, "schedules", schedule_id, "timeline"], params)
        if not isinstance(body, dict):
            raise errors.BadResponseError(
                "Jira Service Management's timeline is not an object.", status_code=200
            )
        layers = ("finalTimeline", "baseTimeline", "overrideTimeline", "forwardingTimeline")
        ids: list[str] = []
        for key in layers:
            for rotation in self._rotations(body.get(key)):
                for period in rotation.get("periods") or []:
                    if not isinstance(period, dict):
                        continue
                    for responder in [
                        period.get("responder"),
                        period.get("from"),
                        *(period.get("flattenedResponders") or []),
                    ]:
                        if isinstance(responder, dict) and responder.get("type") == "user":
                            ids.append(str(responder.get("id")))
        people = self.resolve_people(ids)
        data: dict[str, Any] = {
            "_parent": parent,
            "startDate": body.get("startDate"),
            "endDate": body.get("endDate"),
        }
        for key in layers:
            if key in body:
                data[key] = {
                    "rotations": [self._rotation(r, people) for r in self._rotations(body.get(key))]
                }
        if "finalTimeline" not in data:
            raise errors.BadResponseError(
                "Jira Service Management's timeline has no finalTimeline.", status_code=200
            )
        return {"data": data}

    @staticmethod
    def _rotations(layer: Any) -> list[dict]:
        rotations = layer.get("rotations") if isinstance(layer, dict) else None
        return [r for r in rotations or [] if isinstance(r, dict)]

    def _recipient(self, responder: Any, people: dict[str, dict]) -> dict[str, Any] | None:
        if not isinstance(responder, dict):
            return None
        kind = _text(responder.get("type"))
        ident = _text(responder.get("id"))
        if kind == "noone":
            return {"id": None, "type": "none", "name": None}
        return {"id": ident, "type": kind, "name": self._name(kind, ident, people)}

    def _rotation(self, rotation: dict, people: dict[str, dict]) -> dict[str, Any]:
        periods = []
        for period in rotation.get("periods") or []:
            if not isinstance(period, dict):
                continue
            item: dict[str, Any] = {
                "startDate": period.get("startDate"),
                "endDate": period.get("endDate"),
                "type": period.get("type"),
                "recipient": self._recipient(period.get("responder"), people),
            }
            if isinstance(period.get("from"), dict):
                item["fromUser"] = self._recipient(period["from"], people)
            if "flattenedResponders" in period:
                item["flattenedRecipients"] = [
                    self._recipient(r, people) for r in period.get("flattenedResponders") or []
                ]
            periods.append(item)
        return {
            "id": rotation.get("id"),
            "name": rotation.get("name"),
            "order": rotation.get("order"),
            "periods": periods,
        }
