"""The seeded data set: deterministic, varied, relative to the clock; data files; 100,000 alerts."""

from __future__ import annotations

import json
import re
import time

import pytest

from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.sandbox.seed import DataFileError, load_data_file

from .sandbox_helpers import CLOCK, CLOCK_MS, make_api

WEEK_MS = 7 * 86_400_000


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (Sandbox(alerts=200, seed=s, clock=CLOCK) for s in (5, 5, 6))
    assert a.store.alerts == b.store.alerts
    assert (a.store.users, a.store.schedules, a.store.teams) == (
        b.store.users,
        b.store.schedules,
        b.store.teams,
    )
    assert a.store.alerts != c.store.alerts


@pytest.fixture(scope="module")
def seeded():
    return Sandbox(alerts=3000, seed=11, clock=CLOCK)


def test_alerts_are_varied_and_relative_to_the_clock(seeded):
    alerts = seeded.store.alert_objects()
    served = seeded.store.alerts
    assert {a["priority"] for a in served} == {"P1", "P2", "P3", "P4", "P5"}
    assert {a["status"] for a in served} == {"open", "closed"}
    assert {a["acknowledged"] for a in served} == {True, False}
    assert {a["owner"] == "" for a in served} == {True, False}
    assert {r["type"] for a in served for r in a["responders"]} == {
        "user",
        "team",
        "escalation",
        "schedule",
    }
    assert any("report" in a for a in served) and any("report" not in a for a in served)
    assert any("snoozedUntil" in a for a in served) and any(a["snoozed"] for a in served)
    assert any(a["tags"] for a in served) and any(not a["tags"] for a in served)
    assert len({a["integration"]["type"] for a in served}) > 1
    assert all(CLOCK_MS - WEEK_MS <= a.createdAt <= a.updatedAt <= CLOCK_MS for a in alerts)
    digits = {
        len(m.group(1) or "")
        for a in served
        for m in [re.search(r"(?:\.(\d+))?Z$", a["updatedAt"])]
    }
    assert {0, 1, 2, 3} <= digits and max(digits) > 3
    created = [a.createdAt for a in alerts]
    updated = [a.updatedAt for a in alerts]
    assert len(set(created)) < len(created) and len(set(updated)) < len(updated)  # same-ms ties


def test_people_and_schedules(seeded):
    usernames = {u["username"] for u in seeded.store.users}
    assert "user+oncall@example.com" in usernames
    assert any("timeZone" not in u for u in seeded.store.users)
    assert all(u["userContacts"] for u in seeded.store.users)
    schedules = {s["name"]: s for s in seeded.store.schedules}
    assert {"Ops Team/EU #1", "Équipe Nuit", "Empty Schedule"} <= set(schedules)
    assert any("ownerTeam" not in s for s in schedules.values())
    assert schedules["Empty Schedule"]["rotations"] == []
    types = {r["type"] for s in schedules.values() for r in s["rotations"]}
    assert types == {"daily", "weekly", "hourly"}
    kinds = {
        p["type"] for s in schedules.values() for r in s["rotations"] for p in r["participants"]
    }
    assert kinds == {"user", "team", "escalation", "none"}
    assert all(t["members"] for t in seeded.store.teams)


def test_seeded_schedules_answer_on_every_endpoint(seeded):
    with seeded, make_api(seeded) as api:
        for schedule in seeded.store.schedules:
            for suffix in ("", "/timeline", "/on-calls", "/next-on-calls"):
                for flat in ("false", "true"):
                    r = api.get(
                        f"/v2/schedules/{schedule['id']}{suffix}",
                        params={"flat": flat, "expand": "base,override,forwarding"},
                    )
                    assert r.status_code == 200, (schedule["name"], suffix, r.text)
        assert (
            api.get(
                "/v2/schedules/Empty%20Schedule/on-calls", params={"scheduleIdentifierType": "name"}
            ).json()["data"]["onCallParticipants"]
            == []
        )


def test_data_file_yaml_replaces_the_seed(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text(
        "alerts:\n"
        "  - id: a1\n    message: From YAML\n    createdAt: '2024-03-01T10:00:00.123456789Z'\n"
        "    updatedAt: 1709290800000\n    priority: Critical\n    customField: kept\n"
        "users:\n  - {id: u1, username: yaml@example.com, fullName: Yaml}\n",
        encoding="utf-8",
    )
    with Sandbox(data_file=path, clock=CLOCK) as sb, make_api(sb) as api:
        data = api.get("/v2/alerts").json()["data"]
        assert len(data) == 1
        alert = data[0]
        assert alert["createdAt"] == "2024-03-01T10:00:00.123456789Z"
        assert alert["updatedAt"] == "2024-03-01T11:00:00Z"
        assert alert["priority"] == "Critical" and alert["customField"] == "kept"
        assert alert["owner"] == "" and alert["status"] == "open" and alert["tinyId"] == "1"
        assert api.get("/v2/users/yaml@example.com").status_code == 200
        assert api.get("/v2/schedules").json()["data"] == []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"incidents": []}), encoding="utf-8")
    with pytest.raises(DataFileError):
        load_data_file(bad)


def test_replace_alerts_accepts_ms_and_iso():
    sb = Sandbox(alerts=5, clock=CLOCK)
    sb.store.replace_alerts(
        [
            {"id": "x", "createdAt": CLOCK_MS - 5, "updatedAt": "2024-03-06T11:59:59.9999Z"},
            {"id": "y", "createdAt": "2024-03-06T11:00:00+01:00"},
        ]
    )
    page, total = sb.store.search("", "createdAt", "asc", 0, 10)
    assert total == 2 and [a["id"] for a in page] == ["y", "x"]
    assert page[0]["createdAt"] == "2024-03-06T10:00:00Z" == page[0]["updatedAt"]
    assert page[1]["updatedAt"] == "2024-03-06T11:59:59.9999Z"


def test_one_hundred_thousand_alerts_seed_and_page_in_order():
    # Speed is measured by bench/bench_sandbox.py (seeding time, pages per second), not here:
    # a timed assertion fails on a loaded machine and proves nothing about the code.
    sb = Sandbox(alerts=100_000, seed=1, clock=CLOCK)
    assert len(sb.store) == 100_000
    lo, hi = CLOCK_MS - 3 * 86_400_000, CLOCK_MS - 86_400_000
    query = f"(status:open) AND updatedAt >= {lo} AND updatedAt < {hi}"
    updated_at = {a.id: a.updatedAt for a in sb.store.alert_objects()}
    offset, seen, last = 0, 0, lo
    for _ in range(50):
        page, total = sb.store.search(query, "updatedAt", "asc", offset, 100)
        assert len(page) == 100
        for alert in page:
            updated = updated_at[alert["id"]]
            assert alert["status"] == "open" and last <= updated < hi
            last = updated
        seen += len(page)
        offset += 100
    assert seen == 5000 and total > 5000


def test_real_clock_places_data_before_now_and_clock_controls():
    now = int(time.time() * 1000)
    sb = Sandbox(alerts=50, seed=4)
    assert all(
        now - WEEK_MS - 60_000 <= a.createdAt <= now + 60_000 for a in sb.store.alert_objects()
    )
    assert abs(sb.clock.now_ms() - now) < 60_000 and not sb.clock.fixed
    sb.clock.advance(3_600_000)
    assert sb.clock.now_ms() - int(time.time() * 1000) >= 3_590_000
    sb.clock.set("2024-03-06T12:00:00Z")
    assert sb.clock.fixed and sb.clock.now_ms() == CLOCK_MS
    assert sb.clock.advance(1000) == CLOCK_MS + 1000
