"""Get Schedules, Get Schedule Timeline and Get On-call User: the requests that went out (names
encoded as one path segment, only the options given), and the envelope."""

from __future__ import annotations

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, load_fixture

from .command_helpers import check_envelope, sent


def test_get_schedules_sends_a_bare_get_and_passes_the_list_through(integration, conn):
    # Given OpsGenie lists two schedules, one without ownerTeam
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/schedules", json=load_fixture("schedules.json"))
        # When
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    # Then
    path, query, _ = sent(m)
    assert path == "/v2/schedules" and query == {}
    assert len(m.request_history) == 1
    assert m.request_history[0].headers["Authorization"] == f"GenieKey {API_KEY}"
    assert m.request_history[0].headers["Accept"] == "application/json"
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert envelope["schedules"] == load_fixture("schedules.json")["data"]
    assert [s["name"] for s in envelope["schedules"]] == ["Ops Team/EU #1", "Équipe Nuit"]
    assert "ownerTeam" not in envelope["schedules"][1]
    assert envelope["schedules"][0]["timezone"] == "Africa/Monrovia"  # passed through as answered
    assert envelope["raw_data"]["requestId"] == "3b2f1e00-aaaa-4bbb-8ccc-000000000003"


@pytest.mark.parametrize("data, kind", [({"a": 1}, "dict"), (None, "NoneType"), ("x", "str")])
def test_get_schedules_without_a_list_is_a_bad_response_naming_the_type(
    integration, conn, data, kind
):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/schedules", json={"data": data, "requestId": 7})
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    error = envelope["error"]
    assert (error["type"], error["status_code"]) == ("bad_response", 200)
    assert error["request_id"] is None  # a requestId that is not a string is not trusted
    assert (
        error["message"]
        == f"OpsGenie's answer has no list of schedules (data is {kind}, not list)."
    )


@pytest.mark.parametrize(
    "name, encoded",
    [
        ("Ops Team/EU #1", "Ops%20Team%2FEU%20%231"),
        ("Équipe Nuit", "%C3%89quipe%20Nuit"),
        ("50%?off", "50%25%3Foff"),
        ("a+b", "a%2Bb"),
        ("O'Brien's rota.v2", "O%27Brien%27s%20rota.v2"),
    ],
)
def test_get_on_call_user_encodes_name_as_one_segment(integration, conn, name, encoded):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("oncalls_tree.json"))
        envelope = check_envelope(
            integration.run("Get On-call User", {"Schedule Name": name}, conn)
        )
    path, query, _ = sent(m, 0)
    assert path == f"/v2/schedules/{encoded}/on-calls"
    assert query == {"scheduleIdentifierType": "name"}  # no date sent when none given
    assert envelope["return_data"] == "Successful"


def test_get_on_call_user_flattens_the_tree_and_asks_the_flat_form_for_members(integration, conn):
    flat = {
        "data": {
            "_parent": {"id": "c", "name": "Ops Team/EU #1", "enabled": True},
            "onCallRecipients": ["user+oncall@example.com", "robot.owner@example.com", 5],
        },
        "took": 0.1,
        "requestId": "3b2f1e00-aaaa-4bbb-8ccc-000000000008",
    }
    with rm.Mocker() as m:
        m.get(rm.ANY, response_list=[{"json": load_fixture("oncalls_tree.json")}, {"json": flat}])
        envelope = check_envelope(
            integration.run(
                "get_on_call_user",
                {"schedule_name": "Ops Team/EU #1", "Datetime": "2024-03-01T08:00:00+02:00"},
                conn,
            )
        )
    _, query, raw_query = sent(m, 0)
    assert query == {"scheduleIdentifierType": "name", "date": "2024-03-01T06:00:00+00:00"}
    assert "date=2024-03-01T06%3A00%3A00%2B00%3A00" in raw_query  # + arrives as %2B
    # the tree named a schedule and an unknown participant without members: ask the flat form too
    assert sent(m, 1)[1] == {
        "scheduleIdentifierType": "name",
        "flat": "true",
        "date": "2024-03-01T06:00:00+00:00",
    }
    assert len(m.request_history) == 2 and len(envelope["raw_data"]) == 2
    assert envelope["raw_data"][1] == flat
    users = envelope["on_call_users"]
    assert users == [
        {
            "id": "u0000000-0000-4000-8000-000000000001",
            "name": "user+oncall@example.com",
            "path": [],
        },
        {
            "id": "u0000000-0000-4000-8000-000000000002",
            "name": "ada.lovelace@example.com",
            "path": ["escalation:ops_escalation", "team:ops"],
        },
        {"id": None, "name": "robot.owner@example.com", "path": ["flat"]},
    ]
    # the flat answer's usernames as given, anything but a string dropped
    assert envelope["on_call_recipients"] == ["user+oncall@example.com", "robot.owner@example.com"]
    # an unknown participant type and a schedule without members are passed through, not rejected
    assert envelope["unresolved_participants"] == [
        {
            "id": "c0ffee00-0000-4000-8000-000000000009",
            "name": "ops_backup_schedule",
            "type": "schedule",
            "path": ["escalation:ops_escalation"],
            "rules": [{"notifyType": "default", "escalationTime": 0}],
        },
        {
            "id": "r0000000-0000-4000-8000-000000000001",
            "name": "pager_robot",
            "type": "robot",
            "path": [],
            "rules": [],
        },
    ]
    assert envelope["on_call_participants"][0]["type"] == "user"
    assert envelope["schedule"]["name"] == "Ops Team/EU #1"


def test_get_on_call_user_with_only_users_makes_one_call(integration, conn):
    tree = {
        "data": {
            "_parent": {"name": "S"},
            "onCallParticipants": [
                {"id": "u1", "name": "a@example.com", "type": "user"},
                {"id": "u1", "name": "a@example.com", "type": "user"},  # listed twice: once
                {"type": "none"},
                "not an object",
            ],
        },
        "requestId": "r",
    }
    with rm.Mocker() as m:
        m.get(rm.ANY, json=tree)
        envelope = check_envelope(integration.run("Get On-call User", {"Schedule Name": "S"}, conn))
    assert len(m.request_history) == 1 and envelope["raw_data"] == tree
    assert envelope["on_call_users"] == [{"id": "u1", "name": "a@example.com", "path": []}]
    assert envelope["unresolved_participants"] == [] and "on_call_recipients" not in envelope


def test_get_on_call_user_nobody_on_call_is_successful(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("oncalls_empty.json"))
        envelope = check_envelope(
            integration.run("Get On-call User", {"Schedule Name": "Équipe Nuit"}, conn)
        )
    assert envelope["return_data"] == "Successful"
    assert envelope["on_call_users"] == [] and envelope["on_call_participants"] == []
    assert envelope["unresolved_participants"] == []
    assert len(m.request_history) == 1


def test_get_on_call_user_flat_answer_without_an_object_is_a_bad_response(integration, conn):
    with rm.Mocker() as m:
        m.get(
            rm.ANY,
            response_list=[{"json": load_fixture("oncalls_tree.json")}, {"json": {"data": []}}],
        )
        envelope = check_envelope(integration.run("Get On-call User", {"Schedule Name": "S"}, conn))
    assert envelope["error"]["type"] == "bad_response"
    assert envelope["error"]["message"] == (
        "OpsGenie's answer has no on-call recipients (data is list, not dict)."
    )


def test_get_schedule_timeline_sends_every_option(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("timeline.json"))
        envelope = check_envelope(
            integration.run(
                "Get Schedule Timeline",
                {
                    "Schedule Name": "Ops Team/EU #1",
                    "Interval": "2",
                    "Interval Unit": "days",
                    "Date": "2024-03-01",
                    "Expand": "base, override",
                },
                conn,
            )
        )
    path, query, _ = sent(m)
    assert path == "/v2/schedules/Ops%20Team%2FEU%20%231/timeline"
    assert query == {
        "identifierType": "name",
        "interval": "2",
        "intervalUnit": "days",
        "date": "2024-03-01T00:00:00+00:00",
        "expand": "base,override",
    }
    assert [p["type"] for p in envelope["periods"]] == ["default", "historical"]
    assert envelope["periods"][0] == {
        "rotation": "Day shift",
        "rotation_id": "r0000000-0000-4000-8000-0000000000a1",
        "startDate": "2024-03-01T00:00:00Z",
        "endDate": "2024-03-02T00:00:00Z",
        "type": "default",
        "recipient": {
            "id": "u0000000-0000-4000-8000-000000000002",
            "type": "user",
            "name": "ada.lovelace@example.com",
        },
    }
    assert envelope["timeline"] == load_fixture("timeline.json")["data"]


def test_get_schedule_timeline_sends_only_identifier_type_by_default(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("timeline.json"))
        integration.run("Get Schedule Timeline", {"Schedule Name": "Équipe Nuit"}, conn)
    path, query, _ = sent(m)
    assert path == "/v2/schedules/%C3%89quipe%20Nuit/timeline" and query == {
        "identifierType": "name"
    }


def test_get_schedule_timeline_skips_rotations_and_periods_that_are_not_objects(integration, conn):
    body = {
        "data": {
            "finalTimeline": {
                "rotations": [
                    "x",
                    {"name": "R", "id": "r", "periods": [1, {"type": "default"}]},
                    {"name": "No periods", "periods": None},
                ]
            }
        }
    }
    with rm.Mocker() as m:
        m.get(rm.ANY, json=body)
        envelope = check_envelope(
            integration.run("Get Schedule Timeline", {"Schedule Name": "S"}, conn)
        )
    assert envelope["periods"] == [
        {
            "rotation": "R",
            "rotation_id": "r",
            "startDate": None,
            "endDate": None,
            "type": "default",
            "recipient": None,
        }
    ]


def test_get_on_call_user_lists_a_participant_named_by_two_escalation_rules_once(integration, conn):
    schedule = {"id": "s-9", "name": "backup", "type": "schedule"}
    tree = {
        "data": {
            "_parent": {"name": "S"},
            "onCallParticipants": [
                {
                    "id": "e-1",
                    "name": "esc",
                    "type": "escalation",
                    "onCallParticipants": [
                        {**schedule, "escalationTime": 0, "notifyType": "default"},
                        {**schedule, "escalationTime": 5, "notifyType": "next"},
                    ],
                }
            ],
        }
    }
    flat = {"data": {"_parent": {"name": "S"}, "onCallRecipients": []}}
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/schedules/S/on-calls", [{"json": tree}, {"json": flat}])
        envelope = check_envelope(integration.run("Get On-call User", {"Schedule Name": "S"}, conn))
    assert envelope["unresolved_participants"] == [
        {
            **schedule,
            "path": ["escalation:esc"],
            "rules": [
                {"notifyType": "default", "escalationTime": 0},
                {"notifyType": "next", "escalationTime": 5},
            ],
        }
    ]
