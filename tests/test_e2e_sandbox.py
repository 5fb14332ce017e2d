"""End to end over real loopback sockets: every command against the embedded sandbox, every error
of the core reproduced by it, and the faults of a real network, each a Failed envelope with a
sentence a person can act on, within a bounded time."""

from __future__ import annotations

import json
import socket
import time

import pytest
from conftest import API_KEY, REPO
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration
from opsgenie_integration.sandbox import Sandbox

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
READ_ONLY = "0a0b0c0d-1111-4222-8333-444444444444"
ALERT_READS = {"Get Alert", "List Alert Notes", "List Alert Logs", "List Alert Recipients",
               "Count Alerts", "Get Request Status"}  # fmt: skip
CONFIG_ONLY = "0a0b0c0d-5555-4666-8777-888888888888"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=400, seed=7, api_key=API_KEY, regions=("us", "eu")) as sb:
        sb.add_key(READ_ONLY, rights=("read",))
        sb.add_key(CONFIG_ONLY, rights=("configuration",))
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


def run(integration, sb, command, inputs=None, **settings):
    connection = {**sb.connection, "max_retry_time": 0, **settings}
    envelope = integration.run(command, inputs or {}, connection)
    ENVELOPE.validate(envelope)
    text = json.dumps(envelope)
    assert API_KEY not in text and READ_ONLY not in text and CONFIG_ONLY not in text
    return envelope


def last_request(sb, prefix):
    return [r for r in sb.requests if r.path.startswith(prefix)][-1]


# -- every command Successful --------------------------------------------------------------------


def test_fetch_event(integration_, sb):
    envelope = run(
        integration_,
        sb,
        "Fetch Event",
        {"Start Time": "8 days ago", "Number of Event(s) Fetched": 50},
    )
    assert envelope["return_data"] == "Successful" and len(envelope["events"]) == 50
    request = last_request(sb, "/v2/alerts")
    assert (
        request.query["sort"] == ["updatedAt"]
        and request.query["order"] == ["asc"]
        and request.query["limit"] == ["50"]
    )
    assert request.query["query"][0].startswith("updatedAt >= ")
    assert set(envelope["events"][0]) == {
        "Unique Event Key",
        "Original event ID",
        "Event name",
        "Status",
        "Message",
        "Aggregated / Correlated Event count",
        "Priority",
        "Start Time",
        "Acknowledged",
    }


def test_fetch_event_with_query(integration_, sb):
    envelope = run(
        integration_,
        sb,
        "Fetch Event",
        {
            "Start Time": "8 days ago",
            "limit": 100,
            "Search Condition": "status: open AND priority: (P1 OR P2)",
        },
    )
    assert envelope["return_data"] == "Successful" and envelope["events"]
    assert {e["Status"] for e in envelope["events"]} == {"open"}
    assert {e["Priority"] for e in envelope["events"]} <= {"P1", "P2"}


def test_fetch_event_malformed_query_is_a_clear_422(integration_, sb):
    envelope = run(integration_, sb, "Fetch Event", {"Search Condition": "status: open AND"})
    assert (
        envelope["error"]["status_code"] == 422 and "query" in envelope["error"]["message"].lower()
    )
    assert "query" in envelope["error"]["hint"]  # OpsGenie's errors map names the parameter


@pytest.mark.parametrize(
    "query", ["status: closed) OR (status: open", "status:(open", 'message: "unclosed', "a)"]
)
def test_fetch_event_query_cannot_escape_its_parentheses(integration_, sb, query):
    envelope = run(integration_, sb, "Fetch Event", {"Search Condition": query})
    assert envelope["error"]["type"] == "validation" and sb.requests == []
    assert envelope["error"]["message"].startswith(
        "Search Condition (query): expected an OpsGenie search query whose parentheses"
    )


def test_get_schedules(integration_, sb):
    envelope = run(integration_, sb, "Get Schedules")
    names = [s["name"] for s in envelope["schedules"]]
    assert "Ops Team/EU #1" in names and "Équipe Nuit" in names
    assert any("ownerTeam" not in s for s in envelope["schedules"])


@pytest.mark.parametrize("name", ["Ops Team/EU #1", "Équipe Nuit"])
def test_on_call_and_timeline_round_trip_odd_names(integration_, sb, name):
    envelope = run(
        integration_,
        sb,
        "Get On-call User",
        {"Schedule Name": name, "Datetime": "2024-03-01T08:00:00+02:00"},
    )
    assert envelope["return_data"] == "Successful" and envelope["schedule"]["name"] == name
    request = last_request(sb, "/v2/schedules/")
    assert request.query["scheduleIdentifierType"] == ["name"] and request.query["date"] == [
        "2024-03-01T06:00:00+00:00"
    ]
    assert all(u["name"] for u in envelope["on_call_users"])
    assert (
        not [p for p in envelope["unresolved_participants"] if p["type"] == "team"]
        or envelope.get("on_call_recipients") is not None
    )
    today = time.strftime("%Y-%m-%d", time.gmtime())
    timeline = run(
        integration_,
        sb,
        "Get Schedule Timeline",
        {
            "Schedule Name": name,
            "Interval": 2,
            "Interval Unit": "days",
            "Date": today,
            "Expand": "base,override",
        },
    )
    assert (
        timeline["return_data"] == "Successful" and timeline["timeline"]["_parent"]["name"] == name
    )
    request = last_request(sb, "/v2/schedules/")
    assert request.path.endswith("/timeline")
    assert request.query == {
        "identifierType": ["name"],
        "interval": ["2"],
        "intervalUnit": ["days"],
        "date": [f"{today}T00:00:00+00:00"],
        "expand": ["base,override"],
    }
    assert timeline["periods"] and all(p["startDate"] < p["endDate"] for p in timeline["periods"])


def test_on_call_users_are_people(integration_, sb):
    """Teams in the participant tree are resolved to people (through the flat answer)."""
    envelope = run(integration_, sb, "Get On-call User", {"Schedule Name": "Ops Team/EU #1"})
    usernames = {u["username"] for u in sb.store.users}
    assert envelope["on_call_users"] and all(
        u["name"] in usernames for u in envelope["on_call_users"]
    )


def test_empty_schedule_is_successful(integration_, sb):
    envelope = run(integration_, sb, "Get On-call User", {"Schedule Name": "Empty Schedule"})
    assert envelope["return_data"] == "Successful" and envelope["on_call_users"] == []


def test_get_single_user_round_trips_plus(integration_, sb):
    envelope = run(
        integration_, sb, "Get Single User", {"Username or ID": "user+oncall@example.com"}
    )
    assert envelope["user"]["username"] == "user+oncall@example.com"
    assert last_request(sb, "/v2/users/").path == "/v2/users/user%2Boncall%40example.com"
    by_id = run(integration_, sb, "Get Single User", {"user": envelope["user"]["id"]})
    assert by_id["user"]["username"] == "user+oncall@example.com"


def test_test_connection(integration_, sb):
    envelope = run(integration_, sb, "Test Connection")
    assert envelope["return_data"] == "Successful" and all(
        c["can_run"] or c["can_run"] is None  # None: a write right, not checked
        for c in envelope["commands"].values()
    )
    assert [r.path for r in sb.requests] == [
        "/v2/account",
        "/v2/alerts",
        "/v2/schedules",
        "/v2/users",
    ]


# -- the core's errors, reproduced by the sandbox --------------------------------------------------


def test_unknown_key(integration_, sb):
    envelope = run(
        integration_, sb, "Get Schedules", api_key="ffffffff-ffff-4fff-8fff-ffffffffffff"
    )
    assert envelope["error"]["text"].startswith(
        "Get Schedules failed. Status Code: 401. Message: Could not authenticate."
    )
    assert "EU" in envelope["error"]["hint"]


def test_malformed_key(integration_, sb):
    envelope = run(integration_, sb, "Test Connection", api_key="not-a-key")
    assert (
        envelope["error"]["status_code"] == 422
        and envelope["error"]["message"] == "Key format is not valid!"
    )
    assert "malformed" in envelope["error"]["text"]


def test_key_of_the_other_region(integration_, sb):
    envelope = run(integration_, sb, "Test Connection", server_url=sb.url_for("eu"))
    error = envelope["error"]
    assert (
        error["status_code"] == 401
        and "region" in error["hint"]
        and sb.url_for("eu") in error["hint"]
    )
    assert error["failure_indicator"] == "Test Connection failed. Failed to check the connector."


@pytest.mark.parametrize(
    "key, can, cannot",
    [
        (
            READ_ONLY,
            {"Fetch Event"},
            {
                "Get On-call User",
                "Get Schedules",
                "Get Schedule Timeline",
                "Get Single User",
                "Get Next On-call User",
                "Get On-call Users Across Schedules",
                "Is User On Call",
                "Get Team",
                "List Teams",
                "Get Escalation",
                "List Escalations",
            },
        ),
        (
            CONFIG_ONLY,
            {
                "Get On-call User",
                "Get Schedules",
                "Get Schedule Timeline",
                "Get Single User",
                "Get Next On-call User",
                "Get On-call Users Across Schedules",
                "Is User On Call",
                "Get Team",
                "List Teams",
                "Get Escalation",
                "List Escalations",
            },
            {"Fetch Event"},
        ),
    ],
)
def test_missing_rights(integration_, sb, key, can, cannot):
    envelope = run(integration_, sb, "Test Connection", api_key=key)
    assert envelope["return_data"] == "Failed" and envelope["error"]["code"] == 40301
    assert {n for n, c in envelope["commands"].items() if c["can_run"]} >= can
    assert {n for n, c in envelope["commands"].items() if c["can_run"] is False} == cannot | (
        ALERT_READS if "Fetch Event" in cannot else set()
    )
    for name in cannot:
        assert name in envelope["error"]["message"]
    command = sorted(cannot)[0]
    inputs = {
        "Get On-call User": {"Schedule Name": "Équipe Nuit"},
        "Get Schedule Timeline": {"Schedule Name": "Équipe Nuit"},
        "Get Single User": {"user": "user+oncall@example.com"},
        "Get Escalation": {"Escalation": "Database_escalation"},
        "Get Next On-call User": {"Schedule": "Équipe Nuit"},
        "Get Team": {"Team": "ops_team"},
        "Is User On Call": {"user": "user+oncall@example.com"},
    }.get(command, {})
    failed = run(integration_, sb, command, inputs, api_key=key)
    assert (
        failed["error"]["status_code"] == 403
        and failed["error"]["code"] == 40301
        and failed["error"]["type"] == "forbidden"
    )


def test_rights_switched_at_run_time(integration_, sb):
    key = "0a0b0c0d-9999-4aaa-8bbb-cccccccccccc"
    sb.add_key(key, rights=("read", "configuration"))
    assert run(integration_, sb, "Test Connection", api_key=key)["return_data"] == "Successful"
    sb.set_rights(key, ("read",))
    assert (
        "Get Schedules" in run(integration_, sb, "Test Connection", api_key=key)["error"]["message"]
    )


@pytest.mark.parametrize(
    "command, inputs, words",
    [
        ("Get On-call User", {"Schedule Name": "No Such Schedule"}, "No Such Schedule"),
        (
            "Get Schedule Timeline",
            {"Schedule Name": "ops team/eu #1"},
            "ops team/eu #1",
        ),  # names are exact
        ("Get Single User", {"user": "nobody@example.com"}, "nobody@example.com"),
    ],
)
def test_not_found(integration_, sb, command, inputs, words):
    error = run(integration_, sb, command, inputs)["error"]
    assert (
        error["status_code"] == 404 and error["type"] == "not_found" and words in error["message"]
    )


# -- faults over real sockets: each within a stated bound ----------------------------------------


def timed(integration, sb, command, inputs=None, **settings):
    started = time.monotonic()
    envelope = run(integration, sb, command, inputs, **settings)
    return envelope, time.monotonic() - started


def test_throttled_every_request_gives_up_within_the_retry_budget(integration_, sb):
    sb.rate_limits.set("configuration", per_second=0.001, period_seconds=1)
    sb.rate_limits.set("search", per_second=0.001, period_seconds=1)
    run(integration_, sb, "Get Schedules")  # spends the bucket's only token
    sb.requests.clear()
    envelope, seconds = timed(integration_, sb, "Get Schedules", max_retry_time=2.5)
    error = envelope["error"]
    assert error["status_code"] == 429 and error["type"] == "rate_limited" and error["retryable"]
    assert (
        2 <= len(sb.requests) <= 4
    )  # retried, honouring X-RateLimit-Period-In-Sec (1 s), then stopped
    assert seconds < 4.0


def test_throttling_that_clears_is_retried_transparently(integration_, sb):
    sb.rate_limits.set("configuration", per_second=2, period_seconds=1)
    envelopes = [
        run(integration_, sb, "Get Schedules", max_retry_time=10)["return_data"] for _ in range(6)
    ]
    assert envelopes == ["Successful"] * 6
    assert any(r.status == 429 for r in sb.requests)


def test_html_502_then_success_is_retried(integration_, sb):
    sb.faults.add("html_5xx", count=2, status=502)
    envelope, seconds = timed(integration_, sb, "Get Schedules", max_retry_time=10)
    assert envelope["return_data"] == "Successful" and len(sb.requests) == 3 and seconds < 5


@pytest.mark.parametrize("status", [502, 503, 504])
def test_html_5xx_when_retries_run_out(integration_, sb, status):
    sb.faults.add("html_5xx", status=status)
    envelope, seconds = timed(integration_, sb, "Get Schedules", max_retry_time=1)
    error = envelope["error"]
    assert (
        error["status_code"] == status
        and "HTML page" in error["message"]
        and error["type"] == "server"
    )
    assert seconds < 3


def test_4xx_is_never_retried(integration_, sb):
    run(integration_, sb, "Get Single User", {"user": "nobody@example.com"}, max_retry_time=10)
    assert len(sb.requests) == 1


def test_refused_connection(integration_, sb):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    envelope, seconds = timed(
        integration_, sb, "Get Schedules", server_url=f"http://127.0.0.1:{port}", max_retry_time=2
    )
    error = envelope["error"]
    assert (
        error["type"] == "transport"
        and error["status_code"] is None
        and "Could not connect" in error["message"]
    )
    assert "Server URL" in error["hint"] and seconds < 4


def test_read_timeout(integration_, sb):
    sb.faults.add("latency", seconds=3)
    envelope, seconds = timed(integration_, sb, "Get Schedules", timeout=0.5, max_retry_time=0)
    assert (
        envelope["error"]["type"] == "timeout"
        and "within the timeout" in envelope["error"]["message"]
    )
    assert seconds < 2


@pytest.mark.parametrize(
    "kind, error_type, words",
    [
        ("reset", "transport", "connect"),
        ("truncate", "bad_response", "not JSON"),  # half a JSON body, Content-Length matching
        ("html_200", "bad_response", "not JSON"),
        ("empty_200", "bad_response", "empty body"),
        ("plain_404", "not_found", "HTTP 404"),
    ],
)
def test_broken_answers(integration_, sb, kind, error_type, words):
    sb.faults.add(kind)
    envelope, seconds = timed(integration_, sb, "Get Schedules", max_retry_time=1)
    error = envelope["error"]
    assert error["type"] == error_type and words in error["message"], error
    assert seconds < 3


def test_optional_inputs_are_sent_and_left_out_ones_are_not(integration_, sb):
    run(integration_, sb, "Get Schedule Timeline", {"Schedule Name": "Équipe Nuit"})
    assert last_request(sb, "/v2/schedules/").query == {"identifierType": ["name"]}
    run(
        integration_,
        sb,
        "Get Schedule Timeline",
        {"Schedule Name": "Équipe Nuit", "Interval Unit": "months"},
    )
    assert last_request(sb, "/v2/schedules/").query == {
        "identifierType": ["name"],
        "intervalUnit": ["months"],
    }
