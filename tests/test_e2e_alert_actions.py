"""The alert actions end to end over loopback against the sandbox, through ``Integration.run`` and
through the CLI: an alert's whole life, each action in its log and each update a Fetch Event event,
de-duplication by alias, and the retry rules of writes over real sockets (429 retried; a 5xx or a
read timeout never: one request, "may have been applied")."""

from __future__ import annotations

import io
import json
import time

import pytest
import requests
from conftest import API_KEY, REPO
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration
from opsgenie_integration.cli import main
from opsgenie_integration.sandbox import Sandbox

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=50, seed=11, api_key=API_KEY) as sb:  # real time, default write delay
        sb.clock.advance(-60_000)  # updates lie a minute back: past Fetch Event's settle time
        yield sb


@pytest.fixture
def sb(sandbox):
    sandbox.faults.clear()
    sandbox.rate_limits.clear()
    sandbox.requests.clear()
    yield sandbox
    sandbox.faults.clear()
    sandbox.rate_limits.clear()


@pytest.fixture(scope="module")
def integration_():
    return Integration.load(entry_points=False)


def run_api(integration, sb, command, inputs=None, **settings):
    connection = {**sb.connection, "max_retry_time": 0, **settings}
    envelope = integration.run(command, inputs or {}, connection)
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope


run = run_api


def ok(envelope):
    assert envelope["return_data"] == "Successful", envelope["error"]
    return envelope


def cli(sb, tmp_path, command, **params):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({**sb.connection, "max_retry_time": 0}))
    argv = ["run", command, "--connection", str(conn), "--params", json.dumps(params)]
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, stdout=out, stderr=err)
    envelope = json.loads(out.getvalue())
    ENVELOPE.validate(envelope)
    assert API_KEY not in out.getvalue() + err.getvalue()
    return status, envelope


@pytest.mark.parametrize("via", ["Integration.run", "cli"])
def test_an_alert_whole_life(integration_, sb, tmp_path, via):
    def run(_integration, _sb, command, inputs=None):  # the same steps through either door
        if via == "cli":
            return cli(sb, tmp_path, command, **(inputs or {}))[1]
        return run_api(integration_, sb, command, inputs)

    alias = f"disk/db-7 #{via}"
    users = sb.store.users
    escalation = sb.store.escalations[0]["name"]
    team = sb.store.teams[0]["name"]
    start = run(integration_, sb, "Fetch Event", {"start_time": "10 minutes ago"})
    checkpoint = ok(start)["checkpoint"]

    started = time.monotonic()
    created = ok(
        run(
            integration_,
            sb,
            "Create Alert",
            {"message": "Disk full on db-7", "alias": alias, "responders": f"team:{team}",
             "tags": "prod", "details": "host=db-7", "priority": "P2"},
        )
    )  # fmt: skip
    took = time.monotonic() - started
    assert created["request_state"] == "processed" and created["alias"] == alias
    alert_id = created["alert_id"]
    print(
        f"\nCreate Alert -> confirmed alert id in {took * 1000:.0f} ms with "
        f"{created['status_polls']} status poll(s) (sandbox write delay {sb.write_delay} s)"
    )
    assert took < 3 and 1 <= created["status_polls"] <= 4

    by_alias = ok(
        run(
            integration_,
            sb,
            "Get Alert",
            {"identifier": alias, "identifier_type": "alias"},
        )
    )
    tiny = by_alias["alert"]["tinyId"]
    assert by_alias["alert"]["id"] == alert_id
    sent = [r.path for r in sb.requests if "db-7" in r.path][-1]
    assert sent == "/v2/alerts/disk%2Fdb-7%20%23" + via  # one segment
    by_tiny = ok(
        run(integration_, sb, "Get Alert", {"identifier": tiny, "identifier_type": "tiny"})
    )
    assert by_tiny["alert"]["id"] == alert_id

    on = {"identifier": alert_id}
    steps = [
        ("Acknowledge Alert", {**on, "user": "playbook"}),
        ("Add Note", {**on, "note": "looking into it"}),
        ("Assign Alert", {**on, "owner": users[1]["username"]}),
        ("Add Tags", {**on, "tags": "investigating, db"}),
        ("Remove Tags", {**on, "tags": "prod"}),
        ("Add Details", {**on, "details": '{"runbook": "https://wiki.example.com/disk"}'}),
        ("Remove Details", {**on, "keys": "host"}),
        ("Snooze Alert", {**on, "end_time": "2999-01-01T00:00:00Z"}),
        ("Escalate Alert", {**on, "escalation": escalation}),
        ("Close Alert", {**on, "note": "fixed"}),
    ]
    for command, inputs in steps:
        envelope = ok(run(integration_, sb, command, inputs))
        assert envelope["request_state"] == "processed" and envelope["alert_id"] == alert_id
    alert = ok(run(integration_, sb, "Get Alert", on))["alert"]
    assert (
        alert["status"] == "closed"
        and alert["acknowledged"]
        and alert["owner"] == users[1]["username"]
    )
    assert alert["tags"] == ["investigating", "db"]
    assert alert["details"] == {"runbook": "https://wiki.example.com/disk"}

    logs = ok(run(integration_, sb, "List Alert Logs", {**on, "order": "asc", "limit": 100}))[
        "logs"
    ]
    assert [entry["log"] for entry in logs] == [
        "Alert created via API",
        "Acknowledged alert",
        "Added note",
        f"Assigned alert to {users[1]['username']}",
        "Added tags investigating, db",
        "Removed tags prod",
        "Added details runbook",
        "Removed details host",
        "Snoozed alert until 2999-01-01T00:00:00Z",
        f"Escalated alert to {escalation}",
        "Closed alert",
    ]
    notes = ok(run(integration_, sb, "List Alert Notes", {**on, "order": "asc"}))["notes"]
    assert [n["note"] for n in notes] == ["looking into it", "fixed"]
    assert ok(run(integration_, sb, "List Alert Recipients", on))["recipients"]

    # Fetch Event sees the creation and each update as an event
    events = []
    for _ in range(20):
        page = ok(run(integration_, sb, "Fetch Event", {"checkpoint": checkpoint, "limit": 100}))
        events += [e for e in page["events"] if json.dumps(e).find(alert_id) >= 0]
        checkpoint = page["checkpoint"]
        if not page["has_more"]:
            break
    assert len(events) == 1  # one alert, its latest update (exactly once per fetch window)
    # create again with the same alias while open: the count goes up, no second alert
    again = ok(
        run(integration_, sb, "Create Alert", {"message": "Disk again", "alias": f"{alias} again"})
    )
    assert again["request_state"] == "processed"
    dup = ok(
        run(integration_, sb, "Create Alert", {"message": "Disk again", "alias": f"{alias} again"})
    )
    assert dup["alert_id"] == again["alert_id"] and dup["status"] == "Alert is deduplicated"
    status, read = cli(
        sb, tmp_path, "Get Alert", identifier=f"{alias} again", identifier_type="alias"
    )
    assert read["alert"]["count"] == 2
    status, counted = cli(sb, tmp_path, "Count Alerts", query=f'alias: "{alias} again"')
    assert counted["count"] == 1


def test_fetch_event_returns_each_update_as_an_event(integration_, sb):
    created = ok(run(integration_, sb, "Create Alert", {"message": "m", "alias": "fetch-each"}))
    first = ok(run(integration_, sb, "Fetch Event", {"start_time": "5 minutes ago", "limit": 100}))
    checkpoint = first["checkpoint"]
    seen = 0
    for command, inputs in [
        ("Add Note", {"note": "x"}),
        ("Add Tags", {"tags": "t"}),
        ("Close Alert", {}),
    ]:
        ok(run(integration_, sb, command, {"identifier": created["alert_id"], **inputs}))
        page = ok(run(integration_, sb, "Fetch Event", {"checkpoint": checkpoint, "limit": 100}))
        checkpoint = page["checkpoint"]
        seen += sum(created["alert_id"] in json.dumps(e) for e in page["events"])
    assert seen == 3


def test_failures_reported_by_the_request_status(integration_, sb):
    closed = ok(run(integration_, sb, "Create Alert", {"message": "m"}))
    ok(run(integration_, sb, "Close Alert", {"identifier": closed["alert_id"]}))
    envelope = run(integration_, sb, "Acknowledge Alert", {"identifier": closed["alert_id"]})
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "request_failed"
    assert "closed" in envelope["error"]["message"]
    envelope = run(
        integration_,
        sb,
        "Add Note",
        {"identifier": "no-such", "identifier_type": "alias", "note": "n"},
    )
    assert (
        envelope["error"]["type"] == "request_failed"
        and "does not exist" in envelope["error"]["message"]
    )
    envelope = run(
        integration_, sb, "Create Alert", {"message": "m", "responders": "team:No Such Team"}
    )
    assert (
        envelope["error"]["type"] == "request_failed"
        and "No Such Team" in envelope["error"]["message"]
    )


def test_a_write_throttled_with_429_is_retried(integration_, sb):
    sb.rate_limits.set("alert", per_second=1, period_seconds=1)
    used = requests.post(  # takes the one token of this second
        sb.url + "/v2/alerts/x/notes",
        json={"note": "n"},
        headers={"Authorization": f"GenieKey {API_KEY}"},
        timeout=10,
    )
    assert used.status_code == 202
    sb.requests.clear()
    envelope = ok(run(integration_, sb, "Create Alert", {"message": "second"}, max_retry_time=10))
    assert [r.status for r in sb.requests if r.method == "POST"] == [429, 202]
    assert envelope["request_state"] == "processed"


@pytest.mark.parametrize("status", [500, 502])
def test_a_5xx_on_a_write_is_not_retried(integration_, sb, status):
    sb.faults.add("html_5xx", paths="/v2/alerts", count=1, status=status)
    envelope = run(
        integration_, sb, "Create Alert", {"message": "m", "alias": "five"}, max_retry_time=10
    )
    assert [r.method for r in sb.requests] == ["POST"]
    assert (
        envelope["error"]["type"] == "outcome_unknown"
        and "may have been applied" in envelope["error"]["message"]
    )


def test_a_read_timeout_on_a_write_is_not_retried(integration_, sb):
    sb.faults.add("latency", paths="/v2/alerts", count=1, seconds=1.5)
    envelope = run(
        integration_,
        sb,
        "Add Note",
        {"identifier": "x", "note": "n"},
        max_retry_time=10,
        timeout=0.5,
    )
    assert [r.method for r in sb.requests] == ["POST"]
    assert (
        envelope["error"]["type"] == "outcome_unknown"
        and "may have been applied" in envelope["error"]["message"]
    )


def test_rights_of_a_read_only_key(integration_, sb):
    key = "0a0b0c0d-9999-4222-8333-444444444444"
    sb.add_key(key, ("read",))
    envelope = run(integration_, sb, "Create Alert", {"message": "m"}, api_key=key)
    assert envelope["error"]["type"] == "forbidden" and envelope["error"]["status_code"] == 403
