"""Fetch Event in JSM mode loses nothing and repeats nothing: property tests through
``Integration.run`` (and, where the test must move "now", ``commands.fetch_passes`` through the JSM
backend) against the sandbox in JSM mode over loopback.

Calling with the checkpoint until nothing comes back must yield every alert update in the window
exactly once (key: alert id and updatedAt) although JSM cannot sort by updatedAt: past the 20,000
offset cap, with hundreds of alerts sharing one createdAt and one updatedAt millisecond, while
alerts are updated, across a kill and resume (a fresh client from the saved checkpoint), with 429
and 5xx injected, and with late-indexed updates inside (and outside) the bounded re-read.
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsgenie_integration import Integration, errors
from opsgenie_integration.backends.jsm import JsmBackend, JsmClient
from opsgenie_integration.checkpoint import CheckpointError, PassCheckpoint, query_digest
from opsgenie_integration.commands.fetch_passes import (
    REREAD_MS,
    SETTLE_MS,
    FetchOutcome,
    fetch,
    start_checkpoint,
)
from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.times import parse_server_timestamp

BASE_MS = 1_700_000_000_000
HOUR = 3_600_000


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=0, seed=3, clock=BASE_MS + 48 * HOUR, platform="jsm") as sb:
        yield sb


def backend_for(sb: Sandbox, **kwargs) -> JsmBackend:
    conn = sb.connection
    client = JsmClient(
        email=conn["email"],
        api_token=conn["api_token"],
        site=conn["site"],
        api_url=conn["server_url"],
        max_retry_time=kwargs.pop("max_retry_time", 0),
        **kwargs,
    )
    return JsmBackend(client)


def window(
    backend: JsmBackend, checkpoint: PassCheckpoint, condition: str, limit: int, now: int
) -> FetchOutcome:
    """One Fetch Event call's window read through the seam's list_alerts."""

    def page(query: str, offset: int, size: int) -> dict:
        return backend.list_alerts(
            query=query, offset=offset, limit=size, sort="createdAt", order="asc"
        )

    return fetch(page, checkpoint, condition, limit, now)


def make_alerts(updated: list[int], created: list[int] | None = None, statuses=None) -> list[dict]:
    return [
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "tinyId": str(i + 1),
            "alias": f"alias-{i}",
            "message": f"alert {i}",
            "status": statuses[i] if statuses else "open",
            "createdAt": created[i] if created else ms - 1000,
            "updatedAt": ms,
        }
        for i, ms in enumerate(updated)
    ]


def fetch_all(
    backend: JsmBackend,
    checkpoint: PassCheckpoint,
    now_ms,
    *,
    limit=100,
    condition="",
    max_calls=5000,
    between=None,
    state=None,
):
    """Call until a call returns nothing and has_more is false. A retryable failure is retried
    with the same checkpoint. Returns ([(id, updatedAt)], calls)."""
    got: list[tuple[str, int]] = []
    state = {} if state is None else state
    cp = state.get("checkpoint", checkpoint)
    calls = failures = 0
    while calls < max_calls:
        calls += 1
        try:
            outcome = window(backend, cp, condition, limit, now_ms())
        except errors.OpsGenieIntegrationError as exc:
            assert exc.retryable, exc
            failures += 1
            assert failures < 300
            continue
        assert len(outcome.alerts) <= limit
        got.extend((a["id"], parse_server_timestamp(a["updatedAt"])) for a in outcome.alerts)
        cp = state["checkpoint"] = PassCheckpoint.decode(outcome.checkpoint.encode())  # as a string
        if between:
            between(calls)
        if not outcome.alerts and not outcome.has_more:
            return got, calls
    raise AssertionError("the fetch did not finish")


def run_all(connection, inputs, *, max_calls=5000, between=None, state=None, fresh_every=None):
    """Fetch Event through ``Integration.run`` with the checkpoint until it returns nothing; a
    Failed call (retryable) is retried with the same checkpoint. ``fresh_every``: a new
    Integration and connection (a killed and restarted process) every N calls."""
    got: list[tuple[str, int]] = []
    state = {} if state is None else state
    checkpoint = state.get("checkpoint")
    calls = failures = 0
    integration = Integration.load(entry_points=False)
    active = integration.connect(connection)
    try:
        while calls < max_calls:
            calls += 1
            if fresh_every and calls % fresh_every == 0:
                active.close()
                integration = Integration.load(entry_points=False)
                active = integration.connect(connection)
            call = dict(inputs, **({"Checkpoint": checkpoint} if checkpoint else {}))
            envelope = integration.run("Fetch Event", call, active)
            if envelope["return_data"] != "Successful":
                assert envelope["error"]["retryable"], envelope["error"]
                failures += 1
                assert failures < 300
                continue
            got.extend(
                (e["id"], parse_server_timestamp(e["updatedAt"])) for e in envelope["events"]
            )
            checkpoint = state["checkpoint"] = envelope["checkpoint"]
            assert checkpoint.startswith("cj1.")
            if between:
                between(calls)
            if not envelope["events"] and not envelope["has_more"]:
                return got, calls
    finally:
        active.close()
    raise AssertionError("the fetch did not finish")


def window_inputs(start, end, mapping, limit=100, query=None):
    inputs = {"Start Time": start, "End Time": end, "Number of Event(s) Fetched": limit,
              "Field Mapping File": mapping}  # fmt: skip
    if query:
        inputs["Search Condition"] = query
    return inputs


@pytest.fixture(scope="module")
def key_mapping(tmp_path_factory):
    path = tmp_path_factory.mktemp("mapping") / "keys.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n"
        "  - {field_name: id, source_field: .id}\n"
        "  - {field_name: updatedAt, source_field: .updatedAt}\n"
    )
    return str(path)


def assert_exact(got, expected: set[tuple[str, int]]):
    assert len(got) == len(set(got)), f"{len(got) - len(set(got))} duplicates"
    missing, extra = expected - set(got), set(got) - expected
    assert not missing and not extra, (len(missing), len(extra))


def check_cap(sb: Sandbox) -> None:
    for info in sb.requests:
        if info.path.endswith("/v1/alerts"):
            offset = int(info.query.get("offset", ["0"])[0])
            size = int(info.query.get("size", ["20"])[0])
            assert offset + size < 20_000, (offset, size)
            assert info.query["sort"] == ["createdAt"] and info.query["order"] == ["asc"]


def fixed(sb: Sandbox):
    return lambda: sb.clock.now_ms()


def test_more_than_20000_alerts_in_the_window(sandbox, key_mapping):
    rng = random.Random(11)
    updated = sorted(BASE_MS + rng.randrange(0, 10 * HOUR) for _ in range(25_000))
    created = [BASE_MS - rng.randrange(0, 40 * HOUR) for _ in updated]  # createdAt unrelated
    alerts = make_alerts(updated, created)
    sandbox.store.replace_alerts(alerts)
    sandbox.requests.clear()
    got, _ = run_all(sandbox.connection, window_inputs(BASE_MS, BASE_MS + 10 * HOUR, key_mapping))
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in alerts})
    check_cap(sandbox)
    lists = [r for r in sandbox.requests if r.path.endswith("/v1/alerts")]
    assert len(lists) <= 25_000 / 95 + 3
    assert max(int(r.query["offset"][0]) for r in lists) < 100


def test_hundreds_share_one_createdat_and_updatedat_across_pages(sandbox, key_mapping):
    tie = BASE_MS + HOUR
    for limit, size in ((100, 730), (37, 730), (1, 130)):
        updated = (
            [BASE_MS + i for i in range(150)] + [tie] * size + [tie + 1 + i for i in range(120)]
        )
        alerts = make_alerts(updated)
        sandbox.store.replace_alerts(alerts)
        sandbox.requests.clear()
        inputs = window_inputs(BASE_MS, BASE_MS + 2 * HOUR, key_mapping, limit)
        got, _ = run_all(sandbox.connection, inputs)
        assert_exact(got, {(a["id"], a["updatedAt"]) for a in alerts})
        check_cap(sandbox)


def test_one_createdat_many_updatedat(sandbox, key_mapping):
    """JSM-specific: the keyset walks createdAt; one createdAt millisecond spans the window."""
    updated = [BASE_MS + 7 * i for i in range(900)]
    alerts = make_alerts(updated, [BASE_MS - HOUR] * 900)
    sandbox.store.replace_alerts(alerts)
    got, _ = run_all(sandbox.connection, window_inputs(BASE_MS, BASE_MS + HOUR, key_mapping, 41))
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in alerts})


def test_search_condition_is_parenthesised_and_window_in_query(sandbox, key_mapping):
    updated = [BASE_MS + i * 1000 for i in range(400)]
    statuses = ["open" if i % 3 else "closed" for i in range(400)]
    alerts = make_alerts(updated, statuses=statuses)
    sandbox.store.replace_alerts(alerts)
    sandbox.requests.clear()
    condition = "status: closed OR tinyId: 2"
    inputs = window_inputs(BASE_MS, BASE_MS + HOUR, key_mapping, query=condition)
    got, _ = run_all(sandbox.connection, inputs)
    expected = {
        (a["id"], a["updatedAt"]) for a in alerts if int(a["tinyId"]) % 3 == 1 or a["tinyId"] == "2"
    }
    assert_exact(got, expected)
    first = next(r for r in sandbox.requests if r.path.endswith("/v1/alerts")).query["query"][0]
    assert first == f"({condition}) AND updatedAt >= {BASE_MS} AND updatedAt < {BASE_MS + HOUR}"


def test_kill_and_resume_from_the_saved_checkpoint(sandbox, key_mapping):
    """Every third call runs in a new Integration and connection (a restarted process) from the
    checkpoint string alone."""
    rng = random.Random(5)
    updated = (
        sorted(BASE_MS + rng.randrange(0, HOUR) for _ in range(2000)) + [BASE_MS + HOUR - 1] * 300
    )
    alerts = make_alerts(updated)
    sandbox.store.replace_alerts(alerts)
    inputs = window_inputs(BASE_MS, BASE_MS + HOUR, key_mapping, 23)
    got, calls = run_all(sandbox.connection, inputs, fresh_every=3)
    assert calls > 30
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in alerts})


def test_alerts_updated_while_fetching(key_mapping):
    """Real clock: updates land at 'now', inside a window that ends in the future."""
    with Sandbox(alerts=3000, seed=5, platform="jsm") as sb:
        start = sb.clock.now_ms() - 8 * 24 * HOUR
        end = sb.clock.now_ms() + HOUR
        before = {a["id"]: parse_server_timestamp(a["updatedAt"]) for a in sb.store.alerts}
        sb.churn(updates_per_request=4)

        def stop_churn(calls):
            if calls == 25:
                sb.churn(0)

        state: dict = {}
        inputs = window_inputs(start, end, key_mapping)
        got, _ = run_all(sb.connection, inputs, between=stop_churn, state=state)
        time.sleep(SETTLE_MS / 1000 + 0.3)  # the last updates are read once settled
        later, _ = run_all(sb.connection, inputs, state=state)
        got += later
        final = {(a["id"], parse_server_timestamp(a["updatedAt"])) for a in sb.store.alerts}
    got_set = set(got)
    assert len(got) == len(got_set), "duplicates"
    assert final <= got_set, f"{len(final - got_set)} final states missing"
    for alert_id, ms in got_set - final:  # earlier states of alerts updated later
        assert alert_id in before and ms <= max(m for i, m in final if i == alert_id)


def test_injected_429_and_5xx_never_lose_or_repeat(key_mapping):
    rng = random.Random(2)
    updated = sorted(BASE_MS + rng.randrange(0, HOUR) for _ in range(1500)) + [BASE_MS + HOUR] * 150
    alerts = make_alerts(updated)
    with Sandbox(alerts=0, seed=1, clock=BASE_MS + 3 * HOUR, platform="jsm") as sb:
        sb.store.replace_alerts(alerts)
        sb.faults.add("html_5xx", paths=f"{sb.jsm_prefix}/alerts", probability=0.25, status=502)
        sb.rate_limits.set("search", per_second=40, period_seconds=1)
        connection = {**sb.connection, "max_retry_time": 0.5}
        got, calls = run_all(connection, window_inputs(BASE_MS, BASE_MS + 2 * HOUR, key_mapping))
        lists = [r for r in sb.requests if r.path.endswith("/v1/alerts")]
        statuses = {r.status for r in lists}
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in alerts})
    assert len(lists) > calls and {429, 502} & statuses


def test_late_indexed_update_inside_the_reread_band_is_returned_once(sandbox):
    """An update that becomes searchable after its window was read: returned by the next pass when
    it lies within REREAD_MS of the previous pass's end; the band's other alerts are not repeated."""
    now = sandbox.clock.now_ms()
    updated = [now - 10 * 60_000 + 1000 * i for i in range(300)]  # the last 10 minutes
    alerts = make_alerts(updated)
    sandbox.store.replace_alerts(alerts)
    cp = start_checkpoint(now - HOUR, None, query_digest(""))
    state: dict = {}
    with backend_for(sandbox).client as client:
        backend = JsmBackend(client)
        got, _ = fetch_all(backend, cp, sandbox.clock.now_ms, state=state)
        assert_exact(
            got, {(a["id"], a["updatedAt"]) for a in alerts if a["updatedAt"] < now - SETTLE_MS}
        )
        sandbox.clock.advance(30_000)
        late_in = now - SETTLE_MS - REREAD_MS // 2  # read window passed it; within the band
        late_out = now - SETTLE_MS - 3 * REREAD_MS  # outside the band: the documented limit
        sandbox.store.add_alert(
            id="late-in", message="late", createdAt=late_in - 5, updatedAt=late_in
        )
        sandbox.store.add_alert(
            id="late-out", message="late", createdAt=late_out - 5, updatedAt=late_out
        )
        more, _ = fetch_all(backend, cp, sandbox.clock.now_ms, state=state)
    sandbox.clock.set(BASE_MS + 48 * HOUR)
    ids = [i for i, _ in more]
    assert ids.count("late-in") == 1 and "late-out" not in ids
    assert not set(more) & set(got)
    # the remaining alerts of the last 5 s are returned now, once
    assert {(a["id"], a["updatedAt"]) for a in alerts if a["updatedAt"] >= now - SETTLE_MS} <= set(
        more
    )


def test_checkpoint_of_the_other_platform_is_refused():
    with pytest.raises(CheckpointError, match="against OpsGenie"):
        PassCheckpoint.decode("ck1.eyJ0IjoxfQ")
    for bad in ("", "cj1.", "cj1.!!!", "cj1.eyJwIjoianNtIn0", 5):
        with pytest.raises(CheckpointError):
            PassCheckpoint.decode(bad)  # type: ignore[arg-type]
    cp = PassCheckpoint(1, 2, 1, {"a": 1}, None, "q", {"a": 1}, {"b": 2}, 0, 1, 5)
    assert PassCheckpoint.decode(cp.encode()) == cp


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    groups=st.lists(
        st.tuples(st.integers(0, 5000), st.integers(1, 260), st.integers(-3000, 0)),
        min_size=1,
        max_size=10,
    ),
    limit=st.sampled_from([13, 50, 99, 100]),
    window=st.tuples(st.integers(0, 2500), st.integers(2500, 6000)),
)
def test_random_alert_sets(sandbox, key_mapping, groups, limit, window):
    updated: list[int] = []
    created: list[int] = []
    for offset, size, created_shift in groups:
        updated.extend([BASE_MS + offset] * size)
        created.extend([BASE_MS + created_shift] * size)  # ties on both fields
    alerts = make_alerts(updated, created)
    sandbox.store.replace_alerts(alerts)
    sandbox.requests.clear()
    start, end = BASE_MS + window[0], BASE_MS + window[1]
    got, _ = run_all(sandbox.connection, window_inputs(start, end, key_mapping, limit))
    assert_exact(got, {(a["id"], a["updatedAt"]) for a in alerts if start <= a["updatedAt"] < end})
    check_cap(sandbox)


class FakeServer:
    """An in-memory alert list answering the pass queries. ``shuffle``: the order inside one
    createdAt millisecond changes between requests (JSM documents no tie order)."""

    def __init__(self, alerts: list[dict], shuffle: bool, seed: int = 0) -> None:
        self.alerts = alerts
        self.shuffle = shuffle
        self.rng = random.Random(seed)

    def page(self, query: str, offset: int, size: int) -> dict:
        import re

        lo = int(re.search(r"updatedAt >= (\d+)", query).group(1))
        hi = int(re.search(r"updatedAt < (\d+)", query).group(1))
        found = re.search(r"createdAt >= (\d+)", query)
        c = int(found.group(1)) if found else 0
        below = re.search(r"createdAt < (\d+)", query)
        c_top = int(below.group(1)) if below else 1 << 62
        rows = [
            (parse_server_timestamp(a["createdAt"]), i, a)
            for i, a in enumerate(self.alerts)
            if lo <= parse_server_timestamp(a["updatedAt"]) < hi
            and c <= parse_server_timestamp(a["createdAt"]) < c_top
        ]
        rows.sort(key=lambda r: (r[0], self.rng.random() if self.shuffle else r[1]))
        return {"data": [a for _, _, a in rows[offset : offset + size]], "count": len(rows)}


def drain(server: FakeServer, limit: int) -> tuple[list[str], int]:
    from opsgenie_integration.commands.fetch_passes import FetchMovingError

    cp = start_checkpoint(BASE_MS, BASE_MS + HOUR, query_digest(""))
    got: list[str] = []
    moving = 0
    for _ in range(500):
        try:
            outcome = fetch(server.page, cp, "", limit, BASE_MS + 2 * HOUR)
        except FetchMovingError as exc:
            assert exc.retryable
            moving += 1
            continue
        got += [a["id"] for a in outcome.alerts]
        cp = outcome.checkpoint
        if not outcome.alerts and not outcome.has_more:
            return got, moving
    raise AssertionError("did not finish")


def tie_alerts(n: int, same_update: bool = False) -> list[dict]:
    from opsgenie_integration.times import from_epoch_ms

    def iso_ms(ms: int) -> str:
        return from_epoch_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    created = iso_ms(BASE_MS - 5000)  # all n share one createdAt millisecond
    return [
        {
            "id": f"a{i}",
            "createdAt": created,
            "updatedAt": iso_ms(BASE_MS + (0 if same_update else i)),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("limit", [1, 37, 100])
def test_one_createdat_millisecond_is_read_exactly_in_any_order(limit, shuffle):
    """JSM documents no order among alerts created in one millisecond: they are read in windows
    of updatedAt narrow enough for one answer to hold them all, so the order does not matter."""
    alerts = tie_alerts(400)
    got, moving = drain(FakeServer(alerts, shuffle=shuffle, seed=limit), limit)
    assert sorted(got) == sorted(a["id"] for a in alerts) and moving == 0


@pytest.mark.parametrize("seed", range(3))
def test_reordered_cell_is_the_documented_limit(seed):
    """100 or more alerts sharing createdAt and updatedAt milliseconds are paged by offset, which
    needs JSM to list them in one order: stable, they are read exactly; reordered between
    requests, nothing is repeated and nothing foreign appears, but some can be missed."""
    alerts = tie_alerts(400, same_update=True)
    got, _ = drain(FakeServer(alerts, shuffle=False), 37)
    assert sorted(got) == sorted(a["id"] for a in alerts)
    got, _ = drain(FakeServer(alerts, shuffle=True, seed=seed), 37)
    assert len(got) == len(set(got)), "duplicates"
    assert set(got) <= {a["id"] for a in alerts}
