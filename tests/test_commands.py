"""Each command against requests-mock: the exact request that went out, and the envelope."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests_mock as rm
from jsonschema import Draft202012Validator

from conftest import API_KEY, BASE, REPO, load_fixture

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))


def sent(mocker, index=-1):
    """(raw path, query dict of single values) of a recorded request."""
    request = mocker.request_history[index]
    parts = urlsplit(request.url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}, parts.query


def check_envelope(envelope):
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope


def test_get_schedules_success(integration, conn):
    # Given OpsGenie lists two schedules, one without ownerTeam
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/schedules", json=load_fixture("schedules.json"))
        # When
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    # Then
    path, query, _ = sent(m)
    assert path == "/v2/schedules" and query == {}
    assert m.request_history[0].headers["Authorization"] == f"GenieKey {API_KEY}"
    assert m.request_history[0].headers["Accept"] == "application/json"
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert [s["name"] for s in envelope["schedules"]] == ["Ops Team/EU #1", "Équipe Nuit"]
    assert "ownerTeam" not in envelope["schedules"][1]
    assert envelope["schedules"][0]["timezone"] == "Africa/Monrovia"  # passed through as answered
    assert envelope["raw_data"]["requestId"] == "3b2f1e00-aaaa-4bbb-8ccc-000000000003"


@pytest.mark.parametrize("name, encoded", [
    ("Ops Team/EU #1", "Ops%20Team%2FEU%20%231"),
    ("Équipe Nuit", "%C3%89quipe%20Nuit"),
    ("50%?off", "50%25%3Foff"),
    ("a+b", "a%2Bb"),
    ("O'Brien's rota.v2", "O%27Brien%27s%20rota.v2"),
])
def test_get_on_call_user_encodes_name_as_one_segment(integration, conn, name, encoded):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("oncalls_tree.json"))
        envelope = check_envelope(integration.run("Get On-call User", {"Schedule Name": name}, conn))
    path, query, _ = sent(m, 0)
    assert path == f"/v2/schedules/{encoded}/on-calls"
    assert query == {"scheduleIdentifierType": "name"}  # no date sent when none given
    assert envelope["return_data"] == "Successful"


def test_get_on_call_user_flattens_tree(integration, conn):
    flat = {"data": {"_parent": {"id": "c", "name": "Ops Team/EU #1", "enabled": True},
                     "onCallRecipients": ["user+oncall@example.com", "robot.owner@example.com"]},
            "took": 0.1, "requestId": "3b2f1e00-aaaa-4bbb-8ccc-000000000008"}
    with rm.Mocker() as m:
        m.get(rm.ANY, response_list=[{"json": load_fixture("oncalls_tree.json")}, {"json": flat}])
        envelope = check_envelope(integration.run(
            "get_on_call_user", {"schedule_name": "Ops Team/EU #1", "Datetime": "2024-03-01T08:00:00+02:00"}, conn))
    _, query, raw_query = sent(m, 0)
    assert query == {"scheduleIdentifierType": "name", "date": "2024-03-01T06:00:00+00:00"}
    assert "date=2024-03-01T06%3A00%3A00%2B00%3A00" in raw_query  # + arrives as %2B
    # the tree named a schedule and an unknown participant without members: ask the flat form too
    assert sent(m, 1)[1] == {"scheduleIdentifierType": "name", "flat": "true", "date": "2024-03-01T06:00:00+00:00"}
    assert len(m.request_history) == 2 and len(envelope["raw_data"]) == 2
    users = envelope["on_call_users"]
    assert [u["name"] for u in users] == ["user+oncall@example.com", "ada.lovelace@example.com", "robot.owner@example.com"]
    assert users[2] == {"id": None, "name": "robot.owner@example.com", "path": ["flat"]}
    assert users[1]["path"] == ["escalation:ops_escalation", "team:ops"]
    # an unknown participant type and a schedule without members are passed through, not rejected
    assert {p["type"] for p in envelope["unresolved_participants"]} == {"schedule", "robot"}
    assert envelope["on_call_participants"][0]["type"] == "user"
    assert envelope["schedule"]["name"] == "Ops Team/EU #1"


def test_get_on_call_user_nobody_on_call_is_successful(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("oncalls_empty.json"))
        envelope = check_envelope(integration.run("Get On-call User", {"Schedule Name": "Équipe Nuit"}, conn))
    assert envelope["return_data"] == "Successful"
    assert envelope["on_call_users"] == [] and envelope["on_call_participants"] == []


def test_get_schedule_timeline_sends_every_option(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("timeline.json"))
        envelope = check_envelope(integration.run("Get Schedule Timeline", {
            "Schedule Name": "Ops Team/EU #1", "Interval": "2", "Interval Unit": "days",
            "Date": "2024-03-01", "Expand": "base, override"}, conn))
    path, query, _ = sent(m)
    assert path == "/v2/schedules/Ops%20Team%2FEU%20%231/timeline"
    assert query == {"identifierType": "name", "interval": "2", "intervalUnit": "days",
                     "date": "2024-03-01T00:00:00+00:00", "expand": "base,override"}
    assert [p["type"] for p in envelope["periods"]] == ["default", "historical"]
    assert envelope["periods"][0]["rotation"] == "Day shift"


def test_get_schedule_timeline_sends_only_identifier_type_by_default(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("timeline.json"))
        integration.run("Get Schedule Timeline", {"Schedule Name": "Équipe Nuit"}, conn)
    path, query, _ = sent(m)
    assert path == "/v2/schedules/%C3%89quipe%20Nuit/timeline" and query == {"identifierType": "name"}


def test_get_single_user_keeps_plus(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("user.json"))
        envelope = check_envelope(integration.run("Get Single User", {"Username or ID": "user+oncall@example.com"}, conn))
    path, query, _ = sent(m)
    assert path == "/v2/users/user%2Boncall%40example.com" and query == {}
    assert envelope["user"]["username"] == "user+oncall@example.com"
    assert "timeZone" not in envelope["user"]  # optional field absent: no error


def test_fetch_event_first_call(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(integration.run("Fetch Event", {
            "Start Time": "2024-03-01 00:00", "End Time": "2024-03-02T00:00:00+01:00",
            "Number of Event(s) Fetched": 3, "Search Condition": "status: open OR priority: P9"}, conn))
    path, query, _ = sent(m)
    assert path == "/v2/alerts"
    assert query == {
        "query": "(status: open OR priority: P9) AND updatedAt >= 1709251200000 AND updatedAt < 1709334000000",
        "offset": "0", "limit": "3", "sort": "updatedAt", "order": "asc",
    }
    events = envelope["events"]
    assert [e["Unique Event Key"] for e in events] == [
        "a1f0c2d4-1111-4a5b-9c8d-000000000001", "a1f0c2d4-1111-4a5b-9c8d-000000000002", "a1f0c2d4-1111-4a5b-9c8d-000000000003"]
    assert events[0] == {
        "Unique Event Key": "a1f0c2d4-1111-4a5b-9c8d-000000000001", "Original event ID": "4021",
        "Event name": "disk-full-db01", "Status": "open", "Message": "Disk usage above 95% on db01",
        "Aggregated / Correlated Event count": 3, "Priority": "P2", "Start Time": "2024-03-01T07:50:00Z",
        "Acknowledged": False}
    assert events[1]["Priority"] == "P9"  # unknown priority passed through
    assert envelope["has_more"] is True  # a full page came back
    assert envelope["window"] == {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-01T23:00:00.000Z"}
    assert envelope["raw_data"]["data"][1]["report"]["ackTime"] == 4294967296123  # > 32 bits, unchanged


def test_fetch_event_continues_from_checkpoint(integration, conn):
    # Given a first call that returned the two alerts sharing 08:00:00.001 (then a third one)
    page = load_fixture("alerts_page.json")
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={**page, "data": page["data"][:2]})
        first = integration.run("Fetch Event", {"Start Time": "2024-03-01", "End Time": "2024-03-02", "limit": 2}, conn)
        # When the next call gives the checkpoint back
        m.get(f"{BASE}/v2/alerts", json=page)
        second = check_envelope(integration.run("Fetch Event", {"Checkpoint": first["checkpoint"], "limit": 2}, conn))
    # Then it asks from the last updatedAt on, and skips the two alerts already returned
    _, query, _ = sent(m)
    assert query["query"] == "updatedAt >= 1709280000001 AND updatedAt < 1709337600000"
    assert query["limit"] == "4" and query["offset"] == "0"
    assert [e["Original event ID"] for e in second["events"]] == ["4023"]
    assert second["checkpoint"] != first["checkpoint"]


def test_fetch_event_failure_keeps_checkpoint_out(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", status_code=429, json=load_fixture("error_429.json"),
              headers={"X-RateLimit-State": "THROTTLED", "X-RateLimit-Period-In-Sec": "7"})
        envelope = check_envelope(integration.run("Fetch Event", {"Start Time": "2024-03-01"}, conn))
    assert envelope["return_data"] == "Failed" and "checkpoint" not in envelope
    assert envelope["error"]["type"] == "rate_limited" and envelope["error"]["retryable"] is True
    assert envelope["error"]["status_code"] == 429


def test_fetch_event_checkpoint_of_another_query_is_refused(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        first = integration.run("Fetch Event", {"Start Time": "2024-03-01", "Search Condition": "status: open"}, conn)
        second = check_envelope(integration.run("Fetch Event", {"Checkpoint": first["checkpoint"],
                                                                "Search Condition": "status: closed"}, conn))
        assert len(m.request_history) == 1  # nothing was sent for the refused call
    assert second["return_data"] == "Failed" and second["error"]["type"] == "validation"
    assert "Checkpoint (checkpoint)" in second["error"]["message"]


def test_fetch_event_start_after_end_is_refused(integration, conn):
    envelope = check_envelope(integration.run("Fetch Event", {"Start Time": "2024-03-02", "End Time": "2024-03-01"}, conn))
    assert envelope["error"]["message"] == "Start Time (start_time): must be before End Time (end_time)"


def test_fetch_event_with_own_field_mapping(integration, conn, tmp_path):
    mapping = tmp_path / "mine.yaml"
    mapping.write_text(
        "main_event_json_path: $.data\n"
        "fields:\n"
        "  - {field_name: Key, source_field: .id}\n"
        "  - {field_name: Ack time, source_field: $.report.ackTime}\n"
        "  - {field_name: Responder types, source_field: '$.responders[*].type'}\n"
        "  - {field_name: First tag, source_field: '$.tags[0]'}\n")
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(integration.run("Fetch Event", {"Start Time": "2024-03-01", "End Time": "2024-03-02",
                                                                  "Field Mapping File": str(mapping)}, conn))
    assert envelope["events"][0] == {"Key": "a1f0c2d4-1111-4a5b-9c8d-000000000001", "Ack time": None,
                                     "Responder types": ["team", "schedule"], "First tag": "disk"}
    assert envelope["events"][1]["Ack time"] == 4294967296123
    assert envelope["events"][1]["Responder types"] == "escalation"


def test_fetch_event_bad_field_mapping_names_the_input(integration, conn, tmp_path):
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("main_event_json_path: $.data\nfields:\n  - {field_name: X, source_field: '$..[?'}\n  - {name: Y}\n")
    envelope = check_envelope(integration.run("Fetch Event", {"Field Mapping File": str(mapping)}, conn))
    assert envelope["return_data"] == "Failed"
    assert "Field Mapping File" in envelope["error"]["message"]
    assert "fields[1]" in envelope["error"]["message"]


def test_test_connection_success(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", json=load_fixture("account.json"))
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    assert [sent(m, i)[:2] for i in range(2)] == [("/v2/account", {}), ("/v2/alerts", {"offset": "0", "limit": "1", "sort": "createdAt", "order": "desc"})]
    assert envelope["return_data"] == "Successful"
    assert all(c["can_run"] for c in envelope["commands"].values())
    assert envelope["account"] == {"name": "acme-soc", "plan": "Standard"}
    assert len(envelope["raw_data"]) == 2


def test_test_connection_names_commands_a_read_only_key_cannot_run(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", status_code=403, json=load_fixture("error_403_40301.json"))
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert error["failure_indicator"] == "Test Connection failed. Failed to check the connector."
    assert error["text"].startswith("Test Connection failed. Failed to check the connector. Status Code: 403. Message: This API key cannot run: ")
    assert "Get Schedules" in error["message"] and "Configuration access" in error["message"]
    assert "Fetch Event" not in error["message"]
    assert error["code"] == 40301
    assert envelope["commands"]["Fetch Event"]["can_run"] is True
    assert envelope["commands"]["Get Single User"]["can_run"] is False


@pytest.mark.parametrize("status, fixture, kind, hint_word", [
    (401, "error_401.json", "auth", "region"),
    (422, "error_422_key.json", "unprocessable", "malformed"),
])
def test_test_connection_key_problems(integration, conn, status, fixture, kind, hint_word):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/account", status_code=status, json=load_fixture(fixture))
        envelope = check_envelope(integration.run("Test Connection", {}, conn))
        assert len(m.request_history) == 1
    error = envelope["error"]
    assert error["status_code"] == status and error["type"] == kind
    assert error["message"] == load_fixture(fixture)["message"]
    assert hint_word in error["hint"] and hint_word in error["text"]


# -- the error tab ----------------------------------------------------------------------------

ERROR_CASES = [
    # status, body kwargs, type, message, retryable
    (401, {"json": load_fixture("error_401.json")}, "auth", "Could not authenticate", False),
    (403, {"json": load_fixture("error_403_40301.json")}, "forbidden", "To perform this action, use an API key from an API integration.", False),
    (404, {"json": load_fixture("error_404.json")}, "not_found", "No schedule exists with name [Nope]", False),
    (422, {"json": load_fixture("error_422_key.json")}, "unprocessable", "Key format is not valid!", False),
    (429, {"json": load_fixture("error_429.json")}, "rate_limited", "You are making too many requests! To avoid errors, we recommend you limit requests.", True),
    (502, {"text": "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "headers": {"Content-Type": "text/html"}}, "server", None, True),
    (503, {"text": "<!DOCTYPE html><html><body>Service Unavailable</body></html>", "headers": {"Content-Type": "text/html"}}, "server", None, True),
    (504, {"text": "<html>Gateway Timeout</html>", "headers": {"Content-Type": "text/html; charset=utf-8"}}, "server", None, True),
    (404, {"text": "404 page not found", "headers": {"Content-Type": "text/plain"}}, "not_found", None, False),
    (402, {"json": {"message": "Your plan does not allow this", "took": 0, "requestId": "x"}}, "plan", "Your plan does not allow this", False),
]


@pytest.mark.parametrize("status, body, kind, message, retryable", ERROR_CASES)
def test_error_tab(integration, conn, status, body, kind, message, retryable):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=status, reason="Reason", **body)
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert error["failure_indicator"] == "Get Schedules failed."
    assert error["status_code"] == status and error["type"] == kind and error["retryable"] is retryable
    if message:
        assert error["message"] == message
        assert error["text"].startswith(f"Get Schedules failed. Status Code: {status}. Message: {message.rstrip('.!')}")
        assert error["request_id"] == body["json"]["requestId"]
        assert envelope["raw_data"] == body["json"]
    else:
        assert error["message"].startswith(f"HTTP {status} Reason")
        assert ("HTML" in error["message"]) == ("html" in body["headers"]["Content-Type"])
    if status == 403:
        assert error["code"] == 40301


def test_error_tab_401_text_exact(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=401, json=load_fixture("error_401.json"))
        envelope = integration.run("Get Schedules", {}, conn)
    assert envelope["error"]["text"].startswith("Get Schedules failed. Status Code: 401. Message: Could not authenticate.")
    assert "US" in envelope["error"]["text"] and "EU" in envelope["error"]["text"]


def test_error_keeps_opsgenie_errors_map(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=422, json=load_fixture("error_422_fields.json"))
        envelope = integration.run("Get Schedules", {}, conn)
    assert envelope["error"]["errors"] == {"limit": "must be less than or equal to 100"}


@pytest.mark.parametrize("body, what", [
    ("", "an empty body"),
    ("<html><body>Login</body></html>", "not JSON"),
    ("[1, 2]", "JSON that is not an object"),
    ('{"data": [', "not JSON"),
])
def test_bad_success_body(integration, conn, body, what):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=200, text=body)
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    assert envelope["error"]["type"] == "bad_response" and envelope["error"]["status_code"] == 200
    assert what in envelope["error"]["message"]


@pytest.mark.parametrize("exc, kind, words", [
    (requests.exceptions.ConnectTimeout, "timeout", "did not answer"),
    (requests.exceptions.ReadTimeout, "timeout", "did not answer"),
    (requests.exceptions.ConnectionError("Connection refused"), "transport", "Could not connect"),
    (requests.exceptions.ChunkedEncodingError, "transport", "closed before the whole answer"),
    (requests.exceptions.SSLError, "transport", "TLS"),
])
def test_transport_failures(integration, conn, exc, kind, words):
    with rm.Mocker() as m:
        m.get(rm.ANY, exc=exc)
        envelope = check_envelope(integration.run("Get Single User", {"user": "x@example.com"}, conn))
    error = envelope["error"]
    assert error["type"] == kind and error["status_code"] is None and error["retryable"] is True
    assert words in error["message"]
    assert error["text"].startswith("Get Single User failed. Message: ")


def test_server_url_region_and_trailing_slash(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        integration.run("Get Schedules", {}, {**conn, "server_url": "https://api.eu.opsgenie.com//"})
        integration.run("Get Schedules", {}, {**conn, "server_url": "https://api.eu.opsgenie.com/v2/"})
    assert [r.url for r in m.request_history] == ["https://api.eu.opsgenie.com/v2/schedules"] * 2


@pytest.mark.parametrize("url, words", [
    ("http://api.opsgenie.com", "https"),
    ("ftp://api.opsgenie.com", "expected"),
    ("https://user:pw@api.opsgenie.com", "credentials"),
    ("https://api.opsgenie.com/some/path", "path"),
    ("not a url", "expected"),
])
def test_bad_server_url_is_a_clear_error(integration, conn, url, words):
    with rm.Mocker() as m:
        envelope = check_envelope(integration.run("Get Schedules", {}, {**conn, "server_url": url}))
        assert m.request_history == []
    assert envelope["error"]["type"] == "configuration"
    assert "Server URL (server_url)" in envelope["error"]["message"] and words in envelope["error"]["message"]


def test_http_allowed_for_loopback(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        envelope = integration.run("Get Schedules", {}, {**conn, "server_url": "http://127.0.0.1:8080"})
    assert envelope["return_data"] == "Successful" and m.request_history[0].url == "http://127.0.0.1:8080/v2/schedules"


def test_invalid_input_sends_nothing(integration, conn):
    with rm.Mocker() as m:
        envelope = check_envelope(integration.run("Get Schedule Timeline", {
            "Schedule Name": "   ", "Interval": "two", "Interval Unit": "hours", "Date": "31/02/2024", "Expand": "all",
            "Colour": "red"}, conn))
        assert m.request_history == []
    error = envelope["error"]
    assert error["type"] == "validation" and error["status_code"] is None
    for words in ("Unknown input 'Colour'", "Schedule Name (schedule_name): must not be empty",
                  "Interval (interval): expected an integer, got 'two'",
                  "Interval Unit (interval_unit): expected one of days, weeks, months, got 'hours'",
                  "Date (date): expected a time", "Expand (expand): expected a comma-separated list"):
        assert words in error["message"]
    assert set(error["errors"]) == {"Colour", "Schedule Name", "Interval", "Interval Unit", "Date", "Expand"}


def test_unknown_command(integration, conn):
    envelope = check_envelope(integration.run("Delete Everything", {}, conn))
    assert envelope["command"] == "Delete Everything" and "Unknown command" in envelope["error"]["message"]
