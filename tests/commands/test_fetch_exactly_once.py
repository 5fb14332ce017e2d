"""Fetch Event loses nothing: property tests against the sandbox over loopback.

Calling Fetch Event with the checkpoint until nothing comes back must yield every alert update in
the window exactly once (key: alert id and updatedAt): past the 20,000 offset cap, with hundreds
of alerts sharing one millisecond across page boundaries, while alerts are being updated, and
with 429 and 5xx injected (a failure never moves the checkpoint; the same call is retried).
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsgenie_integration import Integration
from opsgenie_integration.commands.fetch_window import SETTLE_MS
from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.times import parse_server_timestamp

BASE_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=0, seed=3, clock=BASE_MS + 48 * HOUR) as sb:
        yield sb


@pytest.fixture(scope="module")
def key_mapping(tmp_path_factory):
    path = tmp_path_factory.mktemp("mapping") / "keys.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n"
        "  - {field_name: id, source_field: .id}\n"
        "  - {field_name: updatedAt, source_field: .updatedAt}\n"
    )
    return str(path)


def make_alerts(updated: list[int], *, statuses=None) -> list[dict]:
    alerts = []
    for index, ms in enumerate(updated):
        alerts.append(
            {
                "id": f"00000000-0000-4000-8000-{index:012d}",
                "tinyId": str(index + 1),
                "alias": f"alias-{index}",
                "message": f"alert {index}",
                "status": (statuses[index] if statuses else "open"),
                "createdAt": ms - 1000,
                "updatedAt": ms,
            }
        )
    return alerts


def fetch_all(
    integration, connection, inputs, *, max_calls=5000, between=None, state=None
) -> tuple[list[tuple[str, int]], int]:
    """Call Fetch Event with the checkpoint until it returns nothing. Returns the (id, updatedAt ms)
    in order and the number of calls; a Failed call is retried with the same checkpoint.
    ``state``: a dict holding the checkpoint to start from (``"checkpoint"``) and receiving the last one."""
    got: list[tuple[str, int]] = []
    state = {} if state is None else state
    checkpoint = state.get("checkpoint")
    calls = failures = 0
    while calls < max_calls:
        calls += 1
        call = dict(inputs)
        if checkpoint:
            call["Checkpoint"] = checkpoint
        envelope = integration.run("Fetch Event", call, connection)
        if envelope["return_data"] != "Successful":
            assert envelope["error"]["retryable"], envelope["error"]
            failures += 1
            assert failures < 200
            continue
        if checkpoint is not None and not envelope["events"]:
            assert envelope["checkpoint"] == checkpoint or envelope["has_more"]
        got.extend((e["id"], parse_server_timestamp(e["updatedAt"])) for e in envelope["events"])
        checkpoint = state["checkpoint"] = envelope["checkpoint"]
        if between:
            between(calls)
        if not envelope["events"] and not envelope["has_more"]:
            return got, calls
    raise AssertionError("the fetch did not finish")


def assert_exact(got, expected: set[tuple[str, int]]):
    assert len(got) == len(set(got)), "duplicates"
    missing = expected - set(got)
    extra = set(got) - expected
    assert not missing and not extra, (len(missing), len(extra))
    assert [ms for _, ms in got] == sorted(ms for _, ms in got), (
        "events must come oldest update first"
    )


def window_inputs(start, end, mapping, limit=100, query=None):
    inputs = {
        "Start Time": start,
        "End Time": end,
        "Number of Event(s) Fetched": limit,
        "Field Mapping File": mapping,
    }
    if query:
        inputs["Search Condition"] = query
    return inputs


def check_cap(sandbox):
    for info in sandbox.requests:
        if info.path.startswith("/v2/alerts"):
            offset = int(info.query.get("offset", ["0"])[0])
            limit = int(info.query.get("limit", ["20"])[0])
            assert offset + limit <= 20000, (offset, limit)


def test_more_than_20000_alerts_in_the_window(sandbox, key_mapping):
    rng = random.Random(11)
    updated = sorted(BASE_MS + rng.randrange(0, 10 * HOUR) for _ in range(25_000))
    sandbox.store.replace_alerts(make_alerts(updated))
    sandbox.requests.clear()
    integration = Integration.load(entry_points=False)
    with integration.connect(sandbox.connection) as connection:
        got, calls = fetch_all(
            integration, connection, window_inputs(BASE_MS, BASE_MS + 10 * HOUR, key_mapping)
        )
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)})
    check_cap(sandbox)
    alert_requests = [r for r in sandbox.requests if r.path.startswith("/v2/alerts")]
    assert len(alert_requests) <= 25_000 / 95 + 2  # close to one request per 100 alerts
    assert max(int(r.query["offset"][0]) for r in alert_requests) < 100


def test_hundreds_share_one_millisecond_across_pages(sandbox, key_mapping):
    tie = BASE_MS + HOUR
    integration = Integration.load(entry_points=False)
    for limit, size in ((100, 730), (37, 730), (1, 130)):
        updated = (
            [BASE_MS + i for i in range(150)] + [tie] * size + [tie + 1 + i for i in range(120)]
        )
        sandbox.store.replace_alerts(make_alerts(updated))
        sandbox.requests.clear()
        with integration.connect(sandbox.connection) as connection:
            got, _ = fetch_all(
                integration,
                connection,
                window_inputs(BASE_MS, BASE_MS + 2 * HOUR, key_mapping, limit),
            )
        assert_exact(got, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)})
        check_cap(sandbox)


def test_alerts_updated_while_fetching(key_mapping):
    """Real clock: updates land at 'now', inside a window that ends in the future."""
    with Sandbox(alerts=3000, seed=5) as sb:
        integration = Integration.load(entry_points=False)
        start = sb.clock.now_ms() - 8 * 24 * HOUR
        end = sb.clock.now_ms() + HOUR
        before = {a["id"]: parse_server_timestamp(a["updatedAt"]) for a in sb.store.alerts}
        sb.churn(updates_per_request=4)

        def stop_churn(calls):
            if calls == 25:
                sb.churn(0)

        state: dict = {}
        with integration.connect(sb.connection) as connection:
            got, _ = fetch_all(
                integration,
                connection,
                window_inputs(start, end, key_mapping),
                between=stop_churn,
                state=state,
            )
            # the window never reaches past "now - 5 s" (updates still landing): the last ones come later
            time.sleep(SETTLE_MS / 1000 + 0.3)
            later, _ = fetch_all(
                integration, connection, window_inputs(start, end, key_mapping), state=state
            )
            got += later
        final = {(a["id"], parse_server_timestamp(a["updatedAt"])) for a in sb.store.alerts}
    got_set = set(got)
    assert len(got) == len(got_set), "duplicates"
    assert final <= got_set, f"{len(final - got_set)} final states missing"
    for alert_id, ms in got_set - final:  # earlier states of alerts updated later
        assert alert_id in before and ms <= max(m for i, m in final if i == alert_id)
    assert len(got_set) > len(final)  # some alerts were seen before and after an update


def test_injected_429_and_5xx_never_lose_or_repeat(key_mapping):
    rng = random.Random(2)
    updated = sorted(BASE_MS + rng.randrange(0, HOUR) for _ in range(1500)) + [BASE_MS + HOUR] * 150
    with Sandbox(alerts=0, seed=1, clock=BASE_MS + 3 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        sb.faults.add("html_5xx", paths="/v2/alerts", probability=0.25, status=502)
        sb.rate_limits.set("search", per_second=40, period_seconds=1)
        integration = Integration.load(entry_points=False)
        settings_ = {**sb.connection, "max_retry_time": 0.5}
        with integration.connect(settings_) as connection:
            got, calls = fetch_all(
                integration, connection, window_inputs(BASE_MS, BASE_MS + 2 * HOUR, key_mapping)
            )
        statuses = [r for r in sb.requests if r.path.startswith("/v2/alerts")]
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)})
    assert len(statuses) > calls  # the faults were met and retried


def test_search_condition_is_kept_and_parenthesised(sandbox, key_mapping):
    updated = [BASE_MS + i * 1000 for i in range(400)]
    statuses = ["open" if i % 3 else "closed" for i in range(400)]
    sandbox.store.replace_alerts(make_alerts(updated, statuses=statuses))
    sandbox.requests.clear()
    integration = Integration.load(entry_points=False)
    with integration.connect(sandbox.connection) as connection:
        got, _ = fetch_all(
            integration,
            connection,
            window_inputs(
                BASE_MS, BASE_MS + HOUR, key_mapping, query="status: closed OR tinyId: 2"
            ),
        )
    expected = {
        (a["id"], a["updatedAt"])
        for a in make_alerts(updated)
        if int(a["tinyId"]) % 3 == 1 or a["tinyId"] == "2"
    }
    assert_exact(got, expected)
    first = sandbox.requests[0].query["query"][0]
    assert (
        first
        == f"(status: closed OR tinyId: 2) AND updatedAt >= {BASE_MS} AND updatedAt < {BASE_MS + HOUR}"
    )


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    groups=st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 260)), min_size=1, max_size=10),
    limit=st.sampled_from([13, 50, 99, 100]),
    window=st.tuples(st.integers(0, 2500), st.integers(2500, 6000)),
)
def test_random_alert_sets(sandbox, key_mapping, groups, limit, window):
    updated: list[int] = []
    for offset, size in groups:
        updated.extend([BASE_MS + offset] * size)  # size alerts sharing one millisecond
    sandbox.store.replace_alerts(make_alerts(updated))
    sandbox.requests.clear()
    start, end = BASE_MS + window[0], BASE_MS + window[1]
    integration = Integration.load(entry_points=False)
    with integration.connect(sandbox.connection) as connection:
        got, _ = fetch_all(integration, connection, window_inputs(start, end, key_mapping, limit))
    assert_exact(
        got,
        {(a["id"], a["updatedAt"]) for a in make_alerts(updated) if start <= a["updatedAt"] < end},
    )
    check_cap(sandbox)
