"""Get Single User: the request that went out, and the envelope."""

from __future__ import annotations

import requests_mock as rm
from conftest import BASE, load_fixture

from .command_helpers import check_envelope, sent


def test_get_single_user_sends_the_username_as_one_encoded_segment(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("user.json"))
        envelope = check_envelope(
            integration.run("Get Single User", {"Username or ID": "user+oncall@example.com"}, conn)
        )
    path, query, _ = sent(m)
    assert path == "/v2/users/user%2Boncall%40example.com" and query == {}
    assert len(m.request_history) == 1
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert envelope["user"] == load_fixture("user.json")["data"]
    assert envelope["user"]["username"] == "user+oncall@example.com"
    assert "timeZone" not in envelope["user"]  # optional field absent: no error


def test_get_single_user_without_a_user_object_is_a_bad_response(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/users/x%40example.com", json={"data": ["x"], "requestId": "r-1"})
        envelope = check_envelope(
            integration.run("Get Single User", {"user": "x@example.com"}, conn)
        )
    error = envelope["error"]
    assert (error["type"], error["status_code"], error["request_id"]) == (
        "bad_response",
        200,
        "r-1",
    )
    assert error["message"] == "OpsGenie's answer has no user (data is list, not dict)."
    assert error["hint"] == "Check the Server URL: something other than OpsGenie may have answered."
