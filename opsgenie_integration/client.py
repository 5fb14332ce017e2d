"""The OpsGenie REST API v2, one method per endpoint: ``OpsGenieClient``.

The client knows OpsGenie's endpoints and their parameters, nothing of commands, the envelope or
the CLI. Each method names its ``METHOD /v2/path``, checks what OpsGenie would refuse without
sending (``ValueError``), and returns OpsGenie's whole decoded answer (``{"data", "took",
"requestId", ...}``). Sending, retries, timeouts (seconds), the proxy and TLS, and every failure
as an ``errors.py`` exception are the transport's (``transport.Transport``, its base class, and
``http_errors.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from .network import NetworkSettings
from .redact import Redactor
from .transport import (
    MAX_BODY_BYTES,  # noqa: F401  (its old home: tests import it from here)
    Params,
    Transport,
)

DEFAULT_SERVER_URL = "https://api.opsgenie.com"
EU_SERVER_URL = "https://api.eu.opsgenie.com"
DEFAULT_API_VERSION = "v2"

#: The biggest ``offset + limit`` the alert list accepts.
ALERT_PAGING_CAP = 20000

ALERT_SORT_FIELDS = (
    "createdAt",
    "updatedAt",
    "tinyId",
    "alias",
    "message",
    "status",
    "acknowledged",
    "isSeen",
    "snoozed",
    "snoozedUntil",
    "count",
    "lastOccurredAt",
    "source",
    "owner",
    "integration.name",
    "integration.type",
    "report.ackTime",
    "report.closeTime",
    "report.acknowledgedBy",
    "report.closedBy",
)


class OpsGenieClient(Transport):
    """Talks to one OpsGenie account.

    Args:
        server_url: ``https://api.opsgenie.com`` (US) or ``https://api.eu.opsgenie.com`` (EU); http
            only for loopback hosts. Normalised by ``normalize_server_url``.
        api_key: the API integration key (the literal, already resolved).
        api_version: path version segment, ``v2``.
        timeout: read timeout per request, s (the connect timeout is 5 s).
        max_retry_time: seconds of waiting between retries allowed per request; 0 = no retries.
        request_wait: seconds an alert write waits at most for OpsGenie to process it (read by
            the commands' request tracking); 0 = do not wait.
        session: an existing ``requests.Session`` to use (tests); a new one otherwise.
        network: proxy, CA bundle and verification (``network.resolve_network``); None = direct,
            the bundled public CAs, verification on.

    Raises:
        ValueError: bad server URL or version.

    Every method returns OpsGenie's whole decoded answer (``{"data", "took", "requestId", ...}``)
    and raises a subclass of ``errors.OpsGenieIntegrationError`` on failure (see
    ``transport.Transport.request``).
    """

    def __init__(
        self,
        server_url: str = DEFAULT_SERVER_URL,
        api_key: str = "",
        api_version: str = DEFAULT_API_VERSION,
        *,
        timeout: float = 30.0,
        max_retry_time: float = 60.0,
        request_wait: float = 10.0,
        session: requests.Session | None = None,
        network: NetworkSettings | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(
            server_url,
            api_key,
            api_version,
            timeout=timeout,
            max_retry_time=max_retry_time,
            session=session,
            network=network,
            redactor=redactor,
        )
        self.request_wait = float(request_wait)

    def __enter__(self) -> OpsGenieClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- endpoints -------------------------------------------------------------------------

    def get_request_limits(self) -> dict:
        """``GET /v2/request-limits/``: ``data = {rateLimits: [{domain, limits: [{limit,
        periodInSeconds}]}]}``, the account's limits per rate-limit domain (see ``pacing``).
        A team integration's key may be refused here (403)."""
        return self.get(["request-limits"], trailing_slash=True)

    def get_account(self) -> dict:
        """``GET /v2/account``: ``data = {name, userCount, plan: {maxUserCount, name, isYearly}}``.

        Needs Configuration access; proves the key and the region.
        """
        return self.get(["account"])

    def list_alerts(
        self,
        *,
        query: str | None = None,
        offset: int = 0,
        limit: int = 20,
        sort: str = "createdAt",
        order: str = "desc",
    ) -> dict:
        """``GET /v2/alerts``: one page of alerts; ``data`` is a list, ``paging.next`` absent at the end.

        Args:
            query: OpsGenie alert search query, or None for all.
            offset: >= 0; limit: 1..100; ``offset + limit`` must not exceed 20,000.
            sort: one of ``ALERT_SORT_FIELDS``; order: ``asc`` or ``desc``.

        Raises:
            ValueError: out-of-range paging or unknown sort/order (nothing is sent).
        """
        if not 1 <= limit <= 100 or offset < 0:
            raise ValueError("limit must be 1..100 and offset >= 0")
        if offset + limit > ALERT_PAGING_CAP:
            raise ValueError(f"offset + limit must not exceed {ALERT_PAGING_CAP}")
        if sort not in ALERT_SORT_FIELDS or order not in ("asc", "desc"):
            raise ValueError("unknown sort field or order")
        params: Params = {
            "query": query or None,
            "offset": offset,
            "limit": limit,
            "sort": sort,
            "order": order,
        }
        return self.get(["alerts"], params)

    def count_alerts(self, *, query: str | None = None) -> dict:
        """``GET /v2/alerts/count``: ``data = {count: int}``."""
        return self.get(["alerts", "count"], {"query": query or None})

    def list_schedules(self, *, expand_rotations: bool = False) -> dict:
        """``GET /v2/schedules``: ``data = [{id, name, description, timezone, enabled, ownerTeam?, rotations?}]``."""
        return self.get(["schedules"], {"expand": "rotation" if expand_rotations else None})

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
        """``GET /v2/schedules/{identifier}/timeline?identifierType=...``.

        Args:
            identifier: the schedule's name or id (one path segment, percent-encoded).
            identifier_type: ``name`` or ``id``.
            interval: timeline length in ``interval_unit`` (days|weeks|months).
            date: start, already rendered (``times.format_query_date``).
            expand: any of base, forwarding, override.
        """
        params: Params = {
            "identifierType": identifier_type,
            "interval": interval,
            "intervalUnit": interval_unit,
            "date": date,
            "expand": ",".join(expand) if expand else None,
        }
        return self.get(["schedules", identifier, "timeline"], params)

    def get_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """``GET /v2/schedules/{identifier}/on-calls?scheduleIdentifierType=...``.

        ``data = {_parent, onCallParticipants: tree}`` or, with ``flat``, ``{_parent,
        onCallRecipients: [username]}``. Note the parameter is ``scheduleIdentifierType`` here.
        """
        params: Params = {
            "scheduleIdentifierType": identifier_type,
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        return self.get(["schedules", identifier, "on-calls"], params)

    def get_schedule(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/schedules/{identifier}?identifierType=name|id``: ``data = {id, name,
        description, timezone, enabled, ownerTeam?, rotations}``."""
        return self.get(["schedules", identifier], {"identifierType": identifier_type})

    def get_next_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """``GET /v2/schedules/{identifier}/next-on-calls?scheduleIdentifierType=...``.

        ``data = {_parent, nextOnCallRecipients, exactNextOnCallRecipients}`` (participant trees)
        or, with ``flat``, ``{_parent, nextOnCallParticipants, exactNextOnCallParticipants}``
        (usernames). The identifier-type parameter is ``scheduleIdentifierType`` here.
        """
        params: Params = {
            "scheduleIdentifierType": identifier_type,
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        return self.get(["schedules", identifier, "next-on-calls"], params)

    def list_on_calls(self, *, flat: bool | None = None, date: str | None = None) -> dict:
        """``GET /v2/schedules/on-calls[?flat=&date=]``: ``data = [{_parent,
        onCallParticipants | onCallRecipients}]``, one item per schedule."""
        params: Params = {
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        return self.get(["schedules", "on-calls"], params)

    def get_team(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/teams/{identifier}?identifierType=name|id``: ``data = {id, name,
        description, members: [{user: {id, username}, role}]}``."""
        return self.get(["teams", identifier], {"identifierType": identifier_type})

    def list_teams(self) -> dict:
        """``GET /v2/teams``: ``data = [{id, name, description}]``."""
        return self.get(["teams"])

    def get_escalation(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/escalations/{identifier}?identifierType=name|id``: ``data = {id, name,
        description, ownerTeam?, rules: [{condition, notifyType, delay, recipient}], repeat?}``."""
        return self.get(["escalations", identifier], {"identifierType": identifier_type})

    def list_escalations(self) -> dict:
        """``GET /v2/escalations``: ``data = [escalation]`` (see ``get_escalation``)."""
        return self.get(["escalations"])

    def get_user(self, identifier: str, *, expand_contacts: bool = False) -> dict:
        """``GET /v2/users/{id or username}``: ``data = {id, username, fullName, role, timeZone?, ...}``."""
        return self.get(["users", identifier], {"expand": "contact" if expand_contacts else None})

    def list_users(self, *, limit: int = 1) -> dict:
        """``GET /v2/users?limit=``: ``data = [user]``, ``totalCount`` (Test Connection's probe of
        the user endpoints)."""
        return self.get(["users"], {"limit": limit})

    def get_alert(self, identifier: str) -> dict:
        """``GET /v2/alerts/{id}?identifierType=id``: ``data`` = the alert with the fields the
        list lacks (``details``, ``description``, ``actions``, ``entity``)."""
        return self.get(["alerts", identifier], {"identifierType": "id"})

    def get_saved_search(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/alerts/saved-searches/{identifier}?identifierType=name|id``: ``data = {id,
        name, query, description?, owner?, teams?, createdAt?, updatedAt?}``."""
        return self.get(
            ["alerts", "saved-searches", identifier], {"identifierType": identifier_type}
        )
