"""Team-scoped keys, saved searches, report.ackTime and HTTPS serving (issue 11's sandbox side)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.sandbox.seed import SEEDED_SAVED_SEARCHES

from .sandbox_helpers import CLOCK, S_EMPTY, S_OPS, T_OPS, Api, make_api

TEAM_KEY = "5eed0000-0000-4000-8000-000000007ea1"


def _team(sandbox: Sandbox, name: str) -> dict:
    return next(t for t in sandbox.store.teams if t["name"] == name)


@pytest.fixture(scope="module")
def team_sandbox():
    with Sandbox(alerts=300, seed=7, clock=CLOCK) as sb:
        sb.add_key(TEAM_KEY, ("read", "configuration"), team="Database")
        yield sb


@pytest.fixture
def full(team_sandbox):
    with make_api(team_sandbox) as session:
        yield session


@pytest.fixture
def team(team_sandbox):
    with make_api(team_sandbox, TEAM_KEY) as session:
        yield session


# ---------------------------------------------------------------------------------- team keys
def test_team_key_is_refused_on_account_level_requests(team, team_sandbox):
    for path in ("/v2/account", "/v2/users", f"/v2/users/{team_sandbox.store.users[0]['id']}"):
        r = team.get(path)
        assert r.status_code == 403, path
        body = r.json()
        assert body["code"] == 40301 and "team integration" in body["message"]


def test_team_key_reads_only_its_team_alerts(team, full, team_sandbox):
    db = _team(team_sandbox, "Database")
    expected = full.get("/v2/alerts/count", params={"query": f"teams:{db['id']}"}).json()
    assert 0 < expected["data"]["count"] < 300
    assert team.get("/v2/alerts/count").json()["data"] == expected["data"]
    page = team.get("/v2/alerts", params={"limit": 100}).json()["data"]
    assert page and all({"id": db["id"]} in a["teams"] for a in page)
    # the user's own query still applies, ANDed with the team
    both = team.get("/v2/alerts/count", params={"query": "status:open"}).json()["data"]["count"]
    assert (
        both
        == full.get(
            "/v2/alerts/count", params={"query": f"status:open AND teams:{db['id']}"}
        ).json()["data"]["count"]
    )
    # another team's alert: 403 40301; its own: 200
    other = next(a for a in team_sandbox.store.alerts if {"id": db["id"]} not in a["teams"])
    r = team.get(f"/v2/alerts/{other['id']}")
    assert r.status_code == 403 and r.json()["code"] == 40301
    assert team.get(f"/v2/alerts/{page[0]['id']}").status_code == 200


def test_team_key_reads_only_its_team_schedules(team, team_sandbox):
    body = team.get("/v2/schedules").json()
    assert [s["name"] for s in body["data"]] == ["Database On Call"]
    r = team.get(
        "/v2/schedules/Database On Call/on-calls", params={"scheduleIdentifierType": "name"}
    )
    assert r.status_code == 200 and r.json()["data"]["_parent"]["name"] == "Database On Call"
    timeline = team.get(
        f"/v2/schedules/{quote('Database On Call')}/timeline", params={"identifierType": "name"}
    )
    assert timeline.status_code == 200
    for name in ("Ops Team/EU #1", "No Owner Schedule"):  # another team's, and an unowned one
        r = team.get(
            f"/v2/schedules/{quote(name, safe='')}/on-calls",
            params={"scheduleIdentifierType": "name"},
        )
        assert r.status_code == 403 and r.json()["code"] == 40301, name
    all_on_calls = team.get("/v2/schedules/on-calls").json()["data"]
    assert [o["_parent"]["name"] for o in all_on_calls] == ["Database On Call"]
    assert [t["name"] for t in team.get("/v2/teams").json()["data"]] == ["Database"]


def test_team_key_without_configuration_right_still_gets_403(team_sandbox):
    key = "5eed0000-0000-4000-8000-00000000de1e"
    team_sandbox.add_key(key, ("read",), team="Database")
    with make_api(team_sandbox, key) as session:
        r = session.get("/v2/schedules")
        assert r.status_code == 403 and "Configuration access" in r.json()["message"]
        assert session.get("/v2/alerts", params={"limit": 1}).status_code == 200


def test_unknown_team_is_refused():
    with Sandbox(alerts=1) as sb, pytest.raises(ValueError, match="unknown team"):
        sb.add_key(TEAM_KEY, team="No such team")


def test_team_key_on_small_dataset_sees_only_ops_alerts(small):
    small.add_key(TEAM_KEY, ("read", "configuration"), team=T_OPS)
    with make_api(small, TEAM_KEY) as session:
        ids = [a["id"] for a in session.get("/v2/alerts", params={"limit": 100}).json()["data"]]
        assert sorted(ids) == ["alert-0", "alert-2", "alert-4", "alert-6"]
        schedules = session.get("/v2/schedules").json()["data"]
        assert [s["id"] for s in schedules] == [S_OPS]  # the only one ops owns
        assert session.get(f"/v2/schedules/{S_OPS}").status_code == 200
        assert session.get(f"/v2/schedules/{S_EMPTY}").status_code == 403


# ---------------------------------------------------------------------------------- saved searches
def test_saved_searches_are_listed_and_served_by_id_and_name(full, team_sandbox):
    listed = full.get("/v2/alerts/saved-searches").json()["data"]
    assert [s["name"] for s in listed] == [name for name, _, _ in SEEDED_SAVED_SEARCHES]
    assert all(set(s) == {"id", "name"} for s in listed)
    by_name = {s["name"]: s["id"] for s in listed}
    name = "Ops Team/EU #1 unacknowledged"
    r = full.get(
        f"/v2/alerts/saved-searches/{quote(name, safe='')}", params={"identifierType": "name"}
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == by_name[name] and data["query"] == "acknowledged:false AND teams:ops_team"
    assert {"createdAt", "updatedAt", "owner", "teams", "description"} <= set(data)
    assert (
        team_sandbox.requests[-1].path
        == "/v2/alerts/saved-searches/Ops%20Team%2FEU%20%231%20unacknowledged"
    )
    assert full.get(f"/v2/alerts/saved-searches/{by_name[name]}").json()["data"]["name"] == name
    r = full.get("/v2/alerts/saved-searches/nope", params={"identifierType": "name"})
    assert r.status_code == 404 and "nope" in r.json()["message"]
    r = full.get("/v2/alerts/saved-searches/x", params={"identifierType": "alias"})
    assert r.status_code == 422 and "identifierType" in r.json()["errors"]


def test_alert_list_runs_a_saved_search_by_id_and_by_name(full):
    listed = {s["name"]: s["id"] for s in full.get("/v2/alerts/saved-searches").json()["data"]}
    query = "status:open AND priority:P1"
    expected = [
        a["id"]
        for a in full.get("/v2/alerts", params={"query": query, "limit": 100}).json()["data"]
    ]
    assert expected
    for ident, kind in ((listed["Open P1 alerts"], None), ("Open P1 alerts", "name")):
        params = {"searchIdentifier": ident, "limit": 100}
        if kind:
            params["searchIdentifierType"] = kind
        got = [a["id"] for a in full.get("/v2/alerts", params=params).json()["data"]]
        assert got == expected, kind
        count = full.get("/v2/alerts/count", params=params).json()["data"]["count"]
        assert count == len(expected)


def test_saved_search_is_anded_with_query_and_paging_keeps_it(full):
    window = "createdAt >= 1709380800000"  # 2024-03-02T12:00:00Z, inside the seeded week
    combined = f"(status:open AND priority:P1) AND ({window})"
    expected = full.get("/v2/alerts/count", params={"query": combined}).json()["data"]["count"]
    params = {"searchIdentifier": "Open P1 alerts", "searchIdentifierType": "name"}
    got = full.get("/v2/alerts/count", params={**params, "query": window}).json()["data"]["count"]
    assert got == expected
    body = full.get("/v2/alerts", params={**params, "limit": 1}).json()
    nxt = parse_qs(urlsplit(body["paging"]["next"]).query)
    assert nxt["searchIdentifier"] == ["Open P1 alerts"] and nxt["searchIdentifierType"] == ["name"]


def test_unknown_saved_search_and_bad_type(full):
    r = full.get(
        "/v2/alerts", params={"searchIdentifier": "missing", "searchIdentifierType": "name"}
    )
    assert r.status_code == 404
    assert r.json()["message"] == "Saved search with name [missing] does not exist."
    r = full.get("/v2/alerts", params={"searchIdentifier": "x", "searchIdentifierType": "tiny"})
    assert r.status_code == 422 and "searchIdentifierType" in r.json()["errors"]


def test_team_key_sees_saved_searches_shared_with_its_team(team):
    names = [s["name"] for s in team.get("/v2/alerts/saved-searches").json()["data"]]
    assert names == ["Database alerts"]
    r = team.get(
        "/v2/alerts", params={"searchIdentifier": "Open P1 alerts", "searchIdentifierType": "name"}
    )
    assert r.status_code == 403 and r.json()["code"] == 40301


def test_saved_searches_from_a_data_file(tmp_path):
    data = {
        "alerts": [
            {"id": "a1", "message": "one", "priority": "P1"},
            {"id": "a2", "message": "two"},
        ],
        "saved_searches": [{"id": "ss-1", "name": "P1 only", "query": "priority:P1"}],
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with Sandbox(data_file=path, clock=CLOCK) as sb, make_api(sb) as session:
        body = session.get("/v2/alerts", params={"searchIdentifier": "ss-1"}).json()
        assert [a["id"] for a in body["data"]] == ["a1"]


# ---------------------------------------------------------------------------------- report.ackTime
def test_every_acknowledged_alert_carries_report_ack_time(team_sandbox, full):
    acknowledged = [a for a in team_sandbox.store.alerts if a["acknowledged"]]
    assert len(acknowledged) > 50
    assert all(isinstance(a.get("report", {}).get("ackTime"), int) for a in acknowledged)
    page = full.get("/v2/alerts", params={"query": "acknowledged:true", "limit": 100}).json()
    assert all("ackTime" in a["report"] for a in page["data"])


def test_ack_time_filled_for_data_file_and_updated_alerts():
    with Sandbox(alerts=0, clock=CLOCK) as sb:
        added = sb.store.add_alert(
            id="x1",
            acknowledged=True,
            createdAt="2024-03-06T10:00:00Z",
            updatedAt="2024-03-06T10:05:00Z",
        )
        assert added["report"] == {"ackTime": 300_000}
        kept = sb.store.add_alert(
            id="x2", acknowledged=True, report={"ackTime": 42, "acknowledgedBy": "a"}
        )
        assert kept["report"] == {"ackTime": 42, "acknowledgedBy": "a"}
        sb.store.add_alert(id="x3", createdAt="2024-03-06T11:00:00Z")
        updated = sb.store.update_alert("x3", updated_at="2024-03-06T11:00:02Z", acknowledged=True)
        assert updated["report"]["ackTime"] == 2000


# ---------------------------------------------------------------------------------- HTTPS
def test_sandbox_serves_https_with_a_private_ca(tmp_path):
    from tls_material import make_tls_material, server_context

    material = make_tls_material(tmp_path)
    with Sandbox(alerts=30, seed=2, clock=CLOCK, tls=server_context(material)) as sb:
        assert sb.url.startswith("https://127.0.0.1:")
        with Api(sb.url, sb.api_key) as session:
            body = session.get("/v2/alerts", params={"limit": 5}, verify=str(material.ca)).json()
            assert len(body["data"]) == 5 and body["paging"]["next"].startswith("https://")
            with pytest.raises(requests.exceptions.SSLError):
                session.get("/v2/alerts", params={"limit": 1}, verify=True)
        # a client that refused the certificate did not stop the server
        r = requests.get(
            sb.url + "/v2/account",
            timeout=10,
            verify=str(material.ca),
            headers={"Authorization": f"GenieKey {sb.api_key}"},
        )
        assert r.status_code == 200
