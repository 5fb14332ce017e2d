"""Fetch Event against requests-mock: the exact query, the window's boundaries, the checkpoint it
returns, and every way it refuses or fails (the checkpoint never moves on a failure)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests_mock as rm
from conftest import BASE, load_fixture

from opsgenie_integration.checkpoint import MAX_SEEN_IDS, Checkpoint, query_digest
from opsgenie_integration.commands import alerts
from opsgenie_integration.commands.fetch_window import SETTLE_MS, iso

from .command_helpers import check_envelope, sent

NOW = datetime(2024, 3, 2, 12, 0, 0, tzinfo=timezone.utc)
NOW_MS = 1709380800000
DAY_MS = 86_400_000
A1, A2, A3 = (f"a1f0c2d4-1111-4a5b-9c8d-00000000000{i}" for i in (1, 2, 3))
T12 = 1709280000001  # 2024-03-01T08:00:00.001Z: the first two alerts of alerts_page.json
T3 = 1709280090500  # 2024-03-01T08:01:30.500Z: the third


@pytest.fixture
def key_mapping(tmp_path):
    """A field mapping giving each alert's id and updatedAt only."""
    path = tmp_path / "keys.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n"
        "  - {field_name: id, source_field: .id}\n"
        "  - {field_name: updatedAt, source_field: .updatedAt}\n"
    )
    return str(path)


@pytest.fixture
def frozen_now(monkeypatch):
    """Fetch Event's clock stopped at NOW (2024-03-02T12:00:00Z)."""
    monkeypatch.setattr(alerts, "utc_now", lambda: NOW)
    return NOW_MS


def test_fetch_event_first_call_sends_the_window_in_the_query(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(
            integration.run(
                "Fetch Event",
                {
                    "Start Time": "2024-03-01 00:00",
                    "End Time": "2024-03-02T00:00:00+01:00",
                    "Number of Event(s) Fetched": 3,
                    "Search Condition": "status: open OR priority: P9",
                },
                conn,
            )
        )
    path, query, _ = sent(m)
    assert path == "/v2/alerts" and len(m.request_history) == 1
    assert query == {
        "query": "(status: open OR priority: P9) AND updatedAt >= 1709251200000 "
        "AND updatedAt < 1709334000000",
        "offset": "0",
        "limit": "3",
        "sort": "updatedAt",
        "order": "asc",
    }
    events = envelope["events"]
    assert [e["Unique Event Key"] for e in events] == [A1, A2, A3]
    assert events[0] == {
        "Unique Event Key": A1,
        "Original event ID": "4021",
        "Event name": "disk-full-db01",
        "Status": "open",
        "Message": "Disk usage above 95% on db01",
        "Aggregated / Correlated Event count": 3,
        "Priority": "P2",
        "Start Time": "2024-03-01T07:50:00Z",
        "Acknowledged": False,
    }
    assert events[1]["Priority"] == "P9"  # unknown priority passed through
    assert envelope["has_more"] is True  # a full page came back
    assert envelope["window"] == {
        "start": "2024-03-01T00:00:00.000Z",
        "end": "2024-03-01T23:00:00.000Z",
    }
    assert envelope["raw_data"]["data"][1]["report"]["ackTime"] == 4294967296123  # > 32 bits
    # the checkpoint: the last updatedAt, the one alert seen there, the End Time, the query
    assert Checkpoint.decode(envelope["checkpoint"]) == Checkpoint(
        T3, frozenset({A3}), 1709334000000, query_digest("status: open OR priority: P9")
    )


def test_fetch_event_continues_from_checkpoint_skipping_the_alerts_already_returned(
    integration, conn
):
    # Given a first call that returned the two alerts sharing 08:00:00.001 (then a third one)
    page = load_fixture("alerts_page.json")
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={**page, "data": page["data"][:2]})
        first = integration.run(
            "Fetch Event", {"Start Time": "2024-03-01", "End Time": "2024-03-02", "limit": 2}, conn
        )
        assert Checkpoint.decode(first["checkpoint"]) == Checkpoint(
            T12, frozenset({A1, A2}), 1709337600000, query_digest("")
        )
        assert first["has_more"] is True
        # When the next call gives the checkpoint back
        m.get(f"{BASE}/v2/alerts", json=page)
        second = check_envelope(
            integration.run("Fetch Event", {"Checkpoint": first["checkpoint"], "limit": 2}, conn)
        )
    # Then it asks from the last updatedAt on, and skips the two alerts already returned
    _, query, _ = sent(m)
    assert query["query"] == "updatedAt >= 1709280000001 AND updatedAt < 1709337600000"
    assert query["limit"] == "4" and query["offset"] == "0"
    assert [e["Original event ID"] for e in second["events"]] == ["4023"]
    assert second["has_more"] is False  # 3 alerts for a page of 4
    assert Checkpoint.decode(second["checkpoint"]) == Checkpoint(
        T3, frozenset({A3}), 1709337600000, query_digest("")
    )


def test_fetch_event_default_window_is_24_hours_to_5_seconds_ago(integration, conn, frozen_now):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "requestId": "r"})
        envelope = check_envelope(integration.run("Fetch Event", {}, conn))
    _, query, _ = sent(m)
    start, end = frozen_now - DAY_MS, frozen_now - SETTLE_MS
    assert SETTLE_MS == 5000
    assert query["query"] == f"updatedAt >= {start} AND updatedAt < {end}"
    assert query["limit"] == "20"  # the manifest's default
    assert envelope["window"] == {
        "start": "2024-03-01T12:00:00.000Z",
        "end": "2024-03-02T11:59:55.000Z",
    }
    assert envelope["events"] == [] and envelope["has_more"] is False
    # nothing new: the checkpoint holds the start, no ids, and no fixed end
    assert Checkpoint.decode(envelope["checkpoint"]) == Checkpoint(
        start, frozenset(), None, query_digest("")
    )


def test_fetch_event_never_reads_past_5_seconds_ago_but_keeps_a_future_end(
    integration, conn, frozen_now
):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "requestId": "r"})
        envelope = integration.run(
            "Fetch Event", {"Start Time": "2024-03-02T11:00:00Z", "End Time": "2024-03-03"}, conn
        )
    assert (
        sent(m)[1]["query"]
        == f"updatedAt >= {frozen_now - 3_600_000} AND updatedAt < {frozen_now - 5000}"
    )
    assert envelope["window"]["end"] == "2024-03-02T11:59:55.000Z"
    assert Checkpoint.decode(envelope["checkpoint"]).end == 1709424000000  # 2024-03-03, for later


@pytest.mark.parametrize("start_ms_before_now", [5000, 4999, 0])
def test_fetch_event_with_an_empty_window_sends_nothing(
    integration, conn, frozen_now, start_ms_before_now
):
    start = frozen_now - start_ms_before_now
    with rm.Mocker() as m:
        envelope = check_envelope(integration.run("Fetch Event", {"Start Time": start}, conn))
        assert m.request_history == []
    assert envelope["return_data"] == "Successful" and envelope["raw_data"] is None
    assert envelope["events"] == [] and envelope["has_more"] is False
    assert Checkpoint.decode(envelope["checkpoint"]) == Checkpoint(
        start, frozenset(), None, query_digest("")
    )


def test_fetch_event_window_of_one_millisecond_is_read(integration, conn, frozen_now):
    start = frozen_now - 5001
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "requestId": "r"})
        integration.run("Fetch Event", {"Start Time": start}, conn)
    assert sent(m)[1]["query"] == f"updatedAt >= {start} AND updatedAt < {start + 1}"


def test_fetch_event_failure_keeps_checkpoint_out(integration, conn):
    with rm.Mocker() as m:
        m.get(
            f"{BASE}/v2/alerts",
            status_code=429,
            json=load_fixture("error_429.json"),
            headers={"X-RateLimit-State": "THROTTLED", "X-RateLimit-Period-In-Sec": "7"},
        )
        envelope = check_envelope(
            integration.run("Fetch Event", {"Start Time": "2024-03-01"}, conn)
        )
    assert envelope["return_data"] == "Failed" and "checkpoint" not in envelope
    assert "events" not in envelope
    assert envelope["error"]["type"] == "rate_limited" and envelope["error"]["retryable"] is True
    assert envelope["error"]["status_code"] == 429


def test_fetch_event_refused_search_condition_names_the_refused_field(integration, conn):
    body = {
        "message": "Request body is not processable. Please check the errors.",
        "errors": {"query": "Invalid query: unbalanced parentheses"},
        "took": 0.0,
        "requestId": "r-422",
    }
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", status_code=422, json=body)
        envelope = check_envelope(
            integration.run(
                "Fetch Event", {"Start Time": "2024-03-01", "Search Condition": "x"}, conn
            )
        )
    error = envelope["error"]
    assert (error["type"], error["status_code"], error["retryable"]) == (
        "unprocessable",
        422,
        False,
    )
    assert error["message"] == body["message"] and error["request_id"] == "r-422"
    assert error["errors"] == body["errors"]
    assert error["hint"] == "OpsGenie refused the value of: query."
    assert "checkpoint" not in envelope


def test_fetch_event_checkpoint_of_another_query_is_refused(integration, conn):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        first = integration.run(
            "Fetch Event", {"Start Time": "2024-03-01", "Search Condition": "status: open"}, conn
        )
        second = check_envelope(
            integration.run(
                "Fetch Event",
                {"Checkpoint": first["checkpoint"], "Search Condition": "status: closed"},
                conn,
            )
        )
        assert len(m.request_history) == 1  # nothing was sent for the refused call
    assert second["return_data"] == "Failed" and second["error"]["type"] == "validation"
    assert second["error"]["message"] == (
        "Checkpoint (checkpoint): was made for another Search Condition; give the same Search "
        "Condition, or start again without a Checkpoint"
    )
    assert second["error"]["errors"] == {"Checkpoint": second["error"]["message"]}


def test_fetch_event_checkpoint_that_does_not_decode_is_refused_naming_the_input(integration, conn):
    with rm.Mocker() as m:
        envelope = check_envelope(integration.run("Fetch Event", {"Checkpoint": "ck1.nope"}, conn))
        assert m.request_history == []
    assert envelope["error"]["type"] == "validation"
    assert envelope["error"]["message"].startswith("Checkpoint (checkpoint): ")
    assert list(envelope["error"]["errors"]) == ["Checkpoint"]


def test_fetch_event_start_after_end_is_refused(integration, conn):
    envelope = check_envelope(
        integration.run("Fetch Event", {"Start Time": "2024-03-02", "End Time": "2024-03-01"}, conn)
    )
    assert (
        envelope["error"]["message"]
        == "Start Time (start_time): must be before End Time (end_time)"
    )


def test_fetch_event_start_equal_to_end_is_refused(integration, conn):
    envelope = integration.run(
        "Fetch Event", {"Start Time": "2024-03-01", "End Time": "2024-03-01T00:00:00Z"}, conn
    )
    assert (
        envelope["error"]["message"]
        == "Start Time (start_time): must be before End Time (end_time)"
    )


@pytest.mark.parametrize(
    "end_before_default_start_ms, refused", [(0, True), (1, True), (-1, False)]
)
def test_fetch_event_end_before_the_default_start_asks_for_a_start_time(
    integration, conn, frozen_now, end_before_default_start_ms, refused
):
    end = frozen_now - DAY_MS - end_before_default_start_ms
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "requestId": "r"})
        envelope = integration.run("Fetch Event", {"End Time": end}, conn)
    if refused:
        assert m.request_history == []
        assert envelope["error"]["message"] == (
            "End Time (end_time): is before the default Start Time (24 hours before the call); "
            "give a Start Time too"
        )
    else:
        assert envelope["return_data"] == "Successful"
        assert sent(m)[1]["query"] == f"updatedAt >= {frozen_now - DAY_MS} AND updatedAt < {end}"


def test_fetch_event_with_own_field_mapping(integration, conn, tmp_path):
    mapping = tmp_path / "mine.yaml"
    mapping.write_text(
        "main_event_json_path: $.data\n"
        "fields:\n"
        "  - {field_name: Key, source_field: .id}\n"
        "  - {field_name: Ack time, source_field: $.report.ackTime}\n"
        "  - {field_name: Responder types, source_field: '$.responders[*].type'}\n"
        "  - {field_name: First tag, source_field: '$.tags[0]'}\n"
    )
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=load_fixture("alerts_page.json"))
        envelope = check_envelope(
            integration.run(
                "Fetch Event",
                {
                    "Start Time": "2024-03-01",
                    "End Time": "2024-03-02",
                    "Field Mapping File": str(mapping),
                },
                conn,
            )
        )
    assert envelope["events"][0] == {
        "Key": A1,
        "Ack time": None,
        "Responder types": ["team", "schedule"],
        "First tag": "disk",
    }
    assert envelope["events"][1]["Ack time"] == 4294967296123
    assert envelope["events"][1]["Responder types"] == "escalation"


def test_fetch_event_bad_field_mapping_names_the_input(integration, conn, tmp_path):
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(
        "main_event_json_path: $.data\nfields:\n  - {field_name: X, source_field: '$..[?'}\n"
        "  - {name: Y}\n"
    )
    with rm.Mocker() as m:
        envelope = check_envelope(
            integration.run("Fetch Event", {"Field Mapping File": str(mapping)}, conn)
        )
        assert m.request_history == []  # refused before anything is sent
    assert envelope["return_data"] == "Failed"
    assert "Field Mapping File" in envelope["error"]["message"]
    assert "fields[1]" in envelope["error"]["message"]


@pytest.mark.parametrize(
    "data, words",
    [
        ({"a": 1}, "without a list of alerts in data"),
        ([{"updatedAt": "2024-03-01T08:00:00Z"}], "with an alert that has no id"),
        ([{"id": 5, "updatedAt": "2024-03-01T08:00:00Z"}], "with an alert that has no id"),
        (
            [{"id": "a", "updatedAt": "soon"}],
            "with an alert whose updatedAt is not a timestamp ('soon')",
        ),
        ([{"id": "a"}], "with an alert whose updatedAt is not a timestamp ('None')"),
    ],
)
def test_fetch_event_alert_list_of_the_wrong_shape_is_a_bad_response(
    integration, conn, data, words
):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": data, "requestId": "r-9"})
        envelope = check_envelope(
            integration.run("Fetch Event", {"Start Time": "2024-03-01"}, conn)
        )
    error = envelope["error"]
    assert (error["type"], error["status_code"], error["retryable"]) == ("bad_response", 200, False)
    assert error["message"] == f"OpsGenie answered GET /v2/alerts {words}."
    assert "checkpoint" not in envelope


def _tie(n: int, prefix: str = "s") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


def _alerts_at(ms: int, ids: list[str]) -> list[dict]:
    return [{"id": alert_id, "updatedAt": iso(ms)} for alert_id in ids]


def test_fetch_event_rereads_a_group_that_moved_from_offset_0(integration, conn, key_mapping):
    # Given a checkpoint inside a group of 60 alerts sharing one millisecond
    seen = _tie(60)
    checkpoint = Checkpoint(T12, frozenset(seen), T12 + 1000, query_digest("")).encode()
    moved = {"data": _alerts_at(T12, ["new0", *seen]), "requestId": "r1"}  # not a seen alert first
    again = {"data": _alerts_at(T12, [*seen, "new0", "new1"]), "requestId": "r2"}
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", response_list=[{"json": moved}, {"json": again}])
        envelope = check_envelope(
            integration.run(
                "Fetch Event", {"Checkpoint": checkpoint, "Field Mapping File": key_mapping}, conn
            )
        )
    # Then the call started 50 seen alerts before the first unseen one, found the group moved,
    # and read it again from offset 0
    assert [(sent(m, i)[1]["offset"], sent(m, i)[1]["limit"]) for i in range(2)] == [
        ("10", "70"),
        ("0", "80"),
    ]
    assert [e["id"] for e in envelope["events"]] == ["new0", "new1"]
    assert envelope["has_more"] is False and envelope["raw_data"] == [moved, again]
    assert Checkpoint.decode(envelope["checkpoint"]).seen_ids == frozenset([*seen, "new0", "new1"])


def test_fetch_event_refuses_to_grow_a_group_past_the_offset_cap(integration, conn, key_mapping):
    seen = _tie(MAX_SEEN_IDS)
    checkpoint = Checkpoint(T12, frozenset(seen), T12 + 1000, query_digest("")).encode()
    page = {"data": _alerts_at(T12, [*seen[-50:], "one-too-many"]), "requestId": "r"}
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json=page)
        envelope = check_envelope(
            integration.run(
                "Fetch Event", {"Checkpoint": checkpoint, "Field Mapping File": key_mapping}, conn
            )
        )
    assert sent(m)[1]["offset"] == str(MAX_SEEN_IDS - 50)
    error = envelope["error"]
    assert (error["type"], error["retryable"]) == ("fetch_window", False)
    assert error["message"] == (
        f"More than {MAX_SEEN_IDS} alerts share updatedAt 2024-03-01T08:00:00.001Z; OpsGenie "
        "cannot page through them (offset + limit cap of 20000)."
    )
    assert "checkpoint" not in envelope
