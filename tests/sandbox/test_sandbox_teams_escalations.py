"""Teams, escalations, on-calls across schedules and next-on-calls across a DST change
(small_dataset and the seeded data set).

small_dataset: team ``ops`` (anna admin, ben user); escalation ``ops_escalation``: carl at 0 min,
team ops at 10 min (notify all), schedule Équipe Nuit at 20 min (notify next). Ops Team/EU #1 hands
its weekly rotation over at 01:00 Berlin: 2024-03-25T00:00Z (CET), then 2024-03-31T23:00Z (CEST).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .sandbox_helpers import E_OPS, S_NIGHT, S_OPS, T_OPS, U_ANNA, U_BEN, U_CARL

ANNA = {"id": U_ANNA, "name": "anna@example.com", "type": "user"}
BEN = {"id": U_BEN, "name": "ben@example.com", "type": "user"}


def test_get_team_by_id_and_by_name_lists_its_members(small_api, small):
    by_id = small_api.get(f"/v2/teams/{T_OPS}")
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["data"] == {
        "id": T_OPS,
        "name": "ops",
        "description": "Ops",
        "members": [
            {"user": {"id": U_ANNA, "username": "anna@example.com"}, "role": "admin"},
            {"user": {"id": U_BEN, "username": "ben@example.com"}, "role": "user"},
        ],
    }
    by_name = small_api.get("/v2/teams/ops", params={"identifierType": "name"})
    assert by_name.json()["data"] == by_id.json()["data"]
    assert {"took", "requestId"} <= set(by_name.json())


def test_get_team_unknown_or_name_without_identifier_type_is_404(small_api):
    # without identifierType=name the name is taken as an id (as on OpsGenie): not found
    r = small_api.get("/v2/teams/ops")
    assert r.status_code == 404 and "ops" in r.json()["message"]
    r = small_api.get("/v2/teams/ops", params={"identifierType": "login"})
    assert r.status_code == 422 and "identifierType" in r.json()["errors"]


def test_list_teams_omits_members(small_api):
    data = small_api.get("/v2/teams").json()["data"]
    assert data == [{"id": T_OPS, "name": "ops", "description": "Ops"}]


def test_escalation_rules_name_their_recipients(small_api):
    r = small_api.get(f"/v2/escalations/{E_OPS}")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == E_OPS and data["name"] == "ops_escalation"
    assert data["rules"] == [
        {
            "condition": "if-not-acked",
            "notifyType": "default",
            "delay": {"timeAmount": 0, "timeUnit": "minutes"},
            "recipient": {"type": "user", "id": U_CARL, "username": "carl@example.com"},
        },
        {
            "condition": "if-not-acked",
            "notifyType": "all",
            "delay": {"timeAmount": 10, "timeUnit": "minutes"},
            "recipient": {"type": "team", "id": T_OPS, "name": "ops"},
        },
        {
            "condition": "if-not-acked",
            "notifyType": "next",
            "delay": {"timeAmount": 20, "timeUnit": "minutes"},
            "recipient": {"type": "schedule", "id": S_NIGHT, "name": "Équipe Nuit"},
        },
    ]
    by_name = small_api.get("/v2/escalations/ops_escalation", params={"identifierType": "name"})
    assert by_name.json()["data"] == data
    listed = small_api.get("/v2/escalations").json()["data"]
    assert listed == [data]


def test_unknown_escalation_is_404(small_api):
    r = small_api.get("/v2/escalations/nope", params={"identifierType": "name"})
    assert r.status_code == 404 and "nope" in r.json()["message"]


def test_on_calls_across_schedules_equal_each_schedules_answer(small_api, small):
    date = "2024-03-06T12:00:00Z"
    for flat in ("false", "true"):
        across = small_api.get("/v2/schedules/on-calls", params={"flat": flat, "date": date})
        assert across.status_code == 200
        rows = across.json()["data"]
        assert [row["_parent"]["id"] for row in rows] == [s["id"] for s in small.store.schedules]
        for row in rows:
            one = small_api.get(
                f"/v2/schedules/{row['_parent']['id']}/on-calls",
                params={"flat": flat, "date": date},
            ).json()["data"]
            assert row == one


@pytest.mark.parametrize(
    ("date", "current", "exact_next"),
    [
        # 2024-03-31 01:00Z: Europe's clocks go forward. Anna's week ends at 01:00 Berlin on
        # Monday 04-01, that is 2024-03-31T23:00Z (not 00:00Z as in winter)
        ("2024-03-31T22:30:00Z", [ANNA], [BEN]),
        ("2024-03-31T23:30:00Z", [BEN], None),
        # the hand-off a week before, in winter time: 2024-03-25T00:00Z
        ("2024-03-24T23:30:00Z", None, None),
    ],
)
def test_weekly_hand_off_keeps_its_local_hour_across_dst(small_api, date, current, exact_next):
    on = small_api.get(f"/v2/schedules/{S_OPS}/on-calls", params={"date": date}).json()["data"]
    users = [p for p in on["onCallParticipants"] if p["type"] == "user"]
    if current is not None:
        assert users == current
    else:  # the escalation's week: no user participant, the escalation is on call
        assert [p["type"] for p in on["onCallParticipants"]] == ["escalation"]
    nxt = small_api.get(f"/v2/schedules/{S_OPS}/next-on-calls", params={"date": date}).json()
    if exact_next is not None:
        assert nxt["data"]["exactNextOnCallRecipients"] == exact_next


def test_seeded_escalations_and_teams_are_consistent_with_the_rotations(api, sandbox):
    """Every escalation or team a seeded rotation names can be read, and leads to a person."""
    store = sandbox.store
    named = {
        (p["type"], p["id"])
        for s in store.schedules
        for r in s.get("rotations") or []
        for p in r.get("participants") or []
        if p.get("type") in ("team", "escalation")
    }
    assert {kind for kind, _ in named} == {"team", "escalation"}
    for kind, ident in sorted(named):
        r = api.get(f"/v2/{kind}s/{quote(ident, safe='')}")
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        if kind == "team":
            assert data["members"], data
        else:
            assert data["rules"] and all(rule["recipient"]["id"] for rule in data["rules"])
    listed = api.get("/v2/escalations").json()["data"]
    assert {e["id"] for e in listed} == {e["id"] for e in store.escalations}
    teams = api.get("/v2/teams").json()["data"]
    assert {t["id"] for t in teams} == {t["id"] for t in store.teams}


def test_a_team_key_sees_its_team_and_the_escalations_it_owns(sandbox):
    """A team integration's key (limited to Database): its team and escalations, others 403."""
    from .sandbox_helpers import make_api

    key = "12121212-3434-4565-8787-909090909090"
    sandbox.add_key(key, ("read", "configuration"), team="Database")
    store = sandbox.store
    database = next(t for t in store.teams if t["name"] == "Database")
    other = next(t for t in store.teams if t["name"] != "Database")
    owned = [e for e in store.escalations if (e.get("ownerTeam") or {}).get("id") == database["id"]]
    foreign = [e for e in store.escalations if e not in owned]
    assert owned and foreign
    with make_api(sandbox, key=key) as api:
        assert api.get(f"/v2/teams/{database['id']}").status_code == 200
        refused = api.get(f"/v2/teams/{other['id']}")
        assert refused.status_code == 403 and refused.json()["code"] == 40301
        listed = api.get("/v2/escalations").json()["data"]
        assert [e["id"] for e in listed] == [e["id"] for e in owned]
        assert api.get(f"/v2/escalations/{owned[0]['id']}").status_code == 200
        assert api.get(f"/v2/escalations/{foreign[0]['id']}").status_code == 403
