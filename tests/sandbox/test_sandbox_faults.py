"""Faults on demand, rate limits, churn and the on_request hook, seen by a real HTTP client."""

from __future__ import annotations

import json
import time

import pytest
import requests

from opsgenie_integration.sandbox.faults import FaultSet

from .sandbox_helpers import CLOCK_MS


@pytest.mark.parametrize("status", [502, 503, 504])
def test_html_5xx(api, sandbox, status):
    sandbox.faults.add("html_5xx", paths="/v2/alerts", count=1, status=status)
    r = api.get("/v2/alerts")
    assert r.status_code == status
    assert r.headers["Content-Type"] == "text/html" and r.text.startswith("<html>")
    assert str(status) in r.text
    assert api.get("/v2/alerts").status_code == 200  # count=1: only the next request


def test_html_200_empty_200_and_plain_404(api, sandbox):
    sandbox.faults.add("html_200", count=1)
    r = api.get("/v2/account")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()
    sandbox.faults.add("empty_200", count=1)
    r = api.get("/v2/account")
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0"
    sandbox.faults.add("plain_404", count=1)
    r = api.get("/v2/account")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain")
    assert r.text == "404 page not found\n"


def test_truncated_json_body(api, sandbox):
    sandbox.faults.add("truncate", paths="/v2/alerts", count=1)
    r = api.get("/v2/alerts")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert api.get("/v2/alerts").json()["data"]


def test_connection_reset_mid_body(api, sandbox):
    sandbox.faults.add("reset", paths="/v2/alerts", count=1)
    with pytest.raises(requests.exceptions.RequestException):
        api.get("/v2/alerts", params={"limit": 100})
    assert sandbox.requests[-1].status is None
    assert api.get("/v2/alerts").status_code == 200  # the session reconnects


def test_latency_paths_count_and_remove(api, sandbox):
    handle = sandbox.faults.add("latency", paths="/v2/account", seconds=0.3)
    started = time.perf_counter()
    assert api.get("/v2/alerts").status_code == 200
    assert time.perf_counter() - started < 0.25  # another path: no delay
    started = time.perf_counter()
    assert api.get("/v2/account").status_code == 200
    assert time.perf_counter() - started >= 0.3
    sandbox.faults.remove(handle)
    started = time.perf_counter()
    api.get("/v2/account")
    assert time.perf_counter() - started < 0.25
    sandbox.faults.add("html_5xx", count=2)
    assert [api.get("/v2/account").status_code for _ in range(3)] == [502, 502, 200]
    assert sandbox.faults.active == []


def test_probability_is_a_deterministic_fraction():
    def draws(seed: int) -> list[bool]:
        faults = FaultSet(seed)
        faults.add("html_5xx", probability=0.3)
        return [faults.draw("/v2/alerts").replace is not None for _ in range(400)]

    first = draws(1)
    assert first == draws(1) and first != draws(2)
    assert 0.2 < sum(first) / len(first) < 0.4
    with pytest.raises(ValueError):
        FaultSet().add("explode")


def test_rate_limit_answers_429_with_headers(api, sandbox):
    sandbox.rate_limits.set("search", per_second=2)
    statuses = [api.get("/v2/alerts", params={"limit": 1}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    r = api.get("/v2/alerts/count")
    assert r.status_code == 429
    assert r.json()["message"] == (
        "You are making too many requests! To avoid errors, we recommend you limit requests."
    )
    assert set(r.json()) == {"message", "took", "requestId"}
    assert r.headers["X-RateLimit-State"] == "THROTTLED"
    assert r.headers["X-RateLimit-Reason"] and r.headers["X-RateLimit-Period-In-Sec"] == "1"
    assert api.get("/v2/schedules").status_code == 200  # another domain
    time.sleep(0.6)  # 2 tokens per second: one is back
    assert api.get("/v2/alerts", params={"limit": 1}).status_code == 200


def test_rate_limit_per_minute_and_domains(api, sandbox):
    sandbox.rate_limits.set("schedule_oncalls", per_minute=1, period_seconds=30)
    schedule = sandbox.store.schedules[0]["id"]
    assert api.get(f"/v2/schedules/{schedule}/on-calls").status_code == 200
    r = api.get(f"/v2/schedules/{schedule}/next-on-calls")
    assert r.status_code == 429 and r.headers["X-RateLimit-Period-In-Sec"] == "30"
    assert api.get(f"/v2/schedules/{schedule}/timeline").status_code == 200  # configuration domain
    sandbox.rate_limits.set("configuration", per_second=1)
    assert [api.get("/v2/account").status_code for _ in range(2)] == [200, 429]
    sandbox.rate_limits.clear()
    assert api.get("/v2/account").status_code == 200
    with pytest.raises(ValueError):
        sandbox.rate_limits.set("alerts", per_second=1)


def test_churn_updates_alerts_while_a_client_pages(api, sandbox):
    # Given a fixed clock after every seeded update; When churn is on, each list request updates 5
    assert sandbox.store.count(f"updatedAt >= {CLOCK_MS}") == 0
    sandbox.churn(5)
    for offset in (0, 20, 40):
        assert api.get(
            "/v2/alerts", params={"offset": offset, "sort": "updatedAt", "order": "asc"}
        ).ok
    churned = sandbox.store.count(f"updatedAt >= {CLOCK_MS}")
    assert 3 <= churned <= 15
    api.get("/v2/account")  # another path: no churn
    assert sandbox.store.count(f"updatedAt >= {CLOCK_MS}") == churned
    # Then the churned alerts now sit at the end of an updatedAt-ascending listing
    last = api.get("/v2/alerts", params={"sort": "updatedAt", "order": "desc", "limit": 1}).json()[
        "data"
    ][0]
    assert last["updatedAt"] == "2024-03-06T12:00:00Z"
    sandbox.churn(0)
    before = sandbox.store.count(f"updatedAt >= {CLOCK_MS}")
    api.get("/v2/alerts")
    assert sandbox.store.count(f"updatedAt >= {CLOCK_MS}") == before


def test_on_request_hook_sees_each_request_before_the_answer(api, sandbox):
    seen = []
    sandbox.on_request = lambda info: seen.append((info.method, info.path, info.query, info.status))
    api.get("/v2/alerts", params={"query": "a+b", "limit": 1})
    assert seen == [("GET", "/v2/alerts", {"query": ["a+b"], "limit": ["1"]}, None)]
    assert sandbox.requests[-1].target == "/v2/alerts?query=a%2Bb&limit=1"

    def boom(info):
        raise RuntimeError("hook failed")

    sandbox.on_request = boom
    r = api.get("/v2/account")
    assert r.status_code == 500 and "hook failed" in r.json()["message"]


def test_concurrent_clients_during_churn(sandbox):
    import threading

    from .sandbox_helpers import make_api

    sandbox.churn(3)
    statuses: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with make_api(sandbox) as api:
            for i in range(20):
                params = {
                    "sort": "updatedAt",
                    "order": "asc",
                    "offset": (n * 7 + i) % 200,
                    "limit": 50,
                }
                codes = [api.get("/v2/alerts", params=params).status_code]
                codes.append(
                    api.get(
                        f"/v2/schedules/{sandbox.store.schedules[n % 7]['id']}/on-calls"
                    ).status_code
                )
                with lock:
                    statuses.extend(codes)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sandbox.churn(0)
    assert len(statuses) == 240 and set(statuses) == {200}
    alerts = sandbox.store.alert_objects()
    page, total = sandbox.store.search("", "updatedAt", "asc", 0, 100_000)
    assert total == len(alerts) and len({a["id"] for a in page}) == len(alerts)
