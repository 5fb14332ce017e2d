"""Who is on call, end to end against the sandbox serving a known world (oncall_world): next
on-call across a rotation boundary and a DST change, across schedules = each schedule's answer,
Is User On Call (true, false, through an escalation, through a team rotation), teams and
escalations, the timeline's shifts and picture, and the readable text on fixed data.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import API_KEY, REPO
from jsonschema import Draft202012Validator
from oncall_world import CLOCK, E_OPS, S_DB, S_OPS, T_OPS, T_OWLS, USERNAME, U, world

from opsgenie_integration import Integration
from opsgenie_integration.sandbox import Sandbox

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    path = tmp_path_factory.mktemp("world") / "world.json"
    path.write_text(json.dumps(world()), encoding="utf-8")
    with Sandbox(data_file=path, clock=CLOCK, api_key=API_KEY) as sb:
        yield sb


@pytest.fixture
def sb(sandbox):
    sandbox.requests.clear()
    sandbox.faults.clear()
    yield sandbox


@pytest.fixture(scope="module")
def integration_():
    return Integration.load(entry_points=False)


def run(integration, sb, command, inputs=None):
    envelope = integration.run(command, inputs or {}, {**sb.connection, "max_retry_time": 0})
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    assert isinstance(envelope["readable"], str) and envelope["readable"]
    return envelope


def ok(integration, sb, command, inputs=None):
    envelope = run(integration, sb, command, inputs)
    assert envelope["return_data"] == "Successful", envelope["error"]
    return envelope


def sent(sb):
    return [(r.method, r.path, {k: v[0] for k, v in r.query.items()}) for r in sb.requests]


def names(users):
    return [u["name"] for u in users]


# -- Get Next On-call User ---------------------------------------------------------------------


def test_next_on_call_across_a_rotation_boundary(integration_, sb):
    envelope = ok(
        integration_,
        sb,
        "Get Next On-call User",
        {"Schedule Name": "Ops Team/EU #1", "Datetime": "2026-10-20T06:00:00Z"},
    )
    # at 07:00Z (09:00 Berlin) omar takes over the primary rotation; the escalation stays on
    assert names(envelope["next_on_call_users"]) == [
        "omar@example.com",
        "eve@example.com",
        "ana@example.com",
        "bob@example.com",
    ]
    assert envelope["next_on_call_users"][1]["path"] == ["escalation:Ops escalation"]
    assert envelope["schedule"]["name"] == "Ops Team/EU #1"
    assert sent(sb)[0] == (
        "GET",
        "/v2/schedules/Ops%20Team%2FEU%20%231/next-on-calls",
        {"scheduleIdentifierType": "name", "date": "2026-10-20T06:00:00+00:00"},
    )
    assert envelope["readable"] == (
        "Next on call for Ops Team/EU #1 after 2026-10-20 06:00 UTC: omar@example.com, "
        "eve@example.com (via escalation Ops escalation), ana@example.com (via team Night Owls) "
        "and bob@example.com (via team Night Owls). Next in each rotation: omar@example.com, "
        "ana@example.com and bob@example.com."
    )


@pytest.mark.parametrize(
    ("date", "now_on", "next_on"),
    [
        # the clocks went back at 01:00Z: the 09:00 Berlin hand-off is now at 08:00Z, not 07:00Z
        ("2026-10-25T07:30:00Z", "omar@example.com", "jane.smith@example.com"),
        ("2026-10-25T08:30:00Z", "jane.smith@example.com", "omar@example.com"),
    ],
)
def test_next_on_call_across_a_dst_change(integration_, sb, date, now_on, next_on):
    now = ok(
        integration_, sb, "Get On-call User", {"Schedule Name": "Ops Team/EU #1", "Datetime": date}
    )
    assert now_on in names(now["on_call_users"])
    nxt = ok(
        integration_,
        sb,
        "Get Next On-call User",
        {"Schedule Name": S_OPS, "Schedule Identifier Type": "id", "Datetime": date},
    )
    assert names(nxt["next_on_call_users"])[0] == next_on
    assert sent(sb)[-1][1] == f"/v2/schedules/{S_OPS}/next-on-calls"
    assert sent(sb)[-1][2]["scheduleIdentifierType"] == "id"


def test_next_on_call_of_an_empty_schedule_is_nobody(integration_, sb):
    envelope = ok(integration_, sb, "Get Next On-call User", {"Schedule Name": "Empty"})
    assert envelope["next_on_call_users"] == [] and "nobody" in envelope["readable"]


def test_next_on_call_unknown_schedule_is_a_404(integration_, sb):
    envelope = run(integration_, sb, "Get Next On-call User", {"Schedule Name": "Nope"})
    assert envelope["return_data"] == "Failed" and envelope["error"]["status_code"] == 404
    assert envelope["readable"] == envelope["error"]["text"]


# -- Get On-call Users Across Schedules ----------------------------------------------------------


@pytest.mark.parametrize(
    "date", ["2026-10-20T06:00:00Z", "2026-10-25T07:30:00Z", "2026-10-27T12:00:00Z"]
)
def test_across_schedules_equals_each_schedules_answer(integration_, sb, date):
    across = ok(integration_, sb, "Get On-call Users Across Schedules", {"Datetime": date})
    assert [r["schedule"] for r in across["schedules"]] == [
        "Ops Team/EU #1",
        "Database On Call",
        "Empty",
    ]
    for row in across["schedules"]:
        one = ok(
            integration_,
            sb,
            "Get On-call User",
            {"Schedule Name": row["schedule"], "Datetime": date},
        )
        assert sorted(names(row["on_call_users"])) == sorted(names(one["on_call_users"])), row[
            "schedule"
        ]


def test_across_schedules_team_filter_keeps_the_schedules_it_owns(integration_, sb):
    for team in ("Night Owls", T_OWLS):
        envelope = ok(
            integration_,
            sb,
            "Get On-call Users Across Schedules",
            {"Team": team, "Datetime": "2026-10-20T13:00:00Z"},
        )
        assert [r["schedule_id"] for r in envelope["schedules"]] == [S_DB]
        assert names(envelope["schedules"][0]["on_call_users"]) == ["bob@example.com"]
        assert [p for _, p, _ in sent(sb)[-2:]] == ["/v2/schedules", "/v2/schedules/on-calls"]
    none = ok(integration_, sb, "Get On-call Users Across Schedules", {"Team": "nobody's"})
    assert none["schedules"] == []


# -- Is User On Call -----------------------------------------------------------------------------


def test_is_user_on_call_true_directly_until_the_hand_off(integration_, sb):
    envelope = ok(
        integration_,
        sb,
        "Is User On Call",
        {"Username or ID": "jane.smith@example.com", "Datetime": "2026-10-20T06:00:00Z"},
    )
    assert envelope["on_call"] is True
    assert envelope["schedules"] == [
        {
            "schedule": "Ops Team/EU #1",
            "schedule_id": S_OPS,
            "via": [{"rotation": "Primary", "type": "user", "name": "jane.smith@example.com"}],
            "until": "2026-10-20T07:00:00Z",
        }
    ]
    assert envelope["readable"] == (
        "Jane Smith is on call at 2026-10-20 06:00 UTC in Ops Team/EU #1 (rotation Primary) "
        "until 07:00."
    )
    paths = [p for _, p, _ in sent(sb)]
    assert paths == [
        "/v2/users/jane.smith%40example.com",
        "/v2/schedules/on-calls",
        f"/v2/schedules/{S_OPS}/timeline",
    ]
    assert sent(sb)[2][2] == {
        "identifierType": "id",
        "interval": "2",
        "intervalUnit": "weeks",
        "date": "2026-10-20T06:00:00+00:00",
    }


def test_is_user_on_call_false(integration_, sb):
    envelope = ok(
        integration_, sb, "Is User On Call", {"user": U["nina"], "Datetime": "2026-10-20T06:00:00Z"}
    )
    assert envelope["on_call"] is False and envelope["schedules"] == []
    assert envelope["readable"] == "Nina is not on call at 2026-10-20 06:00 UTC in any schedule."
    one = ok(
        integration_,
        sb,
        "Is User On Call",
        {
            "user": "omar@example.com",
            "Schedule Name": "Ops Team/EU #1",
            "Datetime": "2026-10-20T06:00:00Z",
        },
    )
    assert one["on_call"] is False
    assert one["readable"] == "Omar is not on call at 2026-10-20 06:00 UTC in Ops Team/EU #1."


def test_is_user_on_call_through_an_escalation(integration_, sb):
    envelope = ok(
        integration_,
        sb,
        "Is User On Call",
        {"user": "eve@example.com", "Datetime": "2026-10-20T06:00:00Z"},
    )
    assert envelope["on_call"] is True
    (row,) = envelope["schedules"]
    assert row["via"] == [{"rotation": "Backup", "type": "escalation", "name": "Ops escalation"}]
    assert row["until"] == "2026-10-26T08:00:00Z"  # a week of wall-clock time, across the DST end
    assert envelope["readable"] == (
        "Eve is on call at 2026-10-20 06:00 UTC in Ops Team/EU #1 (escalation Ops escalation in "
        "rotation Backup) until 2026-10-26 08:00 UTC."
    )


def test_is_user_on_call_through_a_team_rotation(integration_, sb):
    envelope = ok(
        integration_,
        sb,
        "Is User On Call",
        {"user": "ana@example.com", "Datetime": "2026-10-27T12:00:00Z"},
    )
    (row,) = envelope["schedules"]
    assert row["via"] == [{"rotation": "Backup", "type": "team", "name": "Night Owls"}]
    # bob is on call twice: directly in Database On Call and through the team in Ops Team/EU #1
    bob = ok(
        integration_,
        sb,
        "Is User On Call",
        {"user": "bob@example.com", "Datetime": "2026-10-27T12:00:00Z"},
    )
    assert [r["schedule"] for r in bob["schedules"]] == ["Ops Team/EU #1", "Database On Call"]
    assert bob["schedules"][1]["until"] == "2026-10-28T00:00:00Z"


def test_is_user_on_call_unknown_user_is_a_404(integration_, sb):
    envelope = run(integration_, sb, "Is User On Call", {"user": "ghost@example.com"})
    assert (
        envelope["error"]["status_code"] == 404
        and "ghost@example.com" in envelope["error"]["message"]
    )


# -- teams and escalations -------------------------------------------------------------------------


def test_get_team_by_name_and_by_id(integration_, sb):
    envelope = ok(integration_, sb, "Get Team", {"Team": "ops"})
    assert envelope["members"] == [
        {"id": U["jane"], "username": USERNAME["jane"], "role": "admin"},
        {"id": U["omar"], "username": USERNAME["omar"], "role": "user"},
    ]
    assert sent(sb)[-1] == ("GET", "/v2/teams/ops", {"identifierType": "name"})
    assert envelope["readable"] == "\n".join(
        [
            "Team ops (Operations): 2 members.",
            "",
            "| Username | Role | Id |",
            "|---|---|---|",
            f"| jane.smith@example.com | admin | {U['jane']} |",
            f"| omar@example.com | user | {U['omar']} |",
        ]
    )
    by_id = ok(integration_, sb, "Get Team", {"Team": T_OPS, "Identifier Type": "id"})
    assert by_id["team"] == envelope["team"]
    missing = run(integration_, sb, "Get Team", {"Team": "nope"})
    assert missing["error"]["status_code"] == 404


def test_list_teams(integration_, sb):
    envelope = ok(integration_, sb, "List Teams")
    assert [t["name"] for t in envelope["teams"]] == ["ops", "Night Owls"]
    assert "| Night Owls | Nights \\| weekends |" in envelope["readable"]


def test_get_and_list_escalations(integration_, sb):
    envelope = ok(integration_, sb, "Get Escalation", {"Escalation": "Ops escalation"})
    assert sent(sb)[-1] == ("GET", "/v2/escalations/Ops%20escalation", {"identifierType": "name"})
    assert envelope["rules"] == [
        {"step": 1, "delay": "0 min", "condition": "if-not-acked", "notify_type": "default",
         "recipient": "eve@example.com (user)", "recipient_type": "user", "recipient_id": U["eve"]},
        {"step": 2, "delay": "10 min", "condition": "if-not-acked", "notify_type": "all",
         "recipient": "Night Owls (team)", "recipient_type": "team", "recipient_id": T_OWLS},
    ]  # fmt: skip
    assert envelope["readable"].startswith("Escalation Ops escalation (team ops): 2 rules.\n\n")
    by_id = ok(integration_, sb, "Get Escalation", {"Escalation": E_OPS, "Identifier Type": "id"})
    assert by_id["escalation"] == envelope["escalation"]
    listed = ok(integration_, sb, "List Escalations")
    assert [e["id"] for e in listed["escalations"]] == [E_OPS]
    assert "0 min: eve@example.com (user) and 10 min: Night Owls (team)" in listed["readable"]


# -- Get Schedule Timeline: shifts and picture ------------------------------------------------------


def test_timeline_shifts_are_merged_across_rotations(integration_, sb):
    envelope = ok(
        integration_,
        sb,
        "Get Schedule Timeline",
        {
            "Schedule Name": "Ops Team/EU #1",
            "Date": "2026-10-24T00:00:00Z",
            "Interval": 2,
            "Interval Unit": "days",
        },
    )
    shifts = envelope["shifts"]
    # the window is 2026-10-24 00:00 .. 10-26 00:00 Berlin; the hand-off on 10-25 is at 08:00Z
    assert [(s["person"], s["rotation"], s["start"], s["end"], s["type"]) for s in shifts] == [
        ("jane.smith@example.com", "Primary", "2026-10-23T22:00:00Z", "2026-10-24T07:00:00Z", "default"),
        ("Ops escalation", "Backup", "2026-10-23T22:00:00Z", "2026-10-25T23:00:00Z", "default"),
        ("omar@example.com", "Primary", "2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z", "default"),
        ("jane.smith@example.com", "Primary", "2026-10-25T08:00:00Z", "2026-10-25T23:00:00Z", "default"),
    ]  # fmt: skip
    assert shifts[1]["person_type"] == "escalation" and shifts[1]["forwarded_from"] is None
    assert "picture" not in envelope
    assert envelope["readable"] == "\n".join(
        [
            "Timeline of Ops Team/EU #1, 2026-10-23 22:00 UTC to 2026-10-25 23:00 UTC: 4 shifts.",
            "",
            "| Person | Rotation | Start | End | Type | Forwarded from |",
            "|---|---|---|---|---|---|",
            "| jane.smith@example.com | Primary | 2026-10-23 22:00 UTC | 2026-10-24 07:00 UTC | default |  |",
            "| Ops escalation (escalation) | Backup | 2026-10-23 22:00 UTC | 2026-10-25 23:00 UTC | default |  |",
            "| omar@example.com | Primary | 2026-10-24 07:00 UTC | 2026-10-25 08:00 UTC | default |  |",
            "| jane.smith@example.com | Primary | 2026-10-25 08:00 UTC | 2026-10-25 23:00 UTC | default |  |",
        ]
    )


def test_timeline_picture_svg(integration_, sb):
    pytest.importorskip("drawsvg")
    envelope = ok(
        integration_,
        sb,
        "Get Schedule Timeline",
        {"Schedule Name": "Ops Team/EU #1", "Date": "2026-10-20T00:00:00Z", "Picture": "svg"},
    )
    root = ET.fromstring(envelope["picture"])
    groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "shift"]
    assert len(groups) == len(envelope["shifts"])
    assert root.get("data-time-zone") == "Europe/Berlin"


def test_timeline_picture_without_drawsvg_still_succeeds(integration_, sb, monkeypatch):
    monkeypatch.setitem(sys.modules, "drawsvg", None)
    envelope = ok(
        integration_,
        sb,
        "Get Schedule Timeline",
        {"Schedule Name": "Ops Team/EU #1", "Picture": "svg"},
    )
    assert envelope["picture"] is None and envelope["shifts"]
    assert "pip install 'opsgenie-integration[picture]'" in envelope["picture_error"]
    assert "pip install 'opsgenie-integration[picture]'" in envelope["readable"]


def test_every_command_has_a_readable_part(integration_, sb):
    manifest = integration_.manifest
    for command in manifest.commands:
        envelope = integration_.run(command.name, {}, {**sb.connection, "max_retry_time": 0})
        ENVELOPE.validate(envelope)
        assert isinstance(envelope["readable"], str) and envelope["readable"], command.name


# -- the contract: every request of the new commands is an operation of the OpenAPI description ----


def test_every_new_request_is_a_described_operation(integration_, sb, shared_dir):
    import contract

    spec = contract.load_spec(
        str(shared_dir / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json")
    )
    calls = [
        ("Get Next On-call User", {"Schedule Name": "Ops Team/EU #1"}),
        ("Get Next On-call User", {"Schedule Name": S_OPS, "Schedule Identifier Type": "id"}),
        ("Get On-call Users Across Schedules", {"Team": "ops"}),
        ("Is User On Call", {"user": "bob@example.com", "Datetime": "2026-10-27T12:00:00Z"}),
        ("Is User On Call", {"user": "jane.smith@example.com", "Schedule Name": "Ops Team/EU #1"}),
        ("Get Team", {"Team": "ops"}),
        ("List Teams", {}),
        ("Get Escalation", {"Escalation": E_OPS, "Identifier Type": "id"}),
        ("List Escalations", {}),
        ("Get Schedule Timeline", {"Schedule Name": "Ops Team/EU #1", "Picture": "svg"}),
    ]
    for command, inputs in calls:
        ok(integration_, sb, command, inputs)
    operations = set()
    for request in sb.requests:
        url = f"http://127.0.0.1{request.path}"
        if request.query:
            url += "?" + "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
        assert contract.check_request(spec, request.method, url.replace("+", "%2B")) == [], url
        operations.add(
            contract.find_operation(spec, request.method, request.path.split("?")[0])[1][
                "operationId"
            ]
        )
    assert operations >= {
        "getNextOnCalls", "listOnCalls", "listSchedules", "getUser", "getOnCalls",
        "getScheduleTimeline", "getSchedule", "getTeam", "listTeams", "getEscalation",
        "listEscalations",
    }  # fmt: skip


def test_the_on_calls_list_has_no_team_parameter(shared_dir):
    """Why the Team filter is applied to GET /v2/schedules' ownerTeam instead of being sent."""
    import contract

    spec = contract.load_spec(
        str(shared_dir / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json")
    )
    assert contract.check_request(spec, "GET", "https://x/v2/schedules/on-calls?team=ops") == [
        "GET /v2/schedules/on-calls: query parameter 'team' is not declared"
    ]
