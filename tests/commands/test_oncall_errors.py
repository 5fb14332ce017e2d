"""The who-is-on-call, team and escalation commands: every error kind is a Failed envelope naming
what went wrong (bad input, 401, 403, 404, 429, 5xx, an answer without the documented data), and
each request names its identifier type and encodes its identifier as one path segment."""

from __future__ import annotations

import pytest
import requests_mock as rm
from conftest import BASE

from .command_helpers import check_envelope, sent

COMMANDS = {
    "Get Next On-call User": {"Schedule Name": "Ops Team/EU #1"},
    "Get On-call Users Across Schedules": {"Team": "ops"},
    "Is User On Call": {"Username or ID": "user+oncall@example.com"},
    "Get Team": {"Team": "Équipe Nuit"},
    "List Teams": {},
    "Get Escalation": {"Escalation": "ops/escalation #2"},
    "List Escalations": {},
}

ERRORS = [
    (401, {"message": "Could not authenticate", "took": 0, "requestId": "r1"}, "auth", False),
    (
        403,
        {"message": "Forbidden", "code": 40301, "took": 0, "requestId": "r2"},
        "forbidden",
        False,
    ),
    (404, {"message": "Not found", "took": 0, "requestId": "r3"}, "not_found", False),
    (429, {"message": "Too many", "took": 0, "requestId": "r4"}, "rate_limited", True),
    (500, {"message": "Boom", "took": 0, "requestId": "r5"}, "server", True),
]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("status", "body", "kind", "retryable"), ERRORS)
def test_every_error_kind_is_a_failed_envelope(
    integration, conn, command, status, body, kind, retryable
):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=status, json=body)
        envelope = check_envelope(integration.run(command, COMMANDS[command], conn))
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert (error["status_code"], error["type"], error["retryable"]) == (status, kind, retryable)
    assert error["message"] == body["message"] and envelope["readable"].startswith(
        f"{command} failed."
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_answer_without_its_data_is_a_bad_response(integration, conn, command):
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": "nope", "took": 0, "requestId": "r"})
        envelope = check_envelope(integration.run(command, COMMANDS[command], conn))
    assert (envelope["error"]["type"], envelope["error"]["status_code"]) == ("bad_response", 200)


@pytest.mark.parametrize(
    ("command", "inputs", "named"),
    [
        ("Get Next On-call User", {}, "Schedule"),
        (
            "Get Next On-call User",
            {"Schedule Name": "x", "Schedule Identifier Type": "alias"},
            "Schedule Identifier Type",
        ),
        ("Get Next On-call User", {"Schedule Name": "x", "Datetime": "yesterday-ish"}, "Datetime"),
        ("Get On-call Users Across Schedules", {"Team": "x" * 1001}, "Team"),
        ("Is User On Call", {"Schedule Name": "x"}, "Username or ID"),
        ("Is User On Call", {"user": "a", "Datetime": "31/31/2020"}, "Datetime"),
        ("Get Team", {"Team": ""}, "Team"),
        ("Get Team", {"Team": "a", "Identifier Type": "tiny"}, "Identifier Type"),
        ("Get Escalation", {}, "Escalation"),
        ("List Teams", {"Team": "x"}, "Team"),
        ("Get Schedule Timeline", {"Schedule Name": "x", "Picture": "png"}, "Picture"),
    ],
)
def test_bad_input_is_a_failed_envelope_naming_the_parameter(
    integration, conn, command, inputs, named
):
    with rm.Mocker() as m:
        envelope = check_envelope(integration.run(command, inputs, conn))
        assert not m.request_history  # nothing was sent
    assert envelope["error"]["type"] == "validation" and envelope["error"]["status_code"] is None
    assert named in envelope["error"]["message"]


def test_requests_name_the_identifier_type_and_encode_one_segment(integration, conn):
    answers = {"data": {}, "took": 0, "requestId": "r"}
    with rm.Mocker() as m:
        m.get(rm.ANY, json=answers)
        integration.run("Get Team", {"Team": "Équipe Nuit"}, conn)
        assert sent(m)[:2] == ("/v2/teams/%C3%89quipe%20Nuit", {"identifierType": "name"})
        integration.run("Get Team", {"Team": "t-1", "Identifier Type": "id"}, conn)
        assert sent(m)[:2] == ("/v2/teams/t-1", {"identifierType": "id"})
        integration.run("Get Escalation", {"Escalation": "ops/escalation #2"}, conn)
        assert sent(m)[:2] == (
            "/v2/escalations/ops%2Fescalation%20%232",
            {"identifierType": "name"},
        )
        integration.run(
            "Get Next On-call User",
            {"Schedule Name": "a+b", "Datetime": "2026-12-01T09:00:00+01:00"},
            conn,
        )
        path, query, raw = sent(m)
        assert path == "/v2/schedules/a%2Bb/next-on-calls"
        assert query == {"scheduleIdentifierType": "name", "date": "2026-12-01T08:00:00+00:00"}
        assert "date=2026-12-01T08%3A00%3A00%2B00%3A00" in raw
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/teams", json={"data": [], "took": 0, "requestId": "r"})
        m.get(f"{BASE}/v2/escalations", json={"data": [], "took": 0, "requestId": "r"})
        teams = check_envelope(integration.run("List Teams", {}, conn))
        escalations = check_envelope(integration.run("List Escalations", {}, conn))
    assert teams["readable"] == "### Teams\n\nNo results."
    assert escalations["readable"] == "### Escalations\n\nNo results."
