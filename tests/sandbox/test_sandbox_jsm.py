"""The sandbox's JSM Operations mode: paths, shapes (checked against Atlassian's published
description), Basic authentication, scopes, errors, paging and the CLI option."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import requests

from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.sandbox.__main__ import main as sandbox_main

from .sandbox_helpers import CLOCK, shared_dir

SPEC_NAME = "jsm-ops-read-subset.openapi3.json"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def jsm() -> Iterator[Sandbox]:
    with Sandbox(alerts=300, seed=7, clock=CLOCK, platform="jsm") as sb:
        yield sb


@pytest.fixture
def s(jsm: Sandbox) -> Iterator[requests.Session]:
    jsm.faults.clear()
    jsm.rate_limits.clear()
    jsm.churn(0)
    with requests.Session() as session:
        session.auth = (jsm.email, jsm.api_key)
        yield session
    jsm.rate_limits.clear()


def ops(jsm: Sandbox, path: str) -> str:
    return f"{jsm.url}{jsm.jsm_prefix}{path}"


@pytest.fixture(scope="module")
def spec() -> dict:
    path = Path(shared_dir()) / "jsm" / "openapi" / SPEC_NAME
    if not path.is_file():
        pytest.skip(f"{path} is absent (set OPSGENIE_SHARED_DIR)")
    return json.loads(path.read_text(encoding="utf-8"))


def check_shape(spec: dict, schema_name: str, body: object) -> None:
    """Validate ``body`` against a component schema of the JSM description (OpenAPI 3.0 schemas
    are JSON Schema enough for this; ``$ref`` resolved within the document). The published
    ``oneOf`` alternatives have no required properties, so any body matches several of them:
    they are checked as ``anyOf``."""
    components = json.loads(json.dumps(spec["components"]).replace('"oneOf"', '"anyOf"'))
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    jsonschema.validate(body, schema)


def test_connection_and_tenant_info(jsm: Sandbox) -> None:
    conn = jsm.connection
    assert conn["platform"] == "jsm" and conn["site"] == jsm.url and conn["email"] == jsm.email
    answer = requests.get(jsm.url + "/_edge/tenant_info", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"cloudId": jsm.cloud_id}


def test_alert_list_shape_paging_and_sort(jsm: Sandbox, s: requests.Session, spec: dict) -> None:
    answer = s.get(ops(jsm, "/alerts"), params={"size": 7, "sort": "createdAt", "order": "asc"})
    assert answer.status_code == 200
    body = answer.json()
    check_shape(spec, "ListAlertResponse", body)
    assert body["count"] == 300 and len(body["values"]) == 7
    assert body["links"]["next"].startswith("/v1/alerts?offset=7&size=7")
    created = [a["createdAt"] for a in body["values"]]
    assert created == sorted(created)
    alert = body["values"][0]
    assert {"id", "tinyId", "status", "updatedAt", "lastOccuredAt", "integrationName"} <= set(alert)
    assert "data" not in body and "requestId" not in body
    single = s.get(ops(jsm, "/alerts/" + alert["id"]))
    assert single.status_code == 200 and single.json()["id"] == alert["id"]
    check_shape(spec, "AlertResponse", single.json())
    by_priority = s.get(
        ops(jsm, "/alerts"), params={"size": 100, "sort": "priority", "order": "desc"}
    )
    ranks = [int(a["priority"][1]) for a in by_priority.json()["values"]]
    assert ranks == sorted(ranks)


def test_alert_query_time_clause_matches_opsgenie_mode(jsm: Sandbox, s: requests.Session) -> None:
    query = "updatedAt >= 1709294400000 AND updatedAt < 1709553600000"
    answer = s.get(ops(jsm, "/alerts"), params={"query": query, "size": 100, "sort": "createdAt"})
    expected = [a["id"] for a in jsm.store.search(query, "createdAt", "desc", 0, 100)[0]]
    assert [a["id"] for a in answer.json()["values"]] == expected


def test_alert_errors_in_each_shape(jsm: Sandbox, s: requests.Session) -> None:
    bad = s.get(ops(jsm, "/alerts"), params={"size": 500, "sort": "updatedAt"})
    assert bad.status_code == 422
    titles = [e["title"] for e in bad.json()["errors"]]
    assert any(t.startswith("size:") for t in titles) and any(t.startswith("sort:") for t in titles)
    assert all(e["code"] == "INVALID_PARAMETER" for e in bad.json()["errors"])
    cap = s.get(ops(jsm, "/alerts"), params={"offset": 19_950, "size": 50})
    assert cap.status_code == 422 and "20000" in cap.json()["errors"][0]["title"]
    query = s.get(ops(jsm, "/alerts"), params={"query": "(("})
    assert query.status_code == 422
    assert set(query.json()) == {"message", "took", "requestId"}  # OpsGenie style
    missing = s.get(ops(jsm, "/alerts/no-such-alert"))
    assert missing.status_code == 404 and missing.json()["message"] == "Alert does not exist"
    assert s.get(ops(jsm, "/alerts"), params={"from": 1709294400000}).status_code == 422  # int32


def test_basic_auth_and_scopes(jsm: Sandbox, spec: dict) -> None:
    url = ops(jsm, "/alerts")
    for auth in (None, (jsm.email, "wrong"), ("nobody@example.com", jsm.api_key)):
        answer = requests.get(url, auth=auth, timeout=10)
        assert answer.status_code == 401
        check_shape(spec, "UnauthorizedErrorResponse", answer.json())
        assert answer.json()["code"] == 401
    garbled = requests.get(url, headers={"Authorization": "Basic %%%"}, timeout=10)
    assert garbled.status_code == 401
    genie = requests.get(url, headers={"Authorization": f"GenieKey {jsm.api_key}"}, timeout=10)
    assert genie.status_code == 401
    jsm.add_account("alerts.only@example.com", "tok-a", ["alert"])
    jsm.add_account("config.only@example.com", "tok-c", ["config"])
    assert (
        requests.get(url, auth=("alerts.only@example.com", "tok-a"), timeout=10).status_code == 200
    )
    refused = requests.get(
        ops(jsm, "/schedules"), auth=("alerts.only@example.com", "tok-a"), timeout=10
    )
    assert refused.status_code == 403
    check_shape(spec, "ErrorResponses", refused.json())
    assert "read:ops-config" in refused.json()["errors"][0]["title"]
    refused = requests.get(url, auth=("config.only@example.com", "tok-c"), timeout=10)
    assert refused.status_code == 403 and "read:ops-alert" in refused.json()["errors"][0]["title"]
    jsm.set_scopes("config.only@example.com", ["alert", "config"])
    assert (
        requests.get(url, auth=("config.only@example.com", "tok-c"), timeout=10).status_code == 200
    )


def test_wrong_cloud_id_and_unknown_path(jsm: Sandbox, s: requests.Session) -> None:
    other = s.get(f"{jsm.url}/jsm/ops/api/not-this-site/v1/alerts")
    assert other.status_code == 404 and other.json()["errors"][0]["code"] == "NOT_FOUND"
    assert s.get(ops(jsm, "/nothing")).status_code == 404
    assert s.get(f"{jsm.url}/v2/alerts").status_code == 404  # no OpsGenie paths in JSM mode
    assert s.post(ops(jsm, "/alerts")).status_code == 405


def test_schedules_by_name_paged_and_by_id(jsm: Sandbox, s: requests.Session, spec: dict) -> None:
    exact = s.get(ops(jsm, "/schedules"), params={"query": "ops team/eu #1"}).json()
    check_shape(spec, "ListSchedulesResponse", exact)
    assert [v["name"] for v in exact["values"]] == ["Ops Team/EU #1"]
    assert "rotations" not in exact["values"][0]
    prefix = s.get(ops(jsm, "/schedules"), params={"query": "Ops*", "expand": "rotation"}).json()
    assert prefix["values"] and all(v["name"].lower().startswith("ops") for v in prefix["values"])
    assert "rotations" in prefix["values"][0]
    page = s.get(ops(jsm, "/schedules"), params={"size": 2}).json()
    assert len(page["values"]) == 2 and page["links"]["next"] == "/v1/schedules?offset=2&size=2"
    sid = exact["values"][0]["id"]
    one = s.get(ops(jsm, f"/schedules/{sid}"))
    assert one.status_code == 200
    check_shape(spec, "Schedule", one.json())
    users = [p for r in one.json()["rotations"] for p in r["participants"] if p["type"] == "user"]
    assert users and all(p["id"].startswith("712020:") for p in users)
    by_name = s.get(ops(jsm, "/schedules/Ops%20Team%2FEU%20%231"))
    assert by_name.status_code == 404 and by_name.json()["errors"][0]["code"] == "NOT_FOUND"


def test_on_calls_next_and_timeline(jsm: Sandbox, s: requests.Session, spec: dict) -> None:
    sid = next(x["id"] for x in jsm.store.schedule_list() if x["name"] == "Ops Team/EU #1")
    tree = s.get(ops(jsm, f"/schedules/{sid}/on-calls")).json()
    check_shape(spec, "OnCallParticipants", tree)
    assert all("name" not in node for node in tree["onCallParticipants"])
    flat = s.get(ops(jsm, f"/schedules/{sid}/on-calls"), params={"flat": "true"}).json()
    check_shape(spec, "OnCallUsers", flat)
    assert all(a.startswith("712020:") for a in flat["onCallUsers"])
    nxt = s.get(ops(jsm, f"/schedules/{sid}/next-on-calls")).json()
    check_shape(spec, "NextOnCallParticipants", nxt)
    timeline = s.get(
        ops(jsm, f"/schedules/{sid}/timeline"), params={"interval": 2, "intervalUnit": "days"}
    ).json()
    check_shape(spec, "ScheduleTimelineResponse", timeline)
    periods = [p for r in timeline["finalTimeline"]["rotations"] for p in r["periods"]]
    assert periods and all("responder" in p and "recipient" not in p for p in periods)
    assert {p["type"] for p in periods} <= {"base", "override", "forwarding", "historical"}
    bad = s.get(ops(jsm, f"/schedules/{sid}/timeline"), params={"intervalUnit": "hours"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["title"].startswith("intervalUnit")
    teams = s.get(ops(jsm, "/teams")).json()
    check_shape(spec, "ListPlatformTeamResponse", teams)


def test_jira_user_api(jsm: Sandbox, s: requests.Session) -> None:
    users = jsm.store.user_list()
    first, hidden = "712020:" + users[0]["id"], "712020:" + users[-1]["id"]
    for base in ("/rest/api/3", f"/ex/jira/{jsm.cloud_id}/rest/api/3"):
        one = s.get(jsm.url + base + "/user", params={"accountId": first})
        assert one.status_code == 200 and one.json()["emailAddress"] == users[0]["username"]
        bulk = s.get(
            jsm.url + base + "/user/bulk",
            params={"accountId": [first, hidden, "712020:nobody"], "maxResults": 200},
        ).json()
        assert [u["accountId"] for u in bulk["values"]] == [first, hidden] and bulk["isLast"]
        assert "emailAddress" not in bulk["values"][1]
    found = s.get(
        jsm.url + "/rest/api/3/user/search", params={"query": users[0]["username"]}
    ).json()
    assert [u["accountId"] for u in found] == [first]
    hidden_search = s.get(
        jsm.url + "/rest/api/3/user/search", params={"query": users[-1]["username"]}
    ).json()
    assert hidden_search == []  # a hidden e-mail is not searchable
    missing = s.get(jsm.url + "/rest/api/3/user", params={"accountId": "712020:nobody"})
    assert missing.status_code == 404 and missing.json()["errorMessages"]
    assert (
        requests.get(
            jsm.url + "/rest/api/3/user", params={"accountId": first}, timeout=10
        ).status_code
        == 401
    )


def test_rate_limit_answers_429_with_retry_after(jsm: Sandbox, s: requests.Session) -> None:
    jsm.rate_limits.set("search", per_second=1)
    statuses = [s.get(ops(jsm, "/alerts"), params={"size": 1}) for _ in range(4)]
    throttled = [a for a in statuses if a.status_code == 429]
    assert throttled and throttled[0].headers["Retry-After"]
    assert throttled[0].json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"


def test_churn_in_jsm_paths(jsm: Sandbox, s: requests.Session) -> None:
    before = {a["id"]: a["updatedAt"] for a in jsm.store.alerts}
    jsm.churn(3)
    s.get(ops(jsm, "/alerts"), params={"size": 1})
    jsm.churn(0)
    after = {a["id"]: a["updatedAt"] for a in jsm.store.alerts}
    assert sum(before[k] != after[k] for k in before) >= 1


def test_cli_platform_jsm() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsgenie_integration.sandbox", "--platform", "jsm", "--alerts", "5",
         "--email", "me@example.com"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)
        conn = json.loads(box[0])
        assert set(conn) == {"platform", "site", "server_url", "email", "api_token"}
        assert conn["platform"] == "jsm" and conn["email"] == "me@example.com"
        tenant = requests.get(conn["site"] + "/_edge/tenant_info", timeout=10).json()
        answer = requests.get(
            f"{conn['server_url']}/jsm/ops/api/{tenant['cloudId']}/v1/alerts",
            auth=(conn["email"], conn["api_token"]),
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["count"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "JSM Operations sandbox serving 5 alerts" in err and conn["api_token"] not in err


def test_cli_refuses_opsgenie_only_options() -> None:
    err = io.StringIO()
    assert sandbox_main(["--platform", "jsm", "--region", "eu"], io.StringIO(), err) == 2
    assert "OpsGenie-mode" in err.getvalue()
