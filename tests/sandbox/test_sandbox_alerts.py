"""GET /v2/alerts, /v2/alerts/count and /v2/alerts/{identifier} over loopback HTTP."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from .sandbox_helpers import CLOCK_MS, small_dataset

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def _ms(iso: str) -> int:
    from datetime import datetime, timezone

    head, _, frac = iso[:-1].partition(".")
    dt = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1000 + int((frac + "000")[:3])


def test_list_envelope_headers_and_defaults(api, sandbox):
    # Given the seeded sandbox; When the alert list is asked with no parameter
    r = api.get("/v2/alerts")
    # Then the real envelope and headers come back: 20 alerts, newest createdAt first
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"data", "paging", "took", "requestId"}
    assert isinstance(body["took"], float)
    assert UUID_RE.match(body["requestId"]) and r.headers["X-Request-ID"] == body["requestId"]
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert len(body["data"]) == 20
    created = [_ms(a["createdAt"]) for a in body["data"]]
    assert created == sorted(created, reverse=True)
    for alert in body["data"]:
        assert ISO_RE.match(alert["createdAt"]) and ISO_RE.match(alert["updatedAt"])
        assert isinstance(alert["tinyId"], str) and isinstance(alert["count"], int)
        assert alert["owner"] == "" or "@" in alert["owner"]
    # And the request that went out is recorded without its key
    info = sandbox.requests[-1]
    assert info.method == "GET" and info.path == "/v2/alerts" and info.query == {}
    assert "Authorization" not in info.headers and sandbox.api_key not in repr(info)


def test_paging_links_are_absolute_and_next_is_absent_on_last_page(api, sandbox):
    total = len(sandbox.store)
    r = api.get(
        "/v2/alerts", params={"query": "status:open", "limit": 7, "offset": 7, "order": "asc"}
    )
    paging = r.json()["paging"]
    host = urlsplit(sandbox.url).netloc
    for name in ("next", "first", "last"):
        parts = urlsplit(paging[name])
        assert parts.scheme == "http" and parts.netloc == host and parts.path == "/v2/alerts"
    assert "query=status%3Aopen&offset=14&limit=7&sort=createdAt&order=asc" in paging["next"]
    assert parse_qs(urlsplit(paging["first"]).query)["offset"] == ["0"]
    # Following `next` until it disappears reads every match exactly once
    count = api.get("/v2/alerts/count", params={"query": "status:open"}).json()["data"]["count"]
    assert 0 < count < total
    seen, url = [], api.url("/v2/alerts?query=status%3Aopen&limit=50&order=asc")
    while url:
        page = api.get(url).json()
        seen += [a["id"] for a in page["data"]]
        url = page["paging"].get("next")
    assert len(seen) == len(set(seen)) == count
    last = parse_qs(urlsplit(page["paging"]["last"]).query)
    assert int(last["offset"][0]) == (count - 1) // 50 * 50


def test_offset_limit_cap_refused_with_422(api):
    r = api.get("/v2/alerts", params={"offset": 19_950, "limit": 100})
    assert r.status_code == 422
    body = r.json()
    assert "20000" in body["message"] and "offset" in body["errors"]
    assert api.get("/v2/alerts", params={"offset": 19_900, "limit": 100}).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "priority"}, "sort"),
        ({"order": "up"}, "order"),
        ({"searchIdentifierType": "tiny"}, "searchIdentifierType"),
    ],
)
def test_bad_parameters_answer_422_with_errors(api, params, field):
    r = api.get("/v2/alerts", params=params)
    assert r.status_code == 422
    assert field in r.json()["errors"] and field in r.json()["message"]


SORTS = [
    "createdAt", "updatedAt", "tinyId", "alias", "message", "status", "acknowledged", "isSeen",
    "snoozed", "snoozedUntil", "count", "lastOccurredAt", "source", "owner", "integration.name",
    "integration.type", "report.ackTime", "report.closeTime", "report.acknowledgedBy",
    "report.closedBy",
]  # fmt: skip


def _sort_value(alert: dict, field: str):
    value = alert
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is not None and field in ("createdAt", "updatedAt", "lastOccurredAt", "snoozedUntil"):
        return _ms(value)
    if field == "tinyId":
        return int(value)
    return value


@pytest.mark.parametrize("field", SORTS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_on_every_documented_field_is_stable(api, sandbox, field, order):
    pages = [
        api.get(
            "/v2/alerts", params={"sort": field, "order": order, "limit": 100, "offset": o}
        ).json()["data"]
        for o in (0, 100, 200)
    ]
    alerts = [a for page in pages for a in page]
    assert len(alerts) == len({a["id"] for a in alerts}) == len(sandbox.store)
    values = [_sort_value(a, field) for a in alerts]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=order == "desc")
    assert all(v is None for v in values[len(present) :]), "missing values sort last"
    again = api.get("/v2/alerts", params={"sort": field, "order": order, "limit": 100}).json()[
        "data"
    ]
    assert [a["id"] for a in again] == [a["id"] for a in pages[0]]


def test_ties_on_the_same_millisecond_keep_a_stable_order(api, sandbox):
    alerts = sandbox.store.alert_objects()
    tie = next(
        a.updatedAt
        for a, b in zip(alerts, alerts[1:])
        if sum(x.updatedAt == a.updatedAt for x in alerts) > 1
    )
    query = f"updatedAt >= {tie} AND updatedAt <= {tie}"
    first = api.get(
        "/v2/alerts", params={"query": query, "sort": "updatedAt", "order": "asc"}
    ).json()["data"]
    assert len(first) >= 2
    for _ in range(3):
        again = api.get(
            "/v2/alerts", params={"query": query, "sort": "updatedAt", "order": "asc"}
        ).json()["data"]
        assert [a["id"] for a in again] == [a["id"] for a in first]
    desc = api.get(
        "/v2/alerts", params={"query": query, "sort": "updatedAt", "order": "desc"}
    ).json()["data"]
    assert [a["id"] for a in desc] == [a["id"] for a in first][::-1]


def test_count_matches_the_list(api):
    r = api.get("/v2/alerts/count", params={"query": "priority:P1 OR priority:P2"})
    assert r.status_code == 200 and set(r.json()) == {"data", "took", "requestId"}
    count = r.json()["data"]["count"]
    ids = []
    for offset in range(0, 400, 100):
        ids += [
            a["id"]
            for a in api.get(
                "/v2/alerts",
                params={"query": "priority:(P1 OR P2)", "limit": 100, "offset": offset},
            ).json()["data"]
        ]
    assert len(ids) == count


def test_get_alert_by_id_alias_and_tiny(api, sandbox):
    alert = sandbox.store.alerts[42]
    for ident, kind in ((alert["id"], None), (alert["alias"], "alias"), (alert["tinyId"], "tiny")):
        params = {"identifierType": kind} if kind else {}
        r = api.get(f"/v2/alerts/{ident}", params=params)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["id"] == alert["id"]
        assert {"entity", "description", "details", "actions"} <= set(data)
    assert api.get(f"/v2/alerts/{alert['alias']}").status_code in (200, 404)
    r = api.get(f"/v2/alerts/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["message"] == "Alert does not exist"
    assert (
        api.get(f"/v2/alerts/{alert['id']}", params={"identifierType": "name"}).status_code == 422
    )


def test_alias_is_not_found_without_identifier_type(small_api):
    assert small_api.get("/v2/alerts/alias-3").status_code == 404
    r = small_api.get("/v2/alerts/alias-3", params={"identifierType": "alias"})
    assert r.json()["data"]["id"] == "alert-3"


def test_store_changes_are_served_and_keep_the_index_right(small, small_api):
    # Given the small data set; When an alert is updated (updatedAt = clock now) and one is added
    small.store.update_alert("alert-0", status="closed", acknowledged=True)
    added = small.store.add_alert(message="fresh one", tags=["new"], priority="P2")
    try:
        # Then a window on updatedAt >= now holds both, ties in creation order (asc)
        r = small_api.get(
            "/v2/alerts",
            params={"query": f"updatedAt >= {CLOCK_MS}", "sort": "updatedAt", "order": "asc"},
        )
        assert [a["id"] for a in r.json()["data"]] == ["alert-0", added["id"]]
        r = small_api.get("/v2/alerts", params={"query": f"createdAt >= {CLOCK_MS}"})
        assert [a["id"] for a in r.json()["data"]] == [added["id"]]
        r = small_api.get("/v2/alerts", params={"query": "status:closed AND updatedAt >= 0"})
        assert "alert-0" in [a["id"] for a in r.json()["data"]]
        got = small_api.get("/v2/alerts/alert-0").json()["data"]
        assert got["status"] == "closed" and got["acknowledged"] is True
        assert _ms(got["updatedAt"]) == CLOCK_MS
    finally:
        small.store.replace_alerts(small_dataset()["alerts"])
