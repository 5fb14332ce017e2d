"""Schedules, timelines, on-calls and next-on-calls computed from known rotations (small_dataset).

Ops Team/EU #1 (Europe/Berlin): weekly anna -> ben -> ops_escalation from Mon 2024-03-04T00:00Z
(hand-offs at 01:00 Berlin, also after the DST change of 2024-03-31), a daily team rotation
09:00-17:00 Berlin, and an override by carl on 2024-03-07 10:00-12:00Z. Équipe Nuit (UTC): six-hour
slots carl, none, user+oncall from 2024-03-01T00:00Z to 2024-04-01T00:00Z.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from opsgenie_integration.sandbox import Sandbox

from .sandbox_helpers import (
    E_OPS,
    S_EMPTY,
    S_NIGHT,
    S_OPS,
    T_OPS,
    U_ANNA,
    U_BEN,
    U_CARL,
    U_PLUS,
    make_api,
    small_dataset,
)

OPS = quote("Ops Team/EU #1", safe="")
NUIT = quote("Équipe Nuit", safe="")
ANNA = {"id": U_ANNA, "name": "anna@example.com", "type": "user"}
BEN = {"id": U_BEN, "name": "ben@example.com", "type": "user"}
CARL = {"id": U_CARL, "name": "carl@example.com", "type": "user"}
PLUS = {"id": U_PLUS, "name": "user+oncall@example.com", "type": "user"}
TEAM = {"id": T_OPS, "name": "ops", "type": "team"}


def on_calls(api, path: str, **params) -> dict:
    r = api.get(f"/v2/schedules/{path}/on-calls", params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_encoded_names_round_trip_and_identifier_types(small_api, small):
    assert OPS == "Ops%20Team%2FEU%20%231"
    r = small_api.get(f"/v2/schedules/{OPS}/timeline", params={"identifierType": "name"})
    assert r.status_code == 200 and r.json()["data"]["_parent"]["name"] == "Ops Team/EU #1"
    assert small.requests[-1].path == "/v2/schedules/Ops%20Team%2FEU%20%231/timeline"
    # Without identifierType=name the name is looked up as an id: not found, as on OpsGenie
    r = small_api.get(f"/v2/schedules/{OPS}/timeline")
    assert r.status_code == 404 and "Ops Team/EU #1" in r.json()["message"]
    # on-calls takes scheduleIdentifierType; identifierType is ignored there (the trap)
    assert (
        small_api.get(
            f"/v2/schedules/{OPS}/on-calls", params={"identifierType": "name"}
        ).status_code
        == 404
    )
    assert on_calls(small_api, OPS, scheduleIdentifierType="name")["_parent"]["id"] == S_OPS
    assert (
        on_calls(small_api, NUIT, scheduleIdentifierType="name")["_parent"]["name"] == "Équipe Nuit"
    )
    assert small_api.get(f"/v2/schedules/{S_OPS}").json()["data"]["name"] == "Ops Team/EU #1"
    assert (
        small_api.get(f"/v2/schedules/{NUIT}", params={"identifierType": "name"}).status_code == 200
    )


def test_schedule_list_and_get_shapes(small_api):
    r = small_api.get("/v2/schedules")
    body = r.json()
    assert body["expandable"] == ["rotation"] and set(body) == {
        "data",
        "expandable",
        "took",
        "requestId",
    }
    assert [s["name"] for s in body["data"]] == ["Ops Team/EU #1", "Équipe Nuit", "Empty"]
    assert all("rotations" not in s and "overrides" not in s for s in body["data"])
    assert "ownerTeam" not in body["data"][1]
    expanded = small_api.get("/v2/schedules", params={"expand": "rotation"}).json()["data"]
    assert [len(s["rotations"]) for s in expanded] == [2, 1, 0]
    one = small_api.get(f"/v2/schedules/{S_OPS}").json()
    assert set(one) == {"data", "took", "requestId"}
    assert one["data"]["rotations"][0]["participants"][2] == {
        "type": "escalation",
        "id": E_OPS,
        "name": "ops_escalation",
    }
    assert "overrides" not in one["data"]


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (None, [ANNA, TEAM]),  # the clock: Wed 2024-03-06 13:00 Berlin
        ("2024-03-06T20:00:00Z", [ANNA]),  # outside business hours
        ("2024-03-06T21:00:00+01:00", [ANNA]),  # the same instant with an offset (+ sent as %2B)
        ("2024-03-07T11:00:00Z", [CARL, TEAM]),  # the override replaces anna
        ("2024-03-11T00:00:00Z", [BEN]),  # next week
        ("2024-03-31T22:30:00Z", [ANNA]),  # still anna: hand-off at 01:00 CEST = 23:00Z after DST
        ("2024-03-31T23:00:00Z", [BEN]),
        ("2024-03-03T12:00:00Z", []),  # before the rotations start: nobody
    ],
)
def test_on_calls_nested(small_api, date, expected):
    params = {"date": date} if date else {}
    data = on_calls(small_api, S_OPS, **params)
    assert data["_parent"] == {"id": S_OPS, "name": "Ops Team/EU #1", "enabled": True}
    assert data["onCallParticipants"] == expected
    assert "onCallRecipients" not in data


def test_on_calls_escalation_tree_and_flat_form(small_api):
    data = on_calls(small_api, S_OPS, date="2024-03-20T20:00:00Z")
    assert data["onCallParticipants"] == [
        {
            "id": E_OPS,
            "name": "ops_escalation",
            "type": "escalation",
            "onCallParticipants": [
                dict(CARL, escalationTime=0, notifyType="default"),
                dict(TEAM, onCallParticipants=[ANNA, BEN], escalationTime=10, notifyType="all"),
                {
                    "id": S_NIGHT,
                    "name": "Équipe Nuit",
                    "type": "schedule",
                    "escalationTime": 20,
                    "notifyType": "next",
                },
            ],
        }
    ]
    # flat: through the escalation's user, team and schedule (Équipe Nuit has an empty slot then)
    flat = on_calls(small_api, S_OPS, date="2024-03-20T20:00:00Z", flat="true")
    assert flat["onCallRecipients"] == ["carl@example.com", "anna@example.com", "ben@example.com"]
    assert "onCallParticipants" not in flat
    # at 02:00Z on 03-21 Équipe Nuit (a schedule inside the escalation) has user+oncall
    flat = on_calls(small_api, S_OPS, date="2024-03-21T02:00:00Z", flat="true")
    assert flat["onCallRecipients"] == [
        "carl@example.com",
        "anna@example.com",
        "ben@example.com",
        "user+oncall@example.com",
    ]
    assert on_calls(small_api, S_OPS, flat="true")["onCallRecipients"] == [
        "anna@example.com",
        "ben@example.com",
    ]


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2024-03-06T06:00:00Z", [CARL]),
        ("2024-03-06T12:00:00Z", []),  # the "none" slot: nobody on call is a valid answer
        ("2024-03-06T18:00:00Z", [PLUS]),
        ("2024-04-01T00:00:00Z", []),  # the rotation has ended
    ],
)
def test_hourly_rotation_with_none_and_end(small_api, date, expected):
    assert on_calls(small_api, S_NIGHT, date=date)["onCallParticipants"] == expected


def test_empty_schedule_has_nobody_on_call(small_api):
    assert on_calls(small_api, S_EMPTY)["onCallParticipants"] == []
    assert on_calls(small_api, S_EMPTY, flat="true")["onCallRecipients"] == []
    nxt = small_api.get(f"/v2/schedules/{S_EMPTY}/next-on-calls").json()["data"]
    assert nxt["nextOnCallRecipients"] == [] and nxt["exactNextOnCallRecipients"] == []


def test_next_on_calls(small_api):
    r = small_api.get(
        f"/v2/schedules/{S_NIGHT}/next-on-calls", params={"date": "2024-03-06T12:00:00Z"}
    )
    data = r.json()["data"]
    assert data["nextOnCallRecipients"] == [PLUS] and data["exactNextOnCallRecipients"] == [PLUS]
    r = small_api.get(
        f"/v2/schedules/{NUIT}/next-on-calls",
        params={"scheduleIdentifierType": "name", "flat": "true", "date": "2024-03-06T18:30:00Z"},
    )
    data = r.json()["data"]
    assert data["nextOnCallParticipants"] == ["carl@example.com"]
    assert data["exactNextOnCallParticipants"] == ["carl@example.com"]
    # from carl's slot, the set next changes to nobody (the "none" slot at 12:00Z): exact is empty,
    # while the next recipient of the rotation is user+oncall (18:00Z)
    r = small_api.get(
        f"/v2/schedules/{S_NIGHT}/next-on-calls", params={"date": "2024-03-06T08:00:00Z"}
    )
    data = r.json()["data"]
    assert data["nextOnCallRecipients"] == [PLUS] and data["exactNextOnCallRecipients"] == []
    ops = small_api.get(
        f"/v2/schedules/{S_OPS}/next-on-calls", params={"date": "2024-03-06T20:00:00Z"}
    ).json()["data"]
    assert ops["exactNextOnCallRecipients"] == [ANNA, TEAM]  # 09:00 Berlin the next morning
    assert ops["nextOnCallRecipients"] == [CARL, TEAM]  # the override comes before ben


def _periods(
    timeline: dict, which: str = "finalTimeline"
) -> dict[str, list[tuple[str, str, str, str]]]:
    return {
        r["name"]: [
            (p["startDate"], p["endDate"], p["type"], p["recipient"]["name"]) for p in r["periods"]
        ]
        for r in timeline[which]["rotations"]
    }


def test_timeline_week(small_api):
    r = small_api.get(
        f"/v2/schedules/{OPS}/timeline",
        params={"identifierType": "name", "date": "2024-03-06T12:00:00Z"},
    )
    body = r.json()
    assert body["expandable"] == ["base", "forwarding", "override"]
    data = body["data"]
    assert (data["startDate"], data["endDate"]) == ("2024-03-03T23:00:00Z", "2024-03-10T23:00:00Z")
    assert "baseTimeline" not in data and "overrideTimeline" not in data
    periods = _periods(data)
    assert periods["Weekly"] == [
        ("2024-03-04T00:00:00Z", "2024-03-07T10:00:00Z", "default", "anna@example.com"),
        ("2024-03-07T10:00:00Z", "2024-03-07T12:00:00Z", "override", "carl@example.com"),
        ("2024-03-07T12:00:00Z", "2024-03-10T23:00:00Z", "default", "anna@example.com"),
    ]
    days = periods["Business hours"]
    assert len(days) == 7 and days[0][:2] == ("2024-03-04T08:00:00Z", "2024-03-04T16:00:00Z")
    assert [d[2] for d in days] == ["historical", "historical"] + [
        "default"
    ] * 5  # clock: 03-06 12:00Z
    historical = data["finalTimeline"]["rotations"][1]["periods"][0]
    assert [f["name"] for f in historical["flattenedRecipients"]] == [
        "anna@example.com",
        "ben@example.com",
    ]
    rotation = data["finalTimeline"]["rotations"][0]
    assert rotation["order"] == 1.0 and rotation["periods"][0]["recipient"] == {
        "id": U_ANNA,
        "type": "user",
        "name": "anna@example.com",
    }


def test_timeline_expand_days_months_and_dst(small_api):
    r = small_api.get(
        f"/v2/schedules/{S_OPS}/timeline",
        params={
            "date": "2024-03-31T12:00:00Z",
            "interval": 2,
            "intervalUnit": "days",
            "expand": "base,override,forwarding",
        },
    )
    data = r.json()["data"]
    assert (data["startDate"], data["endDate"]) == ("2024-03-30T23:00:00Z", "2024-04-01T22:00:00Z")
    assert _periods(data)["Weekly"] == [
        ("2024-03-30T23:00:00Z", "2024-03-31T23:00:00Z", "default", "anna@example.com"),
        ("2024-03-31T23:00:00Z", "2024-04-01T22:00:00Z", "default", "ben@example.com"),
    ]
    assert set(data) >= {"baseTimeline", "overrideTimeline", "forwardingTimeline"}
    r = small_api.get(
        f"/v2/schedules/{S_OPS}/timeline",
        params={"date": "2024-03-15T12:00:00Z", "intervalUnit": "months", "expand": "override"},
    )
    data = r.json()["data"]
    assert (data["startDate"], data["endDate"]) == ("2024-02-29T23:00:00Z", "2024-03-31T22:00:00Z")
    assert _periods(data, "overrideTimeline")["Weekly"] == [
        ("2024-03-07T10:00:00Z", "2024-03-07T12:00:00Z", "override", "carl@example.com")
    ]
    assert _periods(data, "overrideTimeline")["Business hours"] == []


@pytest.mark.parametrize(
    ("suffix", "params", "field"),
    [
        ("/timeline", {"interval": 0}, "interval"),
        ("/timeline", {"intervalUnit": "years"}, "intervalUnit"),
        ("/timeline", {"date": "yesterday"}, "date"),
        (
            "/timeline",
            {"date": "2024-03-06T12:00:00 01:00"},
            "date",
        ),  # an unencoded '+' became a space
        ("/on-calls", {"flat": "maybe"}, "flat"),
        ("/on-calls", {"scheduleIdentifierType": "tiny"}, "scheduleIdentifierType"),
        ("", {"identifierType": "tiny"}, "identifierType"),
    ],
)
def test_bad_schedule_parameters_answer_422(small_api, suffix, params, field):
    r = small_api.get(f"/v2/schedules/{S_OPS}{suffix}", params=params)
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"]


def test_unknown_schedule_404(small_api):
    for suffix in ("", "/timeline", "/on-calls", "/next-on-calls"):
        r = small_api.get(f"/v2/schedules/nope{suffix}")
        assert r.status_code == 404 and set(r.json()) == {"message", "took", "requestId"}


def test_forwarding_reroutes_a_user(tmp_path):
    data = small_dataset()
    data["forwardings"] = [
        {
            "fromUser": {"id": U_ANNA, "username": "anna@example.com"},
            "toUser": {"id": U_BEN, "username": "ben@example.com"},
            "startDate": "2024-03-06T00:00:00Z",
            "endDate": "2024-03-07T00:00:00Z",
        }
    ]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with Sandbox(data_file=path, clock="2024-03-06T20:00:00Z") as sb, make_api(sb) as api:
        assert on_calls(api, S_OPS)["onCallParticipants"] == [dict(BEN, forwardedFrom=ANNA)]
        assert on_calls(api, S_OPS, flat="true")["onCallRecipients"] == ["ben@example.com"]
        timeline = api.get(
            f"/v2/schedules/{S_OPS}/timeline", params={"expand": "forwarding"}
        ).json()["data"]
        forwarded = timeline["forwardingTimeline"]["rotations"][0]["periods"]
        assert [
            (p["startDate"], p["endDate"], p["recipient"]["name"], p["fromUser"]) for p in forwarded
        ] == [
            ("2024-03-06T00:00:00Z", "2024-03-07T00:00:00Z", "ben@example.com", "anna@example.com")
        ]
