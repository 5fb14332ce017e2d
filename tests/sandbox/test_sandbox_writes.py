"""Alert writes: 202 then asynchronous processing, request status, de-duplication by alias, logs,
notes, recipients, updatedAt on every change, and the failures OpsGenie reports."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.sandbox.__main__ import build_parser, main
from opsgenie_integration.sandbox.timefmt import parse_iso

from .sandbox_helpers import CLOCK, CLOCK_MS, U_ANNA, U_BEN, Api, make_api

DELAY = 0.05


def ms(text: str) -> int:
    return parse_iso(text)[0]


@pytest.fixture(scope="module")
def wsb(small_data_file: Path) -> Iterator[Sandbox]:
    with Sandbox(data_file=small_data_file, clock=CLOCK, write_delay=DELAY) as sb:
        sb.add_key("11111111-1111-4111-8111-111111111111", ("read",))
        sb.add_key("22222222-2222-4222-8222-222222222222", ("read", "create_update"))
        yield sb


@pytest.fixture
def wapi(wsb: Sandbox) -> Iterator[Api]:
    wsb.write_delay = DELAY
    with make_api(wsb) as session:
        yield session


def status_of(api: Api, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """Poll the request status until processed; returns its ``data``."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"/v2/alerts/requests/{request_id}")
        if r.status_code == 200:
            return r.json()["data"]
        assert r.status_code == 404 and r.headers["X-Opsgenie-Errortype"] == "RequestNotProcessed"
        assert time.monotonic() < deadline, "the write was never processed"
        time.sleep(0.02)


def write(api: Api, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    r = api.request(method, path, **kwargs)
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"result", "took", "requestId"} and body["result"] == (
        "Request will be processed"
    )
    assert r.headers["X-Request-ID"] == body["requestId"]
    return status_of(api, body["requestId"])


def test_create_is_queued_then_processed(wapi, wsb):
    wsb.write_delay = 0.5
    r = wapi.post("/v2/alerts", json={"message": "Disk full on db-9", "alias": "disk-db-9"})
    assert r.status_code == 202
    rid = r.json()["requestId"]
    pending = wapi.get(f"/v2/alerts/requests/{rid}")
    assert pending.status_code == 404
    assert pending.headers["X-Opsgenie-Errortype"] == "RequestNotProcessed"
    assert set(pending.json()) == {"message", "took", "requestId"}
    assert wapi.get("/v2/alerts/disk-db-9", params={"identifierType": "alias"}).status_code == 404
    data = status_of(wapi, rid)
    assert data["isSuccess"] is True and data["success"] is True and data["action"] == "Create"
    assert data["status"] == "Created alert" and data["alias"] == "disk-db-9"
    assert data["integrationId"] and data["processedAt"].endswith("Z")
    alert = wapi.get("/v2/alerts/disk-db-9", params={"identifierType": "alias"}).json()["data"]
    assert alert["id"] == data["alertId"] and alert["message"] == "Disk full on db-9"
    assert alert["status"] == "open" and alert["count"] == 1 and alert["priority"] == "P3"
    assert alert["source"] == "127.0.0.1" and alert["createdAt"] == alert["updatedAt"]
    by_tiny = wapi.get(f"/v2/alerts/{alert['tinyId']}", params={"identifierType": "tiny"})
    assert by_tiny.json()["data"]["id"] == alert["id"]
    assert int(alert["tinyId"]) > 108  # after the data set's tinyIds


def test_unknown_request_id_is_not_found_without_the_error_type(wapi):
    r = wapi.get("/v2/alerts/requests/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and "X-Opsgenie-Errortype" not in r.headers


def test_zero_delay_processes_before_the_202(wapi, wsb):
    wsb.write_delay = 0
    r = wapi.post("/v2/alerts", json={"message": "at once"})
    assert wapi.get(f"/v2/alerts/requests/{r.json()['requestId']}").status_code == 200


def test_create_with_every_field_and_dedup_by_alias(wapi, wsb):
    body = {
        "message": "CPU on web-7",
        "alias": "cpu-web-7",
        "description": "d" * 15000,
        "responders": [
            {"type": "team", "name": "ops"},
            {"type": "user", "username": "carl@example.com"},
        ],
        "visibleTo": [{"type": "user", "id": U_ANNA}],
        "actions": ["Restart"],
        "tags": ["prod", "cpu"],
        "details": {"host": "web-7"},
        "entity": "web-7",
        "source": "nagios",
        "priority": "P1",
        "user": "robot",
        "note": "first seen",
    }
    first = write(wapi, "POST", "/v2/alerts", json=body)
    alert = wapi.get(f"/v2/alerts/{first['alertId']}").json()["data"]
    assert alert["priority"] == "P1" and alert["tags"] == ["prod", "cpu"]
    assert alert["details"] == {"host": "web-7"} and alert["source"] == "nagios"
    assert {r["type"] for r in alert["responders"]} == {"team", "user"}
    users = {
        r["user"]["username"]
        for r in wapi.get(f"/v2/alerts/{alert['id']}/recipients").json()["data"]
    }
    assert users == {"anna@example.com", "ben@example.com", "carl@example.com"}
    again = write(wapi, "POST", "/v2/alerts", json={"message": "CPU again", "alias": "cpu-web-7"})
    assert again["isSuccess"] and again["alertId"] == alert["id"]
    assert again["status"] == "Alert is deduplicated"
    after = wapi.get(f"/v2/alerts/{alert['id']}").json()["data"]
    assert after["count"] == 2 and after["message"] == "CPU on web-7"
    assert ms(after["updatedAt"]) > ms(alert["updatedAt"])
    count = wapi.get("/v2/alerts/count", params={"query": "alias:cpu-web-7"}).json()["data"]
    assert count == {"count": 1}
    # a closed alert frees its alias: the next create makes a new alert
    write(wapi, "POST", f"/v2/alerts/{alert['id']}/close", json={})
    third = write(wapi, "POST", "/v2/alerts", json={"message": "CPU third", "alias": "cpu-web-7"})
    assert third["status"] == "Created alert" and third["alertId"] != alert["id"]
    by_alias = wapi.get("/v2/alerts/cpu-web-7", params={"identifierType": "alias"}).json()["data"]
    assert by_alias["id"] == third["alertId"]
    closed = wapi.get(f"/v2/alerts/{alert['id']}").json()["data"]
    assert closed["status"] == "closed" and closed["alias"] == "cpu-web-7"


def test_every_action_changes_the_alert_logs_it_and_moves_updated_at(wapi):
    created = write(wapi, "POST", "/v2/alerts", json={"message": "m", "alias": "flow/1 #a"})
    ident = "flow%2F1%20%23a"  # one encoded segment
    q = {"identifierType": "alias"}
    seen = [wapi.get(f"/v2/alerts/{ident}", params=q).json()["data"]["updatedAt"]]

    def step(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("params", q)
        data = write(wapi, method, f"/v2/alerts/{ident}{path}", **kwargs)
        assert data["isSuccess"], data
        assert data["alertId"] == created["alertId"] and data["alias"] == "flow/1 #a"
        alert = wapi.get(f"/v2/alerts/{ident}", params=q).json()["data"]
        assert ms(alert["updatedAt"]) > ms(seen[-1])  # each change is a new event for Fetch Event
        seen.append(alert["updatedAt"])
        return alert

    alert = step("POST", "/acknowledge", json={"user": "anna", "note": "on it"})
    assert alert["acknowledged"] and alert["report"]["acknowledgedBy"] == "anna"
    step("POST", "/notes", json={"note": "looking", "user": "anna"})
    alert = step("POST", "/assign", json={"owner": {"id": U_BEN}})
    assert alert["owner"] == "ben@example.com"
    alert = step("POST", "/tags", json={"tags": ["a", "b", "a"]})
    assert alert["tags"] == ["a", "b"]
    alert = step("DELETE", "/tags", params={**q, "tags": "a,zzz"})
    assert alert["tags"] == ["b"]
    alert = step("POST", "/details", json={"details": {"k1": "v1", "k2": "v2"}})
    assert alert["details"] == {"k1": "v1", "k2": "v2"}
    alert = step("DELETE", "/details", params={**q, "keys": "k1"})
    assert alert["details"] == {"k2": "v2"}
    alert = step("POST", "/snooze", json={"endTime": "2024-03-07T00:00:00Z"})
    assert alert["snoozed"] and alert["snoozedUntil"] == "2024-03-07T00:00:00Z"
    alert = step("POST", "/escalate", json={"escalation": {"name": "ops_escalation"}})
    assert {"type": "escalation", "id": "00000000-0000-4000-8000-00000000c001"} in alert[
        "responders"
    ]
    alert = step("POST", "/responders", json={"responder": {"type": "team", "name": "ops"}})
    alert = step("POST", "/unacknowledge", json={})
    assert not alert["acknowledged"]
    alert = step("POST", "/close", json={"user": "ben"})
    assert alert["status"] == "closed" and not alert["snoozed"]
    assert alert["report"]["closedBy"] == "ben"

    logs = wapi.get(f"/v2/alerts/{ident}/logs", params={**q, "order": "asc", "limit": 100})
    texts = [entry["log"] for entry in logs.json()["data"]]
    assert texts == [
        "Alert created via API",
        "Acknowledged alert",
        "Added note",
        "Assigned alert to ben@example.com",
        "Added tags a, b",
        "Removed tags a",
        "Added details k1, k2",
        "Removed details k1",
        "Snoozed alert until 2024-03-07T00:00:00Z",
        "Escalated alert to ops_escalation",
        "Added team ops as responder",
        "Unacknowledged alert",
        "Closed alert",
    ]
    entry = logs.json()["data"][1]
    assert (
        set(entry) == {"log", "type", "owner", "createdAt", "offset"} and entry["owner"] == "anna"
    )
    notes = wapi.get(f"/v2/alerts/{ident}/notes", params={**q, "order": "asc"}).json()
    assert [n["note"] for n in notes["data"]] == ["on it", "looking"]
    assert set(notes["paging"]) == {"first"}
    # Fetch Event's query: the alert is among those updated since the first read
    found = wapi.get(
        "/v2/alerts",
        params={"query": f"updatedAt > {CLOCK_MS - 1}", "sort": "updatedAt", "order": "asc"},
    ).json()["data"]
    assert created["alertId"] in [a["id"] for a in found]


def test_cursor_paging_of_notes(wapi):
    created = write(wapi, "POST", "/v2/alerts", json={"message": "notes"})
    for i in range(5):
        write(wapi, "POST", f"/v2/alerts/{created['alertId']}/notes", json={"note": f"n{i}"})
    got: list[str] = []
    url = f"/v2/alerts/{created['alertId']}/notes?limit=2&order=asc"
    while url:
        body = wapi.get(url).json()
        got += [n["note"] for n in body["data"]]
        url = body["paging"].get("next")
    assert got == ["n0", "n1", "n2", "n3", "n4"]
    desc = wapi.get(f"/v2/alerts/{created['alertId']}/notes", params={"limit": 2}).json()
    assert [n["note"] for n in desc["data"]] == ["n4", "n3"]
    offset = desc["data"][1]["offset"]
    back = wapi.get(
        f"/v2/alerts/{created['alertId']}/notes",
        params={"offset": offset, "direction": "prev", "order": "desc"},
    ).json()
    assert [n["note"] for n in back["data"]] == ["n4"]


@pytest.mark.parametrize(
    ("path", "body", "status_text"),
    [
        ("/v2/alerts/nope/acknowledge", {}, "Alert does not exist"),
        ("/v2/alerts/nope/notes?identifierType=alias", {"note": "x"}, "Alert does not exist"),
        ("/v2/alerts/alert-4/acknowledge", {}, "closed"),  # alert-4 is closed in the data set
        ("/v2/alerts/alert-4/snooze", {"endTime": "2024-03-07T00:00:00Z"}, "closed"),
        ("/v2/alerts/alert-4/close", {}, "Alert is already closed"),
        ("/v2/alerts/alert-0/assign", {"owner": {"username": "nobody@example.com"}}, "does not exist"),
        ("/v2/alerts/alert-0/responders", {"responder": {"type": "team", "name": "Nope"}}, "Team with name [Nope] does not exist"),
        ("/v2/alerts/alert-0/escalate", {"escalation": {"id": "nope"}}, "Escalation with id [nope] does not exist"),
        ("/v2/alerts", {"message": "x", "responders": [{"type": "schedule", "name": "Nope"}]}, "Schedule with name [Nope]"),
    ],
)  # fmt: skip
def test_failed_requests_are_reported_in_the_request_status(wapi, wsb, path, body, status_text):
    assert wsb.store.get_alert("alert-4")["status"] == "closed"
    data = write(wapi, "POST", path, json=body)
    assert data["isSuccess"] is False and data["success"] is False
    assert status_text in data["status"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        ("POST", "/v2/alerts", {"json": {}}, 422, "message"),
        ("POST", "/v2/alerts", {"json": {"message": "  "}}, 422, "message"),
        ("POST", "/v2/alerts", {"json": {"message": "m" * 131}}, 422, "message"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "alias": "a" * 513}}, 422, "alias"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "tags": ["t"] * 21}}, 422, "tags"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "tags": ["t" * 51]}}, 422, "tags"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "details": {"k": 1}}}, 422, "details"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "details": {"k": "v" * 8000}}}, 422, "details"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "priority": "P0"}}, 422, "priority"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "responders": [{"type": "bb", "id": "x"}]}}, 422, "responders#type"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "responders": [{"type": "team"}]}}, 422, "responders"),
        ("POST", "/v2/alerts", {"json": {"message": "m", "user": "u" * 101}}, 422, "user"),
        ("POST", "/v2/alerts", {"json": ["message"]}, 422, "body"),
        ("POST", "/v2/alerts", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, None),
        ("POST", "/v2/alerts/alert-0/snooze", {"json": {"endTime": "2020-01-01T00:00:00Z"}}, 422, "endTime"),
        ("POST", "/v2/alerts/alert-0/snooze", {"json": {"endTime": "tomorrow"}}, 422, "endTime"),
        ("POST", "/v2/alerts/alert-0/notes", {"json": {"note": ""}}, 422, "note"),
        ("POST", "/v2/alerts/alert-0/tags", {"json": {"tags": []}}, 422, "tags"),
        ("POST", "/v2/alerts/alert-0/escalate", {"json": {}}, 422, "escalation"),
        ("POST", "/v2/alerts/alert-0/assign", {"json": {"owner": "ben"}}, 422, "owner"),
        ("POST", "/v2/alerts/alert-0/responders", {"json": {"responder": {"type": "all"}}}, 422, "responder#type"),
        ("POST", "/v2/alerts/alert-0/close?identifierType=name", {"json": {}}, 422, "identifierType"),
        ("POST", "/v2/alerts/alert-0/close?identifierType=", {"json": {}}, 422, "identifierType"),
        ("DELETE", "/v2/alerts/alert-0/tags", {}, 422, "tags"),
        ("DELETE", "/v2/alerts/alert-0/details?keys=", {}, 422, "keys"),
        ("DELETE", "/v2/alerts/alert-0?identifierType=", {}, 400, "identifierType"),
        ("GET", "/v2/alerts/alert-0/logs?order=", {}, 422, "order"),
        ("GET", "/v2/alerts/alert-0/notes?direction=up", {}, 422, "direction"),
        ("GET", "/v2/alerts/alert-0/notes?limit=101", {}, 422, "limit"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_at_once(wapi, wsb, method, path, kwargs, status, field):
    before = len(wsb.store)
    r = wapi.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    if field is not None:
        assert field in body["errors"], body
    assert wsb.writes.pending == 0 and len(wsb.store) == before


def test_rights_of_writes(wsb):
    with make_api(wsb, key="11111111-1111-4111-8111-111111111111") as read_only:
        r = read_only.post("/v2/alerts", json={"message": "m"})
        assert r.status_code == 403 and r.json()["code"] == 40301
        assert read_only.get("/v2/alerts/alert-0/logs").status_code == 200
    with make_api(wsb, key="22222222-2222-4222-8222-222222222222") as writer:
        assert writer.post("/v2/alerts/alert-0/notes", json={"note": "n"}).status_code == 202
        assert writer.delete("/v2/alerts/alert-0").status_code == 403


def test_delete(wapi):
    created = write(wapi, "POST", "/v2/alerts", json={"message": "to delete", "alias": "del-me"})
    tiny = wapi.get(f"/v2/alerts/{created['alertId']}").json()["data"]["tinyId"]
    data = write(
        wapi, "DELETE", f"/v2/alerts/{tiny}", params={"identifierType": "tiny", "user": "u"}
    )
    assert (
        data["isSuccess"] and data["action"] == "Delete" and data["alertId"] == created["alertId"]
    )
    assert wapi.get(f"/v2/alerts/{created['alertId']}").status_code == 404
    assert wapi.get("/v2/alerts/del-me/logs", params={"identifierType": "alias"}).status_code == 404
    again = write(wapi, "DELETE", f"/v2/alerts/{created['alertId']}")
    assert again["isSuccess"] is False and again["status"] == "Alert does not exist"


def test_seeded_alert_logs_start_with_creation_and_recipients_may_be_empty(wapi):
    logs = wapi.get("/v2/alerts/alias-0/logs", params={"identifierType": "alias"}).json()
    assert logs["data"][-1]["log"] == "Alert created"
    assert (
        wapi.get("/v2/alerts/108/recipients", params={"identifierType": "tiny"}).json()["data"]
        == []
    )
    assert wapi.get("/v2/alerts/nope/recipients").status_code == 404


def test_writes_are_rate_limited_in_the_alert_domain(wapi, wsb):
    wsb.rate_limits.set("alert", per_second=1, per_minute=1)
    try:
        assert wapi.post("/v2/alerts/alert-0/notes", json={"note": "1"}).status_code == 202
        r = wapi.post("/v2/alerts/alert-0/notes", json={"note": "2"})
        assert r.status_code == 429 and r.headers["X-RateLimit-State"] == "THROTTLED"
    finally:
        wsb.rate_limits.clear()


def test_write_delay_option_and_cli_flag():
    assert build_parser().parse_args(["--write-delay", "1.5"]).write_delay == 1.5
    assert build_parser().parse_args([]).write_delay == 0.2
    err = io.StringIO()
    assert main(["--write-delay", "-1"], io.StringIO(), err) == 2 and "seconds" in err.getvalue()
    with pytest.raises(ValueError):
        Sandbox(alerts=0, write_delay=-1)
    sb = Sandbox(alerts=0, write_delay=0.3)
    assert sb.write_delay == 0.3
    with pytest.raises(ValueError):
        sb.write_delay = -0.1
