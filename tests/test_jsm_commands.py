"""Every command through ``Integration.run`` against the sandbox in JSM mode, with only the
connection changed, compared field by field with the same seeded account in OpsGenie mode.

The documented differences (README, "Moving to Jira Service Management") are applied to the
OpsGenie result before comparing, and nothing else differs:

- people: ``id`` is the Atlassian account id (the sandbox serves user ``U`` as ``712020:U``);
  ``name`` is the e-mail address where the profile shows it, else the display name;
- escalations have no name; a timeline period of type ``default`` is ``base``;
- Get Single User has no ``role``, ``userAddress``, ``tags``, ``details``, ``verified``,
  ``createdAt`` and adds ``accountType``;
- Fetch Event: events come in createdAt order within a pass (not oldest update first); an open
  alert's ``Status`` may be ``acked`` or ``snoozed``; the checkpoint starts with ``cj1.``;
- Test Connection: ``account`` is ``{name: the site, plan: null}``; rights are JSM's permissions;
- ``raw_data`` holds JSM's answers translated to OpsGenie's shapes (Fetch Event: as answered).
"""

from __future__ import annotations

import copy
import json

import pytest

from opsgenie_integration import Integration
from opsgenie_integration.sandbox import Sandbox

CLOCK = "2024-03-06T12:00:00Z"
ACCT = "712020:"


@pytest.fixture(scope="module")
def pair():
    with (
        Sandbox(alerts=300, seed=4, clock=CLOCK) as og,
        Sandbox(alerts=300, seed=4, clock=CLOCK, platform="jsm") as jsm,
    ):
        yield og, jsm


@pytest.fixture(scope="module")
def integration_():
    return Integration.load(entry_points=False)


def run_both(integration_, pair, command, inputs):
    og, jsm = pair
    ours = integration_.run(command, inputs, {**og.connection, "max_retry_time": 0})
    theirs = integration_.run(command, inputs, {**jsm.connection, "max_retry_time": 0})
    assert ours["return_data"] == "Successful", ours["error"]
    assert theirs["return_data"] == "Successful", theirs["error"]
    assert set(ours) == set(theirs)  # the same envelope keys
    return ours, theirs


def person(og: Sandbox, jsm: Sandbox, user_id: str | None, name: str | None) -> tuple:
    if user_id is None:
        user = next(u for u in og.store.users if u["username"] == name)
        user_id = user["id"]
    user = next(u for u in og.store.users if u["id"] == user_id)
    acct = ACCT + user_id
    return acct, user["fullName"] if acct in jsm.jsm_api.hidden_emails else user["username"]


def test_get_schedules(integration_, pair):
    ours, theirs = run_both(integration_, pair, "Get Schedules", {})
    keys = ("id", "name", "description", "timezone", "enabled", "ownerTeam")
    assert [{k: s.get(k) for k in keys} for s in ours["schedules"]] == [
        {k: s.get(k) for k in keys} for s in theirs["schedules"]
    ]


@pytest.mark.parametrize("date", [None, "2024-03-02 10:00", "2024-03-09T03:00:00Z"])
def test_get_on_call_user(integration_, pair, date):
    og, jsm = pair
    for schedule in og.store.schedule_list():
        inputs = {"Schedule Name": schedule["name"], **({"Date": date} if date else {})}
        ours, theirs = run_both(integration_, pair, "Get On-call User", inputs)
        escalations = {
            f"escalation:{e['name']}": f"escalation:{e['id']}" for e in og.store.escalations
        }
        expected = []
        for user in ours["on_call_users"]:
            acct, name = person(og, jsm, user["id"], user["name"])
            path = [escalations.get(step, step) for step in user["path"]]  # no names in JSM
            expected.append(
                {**user, "id": acct if user["id"] else None, "name": name, "path": path}
            )
        assert theirs["on_call_users"] == expected, schedule["name"]
        assert [p["type"] for p in theirs["unresolved_participants"]] == [
            p["type"] for p in ours["unresolved_participants"]
        ]
        assert theirs["schedule"] == ours["schedule"]


def test_get_schedule_timeline(integration_, pair):
    og, jsm = pair
    for schedule in og.store.schedule_list():
        inputs = {"Schedule Name": schedule["name"], "Interval": 2, "Interval Unit": "weeks",
                  "Date": "2024-03-04 00:00"}  # fmt: skip
        ours, theirs = run_both(integration_, pair, "Get Schedule Timeline", inputs)
        assert len(ours["periods"]) == len(theirs["periods"])
        for a, b in zip(ours["periods"], theirs["periods"]):
            want = copy.deepcopy(a)
            want["type"] = "base" if a["type"] == "default" else a["type"]
            recipient = a["recipient"] or {}
            if recipient.get("type") == "user":
                acct, name = person(og, jsm, recipient["id"], recipient.get("name"))
                want["recipient"] = {"id": acct, "type": "user", "name": name}
            elif recipient.get("type") in (None, "none") or not recipient.get("id"):
                want["recipient"] = {"id": None, "type": "none", "name": None}
            elif recipient.get("type") == "escalation":
                want["recipient"] = {**recipient, "name": None}
            assert b == want


def test_get_single_user(integration_, pair):
    og, jsm = pair
    for user in og.store.users[:5]:
        ours = integration_.run("Get Single User", {"User": user["id"]}, og.connection)
        theirs = integration_.run("Get Single User", {"User": ACCT + user["id"]}, jsm.connection)
        assert theirs["return_data"] == "Successful", theirs["error"]
        a, b = ours["user"], theirs["user"]
        assert b["id"] == ACCT + user["id"] and b["fullName"] == a["fullName"]
        assert b["username"] == a["username"]
        by_email = integration_.run("Get Single User", {"User": user["username"]}, jsm.connection)
        assert by_email["user"]["id"] == b["id"]


def test_fetch_event_nine_fields(integration_, pair):
    og, jsm = pair
    inputs = {
        "Start Time": "2024-02-20 00:00",
        "End Time": "2024-03-06 11:00",
        "Number of Event(s) Fetched": 100,
    }

    def fetch_all(connection):
        events, checkpoint = [], None
        for _ in range(50):
            call = dict(inputs, **({"Checkpoint": checkpoint} if checkpoint else {}))
            envelope = integration_.run("Fetch Event", call, connection)
            assert envelope["return_data"] == "Successful", envelope["error"]
            events += envelope["events"]
            checkpoint = envelope["checkpoint"]
            if not envelope["events"] and not envelope["has_more"]:
                return events, checkpoint
        raise AssertionError("did not finish")

    ours, _ = fetch_all(og.connection)
    theirs, checkpoint = fetch_all(jsm.connection)
    assert checkpoint.startswith("cj1.")
    assert len(ours) == len(theirs) > 50
    by_id = {e["Unique Event Key"]: e for e in ours}
    for event in theirs:
        want = dict(by_id[event["Unique Event Key"]])
        if want["Status"] == "open":
            assert event["Status"] in ("open", "acked", "snoozed")
            want["Status"] = event["Status"]
        assert event == want


def test_test_connection(integration_, pair):
    og, jsm = pair
    ours, theirs = run_both(integration_, pair, "Test Connection", {})
    assert {k: v["can_run"] for k, v in theirs["commands"].items()} == {
        k: v["can_run"] for k, v in ours["commands"].items()
    }
    assert theirs["account"] == {"name": jsm.url, "plan": None}


def test_test_connection_names_the_missing_scope(integration_, pair):
    _, jsm = pair
    jsm.add_account("alerts.only@example.com", "tok-a", ["alert"])
    conn = {**jsm.connection, "email": "alerts.only@example.com", "api_token": "tok-a"}
    envelope = integration_.run("Test Connection", {}, conn)
    assert envelope["return_data"] == "Failed"
    error = envelope["error"]
    assert error["type"] == "forbidden" and error["status_code"] == 403
    assert "read:ops-config" in error["message"]
    assert envelope["commands"]["Fetch Event"]["can_run"] is True
    assert envelope["commands"]["Get Schedules"]["can_run"] is False
    assert (
        "read:ops-config:jira-service-management permission is missing"
        in envelope["commands"]["Get Schedules"]["reason"]
    )
    assert "tok-a" not in json.dumps(envelope)


@pytest.mark.parametrize(
    "command, inputs, status, kind",
    [
        ("Get On-call User", {"Schedule Name": "No Such Schedule"}, 404, "not_found"),
        ("Get Schedule Timeline", {"Schedule Name": "No Such Schedule"}, 404, "not_found"),
        ("Get Single User", {"User": "712020:nobody"}, 404, "not_found"),
        ("Get Single User", {"User": "nobody@example.com"}, 404, "not_found"),
        ("Fetch Event", {"Search Condition": "status: open AND"}, 422, "unprocessable"),
    ],
)
def test_errors_are_failed_envelopes(integration_, pair, command, inputs, status, kind):
    _, jsm = pair
    envelope = integration_.run(command, inputs, jsm.connection)
    assert envelope["return_data"] == "Failed"
    assert envelope["error"]["type"] == kind and envelope["error"]["status_code"] == status
    assert envelope["error"]["failure_indicator"] == f"{command} failed."


def test_bad_credentials(integration_, pair):
    _, jsm = pair
    conn = {**jsm.connection, "api_token": "wrong-token"}
    envelope = integration_.run("Get Schedules", {}, conn)
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "auth"
    assert envelope["error"]["message"] == "Client must be authenticated to access this resource."
    assert "wrong-token" not in json.dumps(envelope)


def test_checkpoint_of_the_other_platform_names_the_parameter(integration_, pair):
    og, jsm = pair
    start = {"Start Time": "2024-03-01 00:00", "Number of Event(s) Fetched": 5}
    og_checkpoint = integration_.run("Fetch Event", start, og.connection)["checkpoint"]
    envelope = integration_.run(
        "Fetch Event", {**start, "Checkpoint": og_checkpoint}, jsm.connection
    )
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "validation"
    assert (
        "Checkpoint" in envelope["error"]["message"] and "OpsGenie" in envelope["error"]["message"]
    )


def test_jsm_checkpoint_given_to_opsgenie_names_the_parameter(integration_, pair):
    og, jsm = pair
    start = {"Start Time": "2024-03-01 00:00", "Number of Event(s) Fetched": 5}
    jsm_checkpoint = integration_.run("Fetch Event", start, jsm.connection)["checkpoint"]
    assert jsm_checkpoint.startswith("cj1.")
    envelope = integration_.run(
        "Fetch Event", {**start, "Checkpoint": jsm_checkpoint}, og.connection
    )
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "validation"
    assert (
        "Checkpoint (checkpoint): was made by Fetch Event against Jira Service Management"
        in envelope["error"]["message"]
    )


def test_throttling_server_errors_and_no_answer_are_failed_envelopes(integration_, pair):
    _, jsm = pair
    conn = {**jsm.connection, "max_retry_time": 0}
    try:
        jsm.rate_limits.set("configuration", per_second=0.001)
        integration_.run("Get Schedules", {}, conn)  # spends the bucket
        throttled = integration_.run("Get Schedules", {}, conn)
        assert throttled["error"]["type"] == "rate_limited" and throttled["error"]["retryable"]
        assert throttled["error"]["status_code"] == 429
        jsm.rate_limits.clear()
        jsm.faults.add("html_5xx", paths=f"{jsm.jsm_prefix}/schedules", count=1, status=503)
        failed = integration_.run("Get Schedules", {}, conn)
        assert failed["error"]["type"] == "server" and "HTML page" in failed["error"]["message"]
        retried = integration_.run("Get Schedules", {}, {**jsm.connection, "max_retry_time": 5})
        assert retried["return_data"] == "Successful"
    finally:
        jsm.rate_limits.clear()
        jsm.faults.clear()
    gone = integration_.run(
        "Get Schedules",
        {},
        {**conn, "site": "http://127.0.0.1:9", "server_url": "http://127.0.0.1:9"},
    )
    assert gone["error"]["type"] == "transport" and gone["error"]["status_code"] is None


def test_one_bulk_people_call_per_command(integration_, pair):
    og, jsm = pair
    for schedule in og.store.schedule_list():
        for command, inputs in (
            ("Get On-call User", {"Schedule Name": schedule["name"]}),
            ("Get Schedule Timeline", {"Schedule Name": schedule["name"], "Interval": 2}),
        ):
            jsm.requests.clear()
            envelope = integration_.run(command, inputs, jsm.connection)
            assert envelope["return_data"] == "Successful", envelope["error"]
            bulk = [r for r in jsm.requests if r.path.endswith("/user/bulk")]
            assert len(bulk) <= 1, (command, schedule["name"])
            og.requests.clear()
            integration_.run(command, inputs, og.connection)
            ours = [r for r in og.requests if r.path.endswith(("/on-calls", "/timeline"))]
            theirs = [r for r in jsm.requests if r.path.endswith(("/on-calls", "/timeline"))]
            assert len(theirs) == len(ours)  # no more platform calls than in OpsGenie mode


# -- the commands of the on-call and teams issue, in JSM mode ------------------------------------


def _mapped_users(og, jsm, users):
    """OpsGenie's people as JSM mode gives them: account ids, names, escalations by id."""
    escalations = {f"escalation:{e['name']}": f"escalation:{e['id']}" for e in og.store.escalations}
    out = []
    for user in users:
        path = [escalations.get(step, step) for step in user.get("path", [])]
        if user["id"]:
            acct, name = person(og, jsm, user["id"], user["name"])
            out.append({**user, "id": acct, "name": name, "path": path})
        else:
            out.append({**user, "path": path})
    return out


def test_on_call_users_across_schedules(integration_, pair):
    og, jsm = pair
    ours, theirs = run_both(integration_, pair, "Get On-call Users Across Schedules", {})
    assert [s["schedule_id"] for s in theirs["schedules"]] == [
        s["schedule_id"] for s in ours["schedules"]
    ]
    for a, b in zip(ours["schedules"], theirs["schedules"]):
        assert b["on_call_users"] == _mapped_users(og, jsm, a["on_call_users"]), a["schedule"]


def test_next_on_call_user(integration_, pair):
    """JSM lists who is on call at the next change (OpsGenie's exact next); the per-rotation
    next is not in JSM's answer, so both outputs come from that one list (documented)."""
    og, jsm = pair
    for schedule in og.store.schedule_list():
        inputs = {"Schedule Name": schedule["name"]}
        ours, theirs = run_both(integration_, pair, "Get Next On-call User", inputs)
        assert theirs["next_on_call_users"] == _mapped_users(og, jsm, ours["next_on_call_users"])


def test_is_user_on_call(integration_, pair):
    og, _ = pair
    for user in og.store.users[:6]:
        ours, theirs = run_both(integration_, pair, "Is User On Call", {"User": user["username"]})
        assert theirs["on_call"] == ours["on_call"], user["username"]
        assert [s.get("schedule") for s in theirs["schedules"]] == [
            s.get("schedule") for s in ours["schedules"]
        ]


def test_teams(integration_, pair):
    ours, theirs = run_both(integration_, pair, "List Teams", {})
    assert [(t["id"], t["name"]) for t in theirs["teams"]] == [
        (t["id"], t["name"]) for t in ours["teams"]
    ]
    name = ours["teams"][0]["name"]
    ours, theirs = run_both(integration_, pair, "Get Team", {"Team": name})
    assert theirs["team"]["id"] == ours["team"]["id"] and theirs["members"] == []  # none in JSM


@pytest.mark.parametrize(
    "command, inputs",
    [
        ("Get Escalation", {"Escalation": "Database_escalation"}),
        ("List Escalations", {}),
        ("Fetch Event", {"Saved Search": "my search"}),
    ],
)
def test_what_jsm_has_no_equivalent_for_is_not_supported(integration_, pair, command, inputs):
    _, jsm = pair
    envelope = integration_.run(command, inputs, jsm.connection)
    assert envelope["return_data"] == "Failed"
    assert envelope["error"]["type"] == "not_supported" and envelope["error"]["status_code"] is None
    assert "platform: opsgenie" in envelope["error"]["hint"]


def test_enrich_and_picture_in_jsm_mode(integration_, pair):
    _, jsm = pair
    fetched = integration_.run(
        "Fetch Event",
        {"Start Time": "2024-03-01 00:00", "Enrich": True, "Number of Event(s) Fetched": 5},
        jsm.connection,
    )
    assert fetched["return_data"] == "Successful" and len(fetched["events"]) == 5
    assert any(
        r.path.endswith(tuple(e["Unique Event Key"] for e in fetched["events"]))
        for r in jsm.requests
    )
    timeline = integration_.run(
        "Get Schedule Timeline",
        {"Schedule Name": "Ops Team/EU #1", "Picture": "svg"},
        jsm.connection,
    )
    assert timeline["return_data"] == "Successful", timeline["error"]
