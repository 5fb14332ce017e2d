"""Concurrent backfill: worker threads over the slices, exact with 1, 4 and 16 workers.

The exactness properties of Fetch Event (every alert update in the window exactly once, key: alert
id and updatedAt) must survive slicing: ties on one millisecond at slice edges, more than 20,000
alerts in one slice, alerts updated during the run, 429 and 5xx faults, a stop and resume.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from opsgenie_integration import Integration
from opsgenie_integration.backfill import BackfillResult, run_backfill
from opsgenie_integration.checkpoint import Checkpoint, query_digest
from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.slices import Slice, SliceBoard, is_slice_state, plan
from opsgenie_integration.times import parse_server_timestamp

BASE_MS = 1_700_000_000_000
HOUR = 3_600_000
WORKERS = [1, 4, 16]


def make_alerts(updated: list[int]) -> list[dict]:
    return [
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "tinyId": str(index + 1),
            "alias": f"alias-{index}",
            "message": f"alert {index}",
            "status": "open",
            "createdAt": ms - 1000,
            "updatedAt": ms,
        }
        for index, ms in enumerate(updated)
    ]


@pytest.fixture(scope="module")
def key_mapping(tmp_path_factory):
    path = tmp_path_factory.mktemp("mapping") / "keys.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n"
        "  - {field_name: id, source_field: .id}\n"
        "  - {field_name: updatedAt, source_field: .updatedAt}\n"
    )
    return str(path)


class Collector:
    """What a backfill wrote: the events in order and every state saved."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.states: list[str] = []

    def emit(self, events: list, state: str) -> None:
        self.events.extend((e["id"], parse_server_timestamp(e["updatedAt"])) for e in events)
        self.states.append(state)


def backfill(sandbox, mapping, start, end, workers, *, board=None, stop=None, query=None, **kw):
    integration = Integration.load(entry_points=False)
    base = {"limit": 100, "field_mapping": mapping}
    if query:
        base["query"] = query
    board = board or SliceBoard.new(start, end, query_digest(query), None, workers)
    out = Collector()
    with integration.connect({**sandbox.connection, **kw.pop("settings", {})}) as connection:

        def fetch_page(inputs):
            return integration.run("Fetch Event", {**base, **inputs}, connection)

        result = run_backfill(
            board, workers, fetch_page, out.emit, stop=stop or (lambda: False), **kw
        )
    return result, out, board


def assert_exact(got, expected):
    assert len(got) == len(set(got)), "duplicates"
    missing, extra = expected - set(got), set(got) - expected
    assert not missing and not extra, (len(missing), len(extra))


def assert_ordered_per_slice(got, edges):
    """Oldest update first inside each slice (across slices, pages interleave)."""
    for low, high in zip(edges, edges[1:]):
        inside = [ms for _, ms in got if low <= ms < high]
        assert inside == sorted(inside)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=0, seed=3, clock=BASE_MS + 48 * HOUR) as sb:
        yield sb


@pytest.mark.parametrize("workers", WORKERS)
def test_ties_on_one_millisecond_at_slice_edges(sandbox, key_mapping, workers):
    start, end = BASE_MS, BASE_MS + HOUR
    edges = [s.start for s in plan(start, end, workers * 2)] + [end]
    updated: list[int] = []
    for edge in edges[1:-1]:  # 130 alerts on each inner edge, 70 one millisecond before it
        updated += [edge] * 130 + [edge - 1] * 70
    rng = random.Random(workers)
    updated += [start + rng.randrange(0, HOUR) for _ in range(1500)]
    updated += [start] * 120 + [end] * 50  # the window's own edges (end excluded)
    updated.sort()
    sandbox.store.replace_alerts(make_alerts(updated))
    result, out, board = backfill(sandbox, key_mapping, start, end, workers)
    assert result.status == "done" and board.finished
    expected = {(a["id"], a["updatedAt"]) for a in make_alerts(updated) if a["updatedAt"] < end}
    assert_exact(out.events, expected)
    if board.splits == 0:  # splits cut finer slices than the planned edges
        assert_ordered_per_slice(out.events, edges)
    assert out.states[-1] == board.tail_checkpoint()
    assert all(is_slice_state(s) for s in out.states[:-1])


@pytest.mark.parametrize("workers", WORKERS)
def test_more_than_20000_alerts_in_one_slice(sandbox, key_mapping, workers):
    start, end = BASE_MS, BASE_MS + 10 * HOUR
    rng = random.Random(5)
    crowded = [start + HOUR + rng.randrange(0, 60_000) for _ in range(21_000)]  # one minute
    spread = [start + rng.randrange(0, 10 * HOUR) for _ in range(1000)]
    updated = sorted(crowded + spread)
    sandbox.store.replace_alerts(make_alerts(updated))
    sandbox.requests.clear()
    result, out, _ = backfill(sandbox, key_mapping, start, end, workers)
    assert result.status == "done"
    assert_exact(out.events, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)})
    offsets = [
        int(r.query.get("offset", ["0"])[0]) + int(r.query.get("limit", ["20"])[0])
        for r in sandbox.requests
        if r.path == "/v2/alerts"
    ]
    assert max(offsets) <= 200  # keyset paging: never deep offsets
    assert len(offsets) <= len(updated) / 95 + 2 * workers * 2 + 30


@pytest.mark.parametrize("workers", WORKERS)
def test_429_and_5xx_never_lose_or_repeat(key_mapping, workers):
    rng = random.Random(2)
    updated = sorted(BASE_MS + rng.randrange(0, HOUR) for _ in range(1500))
    updated += [BASE_MS + HOUR // 2] * 150
    with Sandbox(alerts=0, seed=1, clock=BASE_MS + 3 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        sb.faults.add("html_5xx", paths="/v2/alerts", probability=0.2, status=502)
        sb.rate_limits.set("search", per_second=40, period_seconds=1)
        retries: list = []
        result, out, _ = backfill(
            sb,
            key_mapping,
            BASE_MS,
            BASE_MS + 2 * HOUR,
            workers,
            settings={"max_retry_time": 0.3},
            on_retry=lambda error, wait, attempt: retries.append(error["type"]),
        )
        codes = [r.status for r in sb.requests if r.path == "/v2/alerts"]
    assert result.status == "done", result.error
    assert_exact(out.events, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)})
    assert 502 in codes


@pytest.mark.parametrize("workers", WORKERS)
def test_updates_during_the_run_are_read_by_the_tail(key_mapping, workers):
    """Real clock: alerts updated during the backfill move to "now", past the backfill window;
    the single cursor that follows the backfill reads them (earlier states may be read too)."""
    with Sandbox(alerts=2500, seed=5) as sb:
        now = sb.clock.now_ms()
        start, end = now - 8 * 24 * HOUR, now - 5000
        before = {(a["id"], parse_server_timestamp(a["updatedAt"])) for a in sb.store.alerts}
        sb.churn(updates_per_request=3)
        result, out, board = backfill(sb, key_mapping, start, end, workers)
        sb.churn(0)
        assert result.status == "done"
        time.sleep(5.3)
        integration = Integration.load(entry_points=False)
        checkpoint = out.states[-1]
        tail: list[tuple[str, int]] = []
        with integration.connect(sb.connection) as connection:
            for _ in range(200):
                envelope = integration.run(
                    "Fetch Event",
                    {"limit": 100, "field_mapping": key_mapping, "checkpoint": checkpoint},
                    connection,
                )
                assert envelope["return_data"] == "Successful", envelope["error"]
                tail += [
                    (e["id"], parse_server_timestamp(e["updatedAt"])) for e in envelope["events"]
                ]
                checkpoint = envelope["checkpoint"]
                if not envelope["events"] and not envelope["has_more"]:
                    break
        final = {(a["id"], parse_server_timestamp(a["updatedAt"])) for a in sb.store.alerts}
    got = out.events + tail
    assert len(got) == len(set(got)), "duplicates"
    assert final <= set(got), f"{len(final - set(got))} final states missing"
    assert set(got) - final <= before  # the rest are earlier states, read before their update
    assert all(ms < end for _, ms in out.events) and all(ms >= end for _, ms in tail)


@pytest.mark.parametrize("workers", [8])
def test_stop_and_resume_every_slice_where_it_stopped(sandbox, key_mapping, workers):
    rng = random.Random(8)
    start, end = BASE_MS, BASE_MS + 6 * HOUR
    updated = sorted(start + rng.randrange(0, 6 * HOUR) for _ in range(6000))
    updated += [start + 3 * HOUR] * 400
    sandbox.store.replace_alerts(make_alerts(updated))
    expected = {(a["id"], a["updatedAt"]) for a in make_alerts(updated)}
    got: list[tuple[str, int]] = []
    state = None
    runs = 0
    while True:
        runs += 1
        assert runs < 20
        pages = {"n": 0}
        board = (
            SliceBoard.decode(state, query_digest(None))
            if state and is_slice_state(state)
            else None
        )
        if state and board is None:
            break  # the tail checkpoint: the backfill is complete
        limit = 9  # stop after about 9 pages each run

        def counted(_events, pages=pages):
            pages["n"] += 1

        result, out, board = backfill(
            sandbox,
            key_mapping,
            start,
            end,
            workers,
            board=board,
            stop=lambda pages=pages, limit=limit: pages["n"] >= limit,
            on_page=counted,
        )
        got += out.events
        if out.states:
            state = out.states[-1]
        if result.status == "done":
            break
        assert result.status == "stopped"
    assert runs > 3
    assert_exact(got, expected)
    assert Checkpoint.decode(state).updated_at == end


def test_max_events_stops_after_whole_pages(sandbox, key_mapping):
    updated = sorted(BASE_MS + i * 1000 for i in range(1000))
    sandbox.store.replace_alerts(make_alerts(updated))
    result, out, board = backfill(sandbox, key_mapping, BASE_MS, BASE_MS + HOUR, 4, max_events=250)
    assert result.status == "stopped" and 250 <= result.events <= 250 + 4 * 100
    assert len(out.events) == result.events == len(set(out.events))
    assert not board.finished


# -- failures, with a fake Fetch Event ---------------------------------------------------------


def fake_board(n: int = 4) -> SliceBoard:
    return SliceBoard(
        BASE_MS,
        BASE_MS + n * HOUR,
        query_digest(None),
        None,
        [Slice(BASE_MS + i * HOUR, BASE_MS + (i + 1) * HOUR) for i in range(n)],
    )


def page(inputs, events=1, more=False):
    start = int(inputs.get("start_time") or 0)
    ck = Checkpoint(start or BASE_MS, frozenset(), int(inputs["end_time"]), query_digest(None))
    return {
        "return_data": "Successful",
        "events": [{"id": str(i)} for i in range(events)],
        "checkpoint": ck.encode(),
        "has_more": more,
    }


def failed(kind="server", retryable=True, **extra):
    return {"return_data": "Failed", "error": {"type": kind, "retryable": retryable, **extra}}


def test_retryable_failures_wait_and_ask_the_same_page_again():
    calls: list[dict] = []
    waits: list[float] = []
    answers = [failed(retry_after=3), failed()]

    def fetch(inputs):
        calls.append(inputs)
        return answers.pop(0) if answers else page(inputs)

    out = Collector()
    result = run_backfill(
        fake_board(1),
        1,
        fetch,
        lambda events, state: out.states.append(state),
        on_retry=lambda error, wait, attempt: waits.append(wait),
        sleep=lambda s: None,
    )
    assert isinstance(result, BackfillResult) and result.status == "done"
    assert calls[0] == calls[1] == calls[2] and waits == [3.0, 4.0]
    assert result.failures == 2 and result.pages == 1


def test_a_failure_that_is_not_retryable_stops_every_worker():
    lock = threading.Lock()
    seen = {"n": 0}

    def fetch(inputs):
        with lock:
            seen["n"] += 1
            first = seen["n"] == 1
        if first:
            return failed("auth", retryable=False, text="Fetch Event failed. Status Code: 401.")
        time.sleep(0.05)
        return page(inputs, more=True)

    result = run_backfill(fake_board(8), 4, fetch, lambda e, s: None)
    assert result.status == "failed" and result.error["type"] == "auth"


def test_retries_run_out():
    result = run_backfill(
        fake_board(1), 1, lambda inputs: failed(), lambda e, s: None, sleep=lambda s: None
    )
    assert result.status == "failed" and result.failures == 5


def test_an_emit_failure_is_raised():
    def emit(events, state):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_backfill(fake_board(4), 2, lambda inputs: page(inputs), emit)
