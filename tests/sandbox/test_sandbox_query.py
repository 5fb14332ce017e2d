"""The alert query language: a table of queries with known matches, malformed queries (422),
the parser on its own, and the indexed search checked against brute force (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsgenie_integration.sandbox.alerts import ALERT_FIELDS, SORT_KEYS
from opsgenie_integration.sandbox.clock import SandboxClock
from opsgenie_integration.sandbox.query import (
    And,
    Not,
    Or,
    QueryError,
    Term,
    compile_query,
    parse,
    plan_alert_query,
)
from opsgenie_integration.sandbox.seed import seed_data
from opsgenie_integration.sandbox.store import SandboxStore

from .sandbox_helpers import CLOCK_MS, T_OPS

H = 3_600_000
BASE = CLOCK_MS - 10 * H  # createdAt of alert-i = BASE + i h (see small_dataset)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


QUERIES = [
    ("", set(range(8))),
    ("status:open", {0, 1, 3, 5, 6, 7}),
    ("status : closed", {2, 4}),
    ("STATUS:Open", {0, 1, 3, 5, 6, 7}),
    ("acknowledged:true", {1, 2}),
    ("isSeen:false", {0, 3, 4, 5, 6, 7}),
    ("snoozed:false", set(range(8))),
    ("priority:P1", {0, 7}),
    ("priority:(P1 OR P2)", {0, 1, 7}),
    ("priority:P9", {6}),
    ("tag:prod", {0, 1, 5}),
    ("tags:prod AND tags:web", {5}),
    ('tags:"tag with spaces"', {3}),
    ("tags:data*", {0}),
    ("message:disk", {0, 5}),
    ('message:"disk full"', {0}),
    ("message:cpu*", {1, 2}),
    ("message:danger", {7}),
    ("count > 5", {2, 5, 7}),
    ("count>=5", {1, 2, 5, 7}),
    ("count < 2", {0, 4}),
    ("count <= 2", {0, 3, 4}),
    ("count:40", {5}),
    ("owner:anna@example.com", {1}),
    ("owner:*", {1, 2}),
    ("source:prometheus AND NOT acknowledged:false", {1, 2}),
    ("NOT status:open", {2, 4}),
    ("not status:open or priority:P1", {0, 2, 4, 7}),
    ("status:open AND (priority:P1 OR tags:backup)", {0, 3, 7}),
    ("status:open priority:P1", {0, 7}),
    ("status != closed", {0, 1, 3, 5, 6, 7}),
    ("priority:(P1 OR P3) AND NOT status:closed", {0, 5, 7}),
    (f"createdAt >= {BASE + 5 * H}", {5, 6, 7}),
    (f"createdAt < {BASE + H}", {0}),
    (f'createdAt > "{_iso(BASE + 6 * H)}"', {7}),
    (f'createdAt >= "{_iso(BASE + 6 * H)[:-1]}+01:00"', {5, 6, 7}),
    (f"updatedAt >= {BASE + 3 * H} AND updatedAt < {BASE + 6 * H}", {2, 3}),
    (f"(status:open) AND updatedAt >= {BASE + 3 * H} AND updatedAt < {BASE + 7 * H}", {3, 5}),
    (f"updatedAt:{BASE + 6 * H}", {4, 5}),
    (f"updatedAt >= {BASE + 6 * H} OR count > 70", {4, 5, 6, 7}),
    (f"lastOccurredAt >= {BASE + 7 * H}", {7}),
    ("alias:alias-3", {3}),
    ("alias:alias-*", set(range(8))),
    ("tinyId:104", {3}),
    ("tinyId > 106", {6, 7}),
    ("entity:host-2", {2}),
    ("description:description", set(range(8))),
    ("integration.name:API", set(range(8))),
    ("integration.type:CloudWatch", set()),
    ("teams:ops", {0, 2, 4, 6}),
    (f"teams:{T_OPS}", {0, 2, 4, 6}),
    ("id:alert-5", {5}),
    ("danger", {7}),
    ("nagios", {0, 5}),
    ('"almost full"', {5}),
    ("backup", {3}),
    ("isSeen:true AND count > 10", {2}),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q or "<empty>" for q, _ in QUERIES])
def test_query_table(small_api, query, expected):
    r = small_api.get("/v2/alerts", params={"query": query, "limit": 100})
    assert r.status_code == 200, r.text
    assert {a["id"] for a in r.json()["data"]} == {f"alert-{i}" for i in expected}
    count = small_api.get("/v2/alerts/count", params={"query": query}).json()["data"]["count"]
    assert count == len(expected)


MALFORMED = [
    "status:(open",
    "(status:open",
    "status:open AND",
    "status:open )",
    'message:"unterminated',
    "count > abc",
    "count > 1.5",
    "acknowledged:maybe",
    "unknownfield:x",
    'createdAt > "2024-13-45T00:00:00Z"',
    "message > a",
    "OR status:open",
]


@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_query_answers_422(small_api, query):
    for path in ("/v2/alerts", "/v2/alerts/count"):
        r = small_api.get(path, params={"query": query})
        assert r.status_code == 422, (query, r.text)
        body = r.json()
        assert body["message"].startswith("Invalid query") and "query" in body["errors"]
        assert set(body) == {"message", "errors", "took", "requestId"}


def test_parser_builds_the_expected_tree():
    assert parse("a:1 b:2 OR NOT c:3") == Or(
        (
            And((Term("a", ":", "1", False), Term("b", ":", "2", False))),
            Not(Term("c", ":", "3", False)),
        )
    )
    assert parse("tags:(x OR y)") == Or(
        (Term("tags", ":", "x", False), Term("tags", ":", "y", False))
    )
    assert parse('message:"a \\"b\\""') == Term("message", ":", 'a "b"', True)
    assert parse("android") == Term(None, ":", "android", False)  # 'and' inside a word is a word
    with pytest.raises(QueryError):
        parse("a:(b")


def test_plan_pulls_time_ranges_out_of_the_top_level_and():
    plan = plan_alert_query(
        "(status:open) AND updatedAt >= 100 AND updatedAt < 200 AND createdAt > 5"
    )
    assert plan.ranges == {"updatedAt": (100, 200), "createdAt": (6, None)}
    assert plan.residual == (Term("status", ":", "open", False),)
    assert plan_alert_query("updatedAt >= 5 AND updatedAt < 5").empty
    nested = plan_alert_query("status:open OR updatedAt > 5")  # not a top-level AND: no range
    assert nested.ranges == {} and len(nested.residual) == 1


# ------------------------------------------------------------------ indexed search vs brute force
_STORE: dict[str, SandboxStore] = {}


def _store() -> SandboxStore:
    if "s" not in _STORE:
        _STORE["s"] = SandboxStore(SandboxClock(CLOCK_MS), seed_data(400, 3, CLOCK_MS))
    return _STORE["s"]


def _brute(store: SandboxStore, query: str, sort: str, order: str) -> list[str]:
    predicate = compile_query(query, ALERT_FIELDS)
    matches = [a for a in store.alert_objects() if predicate(a)]
    key = SORT_KEYS[sort]
    present = sorted((a for a in matches if key(a) is not None), key=lambda a: (key(a), a.seq))
    missing = sorted((a for a in matches if key(a) is None), key=lambda a: a.seq)
    if order == "desc":
        present.reverse()
        missing.reverse()
    return [a.id for a in present + missing]


WEEK = 7 * 24 * H
_times = st.integers(CLOCK_MS - WEEK - H, CLOCK_MS + H)
_atoms = st.one_of(
    st.sampled_from(
        [
            "status:open",
            "status:closed",
            "acknowledged:true",
            "priority:P1",
            "tags:prod",
            "count > 3",
        ]
    ),
    st.builds(lambda op, t: f"updatedAt {op} {t}", st.sampled_from([">", ">=", "<", "<="]), _times),
    st.builds(lambda op, t: f"createdAt {op} {t}", st.sampled_from([">", ">=", "<", "<="]), _times),
)
_clauses = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
        st.builds(lambda a: f"NOT ({a})", inner),
    ),
    max_leaves=3,
)
_queries = st.lists(_clauses, min_size=0, max_size=4).map(" AND ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=_queries,
    sort=st.sampled_from(["createdAt", "updatedAt", "count", "tinyId", "report.ackTime"]),
    order=st.sampled_from(["asc", "desc"]),
    offset=st.integers(0, 60),
    limit=st.integers(1, 100),
    updates=st.lists(st.tuples(st.integers(0, 399), _times, st.booleans()), max_size=3),
)
def test_indexed_search_equals_brute_force(query, sort, order, offset, limit, updates):
    store = _store()
    alerts = store.alert_objects()
    for index, updated_at, closed in updates:  # views must follow changes
        store.update_alert(
            alerts[index].id, updated_at=updated_at, status="closed" if closed else "open"
        )
    expected = _brute(store, query, sort, order)
    page, total = store.search(query, sort, order, offset, limit)
    assert total == len(expected) == store.count(query)
    assert [a["id"] for a in page] == expected[offset : offset + limit]
