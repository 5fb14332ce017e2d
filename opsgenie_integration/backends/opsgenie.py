"""OpsGenie REST API v2: the first implementation of the backend seam, around ``OpsGenieClient``.

The client's endpoint methods answer the seam as they are (OpsGenie's answers are the shapes the
seam speaks); this wrapper adds what the seam asks beyond them: the rights Test Connection checks
and the hints for its failures, the per-command housekeeping, and Fetch Event's window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors
from ..client import ALERT_SORT_FIELDS, OpsGenieClient

RIGHTS_HINT = (
    "Give the API integration the missing access rights in OpsGenie (Settings > Integrations > "
    "API), or check that it is not restricted to another team."
)


class OpsGenieBackend:
    """The seam over one ``OpsGenieClient``; any other client method (alert actions...) is
    reached through the wrapper unchanged."""

    platform = "opsgenie"
    rights_hint = RIGHTS_HINT
    credential = "API key"
    service = "OpsGenie"
    right_labels: dict[str, str] = {}  # the manifest's names: Read, Configuration access
    alert_sort_fields = ALERT_SORT_FIELDS

    def __init__(self, client: OpsGenieClient) -> None:
        self.client = client
        self.base_url = client.base_url

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "client":
            raise AttributeError(name)
        return getattr(self.client, name)

    def begin_command(self) -> None:
        """Nothing is cached between calls in OpsGenie mode."""

    def close(self) -> None:
        self.client.close()

    def probes(self) -> dict[str, tuple[str, Callable[[], dict]]]:
        """Test Connection's probes: probe -> (request shown, call)."""
        client = self.client
        return {
            "account": ("GET /v2/account", client.get_account),
            "alerts": ("GET /v2/alerts?limit=1", lambda: client.list_alerts(limit=1)),
            "schedules": ("GET /v2/schedules", client.list_schedules),
            "users": ("GET /v2/users?limit=1", lambda: client.list_users(limit=1)),
        }

    def account(self, body: dict) -> dict[str, Any]:
        """``{name, plan}`` of ``GET /v2/account``'s answer (None where absent or malformed)."""
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        plan = data.get("plan")
        return {
            "name": data.get("name"),
            "plan": plan.get("name") if isinstance(plan, dict) else None,
        }

    def connection_hint(self, error: errors.OpsGenieIntegrationError, shown: str) -> str | None:
        """What to check when Test Connection's probe ``shown`` (``GET /v2/...``) met ``error``."""
        if isinstance(error, errors.AuthenticationError):
            return (
                f"The API Key is unknown to {self.client.base_url}: check the key, and that Server "
                "URL is the account's region (US https://api.opsgenie.com, "
                "EU https://api.eu.opsgenie.com)."
            )
        if isinstance(error, errors.UnprocessableError):
            return (
                "The API Key is malformed, or is a user's key rather than the key of an API "
                "integration (Settings > Integrations > API)."
            )
        if isinstance(error, errors.NotFoundError):
            path = shown.split("?")[0].split(" ")[-1]
            return (
                f"{self.client.base_url}{path} does not exist: check the Server URL and the "
                "API Version (OpsGenie's is v2)."
            )
        return None
