"""Test Connection: which commands the key can run, and a hint for each way the test ends early."""

from __future__ import annotations

import pytest
import requests_mock as rm
from conftest import BASE, load_fixture

from .command_helpers import check_envelope, sent

ALL = [
    "Fetch Event",
    "Get On-call User",
    "Get Schedules",
    "Get Schedule Timeline",
    "Get Single User",
    "Get Next On-call User",
    "Get On-call Users Across Schedules",
    "Is User On Call",
    "Get Team",
    "List Teams",
    "Get Escalation",
    "List Escalations",
    "Test Connection",
    *[
        "Create Alert",
        "Get Alert",
        "Delete Alert",
        "Acknowledge Alert",
        "Unacknowledge Alert",
        "Close Alert",
        "Snooze Alert",
        "Escalate Alert",
        "Assign Alert",
        "Add Responder",
        "Add Note",
        "Add Tags",
        "Remove Tags",
        "Add Details",
        "Remove Details",
        "List Alert Notes",
        "List Alert Logs",
        "List Alert Recipients",
        "Count Alerts",
        "Get Request Status",
    ],
]
WRITES = [  # Test Connection cannot check their rights without writing
    "Create Alert", "Delete Alert", "Acknowledge Alert", "Unacknowledge Alert", "Close Alert",
    "Snooze Alert", "Escalate Alert", "Assign Alert", "Add Responder", "Add Note", "Add Tags",
    "Remove Tags", "Add Details", "Remove Details",
]  # fmt: skip
ALERT_READS = ["Get Alert", "List Alert Notes", "List Alert Logs", "List Alert Recipients",
               "Count Alerts", "Get Request Status"]  # fmt: skip
NEEDS_READ = ["Fetch Event", *ALERT_READS]
CONFIGURATION = [n for n in ALL if n not in ("Test Connection", *WRITES, *NEEDS_READ)]


USERS = {"data": [], "totalCount": 0, "took": 0.01, "requestId": "u-1"}


def mock_probes(m, **overrides):
    """Every probe answered as for a full-rights key, unless overridden (path -> kwargs)."""
    answers = {
        "account": {"json": load_fixture("account.json")},
        "alerts": {"json": load_fixture("alerts_page.json")},
        "schedules": {"json": load_fixture("schedules.json")},
        "users": {"json": USERS},
    }
    answers.update(overrides)
    for path, kwargs in answers.items():
        m.get(f"{BASE}/v2/{path}", **kwargs)


FORBIDDEN = {"status_code": 403, "json": load_fixture("error_403_40301.json")}


def test_test_connection_with_every_right_is_successful(integration, conn):
    with rm.Mocker() as m:
        mock_probes(m)
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    assert [sent(m, i)[:2] for i in range(4)] == [
        ("/v2/account", {}),
        ("/v2/alerts", {"offset": "0", "limit": "1", "sort": "createdAt", "order": "desc"}),
        ("/v2/schedules", {}),
        ("/v2/users", {"limit": "1"}),
    ]
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert list(envelope["commands"]) == ALL
    checked = {n: c for n, c in envelope["commands"].items() if c["can_run"] is not None}
    assert all(c["can_run"] and "reason" not in c for c in checked.values())
    unchecked = {n for n, c in envelope["commands"].items() if c["can_run"] is None}
    assert unchecked == set(WRITES)
    assert envelope["commands"]["Delete Alert"]["right"] == "Delete"
    assert "not checked" in envelope["commands"]["Create Alert"]["reason"]
    assert envelope["commands"]["Fetch Event"]["right"] == "Read"
    assert envelope["commands"]["Fetch Event"]["probe"] == "GET /v2/alerts?limit=1"
    assert envelope["commands"]["Get Schedules"]["right"] == "Configuration access"
    assert envelope["commands"]["Get Schedules"]["probe"] == "GET /v2/schedules"
    assert envelope["commands"]["Get Single User"]["probe"] == "GET /v2/users?limit=1"
    assert envelope["account"] == {"name": "acme-soc", "plan": "Standard"}
    assert envelope["key_scope"] == "account"
    assert envelope["raw_data"] == [
        load_fixture("account.json"),
        load_fixture("alerts_page.json"),
        load_fixture("schedules.json"),
        USERS,
    ]


def test_test_connection_with_a_team_key_is_successful_and_says_so(integration, conn):
    with rm.Mocker() as m:
        mock_probes(m, account=FORBIDDEN, users=FORBIDDEN)
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    assert envelope["return_data"] == "Successful" and envelope["key_scope"] == "team"
    commands = envelope["commands"]
    assert commands["Get Schedules"] == {
        "right": "Configuration access",
        "can_run": True,
        "probe": "GET /v2/schedules",
        "scope": "team",
    }
    assert commands["Fetch Event"]["scope"] == "team"
    assert commands["Get Single User"]["can_run"] is False
    assert "team integration's key" in commands["Get Single User"]["reason"]


def test_test_connection_names_commands_a_read_only_key_cannot_run(integration, conn):
    with rm.Mocker() as m:
        mock_probes(m, account=FORBIDDEN, schedules=FORBIDDEN, users=FORBIDDEN)
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert error["failure_indicator"] == "Test Connection failed. Failed to check the connector."
    assert error["text"].startswith(
        "Test Connection failed. Failed to check the connector. Status Code: 403. "
        "Message: This API key cannot run: "
    )
    assert error["message"] == (
        f"This API key cannot run: {', '.join(CONFIGURATION)} (missing right: Configuration access)."
    )
    assert error["code"] == 40301 and error["status_code"] == 403 and error["type"] == "forbidden"
    assert error["request_id"] == load_fixture("error_403_40301.json")["requestId"]
    assert envelope["commands"]["Fetch Event"] == {
        "right": "Read",
        "can_run": True,
        "probe": "GET /v2/alerts?limit=1",
    }
    assert envelope["commands"]["Get Single User"] == {
        "right": "Configuration access",
        "can_run": False,
        "probe": "GET /v2/users?limit=1",
        "reason": "the key lacks Configuration access (OpsGenie: "
        + load_fixture("error_403_40301.json")["message"]
        + ")",
    }
    assert envelope["account"] is None and envelope["key_scope"] == "account"
    assert envelope["raw_data"] == [
        load_fixture("error_403_40301.json"),
        load_fixture("alerts_page.json"),
        load_fixture("error_403_40301.json"),
        load_fixture("error_403_40301.json"),
    ]


def test_test_connection_names_fetch_event_when_the_key_cannot_read(integration, conn):
    with rm.Mocker() as m:
        mock_probes(m, alerts=FORBIDDEN)
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    assert envelope["error"]["message"] == (
        "This API key cannot run: Fetch Event, Get Alert, List Alert Notes, List Alert Logs, "
        "List Alert Recipients, Count Alerts, Get Request Status (missing right: Read)."
    )
    can_run = {name: c["can_run"] for name, c in envelope["commands"].items()}
    assert can_run == {name: None if name in WRITES else name not in NEEDS_READ for name in ALL}
    assert envelope["account"] == {"name": "acme-soc", "plan": "Standard"}


@pytest.mark.parametrize(
    "status, fixture, kind, hint",
    [
        (
            401,
            "error_401.json",
            "auth",
            "The API Key is unknown to https://api.opsgenie.com: check the key, and that Server "
            "URL is the account's region (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com).",
        ),
        (
            422,
            "error_422_key.json",
            "unprocessable",
            "The API Key is malformed, or is a user's key rather than the key of an API integration "
            "(Settings > Integrations > API).",
        ),
        (
            404,
            "error_404.json",
            "not_found",
            "https://api.opsgenie.com/v2/account does not exist: check the Server URL and the API "
            "Version (OpsGenie's is v2).",
        ),
    ],
)
def test_test_connection_stops_at_a_key_or_url_problem_with_its_hint(
    integration, conn, status, fixture, kind, hint
):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", status_code=status, json=load_fixture(fixture))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
        assert len(m.request_history) == 1
    error = envelope["error"]
    assert error["status_code"] == status and error["type"] == kind
    assert error["message"] == load_fixture(fixture)["message"]
    assert error["hint"] == hint and hint in error["text"]
