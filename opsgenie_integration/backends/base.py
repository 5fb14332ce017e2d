"""The backend seam: the OpsGenie-shaped interface every command calls.

Two implementations answer it: the OpsGenie v2 client (``client.OpsGenieClient``, GenieKey) and
``backends.jsm.JsmBackend`` (Jira Service Management Operations, Basic authentication). The
connection's ``platform`` picks one; nothing above the seam knows which one answers.

Every method returns an OpsGenie-shaped answer ``{"data": ..., ...}`` (JSM's answers are
translated: ``values`` become ``data``, a period's ``responder`` becomes ``recipient``, account ids
are resolved to people) and raises the exceptions of ``errors.py``. Times are UTC; ``date``
arguments are already rendered (``times.format_query_date``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .. import errors

#: The platforms a connection may name.
PLATFORMS = ("opsgenie", "jsm")


class NotSupportedError(errors.OpsGenieIntegrationError):
    """The connection's platform has no equivalent of the call (for example an OpsGenie-only
    endpoint on Jira Service Management); nothing was sent."""

    error_type = "not_supported"


class AlertBackend(Protocol):
    """What the commands call. ``platform`` is ``opsgenie`` or ``jsm`` (for messages only: a
    command never branches on it); ``base_url`` is where the calls go (for hints)."""

    platform: str
    base_url: str
    #: what to do when Test Connection finds a right missing
    rights_hint: str
    #: the manifest's rights (read, configuration) as the platform names them ({}: as named)
    right_labels: dict[str, str]
    #: what the credentials are called in messages ("API key", "account")
    credential: str
    #: the platform's name in messages ("OpsGenie", "Jira Service Management")
    service: str
    #: the fields ``list_alerts`` sorts by; Fetch Event moves a cursor along ``updatedAt`` where
    #: it is one of them, else it reads its window in passes along ``createdAt``
    alert_sort_fields: tuple[str, ...]

    def account(self, body: dict) -> dict[str, Any]:
        """``{name, plan}`` from the ``account`` probe's answer (Test Connection's ``account``)."""

    def begin_command(self) -> None:
        """Forget what was cached for the previous command (people, schedule ids)."""

    def probes(self) -> dict[str, tuple[str, Callable[[], dict]]]:
        """Test Connection's probes: ``account``, ``alerts``, ``schedules``, ``users`` ->
        (the request as shown, the call; ``errors.ForbiddenError`` when a right is missing)."""

    def connection_hint(self, error: errors.OpsGenieIntegrationError, shown: str) -> str | None:
        """What to check in the connection settings when the probe ``shown`` met ``error``."""

    def list_alerts(
        self,
        *,
        query: str | None = None,
        offset: int = 0,
        limit: int = 20,
        sort: str = "createdAt",
        order: str = "desc",
    ) -> dict:
        """One page of alerts: ``{"data": [alert], ...}``."""

    def list_schedules(self, *, expand_rotations: bool = False) -> dict:
        """Every schedule: ``{"data": [{id, name, description, timezone, enabled, ownerTeam?}]}``."""

    def get_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """``{"data": {_parent, onCallParticipants: tree}}`` or, flat, ``{"data": {_parent,
        onCallRecipients: [name]}}``."""

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
        """``{"data": {startDate, endDate, finalTimeline: {rotations: [{id, name, order, periods:
        [{startDate, endDate, type, recipient: {id, type, name}}]}]}}}``."""

    def get_user(self, identifier: str) -> dict:
        """``{"data": {id, username, fullName, ...}}``; NotFoundError when unknown."""

    def close(self) -> None:
        """Close pooled connections."""


def check_platform(value: Any) -> str:
    """The platform named by a connection setting (default ``opsgenie``).

    Raises:
        ValueError: not one of ``PLATFORMS``.
    """
    if value is None or value == "":
        return "opsgenie"
    text = str(value).strip().lower()
    if text not in PLATFORMS:
        raise ValueError(f"must be one of {', '.join(PLATFORMS)} (got {str(value)[:40]!r})")
    return text
