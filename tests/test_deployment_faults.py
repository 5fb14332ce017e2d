"""What real deployments hit (issue 11), each against the sandbox over loopback with the value
that is right: the rate-limit wait, team-scoped keys, a JSON ``null`` body, field mappings naming
fields the alert list lacks (and Enrich), saved searches, date formats, and the small faults a new
user found."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, REPO
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration
from opsgenie_integration.sandbox import Sandbox

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
CLOCK = "2024-03-06T12:00:00Z"
TEAM_KEY = "7ea40000-0000-4000-8000-0000000000d8"


@pytest.fixture(scope="module")
def integration_():
    return Integration.load(entry_points=False)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=300, seed=5, api_key=API_KEY, clock=CLOCK) as sb:
        sb.add_key(TEAM_KEY, ("read", "configuration"), team="Database")
        yield sb


@pytest.fixture
def sb(sandbox):
    sandbox.faults.clear()
    sandbox.rate_limits.clear()
    sandbox.requests.clear()
    yield sandbox
    sandbox.rate_limits.clear()


def run(integration, sb, command, inputs=None, **settings):
    connection = {**sb.connection, "max_retry_time": 0, **settings}
    envelope = integration.run(command, inputs or {}, connection)
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope


# -- 1. the rate-limit wait ------------------------------------------------------------------------
def test_rate_limit_wait_longer_than_the_budget_is_reported_with_its_reason(integration_, sb):
    # One 429 with X-RateLimit-Period-In-Sec: 30, X-RateLimit-Reason: ACCOUNT; Max Retry Time 5
    sb.rate_limits.set("configuration", per_minute=0.0001, period_seconds=30)
    envelope = run(integration_, sb, "Get Schedules", max_retry_time=5)
    assert len([r for r in sb.requests if r.path == "/v2/schedules"]) == 1  # no retry: right
    error = envelope["error"]
    assert error["type"] == "rate_limited" and error["retryable"] is True
    assert error["retry_after"] == 30 and error["rate_limit_reason"] == "ACCOUNT"
    assert "retries ran out" not in error["text"]
    assert (
        "No retry was made because 30 s exceeds the Max Retry Time (max_retry_time) of 5 s"
        in error["text"]
    )
    assert "(reason: ACCOUNT)" in error["text"]


def test_no_retry_when_retries_are_off_says_so(integration_, sb):
    sb.rate_limits.set("configuration", per_minute=0.0001, period_seconds=2)
    error = run(integration_, sb, "Get Schedules", max_retry_time=0)["error"]
    assert error["retry_after"] == 2
    assert "No retry was made (Max Retry Time is 0: retries are off)" in error["text"]
    sb.rate_limits.clear()
    sb.faults.add("html_5xx", paths="/v2/schedules", count=1, status=503)
    error = run(integration_, sb, "Get Schedules", max_retry_time=0)["error"]
    assert error["type"] == "server" and "retries ran out" not in error["text"]
    assert "no retry was made (Max Retry Time is 0" in error["text"]


# -- 2. team-scoped keys ---------------------------------------------------------------------------
def test_team_key_test_connection_probes_what_each_command_calls(integration_, sb):
    envelope = run(integration_, sb, "Test Connection", api_key=TEAM_KEY)
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert envelope["key_scope"] == "team" and envelope["account"] is None
    commands = envelope["commands"]
    for name in ("Get On-call User", "Get Schedules", "Get Schedule Timeline"):
        assert commands[name] == {
            "right": "Configuration access",
            "can_run": True,
            "probe": "GET /v2/schedules",
            "scope": "team",
        }
    assert commands["Fetch Event"]["scope"] == "team" and commands["Fetch Event"]["can_run"]
    assert commands["Get Single User"]["can_run"] is False
    assert "account-level" in commands["Get Single User"]["reason"]
    paths = [r.path for r in sb.requests]
    assert paths == ["/v2/account", "/v2/alerts", "/v2/schedules", "/v2/users"]
    # and the command it says can run does run
    on_call = run(
        integration_,
        sb,
        "Get On-call User",
        {"Schedule Name": "Database On Call"},
        api_key=TEAM_KEY,
    )
    assert on_call["return_data"] == "Successful"


def test_account_key_test_connection_is_unchanged_and_full(integration_, sb):
    envelope = run(integration_, sb, "Test Connection")
    assert envelope["return_data"] == "Successful" and envelope["key_scope"] == "account"
    assert envelope["account"]["name"] == "opsgenie-sandbox"
    assert all(  # can_run None: a write right, which Test Connection does not check
        c["can_run"] in (True, None) and "scope" not in c for c in envelope["commands"].values()
    )


def test_read_only_account_key_is_still_failed(integration_, sb):
    key = str(uuid.uuid4())
    sb.add_key(key, ("read",))
    envelope = run(integration_, sb, "Test Connection", api_key=key)
    assert envelope["return_data"] == "Failed" and envelope["key_scope"] == "account"
    assert "missing right: Configuration access" in envelope["error"]["message"]


# -- 3. a JSON null body ---------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"null", b"[]", b'"ok"', b"42"])
def test_null_body_is_json_that_is_not_an_object(integration, conn, body):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/schedules", content=body, headers={"Content-Type": "application/json"})
        envelope = integration.run("Get Schedules", {}, conn)
    error = envelope["error"]
    assert error["type"] == "bad_response"
    assert "JSON that is not an object" in error["message"] and "not JSON" not in error[
        "message"
    ].replace("JSON that is not", "")


# -- 4. field mappings and Enrich ------------------------------------------------------------------
def _mapping(tmp_path, *sources):
    lines = ["name: custom", "main_event_json_path: $.data", "fields:"]
    lines += [f"  - {{field_name: F{i}, source_field: '{s}'}}" for i, s in enumerate(sources)]
    path = tmp_path / "mapping.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_mapping_naming_a_field_the_list_lacks_is_refused_unless_enrich(integration_, sb, tmp_path):
    path = _mapping(tmp_path, ".id", ".details.host", "$.description")
    inputs = {
        "Field Mapping File": path,
        "Start Time": "2024-03-05T12:00:00Z",
        "Number of Event(s) Fetched": 5,
    }
    envelope = run(integration_, sb, "Fetch Event", inputs)
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "validation"
    message = envelope["error"]["message"]
    assert "'F1' (details)" in message and "'F2' (description)" in message and "Enrich" in message
    assert sb.requests == []  # refused before any request
    envelope = run(integration_, sb, "Fetch Event", {**inputs, "Enrich": True})
    assert envelope["return_data"] == "Successful", envelope["error"]
    events = envelope["events"]
    assert len(events) == 5 and all(e["F1"] and e["F2"] for e in events)
    singles = [
        r for r in sb.requests if r.path.startswith("/v2/alerts/") and r.path != "/v2/alerts/count"
    ]
    assert len(singles) == 5 and all(r.query["identifierType"] == ["id"] for r in singles)
    assert {e["F0"] for e in events} == {r.path.rsplit("/", 1)[1] for r in singles}


def test_mapping_of_list_fields_needs_no_enrich(integration_, sb, tmp_path):
    path = _mapping(tmp_path, ".id", ".report.ackTime", "$.teams[0].id", "$.unknownExtra")
    envelope = run(integration_, sb, "Fetch Event", {"Field Mapping File": path})
    assert envelope["return_data"] == "Failed"  # unknownExtra: never in a list answer
    path = _mapping(tmp_path, ".id", ".report.ackTime", "$.teams[0].id", "$..name")
    envelope = run(integration_, sb, "Fetch Event", {"Field Mapping File": path})
    assert envelope["return_data"] == "Successful", envelope["error"]


# -- 5. saved searches -----------------------------------------------------------------------------
def test_saved_search_is_combined_with_the_window_like_search_condition(integration_, sb):
    start, end = "2024-03-03T00:00:00Z", "2024-03-06T00:00:00Z"
    by_saved = run(integration_, sb, "Fetch Event", {"Saved Search": "Open P1 alerts", "Start Time": start,
                                                    "End Time": end, "Number of Event(s) Fetched": 100})  # fmt: skip
    assert by_saved["return_data"] == "Successful", by_saved["error"]
    first, second = sb.requests[0], sb.requests[1]
    assert first.path == "/v2/alerts/saved-searches/Open%20P1%20alerts"
    assert first.query == {"identifierType": ["name"]}
    query = second.query["query"][0]
    assert query.startswith("(status:open AND priority:P1) AND updatedAt >= ")
    by_condition = run(integration_, sb, "Fetch Event", {"Search Condition": "status:open AND priority:P1",
                                                        "Start Time": start, "End Time": end,
                                                        "Number of Event(s) Fetched": 100})  # fmt: skip
    assert by_saved["events"] == by_condition["events"] and by_saved["events"]
    # both: ANDed; by id; unknown
    saved_id = next(s["id"] for s in sb.store.saved_search_list() if s["name"] == "Open P1 alerts")
    sb.requests.clear()
    both = run(integration_, sb, "Fetch Event", {"Saved Search": saved_id, "Search Condition": "tag:prod",
                                                "Start Time": start, "End Time": end})  # fmt: skip
    assert sb.requests[0].query == {"identifierType": ["id"]}
    assert (
        sb.requests[1]
        .query["query"][0]
        .startswith("((status:open AND priority:P1) AND (tag:prod)) AND updatedAt")
    )
    assert both["return_data"] == "Successful"
    missing = run(integration_, sb, "Fetch Event", {"Saved Search": "No such search"})
    assert (
        missing["error"]["type"] == "validation"
        and "Saved Search (saved_search)" in missing["error"]["message"]
    )


def test_checkpoint_of_a_saved_search_is_refused_for_another_one(integration_, sb):
    first = run(
        integration_,
        sb,
        "Fetch Event",
        {"Saved Search": "Open P1 alerts", "Start Time": "2024-03-05T00:00:00Z"},
    )
    again = run(
        integration_,
        sb,
        "Fetch Event",
        {"Saved Search": "Database alerts", "Checkpoint": first["checkpoint"]},
    )
    assert again["return_data"] == "Failed" and "Saved Search" in again["error"]["message"]
    same = run(
        integration_,
        sb,
        "Fetch Event",
        {"Saved Search": "Open P1 alerts", "Checkpoint": first["checkpoint"]},
    )
    assert same["return_data"] == "Successful"


# -- date formats through a command ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("date_format", "time_zone", "typed", "sent"),
    [
        ("DD/MM/YYYY HH:mm", None, "03/04/2026 10:00", "2026-04-03T10:00:00+00:00"),
        ("MM/DD/YYYY HH:mm", None, "03/04/2026 10:00", "2026-03-04T10:00:00+00:00"),
        ("DD.MM.YYYY HH:mm", "Europe/Berlin", "03.04.2026 10:00", "2026-04-03T08:00:00+00:00"),
        (None, "Europe/Berlin", "2026-04-03 10:00", "2026-04-03T08:00:00+00:00"),
        ("DD/MM/YYYY HH:mm", "Europe/Berlin", "2026-04-03T10:00:00Z", "2026-04-03T10:00:00+00:00"),
        ("MM/DD/YYYY HH:mm", None, "1775210400000", "2026-04-03T10:00:00+00:00"),
    ],
)
def test_time_inputs_follow_the_date_format_and_time_zone(
    integration_, sb, date_format, time_zone, typed, sent
):
    settings = {k: v for k, v in (("date_format", date_format), ("time_zone", time_zone)) if v}
    envelope = run(
        integration_,
        sb,
        "Get On-call User",
        {"Schedule Name": "Platform Primary", "Datetime": typed},
        **settings,
    )
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert sb.requests[-1].query["date"] == [sent]


def test_ambiguous_date_without_a_format_is_refused_naming_the_setting(integration_, sb):
    envelope = run(
        integration_,
        sb,
        "Get On-call User",
        {"Schedule Name": "Platform Primary", "Datetime": "03/04/2026 10:00"},
    )
    error = envelope["error"]
    assert error["type"] == "validation" and "Datetime (date)" in error["message"]
    assert "ambiguous" in error["message"] and "date_format" in error["message"]
    assert sb.requests == []
    bad = run(integration_, sb, "Get Schedules", date_format="dd/mm/yyyy")
    assert bad["error"]["type"] == "configuration" and "date_format" in bad["error"]["message"]
    bad = run(integration_, sb, "Get Schedules", time_zone="Mars/Olympus")
    assert bad["error"]["type"] == "configuration" and "time_zone" in bad["error"]["message"]


# -- found by a new user ---------------------------------------------------------------------------
def test_timeout_zero_states_the_real_bound(integration_, sb):
    error = run(integration_, sb, "Get Schedules", timeout=0)["error"]
    assert "expected a number above 0 and at most 600, got 0" in error["message"]
    error = run(integration_, sb, "Get Schedules", max_retry_time=-1)["error"]
    assert "expected a number at least 0 and at most 3600, got -1" in error["message"]


def test_schedule_id_with_identifier_type_id(integration_, sb):
    schedule = next(s for s in sb.store.schedules if s["name"] == "Platform Primary")
    envelope = run(
        integration_,
        sb,
        "Get On-call User",
        {"Schedule Name": schedule["id"], "Schedule Identifier Type": "id"},
    )
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert sb.requests[-1].query["scheduleIdentifierType"] == ["id"]
    timeline = run(
        integration_,
        sb,
        "Get Schedule Timeline",
        {"Schedule Name": schedule["id"], "Schedule Identifier Type": "id"},
    )
    assert timeline["return_data"] == "Successful" and sb.requests[-1].query["identifierType"] == [
        "id"
    ]
    by_name = run(integration_, sb, "Get On-call User", {"Schedule Name": schedule["id"]})
    assert by_name["error"]["type"] == "not_found"
    assert (
        "set Schedule Identifier Type (schedule_identifier_type) to id" in by_name["error"]["text"]
    )
    bad = run(
        integration_,
        sb,
        "Get On-call User",
        {"Schedule Name": "x", "Schedule Identifier Type": "alias"},
    )
    assert "Schedule Identifier Type (schedule_identifier_type)" in bad["error"]["message"]


def test_unresolved_participant_from_two_escalation_rules_is_listed_once_with_both_rules(
    integration_, sb
):
    # Database On Call: its escalation names "Ops Team/EU #1" in two rules (default, then next)
    envelope = run(integration_, sb, "Get On-call User", {"Schedule Name": "Database On Call"})
    assert envelope["return_data"] == "Successful", envelope["error"]
    unresolved = envelope["unresolved_participants"]
    keys = [(u["type"], u["id"], tuple(u["path"])) for u in unresolved]
    assert len(keys) == len(set(keys))
    for entry in unresolved:
        assert entry["rules"] and all(
            set(r) == {"notifyType", "escalationTime"} for r in entry["rules"]
        )


def test_server_url_with_a_path_and_other_api_versions_are_refused(integration_, sb):
    error = run(integration_, sb, "Get Schedules", server_url=sb.url + "/v1")["error"]
    assert (
        error["type"] == "configuration"
        and "no path" in error["message"]
        and "/v1" in error["message"]
    )
    assert (
        run(integration_, sb, "Get Schedules", server_url=sb.url + "/v2/")["return_data"]
        == "Successful"
    )
    error = run(integration_, sb, "Get Schedules", api_version="v3")["error"]
    assert (
        error["type"] == "configuration"
        and "API Version (api_version)" in error["message"]
        and "v2" in error["message"]
    )


def test_unknown_command_suggests_the_closest(integration_, sb):
    for typed, meant in (
        ("Fetch Events", "Fetch Event"),
        ("get schedule", "Get Schedules"),
        ("Test Conection", "Test Connection"),
    ):
        error = run(integration_, sb, typed)["error"]
        assert f"Did you mean {meant!r}?" in error["message"], typed
    assert "Did you mean" not in run(integration_, sb, "Delete Everything")["error"]["message"]


def test_one_info_line_per_request_and_per_retry(integration_, sb, caplog):
    sb.faults.add("html_5xx", paths="/v2/schedules", count=1, status=502)
    with caplog.at_level(logging.INFO):
        envelope = run(integration_, sb, "Get Schedules", max_retry_time=5)
    assert envelope["return_data"] == "Successful"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("opsgenie_integration")]
    assert any(line.startswith("retry 1: GET /v2/schedules after HTTP 502") for line in lines), (
        lines
    )
    done = [line for line in lines if line.startswith("GET /v2/schedules -> 200 in ")]
    assert len(done) == 1 and done[0].endswith("(1 retry)")
    assert all(API_KEY not in line for line in lines)


def test_readme_states_the_body_limit_the_client_enforces():
    from opsgenie_integration.client import MAX_BODY_BYTES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"weigh at most {MAX_BODY_BYTES // 1_000_000} MB" in readme
    assert "32 MB" not in readme


def test_cli_unknown_command_suggests_the_closest_on_stderr():
    import io

    from opsgenie_integration.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "Fetch Events"], stdout=out, stderr=err) == 2
    assert "unknown command 'Fetch Events' (did you mean 'Fetch Event'?)" in err.getvalue()
    assert "Did you mean 'Fetch Event'?" in json.loads(out.getvalue())["error"]["message"]
