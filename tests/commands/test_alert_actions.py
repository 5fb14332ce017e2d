"""The alert actions against a mocked OpsGenie: the requests that go out (method, encoded path,
params, body), request tracking (not processed yet, isSuccess false, a wait that runs out), and
every failure kind as a Failed envelope naming what to do."""

from __future__ import annotations

import json

import pytest
import requests
import requests_mock as rm
from conftest import API_KEY, BASE

from .command_helpers import check_envelope, sent

RID = "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"
ALERT_ID = "8743a1b2-11da-480e-8493-744660987bef"
ACCEPTED = {"result": "Request will be processed", "took": 0.302, "requestId": RID}
STATUS_URL = f"{BASE}/v2/alerts/requests/{RID}"
NOT_PROCESSED = {
    "status_code": 404,
    "json": {"message": "Request not processed yet", "took": 0.01, "requestId": "x"},
    "headers": {"X-Opsgenie-Errortype": "RequestNotProcessed"},
}


def done(ok: bool = True, status: str = "Created alert", action: str = "Create") -> dict:
    return {
        "status_code": 200,
        "json": {
            "data": {
                "success": ok,
                "action": action,
                "processedAt": "2017-05-24T14:24:20.844Z",
                "integrationId": "c9cec2cb-e782-4ebb-bc1d-1b2fa703cf03",
                "isSuccess": ok,
                "status": status,
                "alertId": ALERT_ID,
                "alias": "cpu-web-01",
                "someFieldAddedLater": {"kept": True},
            },
            "took": 0.022,
            "requestId": "ec7e1d8e-1c75-442e-a271-731070a7fa4d",
        },
    }


@pytest.fixture
def wconn(conn):
    return {**conn, "request_wait": 2}


def run(integration, command, inputs, connection):
    return check_envelope(integration.run(command, inputs, connection))


def test_create_alert_sends_the_body_and_waits_for_the_alert_id(integration, wconn):
    with rm.Mocker() as m:
        m.post(f"{BASE}/v2/alerts", status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [NOT_PROCESSED, NOT_PROCESSED, done()])
        envelope = run(
            integration,
            "Create Alert",
            {
                "Message": "CPU above 90% on web-01",
                "Alias": "cpu-web-01",
                "Responders": "team:Ops, user:jane@example.com, escalation:4513b7ea-3b91-438f-b7e4-e3e54af9147c",
                "Visible To": '[{"type": "team", "name": "Security"}]',
                "Tags": "prod, cpu, prod",
                "Details": "host=web-01\nregion = eu-west-1\n\n",
                "Actions": ["Restart", "Ping"],
                "Priority": "P1",
                "Note": "raised by the playbook",
            },
            wconn,
        )
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert envelope["alert_id"] == ALERT_ID and envelope["alias"] == "cpu-web-01"
    assert envelope["request_id"] == RID and envelope["request_state"] == "processed"
    assert envelope["is_success"] is True and envelope["status_polls"] == 3
    assert envelope["note"] is None
    assert envelope["raw_data"]["request_status"]["data"]["someFieldAddedLater"] == {"kept": True}
    post = m.request_history[0]
    assert post.method == "POST" and post.headers["Content-Type"] == "application/json"
    assert post.json() == {
        "message": "CPU above 90% on web-01",
        "alias": "cpu-web-01",
        "priority": "P1",
        "responders": [
            {"type": "team", "name": "Ops"},
            {"type": "user", "username": "jane@example.com"},
            {"type": "escalation", "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c"},
        ],
        "visibleTo": [{"type": "team", "name": "Security"}],
        "actions": ["Restart", "Ping"],
        "tags": ["prod", "cpu"],
        "details": {"host": "web-01", "region": "eu-west-1"},
        "note": "raised by the playbook",
    }
    assert [r.method for r in m.request_history] == ["POST", "GET", "GET", "GET"]


@pytest.mark.parametrize(
    ("command", "inputs", "method", "path", "params", "body"),
    [
        ("Acknowledge Alert", {"Alert Identifier": "Ops/EU #1", "Identifier Type": "alias"}, "POST",
         "/v2/alerts/Ops%2FEU%20%231/acknowledge", {"identifierType": "alias"}, {}),
        ("Acknowledge Alert", {"identifier": ALERT_ID, "user": "jane", "source": "soar", "note": "n"}, "POST",
         f"/v2/alerts/{ALERT_ID}/acknowledge", {"identifierType": "id"}, {"user": "jane", "source": "soar", "note": "n"}),
        ("Unacknowledge Alert", {"identifier": "1791", "identifier_type": "tiny"}, "POST",
         "/v2/alerts/1791/unacknowledge", {"identifierType": "tiny"}, {}),
        ("Close Alert", {"identifier": "user+x@example.com", "identifier_type": "alias"}, "POST",
         "/v2/alerts/user%2Bx%40example.com/close", {"identifierType": "alias"}, {}),
        ("Snooze Alert", {"identifier": "a", "Snooze Until": "2099-01-02T03:04:05+02:00"}, "POST",
         "/v2/alerts/a/snooze", {"identifierType": "id"}, {"endTime": "2099-01-02T01:04:05.000Z"}),
        ("Escalate Alert", {"identifier": "a", "escalation": "Night escalation"}, "POST",
         "/v2/alerts/a/escalate", {"identifierType": "id"}, {"escalation": {"type": "escalation", "name": "Night escalation"}}),
        ("Escalate Alert", {"identifier": "a", "escalation": ALERT_ID}, "POST",
         "/v2/alerts/a/escalate", {"identifierType": "id"}, {"escalation": {"type": "escalation", "id": ALERT_ID}}),
        ("Assign Alert", {"identifier": "a", "owner": "jane@example.com"}, "POST",
         "/v2/alerts/a/assign", {"identifierType": "id"}, {"owner": {"type": "user", "username": "jane@example.com"}}),
        ("Add Responder", {"identifier": "a", "responder": "schedule:Primary"}, "POST",
         "/v2/alerts/a/responders", {"identifierType": "id"}, {"responder": {"type": "schedule", "name": "Primary"}}),
        ("Add Responder", {"identifier": "a", "responder": {"type": "user", "id": ALERT_ID}}, "POST",
         "/v2/alerts/a/responders", {"identifierType": "id"}, {"responder": {"type": "user", "id": ALERT_ID}}),
        ("Add Note", {"identifier": "a", "note": "looking", "user": "jane"}, "POST",
         "/v2/alerts/a/notes", {"identifierType": "id"}, {"note": "looking", "user": "jane"}),
        ("Add Tags", {"identifier": "a", "tags": '["x", "y z"]'}, "POST",
         "/v2/alerts/a/tags", {"identifierType": "id"}, {"tags": ["x", "y z"]}),
        ("Add Details", {"identifier": "a", "details": '{"k": "v", "n": 5, "b": true}'}, "POST",
         "/v2/alerts/a/details", {"identifierType": "id"}, {"details": {"k": "v", "n": "5", "b": "true"}}),
        ("Remove Tags", {"identifier": "a", "tags": "x, y z", "note": "cleanup"}, "DELETE",
         "/v2/alerts/a/tags", {"identifierType": "id", "tags": "x,y z", "note": "cleanup"}, None),
        ("Remove Details", {"identifier": "a", "keys": ["k1", "k2"]}, "DELETE",
         "/v2/alerts/a/details", {"identifierType": "id", "keys": "k1,k2"}, None),
        ("Delete Alert", {"identifier": "a", "identifier_type": "alias", "user": "jane", "source": "soar"}, "DELETE",
         "/v2/alerts/a", {"identifierType": "alias", "user": "jane", "source": "soar"}, None),
    ],
)  # fmt: skip
def test_each_write_sends_one_request_as_documented(
    integration, wconn, command, inputs, method, path, params, body
):
    with rm.Mocker() as m:
        m.register_uri(method, rm.ANY, status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [done(action=command)])
        envelope = run(integration, command, inputs, wconn)
    assert envelope["return_data"] == "Successful", envelope["error"]
    first = m.request_history[0]
    raw_path, query, _ = sent(m, 0)
    assert first.method == method and raw_path == path and query == params
    assert (first.json() if first.body else None) == body
    assert envelope["alert_id"] == ALERT_ID and envelope["status_polls"] == 1


def test_is_success_false_is_a_failed_envelope_with_opsgenie_status(integration, wconn):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [done(False, "Alert is closed; a closed alert cannot be acknowledged")])
        envelope = run(integration, "Acknowledge Alert", {"identifier": "a"}, wconn)
    assert envelope["return_data"] == "Failed"
    error = envelope["error"]
    assert error["type"] == "request_failed" and error["request_id"] == RID
    assert "a closed alert cannot be acknowledged" in error["message"]
    assert error["retryable"] is False
    assert envelope["request_id"] == RID and envelope["is_success"] is False


def test_a_wait_that_runs_out_is_successful_but_pending(integration, wconn):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [NOT_PROCESSED])
        envelope = run(
            integration, "Close Alert", {"identifier": "a"}, {**wconn, "request_wait": 0.6}
        )
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert envelope["request_state"] == "pending" and envelope["is_success"] is None
    assert f"check Get Request Status with requestId {RID}" in envelope["note"]
    assert 1 <= envelope["status_polls"] <= 5 and envelope["waited_seconds"] < 1.5


def test_request_wait_zero_does_not_poll(integration, wconn):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json=ACCEPTED)
        envelope = run(
            integration, "Close Alert", {"identifier": "a"}, {**wconn, "request_wait": 0}
        )
    assert envelope["request_state"] == "pending" and envelope["status_polls"] == 0
    assert len(m.request_history) == 1


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"status_code": 404, "json": {"message": "request not found", "took": 1, "requestId": "r"}}, "request not found"),
        ({"status_code": 403, "json": {"message": "You are not authorized", "code": 40301, "took": 1, "requestId": "r"}}, "not authorized"),
        ({"status_code": 200, "json": {"data": {"action": "Create"}, "took": 1, "requestId": "r"}}, "no isSuccess"),
    ],
)  # fmt: skip
def test_a_status_that_cannot_be_read_stops_at_once_unconfirmed(integration, wconn, answer, why):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [answer, done()])
        envelope = run(integration, "Create Alert", {"message": "m"}, wconn)
    assert envelope["return_data"] == "Successful"
    assert envelope["request_state"] == "unconfirmed" and envelope["status_polls"] == 1
    assert why in envelope["note"] and RID in envelope["note"]


def test_a_200_saying_not_processed_is_polled_again(integration, wconn):
    pending = {
        "status_code": 200,
        "json": {"data": {"status": "Request is not processed yet"}, "took": 1, "requestId": "r"},
    }
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [pending, done()])
        envelope = run(integration, "Create Alert", {"message": "m"}, wconn)
    assert envelope["request_state"] == "processed" and envelope["status_polls"] == 2


def test_a_4xx_keeps_opsgenie_message_and_errors(integration, wconn, shared_dir):
    body = json.loads(
        (shared_dir / "opsgenie/recorded/actions/error_422_validation.go_sdk_test.json").read_text()
    )
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=422, json=body)
        envelope = run(integration, "Create Alert", {"message": "m", "responders": "team:x"}, wconn)
    error = envelope["error"]
    assert envelope["return_data"] == "Failed" and error["status_code"] == 422
    assert error["message"] == body["message"] and error["errors"] == body["errors"]
    assert "recipients#type" in error["hint"] and len(m.request_history) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_write_is_not_retried_and_may_have_been_applied(integration, wconn, status):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=status, json={"message": "boom", "took": 0, "requestId": RID})
        envelope = run(
            integration, "Create Alert", {"message": "m"}, {**wconn, "max_retry_time": 30}
        )
    error = envelope["error"]
    assert envelope["return_data"] == "Failed" and len(m.request_history) == 1
    assert error["type"] == "outcome_unknown" and error["retryable"] is False
    assert error["status_code"] == status and error["request_id"] == RID
    assert (
        f"may have been applied; check Get Request Status with requestId {RID}" in error["message"]
    )


@pytest.mark.parametrize(
    "exc", [requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError]
)
def test_no_answer_to_a_write_may_have_been_applied(integration, wconn, exc):
    with rm.Mocker() as m:
        m.post(rm.ANY, exc=exc)
        envelope = run(integration, "Add Note", {"identifier": "a", "note": "n"}, wconn)
    error = envelope["error"]
    assert error["type"] == "outcome_unknown" and len(m.request_history) == 1
    assert "may have been applied" in error["message"] and error["request_id"] is None


def test_a_refused_connection_was_not_applied(integration, wconn):
    with rm.Mocker() as m:
        m.post(rm.ANY, exc=requests.exceptions.ConnectionError("Connection refused"))
        envelope = run(integration, "Add Note", {"identifier": "a", "note": "n"}, wconn)
    assert envelope["error"]["type"] == "transport"
    assert "may have been applied" not in envelope["error"]["message"]


def test_a_202_without_request_id_is_a_bad_response(integration, wconn):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json={"result": "Request will be processed"})
        envelope = run(integration, "Close Alert", {"identifier": "a"}, wconn)
    assert envelope["error"]["type"] == "bad_response" and len(m.request_history) == 1


@pytest.mark.parametrize(
    ("command", "inputs", "names"),
    [
        ("Create Alert", {}, "Message (message)"),
        ("Create Alert", {"message": "m" * 131}, "Message (message)"),
        ("Create Alert", {"message": "m", "alias": "a" * 513}, "Alias (alias)"),
        ("Create Alert", {"message": "m", "description": "d" * 15001}, "Description (description)"),
        ("Create Alert", {"message": "m", "entity": "e" * 513}, "Entity (entity)"),
        ("Create Alert", {"message": "m", "user": "u" * 101}, "User (user)"),
        ("Create Alert", {"message": "m", "source": "s" * 101}, "Source (source)"),
        ("Create Alert", {"message": "m", "note": "n" * 25001}, "Note (note)"),
        ("Create Alert", {"message": "m", "priority": "P6"}, "Priority (priority)"),
        ("Create Alert", {"message": "m", "tags": ",".join(f"t{i}" for i in range(21))}, "Tags (tags)"),
        ("Create Alert", {"message": "m", "tags": "x" * 51}, "Tags (tags)"),
        ("Create Alert", {"message": "m", "actions": ",".join(f"a{i}" for i in range(11))}, "Actions (actions)"),
        ("Create Alert", {"message": "m", "details": {"k": "v" * 8000}}, "Details (details)"),
        ("Create Alert", {"message": "m", "details": "no equals sign"}, "Details (details)"),
        ("Create Alert", {"message": "m", "details": '{"k": {"nested": 1}}'}, "Details (details)"),
        ("Create Alert", {"message": "m", "details": "k=1\nk=2"}, "Details (details)"),
        ("Create Alert", {"message": "m", "responders": "group:x"}, "Responders (responders)"),
        ("Create Alert", {"message": "m", "responders": "Ops"}, "Responders (responders)"),
        ("Create Alert", {"message": "m", "responders": '[{"type": "team"}]'}, "Responders (responders)"),
        ("Create Alert", {"message": "m", "responders": "[not json"}, "Responders (responders)"),
        ("Create Alert", {"message": "m", "visible_to": "escalation:x"}, "Visible To (visible_to)"),
        ("Acknowledge Alert", {}, "Alert Identifier (identifier)"),
        ("Acknowledge Alert", {"identifier": "a", "identifier_type": "name"}, "Identifier Type (identifier_type)"),
        ("Acknowledge Alert", {"identifier": ".."}, "Alert Identifier (identifier)"),
        ("Snooze Alert", {"identifier": "a"}, "Snooze Until (end_time)"),
        ("Snooze Alert", {"identifier": "a", "end_time": "2001-01-01T00:00:00Z"}, "Snooze Until (end_time)"),
        ("Snooze Alert", {"identifier": "a", "end_time": "tomorrow-ish"}, "Snooze Until (end_time)"),
        ("Escalate Alert", {"identifier": "a", "escalation": " "}, "Escalation (escalation)"),
        ("Assign Alert", {"identifier": "a"}, "Owner (owner)"),
        ("Add Responder", {"identifier": "a", "responder": "all:x"}, "Responder (responder)"),
        ("Add Responder", {"identifier": "a", "responder": '[{"type": "team", "name": "a"}, {"type": "team", "name": "b"}]'}, "Responder (responder)"),
        ("Add Note", {"identifier": "a"}, "Note (note)"),
        ("Add Tags", {"identifier": "a", "tags": " , "}, "Tags (tags)"),
        ("Remove Tags", {"identifier": "a", "tags": ["a,b"]}, "Tags (tags)"),
        ("Add Details", {"identifier": "a", "details": "{}"}, "Details (details)"),
        ("Remove Details", {"identifier": "a"}, "Keys (keys)"),
        ("List Alert Notes", {"identifier": "a", "limit": 101}, "Limit (limit)"),
        ("List Alert Logs", {"identifier": "a", "order": "up"}, "Order (order)"),
        ("Get Request Status", {}, "Request ID (request_id)"),
    ],
)  # fmt: skip
def test_bad_inputs_fail_before_any_request_naming_the_input(
    integration, wconn, command, inputs, names
):
    with rm.Mocker() as m:
        envelope = run(integration, command, inputs, wconn)
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "validation"
    assert names in envelope["error"]["message"], envelope["error"]["message"]
    assert m.request_history == []


def test_reads(integration, wconn, shared_dir):
    recorded = shared_dir / "opsgenie/recorded/actions"
    alert = json.loads((recorded / "alert_get.stackstorm_fixture.json").read_text())
    count = json.loads((recorded / "alert_count.stackstorm_fixture.json").read_text())
    status = json.loads(
        (recorded / "request_status_create_success.stackstorm_fixture.json").read_text()
    )
    notes = {
        "data": [{"note": "n1", "owner": "o", "createdAt": "2017-04-03T20:05:50.894Z", "offset": "1492"}],
        "paging": {"next": f"{BASE}/v2/alerts/a/notes?identifierType=id&offset=1492&direction=next", "first": "x"},
        "took": 0.1, "requestId": "r",
    }  # fmt: skip
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts/event_573", json=alert)
        m.get(f"{BASE}/v2/alerts/count", json=count)
        m.get(f"{BASE}/v2/alerts/requests/{RID}", json=status)
        m.get(f"{BASE}/v2/alerts/a/notes", json=notes)
        m.get(f"{BASE}/v2/alerts/a/logs", json={**notes, "paging": {"first": "x"}})
        m.get(f"{BASE}/v2/alerts/a/recipients", json={"data": [], "took": 0, "requestId": "r"})
        got = run(
            integration, "Get Alert", {"identifier": "event_573", "identifier_type": "alias"}, wconn
        )
        assert got["alert"]["details"] == {"serverName": "Zion", "region": "Oregon"}
        assert sent(m)[1] == {"identifierType": "alias"}
        assert run(integration, "Count Alerts", {"query": "status: open"}, wconn)["count"] == 7
        assert sent(m)[1] == {"query": "status: open"}
        got = run(integration, "Get Request Status", {"request_id": RID}, wconn)
        assert got["processed"] is True and got["alert_id"] == status["data"]["alertId"]
        got = run(
            integration, "List Alert Notes", {"identifier": "a", "limit": 1, "order": "asc"}, wconn
        )
        assert got["notes"][0]["note"] == "n1" and got["next_offset"] == "1492"
        assert sent(m)[1] == {"identifierType": "id", "limit": "1", "order": "asc"}
        got = run(
            integration,
            "List Alert Logs",
            {"identifier": "a", "offset": "1492", "direction": "prev"},
            wconn,
        )
        assert got["next_offset"] is None and sent(m)[1]["direction"] == "prev"
        assert (
            run(integration, "List Alert Recipients", {"identifier": "a"}, wconn)["recipients"]
            == []
        )


def test_get_request_status_not_processed_yet_is_successful(integration, wconn):
    with rm.Mocker() as m:
        m.get(STATUS_URL, [NOT_PROCESSED])
        got = run(integration, "Get Request Status", {"request_id": RID}, wconn)
    assert got["return_data"] == "Successful" and got["processed"] is False
    with rm.Mocker() as m:
        m.get(
            STATUS_URL,
            json={"data": {"status": "Request is not processed yet"}, "took": 1, "requestId": "r"},
        )
        got = run(integration, "Get Request Status", {"request_id": RID}, wconn)
    assert got["return_data"] == "Successful" and got["processed"] is False
    with rm.Mocker() as m:
        m.get(
            STATUS_URL,
            status_code=404,
            json={"message": "request not found", "took": 1, "requestId": "r"},
        )
        got = run(integration, "Get Request Status", {"request_id": RID}, wconn)
    assert got["return_data"] == "Failed" and got["error"]["type"] == "not_found"


def test_no_input_is_sent_when_not_given(integration, wconn):
    with rm.Mocker() as m:
        m.post(rm.ANY, status_code=202, json=ACCEPTED)
        m.get(STATUS_URL, [done()])
        run(integration, "Create Alert", {"message": "m", "alias": "", "note": None}, wconn)
    assert m.request_history[0].json() == {"message": "m"}
    assert API_KEY not in json.dumps(m.request_history[0].json())
