"""Conformance layer: OpsGenie's recorded bodies (../shared/opsgenie/recorded) through the commands.

Reads the shared folder (OPSGENIE_SHARED_DIR); skipped where it is absent, a failure in .ci/run.
Every request these tests send is also checked against the OpenAPI description (conftest).
"""

from __future__ import annotations

import json

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE

pytestmark = pytest.mark.conformance


def recorded(shared_dir, name):
    return json.loads((shared_dir / "opsgenie" / "recorded" / name).read_text(encoding="utf-8"))


def test_every_recorded_body_parses(shared_dir):
    files = sorted((shared_dir / "opsgenie" / "recorded").rglob("*.json"))
    assert len(files) >= 10
    for path in files:
        body = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(body, dict) and "requestId" in body, path.name


@pytest.mark.parametrize(
    "command, inputs, url, name, check",
    [
        (
            "Get Schedules",
            {},
            "/v2/schedules",
            "schedules_list.docs.json",
            lambda e: e["schedules"][0]["rotations"][0]["participants"][1]["type"] == "team",
        ),
        (
            "Get On-call User",
            {"Schedule Name": "ScheduleName"},
            "/v2/schedules/ScheduleName/on-calls",
            "oncalls_nonflat.docs.json",
            lambda e: (
                [u["name"] for u in e["on_call_users"]]
                == ["user5@opsgenie.com", "user4@opsgenie.com"]
            ),
        ),
        (
            "Get Schedule Timeline",
            {"Schedule Name": "Testing Schedule"},
            "/v2/schedules/Testing%20Schedule/timeline",
            "timeline_full_envelope.third_party_test.json",
            lambda e: (
                [p["recipient"]["name"] for p in e["periods"]]
                == ["alice.lastname@example.com", "bob.familyname@example.com"]
            ),
        ),
        (
            "Get Single User",
            {"user": "john.doe@opsgenie.com"},
            "/v2/users/john.doe%40opsgenie.com",
            "user_get_expand_contact.sdk_fixture.json",
            lambda e: e["user"]["timeZone"] == "GMT",
        ),
        (
            "Fetch Event",
            {"Start Time": "2017-03-01", "End Time": "2017-05-01", "limit": 10},
            "/v2/alerts",
            # the docs list one alert twice with the same updatedAt: one event per (id, updatedAt)
            "alerts_list.docs.json",
            lambda e: [x["Priority"] for x in e["events"]] == ["P4"],
        ),
        (
            "Fetch Event",
            {"Start Time": "2021-11-01", "End Time": "2021-12-01", "limit": 1},
            "/v2/alerts",
            "alerts_list.demisto_testdata.json",
            lambda e: e["events"][0]["Original event ID"] == "163",
        ),
    ],
)
def test_recorded_bodies_through_commands_are_successful(
    integration, shared_dir, command, inputs, url, name, check
):
    body = recorded(shared_dir, name)
    with rm.Mocker() as m:
        m.get(BASE + url, json=body)
        envelope = integration.run(command, inputs, {"api_key": API_KEY, "max_retry_time": 0})
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert m.request_history[0].path == url.lower()
    assert check(envelope)


@pytest.mark.parametrize(
    "name, status, kind",
    [
        ("401_could_not_authenticate.json", 401, "auth"),
        ("403_40301_use_api_integration_key.json", 403, "forbidden"),
        ("422_key_format_not_valid.json", 422, "unprocessable"),
        ("429_throttled.go_sdk_test.json", 429, "rate_limited"),
    ],
)
def test_recorded_error_bodies_give_their_type_message_and_ids(
    integration, shared_dir, name, status, kind
):
    body = recorded(shared_dir, f"errors/{name}")
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=status, json=body)
        envelope = integration.run("Get Schedules", {}, {"api_key": API_KEY, "max_retry_time": 0})
    error = envelope["error"]
    assert (error["status_code"], error["type"], error["message"]) == (
        status,
        kind,
        body["message"],
    )
    assert error["request_id"] == body["requestId"]
    assert error["code"] == body.get("code")
    assert error["retryable"] is (status == 429)
    assert envelope["return_data"] == "Failed" and envelope["raw_data"] == body
