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
    "Test Connection",
]


def test_test_connection_with_every_right_is_successful(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", json=load_fixture("account.json"))
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    assert [sent(m, i)[:2] for i in range(2)] == [
        ("/v2/account", {}),
        ("/v2/alerts", {"offset": "0", "limit": "1", "sort": "createdAt", "order": "desc"}),
    ]
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert list(envelope["commands"]) == ALL
    assert all(c["can_run"] and "reason" not in c for c in envelope["commands"].values())
    assert envelope["commands"]["Fetch Event"]["right"] == "Read"
    assert envelope["commands"]["Get Schedules"]["right"] == "Configuration access"
    assert envelope["account"] == {"name": "acme-soc", "plan": "Standard"}
    assert envelope["raw_data"] == [load_fixture("account.json"), load_fixture("alerts_page.json")]


def test_test_connection_names_commands_a_read_only_key_cannot_run(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", status_code=403, json=load_fixture("error_403_40301.json"))
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert error["failure_indicator"] == "Test Connection failed. Failed to check the connector."
    assert error["text"].startswith(
        "Test Connection failed. Failed to check the connector. Status Code: 403. "
        "Message: This API key cannot run: "
    )
    assert error["message"] == (
        "This API key cannot run: Get On-call User, Get Schedules, Get Schedule Timeline, "
        "Get Single User (missing right: Configuration access)."
    )
    assert error["code"] == 40301 and error["status_code"] == 403 and error["type"] == "forbidden"
    assert error["request_id"] == load_fixture("error_403_40301.json")["requestId"]
    assert envelope["commands"]["Fetch Event"] == {"right": "Read", "can_run": True}
    assert envelope["commands"]["Get Single User"] == {
        "right": "Configuration access",
        "can_run": False,
        "reason": "the key lacks Configuration access (OpsGenie: "
        + load_fixture("error_403_40301.json")["message"]
        + ")",
    }
    assert envelope["account"] is None
    assert envelope["raw_data"] == [
        load_fixture("error_403_40301.json"),
        load_fixture("alerts_page.json"),
    ]


def test_test_connection_names_fetch_event_when_the_key_cannot_read(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", json=load_fixture("account.json"))
        m.get(f"{BASE}/v2/alerts", status_code=403, json=load_fixture("error_403_40301.json"))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    assert envelope["error"]["message"] == (
        "This API key cannot run: Fetch Event (missing right: Read)."
    )
    can_run = {name: c["can_run"] for name, c in envelope["commands"].items()}
    assert can_run == {name: name != "Fetch Event" for name in ALL}
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
